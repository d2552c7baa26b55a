"""Bounded work for every PDF a user hands in: measured before the expensive work, refused with a
code of its own when over a bound.

    shape = admit(data, bounds=PdfBounds())      # PdfShape(pages=2, objects=14, revisions=1, ...)
                                                  # or PdfOutOfBounds (413/422, a code per bound)

Every use case that parses a user's PDF (sign, two-step sign, prepare, issue, attachment, copy,
extend, renew; verify and receive through the verifier's intake) calls :func:`admit` first. It reads
with pyHanko's lenient reader, which loads objects lazily, and touches only what the engines will
touch: the cross-reference sections (revisions, objects), the page tree (counted leaf by leaf, a page
listed a million times counts a million times), the form fields, and the pages' content streams
(inflated in bounded chunks and thrown away, so a decompression bomb costs at most the bound). The
parser itself is bounded by :mod:`hazmat.pyhanko_bounds` (array length, nesting depth) when it is
installed; without it, Python's recursion limit is caught here as the nesting bound.

A file :func:`admit` cannot read at all is not its business: it returns ``PdfShape(readable=False)``
and the engine behind it refuses the file with its own code (``not_pdf``, ``pdf_malformed``,
``pdf_encrypted``) or, for the verifier, judges it unreadable.
"""
from __future__ import annotations

import dataclasses
import io
import time
import zlib
from typing import Any

from kyso.errors import ErrorKind, KysoError

__all__ = ["PdfBounds", "PdfShape", "PdfOutOfBounds", "PdfTooLarge", "PdfTooManyPages", "PdfTooManyObjects",
           "PdfTooDeeplyNested", "PdfArrayTooLong", "PdfInflatesTooMuch", "PdfTooManyRevisions",
           "PdfTooManyFields", "PdfTooSlowToRead", "admit", "admit_and_read"]

_MIB = 1024 * 1024
_PYTHON_DEPTH = 300      # about what Python's stack allows pyHanko's recursive parser
_CHUNK = 64 * 1024


@dataclasses.dataclass(frozen=True, kw_only=True)
class PdfBounds:
    """How much one document may ask of the service (defaults fit any real office document)."""

    max_bytes: int = 200 * _MIB
    max_pages: int = 10_000
    max_objects: int = 2_000_000
    max_revisions: int = 500
    max_fields: int = 10_000
    max_inflated_bytes: int = 128 * _MIB    # the pages' content streams, inflated
    seconds: float = 10.0                   # for the measurement itself

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PdfShape:
    readable: bool
    pages: int = 0
    objects: int = 0
    revisions: int = 0
    fields: int = 0
    inflated_bytes: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class PdfOutOfBounds(KysoError):
    """The document asks more of the service than its bounds allow."""

    code = "pdf_out_of_bounds"
    kind = ErrorKind.INVALID_INPUT
    bound = ""

    def __init__(self, *, limit: int | float, found: int | float | None = None, what: str = "") -> None:
        detail = {"bound": self.bound, "limit": limit}
        if found is not None:
            detail["measured"] = found
        super().__init__(self.message_en.format(limit=limit, what=what),
                         message_vi=self.message_vi.format(limit=limit, what=what), detail=detail)


class PdfTooLarge(PdfOutOfBounds):
    code, bound, kind = "pdf_too_large", "max_bytes", ErrorKind.TOO_LARGE
    message_en = "The PDF is larger than {limit} bytes."
    message_vi = "Tệp PDF lớn hơn {limit} byte."


class PdfTooManyPages(PdfOutOfBounds):
    code, bound = "pdf_too_many_pages", "max_pages"
    message_en = "The PDF has more than {limit} pages (a page listed several times counts each time)."
    message_vi = "Tệp PDF có hơn {limit} trang (một trang được liệt kê nhiều lần được đếm mỗi lần)."


class PdfTooManyObjects(PdfOutOfBounds):
    code, bound = "pdf_too_many_objects", "max_objects"
    message_en = "The PDF has more than {limit} objects."
    message_vi = "Tệp PDF có hơn {limit} đối tượng."


class PdfTooDeeplyNested(PdfOutOfBounds):
    code, bound = "pdf_too_deeply_nested", "max_depth"
    message_en = "The PDF nests arrays or dictionaries more than {limit} levels deep."
    message_vi = "Tệp PDF lồng mảng hoặc từ điển sâu hơn {limit} cấp."


class PdfArrayTooLong(PdfOutOfBounds):
    code, bound = "pdf_array_too_long", "max_array"
    message_en = "The PDF holds an array or dictionary of more than {limit} entries."
    message_vi = "Tệp PDF chứa một mảng hoặc từ điển hơn {limit} phần tử."


