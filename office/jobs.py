"""Bulk verification as jobs: submitted once (files, a zip, or documents already stored), done by
workers on any node (``office.jobqueue``), followed by whoever submitted it.

Every uploaded document is stored (content-addressed, readable by the submitter's agency) before
the job exists, so that a worker on another node can read it; each item's report is written
exactly once, with its audit record in the same transaction, however often a killed worker's task
is retried.
"""
from __future__ import annotations

import json
import logging
import secrets
from collections import Counter
from typing import Any

from office.caller import READERS, Caller
from office.errors import BadInput, DocumentNotFound, JobQueueUnavailable

log = logging.getLogger("kyso.jobs")

SCHEMA = "kyso.verify-job/1"
MAX_DOCUMENTS = 10_000
# a job none of whose documents was done for this long is queued again (a killed Redis worker's task
# comes back after 10 minutes by itself: this is longer)
STALLED_SECONDS = 15 * 60


def _utc(moment):
    """A moment in UTC (SQLite gives back stored times without their zone: they were UTC)."""
    from datetime import timezone

    return moment.astimezone(timezone.utc) if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


class JobUseCases:
    @property
    def job_queue(self):
        queue = self.__dict__.get("_job_queue")
        if queue is None:
            from office.jobqueue import CeleryQueue, ThreadQueue

            broker = getattr(self.settings, "broker_url", None)
            queue = CeleryQueue(broker, database_url=self.settings.database_url) if broker else ThreadQueue(self)
            self.__dict__["_job_queue"] = queue
        return queue

    def submit_verify_job(self, caller: Caller, *, files=(), archive=None, documents=()) -> dict:
        """A job over uploaded files and a zip's members (stored now), or documents already stored
        that the caller may read (by SHA-256); its items are queued; the job's status is returned."""
        import zipfile

        from office.incoming import UNREADABLE_MEMBER, unreadable_member

        caller.require(*READERS)
        documents = [d.strip().lower() for d in documents if d and d.strip()]
        if documents and (files or archive is not None):
            raise BadInput("give uploads or stored documents, not both",
                           message_vi="Hãy tải tệp lên hoặc chọn văn bản đã lưu, không cả hai.")
        if len(documents) > MAX_DOCUMENTS:
            raise BadInput(f"at most {MAX_DOCUMENTS} documents in one job",
                           message_vi=f"Mỗi lần kiểm tra nhiều nhất {MAX_DOCUMENTS} văn bản.")
        moment = self.now()
        rows: list[dict[str, Any]] = []
        if documents:
            for sha in documents:
                if not self.may_read(caller, sha):
                    raise self.refused(caller, "verify_job", DocumentNotFound(detail={"sha256": sha[:64]}))
                rows.append({"name": f"{sha[:12]}.pdf", "sha256": sha, "status": "pending"})
        else:
            for name, read in self._batch_items(caller, files=files, archive=archive):
                try:
                    data = read()
                except (zipfile.BadZipFile, *UNREADABLE_MEMBER) as exc:
                    rows.append({"name": name, "sha256": None, "status": "done", "verdict": "indeterminate",
                                 "report": json.dumps({"error": unreadable_member(exc)}, ensure_ascii=False),
                                 "done_at": _utc(moment)})
                    continue
                blob = self._put(data)
                with self.db.session() as s:
                    self._record(s, blob, origin="checked", caller=caller, reason="checked", at=moment)
                rows.append({"name": name, "sha256": blob.sha256, "status": "pending"})
        return self._start_job(caller, rows, kind="stored" if documents else "upload")

    def reverify_incoming(self, caller: Caller, *, year: int | None = None) -> dict:
        """A job verifying again, as of now, every document the caller's agency received (of one
        year, or all): after a change of the trust store, which of them would still pass. The
        register keeps its verdicts of the day they arrived; the job's are new facts beside them."""
        caller.require("receiver", "clerk")
        caller.require_agency()
        entries = self.incoming.entries(year=year, status="received", agency=caller.agency)
        if not entries:
            raise BadInput("the incoming register has no received document to verify again",
                           message_vi="Sổ văn bản đến không có văn bản nào để kiểm tra lại.")
        rows = [{"name": f"{e['number_text']}/{e['year']} {e['sender']}"[:255], "sha256": e["document_sha256"],
                 "status": "pending"} for e in entries]
        return self._start_job(caller, rows, kind="incoming")

    def _start_job(self, caller: Caller, rows: list[dict[str, Any]], *, kind: str) -> dict:
        from registers.models import VerifyJob, VerifyJobItem

        moment = self.now()
        job_id = secrets.token_hex(16)
        with self.db.session() as s:
            s.add(VerifyJob(id=job_id, username=caller.username, agency=caller.agency, kind=kind, total=len(rows),
                            created_at=_utc(moment), queued_at=_utc(moment)))
            for index, row in enumerate(rows, 1):
                s.add(VerifyJobItem(job_id=job_id, idx=index, name=row["name"][:255], sha256=row["sha256"],
                                    status=row["status"], verdict=row.get("verdict"), report=row.get("report"),
                                    done_at=row.get("done_at")))
            self._audit(caller, "verify_job", "submitted", session=s,
                        detail={"job": job_id, "documents": len(rows)})
        try:
            self.job_queue.enqueue(job_id, [i for i, row in enumerate(rows, 1) if row["status"] == "pending"])
        except Exception as exc:  # noqa: BLE001 - the broker is down: the job waits for requeue_stalled_jobs
            log.warning("verification job %s recorded, not queued: %s: %s", job_id, type(exc).__name__, exc)
            raise JobQueueUnavailable(detail={"job": job_id}) from None
        return self.verify_job(caller, job_id)

    def requeue_stalled_jobs(self, *, now=None, stalled_seconds: float = STALLED_SECONDS) -> list[str]:
        """Hand again to the queue the pending documents of every job that has not moved for
        ``stalled_seconds`` since it was last queued or a document of it was done: the broker was
        down when it was submitted, or the process whose background thread held it died (the
        embedded default). Every document is still recorded once (``run_verify_job_item``), so a job
        queued twice costs time, never a second record. Run by the housekeeper of every web worker:
        one of them takes each stalled job (the job's row is updated under a lock first)."""
        from datetime import timedelta

        from sqlalchemy import func, select

        from registers.models import VerifyJob, VerifyJobItem

        moment = _utc(now or self.now())
        before = moment - timedelta(seconds=stalled_seconds)
        taken: dict[str, list[int]] = {}
        with self.db.session() as s:
            self.db.lock(s, "verify-job-requeue")
            pending = dict(s.execute(select(VerifyJobItem.job_id, func.count()).where(
                VerifyJobItem.status == "pending").group_by(VerifyJobItem.job_id)).all())
            for job in s.scalars(select(VerifyJob).where(VerifyJob.id.in_(list(pending)))):
                last_done = s.scalar(select(func.max(VerifyJobItem.done_at)).where(VerifyJobItem.job_id == job.id))
                moved = max((t for t in (job.queued_at or job.created_at, last_done) if t is not None),
                            key=_utc)
                if _utc(moved) > before:
                    continue
                job.queued_at = moment
                taken[job.id] = list(s.scalars(select(VerifyJobItem.idx).where(
                    VerifyJobItem.job_id == job.id, VerifyJobItem.status == "pending").order_by(VerifyJobItem.idx)))
        for job_id, indexes in taken.items():
            try:
                self.job_queue.enqueue(job_id, indexes)
                log.warning("verification job %s had not moved: %d documents queued again", job_id, len(indexes))
            except Exception as exc:  # noqa: BLE001 - still down: the next round tries again
                log.warning("verification job %s not queued again: %s: %s", job_id, type(exc).__name__, exc)
        return list(taken)

    def verify_job(self, caller: Caller, job_id: str, *, reports: bool = False) -> dict:
        """A job's progress (done/total, the verdicts so far) and each document's result, for the
        submitter's agency (or the submitter, without one)."""
        from sqlalchemy import select

        from registers.models import VerifyJob, VerifyJobItem

        caller.require(*READERS)
        with self.db.read_session() as s:
            job = s.get(VerifyJob, (job_id or "")[:32])
            if job is None or not _may_follow(caller, job):
                raise DocumentNotFound("No verification job with this id.",
                                       message_vi="Không có đợt kiểm tra nào với mã này.",
                                       detail={"job": (job_id or "")[:32]})
            items = list(s.scalars(select(VerifyJobItem).where(VerifyJobItem.job_id == job.id)
                                   .order_by(VerifyJobItem.idx)))
        done = [i for i in items if i.status == "done"]
        results = []
        for item in items:
            result = {"index": item.idx, "file": item.name, "sha256": item.sha256, "status": item.status,
                      "verdict": item.verdict}
            # the reports are parsed only when asked for, or to say why a document did not pass: a
            # large job is followed by polling, and parsing thousands of reports each time was the cost
            if item.report is not None and (reports or item.verdict != "valid"):
                report = json.loads(item.report)
                if "error" in report:
                    result["error"] = report["error"]
                else:
                    result["reasons"] = report.get("reasons", [])
                    if reports:
                        result["report"] = report
            results.append(result)
        return {"schema": SCHEMA, "id": job.id, "submitted_by": job.username, "kind": job.kind,
                "created_at": job.created_at.isoformat(), "total": job.total, "done": len(done),
                "finished": len(done) == job.total, "verdicts": dict(Counter(i.verdict for i in done)),
                "results": results}

    def run_verify_job_item(self, job_id: str, index: int) -> bool:
        """Verify one item (a worker's task) and store its report with its audit record, once:
        False when it was done already (a retried task of a worker that died after finishing)."""
        from sqlalchemy import update

        from registers.models import VerifyJob, VerifyJobItem

        with self.db.read_session() as s:
            item = s.get(VerifyJobItem, (job_id, index))
            job = s.get(VerifyJob, job_id)
            if item is None or job is None or item.status == "done":
                return False
            sha, name = item.sha256, item.name
        from kyso.errors import KysoError

        try:
            report = self._verify(self.blobs.verifiable(sha), file_name=name)
        except KysoError as exc:
            if exc.code != "document_not_found":
                raise            # the store is unavailable: the task fails and the broker retries it
            report = None
        if report is None or not report.get("sha256"):
            report = report or {"error": {"code": "document_not_found",
                                          "message": "The document is no longer in the store.",
                                          "message_vi": "Văn bản không còn trong kho lưu trữ."}}
        verdict = report.get("verdict", "indeterminate")
        caller = self.caller(job.username, client="kyso-worker")
        with self.db.session() as s:
            claimed = s.execute(update(VerifyJobItem)
                                .where(VerifyJobItem.job_id == job_id, VerifyJobItem.idx == index,
                                       VerifyJobItem.status == "pending")
                                .values(status="done", verdict=verdict, done_at=_utc(self.now()),
                                        report=json.dumps(report, ensure_ascii=False))).rowcount == 1
            if claimed:
                self._audit(caller, "verify", verdict, documents=(sha,), session=s,
                            detail={"job": job_id, "item": index})
        return claimed


def _may_follow(caller: Caller, job) -> bool:
    if caller.role == "auditor":
        return True
    return job.username == caller.username or (job.agency is not None and job.agency == caller.agency)
