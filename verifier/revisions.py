"""What each incremental update changed, object by object, computed once per document.

A signature covers the bytes of its revision. Whatever later revisions do is
judged here, from the objects each revision actually writes or frees (its
xref section), not by re-walking the whole document for every signature: the
cost is proportional to the size of the updates, and the result is shared by
every signature.

Each written object is classified by what it is and by what changed in it:

* validation data: the DSS and everything it references;
* document timestamp / new signature: a signature value written into a field
  that was empty (or a new signature field), with its widget and appearance;
* form filling: value and appearance of a field that existed before;
* annotation: annotations added to a page's ``/Annots``;
* page content: a page's content streams or resources, or any stream the
  earlier revision already had (fonts, images, forms: shadow "replace");
* structure: object/xref streams, the document information dictionary,
  metadata, unreferenced new objects (they draw nothing);
* other: everything else, including objects freed, signatures rewritten,
  catalog entries such as ``/Pages``, ``/OpenAction``, ``/Names`` changed
  (shadow "hide-and-replace"), fields removed, pages added or removed.

Conservative by design: an object whose role is unknown is "other", which no
policy permits.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Iterable

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.xref import XRefSectionType

from verifier.report import ChangeCategory

_CATALOG_VALIDATION_KEYS = {"/DSS"}
_CATALOG_STRUCTURE_KEYS = {"/Extensions", "/Metadata", "/Version"}
_CATALOG_FORM_KEYS = {"/AcroForm"}
_FIELD_FILL_KEYS = {"/V", "/AP", "/AS", "/MK"}
_WIDGET_KEYS_ON_SIGNING = {"/AP", "/AS", "/MK", "/F"}
_ACROFORM_STRUCTURE_KEYS = {"/SigFlags", "/DR", "/DA"}
# links from structure elements to what they describe (pages, annotations, content): not followed
_STRUCT_LINK_KEYS = {"/Pg", "/Obj", "/Stm", "/StmOwn", "/P"}
# entries of structure-tree objects that grow when a widget (a signature) is added: the element's
# kids, the parent tree's numbers and kids, its next key, a number-tree node's limits
_STRUCT_GROWTH_KEYS = {"/K", "/Nums", "/Kids", "/ParentTreeNextKey", "/Limits", "/ParentTree"}


@dataclasses.dataclass(frozen=True)
class ObjectChange:
    category: ChangeCategory
    description: str
    ref: str
    field: str | None = None       # the form field concerned (for FieldMDP)
    new_field: bool = False        # a signature FIELD was added (not an existing one signed)
    new_field_signed: bool = False  # ... and every field added by the revision is signed in it
    refilled: bool = False         # a form field that already had a value got another value or appearance


@dataclasses.dataclass(frozen=True)
class RevisionChanges:
    revision: int
    changes: tuple[ObjectChange, ...]

    def categories(self) -> set[ChangeCategory]:
        return {c.category for c in self.changes}


def _ref_text(ref: generic.Reference) -> str:
    return f"{ref.idnum} {ref.generation} R"


def _deref(obj):
    while isinstance(obj, generic.IndirectObject):
        obj = obj.get_object()
    return obj


def _raw_ref(value) -> generic.Reference | None:
    if isinstance(value, generic.IndirectObject):
        return value.reference
    return None


def _refs_in(obj, *, depth: int = 0, limit: int = 2000) -> list[generic.Reference]:
    """Direct references held by an object (not following them)."""
    out: list[generic.Reference] = []
    stack = [obj]
    while stack and len(out) < limit:
        item = stack.pop()
        if isinstance(item, generic.IndirectObject):
            out.append(item.reference)
        elif isinstance(item, generic.DictionaryObject):
            stack.extend(item.values())
        elif isinstance(item, generic.ArrayObject):
            stack.extend(item)
    return out


def _same(a, b) -> bool:
    """Structural equality of two PDF values without following references."""
    if isinstance(a, generic.IndirectObject) or isinstance(b, generic.IndirectObject):
        return _raw_ref(a) == _raw_ref(b) and isinstance(a, generic.IndirectObject) and isinstance(
            b, generic.IndirectObject)
    if isinstance(a, generic.StreamObject) or isinstance(b, generic.StreamObject):
        if not (isinstance(a, generic.StreamObject) and isinstance(b, generic.StreamObject)):
            return False
        return a.encoded_data == b.encoded_data and _same_dict(a, b)
    if isinstance(a, generic.DictionaryObject) and isinstance(b, generic.DictionaryObject):
        return _same_dict(a, b)
    if isinstance(a, generic.ArrayObject) and isinstance(b, generic.ArrayObject):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return type(a) is type(b) and a == b
    except Exception:  # noqa: BLE001
        return False


def _same_dict(a, b) -> bool:
    keys = set(a.keys()) | set(b.keys())
    return all(k in a and k in b and _same(a.raw_get(k), b.raw_get(k)) for k in keys)


def _changed_keys(old, new) -> set[str]:
    keys = set(old.keys()) | set(new.keys())
    return {k for k in keys if not (k in old and k in new and _same(old.raw_get(k), new.raw_get(k)))}


class _Revision:
    """The state of the document at one revision, with cheap lookups of object roles."""

    def __init__(self, reader: PdfFileReader, revision: int, *, previous: "_Revision | None" = None) -> None:
        self.reader = reader
        self.revision = revision
        self.resolver = reader.get_historical_resolver(revision)
        trailer = self.resolver.trailer_view
        if "/Root" in trailer or previous is None:
            self.root_ref = _raw_ref(trailer.raw_get("/Root")) if "/Root" in trailer else None
        else:
            self.root_ref = previous.root_ref    # an update whose trailer omits /Root keeps the catalog
        info = self.resolver.trailer_view.raw_get("/Info") if "/Info" in self.resolver.trailer_view else None
        self.info_ref = _raw_ref(info)
        self._dss_refs: set[generic.Reference] | None = None
        self._struct_refs: set[generic.Reference] | None = None
        self._fields: dict[generic.Reference, str] | None = None

    def exists(self, ref: generic.Reference) -> bool:
        return self.reader.xrefs.get_historical_ref(ref, self.revision) is not None

    def get(self, ref: generic.Reference):
        return self.resolver.get_object(ref)

    def root(self):
        return self.get(self.root_ref) if self.root_ref else generic.DictionaryObject()

    def dss_refs(self) -> set[generic.Reference]:
        """Every object reachable from the catalog's /DSS (validation data only)."""
        if self._dss_refs is None:
            refs: set[generic.Reference] = set()
            root = self.root()
            dss = root.raw_get("/DSS") if "/DSS" in root else None
            stack = [dss] if dss is not None else []
            while stack and len(refs) < 100_000:
                item = stack.pop()
                if isinstance(item, generic.IndirectObject):
                    if item.reference in refs:
                        continue
                    refs.add(item.reference)
                    item = self.get(item.reference)
                if isinstance(item, generic.StreamObject):
                    continue   # OCSP/CRL/cert data: leaves
                if isinstance(item, generic.DictionaryObject):
                    stack.extend(item.values())
                elif isinstance(item, generic.ArrayObject):
                    stack.extend(item)
            self._dss_refs = refs
        return self._dss_refs

    def struct_refs(self) -> set[generic.Reference]:
        """Objects of the logical structure tree (``/StructTreeRoot``: elements, parent tree,
        its number-tree nodes and arrays), without following page, content or annotation links."""
        if self._struct_refs is None:
            refs: set[generic.Reference] = set()
            root = self.root()
            start = root.raw_get("/StructTreeRoot") if "/StructTreeRoot" in root else None
            stack = [start] if start is not None else []
            while stack and len(refs) < 200_000:
                item = stack.pop()
                if isinstance(item, generic.IndirectObject):
                    if item.reference in refs:
                        continue
                    try:
                        target = self.get(item.reference)
                    except Exception:  # noqa: BLE001
                        continue
                    if not _looks_like_structure(target):
                        continue   # what the structure points at (pages, annotations, content) is not structure
                    refs.add(item.reference)
                    item = target
                if isinstance(item, generic.DictionaryObject):
                    stack.extend(v for k, v in item.items() if k not in _STRUCT_LINK_KEYS)
                elif isinstance(item, generic.ArrayObject):
                    stack.extend(item)
            self._struct_refs = refs
        return self._struct_refs

    def fields(self) -> dict[generic.Reference, str]:
        """Form field (and widget) objects by reference, with their fully qualified names."""
        if self._fields is None:
            out: dict[generic.Reference, str] = {}
            root = self.root()
            try:
                acroform = _deref(root.raw_get("/AcroForm")) if "/AcroForm" in root else None
                fields = _deref(acroform.raw_get("/Fields")) if acroform is not None and "/Fields" in acroform else []
            except Exception:  # noqa: BLE001
                fields = []
            stack = [(f, "") for f in fields]
            while stack and len(out) < 100_000:
                item, prefix = stack.pop()
                ref = _raw_ref(item)
                if ref is None or ref in out:
                    continue
                obj = self.get(ref)
                if not isinstance(obj, generic.DictionaryObject):
                    continue
                name = str(obj.get("/T", "")) if "/T" in obj else ""
                full = f"{prefix}.{name}" if prefix and name else (name or prefix)
                out[ref] = full
                kids = obj.get("/Kids") if "/Kids" in obj else None
                if kids is not None:
                    stack.extend((k, full) for k in _deref(kids))
            self._fields = out
        return self._fields


