"""HAZMAT: pyHanko's cross-reference table and object header readers, one regular expression over
a chunk for the well-formed case.

pyHanko reads a classic cross-reference table one token at a time (``xref.parse_xref_table``: a
number reader, whitespace skipped byte by byte, each 20-byte line split and checked) and each
object's header ``12 0 obj`` the same way (``xref._read_object_header``: about ten calls). For a
signed document that is two tables and a dozen headers per verification.

:func:`install` puts readers in front of both that take a chunk of the stream and accept only the
well-formed case: subsections of ``first count`` with lines of ten digits, five digits, ``n`` or
``f`` and a two-byte end of line, followed by ``trailer``; a header ``idnum generation obj``
with single spaces. They yield the same entries (the first of each subsection numbered by
pyHanko's ``NumberObject``, the next by plain integers, as pyHanko's ``num += 1`` does), leave the
stream where pyHanko leaves it, after each entry as after the table. Anything else (a comment,
an odd end of line, a twenty-one byte line, a table longer than the chunk, the end of the file)
goes to pyHanko's own reader from the same place, before anything was yielded: the same result,
the same errors. ``tests/test_pdfobjects.py`` compares both on fixed and random tables.

pyHanko's table reader also loops for ever on a table cut short near the end of its stream (it
seeks back 20 or 7 bytes after reading fewer): the one used here is pyHanko's with those two
seeks measured (:func:`_table_pyhanko`), which ends such a file with an error.

It replaces internal functions, so it is guarded by the pyHanko versions it was checked against
(:data:`SUPPORTED`); installed explicitly by the composition root (``office.compose``).
"""
from __future__ import annotations

import os
import re

from pyhanko.pdf_utils import generic, misc, xref

from hazmat._versions import version as _version

__all__ = ["SUPPORTED", "install", "installed", "supported", "uninstall"]

#: pyHanko versions whose ``xref.parse_xref_table`` and ``xref._read_object_header`` this was checked against
SUPPORTED = ("0.38.",)
_TABLE_CHUNK = 64 * 1024
_HEADER_CHUNK = 64

_WS = rb"[ \n\r\t\f\x00]"
_SUBSECTION = re.compile(_WS + rb"*+(\d++)" + _WS + rb"++(\d++)" + _WS + rb"++")
_LINE = re.compile(rb"(\d{10}) (\d{5}) ([nf])(?: \n| \r|\r\n)")
_TRAILER = re.compile(_WS + rb"*+trailer" + _WS + rb"*+")
_NEXT = re.compile(_WS + rb"*+")
_HEADER = re.compile(rb"(\d++) (\d++) obj" + _WS + rb"*+")

_state: dict = {"table": None, "header": None}


def _fast_table(chunk: bytes):
    """The entries and where the stream stands after each, and after the table; None unless the
    whole table is well formed and ends (after ``trailer`` and its whitespace) within ``chunk``."""
    entries = []
    at = 0
    n = len(chunk)
    while True:
        head = _SUBSECTION.match(chunk, at)
        if head is None:
            return None
        try:   # in pyHanko's order; a number Python refuses (over 4,300 digits): pyHanko's reader says so
            first = generic.NumberObject(head.group(1).decode("ascii"))
            count = int(head.group(2))
        except ValueError:
            return None
        at = head.end()
        for k in range(count):
            line = _LINE.match(chunk, at)
            if line is None:
                return None
            at += 20
            idnum = first if k == 0 else first + k
            if line.group(3) == b"n":
                entries.append((xref.XRefEntry(xref_type=xref.XRefType.STANDARD, location=int(line.group(1)),
                                               idnum=idnum, generation=int(line.group(2))), at))
            else:
                entries.append((xref.XRefEntry(xref_type=xref.XRefType.FREE, location=None, idnum=idnum,
                                               generation=int(line.group(2))), at))
        gap = _NEXT.match(chunk, at).end()
        if gap >= n:
            return None
        if chunk.startswith(b"trailer", gap):
            tail = _TRAILER.match(chunk, at)
            end = tail.end()
            if end >= n or chunk[end] == 0x25:      # the chunk's end, or a comment: pyHanko's reader
                return None
            return entries, end
        if not 0x30 <= chunk[gap] <= 0x39:
            return None


