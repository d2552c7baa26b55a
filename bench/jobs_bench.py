#!/usr/bin/env python3
"""Bulk verification throughput: jobs done by 1 and by 2 `kyso worker` processes (RabbitMQ on
127.0.0.1:5672, PostgreSQL, SeaweedFS), against in-process verification of the same documents.

    .venv/bin/python bench/jobs_bench.py [--documents 200]

For each worker count: the time from submitting a job of N signed 100 KB documents (already
stored: `documents=` SHA-256) to its last result, documents per second, and the queue's cost per
document against verifying the same documents in one process, one after the other (same run,
same documents, the path memory warm on both sides). Prints one table and the sizing it implies.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from interleave import table  # noqa: E402

AUTH = {"Authorization": "Bearer kyso-dev-receiver"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=200)
    args = parser.parse_args()
    for name in ("pyhanko", "pyhanko_certvalidator", "fontTools", "celery", "kombu"):
        import logging

        logging.getLogger(name).setLevel(logging.CRITICAL)

    from conftest import _drop_postgres, _fresh_postgres_url
    from devpki.server import DevPKIServer
    from seaweed import SeaweedS3

    from api import create_app
    from kyso.samples import KB, make_pdf
    from kyso.settings import Settings
    from office import Office
    from signer import Level, SignRequest, SigningEngine, SoftwareKeyHolder

    n = args.documents
    tmp = Path(tempfile.mkdtemp(prefix="kyso-jobs-bench-"))
    s3 = SeaweedS3(tmp / "weed")
    s3.bucket("kyso-bench")
    url = _fresh_postgres_url()
    rows, workers = [], []
    try:
        with DevPKIServer.start() as pki:
            common = dict(KYSO_DATABASE_URL=url, KYSO_DEV_PKI_URL=pki.base_url, KYSO_AUDIT_KEY="e5" * 32,
                          KYSO_STORE_URL="s3://kyso-bench/jobs", KYSO_S3_ENDPOINT_URL=s3.endpoint,
                          KYSO_S3_ACCESS_KEY_ID="kyso", KYSO_S3_SECRET_ACCESS_KEY="kyso",
                          KYSO_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//")
            settings = Settings.from_env({**common, "KYSO_DATA_DIR": str(tmp / "web")})
            office = Office.from_settings(settings)
            client = create_app(settings, office=office).test_client()
            engine = SigningEngine.for_dev_pki(pki.pki)
            holder = SoftwareKeyHolder.from_dev_pki(pki.pki, "nguyen-van-an")
            documents = [engine.sign(SignRequest(document=make_pdf(size=100 * KB, seed=i), level=Level.B_B),
                                     key_holder=holder).data for i in range(n)]
            # stored once (a first job in one process would also do): the timed jobs name them by SHA-256
            caller = office.caller("receiver")
            shas = [office.keep(caller, d, origin="checked", action="verify").sha256 for d in documents]

            # in process, one after the other: the same documents, the same office (memory warm)
            for sha in shas[:20]:
                office._verify(office.blobs.verifiable(sha))
            started = time.perf_counter()
            for sha in shas:
                office._verify(office.blobs.verifiable(sha))
            in_process = time.perf_counter() - started
            rows.append(["in process, one after the other", f"{in_process:.1f}", f"{n / in_process:.1f}",
                         f"{1000 * in_process / n:.1f}", "-"])

            env = {k: v for k, v in os.environ.items() if not k.startswith("KYSO_") and k != "SOFTHSM2_CONF"}
            for count in (1, 2):
                while len(workers) < count:
                    name = f"w{len(workers) + 1}"
                    workers.append(subprocess.Popen(
                        [sys.executable, "-m", "commands.main", "worker", "--name", f"{name}@bench"], cwd=ROOT,
                        env={**env, **common, "KYSO_DATA_DIR": str(tmp / name)}, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, start_new_session=True))
                time.sleep(12)   # the new worker composes its office (token, registers, fonts)
                warm = client.post("/api/v1/verify/jobs", headers=AUTH, content_type="multipart/form-data",
                                   data={"documents": ",".join(shas[:10])}).get_json()
                _wait(client, warm["id"])
                started = time.perf_counter()
                job = client.post("/api/v1/verify/jobs", headers=AUTH, content_type="multipart/form-data",
                                  data={"documents": ",".join(shas)}).get_json()
                job = _wait(client, job["id"])
                elapsed = time.perf_counter() - started
                assert job["done"] == n and job["verdicts"] == {"valid": n}, job["verdicts"]
                rows.append([f"job, {count} worker{'s' if count > 1 else ''}", f"{elapsed:.1f}", f"{n / elapsed:.1f}",
                             f"{1000 * elapsed / n:.1f}", f"{1000 * (elapsed - in_process) / n:+.1f}"])
    finally:
        for proc in workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        s3.stop()
        _drop_postgres(url)
    print(f"\nBulk verification of {n} signed 100 KB documents (B-B), {os.cpu_count()} cores, the submitting "
          "node in the same machine")
    print(table(rows, ["how", "seconds", "documents/s", "ms per document", "queue's cost per document (ms)"]))


def _wait(client, job_id: str, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/v1/verify/jobs/{job_id}", headers=AUTH).get_json()
        if job["finished"] or time.monotonic() > deadline:
            return job
        time.sleep(0.25)   # as a progress bar polls: the poll must not take the workers' CPU


if __name__ == "__main__":
    main()
