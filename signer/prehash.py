"""A document's original bytes, hashed on the other core while pyHanko reads it and writes the update.

Signing appends an incremental update: the bytes read stay, unchanged, the first bytes of the signed
byte range. So, for a document of at least :data:`MIN_BYTES` when a core stands idle
(:func:`kyso.process.idle_core`), the engine's :func:`hashing_ahead` block hands them to
:class:`OriginalBytes` as soon as they are read: an I/O thread hashes them (hashlib releases the GIL) while pyHanko parses the document and
writes the update. When every core is busy it does not: the hash moved costs more than it saves (1 MB
signed: 9% faster with a core idle, 5% slower with both cores signing).

When pyHanko digests the byte range (``hazmat.pyhanko_prehash``), :func:`digest_for` continues from
that state with the update's bytes only. It does so only for the block's stream, with the
algorithm it was hashed with, when the signature's placeholder lies after the original bytes and
those bytes are still, byte for byte, the first bytes of the stream (a 1 MB comparison costs
0.04 ms); otherwise it answers None and pyHanko hashes everything itself, as before. The digest is
the same either way (``tests/test_prehash.py`` checks it against pyHanko's digest of the signed file's
/ByteRange, the signature's message digest and the verifier).
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
from contextvars import ContextVar
from typing import Iterator

from kyso import process
from signer import fileio

__all__ = ["MIN_BYTES", "OriginalBytes", "digest_for", "hashing_ahead", "worthwhile"]

#: below this, hashing on another thread saves little (0.05 ms for 100 KB)
MIN_BYTES = 256 * 1024
#: the digest algorithms hashed ahead (hashlib's names are pyHanko's for these)
ALGORITHMS = frozenset({"sha256", "sha384", "sha512"})

_offered: ContextVar["tuple[object, OriginalBytes] | None"] = ContextVar("kyso_prehash_offer", default=None)


def worthwhile(size: int, algorithm: str) -> bool:
    """Whether hashing ``size`` original bytes ahead can save time now: a large document, and a
    core standing idle (when every core is busy, moving the hash costs more than it saves)."""
    return size >= MIN_BYTES and algorithm in ALGORITHMS and process.idle_core()


class OriginalBytes:
    """``data`` hashed with ``algorithm`` on an I/O thread (:func:`signer.fileio.background`). Use it
    as a context manager: leaving the block waits for the hashing (no work outlives the signature)."""

    def __init__(self, data: bytes, *, algorithm: str) -> None:
        self.data = data
        self.algorithm = algorithm
        self._hashing = fileio.background(_hash, algorithm, data)

    def __enter__(self) -> "OriginalBytes":
        return self

    def __exit__(self, *exc_info) -> None:
        concurrent.futures.wait([self._hashing])

    def state(self):
        """The hash object over the bytes (a copy), or None; waits for them to be hashed."""
        try:
            return self._hashing.result().copy()
        except Exception:  # noqa: BLE001 - no state ahead: pyHanko hashes it all itself
            return None


def _hash(algorithm: str, data: bytes):
    hasher = hashlib.new(algorithm)
    hasher.update(data)
    return hasher


@contextlib.contextmanager
def hashing_ahead(original: bytes, stream, *, algorithm: str) -> Iterator[None]:
    """Within the block, ``original`` (the first bytes of ``stream``) is hashed ahead when that is
    :func:`worthwhile`, and a byte-range digest of ``stream`` may start from that hash; leaving the
    block waits for the hashing (no work outlives the signature). Ahead or not, the digest is the
    same: when the hashing cannot start (no thread to be had), pyHanko hashes it all, as before."""
    ahead = None
    if worthwhile(len(original), algorithm):
        try:
            ahead = OriginalBytes(original, algorithm=algorithm)
        except RuntimeError:   # "can't start new thread": an optimisation, not a reason to refuse
            ahead = None
    if ahead is None:
        yield
        return
    token = _offered.set((stream, ahead))
    try:
        with ahead:
            yield
    finally:
        _offered.reset(token)


def digest_for(stream, md_algorithm: str, sig_start: int, sig_end: int, eof: int) -> bytes | None:
    """The digest of ``stream``'s bytes ``[0, sig_start)`` and ``[sig_end, eof)``, started from the
    offered original's hash; None when there is no such offer or anything differs from what it was
    hashed for (pyHanko then hashes the whole range itself)."""
    offered = _offered.get()
    if offered is None or offered[0] is not stream or md_algorithm != offered[1].algorithm:
        return None
    original = offered[1]
    size = len(original.data)
    if not size <= sig_start <= sig_end <= eof:
        return None
    hasher = original.state()
    if hasher is None:
        return None
    with stream.getbuffer() as view:
        if eof > len(view) or bytes(view[:size]) != original.data:
            return None
        hasher.update(view[size:sig_start])
        hasher.update(view[sig_end:eof])
    return hasher.digest()
