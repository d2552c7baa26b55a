"""The dev PKI's trust anchors without building the dev PKI (DEV ONLY).

Verifying under the ``dev`` trust profile needs only the two dev roots. They carry no service URL
and every CA key is RSA, so their bytes are the same for every base URL and every build:
``certs_dev/trust-roots.pem`` holds them (``kyso dev-pki export`` writes the same file), and
``tests/test_devpki.py`` checks that they are what :class:`devpki.DevPKI` builds. Loading them costs
a millisecond where building the PKI costs 0.7 s (certomancer) on every ``kyso verify``.
"""
from __future__ import annotations

import functools
from pathlib import Path

ROOTS_PEM = Path(__file__).resolve().parent.parent / "certs_dev" / "trust-roots.pem"


class DevTrust:
    """What the verifier's ``dev`` profile reads of the dev PKI: its roots, and its services
    answering as of each operation's moment."""

    def trust_roots(self) -> list:
        return list(_roots())

    def answers_at_moment(self):
        return _LazyDevAnswers()


class _LazyDevAnswers:
    """``devpki.clocked.DevAnswers``, imported when first asked (0.17 s of certomancer and fetcher
    imports that an offline verification never needs)."""

    def _answers(self):
        from .clocked import DevAnswers

        return DevAnswers()

    def fetchers(self, moment, *, timeout: float):
        return self._answers().fetchers(moment, timeout=timeout)

    def timestamper(self, url: str, moment, *, timeout: float, auth=None):
        return self._answers().timestamper(url, moment, timeout=timeout, auth=auth)

    def __repr__(self) -> str:
        return "DevAnswers(lazy)"


@functools.lru_cache(maxsize=1)
def _roots() -> tuple:
    from asn1crypto import pem, x509

    data = ROOTS_PEM.read_bytes()
    return tuple(x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True))