def _field_type(obj, rev: _Revision) -> str | None:
    seen = 0
    while isinstance(obj, generic.DictionaryObject) and seen < 50:
        if "/FT" in obj:
            return str(obj["/FT"])
        parent = obj.raw_get("/Parent") if "/Parent" in obj else None
        if parent is None:
            return None
        obj = _deref(parent)
        seen += 1
    return None


def _has_value(field) -> bool:
    """A field shows a value of its own: /V present and not empty (nor a check box's /Off)."""
    if not isinstance(field, generic.DictionaryObject) or "/V" not in field:
        return False
    value = _deref(field.raw_get("/V"))
    if value is None or isinstance(value, generic.NullObject):
        return False
    if isinstance(value, (generic.TextStringObject, generic.ByteStringObject)):
        return len(str(value)) > 0 if isinstance(value, generic.TextStringObject) else len(bytes(value)) > 0
    if isinstance(value, generic.NameObject):
        return value != "/Off"
    if isinstance(value, generic.ArrayObject):
        return len(value) > 0
    return True


def field_has_value_at(reader: PdfFileReader, ref_text: str, revision: int) -> bool:
    """Whether the form field ``ref_text`` ("12 0 R") had a value in ``revision``."""
    try:
        idnum, generation, _ = ref_text.split()
        resolver = reader.get_historical_resolver(revision)
        obj = resolver.get_object(generic.Reference(int(idnum), int(generation), reader))
    except Exception:  # noqa: BLE001 - not there then: it had no value
        return False
    return _has_value(obj)