def _table_pyhanko(stream, strict: bool):
    """pyHanko 0.38's ``parse_xref_table`` (MIT licence, Matthias Valvekens), with its two seeks
    back measured by what was read rather than by what was asked: where the stream ended within 20
    bytes of a line or 7 bytes of ``trailer``, it sought back further than it had read and read the
    same bytes again, for ever (a 300-byte file whose /Prev table, after %%EOF, ends in ``1 0
    \\ntr`` held a worker for ever). Wherever a read is complete, the same steps as pyHanko's; where
    one is short, pyHanko read earlier bytes again and sometimes ended with another error than this
    reader's (the file is unreadable either way)."""
    misc.read_non_whitespace(stream)
    stream.seek(-1, os.SEEK_CUR)
    while True:
        num = generic.NumberObject.read_from_stream(stream)
        misc.read_non_whitespace(stream)
        stream.seek(-1, os.SEEK_CUR)
        size = generic.NumberObject.read_from_stream(stream)
        misc.read_non_whitespace(stream)
        stream.seek(-1, os.SEEK_CUR)
        for _ in range(size):
            line = stream.read(20)
            while line[0] in b"\x0d\x0a":
                stream.seek(-len(line) + 1, os.SEEK_CUR)     # pyHanko: -20 + 1
                line = stream.read(20)
            if line[-1] in b"0123456789t":
                stream.seek(-1, os.SEEK_CUR)
            offset, generation, marker = line[:18].split(b" ", maxsplit=2)
            if not strict and len(marker) > 1:
                offset, generation, marker = line[:18].split(maxsplit=2)
            if marker == b"n":
                yield xref.XRefEntry(xref_type=xref.XRefType.STANDARD,
                                     location=xref._xref_parse_decimal(offset, "XRef line parsing error (location)"),
                                     idnum=num,
                                     generation=xref._xref_parse_decimal(generation,
                                                                         "XRef line parsing error (generation)"))
            elif marker == b"f":
                yield xref.XRefEntry(xref_type=xref.XRefType.FREE, location=None, idnum=num,
                                     generation=xref._xref_parse_decimal(
                                         generation, "XRef line parsing error (generation to free)"))
            elif strict:
                raise misc.PdfStrictReadError(f"Unknown marker {marker!r}")
            num += 1
        misc.read_non_whitespace(stream)
        stream.seek(-1, os.SEEK_CUR)
        trailertag = stream.read(7)
        if trailertag == b"trailer":
            misc.read_non_whitespace(stream)
            stream.seek(-1, os.SEEK_CUR)
            return
        stream.seek(-len(trailertag), os.SEEK_CUR)           # pyHanko: -7


def parse_xref_table(stream, strict: bool):
    start = stream.tell()
    chunk = stream.read(_TABLE_CHUNK)
    parsed = _fast_table(chunk) if chunk else None
    if parsed is None:
        stream.seek(start)
        yield from _table_pyhanko(stream, strict)
        return
    entries, end = parsed
    for entry, after in entries:
        stream.seek(start + after)
        yield entry
    stream.seek(start + end)


def _read_object_header(stream, strict):
    start = stream.tell()
    chunk = stream.read(_HEADER_CHUNK)
    found = _HEADER.match(chunk)
    if found is None or found.end() >= len(chunk) or chunk[found.end()] == 0x25:
        stream.seek(start)
        return _state["header"](stream, strict)
    try:
        header = int(found.group(1)), int(found.group(2))
    except ValueError:   # over 4,300 digits: pyHanko's reader says so, from where it says it
        stream.seek(start)
        return _state["header"](stream, strict)
    stream.seek(start + found.end())
    return header


def supported(version: str | None = None) -> bool:
    return (version or _version("pyHanko")).startswith(SUPPORTED)


def installed() -> bool:
    return _state["table"] is not None


def install() -> bool:
    """Use the fast readers (idempotent); False, and nothing changed, on a pyHanko version they were
    not checked against."""
    if installed():
        return True
    if not supported():
        return False
    _state["table"], _state["header"] = xref.parse_xref_table, xref._read_object_header
    xref.parse_xref_table = parse_xref_table
    xref._read_object_header = _read_object_header
    return True


def uninstall() -> None:
    """pyHanko's own readers again (benchmarks use it to measure stock pyHanko)."""
    if not installed():
        return
    xref.parse_xref_table, xref._read_object_header = _state["table"], _state["header"]
    _state["table"] = _state["header"] = None
