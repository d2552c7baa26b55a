"""Bulk verification as jobs: submitted once, done by workers, followed by whoever submitted it.
In one process (the embedded default: a background thread) and with real Celery workers on
RabbitMQ (127.0.0.1:5672), PostgreSQL and SeaweedFS, one of them killed halfway: every document
done, each recorded once."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from kyso.samples import make_pdf
from signer import Level, SignRequest, SoftwareKeyHolder

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"Authorization": "Bearer kyso-dev-receiver"}


def _signed(engine, pki, n: int) -> list[bytes]:
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    return [engine.sign(SignRequest(document=make_pdf(pages=1, seed=i), level=Level.B_B),
                        key_holder=holder).data for i in range(n)]


def _zip(documents: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in documents.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _wait(client, job_id: str, *, timeout: float, until=lambda job: job["finished"]) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/v1/verify/jobs/{job_id}", headers=AUTH).get_json()
        if until(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def test_a_job_in_one_process(client, engine, pki):
    good = _signed(engine, pki, 1)[0]
    tampered = bytearray(good)
    tampered[200] ^= 1
    archive = _zip({"hợp lệ.pdf": good, "bị sửa.pdf": bytes(tampered), "chưa ký.pdf": make_pdf(pages=1),
                    "ghi chú.txt": b"not a pdf"})
    submitted = client.post("/api/v1/verify/jobs", headers=AUTH, content_type="multipart/form-data",
                            data={"zip": (io.BytesIO(archive), "thư đến.zip")})
    assert submitted.status_code == 202, submitted.get_data(as_text=True)[:500]
    job = submitted.get_json()
    assert job["schema"] == "kyso.verify-job/1" and job["total"] == 4
    job = _wait(client, job["id"], timeout=60)
    assert job["finished"] and job["done"] == 4
    by_file = {r["file"]: r["verdict"] for r in job["results"]}
    assert by_file == {"hợp lệ.pdf": "valid", "bị sửa.pdf": "invalid", "chưa ký.pdf": "unsigned",
                       "ghi chú.txt": "indeterminate"}
    assert job["verdicts"] == {"valid": 1, "invalid": 1, "unsigned": 1, "indeterminate": 1}
    # the same documents again, by their SHA-256 (stored for the submitter's agency by the first job)
    stored = [r["sha256"] for r in job["results"] if r["file"].endswith(".pdf")]
    again = client.post("/api/v1/verify/jobs", headers=AUTH, content_type="multipart/form-data",
                        data={"documents": ",".join(stored)})
    assert again.status_code == 202
    again = _wait(client, again.get_json()["id"], timeout=60)
    assert sorted(r["verdict"] for r in again["results"]) == ["invalid", "unsigned", "valid"]
    with_reports = client.get(f"/api/v1/verify/jobs/{again['id']}?reports=true", headers=AUTH).get_json()
    assert all("report" in r for r in with_reports["results"])
    # someone of another agency (le-hoang-phuc: SNV) does not see it
    other = client.get(f"/api/v1/verify/jobs/{job['id']}", headers={"Authorization": "Bearer kyso-dev-le-hoang-phuc"})
    assert other.status_code == 404 and other.get_json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/verify/jobs/nothing-here", headers=AUTH).status_code == 404


def _worker(name: str, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "commands.main", "worker", "--name", f"{name}@kyso-tests"],
                            cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


@pytest.mark.slow
def test_two_workers_one_killed_halfway_every_document_done_once(pki_server, s3_server, engine, pki,
                                                                 softhsm_token, pkcs11_token, tmp_path):
    from sqlalchemy import create_engine, text

    from api import create_app
    from conftest import _drop_postgres, _fresh_postgres_url
    from kyso.settings import Settings
    from office import Office

    url = _fresh_postgres_url()
    common = dict(KYSO_DATABASE_URL=url, KYSO_DEV_PKI_URL=pki_server.base_url, KYSO_AUDIT_KEY="d4" * 32,
                  KYSO_STORE_URL=f"s3://kyso-tests/jobs-{tmp_path.name}", KYSO_S3_ENDPOINT_URL=s3_server.endpoint,
                  KYSO_S3_ACCESS_KEY_ID="kyso", KYSO_S3_SECRET_ACCESS_KEY="kyso",
                  KYSO_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//")
    workers = []
    try:
        settings = Settings.from_env({**common, "KYSO_DATA_DIR": str(tmp_path / "web")})
        client = create_app(settings, office=Office.from_settings(settings, token=pkcs11_token)).test_client()
        for name in ("w1", "w2"):
            env = {k: v for k, v in os.environ.items() if not k.startswith("KYSO_") and k != "SOFTHSM2_CONF"}
            env.update(common, KYSO_DATA_DIR=str(tmp_path / name))
            workers.append(_worker(name, env, tmp_path / f"{name}.log"))
        documents = {f"văn bản {i:03}.pdf": data for i, data in enumerate(_signed(engine, pki, 200))}
        submitted = client.post("/api/v1/verify/jobs", headers=AUTH, content_type="multipart/form-data",
                                data={"zip": (io.BytesIO(_zip(documents)), "200.zip")})
        assert submitted.status_code == 202, submitted.get_data(as_text=True)[:500]
        job_id = submitted.get_json()["id"]
        halfway = _wait(client, job_id, timeout=180, until=lambda job: job["done"] >= 60)
        assert halfway["done"] >= 60, ((tmp_path / "w1.log").read_text(errors="replace")[-3000:])
        os.killpg(workers[0].pid, signal.SIGKILL)        # a worker dies, perhaps in the middle of a document
        workers[0].wait(timeout=30)
        job = _wait(client, job_id, timeout=300)
        assert job["finished"], (job["done"], (tmp_path / "w2.log").read_text(errors="replace")[-3000:])
        assert job["done"] == 200 and job["verdicts"] == {"valid": 200}
        db = create_engine(url)
        with db.connect() as conn:
            details = [json.loads(d) if isinstance(d, str) else d for d in conn.execute(text(
                "SELECT detail FROM audit WHERE action = 'verify'")).scalars()]
        db.dispose()
        items = sorted(d["item"] for d in details if d and d.get("job") == job_id)
        assert items == list(range(1, 201)), "each document recorded once in the audit trail"
    finally:
        for proc in workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        _drop_postgres(url)


def test_the_incoming_register_verified_again_as_a_job(client):
    """After a trust-store change the receiving clerk asks which received documents would still
    pass: one job over the agency's incoming register, as of now."""
    from kyso.samples import make_decree30_draft

    def auth(user):
        return {"Authorization": f"Bearer kyso-dev-{user}"}

    personal = client.post("/api/v1/sign", headers=auth("nguyen-van-an"), content_type="multipart/form-data",
                           data={"file": (io.BytesIO(make_decree30_draft()), "dự thảo.pdf"), "level": "B-T",
                                 "appearance": "personal"})
    assert personal.status_code == 200, personal.get_data(as_text=True)[:300]
    issued = client.post("/api/v1/issue", headers=auth("agency-ubnd-hung-yen"), content_type="multipart/form-data",
                         data={"file": (io.BytesIO(personal.data), "chỉ thị.pdf"), "type": "CT", "level": "B-T"})
    assert issued.status_code == 200, issued.get_data(as_text=True)[:300]
    received = client.post("/api/v1/incoming", headers=AUTH, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(issued.data), "đến.pdf"), "sender": "UBND tỉnh Hưng Yên"})
    assert received.status_code == 200, received.get_data(as_text=True)[:300]
    number = received.get_json()["number_text"]
    job = client.post("/api/v1/incoming/reverify", headers=AUTH, content_type="multipart/form-data", data={})
    assert job.status_code == 202, job.get_data(as_text=True)[:300]
    job = _wait(client, job.get_json()["id"], timeout=120)
    assert job["finished"] and job["kind"] == "incoming"
    [mine] = [r for r in job["results"] if r["file"].startswith(f"{number}/") and "Hưng Yên" in r["file"]]
    assert mine["verdict"] == "valid"
    official = client.post("/api/v1/incoming/reverify", headers=auth("nguyen-van-an"),
                           content_type="multipart/form-data", data={})
    assert official.status_code == 403, "an official does not keep the incoming register"


