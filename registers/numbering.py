"""Numbering books and the outgoing register, on SQLite or PostgreSQL.

Every allocation runs in one transaction holding the numbering lock
(``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so parallel
clerks in threads or processes get distinct, consecutive numbers. A reserved
number is confirmed with the issued document (hash, type, summary, signer,
date, recipients), or recorded as void with the reason: never reused, never
lost. The rows are the outgoing register (sổ đăng ký văn bản đi).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from sqlalchemy import select

from kyso.decree30 import AlreadyIssued, DocumentNumber, NumberTaken, vn_iso
from registers.db import Database
from registers.models import NumberCounter, OutgoingEntry


def _now() -> datetime:
    return datetime.now(timezone.utc)


class DatabaseNumbering:
    """A :class:`signer.numbering.NumberAllocator` over the registers database."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self._clock = clock or _now

    @classmethod
    def open(cls, url: str) -> "DatabaseNumbering":
        db = Database.connect(url)
        db.upgrade()
        return cls(db)

    def allocate(self, *, agency: str, book: str, year: int, symbol: str, number: int | None = None,
                 source_sha256: str | None = None, personal_signature_sha256: str | None = None) -> DocumentNumber:
        """Reserve the next number (or ``number``). With the draft's ``source_sha256`` and
        ``personal_signature_sha256``, a draft that already has a number (issued or being issued) is
        refused under the same lock: one draft, one number, even for two clerks at once."""
        with self.db.session() as s:
            self.db.lock(s, "numbering")
            if source_sha256 or personal_signature_sha256:
                from sqlalchemy import or_

                claims = [c == v for c, v in ((OutgoingEntry.source_sha256, source_sha256),
                                              (OutgoingEntry.personal_signature_sha256, personal_signature_sha256)) if v]
                earlier = s.scalars(select(OutgoingEntry).where(
                    or_(*claims), OutgoingEntry.status.in_(("issued", "reserved"))).limit(1)).first()
                if earlier is not None:
                    text = f"{earlier.number:02d}/{earlier.symbol}"
                    raise AlreadyIssued(f"this draft was already issued as {text}",
                                        message_vi=f"Dự thảo này đã được ban hành với số {text}.",
                                        detail={"number": text, "year": earlier.year, "agency": earlier.agency,
                                                "status": earlier.status})
            counter = s.get(NumberCounter, (agency, book, year))
            last = counter.last if counter else 0
            if number is None:
                number = last + 1
            elif number <= last:
                taken = s.get(OutgoingEntry, (agency, book, year, number))
                raise NumberTaken(detail={"number": f"{number:02d}/{symbol}", "year": year,
                                          "status": taken.status if taken else "unknown"})
            elif number > last + 1:
                raise NumberTaken(f"numbers have no gaps: the next number of this book is {last + 1:02d}",
                                  message_vi=f"Số văn bản phải liên tục: số tiếp theo là {last + 1:02d}",
                                  detail={"next": last + 1, "asked": number})
            if counter is None:
                s.add(NumberCounter(agency=agency, book=book, year=year, last=number))
            else:
                counter.last = number
            s.add(OutgoingEntry(agency=agency, book=book, year=year, number=number, symbol=symbol,
                                status="reserved", reserved_at=self._clock(), source_sha256=source_sha256,
                                personal_signature_sha256=personal_signature_sha256))
        return DocumentNumber(agency=agency, book=book, year=year, number=number, symbol=symbol)

    def _close(self, number: DocumentNumber, status: str, *, session=None, **values: Any) -> None:
        if session is None:
            with self.db.session() as own:
                return self._close(number, status, session=own, **values)
        entry = session.get(OutgoingEntry, (number.agency, number.book, number.year, number.number),
                            with_for_update=not self.db.is_sqlite)
        if entry is None or entry.status != "reserved":
            raise NumberTaken(f"number {number.text} is not reserved", detail={"number": number.text})
        entry.status = status
        entry.closed_at = self._clock()
        for key, value in values.items():
            setattr(entry, key, value)

    def confirm(self, number: DocumentNumber, *, document_sha256: str,
                details: Mapping[str, Any] | None = None, session=None) -> None:
        """The number now belongs to ``document_sha256`` (in ``session``'s transaction when given, with
        the rows that store the document and the audit record)."""
        details = dict(details or {})
        issue_date = details.get("issue_date")
        if isinstance(issue_date, str):
            issue_date = date.fromisoformat(issue_date)
        self._close(number, "issued", session=session, document_sha256=document_sha256,
                    doc_type=details.get("doc_type"), summary=details.get("summary"), signer=details.get("signer"),
                    issue_date=issue_date, recipients=list(details.get("recipients") or []) or None,
                    clerk=details.get("clerk"), report=details.get("report"))

    def void(self, number: DocumentNumber, *, reason: str) -> None:
        self._close(number, "void", reason=reason[:2000])

    def issued_from(self, *, source_sha256: str | None = None,
                    personal_signature_sha256: str | None = None) -> dict | None:
        """The entry (issued, or being issued) that a draft, or a personal signature, already got."""
        conditions = []
        if source_sha256:
            conditions.append(OutgoingEntry.source_sha256 == source_sha256)
        if personal_signature_sha256:
            conditions.append(OutgoingEntry.personal_signature_sha256 == personal_signature_sha256)
        if not conditions:
            return None
        from sqlalchemy import or_

        query = select(OutgoingEntry).where(or_(*conditions), OutgoingEntry.status.in_(("issued", "reserved")))
        with self.db.read_session() as s:
            row = s.scalars(query.limit(1)).first()
            return entry_dict(row) if row is not None else None

    def find(self, *, agency: str, number_text: str | None = None, document_sha256: str | None = None,
             status: str = "issued") -> dict | None:
        """An entry of ``agency``'s books by its number and symbol ("16/CT-UBND") or its document."""
        query = select(OutgoingEntry).where(OutgoingEntry.agency == agency, OutgoingEntry.status == status)
        if document_sha256:
            query = query.where(OutgoingEntry.document_sha256 == document_sha256)
        if number_text:
            number, _, symbol = number_text.partition("/")
            if not number.isdigit() or not symbol:
                return None
            query = query.where(OutgoingEntry.number == int(number), OutgoingEntry.symbol == symbol)
        with self.db.read_session() as s:
            row = s.scalars(query.order_by(OutgoingEntry.year.desc()).limit(1)).first()
            return entry_dict(row) if row is not None else None

    def void_stale(self, *, older_than_seconds: float = 600.0) -> int:
        """Void numbers left reserved by an issuance that never finished (a killed worker): after
        ``older_than_seconds`` no live issuance still holds them. Returns how many were voided."""
        from datetime import timedelta

        limit = self._clock() - timedelta(seconds=older_than_seconds)
        voided = 0
        with self.db.session() as s:
            self.db.lock(s, "numbering")
            for entry in s.scalars(select(OutgoingEntry).where(OutgoingEntry.status == "reserved")):
                reserved = entry.reserved_at if entry.reserved_at.tzinfo else entry.reserved_at.replace(
                    tzinfo=timezone.utc)
                if reserved < limit:
                    entry.status = "void"
                    entry.reason = "issuance interrupted (the process stopped before the agency signature)"
                    entry.closed_at = self._clock()
                    voided += 1
        return voided

    def attach_report(self, number: DocumentNumber, report: Mapping[str, Any]) -> None:
        """Keep the verification report of the issued file with its register entry."""
        with self.db.session() as s:
            entry = s.get(OutgoingEntry, (number.agency, number.book, number.year, number.number))
            if entry is None:
                raise NumberTaken(f"number {number.text} is not in the register")
            entry.report = dict(report)

    def entries(self, *, agency: str | None = None, year: int | None = None, book: str | None = None,
                status: str | None = None) -> list[dict]:
        """The outgoing register, filtered, in book and number order."""
        query = select(OutgoingEntry)
        for column, value in ((OutgoingEntry.agency, agency), (OutgoingEntry.year, year),
                              (OutgoingEntry.book, book), (OutgoingEntry.status, status)):
            if value is not None:
                query = query.where(column == value)
        query = query.order_by(OutgoingEntry.agency, OutgoingEntry.year, OutgoingEntry.book, OutgoingEntry.number)
        with self.db.session() as s:
            return [entry_dict(e) for e in s.scalars(query)]

    def close(self) -> None:
        self.db.dispose()


def entry_dict(e: OutgoingEntry) -> dict:
    return {
        "agency": e.agency, "book": e.book, "year": e.year, "number": e.number, "symbol": e.symbol,
        "number_text": f"{e.number:02d}/{e.symbol}", "status": e.status, "reason": e.reason,
        "doc_type": e.doc_type, "summary": e.summary, "signer": e.signer,
        "issue_date": e.issue_date.isoformat() if e.issue_date else None, "recipients": e.recipients or [],
        "document_sha256": e.document_sha256, "has_report": e.report is not None,
        "verdict": (e.report or {}).get("verdict"),
        "reserved_at": vn_iso(e.reserved_at),
        "closed_at": vn_iso(e.closed_at),
        "source_sha256": e.source_sha256, "personal_signature_sha256": e.personal_signature_sha256,
        "clerk": e.clerk,
    }


def SqliteNumbering(path: Path | str) -> DatabaseNumbering:  # noqa: N802 - a named constructor kept for callers
    """Numbering in a SQLite file (the embedded default)."""
    return DatabaseNumbering.open(f"sqlite:///{Path(path)}")
