"""HAZMAT: bounds on pyHanko's PDF object parser (array length, nesting depth).

pyHanko parses arrays and dictionaries recursively and without limit. Two cheap files exploit that:
a page tree whose /Kids lists the same page a million times (6 MB; parsing that one array took 27 s
and 2.4 GB, and signing the file 32 s), and arrays nested fifty thousand deep (a RecursionError deep
inside pyHanko, which surfaced as a 500). :func:`install` wraps ``ArrayObject.read_from_stream`` and
``DictionaryObject.read_from_stream`` so that an array longer than :data:`MAX_ARRAY` elements, a
dictionary with more than :data:`MAX_DICT` entries, or a nesting deeper than :data:`MAX_DEPTH`
raises :class:`ParserBoundExceeded`, a ``PdfReadError``: every caller already treats it as a
document it cannot read (422 ``pdf_malformed`` when signing, "unreadable" when verifying), and
``kyso.pdfbounds`` names the bound.

The wrapped functions are internal to pyHanko, so the patch is guarded by the versions it was
checked against (:data:`SUPPORTED`); on another version :func:`install` leaves pyHanko alone and
returns False. Install it explicitly (``office.compose.install_hazmat``), never by importing.
"""
from __future__ import annotations

import threading
from hazmat._versions import version as _version

from pyhanko.pdf_utils import generic, misc

__all__ = ["MAX_ARRAY", "MAX_DEPTH", "MAX_DICT", "SUPPORTED", "ParserBoundExceeded", "install", "installed",
           "supported", "uninstall"]

#: pyHanko versions whose array and dictionary readers this wrapper was checked against
SUPPORTED = ("0.38.",)
#: no page tree node, field list or annotation list of a real document comes near these
MAX_ARRAY = 100_000
MAX_DICT = 10_000
#: real documents nest direct objects a dozen levels at most; Python's stack allows about 300
MAX_DEPTH = 64


class ParserBoundExceeded(misc.PdfReadError):
    """The document exceeds a parser bound; ``bound`` is ``array``, ``dictionary`` or ``depth``."""

    def __init__(self, bound: str, limit: int) -> None:
        super().__init__(f"PDF parser bound exceeded: {bound} over {limit}")
        self.bound = bound
        self.limit = limit


_depth = threading.local()
_state = {"installed": False}


def _enter() -> None:
    level = getattr(_depth, "level", 0) + 1
    if level > MAX_DEPTH:
        raise ParserBoundExceeded("depth", MAX_DEPTH)
    _depth.level = level


def _leave() -> None:
    _depth.level = getattr(_depth, "level", 1) - 1


def _bounded_array_reader(original):
    def read_from_stream(stream, container_ref, in_content_stream=generic.ContentOpReading.NO):
        _enter()
        try:
            arr = generic.ArrayObject()
            if stream.read(1) != b"[":
                raise misc.PdfReadError("Could not read array")
            while True:
                peek = generic.read_non_whitespace(stream)
                if peek == b"]":
                    break
                stream.seek(-1, 1)
                if len(arr) >= MAX_ARRAY:
                    raise ParserBoundExceeded("array", MAX_ARRAY)
                arr.append(generic.read_object(stream, container_ref, in_content_stream=in_content_stream))
            return arr
        finally:
            _leave()
    read_from_stream.__wrapped__ = original
    return staticmethod(read_from_stream)


def _bounded_dict_reader(original):
    def read_from_stream(stream, container_ref, as_metadata_stream=False,
                         in_content_stream=generic.ContentOpReading.NO):
        _enter()
        try:
            result = original(stream, container_ref, as_metadata_stream=as_metadata_stream,
                               in_content_stream=in_content_stream)
            if isinstance(result, dict) and len(result) > MAX_DICT:
                raise ParserBoundExceeded("dictionary", MAX_DICT)
            return result
        finally:
            _leave()
    read_from_stream.__wrapped__ = original
    return staticmethod(read_from_stream)


def supported(version: str | None = None) -> bool:
    return (version or _version("pyHanko")).startswith(SUPPORTED)


def installed() -> bool:
    return _state["installed"]


def install() -> bool:
    """Bound pyHanko's parser (once); False, and nothing changed, on an unchecked pyHanko version."""
    if _state["installed"]:
        return True
    if not supported():
        return False
    generic.ArrayObject.read_from_stream = _bounded_array_reader(generic.ArrayObject.read_from_stream)
    generic.DictionaryObject.read_from_stream = _bounded_dict_reader(generic.DictionaryObject.read_from_stream)
    _state["installed"] = True
    return True


def uninstall() -> None:
    """pyHanko's own, unbounded readers again (benchmarks use it to measure stock pyHanko)."""
    if not _state["installed"]:
        return
    generic.ArrayObject.read_from_stream = staticmethod(generic.ArrayObject.read_from_stream.__wrapped__)
    generic.DictionaryObject.read_from_stream = staticmethod(generic.DictionaryObject.read_from_stream.__wrapped__)
    _state["installed"] = False