def _is_signature_value(obj) -> bool:
    return isinstance(obj, generic.DictionaryObject) and "/ByteRange" in obj and "/Contents" in obj


def _signature_kind(value) -> ChangeCategory:
    value = _deref(value)
    if isinstance(value, generic.DictionaryObject) and value.get("/Type") == "/DocTimeStamp":
        return ChangeCategory.DOCUMENT_TIMESTAMP
    return ChangeCategory.NEW_SIGNATURE


def analyse(reader: PdfFileReader, *, first: int = 1) -> list[RevisionChanges]:
    """Changes introduced by each revision ``first`` .. last (index = revision number)."""
    total = reader.xrefs.total_revisions
    results: list[RevisionChanges] = []
    previous = _Revision(reader, first - 1) if first >= 1 else None
    for revision in range(first, total):
        current = _Revision(reader, revision, previous=previous)
        malformed = [ObjectChange(ChangeCategory.OTHER, f"the update is malformed: {problem}", "xref")
                     for problem in syntax_problems(reader, revision)]
        results.append(RevisionChanges(revision=revision,
                                       changes=tuple(malformed) + tuple(_analyse_one(reader, previous, current))))
        previous = current
    return results


# -- strict syntax of an update ----------------------------------------------------------------
# The reader is lenient (real documents are sloppy before anyone signs them). An update written
# after a signature comes from signing software, which must produce exact syntax: there, a
# damaged cross-reference entry or an object without its ``endobj`` means the bytes were altered.

_XREF_SUBSECTION = re.compile(rb"(\d+) (\d+)[ \t]*(?:\r\n|\r|\n)")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])(?: \r| \n|\r\n)")
_MAX_CHECKED_OBJECTS = 5000
_MAX_TABLE_BYTES = 32 * 1024 * 1024


def syntax_problems(reader: PdfFileReader, revision: int) -> list[str]:
    """What is wrong with the syntax of ``revision``'s cross-reference table and of the objects
    it writes at byte offsets (objects inside object streams are checked when read)."""
    xrefs = reader.xrefs
    stream = reader.stream
    problems: list[str] = []
    try:
        meta = xrefs.get_xref_container_info(revision)
        if meta.xref_section_type is XRefSectionType.STANDARD:
            problem = (_xref_table_problem(stream, meta.start_location, meta.end_location)
                       or _trailer_problem(reader, revision))
            if problem:
                problems.append(problem)
        data = xrefs.get_xref_data(revision)
        located = sorted(data.standard_xrefs.items())[:_MAX_CHECKED_OBJECTS]
    except Exception as exc:  # noqa: BLE001
        return [f"its cross-reference section cannot be read ({type(exc).__name__})"]
    for idnum, (generation, offset) in located:
        problem = _object_problem(reader, stream, idnum, generation, offset)
        if problem:
            problems.append(problem)
            break
    return problems


def _xref_table_problem(stream, start: int, end: int) -> str | None:
    """``start`` .. ``end``: the table as pyHanko read it (just after the ``xref`` keyword, to just
    after ``trailer``)."""
    stream.seek(max(0, start - 16))
    before = stream.read(start - max(0, start - 16))
    keyword = before.rfind(b"xref")     # pyHanko's position is one byte past the keyword
    if keyword < 0:
        return "the cross-reference table does not start with 'xref'"
    start = max(0, start - 16) + keyword
    stream.seek(start)
    table = stream.read(max(0, min(end, start + _MAX_TABLE_BYTES) - start))
    opening = re.match(rb"xref[ \t]*(?:\r\n|\r|\n)", table)
    if opening is None:
        return "the cross-reference table does not start with 'xref'"
    pos = opening.end()
    while not table.startswith(b"trailer", pos):
        sub = _XREF_SUBSECTION.match(table, pos)
        if sub is None:
            return f"a cross-reference subsection header is damaged (byte {start + pos})"
        pos = sub.end()
        for _ in range(int(sub.group(2))):
            entry = _XREF_ENTRY.match(table, pos)
            if entry is None or int(entry.group(2)) > 65535:
                return f"a cross-reference entry is damaged (byte {start + pos})"
            pos = entry.end()
    return None


