"""Reading: documents (for the agencies that produced or received them, and auditors), their
reports and signed revisions, the registers, a document's history, and the clerk's waiting list."""
from __future__ import annotations

from typing import Any

from kyso.decree30 import vn_iso
from office.caller import READERS, Caller
from office.errors import BadInput, DocumentNotFound


class ReadingUseCases:
    def document(self, caller: Caller, sha256: str) -> bytes:
        """The stored PDF, for whoever may read it (audited)."""
        caller.require(*READERS)
        data = self._readable(caller, sha256)
        self._audit(caller, "download", "ok", documents=(sha256,))
        return data

    def report(self, caller: Caller, sha256: str) -> dict:
        """The document's verification report, as of now."""
        caller.require(*READERS)
        self._readable(caller, sha256)
        report = self._verify(self.blobs.verifiable(sha256), file_name=f"{sha256[:12]}.pdf")
        self._audit(caller, "read_report", "ok", documents=(sha256,))
        return report

    def revision(self, caller: Caller, sha256: str, field: str) -> bytes:
        """What the signer of ``field`` saw: the revision that signature covers."""
        from verifier.extract import RevisionNotFound, signed_revision

        caller.require(*READERS)
        data = self._readable(caller, sha256)
        try:
            revision = signed_revision(data, field)
        except RevisionNotFound:
            raise DocumentNotFound(detail={"field": field[:100]}) from None
        self._audit(caller, "download", "ok", documents=(sha256,), detail={"revision": field[:100]})
        return revision

    def draft(self, caller: Caller, sha256: str) -> tuple[bytes, dict]:
        """A draft as the clerk sees it before issuing: its bytes and what its blanks say (where the
        number and the date go, its symbol, place and font size; ``signer.blanks.Blanks.to_dict()``)."""
        from signer.blanks import detect

        caller.require("clerk")
        data = self._readable(caller, sha256)
        return data, detect(data).to_dict()

    def registers(self, caller: Caller, which: str, *, year: int | None = None,
                  status: str | None = None) -> list[dict]:
        """The outgoing or incoming register: an auditor's of every agency, a clerk's (or a
        receiving clerk's) of their own agency."""
        caller.require("auditor", "clerk", "receiver")
        if which not in ("outgoing", "incoming"):
            raise BadInput("the registers are 'outgoing' and 'incoming'", message_vi="Sổ đăng ký là 'outgoing' hoặc 'incoming'.")
        agency = None if caller.role == "auditor" else caller.require_agency()
        if which == "outgoing":
            entries = self.numbering.entries(agency=agency, year=year, status=status)
        else:
            entries = self.incoming.entries(year=year, status=status, agency=agency, all_agencies=agency is None)
        self._audit(caller, "read_register", "ok", detail={"register": which, "year": year})
        return entries

    def history(self, caller: Caller, sha256: str) -> dict[str, Any]:
        """What the registers and the audit trail know about a document, and its signatures now."""
        from sqlalchemy import select

        from registers.incoming import incoming_dict
        from registers.models import (
            AuditRecord,
            DocumentAccess,
            IncomingEntry,
            OutgoingEntry,
        )
        from registers.numbering import entry_dict

        caller.require("auditor")
        if not self.is_document(sha256):
            raise DocumentNotFound()
        with self.db.read_session() as s:
            outgoing = [entry_dict(e) for e in s.scalars(select(OutgoingEntry).where(
                (OutgoingEntry.document_sha256 == sha256) | (OutgoingEntry.source_sha256 == sha256)))]
            incoming = [incoming_dict(e) for e in s.scalars(select(IncomingEntry).where(
                IncomingEntry.document_sha256 == sha256))]
            # the document's own records and those of the draft it was issued from (who signed it, when)
            related = {sha256} | {e["source_sha256"] for e in outgoing
                                  if e.get("source_sha256") and e.get("document_sha256") == sha256}
            records = [{"seq": r.seq, "time": vn_iso(r.time), "actor": r.actor, "role": r.role, "action": r.action,
                        "result": r.result, "client": r.client,
                        "document": "draft" if sha256 not in (r.documents or []) else "this"}
                       for r in s.scalars(select(AuditRecord).order_by(AuditRecord.seq))
                       if related & set(r.documents or [])]
            access = [{"agency": a.agency, "reason": a.reason, "username": a.username, "at": vn_iso(a.at)}
                      for a in s.scalars(select(DocumentAccess).where(DocumentAccess.sha256 == sha256))]
        history = {"sha256": sha256, "outgoing": outgoing, "incoming": incoming, "audit": records, "access": access,
                   "report": self._verify(self.blobs.verifiable(sha256), file_name=f"{sha256[:12]}.pdf")}
        self._audit(caller, "read_history", "ok", documents=(sha256,))
        return history

    def waiting(self, caller: Caller, *, limit: int = 50) -> list[dict]:
        """Drafts of the caller's agency signed by the competent person and not yet issued."""
        caller.require("clerk")
        agency = caller.require_agency()
        docs = self.access.documents(agency=agency, reasons=("signed",), limit=limit)
        waiting = []
        for doc in docs:
            if self.numbering.issued_from(source_sha256=doc["sha256"]) is not None:
                continue
            report = self._cached_report(doc["sha256"])
            decree30 = report.get("decree30") or {}
            if decree30.get("status") != "personal_only":
                continue
            signer = next((sig.get("signer") or {} for sig in report["signatures"]
                           if sig["field"] == decree30.get("personal_field")), {})
            waiting.append({**doc, "signer": signer.get("common_name") or "", "outcome": report.get("outcome"),
                            "signing_time": next((sig.get("signing_time") for sig in report["signatures"]
                                                  if sig["field"] == decree30.get("personal_field")), None)})
        return waiting

    def documents_of(self, caller: Caller, *, limit: int = 100) -> list[dict]:
        """The documents the caller's agency produced or received, newest first."""
        caller.require(*READERS)
        agency = caller.agency or f"user:{caller.username}"
        return self.access.documents(agency=agency, limit=limit)

    def _cached_report(self, sha256: str) -> dict:
        with self._lock:
            cache = self.__dict__.setdefault("_report_cache", {})
            hit = cache.get(sha256)
        if hit is not None:
            return hit
        report = self._verify(self.blobs.verifiable(sha256))
        with self._lock:
            if len(cache) > 2048:
                cache.clear()
            cache[sha256] = report
        return report
