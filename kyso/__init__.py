"""Kyso's kernel: what every other part may import, and which imports nothing else of Kyso's.

* :mod:`kyso.errors`: the error root, with stable codes and messages in Vietnamese and English;
* :mod:`kyso.settings`: the typed settings read from ``KYSO_*`` variables;
* :mod:`kyso.decree30`: the Decree 30 vocabulary (numbers, symbols, dates, Vietnam's time);
* :mod:`kyso.certificates`: personal and organisation certificates;
* :mod:`kyso.clock`, :mod:`kyso.network`: time and the PKI's answers, injected;
* :mod:`kyso.aio`, :mod:`kyso.samples`: coroutines from synchronous code; sample documents.

The use cases are in ``office``; the doors are ``api``, ``webui`` and ``commands``.
"""

__version__ = "0.2.0"