_TRAILER_KEYS = {"/Size", "/Prev", "/Root", "/Encrypt", "/Info", "/ID", "/XRefStm", "/DocChecksum"}


def _trailer_problem(reader: PdfFileReader, revision: int) -> str | None:
    trailers = getattr(reader.trailer, "_trailer_revisions", None)   # newest first
    if not trailers or len(trailers) != reader.xrefs.total_revisions:
        return None
    trailer = trailers[len(trailers) - 1 - revision]
    unknown = sorted(str(k) for k in trailer.keys() if k not in _TRAILER_KEYS)
    if unknown:
        return f"the trailer has unknown entries {', '.join(unknown)[:80]}"
    if not isinstance(trailer.get("/Size"), int) or not isinstance(trailer.raw_get("/Root"),
                                                                    generic.IndirectObject):
        return "the trailer lacks a valid /Size or /Root"
    if revision > 0 and not isinstance(trailer.get("/Prev"), int):
        return "the trailer lacks a valid /Prev"
    if "/ID" in trailer:
        ids = trailer.raw_get("/ID")
        if not (isinstance(ids, generic.ArrayObject) and len(ids) == 2
                and all(isinstance(x, (generic.ByteStringObject, generic.TextStringObject)) for x in ids)):
            return "the trailer /ID is not a pair of strings"
    return None


def _object_problem(reader, stream, idnum: int, generation: int, offset: int) -> str | None:
    from pyhanko.pdf_utils.misc import read_non_whitespace
    from pyhanko.pdf_utils.xref import read_object_header

    where = f"object {idnum} {generation}"
    try:
        stream.seek(offset)
        found = read_object_header(stream, strict=True)
        if tuple(found) != (idnum, generation):
            return f"{where}: the cross-reference offset points at object {found[0]} {found[1]}"
        generic.read_object(stream, generic.Reference(idnum, generation, reader))
        read_non_whitespace(stream, seek_back=True)
        if stream.read(6) != b"endobj":
            return f"{where} does not end with 'endobj'"
        following = stream.read(1)
        if following and following not in b" \t\r\n\f\x00%":
            return f"{where}: unexpected bytes after 'endobj'"
    except Exception as exc:  # noqa: BLE001
        return f"{where} cannot be read strictly ({type(exc).__name__})"
    return None


def _analyse_one(reader: PdfFileReader, old: _Revision, new: _Revision) -> Iterable[ObjectChange]:
    xrefs = reader.xrefs
    written = set(xrefs.explicit_refs_in_revision(new.revision))
    freed = set(xrefs.refs_freed_in_revision(new.revision))
    # who references what, among the objects this revision writes (to classify new objects)
    owner: dict[generic.Reference, ObjectChange] = {}
    pending_new: list[generic.Reference] = []
    changes: list[ObjectChange] = []

    for ref in sorted(freed, key=lambda r: (r.idnum, r.generation)):
        if old.exists(ref):
            changes.append(ObjectChange(ChangeCategory.OTHER, "an object of an earlier revision was deleted",
                                        _ref_text(ref)))

    old_fields = None
    new_fields = None
    for ref in sorted(written, key=lambda r: (r.idnum, r.generation)):
        try:
            obj = new.get(ref)
        except Exception:  # noqa: BLE001 - unreadable object: cannot be judged
            changes.append(ObjectChange(ChangeCategory.OTHER, "an object that cannot be read", _ref_text(ref)))
            continue
        if not old.exists(ref):
            pending_new.append(ref)
            continue
        try:
            before = old.get(ref)
        except Exception:  # noqa: BLE001
            before = None
        if before is not None and _same(before, obj):
            continue   # rewritten unchanged (some writers do this)
        if old_fields is None:
            old_fields, new_fields = old.fields(), new.fields()
        change = _classify_overwrite(ref, before, obj, old, new, old_fields, new_fields)
        changes.append(change)
        if isinstance(obj, (generic.DictionaryObject, generic.ArrayObject)):
            for child in _refs_in(obj):
                owner.setdefault(child, change)

    # new objects: classified by the written object that references them
    new_set = set(pending_new)
    resolved: dict[generic.Reference, ObjectChange] = {}
    changed = True
    rounds = 0
    while changed and rounds < 64:
        changed = False
        rounds += 1
        for ref in pending_new:
            if ref in resolved:
                continue
            parent = owner.get(ref)
            if parent is None:
                continue
            try:
                obj = new.get(ref)
            except Exception:  # noqa: BLE001
                obj = None
            resolved[ref] = _classify_new(ref, obj, parent, new)
            if isinstance(obj, (generic.DictionaryObject, generic.ArrayObject)):
                for child in _refs_in(obj):
                    if child in new_set and child not in owner:
                        owner[child] = resolved[ref]
                        changed = True
    dss = None
    for ref in pending_new:
        if ref in resolved:
            change = resolved[ref]
            if change.category is not ChangeCategory.STRUCTURE:
                changes.append(change)
            continue
        # a new object nothing written in this revision points to
        if dss is None:
            dss = new.dss_refs()
        if ref in dss:
            changes.append(ObjectChange(ChangeCategory.VALIDATION_DATA, "validation data", _ref_text(ref)))
            continue
        try:
            obj = new.get(ref)
        except Exception:  # noqa: BLE001
            obj = None
        if isinstance(obj, generic.StreamObject) and obj.get("/Type") in ("/ObjStm", "/XRef"):
            continue
        if ref == new.root_ref or ref == new.info_ref:
            # a brand-new catalog or info dictionary: compare with the old one
            if ref == new.info_ref:
                changes.append(ObjectChange(ChangeCategory.STRUCTURE, "document information", _ref_text(ref)))
            else:
                changes.extend(_catalog_changes(old.root(), obj, ref, old, new))
            continue
        # unreferenced by this revision's objects: check it is not reachable from an unchanged
        # object via a reference that did not exist before (cannot happen: unchanged objects
        # keep their old references), so it draws nothing
        changes.append(ObjectChange(ChangeCategory.STRUCTURE, "an unreferenced new object", _ref_text(ref)))
    if any(c.new_field for c in changes) and _new_fields_signed(old, new):
        changes = [dataclasses.replace(c, new_field_signed=True) if c.new_field else c for c in changes]
    return changes