def test_kyso_verify_jobs_on_the_command_line(kyso_cli, engine, pki, tmp_path):
    folder = tmp_path / "Hộp thư đến"
    folder.mkdir()
    (folder / "công văn.pdf").write_bytes(_signed(engine, pki, 1)[0])
    (folder / "chưa ký.pdf").write_bytes(make_pdf(pages=1))
    result = kyso_cli("verify-jobs", "submit", folder, "--as", "receiver", "--json")
    assert result.exit_code == 1, result.output           # one document did not pass
    job = json.loads(result.stdout.strip().splitlines()[-1])
    assert job["finished"] and job["verdicts"] == {"valid": 1, "unsigned": 1}
    shown = kyso_cli("verify-jobs", "show", job["id"], "--as", "receiver")
    assert shown.exit_code == 0 and "chưa ký.pdf" in shown.stdout and "KHÔNG CÓ CHỮ KÝ / unsigned" in shown.stdout
    assert kyso_cli("verify-jobs", "submit", folder).exit_code == 2, "--as is required"


@pytest.mark.slow
def test_a_job_through_redis(pki_server, s3_server, engine, pki, softhsm_token, pkcs11_token, tmp_path):
    """The other broker the README offers (redis://, this machine's Redis on 6379): a worker takes
    the documents from it (the client library once was not installed: every submission failed)."""
    from api import create_app
    from conftest import _drop_postgres, _fresh_postgres_url
    from kyso.settings import Settings
    from office import Office

    url = _fresh_postgres_url()
    common = dict(KYSO_DATABASE_URL=url, KYSO_DEV_PKI_URL=pki_server.base_url, KYSO_AUDIT_KEY="d5" * 32,
                  KYSO_STORE_URL=f"s3://kyso-tests/redis-{tmp_path.name}", KYSO_S3_ENDPOINT_URL=s3_server.endpoint,
                  KYSO_S3_ACCESS_KEY_ID="kyso", KYSO_S3_SECRET_ACCESS_KEY="kyso",
                  KYSO_BROKER_URL="redis://127.0.0.1:6379/7")
    worker = None
    try:
        settings = Settings.from_env({**common, "KYSO_DATA_DIR": str(tmp_path / "web")})
        client = create_app(settings, office=Office.from_settings(settings, token=pkcs11_token)).test_client()
        env = {k: v for k, v in os.environ.items() if not k.startswith("KYSO_") and k != "SOFTHSM2_CONF"}
        env.update(common, KYSO_DATA_DIR=str(tmp_path / "w"))
        worker = _worker("w", env, tmp_path / "w.log")
        documents = {f"văn bản {i}.pdf": data for i, data in enumerate(_signed(engine, pki, 5))}
        documents["chưa ký.pdf"] = make_pdf(pages=1)
        submitted = client.post("/api/v1/verify/jobs", headers=AUTH, content_type="multipart/form-data",
                                data={"zip": (io.BytesIO(_zip(documents)), "6.zip")})
        assert submitted.status_code == 202, submitted.get_data(as_text=True)[:500]
        job = _wait(client, submitted.get_json()["id"], timeout=120)
        assert job["finished"], (tmp_path / "w.log").read_text(errors="replace")[-3000:]
        assert job["verdicts"] == {"valid": 5, "unsigned": 1}
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        _drop_postgres(url)


