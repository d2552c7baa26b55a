"""HAZMAT: a faster hex-string reader for pyHanko's PDF parser (same results, 50x fewer Python calls).

It replaces ``pyhanko.pdf_utils.generic.read_hex_string_from_stream``, an internal function, so it
is guarded by the pyHanko versions it was checked against (:data:`SUPPORTED`): on any other version
:func:`install` leaves pyHanko alone and returns False. Install it explicitly (the composition root
``office.compose`` does), never as a side effect of an import.

pyHanko reads a hex string ``<...>`` one character per Python call; a
signature's ``/Contents`` is such a string of 10-40 thousand characters, which
made parsing it cost more than verifying the signature. :func:`install`
replaces the reader with one that takes the string in one read when it holds
only hex digits and white space, and hands anything else (comments, bad
characters, a truncated file) to pyHanko's own reader, unchanged.
"""
from __future__ import annotations

import binascii
import re

from hazmat._versions import version as _version

from pyhanko.pdf_utils import generic

#: pyHanko versions whose ``read_hex_string_from_stream`` this reader was checked against
SUPPORTED = ("0.38.",)

_original = generic.read_hex_string_from_stream
_PLAIN = re.compile(rb"[0-9A-Fa-f \n\r\t\f\x00]*")
_WHITESPACE = b" \n\r\t\f\x00"
_CHUNK = 64 * 1024
_MAX = 64 * 1024 * 1024


def read_hex_string_from_stream(stream):
    start = stream.tell()
    stream.read(1)  # the '<'
    parts = []
    total = 0
    while total < _MAX:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        end = chunk.find(b">")
        body = chunk if end < 0 else chunk[:end]
        if not _PLAIN.fullmatch(body):
            break
        parts.append(body)
        total += len(body)
        if end >= 0:
            stream.seek(end + 1 - len(chunk), 1)   # just after the '>'
            digits = b"".join(parts).translate(None, _WHITESPACE)
            if len(digits) % 2:
                digits += b"0"
            return generic.pdf_string(binascii.unhexlify(digits))
    stream.seek(start)
    return _original(stream)


def supported(version: str | None = None) -> bool:
    return (version or _version("pyHanko")).startswith(SUPPORTED)


def install() -> bool:
    """Use the fast reader in this process (idempotent); False (and nothing changed) on a pyHanko
    version it was not checked against."""
    if not supported():
        return False
    generic.read_hex_string_from_stream = read_hex_string_from_stream
    return True


def installed() -> bool:
    return generic.read_hex_string_from_stream is read_hex_string_from_stream


def uninstall() -> None:
    """Back to pyHanko's own reader (benchmarks use it to measure stock pyHanko)."""
    generic.read_hex_string_from_stream = _original
