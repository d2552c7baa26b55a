"""HAZMAT: pyHanko's dictionary reader, one pass over a chunk with regular expressions instead of
several Python calls per byte.

pyHanko reads a dictionary token by token from the stream: for each key and value it skips
whitespace one byte per call (``misc.read_non_whitespace``), seeks back, peeks, seeks back again
and reads the token through its own reader. A page dictionary of eight entries cost this machine
about 100 µs, and reading a signed document's dozen objects was a quarter of verifying it.

:func:`install` replaces ``DictionaryObject.read_from_stream`` (the bounded reader of
:mod:`hazmat.pyhanko_bounds`, which must be installed first) with a reader that takes a chunk of
the stream (4 KiB, then larger up to 1 MiB while the dictionary does not end in it) and parses
the common case in one pass: names, numbers, indirect references, booleans, null, plain literal
and hex strings, and dictionaries and arrays of them. It builds the objects pyHanko builds, with
pyHanko's own constructors and decoders, sets the same ``container_ref`` on every value, leaves the
stream at the same place and reads a stream's payload with pyHanko's own function. Anything else
(a comment, an escape in a literal string, a name or number pyHanko would read otherwise, a
repeated key, a bound of :mod:`hazmat.pyhanko_bounds` reached, the end of the file, an object in
a content stream) sends the whole dictionary, from its first byte, to the bounded reader, which
reads it (or refuses it) exactly as before. ``tests/test_pdfspeed.py`` compares both on fixed and
random input: the same objects, the same errors, the stream at the same place.

It replaces an internal method, so it is guarded by the pyHanko versions it was checked against
(:data:`SUPPORTED`); installed explicitly by the composition root (``office.compose``).
"""
from __future__ import annotations

import binascii
import re
import threading

from pyhanko.pdf_utils import generic

from hazmat import pyhanko_bounds
from hazmat._versions import version as _version

__all__ = ["SUPPORTED", "install", "installed", "supported", "uninstall"]

#: pyHanko versions whose dictionary, array, number, reference and string readers this was checked against
SUPPORTED = ("0.38.",)
#: chunk sizes tried in turn; a dictionary that does not end within the last is left to pyHanko
_SIZES = (4096, 65536, 1 << 20)

_WS = re.compile(rb"[ \n\r\t\f\x00]*")                       # misc.PDF_WHITESPACE
_NAME = re.compile(rb"[^ \n\r\t\f\x00()<>\[\]{}/%]*")        # until whitespace or a delimiter
_NUMBER = re.compile(rb"[+,\-.0-9]*")                         # NumberObject.NumberPattern's complement
# what IndirectObject.read_from_stream accepts after INDIRECT_PATTERN matched: one isspace() byte
# ends the generation, then read_non_whitespace skips PDF whitespace to the R
_REFERENCE = re.compile(rb"(\d+)[ \t\n\r\x0b\x0c]+(\d+)[ \t\n\r\x0b\x0c][ \n\r\t\f\x00]*R")
# possessive runs (never given back: a name ends at a delimiter, as pyHanko reads it, not where the
# rest of the pattern would like)
_NAME_RUN = rb"([^ \n\r\t\f\x00()<>\[\]{}/%]*+)"
_SIMPLE = (rb"(?:/" + _NAME_RUN + rb"|(\d++)[ \t\n\r\x0b\x0c]+(\d++)[ \t\n\r\x0b\x0c][ \n\r\t\f\x00]*+R"
           rb"|([+\-]?\d++))")
# one match for the common dictionary entry (a key, then a name, a reference or an integer), and
# one for the common array item: groups 1 key (empty for an item), 2 name, 3-4 reference, 5 integer
_ENTRY = re.compile(rb"[ \n\r\t\f\x00]*/" + _NAME_RUN + rb"[ \n\r\t\f\x00]*" + _SIMPLE)
_ITEM = re.compile(rb"[ \n\r\t\f\x00]*()" + _SIMPLE)
_NUMBER_BYTES = frozenset(b"+,-.0123456789")
_STRING = re.compile(rb"[()\\]")
_DIGITS = re.compile(rb"[0-9]{1,3}")
# an escaped byte, as _read_string_literal_bytes reads it
_ESCAPED = {**{b: bytes((b,)) for b in b"() /%<>[]#_&$\\"},
            0x6E: b"\n", 0x72: b"\r", 0x74: b"\t", 0x62: b"\b", 0x66: b"\f"}
