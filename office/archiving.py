"""Keeping documents verifiable for as long as they are kept: extend a stored or uploaded document to
B-LT or B-LTA, renew an archive with a new document timestamp, and find (and renew) what is due.

Each operation stores the stronger version, links it to the one it replaces (``document_version``)
and leaves an audit record, in one transaction; the earlier version stays, unchanged."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

from office.caller import Caller
from office.core import Stored
from office.errors import BadInput

# who keeps documents: the official who signed (their own), the clerk (the agency's archive), the
# receiving clerk (incoming documents)
KEEPERS = ("official", "clerk", "receiver")


@dataclasses.dataclass(frozen=True)
class Archived:
    stored: Stored
    source_sha256: str
    action: str                  # extend | renew
    level: str
    protected_until: str | None  # ISO 8601, +07:00
    timestamp_tsa: str | None

    def to_dict(self) -> dict:
        return {"sha256": self.stored.sha256, "source_sha256": self.source_sha256, "action": self.action,
                "level": self.level, "protected_until": self.protected_until, "timestamp_tsa": self.timestamp_tsa}


class ArchivingUseCases:
    def extend(self, caller: Caller, document: bytes | None = None, *, sha256: str | None = None,
               to: str = "B-LTA") -> Archived:
        """Add the validation data of every signature (any tool's) and, for B-LTA, a document timestamp."""
        from signer.archive import extend

        return self._archive(caller, document, sha256, "extend", lambda data, at: extend(self.engine, data, to=to, at=at))

    def renew(self, caller: Caller, document: bytes | None = None, *, sha256: str | None = None) -> Archived:
        """A new document timestamp over an archive (from the TSA the settings name)."""
        from signer.archive import renew

        return self._archive(caller, document, sha256, "renew", lambda data, at: renew(self.engine, data, at=at))

    def _archive(self, caller: Caller, document, sha256, action: str, operate, *, scheduled: bool = False) -> Archived:
        import hashlib

        from sqlalchemy import select

        from kyso.decree30 import vn_iso
        from kyso.errors import KysoError
        from registers.models import DocumentAccess, DocumentVersion
        from signer.archive import protection_expiry

        if not scheduled:
            caller.require(*KEEPERS)
        if document is None and not sha256:
            raise BadInput("upload the document or name a stored one (sha256)",
                           message_vi="Hãy tải văn bản lên hoặc chọn văn bản đã lưu.")
        data = bytes(document) if document is not None else self._readable(caller, sha256)
        self.admit(caller, action, data)
        source = hashlib.sha256(data).hexdigest()
        moment = self.now()
        try:
            result = operate(data, moment)
        except KysoError as exc:
            raise self.refused(caller, action, exc) from None
        until = protection_expiry(result.data)
        blob = self._put(result.data)
        with self.db.session() as s:
            # whoever could read the earlier version reads this one
            readers = list(s.scalars(select(DocumentAccess.agency).where(DocumentAccess.sha256 == source)))
            self._record(s, blob, origin="extended" if action == "extend" else "renewed", caller=caller,
                         reason=action, at=moment, agencies=readers)
            if s.get(DocumentVersion, source) is None:
                s.add(DocumentVersion(sha256=source, successor_sha256=blob.sha256, action=action,
                                      level=result.level.value, protected_until=until, at=moment,
                                      username=caller.username))
            self._audit(caller, action, "ok", documents=(source, blob.sha256), session=s,
                        detail={"level": result.level.value, "tsa": result.timestamp_tsa,
                                "protected_until": until.isoformat() if until else None})
        return Archived(stored=Stored(sha256=blob.sha256, data=result.data, origin=action), source_sha256=source,
                        action=action, level=result.level.value, protected_until=vn_iso(until) if until else None,
                        timestamp_tsa=result.timestamp_tsa)

    def due_for_renewal(self, caller: Caller, *, days: int) -> list[dict]:
        """Stored signed documents, latest versions only, whose protection ends within ``days`` days."""
        from sqlalchemy import select

        from kyso.decree30 import vn_iso
        from registers.models import DocumentVersion, StoredDocument
        from signer.archive import protection_expiry

        caller.require("clerk", "admin", "auditor")
        if not 0 <= days <= 36500:
            raise BadInput("days is between 0 and 36500", message_vi="Số ngày phải từ 0 đến 36500.")
        horizon = self.now() + timedelta(days=days)
        with self.db.read_session() as s:
            superseded = set(s.scalars(select(DocumentVersion.sha256)))
            candidates = [d.sha256 for d in s.scalars(select(StoredDocument)) if d.sha256 not in superseded]
        due = []
        for sha in candidates:
            if caller.role != "admin" and not self.may_read(caller, sha):
                continue
            try:
                data = self.blobs.read(sha)
            except Exception:  # noqa: BLE001 - a missing file is the doctor's business
                continue
            if b"/ByteRange" not in data:
                continue
            until = protection_expiry(data)
            if until is not None and until <= horizon:
                due.append({"sha256": sha, "protected_until": vn_iso(until), "days_left": (until - self.now()).days})
        return sorted(due, key=lambda d: d["protected_until"])

    def renew_due(self, caller: Caller, *, days: int) -> list[dict]:
        """Renew every document :meth:`due_for_renewal` lists; one result (or error) per document."""
        from kyso.errors import KysoError

        from signer.archive import renew

        caller.require("clerk", "admin")
        out = []
        for item in self.due_for_renewal(caller, days=days):
            try:
                data = self.blobs.read(item["sha256"])
                renewed = self._archive(caller, data, None, "renew",
                                        lambda d, at: renew(self.engine, d, at=at), scheduled=True)
                out.append({**item, "renewed": renewed.to_dict()})
            except KysoError as exc:
                out.append({**item, "error": exc.to_dict()})
        return out


__all__ = ["Archived", "ArchivingUseCases", "KEEPERS"]
