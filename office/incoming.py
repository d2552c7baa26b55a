"""Incoming documents (Decree 30 Art. 21-22): check, register with the year's incoming number,
acknowledge the same day, or return to the sender with a notice signed by the agency."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

from kyso.certificates import CertificateKind, certificate_kind
from office.caller import READERS, Caller
from office.errors import ArchiveBomb, ArchiveTooLarge, BadInput, IncomingNotValid, NoAgencyKey

#: a batch: members of a zip, their unpacked total (times the upload limit), unpacked/compressed ratio
BATCH_FILES = 500
BATCH_FACTOR = 4
BATCH_RATIO = 200


#: what reading a zip member can raise: damaged (BadZipFile, EOFError, OSError), encrypted
#: (RuntimeError: a password is needed), a compression method zipfile lacks (NotImplementedError)
UNREADABLE_MEMBER = (RuntimeError, NotImplementedError, OSError, EOFError)


def unreadable_member(exc: BaseException) -> dict:
    return {"code": "zip_member_unreadable", "message": f"{type(exc).__name__}: {exc}"[:300],
            "message_vi": "Không đọc được tệp này trong zip (hỏng hoặc được mã hóa)."}


class IncomingUseCases:
    def verify(self, caller: Caller, document: bytes, *, file_name: str | None = None,
               keep: bool = True, at=None, decree30: bool = False) -> dict:
        """A verification report (Decree 30 outcome included). ``keep``: the PDF is kept for the
        caller's agency, so that its report page and its receipt can follow. ``at``: judge as of that
        time (never before the signature's proof of existence); ``decree30``: a document without the
        competent person's and then the agency's signature is not valid."""
        caller.require(*READERS)
        report = self._verify(document, file_name=(file_name or "")[:255] or None, at=at, decree30=decree30)
        sha = report.get("sha256")
        if keep and sha and b"%PDF" in bytes(document[:1024]):
            self.keep(caller, bytes(document), origin="checked", action="verify", result=report["verdict"])
        else:
            self._audit(caller, "verify", report["verdict"], documents=(sha,) if sha else ())
        return report

    def verify_batch(self, caller: Caller, *, files=(), archive=None) -> Iterator[dict]:
        """One line per file as each finishes: uploaded files (name, readable) and the members of a zip
        (a seekable binary file), read one at a time and dropped after their report, so memory holds
        one document, never the batch. The zip's directory is checked first: at most
        :data:`BATCH_FILES` members, each at most the upload limit, all together at most
        :data:`BATCH_FACTOR` times it, and no member unpacking to more than :data:`BATCH_RATIO` times
        its compressed size (above 1 MiB)."""
        import zipfile

        caller.require(*READERS)
        items = self._batch_items(caller, files=files, archive=archive)

        def lines() -> Iterator[dict]:
            for index, (name, read) in enumerate(items, 1):
                try:
                    data = read()
                except (zipfile.BadZipFile, *UNREADABLE_MEMBER) as exc:
                    # a damaged or encrypted member (RuntimeError: a password is needed; NotImplementedError:
                    # zipfile's answer to a compression method it lacks): no document to judge, said as such
                    yield {"index": index, "total": len(items), "file": name, "verdict": "indeterminate",
                           "error": unreadable_member(exc)}
                    continue
                report = self.verify(caller, data, file_name=name, keep=False)
                yield {"index": index, "total": len(items), "file": name, "verdict": report["verdict"],
                       "outcome": report["outcome"], "reasons": report["reasons"], "report": report}
        return lines()

    def _batch_items(self, caller: Caller, *, files=(), archive=None) -> list[tuple[str, Callable[[], bytes]]]:
        """(name, read) of each uploaded file and zip member, the zip's directory checked first."""
        import zipfile

        limit = self.settings.max_upload_bytes
        # uploaded parts are bounded by the request's size: read now; the zip's members are read later
        items: list[tuple[str, Callable[[], bytes]]] = [
            (getattr(f, "filename", None) or f"file-{i}", (lambda data=f.read(): data)) for i, f in enumerate(files, 1)]
        if archive is not None:
            import shutil
            import tempfile

            spool = tempfile.TemporaryFile()     # ours, on disk, alive while the answer streams
            shutil.copyfileobj(archive, spool, 1024 * 1024)
            spool.seek(0)
            try:
                zf = zipfile.ZipFile(spool)
            except (zipfile.BadZipFile, OSError, ValueError):
                raise BadInput("the 'zip' part is not a zip archive",
                               message_vi="Tệp tải lên không phải tệp zip.") from None
            members = [m for m in zf.infolist() if not m.is_dir()]
            total = sum(m.file_size for m in members)
            if len(members) > BATCH_FILES or total > BATCH_FACTOR * limit or any(m.file_size > limit for m in members):
                raise self.refused(caller, "verify", ArchiveTooLarge(detail={
                    "files": len(members), "max_files": BATCH_FILES, "unpacked_bytes": total,
                    "max_unpacked_bytes": BATCH_FACTOR * limit, "max_file_bytes": limit}))
            bombs = [m.filename for m in members
                     if m.file_size > 1024 * 1024 and m.file_size > BATCH_RATIO * max(m.compress_size, 1)]
            if bombs:
                raise self.refused(caller, "verify", ArchiveBomb(detail={"files": bombs[:10], "max_ratio": BATCH_RATIO}))

            def member(m):
                def read() -> bytes:
                    with zf.open(m) as handle:       # at most the declared size, itself within the limit
                        return handle.read(limit + 1)
                return read
            items += [(m.filename, member(m)) for m in members]
        if not items:
            raise BadInput("upload files in 'files' parts or one 'zip' part",
                           message_vi="Hãy tải các tệp lên trong trường 'files' hoặc một tệp 'zip'.")
        return items

    def _incoming(self, caller: Caller, document: bytes | None, sha256: str | None) -> bytes:
        caller.require("receiver", "clerk")
        caller.require_agency()
        if document is None and not sha256:
            raise BadInput("upload the document or name one already checked (sha256)",
                           message_vi="Hãy tải văn bản lên hoặc chọn văn bản đã kiểm tra.")
        return bytes(document) if document is not None else self._readable(caller, sha256)

    def receive(self, caller: Caller, document: bytes | None = None, *, sha256: str | None = None, sender: str,
                reference: str | None = None, summary: str | None = None) -> dict:
        """Verify (both Decree 30 signatures required), register with the next incoming number, and
        acknowledge, in one transaction; a document that is not valid is refused: return it."""
        from kyso.errors import KysoError

        try:
            data = self._incoming(caller, document, sha256)
            if not (sender or "").strip():
                raise BadInput("name the sender", message_vi="Hãy ghi nơi gửi văn bản.")
            moment = self.now()
            report = self._verify(data, at=moment, decree30=True, evidence=True)
            if report["verdict"] != "valid":
                raise IncomingNotValid(detail={"verdict": report["verdict"],
                                               "reasons": [r.get("code") for r in report.get("reasons", [])]})
        except KysoError as exc:
            raise self.refused(caller, "receive", exc) from None
        blob = self._put(data)
        with self.db.session() as s:
            entry = self.incoming.register(s, agency=caller.agency, document_sha256=blob.sha256, sender=sender.strip(),
                                           report=report, status="received", at=moment, sender_reference=reference,
                                           summary=summary)
            self._record(s, blob, origin="received", caller=caller, reason="received", at=moment)
            self._audit(caller, "receive", report["verdict"], documents=(blob.sha256,), session=s,
                        detail={"incoming_number": entry.number, "year": entry.year, "sender": sender})
            entry_id = entry.id
        return self.incoming.get(entry_id)

    def return_to_sender(self, caller: Caller, document: bytes | None = None, *, sha256: str | None = None,
                         sender: str, reference: str | None = None, summary: str | None = None,
                         reason_vi: str | None = None, reason_en: str | None = None,
                         passphrase: str | None = None) -> dict:
        """Register the document as returned, with the reason (the report's, unless given) and a
        return notice signed with the agency's key, in one transaction."""
        from kyso.errors import KysoError
        from registers.printing import return_notice_pdf
        from signer import Level, SignRequest

        try:
            data = self._incoming(caller, document, sha256)
            if not (sender or "").strip():
                raise BadInput("name the sender", message_vi="Hãy ghi nơi gửi văn bản.")
            holder = self.signing_key(caller, passphrase=passphrase)
            if certificate_kind(holder.certificate) is not CertificateKind.ORGANISATION:
                raise NoAgencyKey(detail={"subject": holder.certificate.subject.human_friendly})
            moment = self.now()
            report = self._verify(data, at=moment, decree30=True, evidence=True)
        except KysoError as exc:
            raise self.refused(caller, "return", exc) from None
        from office.outgoing import _organisation_name

        agency_name = _organisation_name(holder.certificate)
        blob = self._put(data)
        try:
            # the number, the signed notice (it shows the number), the rows and the audit record: all or nothing
            with self.db.session() as s:
                entry = self.incoming.register(
                    s, agency=caller.agency, document_sha256=blob.sha256, sender=sender.strip(), report=report,
                    status="returned", at=moment, sender_reference=reference, summary=summary,
                    reason_vi=reason_vi, reason_en=reason_en)
                from registers.incoming import incoming_dict

                notice = return_notice_pdf(incoming_dict(entry), agency_name=agency_name, signed_by=agency_name)
                signed = self.engine.sign(SignRequest(document=notice, level=Level.parse(self.settings.default_level),
                                                      reason="Trả lại văn bản điện tử (Điều 21 Nghị định 30)"),
                                          key_holder=holder, at=moment)
                notice_blob = self._put(signed.data)
                entry.notice_sha256 = notice_blob.sha256
                self._record(s, blob, origin="received", caller=caller, reason="returned", at=moment)
                self._record(s, notice_blob, origin="notice", caller=caller, reason="notice", at=moment)
                self._audit(caller, "return", report["verdict"], documents=(blob.sha256, notice_blob.sha256),
                            certificate=holder.fingerprint, session=s,
                            detail={"incoming_number": entry.number, "year": entry.year, "sender": sender})
                entry_id = entry.id
        except KysoError as exc:
            raise self.refused(caller, "return", exc) from None
        return self.incoming.get(entry_id)

    def incoming_entry(self, caller: Caller, entry_id: int) -> dict:
        caller.require("receiver", "clerk", "auditor")
        entry = self.incoming.get(entry_id)
        if caller.role != "auditor" and entry["agency"] != caller.agency:
            from office.errors import DocumentNotFound

            raise DocumentNotFound()
        return entry


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
