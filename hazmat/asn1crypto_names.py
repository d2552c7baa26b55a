"""HAZMAT: asn1crypto's X.509 name comparison, remembered by the names' encodings.

RFC 5280 compares distinguished names after RFC 4518 string preparation (case folding, Unicode
normalisation, white space), which asn1crypto does in Python for every attribute of every name,
again for each freshly parsed certificate. Verifying one signature compares the same dozen names
(the signer's issuer, the CA's subject, the OCSP responder's) several hundred times across the
signature's container, its timestamp, the path and the revocation data; the Vietnamese names of
the government CAs make each preparation slower still. That was the largest single cost of a
verification after path validation.

:func:`install` wraps ``asn1crypto.x509.Name.__eq__`` and ``Name.hashable`` with a bounded
memory keyed by the DER encodings of the names: a pure function of those bytes, so the answer
is the one asn1crypto would compute (a name that makes asn1crypto raise is never remembered and
raises again). The memory holds at most :data:`MAX_ENTRIES` answers and is emptied when full.

The wrapped methods are asn1crypto's own, so the patch is guarded by the versions it was checked
against (:data:`SUPPORTED`); on another version :func:`install` leaves asn1crypto alone and
returns False. Install it explicitly (``office.compose.install_hazmat``), never by importing.
"""
from __future__ import annotations

import threading
from hazmat._versions import version as _version

from asn1crypto import x509

__all__ = ["MAX_ENTRIES", "SUPPORTED", "clear", "install", "installed", "supported", "uninstall"]

#: asn1crypto versions whose ``Name.__eq__`` and ``Name.hashable`` this memory was checked against
SUPPORTED = ("1.5.",)
MAX_ENTRIES = 20_000

_original_eq = x509.Name.__eq__
_original_ne = x509.Name.__ne__
_original_hashable = x509.Name.hashable
_equal: dict[tuple[bytes, bytes], bool] = {}
_hashable: dict[bytes, str] = {}
_lock = threading.Lock()


def _remember(memory: dict, key, value) -> None:
    with _lock:
        if len(memory) >= MAX_ENTRIES:
            memory.clear()
        memory[key] = value


def _eq(self, other):
    if not isinstance(other, x509.Name):
        return False
    key = (self.dump(), other.dump())
    known = _equal.get(key)
    if known is None:
        known = _original_eq(self, other)
        _remember(_equal, key, known)
    return known


def _ne(self, other):
    return not _eq(self, other)


def _hashable_of(self) -> str:
    der = self.dump()
    known = _hashable.get(der)
    if known is None:
        known = _original_hashable.fget(self)
        _remember(_hashable, der, known)
    return known


def supported(version: str | None = None) -> bool:
    return (version or _version("asn1crypto")).startswith(SUPPORTED)


def install() -> bool:
    """Remember name comparisons in this process (idempotent); False (and nothing changed) on an
    asn1crypto version it was not checked against."""
    if not supported():
        return False
    x509.Name.__eq__ = _eq
    x509.Name.__ne__ = _ne
    x509.Name.hashable = property(_hashable_of)
    return True


def installed() -> bool:
    return x509.Name.__eq__ is _eq


def uninstall() -> None:
    """Back to asn1crypto's own comparison (benchmarks use it to measure stock pyHanko); what is
    remembered stays for a later :func:`install` (:func:`clear` empties it)."""
    x509.Name.__eq__ = _original_eq
    x509.Name.__ne__ = _original_ne
    x509.Name.hashable = _original_hashable


def clear() -> None:
    with _lock:
        _equal.clear()
        _hashable.clear()