def _new_fields_signed(old: _Revision, new: _Revision) -> bool:
    """Every signature field the revision adds carries a signature value written in it (a field
    added to be signed, as each later signer of a certified government document does), and the
    revision adds no other field."""
    old_fields = old.fields()
    added = [ref for ref in new.fields() if ref not in old_fields]
    if not added:
        return False
    for ref in added:
        obj = new.get(ref)
        if _field_type(obj, new) != "/Sig":
            return False
        holder, seen = obj, 0
        while isinstance(holder, generic.DictionaryObject) and "/V" not in holder and "/Parent" in holder and seen < 50:
            holder, seen = _deref(holder.raw_get("/Parent")), seen + 1
        if not (isinstance(holder, generic.DictionaryObject) and "/V" in holder
                and _is_signature_value(_deref(holder.raw_get("/V")))):
            return False
    return True


def _classify_new(ref, obj, parent: ObjectChange, new: _Revision) -> ObjectChange:
    """A new object takes the category of the change that references it."""
    text = _ref_text(ref)
    category = parent.category
    if category in (ChangeCategory.NEW_SIGNATURE, ChangeCategory.DOCUMENT_TIMESTAMP,
                    ChangeCategory.VALIDATION_DATA, ChangeCategory.FORM_FILLING, ChangeCategory.ANNOTATION,
                    ChangeCategory.PAGE_CONTENT, ChangeCategory.OTHER):
        return ObjectChange(category, parent.description, text, parent.field, parent.new_field)
    return ObjectChange(ChangeCategory.STRUCTURE, "new object", text)


def _classify_overwrite(ref, before, obj, old: _Revision, new: _Revision, old_fields, new_fields) -> ObjectChange:
    text = _ref_text(ref)
    if ref == new.root_ref:
        changes = _catalog_changes(before, obj, ref, old, new)
        worst = max(changes, key=lambda c: _SEVERITY[c.category]) if changes else None
        return worst or ObjectChange(ChangeCategory.STRUCTURE, "catalog rewritten unchanged", text)
    if ref == new.info_ref or ref == old.info_ref:
        return ObjectChange(ChangeCategory.STRUCTURE, "document information", text)
    if isinstance(before, generic.StreamObject) or isinstance(obj, generic.StreamObject):
        if isinstance(obj, generic.StreamObject) and obj.get("/Type") == "/Metadata":
            return ObjectChange(ChangeCategory.STRUCTURE, "XMP metadata", text)
        if ref in new.dss_refs() and ref in old.dss_refs():
            return ObjectChange(ChangeCategory.VALIDATION_DATA, "validation data stream", text)
        # a content stream, font, image or form XObject of the signed revision rewritten in place
        return ObjectChange(ChangeCategory.PAGE_CONTENT,
                            "a stream of the signed content was replaced (content, font, image or form)", text)
    if ref in old.struct_refs():
        return _struct_change(text, before, obj)
    if not isinstance(obj, generic.DictionaryObject) or not isinstance(before, generic.DictionaryObject):
        if isinstance(obj, generic.ArrayObject) and isinstance(before, generic.ArrayObject):
            return _array_change(ref, before, obj, old, new, old_fields, new_fields)
        return ObjectChange(ChangeCategory.OTHER, "an object changed type", text)
    if ref in new.dss_refs():
        return ObjectChange(ChangeCategory.VALIDATION_DATA, "validation data", text)
    if _is_signature_value(before):
        return ObjectChange(ChangeCategory.OTHER, "an existing signature value was rewritten", text)
    keys = _changed_keys(before, obj)
    if ref in old_fields or ref in new_fields:
        return _field_change(ref, before, obj, keys, old, new, old_fields, new_fields)
    obj_type = obj.get("/Type")
    if obj_type == "/Page" or before.get("/Type") == "/Page":
        return _page_change(ref, before, obj, keys, old, new, old_fields, new_fields)
    if obj_type == "/Catalog":
        return ObjectChange(ChangeCategory.OTHER, "a second document catalog", text)
    if "/Fields" in obj and ("/Fields" in before or keys <= {"/Fields"} | _ACROFORM_STRUCTURE_KEYS):
        return _acroform_change(ref, before, obj, keys, old, new, old_fields, new_fields)
    if obj.get("/Subtype") == "/Widget" or obj.get("/Type") == "/Annot":
        return ObjectChange(ChangeCategory.OTHER, "an annotation of the signed revision was changed", text)
    if obj_type == "/Pages" or before.get("/Type") == "/Pages":
        return ObjectChange(ChangeCategory.OTHER, "the page tree was changed (pages added, removed or moved)", text)
    return ObjectChange(ChangeCategory.OTHER, f"an object of the signed revision was changed ({', '.join(sorted(keys))})",
                        text)


