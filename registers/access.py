"""Who may read a stored document: the agencies that produced or received it (rows written by the
office's use cases in the same transaction as the document's own row)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from kyso.decree30 import vn_iso
from registers.db import Database, insert_new
from registers.models import DocumentAccess, StoredDocument

__all__ = ["DocumentAccessRegister"]


class DocumentAccessRegister:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def grant(session, *, sha256: str, agency: str, reason: str, username: str | None, at: datetime) -> None:
        """Let ``agency`` read the document (first grant kept: why and by whom it came)."""
        # one statement: the first grant's row stays (a get, then an add, cost three times as much)
        session.execute(insert_new(session, DocumentAccess.__table__, ("sha256", "agency")),
                        {"sha256": sha256, "agency": agency, "reason": reason, "username": username, "at": at})

    def may_read(self, *, sha256: str, agency: str | None, username: str) -> bool:
        with self.db.read_session() as s:
            if agency:
                return s.get(DocumentAccess, (sha256, agency)) is not None
            row = s.scalars(select(DocumentAccess).where(DocumentAccess.sha256 == sha256,
                                                         DocumentAccess.username == username).limit(1)).first()
            return row is not None

    def documents(self, *, agency: str, reasons: tuple[str, ...] | None = None, limit: int = 200) -> list[dict]:
        """The agency's documents, newest first: sha256, reason, who, when, size, origin."""
        query = (select(DocumentAccess, StoredDocument)
                 .join(StoredDocument, StoredDocument.sha256 == DocumentAccess.sha256)
                 .where(DocumentAccess.agency == agency))
        if reasons:
            query = query.where(DocumentAccess.reason.in_(reasons))
        with self.db.read_session() as s:
            rows = s.execute(query.order_by(DocumentAccess.at.desc()).limit(limit)).all()
            return [{"sha256": a.sha256, "reason": a.reason, "username": a.username, "at": vn_iso(a.at),
                     "size": d.size, "origin": d.origin} for a, d in rows]
