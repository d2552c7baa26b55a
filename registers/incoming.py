"""The incoming register (sổ đăng ký văn bản đến, Decree 30 Art. 21, 22).

Receiving a document stores it (content-addressed, before any row refers to
it), gives it the year's next incoming number (số đến), and keeps the
verification report with its evidence (certificate chains, OCSP/CRL
responses, timestamp tokens, validation time). A document that is not valid
is returned to its sender: status, reason in Vietnamese and English, and a
generated return notice (PDF). Receipt is acknowledged at once: the same day.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable, Mapping

from sqlalchemy import select

from kyso.decree30 import vn_iso
from registers.blobstore import BlobStore, record
from registers.db import Database
from registers.models import IncomingCounter, IncomingEntry

VN_OFFSET_HOURS = 7


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _vn_year(moment: datetime) -> int:
    from datetime import timedelta

    return (moment + timedelta(hours=VN_OFFSET_HOURS)).year


def _return_reason(report: Mapping[str, Any]) -> tuple[str, str]:
    """The reason a clerk writes on the return notice: the most specific one in the report."""
    reasons = report.get("reasons") or []
    specific = [r for r in reasons if not str(r.get("code", "")).startswith("doc_")]
    chosen = (specific or reasons or [{"vi": "Văn bản không hợp lệ.", "en": "The document is not valid."}])[0]
    return chosen.get("vi", ""), chosen.get("en", "")


class IncomingRegister:
    def __init__(self, db: Database, blobs: BlobStore, *, agency: str,
                 clock: Callable[[], datetime] | None = None,
                 notice_renderer: Callable[[dict], bytes] | None = None) -> None:
        self.db = db
        self.blobs = blobs
        self.agency = agency
        self._clock = clock or _now
        self._notice = notice_renderer

    def receive(self, data: bytes | Path | IO[bytes], *, sender: str, report: Mapping[str, Any],
                sender_reference: str | None = None, summary: str | None = None,
                at: datetime | None = None) -> dict:
        """Register a received document with its verification report; returns the entry,
        with its acknowledgement. ``at`` is the receipt's moment (default: the register's clock)."""
        blob = self.blobs.put(data)
        if report.get("sha256") and report["sha256"] != blob.sha256:
            raise ValueError("the report is not about this document (SHA-256 differs)")
        now = at or self._clock()
        year = _vn_year(now)
        verdict = str(report.get("verdict", "indeterminate"))
        returned = verdict != "valid"
        reason_vi, reason_en = _return_reason(report) if returned else (None, None)
        stored_report = {k: v for k, v in report.items() if k != "evidence"}
        with self.db.session() as s:
            self.db.lock(s, f"incoming:{self.agency}")
            counter = s.get(IncomingCounter, (self.agency, year))
            number = (counter.last if counter else 0) + 1
            if counter is None:
                s.add(IncomingCounter(agency=self.agency, year=year, last=number))
            else:
                counter.last = number
            record(s, blob, origin="received")
            entry = IncomingEntry(
                agency=self.agency, year=year, number=number, received_at=now, sender=sender,
                sender_reference=sender_reference, summary=summary, document_sha256=blob.sha256,
                verdict=verdict, report=stored_report, evidence=report.get("evidence"),
                status="returned" if returned else "received", return_reason_vi=reason_vi,
                return_reason_en=reason_en, acknowledged_at=now)
            s.add(entry)
            s.flush()
            entry_id = entry.id
        if returned and self._notice is not None:
            self.attach_notice(entry_id)
        return self.get(entry_id)

    def register(self, session, *, agency: str, document_sha256: str, sender: str, report: Mapping[str, Any],
                 status: str, at: datetime, sender_reference: str | None = None, summary: str | None = None,
                 reason_vi: str | None = None, reason_en: str | None = None) -> IncomingEntry:
        """The next incoming number of ``agency``'s year and its row, in the caller's transaction (the
        office writes the document's row, the notice and the audit record in the same one)."""
        if status not in ("received", "returned"):
            raise ValueError("status is received or returned")
        year = _vn_year(at)
        if status == "returned" and not (reason_vi and reason_en):
            reason_vi, reason_en = _return_reason(report)
        self.db.lock(session, f"incoming:{agency}")
        counter = session.get(IncomingCounter, (agency, year))
        number = (counter.last if counter else 0) + 1
        if counter is None:
            session.add(IncomingCounter(agency=agency, year=year, last=number))
        else:
            counter.last = number
        entry = IncomingEntry(
            agency=agency, year=year, number=number, received_at=at, sender=sender,
            sender_reference=sender_reference, summary=summary, document_sha256=document_sha256,
            verdict=str(report.get("verdict", "indeterminate")),
            report={k: v for k, v in report.items() if k != "evidence"}, evidence=report.get("evidence"),
            status=status, return_reason_vi=reason_vi if status == "returned" else None,
            return_reason_en=reason_en if status == "returned" else None, acknowledged_at=at)
        session.add(entry)
        session.flush()
        return entry

    def holds(self, *, agency: str, document_sha256: str) -> bool:
        """Whether ``agency`` registered this document as received (not returned)."""
        with self.db.read_session() as s:
            return s.scalars(select(IncomingEntry.id).where(
                IncomingEntry.agency == agency, IncomingEntry.document_sha256 == document_sha256,
                IncomingEntry.status == "received").limit(1)).first() is not None

    def attach_notice(self, entry_id: int) -> str:
        """Generate (or regenerate) the return notice PDF of a returned document."""
        entry = self.get(entry_id)
        pdf = self._notice(entry)
        blob = self.blobs.put(pdf)
        with self.db.session() as s:
            record(s, blob, origin="notice")
            row = s.get(IncomingEntry, entry_id)
            row.notice_sha256 = blob.sha256
        return blob.sha256

    def get(self, entry_id: int) -> dict:
        with self.db.session() as s:
            row = s.get(IncomingEntry, entry_id)
            if row is None:
                raise LookupError(f"no incoming entry {entry_id}")
            return incoming_dict(row)

    def entries(self, *, year: int | None = None, status: str | None = None, sender: str | None = None,
                verdict: str | None = None, agency: str | None = None, all_agencies: bool = False) -> list[dict]:
        query = select(IncomingEntry)
        if not all_agencies:
            query = query.where(IncomingEntry.agency == (agency or self.agency))
        for column, value in ((IncomingEntry.year, year), (IncomingEntry.status, status),
                              (IncomingEntry.verdict, verdict)):
            if value is not None:
                query = query.where(column == value)
        if sender:
            query = query.where(IncomingEntry.sender.contains(sender))
        with self.db.session() as s:
            return [incoming_dict(r) for r in s.scalars(query.order_by(IncomingEntry.year, IncomingEntry.number))]


def incoming_dict(r: IncomingEntry, *, with_report: bool = False) -> dict:
    d = {
        "id": r.id, "agency": r.agency, "year": r.year, "number": r.number, "number_text": f"{r.number:02d}",
        "received_at": vn_iso(r.received_at), "sender": r.sender, "sender_reference": r.sender_reference,
        "summary": r.summary, "document_sha256": r.document_sha256, "verdict": r.verdict, "status": r.status,
        "return_reason_vi": r.return_reason_vi, "return_reason_en": r.return_reason_en,
        "notice_sha256": r.notice_sha256,
        "acknowledgement": {"received_at": vn_iso(r.received_at), "incoming_number": r.number,
                            "year": r.year, "sha256": r.document_sha256, "status": r.status,
                            "acknowledged_at": vn_iso(r.acknowledged_at)},
        "has_evidence": bool(r.evidence),
    }
    d["report"] = r.report
    if with_report:
        d["evidence"] = r.evidence
    return d
