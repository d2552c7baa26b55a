"""Certificates that several threads share, parsed completely before they are shared.

asn1crypto parses lazily and not for threads: a sequence's fields are filled in on first access
(``Sequence._parse_children`` empties the list, then appends one field at a time), a parsable
value's ``parsed`` on first use, and properties (key identifiers, a key's size, a name's
``human_friendly``) are worked out and kept on the first call. Two threads doing this at once on
one object: one of them sees a half-filled list and raises ``KeyError: 'No field numbered 1 is
present in this asn1crypto.keys.PublicKeyInfo'``. CI saw it once: a new office's first three
verifications, at once, on its freshly loaded trust anchors, and one signature came out
"indeterminate, could not be judged". :func:`settle` does all that work at once, in one thread,
before the object is handed to others (the trust anchors, the certificate memory, remembered
paths).
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import threading
from collections import OrderedDict

from asn1crypto import core, keys, x509

__all__ = ["certificate", "settle"]

#: settled certificates kept by their encoding (trust anchors: each policy a command builds)
MAX_ENTRIES = 4096
_settled: OrderedDict[bytes, x509.Certificate] = OrderedDict()
_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def _properties(cls: type) -> tuple[str, ...]:
    return tuple(name for name, member in inspect.getmembers(cls)
                 if isinstance(member, (property, functools.cached_property)))


def _walk(value, seen: set) -> None:
    if id(value) in seen or not isinstance(value, core.Asn1Value):
        return
    seen.add(id(value))
    if isinstance(value, core.Choice):
        if value._choice is not None:                   # noqa: SLF001 - asn1crypto's own state
            _walk(value.chosen, seen)
    elif isinstance(value, (core.Sequence, core.SequenceOf)):
        try:
            if value.children is None:
                value._parse_children()                 # noqa: SLF001
            children = [value._lazy_child(index) for index in range(len(value.children))]  # noqa: SLF001
        except Exception:  # noqa: BLE001 - a part no reader uses may not parse (a PSS identifier with
            return         # NULL parameters where pyHanko never looks): left as it is, not an error here
        for child in children:
            _walk(child, seen)
    elif isinstance(value, (core.ParsableOctetString, core.ParsableOctetBitString, core.Any)):
        # only what was parsed already (by the properties below: the extensions Kyso and pyHanko
        # read): an unknown extension's value stays bytes, as it does for them (parsing a hostile
        # certificate's 0.9 MB extension took 3.3 s and 193 MB)
        parsed = value._parsed                          # noqa: SLF001
        if parsed is not None:
            _walk(parsed[0], seen)
        else:
            return
    try:
        value.native  # noqa: B018
    except Exception:  # noqa: BLE001 - the same error, raised to whoever asks (not kept half-done)
        pass


def settle(cert: x509.Certificate) -> x509.Certificate:
    """``cert``, every lazily parsed part of it parsed and its properties worked out (once per
    object: a settled certificate is marked)."""
    if getattr(cert, "_kyso_settled", False):
        return cert
    parts = [(cert, x509.Certificate), (cert.subject, x509.Name), (cert.issuer, x509.Name)]
    try:
        parts.append((cert.public_key, keys.PublicKeyInfo))
    except Exception:  # noqa: BLE001 - a key that does not parse is judged where it is used
        pass
    for obj, cls in parts:   # the properties first: they parse the extensions and keys readers read
        for name in _properties(cls):
            try:
                getattr(obj, name)
            except Exception:  # noqa: BLE001 - as above
                pass
    _walk(cert, set())       # then every part, once (names and key included: they are parts of it)
    cert._kyso_settled = True
    return cert


def certificate(der: bytes) -> x509.Certificate:
    """The process's settled certificate for the encoding ``der``: parsed and settled once (a few
    milliseconds), then the same object for every policy that names it (``kyso verify``'s helper builds
    its trust set for each command)."""
    key = hashlib.sha256(der).digest()
    with _lock:
        found = _settled.get(key)
        if found is not None:
            _settled.move_to_end(key)
            return found
    fresh = settle(x509.Certificate.load(der))
    with _lock:
        found = _settled.setdefault(key, fresh)
        while len(_settled) > MAX_ENTRIES:
            _settled.popitem(last=False)
    return found