_SEVERITY = {
    ChangeCategory.STRUCTURE: 0, ChangeCategory.VALIDATION_DATA: 1, ChangeCategory.DOCUMENT_TIMESTAMP: 2,
    ChangeCategory.NEW_SIGNATURE: 3, ChangeCategory.FORM_FILLING: 4, ChangeCategory.ANNOTATION: 5,
    ChangeCategory.PAGE_CONTENT: 6, ChangeCategory.OTHER: 7,
}


def severity(category: ChangeCategory) -> int:
    return _SEVERITY[category]


def _looks_like_structure(obj) -> bool:
    """A structure tree root, element, parent-tree node or array: never a page-tree node, a page,
    an annotation, a stream or anything with a type of its own (a doctored tree may point anywhere)."""
    if isinstance(obj, generic.ArrayObject):
        return True
    if not isinstance(obj, generic.DictionaryObject) or isinstance(obj, generic.StreamObject):
        return False
    if obj.get("/Type") not in (None, "/StructTreeRoot", "/StructElem"):
        return False
    return not any(k in obj for k in ("/Subtype", "/Count", "/MediaBox", "/Contents", "/Resources", "/Parent",
                                      "/FT", "/Fields", "/Rect"))


def _grows(before, after) -> bool:
    """``after`` keeps everything ``before`` had, in order, and only adds (a single value may
    become an array that starts with it)."""
    if _same(before, after):
        return True
    if isinstance(before, generic.ArrayObject) and isinstance(after, generic.ArrayObject):
        it = iter(after)
        return all(any(_same(old_item, new_item) for new_item in it) for old_item in before)
    if isinstance(after, generic.ArrayObject) and not isinstance(before, generic.ArrayObject):
        return len(after) >= 1 and _same(before, after[0])
    if isinstance(before, generic.DictionaryObject) and isinstance(after, generic.DictionaryObject):
        return all(k in after and _grows(before.raw_get(k), after.raw_get(k)) for k in before.keys())
    return False


def _struct_change(text: str, before, obj) -> ObjectChange:
    """An object of the structure tree rewritten: entries added when widgets are added (a new
    element's kids, parent-tree numbers, its next key) are bookkeeping; anything else (alternate
    or actual text, roles, removed elements) changes what assistive technology reads."""
    if isinstance(before, generic.ArrayObject) and isinstance(obj, generic.ArrayObject):
        if _grows(before, obj):
            return ObjectChange(ChangeCategory.STRUCTURE, "structure tree: entries added", text)
        return ObjectChange(ChangeCategory.OTHER, "structure tree entries were changed or removed", text)
    if isinstance(before, generic.DictionaryObject) and isinstance(obj, generic.DictionaryObject):
        keys = _changed_keys(before, obj)
        if keys <= _STRUCT_GROWTH_KEYS and all(
                k not in before or k == "/ParentTreeNextKey" or k == "/Limits"
                or _grows(before.raw_get(k), obj.raw_get(k)) for k in keys):
            return ObjectChange(ChangeCategory.STRUCTURE, "structure tree: entries added", text)
        return ObjectChange(ChangeCategory.OTHER,
                            f"structure tree entries changed ({', '.join(sorted(keys))[:80]})", text)
    return ObjectChange(ChangeCategory.OTHER, "a structure tree object changed type", text)


