"""HAZMAT: pyHanko's token reader, one read per token instead of one Python call per byte, and its
name decoder, one step for a plain name.

pyHanko reads every name, keyword, number and cross-reference entry field through
``pyhanko.pdf_utils.misc._read_until_class``, a generator that reads one byte per call: a third of
parsing a signed PDF's objects went there. :func:`install` replaces it (for
``read_until_delimiter`` and ``read_until_whitespace``, which look it up at each call) with a reader
that takes a chunk, finds the first byte of the class with a regular expression and seeks back to
just after it: the same bytes returned, the same end-of-file flag, the stream left at the same
place (``tests/test_pdfspeed.py`` proves it on fixed and random input). A name's bytes were then
decoded one byte per step (``generic._decode_name``); a plain printable ASCII name, with no ``#``
escape, is now the same string at once, and any other is left to pyHanko (tested the same way).
Writing a name went one byte per call too (``NameObject.write_to_stream``, about 50 names in every
signature's update): the bytes pyHanko writes for a name are now remembered by the name (the same
few dozen names recur: ``/Type``, ``/Sig``, ``/ByteRange``...), so each is written in one call; a
name pyHanko refuses to write is refused by pyHanko, and never remembered.

It replaces an internal function, so it is guarded by the pyHanko versions it was checked against
(:data:`SUPPORTED`); installed explicitly by the composition root (``office.compose``).
"""
from __future__ import annotations

import io
import re
from hazmat._versions import version as _version

from pyhanko.pdf_utils import generic, misc

#: pyHanko versions whose ``misc._read_until_class`` and ``generic._decode_name`` this was checked against
SUPPORTED = ("0.38.",)

_original = misc._read_until_class
_original_name = generic._decode_name
_original_write_name = generic.NameObject.write_to_stream
_written_names: dict[str, bytes] = {}
_MAX_NAMES = 4096
_MAX_NAME_BYTES = 127      # PDF 1.7's implementation limit for a name
# a name's bytes with nothing to expand or refuse: printable ASCII, no '#', no delimiter
_PLAIN_NAME = re.compile(rb"[^\x00-\x20\x7f-\xff#()<>\[\]{}/%]*")
_CHUNK = 128
_patterns: dict[bytes, re.Pattern] = {}


def _read_until_class(class_chars: bytes, stream, maxchars=None):
    pattern = _patterns.get(class_chars)
    if pattern is None:
        pattern = _patterns[class_chars] = re.compile(b"[^" + re.escape(class_chars) + b"]*")
    stop_at = None if not maxchars else stream.tell() + maxchars
    parts = []
    while True:
        want = _CHUNK if stop_at is None else min(_CHUNK, stop_at - stream.tell())
        if want <= 0:
            return b"".join(parts), False
        chunk = stream.read(want)
        if not chunk:
            return b"".join(parts), True
        found = pattern.match(chunk).end()
        if found < len(chunk):
            parts.append(chunk[:found])
            stream.seek(found + 1 - len(chunk), io.SEEK_CUR)   # just after the byte that ends it
            return b"".join(parts), False
        parts.append(chunk)


def _decode_name(name_bytes: bytes):
    """pyHanko's name decoding (``/`` + the bytes, ``#xx`` escapes expanded, UTF-8 or Latin-1), which
    walks the name byte by byte; a name of plain printable ASCII, nearly every name, is the same
    string at once; any other goes to pyHanko's own."""
    if _PLAIN_NAME.fullmatch(name_bytes):
        return generic.NameObject("/" + name_bytes.decode("ascii"))
    return _original_name(name_bytes)


def _write_name(self, stream, handler=None, container_ref=None):
    """``NameObject.write_to_stream``: the bytes pyHanko wrote for the same name, in one write."""
    encoded = _written_names.get(self)
    if encoded is None:
        buffer = io.BytesIO()
        _original_write_name(self, buffer, handler, container_ref)
        encoded = buffer.getvalue()
        if len(encoded) <= _MAX_NAME_BYTES:
            if len(_written_names) >= _MAX_NAMES:
                _written_names.clear()
            _written_names[str(self)] = encoded
    stream.write(encoded)


def supported(version: str | None = None) -> bool:
    return (version or _version("pyHanko")).startswith(SUPPORTED)


def install() -> bool:
    """Use the fast reader in this process (idempotent); False (and nothing changed) on a pyHanko
    version it was not checked against."""
    if not supported():
        return False
    misc._read_until_class = _read_until_class
    generic._decode_name = _decode_name
    generic.NameObject.write_to_stream = _write_name
    return True


def installed() -> bool:
    return (misc._read_until_class is _read_until_class and generic._decode_name is _decode_name
            and generic.NameObject.write_to_stream is _write_name)


def uninstall() -> None:
    misc._read_until_class = _original
    generic._decode_name = _original_name
    generic.NameObject.write_to_stream = _original_write_name