_HEX = re.compile(rb"[0-9A-Fa-f \n\r\t\f\x00]*")
_HEX_WHITESPACE = b" \n\r\t\f\x00"
_ENDS_TOKEN = frozenset(b" \n\r\t\f\x00()<>[]{}/%")

_WORDS = {0x74: (b"true", lambda: generic.BooleanObject(True)), 0x66: (b"false", lambda: generic.BooleanObject(False)),
          0x6E: (b"null", lambda: generic.NullObject())}

_state: dict = {"bounded": None}
_pyhanko_reading = threading.local()   # set while the bounded reader reads a dictionary of its own


class _Fallback(Exception):
    """Not the common case: pyHanko reads the dictionary."""


class _More(Exception):
    """The dictionary goes on past the chunk."""


class _Parser:
    __slots__ = ("buf", "n", "eof", "ref", "handler", "level")

    def __init__(self, buf: bytes, eof: bool, ref, handler, level: int) -> None:
        self.buf, self.n, self.eof, self.ref, self.handler, self.level = buf, len(buf), eof, ref, handler, level

    def _short(self):
        # past the chunk: more of the file, or (at its end) pyHanko's own handling of a truncation
        return _Fallback() if self.eof else _More()

    def dictionary(self, i: int, depth: int) -> tuple[dict, int]:
        """The entries of the dictionary whose ``<<`` is at ``i``, and the offset after its ``>>``."""
        if self.level + depth > pyhanko_bounds.MAX_DEPTH:
            raise _Fallback
        buf, n = self.buf, self.n
        i += 2
        data: dict = {}
        while True:
            found = _ENTRY.match(buf, i)
            if found is not None:
                simple = self.simple(found)
                if simple is not None:
                    key = generic._decode_name(found.group(1))
                    value, i = simple
                    if key in data:
                        raise _Fallback
                    data[key] = value
                    if len(data) > pyhanko_bounds.MAX_DICT:
                        raise _Fallback
                    continue
            # anything else, one token at a time
            i = _WS.match(buf, i).end()
            if i + 1 >= n:
                raise self._short()
            c = buf[i]
            if c == 0x3E:                    # '>'
                if buf[i + 1] != 0x3E:
                    raise _Fallback
                return data, i + 2
            if c != 0x2F:                    # a key is a name; a comment, anything else: pyHanko
                raise _Fallback
            j = _NAME.match(buf, i + 1).end()
            if j >= n:
                raise self._short()
            key = generic._decode_name(buf[i + 1:j])
            i = _WS.match(buf, j).end()
            value, i = self.value(i, depth)
            if key in data:
                raise _Fallback
            data[key] = value
            if len(data) > pyhanko_bounds.MAX_DICT:
                raise _Fallback

    def simple(self, found):
        """The name, reference or integer ``found`` (an ``_ENTRY`` or ``_ITEM`` match) as
        ``value`` reads it, and the offset after it; None when ``value`` must look closer (the
        token may go on past the chunk, a number goes on as a real, a digit string is not what
        pyHanko's look-ahead takes for a reference)."""
        buf, end = self.buf, found.end()
        if found.group(2) is not None:                       # a name
            if end >= self.n:
                return None
            result = generic._decode_name(found.group(2))
        elif found.group(3) is not None:                     # a reference, if pyHanko's look-ahead says so
            start = found.start(3)
            peek = buf[start:start + 20]
            if len(peek) < 20 and not self.eof or generic.INDIRECT_PATTERN.match(peek) is None:
                return None
            idnum = int(found.group(3))
            if not idnum > 0:
                return None
            result = generic.IndirectObject(idnum, int(found.group(4)), self.handler)
        else:                                                # an integer
            start = found.start(5)
            if end >= self.n or buf[end] in _NUMBER_BYTES:
                return None
            if buf[start] not in b"+-":                      # a digit first: pyHanko looks for a reference
                peek = buf[start:start + 20]
                if len(peek) < 20 and not self.eof or generic.INDIRECT_PATTERN.match(peek) is not None:
                    return None
            result = generic.NumberObject(found.group(5).decode("ascii"))
        result.container_ref = self.ref
        return result, end

    def value(self, i: int, depth: int):
        """The object at ``i`` (as ``generic.read_object`` reads it, ``container_ref`` set) and the
        offset after it."""
        buf, n = self.buf, self.n
        if i >= n:
            raise self._short()
        c = buf[i]
        if c == 0x2F:                                        # '/' a name
            j = _NAME.match(buf, i + 1).end()
            if j >= n:
                raise self._short()
            result = generic._decode_name(buf[i + 1:j])
        elif c == 0x3C:                                      # '<'
            if i + 1 >= n:
                raise self._short()
            if buf[i + 1] == 0x3C:
                data, j = self.dictionary(i, depth + 1)
                # pyHanko looks for a stream after a nested dictionary too: that is its business
                k = _WS.match(buf, j).end()
                if k >= n:
                    raise self._short()
                if buf[k] in b"s%":
                    raise _Fallback
                result = generic.DictionaryObject(data)
            else:
                end = buf.find(b">", i + 1)
                if end < 0:
                    raise self._short()
                body = buf[i + 1:end]
                try:
                    raw = binascii.unhexlify(body)   # hex digits only, an even number of them
                except (binascii.Error, ValueError):
                    if not _HEX.fullmatch(body):
                        raise _Fallback from None
                    digits = body.translate(None, _HEX_WHITESPACE)
                    if len(digits) % 2:
                        digits += b"0"
                    raw = binascii.unhexlify(digits)
                result = generic.pdf_string(raw)
                j = end + 1
        elif c == 0x5B:                                      # '[' an array
            result, j = self.array(i, depth + 1)
        elif c == 0x28:                                      # '(' a literal string
            literal, j = self.literal(i)
            result = generic.pdf_string(literal)
        elif 0x30 <= c <= 0x39:                              # a digit: a reference or a number
            peek = buf[i:i + 20]
            if len(peek) < 20 and not self.eof:
                raise _More
            if generic.INDIRECT_PATTERN.match(peek) is not None:
                found = _REFERENCE.match(buf, i)
                if found is None:
                    raise _Fallback
                idnum, generation = int(found.group(1)), int(found.group(2))
                if not idnum > 0:
                    raise _Fallback
                result = generic.IndirectObject(idnum, generation, self.handler)
                j = found.end()
            else:
                result, j = self.number(i)
        elif c in b"+-.":
            result, j = self.number(i)
        elif c in _WORDS:                                    # true, false, null
            word, make = _WORDS[c]
            if not buf.startswith(word, i):
                raise _Fallback
            j = i + len(word)
            if j >= n:
                raise self._short()
            if buf[j] not in _ENDS_TOKEN:
                raise _Fallback
            result = make()
        else:
            raise _Fallback
        result.container_ref = self.ref
        return result, j

    def literal(self, i: int) -> tuple[bytes, int]:
        """The bytes of the literal string at ``i`` as ``generic._read_string_literal_bytes`` reads
        them (balanced parentheses, its escapes), and the offset after it."""
        buf, n = self.buf, self.n
        parts = []
        depth, j = 1, i + 1
        while True:
            found = _STRING.search(buf, j)
            if found is None:
                raise self._short()
            k = found.start()
            parts.append(buf[j:k])
            c = buf[k]
            if c == 0x28:                    # '('
                depth += 1
                parts.append(b"(")
                j = k + 1
            elif c == 0x29:                  # ')'
                depth -= 1
                if depth == 0:
                    return b"".join(parts), k + 1
                parts.append(b")")
                j = k + 1
            else:                            # a backslash and what it escapes
                if k + 3 >= n:               # an escape needs at most three more bytes
                    raise self._short()
                e = buf[k + 1]
                if e in _ESCAPED:
                    parts.append(_ESCAPED[e])
                    j = k + 2
                elif 0x30 <= e <= 0x39:      # up to three digits, read as octal (8 or 9: pyHanko's error)
                    digits = _DIGITS.match(buf, k + 1, k + 4).group()
                    parts.append(bytes((int(digits, 8),)))
                    j = k + 1 + len(digits)
                elif e == 0x0A or e == 0x0D:     # an escaped line break (and a second EOL byte) adds nothing
                    j = k + 3 if buf[k + 2] in b"\n\r" else k + 2
                else:
                    raise _Fallback

    def number(self, i: int):
        j = _NUMBER.match(self.buf, i).end()
        if j >= self.n:
            raise self._short()
        text = self.buf[i:j].decode("ascii")
        return (generic.FloatObject(text) if "." in text else generic.NumberObject(text)), j

    def array(self, i: int, depth: int):
        if self.level + depth > pyhanko_bounds.MAX_DEPTH:
            raise _Fallback
        buf, n = self.buf, self.n
        result = generic.ArrayObject()
        i += 1
        while True:
            if len(result) < pyhanko_bounds.MAX_ARRAY:
                found = _ITEM.match(buf, i)
                if found is not None:
                    simple = self.simple(found)
                    if simple is not None:
                        result.append(simple[0])
                        i = simple[1]
                        continue
            i = _WS.match(buf, i).end()
            if i >= n:
                raise self._short()
            if buf[i] == 0x5D:               # ']'
                return result, i + 1
            if len(result) >= pyhanko_bounds.MAX_ARRAY:
                raise _Fallback
            value, i = self.value(i, depth)
            result.append(value)