class PdfInflatesTooMuch(PdfOutOfBounds):
    code, bound = "pdf_inflates_too_much", "max_inflated_bytes"
    message_en = "The PDF's page contents inflate to more than {limit} bytes (a decompression bomb?)."
    message_vi = "Nội dung các trang của tệp PDF giải nén ra hơn {limit} byte (nghi là bom nén)."


class PdfTooManyRevisions(PdfOutOfBounds):
    code, bound = "pdf_too_many_revisions", "max_revisions"
    message_en = "The PDF has more than {limit} revisions (incremental updates)."
    message_vi = "Tệp PDF có hơn {limit} phiên bản (lần cập nhật)."


class PdfTooManyFields(PdfOutOfBounds):
    code, bound = "pdf_too_many_fields", "max_fields"
    message_en = "The PDF has more than {limit} form fields."
    message_vi = "Tệp PDF có hơn {limit} trường biểu mẫu."


class PdfTooSlowToRead(PdfOutOfBounds):
    code, bound = "pdf_too_complex", "seconds"
    message_en = "Reading the PDF's structure took more than {limit} seconds."
    message_vi = "Đọc cấu trúc tệp PDF mất hơn {limit} giây."


class _Clock:
    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.limit = seconds
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks % 64 == 0 and time.monotonic() - self.started > self.limit:
            raise PdfTooSlowToRead(limit=self.limit)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def admit(data: bytes, *, bounds: PdfBounds | None = None) -> PdfShape:
    """The document's shape, or :class:`PdfOutOfBounds` (a subclass per bound) when over one."""
    return admit_and_read(data, bounds=bounds)[0]


def admit_and_read(data: bytes, *, bounds: PdfBounds | None = None):
    """:func:`admit`, and the reader that measured the document when it is readable and not
    encrypted (else None): a verifier reads on with it instead of parsing the same objects again."""
    bounds = bounds or PdfBounds()
    if len(data) > bounds.max_bytes:
        raise PdfTooLarge(limit=bounds.max_bytes, found=len(data))
    if b"%PDF-" not in data[:1024]:
        return PdfShape(readable=False), None
    clock = _Clock(bounds.seconds)
    try:
        return _measure(data, bounds, clock)
    except PdfOutOfBounds:
        raise
    except RecursionError:
        raise PdfTooDeeplyNested(limit=_PYTHON_DEPTH) from None
    except Exception as exc:  # noqa: BLE001 - unreadable: the engine behind refuses it with its own code
        bound = getattr(exc, "bound", None)
        if bound == "depth":
            raise PdfTooDeeplyNested(limit=exc.limit) from None
        if bound in ("array", "dictionary"):
            raise PdfArrayTooLong(limit=exc.limit) from None
        return PdfShape(readable=False, seconds=round(clock.elapsed, 4)), None
    finally:
        if hasattr(data, "seek"):
            data.seek(0)


def _measure(data: bytes, bounds: PdfBounds, clock: _Clock):
    from pyhanko.pdf_utils.reader import PdfFileReader

    if hasattr(data, "seek"):          # a memory-mapped file: read in place, never copied
        data.seek(0)
        reader = PdfFileReader(data, strict=False)
    else:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
    revisions = reader.xrefs.total_revisions
    if revisions > bounds.max_revisions:
        raise PdfTooManyRevisions(limit=bounds.max_revisions, found=revisions)
    objects = _objects(reader)
    if objects > bounds.max_objects:
        raise PdfTooManyObjects(limit=bounds.max_objects, found=objects)
    if reader.encrypted:
        # the engines refuse (signing) or open (verifying, empty password) it; nothing more to measure
        return PdfShape(readable=True, revisions=revisions, objects=objects, seconds=round(clock.elapsed, 4)), None
    root = reader.root
    pages, contents = _pages(root, bounds, clock)
    fields = _fields(root, bounds, clock)
    inflated = _inflate(contents, bounds, clock)
    return PdfShape(readable=True, pages=pages, objects=objects, revisions=revisions, fields=fields,
                    inflated_bytes=inflated, seconds=round(clock.elapsed, 4)), reader


def _objects(reader) -> int:
    try:
        sections = [reader.xrefs.get_xref_data(r) for r in range(reader.xrefs.total_revisions)]
        return sum(len(s.standard_xrefs) + len(s.xrefs_in_objstm) for s in sections)
    except (AttributeError, TypeError):   # pyHanko's internal API moved: the trailer's claim
        return int(reader.trailer.get("/Size", 0))


