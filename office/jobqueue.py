"""Where the items of a bulk verification job are done.

* ``KYSO_BROKER_URL`` set (``amqp://...`` RabbitMQ, ``redis://...`` Redis): each item is a Celery
  task; ``kyso worker`` processes on any node take them. A task is acknowledged only once its item
  is done (``acks_late``) and a worker that dies mid-task hands it back to the broker
  (``reject_on_worker_lost``), so a killed worker's items are retried; a task that fails (the store
  or the database down) is tried again with a growing delay, up to about an hour; the item's row is
  written once whatever the retries (``Office.run_verify_job_item``).
* not set (the embedded default, ``make run``): one background thread of the web process does them.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("kyso.jobs")

TASK = "kyso.verify_job_item"


def queue_name(database_url: str) -> str:
    """The broker queue of one deployment: named after its database, so that offices (or test runs)
    sharing a broker never take each other's tasks."""
    import hashlib

    return "kyso-verify-" + hashlib.sha256(database_url.encode()).hexdigest()[:12]


class ThreadQueue:
    """Items done by one background thread of this process, in order."""

    def __init__(self, office) -> None:
        self._office = office
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kyso-jobs")

    def enqueue(self, job_id: str, indexes) -> None:
        for index in indexes:
            self._pool.submit(self._run, job_id, index)

    def _run(self, job_id: str, index: int) -> None:
        try:
            self._office.run_verify_job_item(job_id, index)
        except Exception:  # noqa: BLE001 - logged; the item stays pending and shows so
            log.exception("verification job %s item %s failed", job_id, index)


class CeleryQueue:
    """Items sent to the broker as Celery tasks (done by ``kyso worker``)."""

    def __init__(self, broker_url: str, *, database_url: str) -> None:
        self._app = celery_app(broker_url)
        self._queue = queue_name(database_url)

    def enqueue(self, job_id: str, indexes) -> None:
        with self._app.producer_or_acquire() as producer:
            for index in indexes:
                self._app.send_task(TASK, args=[job_id, index], queue=self._queue, producer=producer)


_apps: dict[str, object] = {}
_lock = threading.Lock()


def celery_app(broker_url: str):
    """The Celery application of this broker (one per process)."""
    with _lock:
        app = _apps.get(broker_url)
        if app is None:
            from celery import Celery

            app = Celery("kyso", broker=broker_url)
            app.conf.update(
                task_acks_late=True,                 # acknowledged once the item is done
                task_reject_on_worker_lost=True,     # a killed worker's task goes back to the queue
                worker_prefetch_multiplier=1,        # a worker holds one task at a time
                broker_connection_retry_on_startup=True,
                # Redis: a dead worker's unacknowledged task comes back after this (RabbitMQ: at once)
                broker_transport_options={"visibility_timeout": 600},
                worker_hijack_root_logger=False,
                task_ignore_result=True,
            )
            # a store or database that is down for a while: the document is tried again later (its
            # task failing once would otherwise be acknowledged, and the job never finish)
            app.task(name=TASK, bind=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=300,
                     retry_jitter=True, max_retries=12)(_verify_job_item)
            _apps[broker_url] = app
        return app


_worker_office = None


def _verify_job_item(task, job_id: str, index: int) -> None:
    """The task a worker runs: the item, by the office this worker composed from its settings."""
    global _worker_office
    if _worker_office is None:
        from kyso.settings import Settings
        from office import Office

        _worker_office = Office.from_settings(Settings.from_env())
    _worker_office.run_verify_job_item(job_id, index)


def run_worker(office, *, concurrency: int = 1, hostname: str | None = None) -> None:
    """Run a worker for ``office`` (composed from the settings, so that a wrong setting stops the
    start, not the first task) in this process until it is stopped (``kyso worker``)."""
    global _worker_office
    _worker_office = office
    app = celery_app(office.settings.broker_url)
    argv = ["worker", "--pool", "solo" if concurrency == 1 else "prefork", "--concurrency", str(concurrency),
            "--queues", queue_name(office.settings.database_url), "--loglevel", "INFO", "--without-gossip",
            "--without-mingle", "--without-heartbeat"]
    if hostname:
        argv += ["--hostname", hostname]
    app.worker_main(argv)
