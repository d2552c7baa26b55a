"""Issuing a document the Decree 30 way (Art. 14, 15, 25, 32 and Appendix I).

1. :meth:`IssuanceWorkflow.prepare`: the draft gets EMPTY fields for the
   number-and-symbol, the issue date, the competent person's signature and
   the agency's signature, before anyone signs.
2. :meth:`IssuanceWorkflow.sign_personal`: the competent person signs their
   field with their handwritten-signature image, personal certificate only.
3. :meth:`IssuanceWorkflow.issue`: the clerk takes the next number for the
   agency, type and year, fills the number and date fields and applies the
   agency's signature (seal image over the left third of the personal
   signature), in ONE incremental update: only pre-existing form fields are
   filled, so the personal signature stays valid. Refused unless the document
   carries a valid personal signature (Art. 32.2), and with anything but an
   organisation certificate.
4. :meth:`IssuanceWorkflow.sign_attachment` and :meth:`IssuanceWorkflow.make_copy`:
   agency signatures on attachments (referring to the main document's number)
   and on SY/SL/TrS copies, with their own numbers.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
from datetime import datetime
from pathlib import Path
from typing import Callable

import pikepdf
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from kyso.certificates import CertificateKind, certificate_kind
from kyso.clock import read as read_clock
from signer import errors, formfields
from signer.appearance import (
    VN_TZ,
    AgencyAppearance,
    AttachmentAppearance,
    CopyAppearance,
    CopyForm,
    PersonalAppearance,
    Placement,
    seal_placement_over,
)
from signer.engine import SignedDocument, SigningEngine
from signer.keyholders import KeyHolder
from signer.numbering import DocumentNumber, NumberAllocator, document_symbol
from signer.request import Level, SignRequest


@dataclasses.dataclass(frozen=True)
class PersonalSignature:
    """The competent person's signature a draft carries (Art. 32.2), as the clerk's step needs it."""

    field: str
    name: str                                 # the signer's common name
    organizations: tuple[str, ...]            # O and OU of the signer's certificate
    signature_sha256: str                     # SHA-256 of the signature value (/Contents): one draft, one number
    certificate_sha256: str


@dataclasses.dataclass(frozen=True)
class IssuedDocument:
    """A numbered document (an issued original, or a copy) and its signature."""

    number: DocumentNumber
    signed: SignedDocument
    personal: PersonalSignature | None = None
    details: dict = dataclasses.field(default_factory=dict)     # the register columns

    def to_dict(self) -> dict:
        return {"schema": "kyso.issued/1", "number": self.number.text, "agency": self.number.agency,
                "book": self.number.book, "year": self.number.year, **{
                    k: v for k, v in self.signed.to_dict().items() if k != "schema"}}


class IssuanceWorkflow:
    """The Decree 30 steps on top of a :class:`SigningEngine` and a numbering store."""

    def __init__(self, *, engine: SigningEngine, numbering: NumberAllocator,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.numbering = numbering
        self._clock = clock or engine.now

    def now(self) -> datetime:
        """The workflow's clock, read once per operation; every step of it gets this moment."""
        return read_clock(self._clock)

    # -- 1. prepare ------------------------------------------------------

    def prepare(self, document: bytes, *, layout: formfields.DraftLayout = formfields.DraftLayout(),
                seal_diameter_mm: float = 36.0) -> bytes:
        """The draft with its empty number, date and signature fields (before anyone signs)."""
        personal = Placement(page=layout.personal_page, box=layout.personal_box)
        agency_box = layout.agency_box
        if agency_box is None:   # the seal goes over the signature image, on the same page
            agency_box = seal_placement_over(personal, seal_diameter_mm=seal_diameter_mm,
                                             renderer=self.engine.renderer).box
            layout = dataclasses.replace(layout, agency_page=layout.personal_page)
        return formfields.add_draft_fields(document, layout_=layout, agency_box=agency_box)

    # -- 2. the competent person --------------------------------------------

    def sign_personal(self, document: bytes, *, key_holder: KeyHolder, signature_image: bytes,
                      level: Level = Level.B_T, reason: str | None = None, location: str | None = None,
                      placement: Placement | None = None, output: Path | None = None,
                      certify: int | None = None) -> SignedDocument:
        """The competent person signs their prepared field (or a new one at ``placement``);
        ``certify``: as a certification signature with that DocMDP permission."""
        require_kind(key_holder, CertificateKind.PERSONAL)
        field = formfields.PERSONAL_FIELD if placement is None else None
        if placement is None and not _has_field(document, formfields.PERSONAL_FIELD):
            raise errors.DraftNotPrepared(detail={"field": formfields.PERSONAL_FIELD})
        request = SignRequest(document=document, field=field, level=level, reason=reason, location=location,
                              appearance=PersonalAppearance(image=signature_image), placement=placement,
                              certify=certify)
        return self.engine.sign(request, key_holder=key_holder, output=output, at=self.now())

    # -- 3. the clerk: number, date and agency signature, in one update ------

    def issue(self, document: bytes, *, key_holder: KeyHolder, agency: str, doc_type: str,
              seal_image: bytes, agency_name: str, unit: str | None = None, place: str | None = None,
              number: int | None = None, book: str | None = None, seal_diameter_mm: float = 36.0,
              level: Level = Level.B_T, output: Path | None = None, summary: str | None = None,
              recipients: list[str] | None = None, font_size: float = 13,
              before_numbering: Callable[[PersonalSignature], dict | None] | None = None,
              confirm: bool = True) -> IssuedDocument:
        """Number, date and agency signature in one update. ``before_numbering(personal)`` runs after
        the Art. 32.2 check and before a number is taken (a refusal there takes none); with
        ``confirm=False`` the number stays reserved for the caller to confirm (or void) in the same
        transaction as what it stores."""
        require_kind(key_holder, CertificateKind.ORGANISATION)
        symbol = document_symbol(doc_type=doc_type, agency=agency, unit=unit)
        fields = _fields(document)
        if formfields.NUMBER_FIELD not in fields or formfields.AGENCY_FIELD not in fields:
            raise errors.DraftNotPrepared()
        if fields[formfields.NUMBER_FIELD] or fields[formfields.AGENCY_FIELD]:
            raise errors.AlreadyIssued(detail={"number": fields[formfields.NUMBER_FIELD]})
        moment = self.now()   # the number's year, the date shown, the checks and the signature: one moment
        personal = self.personal_signature(document, at=moment)
        self.engine.check_certificate(key_holder, at=moment)   # refuse a bad agency certificate before taking a number
        claims = (before_numbering(personal) or {}) if before_numbering is not None else {}
        local = moment.astimezone(VN_TZ)
        allocated = self.numbering.allocate(agency=agency, book=book or doc_type, year=local.year,
                                            symbol=symbol, number=number, **claims)
        values = {formfields.NUMBER_FIELD: formfields.number_text(allocated.text),
                  formfields.DATE_FIELD: formfields.vn_date_text(local.date(), place=place)}
        font = self.engine.renderer.field_font()
        request = SignRequest(document=document, field=formfields.AGENCY_FIELD, level=level,
                              appearance=AgencyAppearance(seal=seal_image, seal_diameter_mm=seal_diameter_mm,
                                                          agency_name=agency_name))
        try:
            signed = self.engine.sign(
                request, key_holder=key_holder, output=output, at=moment,
                before_signing=lambda writer: formfields.fill_text_fields(writer, values, font_factory=font,
                                                                          font_size=font_size))
        except BaseException as exc:
            self.numbering.void(allocated, reason=f"{type(exc).__name__}: {exc}")
            raise
        issued = IssuedDocument(number=allocated, signed=signed, personal=personal, details={
            "doc_type": doc_type, "summary": summary, "signer": personal.name,
            "issue_date": local.date().isoformat(), "recipients": recipients or []})
        if confirm:
            self.numbering.confirm(allocated, document_sha256=signed.sha256, details=issued.details)
        return issued

    def require_personal_signature(self, document: bytes, *, at: datetime | None = None) -> str:
        """Art. 32.2 (see :meth:`personal_signature`); returns the signer's name."""
        return self.personal_signature(document, at=at).name

    def personal_signature(self, document: bytes, *, at: datetime | None = None) -> PersonalSignature:
        """Art. 32.2: the document carries a valid signature of the competent person at ``at``
        (default: now), and nothing but validation data was added after it."""
        moment = at or self.now()
        try:
            reader = PdfFileReader(io.BytesIO(document), strict=False)
            signatures = [s for s in reader.embedded_signatures if s.sig_object.get("/Type") != "/DocTimeStamp"]
        except Exception as exc:  # noqa: BLE001
            raise errors.DocumentMalformed(detail={"reason": f"{type(exc).__name__}: {exc}"[:500]}) from None
        personal = [s for s in signatures
                    if s.signer_cert is not None and certificate_kind(s.signer_cert) is CertificateKind.PERSONAL]
        if not personal:
            raise errors.PersonalSignatureMissing()
        sig = personal[-1]
        context = ValidationContext(trust_roots=list(self.engine.policy.trust_roots), allow_fetching=True,
                                    moment=moment, fetchers=self.engine.fetchers(moment))
        try:
            status = validate_pdf_signature(sig, context)
        except Exception as exc:  # noqa: BLE001 - cannot judge: refuse
            raise errors.PersonalSignatureMissing(detail={"reason": f"{type(exc).__name__}: {exc}"[:500]}) from None
        if not (status.intact and status.valid and status.trusted) or status.revoked:
            raise errors.PersonalSignatureMissing(
                "the competent person's signature is not valid",
                message_vi="Chữ ký số của người có thẩm quyền không hợp lệ.",
                detail={"intact": status.intact, "valid": status.valid, "trusted": status.trusted,
                        "revoked": status.revoked, "signer": status.signing_cert.subject.human_friendly})
        allowed = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
        if status.coverage != SignatureCoverageLevel.ENTIRE_FILE and status.modification_level not in allowed:
            raise errors.DocumentModifiedAfterSigning(
                detail={"modification_level": status.modification_level.name if status.modification_level else None})
        subject = status.signing_cert.subject.native

        def values(key):
            value = subject.get(key)
            return [value] if isinstance(value, str) else list(value or [])

        contents = sig.sig_object["/Contents"]
        return PersonalSignature(
            field=sig.field_name, name=subject.get("common_name") or status.signing_cert.subject.human_friendly,
            organizations=tuple(values("organization_name") + values("organizational_unit_name")),
            signature_sha256=hashlib.sha256(bytes(contents)).hexdigest(),
            certificate_sha256=hashlib.sha256(status.signing_cert.dump()).hexdigest())

    # -- 4. attachments and copies ---------------------------------------

    def sign_attachment(self, document: bytes, *, key_holder: KeyHolder, main_document_number: str,
                        agency_name: str, level: Level = Level.B_T, output: Path | None = None) -> SignedDocument:
        """The agency signature on an attachment file: top right of page 1, no image,
        the main document's number and the signing time."""
        require_kind(key_holder, CertificateKind.ORGANISATION)
        appearance = AttachmentAppearance(agency_name=agency_name, main_document_number=main_document_number)
        appearance, placement = self._top_right(document, appearance)
        return self.engine.sign(SignRequest(document=document, level=level, appearance=appearance,
                                            placement=placement), key_holder=key_holder, output=output,
                                at=self.now())

    def make_copy(self, original: bytes, *, key_holder: KeyHolder, form: CopyForm | str, agency: str,
                  agency_name: str, pages: list[int] | None = None, level: Level = Level.B_T,
                  output: Path | None = None, confirm: bool = True) -> IssuedDocument:
        """An electronic copy (Art. 25): SY/SL keep the original and its signatures (the copy block
        and signature are an incremental update); TrS (an excerpt) takes ``pages`` into a new file."""
        require_kind(key_holder, CertificateKind.ORGANISATION)
        form = CopyForm(form) if not isinstance(form, CopyForm) else form
        if form is CopyForm.TRS:
            if not pages:
                raise errors.IssuanceRefused("an excerpt (TrS) names the pages it copies",
                                             message_vi="Bản trích sao phải chỉ rõ các trang được trích.")
            original = _extract_pages(original, pages)
        elif pages:
            raise errors.IssuanceRefused("SY and SL copy the whole document; use TrS for an excerpt",
                                         message_vi="Sao y, sao lục sao toàn bộ văn bản; dùng trích sao cho một phần.")
        moment = self.now()
        self.engine.check_certificate(key_holder, at=moment)
        symbol = document_symbol(doc_type=form.value, agency=agency)
        allocated = self.numbering.allocate(agency=agency, book=form.value, year=moment.astimezone(VN_TZ).year,
                                            symbol=symbol)
        appearance = CopyAppearance(form=form, agency_name=agency_name, copy_number=allocated.text)
        try:
            appearance, placement = self._top_right(original, appearance)
            signed = self.engine.sign(SignRequest(document=original, level=level, appearance=appearance,
                                                  placement=placement), key_holder=key_holder, output=output,
                                      at=moment)
        except BaseException as exc:
            self.numbering.void(allocated, reason=f"{type(exc).__name__}: {exc}")
            raise
        copy = IssuedDocument(number=allocated, signed=signed, details={
            "doc_type": form.value, "summary": f"{form.title} {agency_name}", "signer": agency_name,
            "issue_date": moment.astimezone(VN_TZ).date().isoformat()})
        if confirm:
            self.numbering.confirm(allocated, document_sha256=signed.sha256, details=copy.details)
        return copy

    def _top_right(self, document: bytes, appearance):
        """(the appearance, its placement): top right of page 1, where the block covers none of the
        page's text or fields; at full size (10 pt) if there is room, in its two-line form if that
        fits, else drawn smaller in the top margin (down to 6 pt)."""
        import dataclasses

        from signer.blanks import free_top_right

        full, compact = appearance, dataclasses.replace(appearance, compact=True)
        size = self.engine.renderer.natural_size
        # in order: the corner or the top margin at full size, then lower down the right side, then
        # the two-line form drawn smaller in the top margin, then the corner whatever is there
        tries = ((full, 1.0, False), (compact, 1.0, False), (full, 1.0, True), (compact, 1.0, True),
                 (compact, 0.6, False))
        for variant, min_scale, scan_down in tries:
            box = free_top_right(document, size(variant), min_scale=min_scale, scan_down=scan_down)
            if box is not None:
                return variant, Placement(page=0, box=box)
        return full, Placement(page=0, box=free_top_right(document, size(full), scan_down=False,
                                                          corner_anyway=True))