def _catalog_changes(before, obj, ref, old: _Revision, new: _Revision) -> list[ObjectChange]:
    text = _ref_text(ref)
    if not isinstance(obj, generic.DictionaryObject):
        return [ObjectChange(ChangeCategory.OTHER, "the document catalog is not a dictionary", text)]
    before = before if isinstance(before, generic.DictionaryObject) else generic.DictionaryObject()
    out = []
    for key in sorted(_changed_keys(before, obj)):
        if key in _CATALOG_VALIDATION_KEYS:
            out.append(ObjectChange(ChangeCategory.VALIDATION_DATA, "document security store (DSS)", text))
        elif key in _CATALOG_STRUCTURE_KEYS:
            problem = _catalog_value_problem(key, obj.raw_get(key) if key in obj else None)
            if problem:
                out.append(ObjectChange(ChangeCategory.OTHER, f"catalog {key} changed: {problem}", text))
            else:
                out.append(ObjectChange(ChangeCategory.STRUCTURE, f"catalog {key}", text))
        elif key in _CATALOG_FORM_KEYS and key not in before:
            out.append(ObjectChange(ChangeCategory.NEW_SIGNATURE, "an interactive form was created for a signature",
                                    text, new_field=True))
        elif key in _CATALOG_FORM_KEYS:
            old_form, new_form = _deref(before.raw_get(key)), _deref(obj.raw_get(key))
            if isinstance(old_form, generic.DictionaryObject) and isinstance(new_form, generic.DictionaryObject):
                out.append(_acroform_change(ref, old_form, new_form, _changed_keys(old_form, new_form), old, new,
                                            old.fields(), new.fields()))
            else:
                out.append(ObjectChange(ChangeCategory.OTHER, "the interactive form was replaced", text))
        else:
            out.append(ObjectChange(ChangeCategory.OTHER, f"document catalog entry {key} changed", text))
    return out


def _catalog_value_problem(key: str, value) -> str | None:
    """A structural catalog entry written after a signature must be well formed (ISO 32000-2:
    7.7.2 /Version, 7.12 developer extensions, 14.3.2 /Metadata); signing software writes these
    exactly, so anything else is an edit of its own."""
    if value is None:
        return None if key == "/Extensions" else f"{key} removed"
    value = _deref(value)
    if key == "/Version":
        return None if isinstance(value, generic.NameObject) and re.fullmatch(r"/\d\.\d", value) \
            else "not a PDF version name"
    if key == "/Metadata":
        return None if isinstance(value, generic.StreamObject) else "not a metadata stream"
    if not isinstance(value, generic.DictionaryObject):
        return "not a dictionary"
    for prefix, entry in value.items():
        if prefix == "/Type":
            if entry != "/Extensions":
                return "its /Type is not /Extensions"
            continue
        entry = _deref(entry)
        for ext in (entry if isinstance(entry, generic.ArrayObject) else [entry]):
            ext = _deref(ext)
            if not (isinstance(ext, generic.DictionaryObject)
                    and isinstance(ext.get("/BaseVersion"), generic.NameObject)
                    and isinstance(ext.get("/ExtensionLevel"), int)
                    and ext.get("/Type", "/DeveloperExtensions") == "/DeveloperExtensions"):
                return f"the developer extension {prefix} is not well formed"
    return None


def _acroform_change(ref, before, obj, keys, old, new, old_fields, new_fields) -> ObjectChange:
    text = _ref_text(ref)
    bad = keys - {"/Fields"} - _ACROFORM_STRUCTURE_KEYS
    if bad:
        return ObjectChange(ChangeCategory.OTHER, f"interactive form entries changed: {', '.join(sorted(bad))}", text)
    if "/Fields" in keys:
        return _fields_array_change(text, _deref(before.raw_get("/Fields")) if "/Fields" in before else [],
                                    _deref(obj.raw_get("/Fields")), new)
    return ObjectChange(ChangeCategory.STRUCTURE, "interactive form resources", text)


def _fields_array_change(text, old_array, new_array, new: _Revision) -> ObjectChange:
    old_refs = [_raw_ref(x) for x in old_array]
    new_refs = [_raw_ref(x) for x in new_array]
    if new_refs[:len(old_refs)] != old_refs:
        return ObjectChange(ChangeCategory.OTHER, "form fields were removed or reordered", text)
    added = new_refs[len(old_refs):]
    kinds = set()
    for ref in added:
        if ref is None:
            return ObjectChange(ChangeCategory.OTHER, "a direct object added to the form fields", text)
        field = new.get(ref)
        if not isinstance(field, generic.DictionaryObject) or field.get("/FT") != "/Sig":
            return ObjectChange(ChangeCategory.OTHER, "a form field other than a signature field was added", text)
        kinds.add(_signature_kind(field.raw_get("/V")) if "/V" in field else ChangeCategory.NEW_SIGNATURE)
    if ChangeCategory.NEW_SIGNATURE in kinds or not kinds:
        return ObjectChange(ChangeCategory.NEW_SIGNATURE, "signature field added", text, new_field=True)
    return ObjectChange(ChangeCategory.DOCUMENT_TIMESTAMP, "document timestamp field added", text, new_field=True)


