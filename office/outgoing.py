"""Outgoing documents: prepare a draft, sign it personally, issue it (number, date, agency
signature), sign an attachment, make a copy, and two-step signing with the official's own device.

The Decree 30 rules hold whatever the door:

* the plain signature is a personal one (a clerk's agency key signs only through issue,
  attachment and copy, each with its precondition);
* one draft, one number: a draft already issued, by its content or by the personal signature it
  carries, is refused (409 ``already_issued``, naming the number);
* a clerk issues only into her or his agency's books, with the agency's key and seal, and only
  drafts signed by the agency's own people; the seal's caption is the agency's name from its
  certificate;
* an attachment needs an issued main document; a copy needs an issued (or registered) original;
* between "number taken" and "stored and audited" the number is voided on any failure.
"""
from __future__ import annotations

import dataclasses
import hashlib
import unicodedata
from typing import Any

from kyso.certificates import CertificateKind, certificate_kind
from kyso.decree30 import COPY_FORMS, document_symbol
from office.caller import Caller
from office.core import Stored
from office.errors import AgencyMismatch, BadInput, NotIssued


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A draft with its empty fields, and where they were put."""

    stored: Stored
    blanks: dict[str, Any]          # what was found in the draft (signer.blanks.Blanks.to_dict())
    layout: dict[str, Any]          # where the fields are (pages 0-based, boxes in PDF points)
    source_sha256: str              # the draft as uploaded (to prepare it again with moved fields)

    def to_dict(self) -> dict:
        return {"schema": "kyso.prepared/1", "sha256": self.stored.sha256, "source_sha256": self.source_sha256,
                "blanks": self.blanks, "layout": self.layout}


@dataclasses.dataclass(frozen=True)
class Signed:
    stored: Stored
    field: str
    level: str
    signer_fingerprint: str
    signing_time: str

    def to_dict(self) -> dict:
        return {"schema": "kyso.signed/2", "sha256": self.stored.sha256, "field": self.field, "level": self.level,
                "signer_fingerprint": self.signer_fingerprint, "signing_time": self.signing_time}


@dataclasses.dataclass(frozen=True)
class Issued:
    stored: Stored
    number: str
    year: int
    agency: str
    report: dict

    def to_dict(self) -> dict:
        return {"schema": "kyso.issued/2", "sha256": self.stored.sha256, "number": self.number, "year": self.year,
                "agency": self.agency, "verdict": self.report.get("verdict"),
                "outcome": self.report.get("outcome")}


def _organisation_name(cert) -> str:
    subject = cert.subject.native
    org = subject.get("organization_name")
    org = org[0] if isinstance(org, list) else org
    return org or subject.get("common_name") or cert.subject.human_friendly


def _same(a: str, b: str) -> bool:
    def norm(text):
        return " ".join(unicodedata.normalize("NFC", text).casefold().split())
    return norm(a) == norm(b)


class OutgoingUseCases:
    # -- 1. prepare ----------------------------------------------------------------------------

    def prepare(self, caller: Caller, document: bytes | None = None, *, source_sha256: str | None = None,
                boxes: dict | None = None, signer_name: str | None = None) -> Prepared:
        """Put the empty number, date and signature fields on the draft's own blanks (found in the
        draft; ``boxes`` moves any of them: ``number``, ``date``, ``signature`` -> (page, box)). The
        draft as given is kept too (``source_sha256``: prepare it again, fields moved)."""
        caller.require("official", "clerk")
        from signer.blanks import detect, draft_layout

        if document is None:
            document = self._readable(caller, source_sha256 or "")
        self.admit(caller, "prepare", document)
        source = self.keep(caller, document, origin="draft", action="prepare", result="draft")

        blanks = detect(document, signer_name=signer_name)
        layout = draft_layout(blanks)
        for name, field in (("number", "number"), ("date", "date"), ("signature", "personal")):
            if boxes and boxes.get(name):
                page, box = boxes[name]
                layout = dataclasses.replace(layout, **{f"{field}_page": page, f"{field}_box": tuple(box)})
        try:
            data = self.workflow().prepare(document, layout=layout)
        except Exception as exc:
            from kyso.errors import KysoError

            if isinstance(exc, KysoError):
                raise self.refused(caller, "prepare", exc) from None
            raise
        stored = self.keep(caller, data, origin="prepared", action="prepare",
                           detail={"blanks_found": [k for k in ("number_box", "date_box", "signature_box")
                                                    if getattr(blanks, k) is not None]})
        return Prepared(stored=stored, blanks=blanks.to_dict(), source_sha256=source.sha256, layout={
            "number": [layout.number_page, list(layout.number_box)],
            "date": [layout.date_page, list(layout.date_box)],
            "signature": [layout.personal_page, list(layout.personal_box)]})

    # -- 2. sign (personal keys only) ------------------------------------------------------------

    def sign(self, caller: Caller, document: bytes, *, level=None, appearance: str = "invisible",
             reason: str | None = None, location: str | None = None, field: str | None = None,
             placement=None, passphrase: str | None = None, certify: int | None = None) -> Signed:
        """The caller signs with their own, personal, key. ``appearance="personal"`` draws their
        signature image: in the draft's prepared field; an unprepared draft is prepared first, its
        fields put on its own blanks (see :meth:`prepare`)."""
        level = self.level(level)
        from kyso.errors import KysoError
        from signer import SignRequest
        from signer.errors import CertificateNotPersonal, DraftNotPrepared

        caller.require("official")
        if appearance not in ("invisible", "personal"):
            raise self.refused(caller, "sign", BadInput("appearance is 'invisible' or 'personal'",
                                                        message_vi="Hình thức chữ ký không hợp lệ."))
        if field is not None and (not field.strip() or "." in field or len(field) > 100):
            # a dot separates the parts of a field's full name in PDF: it cannot be part of one name
            raise self.refused(caller, "sign", BadInput("a signature field name is 1 to 100 characters, without '.'",
                           message_vi="Tên trường chữ ký dài từ 1 đến 100 ký tự và không chứa dấu chấm.",
                           detail={"field": field[:100]}))
        self.admit(caller, "sign", document)
        self.require_earlier_signatures_intact(caller, "sign", document)
        try:
            holder = self.signing_key(caller, passphrase=passphrase)
            if certificate_kind(holder.certificate) is not CertificateKind.PERSONAL:
                raise CertificateNotPersonal(
                    "the plain signature uses a personal key; an agency key signs through issue, attachment and copy",
                    message_vi="Ký số thông thường dùng khóa cá nhân; khóa của cơ quan chỉ ký khi ban hành, "
                               "ký phụ lục hoặc sao văn bản.",
                    detail={"subject": holder.certificate.subject.human_friendly})
            if appearance == "personal":
                workflow = self.workflow()
                image = self.image(caller, "signature")
                prepared = document
                if placement is None:
                    try:
                        from signer.formfields import PERSONAL_FIELD
                        from signer.issuance import _has_field

                        if not _has_field(document, PERSONAL_FIELD):
                            raise DraftNotPrepared()
                    except DraftNotPrepared:
                        from signer.blanks import detect, draft_layout

                        blanks = detect(document, signer_name=caller.display_name)
                        prepared = workflow.prepare(document, layout=draft_layout(blanks))
                signed = workflow.sign_personal(prepared, key_holder=holder, signature_image=image, level=level,
                                                reason=reason, location=location, placement=placement,
                                                certify=certify)
            else:
                signed = self.engine.sign(SignRequest(document=document, field=field, reason=reason,
                                                      location=location, level=level, certify=certify),
                                          key_holder=holder)
        except KysoError as exc:
            raise self.refused(caller, "sign", exc) from None
        stored = self.keep(caller, signed.data, origin="signed", action="sign", certificate=holder.fingerprint,
                           detail={"level": signed.level.value, "field": signed.field,
                                   **({"certify": certify} if certify else {})})
        return Signed(stored=stored, field=signed.field, level=signed.level.value,
                      signer_fingerprint=holder.fingerprint, signing_time=signed.signing_time.isoformat())

    # -- 3. issue ----------------------------------------------------------------------------------

    def issue(self, caller: Caller, document: bytes | None = None, *, sha256: str | None = None, doc_type: str,
              unit: str | None = None, place: str | None = None, summary: str | None = None,
              recipients: list[str] | None = None, level=None, passphrase: str | None = None) -> Issued:
        """The clerk's step (Art. 14-15, 32.2): the next number of the agency's book, the date and the
        agency's signature and seal, in one update; the register entry, the stored file and the audit
        record in one transaction."""
        level = self.level(level)
        from kyso.errors import KysoError
        from signer.blanks import detect

        caller.require("clerk")
        try:
            agency = caller.require_agency()
            data = document if document is not None else self._readable(caller, sha256 or "")
            self.admit(caller, "issue", data)
            try:
                document_symbol(doc_type=doc_type, agency=agency, unit=unit)
            except ValueError as exc:
                raise BadInput(str(exc), message_vi="Loại văn bản hoặc đơn vị soạn thảo không hợp lệ (công văn cần "
                                                    "đơn vị soạn thảo, ví dụ VP).") from None
            source = hashlib.sha256(data).hexdigest()
            holder = self.signing_key(caller, passphrase=passphrase)
            agency_name = _organisation_name(holder.certificate)
            blanks = detect(data)

            def decree30_rules(personal) -> None:
                """After Art. 32.2 held, before a number is taken."""
                if not any(_same(org, agency_name) for org in personal.organizations):
                    raise AgencyMismatch(detail={"signer": personal.name, "signer_organisations":
                                                 list(personal.organizations), "clerk_agency": agency_name})
                # checked again, under the numbering lock, when the number is taken
                return {"source_sha256": source, "personal_signature_sha256": personal.signature_sha256}

            issued = self.workflow().issue(
                data, key_holder=holder, agency=agency, doc_type=doc_type, unit=unit,
                place=place or blanks.place, summary=summary, recipients=recipients,
                seal_image=self.image(caller, "seal"), agency_name=agency_name, level=level,
                font_size=blanks.font_size or 13, before_numbering=decree30_rules, confirm=False)
        except KysoError as exc:
            raise self.refused(caller, "issue", exc, source=sha256) from None
        try:
            moment = issued.signed.signing_time
            report = self._verify(issued.signed.data, at=moment)
            blob = self._put(issued.signed.data)
            with self.db.session() as s:
                self.numbering.confirm(issued.number, document_sha256=blob.sha256, session=s, details={
                    **issued.details, "clerk": caller.username, "report": report})
                self._record(s, blob, origin="issued", caller=caller, reason="issued", at=moment)
                self._audit(caller, "issue", "ok", documents=(blob.sha256,), certificate=holder.fingerprint,
                            detail={"number": issued.number.text, "source": source}, session=s)
        except BaseException as exc:
            self.numbering.void(issued.number, reason=f"not stored: {type(exc).__name__}: {exc}"[:500])
            raise
        return Issued(stored=Stored(sha256=blob.sha256, data=issued.signed.data, origin="issued"),
                      number=issued.number.text, year=issued.number.year, agency=agency, report=report)

    # -- 4. attachments and copies -----------------------------------------------------------------

    def sign_attachment(self, caller: Caller, document: bytes, *, main_number: str, level=None,
                        passphrase: str | None = None) -> Signed:
        """The agency's signature on an attachment of an issued document of the caller's agency."""
        level = self.level(level)
        from kyso.errors import KysoError

        caller.require("clerk")
        self.admit(caller, "sign_attachment", document)
        try:
            agency = caller.require_agency()
            main = self.numbering.find(agency=agency, number_text=main_number)
            if main is None:
                raise NotIssued(f"{main_number} is not an issued number of {agency}'s books",
                                message_vi=f"Số {main_number} không phải số văn bản đã ban hành của cơ quan.",
                                detail={"main_number": main_number})
            holder = self.signing_key(caller, passphrase=passphrase)
            signed = self.workflow().sign_attachment(document, key_holder=holder, main_document_number=main_number,
                                                     agency_name=_organisation_name(holder.certificate), level=level)
        except KysoError as exc:
            raise self.refused(caller, "sign_attachment", exc) from None
        stored = self.keep(caller, signed.data, origin="attachment", action="sign_attachment",
                           certificate=holder.fingerprint, detail={"main_number": main_number})
        return Signed(stored=stored, field=signed.field, level=signed.level.value,
                      signer_fingerprint=holder.fingerprint, signing_time=signed.signing_time.isoformat())

    def make_copy(self, caller: Caller, document: bytes | None = None, *, sha256: str | None = None, form: str,
                  pages: list[int] | None = None, level=None, passphrase: str | None = None) -> Issued:
        """SAO Y / SAO LỤC / TRÍCH SAO of a document the caller's agency issued or registered."""
        level = self.level(level)
        from kyso.errors import KysoError

        caller.require("clerk")
        try:
            agency = caller.require_agency()
            if form not in COPY_FORMS:
                raise BadInput("form is SY, SL or TrS", message_vi="Hình thức bản sao là SY, SL hoặc TrS.")
            data = document if document is not None else self._readable(caller, sha256 or "")
            self.admit(caller, "copy", data)
            original = hashlib.sha256(data).hexdigest()
            if self.numbering.find(agency=agency, document_sha256=original) is None \
                    and not self.incoming.holds(agency=agency, document_sha256=original):
                raise NotIssued("a copy is made of a document the agency issued or registered",
                                message_vi="Chỉ sao văn bản do cơ quan đã ban hành hoặc đã vào sổ văn bản đến.",
                                detail={"sha256": original})
            holder = self.signing_key(caller, passphrase=passphrase)
            copy = self.workflow().make_copy(data, key_holder=holder, form=form, agency=agency,
                                             agency_name=_organisation_name(holder.certificate), pages=pages,
                                             level=level, confirm=False)
        except KysoError as exc:
            raise self.refused(caller, "copy", exc) from None
        try:
            moment = copy.signed.signing_time
            report = self._verify(copy.signed.data, at=moment)
            blob = self._put(copy.signed.data)
            with self.db.session() as s:
                self.numbering.confirm(copy.number, document_sha256=blob.sha256, session=s,
                                       details={**copy.details, "clerk": caller.username, "report": report})
                self._record(s, blob, origin="copy", caller=caller, reason="copy", at=moment)
                self._audit(caller, "copy", "ok", documents=(blob.sha256,), certificate=holder.fingerprint,
                            detail={"number": copy.number.text, "original": original}, session=s)
        except BaseException as exc:
            self.numbering.void(copy.number, reason=f"not stored: {type(exc).__name__}: {exc}"[:500])
            raise
        return Issued(stored=Stored(sha256=blob.sha256, data=copy.signed.data, origin="copy"),
                      number=copy.number.text, year=copy.number.year, agency=agency, report=report)

    # -- 5. two-step signing with the official's own device -------------------------------------

    def _external(self):
        """Two-step signing whose pending signatures live in the database: prepared on one node,
        finished on any (``registers.pending``)."""
        from registers.pending import PendingSignatures
        from signer.external import ExternalSigning

        return ExternalSigning(engine=self.engine, store=PendingSignatures(self.db))

    def sign_prepare(self, caller: Caller, document: bytes, *, level=None, reason: str | None = None):
        """The digest the official's device signs (the certificate bound to the account)."""
        level = self.level(level)
        from kyso.errors import KysoError
        from signer import ExternalKeyHolder, SignRequest

        caller.require("official")
        self.admit(caller, "sign", document)
        self.require_earlier_signatures_intact(caller, "sign", document)
        try:
            bound = self.bound_certificate(caller)
            holder = ExternalKeyHolder(certificate=bound.certificate, chain=bound.chain)
            external = self._external()
            external.store.purge_expired(now=self.now())   # expired ones go as new ones come
            prepared = external.prepare(SignRequest(document=document, level=level, reason=reason),
                                        key_holder=holder)
        except KysoError as exc:
            raise self.refused(caller, "sign", exc) from None
        self._audit(caller, "sign", "prepared", certificate=holder.fingerprint)
        return prepared

    def sign_finish(self, caller: Caller, handle: str, *, signature: bytes | None = None,
                    cms: bytes | None = None) -> Signed:
        """Embed the device's answer; only the official it was prepared for may finish it, and a wrong
        answer leaves it pending."""
        from kyso.errors import KysoError

        caller.require("official")
        try:
            account = self.accounts.get(caller.username)
            signed = self._external().finish(handle, signature=signature, cms_data=cms,
                                             signer_fingerprint=account.certificate_sha256 or "-")
        except KysoError as exc:
            raise self.refused(caller, "sign", exc) from None
        stored = self.keep(caller, signed.data, origin="signed", action="sign", certificate=signed.signer_fingerprint,
                           detail={"level": signed.level.value, "field": signed.field, "two_step": True})
        return Signed(stored=stored, field=signed.field, level=signed.level.value,
                      signer_fingerprint=signed.signer_fingerprint, signing_time=signed.signing_time.isoformat())