def test_a_job_the_queue_lost_is_queued_again_once(pki_server, pkcs11_token, engine, pki, tmp_path):
    """The broker is down when a receiving clerk submits: the job is recorded (its documents stored)
    and the answer says so (503, the job's id); the housekeeper of a web worker queues a job that has
    not moved for 15 minutes again, once, and it finishes. The same covers the embedded default's
    background thread dying with its process."""
    import dataclasses
    from datetime import datetime, timedelta, timezone

    from api import create_app
    from kyso.settings import Settings
    from office import Office

    settings = Settings.from_env({"KYSO_DATA_DIR": str(tmp_path / "data"), "KYSO_DEV_PKI_URL": pki_server.base_url,
                                  "KYSO_BROKER_URL": "amqp://guest:guest@127.0.0.1:9//"})   # nothing listens there
    submitted_at = datetime(2031, 3, 2, 8, 0, tzinfo=timezone.utc)
    down = Office.from_settings(settings, token=pkcs11_token, clock=lambda: submitted_at)
    client = create_app(settings, office=down).test_client()
    documents = {"công văn.pdf": _signed(engine, pki, 1)[0], "chưa ký.pdf": make_pdf(pages=1)}
    refused = client.post("/api/v1/verify/jobs", headers=AUTH, content_type="multipart/form-data",
                          data={"zip": (io.BytesIO(_zip(documents)), "thư đến.zip")})
    assert refused.status_code == 503, refused.get_data(as_text=True)[:500]
    error = refused.get_json()["error"]
    assert error["code"] == "job_queue_unavailable" and "hàng đợi" in error["message_vi"]
    job_id = error["detail"]["job"]
    waiting = client.get(f"/api/v1/verify/jobs/{job_id}", headers=AUTH).get_json()
    assert waiting["total"] == 2 and waiting["done"] == 0 and not waiting["finished"]

    embedded = Office.from_settings(dataclasses.replace(settings, broker_url=None), token=pkcs11_token)
    assert embedded.requeue_stalled_jobs(now=submitted_at + timedelta(minutes=14)) == []
    assert embedded.requeue_stalled_jobs(now=submitted_at + timedelta(minutes=16)) == [job_id]
    assert embedded.requeue_stalled_jobs(now=submitted_at + timedelta(minutes=16)) == [], "taken once"
    receiver = embedded.caller("receiver")
    deadline = time.monotonic() + 60
    while not (job := embedded.verify_job(receiver, job_id))["finished"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job["finished"] and job["verdicts"] == {"valid": 1, "unsigned": 1}