def _get(dictionary, key: str):
    """The value under ``key``, resolved (pyHanko's ``get`` leaves references unresolved)."""
    return dictionary[key] if key in dictionary else None


def _ref(item):
    return getattr(item, "reference", None) or getattr(item, "container_ref", None) or id(item)


def _pages(root, bounds: PdfBounds, clock: _Clock) -> tuple[int, list]:
    """Leaves of the page tree, counted as listed; the content streams of the distinct pages."""
    from pyhanko.pdf_utils import generic

    top = _get(root, "/Pages")
    if not isinstance(top, generic.DictionaryObject):
        return 0, []
    declared = _get(top, "/Count")
    if isinstance(declared, int) and declared > bounds.max_pages:
        # what the tree says it holds: a verifier that trusts /Count would stop here, so does Kyso
        raise PdfTooManyPages(limit=bounds.max_pages, found=int(declared))
    leaves = 0
    contents: dict = {}
    seen_nodes = set()
    seen_pages = set()
    stack = [(root.raw_get("/Pages"), top)]
    while stack:
        clock.tick()
        handle, node = stack.pop()
        kids = _get(node, "/Kids") if isinstance(node, generic.DictionaryObject) else None
        if isinstance(kids, generic.ArrayObject):
            key = _ref(handle)
            if key in seen_nodes:
                continue          # a loop in the tree: the engines refuse it; count it once here
            seen_nodes.add(key)
            for raw in reversed(kids):
                child = raw.get_object() if isinstance(raw, generic.IndirectObject) else raw
                stack.append((raw, child))
            continue
        leaves += 1
        if leaves > bounds.max_pages:
            raise PdfTooManyPages(limit=bounds.max_pages)
        key = _ref(handle)
        if key in seen_pages or not isinstance(node, generic.DictionaryObject):
            continue
        seen_pages.add(key)
        body = _get(node, "/Contents")
        items = body if isinstance(body, generic.ArrayObject) else [node.raw_get("/Contents")] if body is not None else []
        for raw in items:
            if len(contents) > 4 * bounds.max_pages:
                break
            stream = raw.get_object() if isinstance(raw, generic.IndirectObject) else raw
            if isinstance(stream, generic.StreamObject):
                contents.setdefault(_ref(raw), stream)
    return leaves, list(contents.values())


def _fields(root, bounds: PdfBounds, clock: _Clock) -> int:
    from pyhanko.pdf_utils import generic

    form = _get(root, "/AcroForm")
    if not isinstance(form, generic.DictionaryObject):
        return 0
    top = _get(form, "/Fields")
    if not isinstance(top, generic.ArrayObject):
        return 0
    count = 0
    seen = set()
    stack = list(top)
    while stack:
        clock.tick()
        raw = stack.pop()
        key = _ref(raw)
        if key in seen:
            continue
        seen.add(key)
        count += 1
        if count > bounds.max_fields:
            raise PdfTooManyFields(limit=bounds.max_fields)
        field = raw.get_object() if isinstance(raw, generic.IndirectObject) else raw
        if isinstance(field, generic.DictionaryObject):
            kids = _get(field, "/Kids")
            if isinstance(kids, generic.ArrayObject):
                stack.extend(kids)
    return count


def _inflate(streams: list, bounds: PdfBounds, clock: _Clock) -> int:
    """Bytes the content streams inflate to (FlateDecode first in their filters), counted in chunks
    and discarded; at most ``max_inflated_bytes`` are ever produced."""
    total = 0
    for stream in streams:
        clock.tick()
        filters = _get(stream, "/Filter")
        first = filters[0] if isinstance(filters, list) and filters else filters
        raw = stream.encoded_data if hasattr(stream, "encoded_data") else b""
        if first not in ("/FlateDecode", "/Fl"):
            total += len(raw)
            continue
        inflater = zlib.decompressobj()
        view = memoryview(raw)
        position = 0
        try:
            while position < len(view) or inflater.unconsumed_tail:
                if inflater.unconsumed_tail:
                    piece = inflater.unconsumed_tail
                else:
                    piece = view[position:position + _CHUNK]
                    position += _CHUNK
                out = inflater.decompress(piece, _CHUNK)
                total += len(out)
                if total > bounds.max_inflated_bytes:
                    raise PdfInflatesTooMuch(limit=bounds.max_inflated_bytes)
                clock.tick()
                if not out and not inflater.unconsumed_tail and position >= len(view):
                    break
                if inflater.eof:
                    break
        except zlib.error:
            continue          # a damaged stream: the engines and viewers deal with it
    return total