def require_kind(key_holder: KeyHolder, kind: CertificateKind) -> None:
    actual = certificate_kind(key_holder.certificate)
    if actual is kind:
        return
    detail = {"certificate_kind": actual.value, "subject": key_holder.certificate.subject.human_friendly}
    if kind is CertificateKind.ORGANISATION:
        raise errors.CertificateNotOrganisation(detail=detail)
    raise errors.CertificateNotPersonal(detail=detail)


def _open_pikepdf(document: bytes) -> pikepdf.Pdf:
    try:
        return pikepdf.open(io.BytesIO(document), attempt_recovery=False)
    except pikepdf.PasswordError:
        raise errors.DocumentEncrypted() from None
    except Exception as exc:  # noqa: BLE001
        raise errors.DocumentMalformed(detail={"reason": f"qpdf: {exc}"[:500]}) from None


def _fields(document: bytes) -> dict[str, object]:
    with _open_pikepdf(document) as pdf:
        acroform = pdf.Root.get("/AcroForm")
        if acroform is None:
            return {}
        out = {}
        for field in acroform.get("/Fields", []):
            value = field.get("/V")
            out[str(field.get("/T", ""))] = None if value is None else (
                str(value) if isinstance(value, pikepdf.String) else True)
        return out


def _has_field(document: bytes, name: str) -> bool:
    return name in _fields(document)


def _extract_pages(document: bytes, pages: list[int]) -> bytes:
    """A new PDF of the given pages (1-based, as people count them).

    Form fields and signature widgets are flattened into the page content first
    (qpdf): the excerpt shows what the original showed, but carries none of the
    original's fields or signature values, which could not be valid there.
    """
    with _open_pikepdf(document) as pdf:
        pdf.flatten_annotations("all")
        out_pdf = pikepdf.new()
        for number in pages:
            if not 1 <= number <= len(pdf.pages):
                raise errors.IssuanceRefused(f"the document has no page {number}",
                                             message_vi=f"Văn bản không có trang {number}.")
            out_pdf.pages.append(pdf.pages[number - 1])
        buffer = io.BytesIO()
        out_pdf.save(buffer)
        return buffer.getvalue()
