"""After a crash: the registers, the document store and the audit trail made consistent again, and
what cannot be repaired named.

    found = office.reconcile(grace_seconds=300)    # Reconciled(voided_numbers=..., quarantined_files=...)

A use case writes in this order: a number reserved (issue, copy), the signed file put in the store
(fsync, rename: the store's commit marker), then one transaction with the register rows and the
audit record. A process killed between two steps leaves:

* a number ``reserved`` that no issuance will confirm: voided, with the reason;
* a stored file without a ``document`` row (the operation never happened for the registers): moved
  out of the served store into ``DATA_DIR/quarantine/`` (kept, for an administrator to look at);
* never a row without its audit record, nor the reverse: they commit together. A ``document`` row
  or an issued number whose audit record is missing, or a row whose file is missing, is reported
  (``missing_audit``, ``missing_files``): nothing can repair those, someone changed the database or
  the store behind the service's back.

Anything younger than ``grace_seconds`` is left alone: a live operation may be between two steps.
The reconciler runs when the service starts (``kyso doctor``, which gunicorn's start runs once), every
``KYSO_RECONCILE_MINUTES`` in each worker, and at an operator's request (``kyso doctor --grace 0``
when nothing else runs). Each run that changes something appends one ``reconcile`` audit record.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

log = logging.getLogger("kyso.reconcile")

SCHEMA = "kyso.reconciled/1"
DEFAULT_GRACE_SECONDS = 300.0


@dataclasses.dataclass(frozen=True)
class Reconciled:
    voided_numbers: tuple[dict, ...] = ()
    quarantined_files: tuple[str, ...] = ()
    missing_files: tuple[str, ...] = ()
    missing_audit: tuple[dict, ...] = ()
    checked_documents: int = 0
    checked_numbers: int = 0

    @property
    def ok(self) -> bool:
        """Nothing found that the reconciler could not repair."""
        return not self.missing_files and not self.missing_audit

    @property
    def changed(self) -> bool:
        return bool(self.voided_numbers or self.quarantined_files)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "ok": self.ok, **dataclasses.asdict(self)}

    def line(self) -> str:
        return (f"{self.checked_documents} stored documents, {self.checked_numbers} numbers checked; "
                f"{len(self.voided_numbers)} reserved number(s) voided, {len(self.quarantined_files)} file(s) "
                f"without a row quarantined, {len(self.missing_files)} row(s) without a file, "
                f"{len(self.missing_audit)} operation(s) without an audit record")


def reconcile(office, *, grace_seconds: float = DEFAULT_GRACE_SECONDS, now: datetime | None = None) -> Reconciled:
    from sqlalchemy import select

    from registers.models import AuditRecord, OutgoingEntry, StoredDocument

    moment = now or office.now()
    voided = _void_reserved(office, moment, grace_seconds)
    with office.db.read_session() as s:
        rows = {sha: origin for sha, origin in s.execute(select(StoredDocument.sha256, StoredDocument.origin))}
        issued = [(e.agency, e.book, e.year, e.number, e.symbol, e.document_sha256) for e in
                  s.scalars(select(OutgoingEntry).where(OutgoingEntry.status == "issued"))]
        audited: set[str] = set()
        for documents in s.scalars(select(AuditRecord.documents)):
            audited.update(d for d in (documents or ()) if isinstance(d, str))
    stored = set(office.blobs.scan())   # listed after the rows: a row's document was stored before it
    quarantined = _quarantine_orphans(office, set(rows), stored, grace_seconds)
    missing_files = tuple(sorted(sha for sha in rows if sha not in stored))
    missing_audit = [{"kind": "document", "sha256": sha, "origin": origin}
                     for sha, origin in sorted(rows.items()) if sha not in audited]
    missing_audit += [{"kind": "number", "number": f"{number:02d}/{symbol}", "agency": agency, "year": year,
                       "sha256": sha} for agency, book, year, number, symbol, sha in issued
                      if sha and (sha not in rows or sha not in audited)]
    found = Reconciled(voided_numbers=tuple(voided), quarantined_files=tuple(quarantined),
                       missing_files=missing_files, missing_audit=tuple(missing_audit),
                       checked_documents=len(rows), checked_numbers=len(issued) + len(voided))
    if found.changed or not found.ok:
        office._audit(None, "reconcile", "ok" if found.ok else "inconsistent", documents=quarantined[:100],
                      detail={"voided": [v["number"] for v in voided][:100], "quarantined": len(quarantined),
                              "missing_files": list(missing_files[:20]), "missing_audit": missing_audit[:20]},
                      client="kyso-reconciler")
        log.warning("reconciler: %s", found.line())
    return found


def _void_reserved(office, moment: datetime, grace_seconds: float) -> list[dict]:
    from sqlalchemy import select

    from kyso.decree30 import vn_iso
    from registers.models import OutgoingEntry

    limit = moment - timedelta(seconds=grace_seconds)
    voided = []
    with office.db.session() as s:
        office.db.lock(s, "numbering")
        for entry in s.scalars(select(OutgoingEntry).where(OutgoingEntry.status == "reserved")):
            reserved = entry.reserved_at if entry.reserved_at.tzinfo else entry.reserved_at.replace(tzinfo=timezone.utc)
            if reserved <= limit:
                entry.status = "void"
                entry.reason = (f"issuance interrupted: reserved at {vn_iso(reserved)}, never signed and stored "
                                f"(the process stopped); voided by the reconciler at {vn_iso(moment)}")
                entry.closed_at = moment
                voided.append({"number": f"{entry.number:02d}/{entry.symbol}", "agency": entry.agency,
                               "book": entry.book, "year": entry.year, "reserved_at": vn_iso(reserved)})
    return voided


def _quarantine_orphans(office, rows: set[str], stored: set[str], grace_seconds: float) -> list[str]:
    """Stored files no row refers to, older than the grace (by the store's own clock: the disk's
    file times, the object store's), set aside in the store's quarantine."""
    store = office.blobs
    moved = []
    for sha in sorted(stored - rows):
        if not store.set_aside(sha, grace_seconds=grace_seconds):
            continue
        with office.db.read_session() as s:          # a row committed meanwhile: put the file back
            from registers.models import StoredDocument

            if s.get(StoredDocument, sha) is not None:
                store.put_back(sha)
                continue
        moved.append(sha)
    return moved


class Housekeeper:
    """Runs :func:`reconcile` every ``minutes`` in a daemon thread of a worker, then hands again to the
    queue the verification jobs that stalled (``Office.requeue_stalled_jobs``)."""

    def __init__(self, office, *, minutes: float) -> None:
        self._office = office
        self._interval = minutes * 60
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kyso-reconciler", daemon=True)

    def start(self) -> "Housekeeper":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        delay = min(60.0, self._interval)          # a first round soon after the start, then every interval
        while not self._stop.wait(delay):
            try:
                reconcile(self._office)
            except Exception:  # noqa: BLE001 - the next round tries again; the log says why
                log.exception("reconciler round failed")
            try:
                self._office.requeue_stalled_jobs()   # a job left by a dead process or a broker that was down
            except Exception:  # noqa: BLE001
                log.exception("requeue of stalled verification jobs failed")
            delay = self._interval
