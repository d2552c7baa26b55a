"""Pending two-step signatures in the database (``signer.external``'s store protocol): prepared on
one node, finished on any, once.

``take`` deletes the row and reports whether this caller deleted it: of two concurrent finishers
exactly one sees True (a DELETE of one row by its key is atomic in PostgreSQL and SQLite alike).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete

from registers.db import Database


class PendingSignatures:
    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, handle: str, state: dict[str, Any], pdf: bytes) -> None:
        from registers.models import PendingSignature

        # in UTC: SQLite keeps no offset, and purge_expired compares with a UTC clock
        expires = datetime.fromisoformat(state["expires_at"]).astimezone(timezone.utc)
        created = datetime.fromisoformat(state["moment"]).astimezone(timezone.utc)
        with self.db.session() as s:
            s.add(PendingSignature(handle=handle, state=json.dumps(state), pdf=pdf, created_at=created,
                                   expires_at=expires))

    def peek(self, handle: str) -> tuple[dict[str, Any], bytes] | None:
        from registers.models import PendingSignature

        with self.db.read_session() as s:
            row = s.get(PendingSignature, handle)
            return None if row is None else (json.loads(row.state), bytes(row.pdf))

    def take(self, handle: str) -> bool:
        from registers.models import PendingSignature

        with self.db.session() as s:
            result = s.execute(delete(PendingSignature).where(PendingSignature.handle == handle))
            return result.rowcount == 1

    def purge_expired(self, *, now: datetime) -> int:
        from registers.models import PendingSignature

        with self.db.session() as s:
            return s.execute(delete(PendingSignature).where(
                PendingSignature.expires_at < now.astimezone(timezone.utc))).rowcount