def _array_change(ref, before, obj, old, new, old_fields, new_fields) -> ObjectChange:
    """An indirect array of the signed revision changed: /Fields or a page's /Annots."""
    text = _ref_text(ref)
    # is it the AcroForm /Fields array?
    root = new.root()
    try:
        form = _deref(root.raw_get("/AcroForm")) if "/AcroForm" in root else None
        if form is not None and _raw_ref(form.raw_get("/Fields")) == ref:
            return _fields_array_change(text, before, obj, new)
    except Exception:  # noqa: BLE001
        pass
    # otherwise treat it as an /Annots array (the common case): appended entries only
    return _annots_change(text, before, obj, new, new_fields)


def _annots_change(text, old_annots, new_annots, new: _Revision, new_fields) -> ObjectChange:
    old_refs = [_raw_ref(x) for x in old_annots]
    new_refs = [_raw_ref(x) for x in new_annots]
    if not set(old_refs) <= set(new_refs):
        return ObjectChange(ChangeCategory.OTHER, "annotations of the signed revision were removed", text)
    added = [r for r in new_refs if r not in set(old_refs)]
    worst = ObjectChange(ChangeCategory.STRUCTURE, "annotation list rewritten", text)
    for ref in added:
        if ref is None:
            return ObjectChange(ChangeCategory.OTHER, "a direct annotation was added", text)
        annot = new.get(ref)
        if not isinstance(annot, generic.DictionaryObject):
            return ObjectChange(ChangeCategory.OTHER, "a malformed annotation was added", text)
        if annot.get("/Subtype") == "/Widget":
            if ref in new_fields and _field_type(annot, new) == "/Sig":
                kind = _signature_kind(annot.raw_get("/V")) if "/V" in annot else ChangeCategory.NEW_SIGNATURE
                change = ObjectChange(kind, "signature field widget added", text, new_fields.get(ref), new_field=True)
            else:
                change = ObjectChange(ChangeCategory.OTHER, "a form field widget (not a signature) was added", text)
        else:
            change = ObjectChange(ChangeCategory.ANNOTATION, f"annotation {annot.get('/Subtype', '?')} added", text)
        if _SEVERITY[change.category] > _SEVERITY[worst.category]:
            worst = change
    return worst


def _page_change(ref, before, obj, keys, old, new, old_fields, new_fields) -> ObjectChange:
    text = _ref_text(ref)
    if keys - {"/Annots"}:
        content_keys = keys & {"/Contents", "/Resources", "/MediaBox", "/CropBox", "/Rotate", "/Group",
                               "/UserUnit", "/BleedBox", "/TrimBox", "/ArtBox"}
        if content_keys:
            return ObjectChange(ChangeCategory.PAGE_CONTENT, f"page {', '.join(sorted(content_keys))} changed", text)
        return ObjectChange(ChangeCategory.OTHER, f"page entries changed: {', '.join(sorted(keys))}", text)
    old_annots = _deref(before.raw_get("/Annots")) if "/Annots" in before else []
    new_annots = _deref(obj.raw_get("/Annots")) if "/Annots" in obj else []
    if not isinstance(new_annots, generic.ArrayObject):
        return ObjectChange(ChangeCategory.OTHER, "page annotations are not an array", text)
    return _annots_change(text, old_annots if isinstance(old_annots, generic.ArrayObject) else [], new_annots,
                          new, new_fields)


def _field_change(ref, before, obj, keys, old, new, old_fields, new_fields) -> ObjectChange:
    text = _ref_text(ref)
    name = new_fields.get(ref) or old_fields.get(ref)
    if ref not in old_fields:
        # an existing object that became a field: only a widget turned into a signature field is normal,
        # and that is a new field; treat as new signature if it is one
        if _field_type(obj, new) == "/Sig":
            return ObjectChange(ChangeCategory.NEW_SIGNATURE, "signature field", text, name, new_field=True)
        return ObjectChange(ChangeCategory.OTHER, "an object became a form field", text, name)
    field_type = _field_type(obj, new)
    if field_type == "/Sig":
        if "/V" in keys:
            if "/V" in before:
                return ObjectChange(ChangeCategory.OTHER, "an existing signature value was replaced", text, name)
            if keys - {"/V"} - _WIDGET_KEYS_ON_SIGNING:
                return ObjectChange(ChangeCategory.OTHER,
                                    f"signature field entries changed: {', '.join(sorted(keys))}", text, name)
            return ObjectChange(_signature_kind(obj.raw_get("/V")), "an empty signature field was signed", text, name)
        if keys <= _WIDGET_KEYS_ON_SIGNING and "/V" not in obj:
            return ObjectChange(ChangeCategory.FORM_FILLING, "appearance of an empty signature field", text, name)
        return ObjectChange(ChangeCategory.OTHER, f"a signature field changed ({', '.join(sorted(keys))})", text, name)
    if keys <= _FIELD_FILL_KEYS:
        if _has_value(before):
            return ObjectChange(ChangeCategory.FORM_FILLING, "the value or appearance of a filled form field was "
                                "replaced", text, name, refilled=True)
        return ObjectChange(ChangeCategory.FORM_FILLING, "form field value filled", text, name)
    return ObjectChange(ChangeCategory.OTHER, f"form field definition changed ({', '.join(sorted(keys))})", text, name)
