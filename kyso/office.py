"""One office's records: the registers, the document store and the audit trail, composed
with the verifier (the registers package never imports the verifier or the signer).

    office = Office.from_settings(settings)
    entry = office.receive(path, sender="Sở Nội vụ tỉnh Nghệ An", actor="van-thu", role="receiver")
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kyso.clock import Clock, read as read_clock, system_clock
from kyso.settings import Settings


class Office:
    def __init__(self, *, settings: Settings, db, blobs, numbering, incoming, audit, policy,
                 clock: Clock | None = None, keys=None) -> None:
        from registers.keystore import AccountStore

        self.settings = settings
        self.keys = keys or AccountStore(settings.key_dir)   # PKCS#12 files and images: never served
        self.clock = clock or system_clock
        self.db = db
        self.blobs = blobs
        self.numbering = numbering
        self.incoming = incoming
        self.audit = audit
        self.policy = policy

    @classmethod
    def from_settings(cls, settings: Settings, *, policy=None, clock: Clock | None = None) -> "Office":
        """The office of ``settings``; ``clock`` (default: the wall clock) dates every register row
        and audit record, the same clock the signing engine is given."""
        from registers.audit import AuditTrail
        from registers.blobstore import BlobStore
        from registers.db import Database
        from registers.incoming import IncomingRegister
        from registers.numbering import DatabaseNumbering
        from registers.printing import return_notice_pdf

        db = Database.connect(settings.database_url)
        db.upgrade()
        blobs = BlobStore(Path(settings.data_dir) / "documents")
        blobs.sweep()
        incoming = IncomingRegister(db, blobs, agency=settings.agency, clock=clock,
                                    notice_renderer=lambda e: return_notice_pdf(e, agency_name=settings.agency_name))
        if policy is None:
            from kyso.verify_cli import build_policy

            policy = build_policy(settings)
        numbering = DatabaseNumbering(db, clock=clock)
        numbering.void_stale()   # numbers a killed worker left reserved
        return cls(settings=settings, db=db, blobs=blobs, numbering=numbering, incoming=incoming,
                   audit=AuditTrail(db, key=settings.audit_key.encode(), clock=clock), policy=policy,
                   clock=clock)

    def is_document(self, sha256: str) -> bool:
        """Whether ``sha256`` is a document of this office's registers (signed, issued, received, a
        copy or a notice) that is in the store. Only such files are ever served: whatever else the
        store may hold (keys or images bound before the key store existed) is not a document."""
        import re

        from registers.models import StoredDocument

        if not re.fullmatch(r"[0-9a-f]{64}", sha256 or "") or not self.blobs.exists(sha256):
            return False
        with self.db.session() as s:
            return s.get(StoredDocument, sha256) is not None

    def verification_policy(self, *, at=None):
        """The verification policy judging as of ``at`` (default: the office clock's now).

        With the wall clock and no ``at`` it is the policy itself ("now"); with another clock the
        validation time is that clock's moment, so a verification joins the other steps of its
        operation (and the development PKI answers as of that moment).
        """
        if at is None and self.clock is system_clock:
            return self.policy
        import dataclasses

        return dataclasses.replace(self.policy, validation_time=at or read_clock(self.clock))

    def receive(self, document: bytes | Path, *, sender: str, actor: str, role: str = "receiver",
                sender_reference: str | None = None, summary: str | None = None,
                client: str | None = None) -> dict:
        """Verify an incoming document, register it (or return it), acknowledge it, audit it."""
        from registers.audit import AuditEvent
        from verifier import verify

        data = document.read_bytes() if isinstance(document, Path) else bytes(document)
        moment = read_clock(self.clock)   # judged, registered and acknowledged at one moment
        report = verify(data, policy=self.verification_policy(at=moment), evidence=True,
                        file_name=document.name if isinstance(document, Path) else None).to_dict()
        entry = self.incoming.receive(data, sender=sender, report=report, sender_reference=sender_reference,
                                      summary=summary, at=moment)
        signer = next((s.get("signer") for s in report.get("signatures", []) if s.get("signer")), None)
        self.audit.append(AuditEvent(
            actor=actor, role=role, action="receive" if entry["status"] == "received" else "return",
            result=report["verdict"], documents=(entry["document_sha256"],),
            certificate=signer.get("sha256") if signer else None, client=client,
            detail={"incoming_number": entry["number"], "year": entry["year"], "sender": sender}))
        return entry

    def document_history(self, sha256: str) -> dict[str, Any]:
        """What the registers and the audit trail know about a document, and its signatures now."""
        from sqlalchemy import select

        from registers.models import AuditRecord, IncomingEntry, OutgoingEntry
        from verifier import verify

        with self.db.session() as s:
            outgoing = [row for row in s.scalars(select(OutgoingEntry).where(OutgoingEntry.document_sha256 == sha256))]
            incoming = [row for row in s.scalars(select(IncomingEntry).where(IncomingEntry.document_sha256 == sha256))]
            records = [r for r in s.scalars(select(AuditRecord).order_by(AuditRecord.seq)) if sha256 in (r.documents or [])]
            from registers.incoming import incoming_dict
            from registers.numbering import entry_dict

            history = {
                "sha256": sha256,
                "outgoing": [entry_dict(e) for e in outgoing],
                "incoming": [incoming_dict(e) for e in incoming],
                "audit": [{"seq": r.seq, "time": r.time.isoformat(), "actor": r.actor, "role": r.role,
                           "action": r.action, "result": r.result, "client": r.client} for r in records],
            }
        history["report"] = (verify(self.blobs.path(sha256), policy=self.verification_policy()).to_dict()
                             if self.blobs.exists(sha256) else None)
        return history