def _read(stream, container_ref, as_metadata_stream: bool = False,
          in_content_stream=generic.ContentOpReading.NO):
    bounded = _state["bounded"]
    if in_content_stream or getattr(_pyhanko_reading, "active", False):
        # inside a dictionary pyHanko reads: its nested dictionaries too (a fast attempt at each
        # level would scan the same chunk again, depth times: 41 s for a 180 KB object)
        return bounded(stream, container_ref, as_metadata_stream=as_metadata_stream,
                       in_content_stream=in_content_stream)
    start = stream.tell()
    parsed = chunk = None
    try:
        level = getattr(pyhanko_bounds._depth, "level", 0)
        handler = container_ref.get_pdf_handler()
        for size in _SIZES:
            chunk = stream.read(size)
            stream.seek(start)
            if chunk[:2] != b"<<":
                break
            try:
                parsed = _Parser(chunk, len(chunk) < size, container_ref, handler, level).dictionary(0, 1)
                break
            except _More:
                continue
    except Exception:  # noqa: BLE001 - not the common case (or an error pyHanko raises in its own words)
        parsed = None
    if parsed is None:
        stream.seek(start)
        _pyhanko_reading.active = True
        try:
            return bounded(stream, container_ref, as_metadata_stream=as_metadata_stream,
                           in_content_stream=in_content_stream)
        finally:
            _pyhanko_reading.active = False
    data, end = parsed
    stream.seek(start + end)
    after = _WS.match(chunk, end).end()
    if after < len(chunk) and chunk[after] not in b"s%":
        stream_data = None   # what pyHanko's reader finds there: no stream, the stream left after the '>>'
    else:
        # the payload of a stream, by pyHanko's own reader, at the depth its bounded reader would be at
        pyhanko_bounds._enter()
        try:
            stream_data = generic._maybe_read_stream_payload(stream, data, handler)
        finally:
            pyhanko_bounds._leave()
    if stream_data is None:
        return generic.DictionaryObject(data)
    stream_class = generic.StreamObject
    if as_metadata_stream:
        try:
            from pyhanko.pdf_utils.metadata.xmp_xml import MetadataStream

            stream_class = MetadataStream
        except ImportError:  # pragma: no cover - as pyHanko
            pass
    return stream_class(data, encoded_data=stream_data)


def supported(version: str | None = None) -> bool:
    return (version or _version("pyHanko")).startswith(SUPPORTED)


def installed() -> bool:
    return _state["bounded"] is not None


def install() -> bool:
    """Use the fast reader in front of the bounded one (idempotent); False, and nothing changed, on
    a pyHanko version it was not checked against or without :mod:`hazmat.pyhanko_bounds`."""
    if installed():
        return True
    if not supported() or not pyhanko_bounds.installed():
        return False
    _state["bounded"] = generic.DictionaryObject.read_from_stream
    _read.__wrapped__ = _state["bounded"]
    generic.DictionaryObject.read_from_stream = staticmethod(_read)
    return True


def uninstall() -> None:
    """The bounded reader again (before :mod:`hazmat.pyhanko_bounds` is uninstalled)."""
    if not installed():
        return
    generic.DictionaryObject.read_from_stream = staticmethod(_state["bounded"])
    _state["bounded"] = None
