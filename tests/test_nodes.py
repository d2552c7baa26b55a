"""Two web nodes, two workers, one PostgreSQL database, one S3 bucket (SeaweedFS) and one broker
(RabbitMQ), all on 127.0.0.1, started as an operator starts them (gunicorn with the production
configuration file on two ports, `kyso worker` twice) and used over HTTP only, as the README's
two-node section says: what one node stores or starts, the other serves or finishes."""
from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from kyso.samples import make_pdf
from signer import Level, SignRequest, SoftwareKeyHolder

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _auth(user: str) -> dict:
    return {"Authorization": f"Bearer kyso-dev-{user}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Process:
    """A process of the deployment in its own session (killed with everything it started)."""

    def __init__(self, name: str, cmd: list[str], env: dict, log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(self.log_path, "wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


class _WebNode(_Process):
    def __init__(self, name: str, env: dict, log_dir: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        super().__init__(name, [str(BIN / "gunicorn"), "-c", "python:commands.gunicorn_conf", "-w", "2",
                                "--graceful-timeout", "5", "api:create_app()"],
                         dict(env, KYSO_HOST="127.0.0.1", KYSO_PORT=str(self.port)), log_dir)

    def wait_ready(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.log()}"
            try:
                if requests.get(self.base + "/readyz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{self.name} not ready:\n{self.log()}")

    def post(self, path: str, user: str, *, files=None, data=None) -> requests.Response:
        return requests.post(self.base + path, headers=_auth(user), files=files, data=data, timeout=120)

    def get(self, path: str, user: str) -> requests.Response:
        return requests.get(self.base + path, headers=_auth(user), timeout=60)


def _job(node: _WebNode, job_id: str, *, timeout: float, until=lambda job: job["finished"]) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        response = node.get(f"/api/v1/verify/jobs/{job_id}", "receiver")
        assert response.status_code == 200, response.text[:500]
        job = response.json()
        if until(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


@pytest.mark.slow
def test_two_web_nodes_and_two_workers_share_one_service(pki_server, s3_server, engine, pki, tmp_path):
    from sqlalchemy import create_engine, text

    from conftest import _drop_postgres, _fresh_postgres_url

    url = _fresh_postgres_url()
    common = {k: v for k, v in os.environ.items() if not k.startswith("KYSO_") and k != "SOFTHSM2_CONF"}
    common.update(KYSO_DATABASE_URL=url, KYSO_DEV_PKI_URL=pki_server.base_url, KYSO_AUDIT_KEY="e5" * 32,
                  KYSO_SECRET_KEY="f6" * 32, KYSO_STORE_URL=f"s3://kyso-tests/nodes-{tmp_path.name}",
                  KYSO_S3_ENDPOINT_URL=s3_server.endpoint, KYSO_S3_ACCESS_KEY_ID="kyso",
                  KYSO_S3_SECRET_ACCESS_KEY="kyso", KYSO_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//")
    processes: list[_Process] = []
    try:
        # an empty database and an empty bucket prefix: both nodes start at once
        a = _WebNode("node-a", dict(common, KYSO_DATA_DIR=str(tmp_path / "a")), tmp_path)
        b = _WebNode("node-b", dict(common, KYSO_DATA_DIR=str(tmp_path / "b")), tmp_path)
        processes += [a, b]
        workers = [_Process(name, [str(BIN / "kyso"), "worker", "--name", f"{name}@kyso-tests"],
                            dict(common, KYSO_DATA_DIR=str(tmp_path / name)), tmp_path) for name in ("w1", "w2")]
        processes += workers
        a.wait_ready()
        b.wait_ready()

        # an official signs through node A; node B serves the stored document and verifies it
        signed = a.post("/api/v1/sign", "nguyen-van-an", data={"level": "B-T"},
                        files={"file": ("Tờ trình.pdf", make_pdf(pages=2, title="To trinh"), "application/pdf")})
        assert signed.status_code == 200, signed.text[:500]
        sha = signed.headers["X-Kyso-Sha256"]
        downloaded = b.get(f"/api/v1/documents/{sha}", "nguyen-van-an")
        assert downloaded.status_code == 200 and downloaded.content == signed.content
        verdict = b.post("/api/v1/verify", "receiver", files={"file": ("to-trinh.pdf", downloaded.content)}).json()
        assert verdict["verdict"] == "valid" and verdict["signatures"][0]["level"] == "B-T", verdict["reasons"]

        # a two-step signature (the official's USB token) prepared on A is finished on B
        prepared = a.post("/api/v1/sign/prepare", "nguyen-van-an", data={"level": "B-B"},
                          files={"file": ("Công văn.pdf", make_pdf(pages=1, seed=7), "application/pdf")})
        assert prepared.status_code == 200, prepared.text[:500]
        body = prepared.json()
        value = pki.private_key("nguyen-van-an").sign(base64.b64decode(body["to_be_signed"]),
                                                      padding.PKCS1v15(), hashes.SHA256())
        finished = b.post("/api/v1/sign/finish", "nguyen-van-an",
                          data={"handle": body["handle"], "signature": base64.b64encode(value).decode()})
        assert finished.status_code == 200, finished.text[:500]
        verdict = a.post("/api/v1/verify", "receiver", files={"file": ("cong-van.pdf", finished.content)}).json()
        assert verdict["verdict"] == "valid", verdict["reasons"]
        again = a.post("/api/v1/sign/finish", "nguyen-van-an",
                       data={"handle": body["handle"], "signature": base64.b64encode(value).decode()})
        assert again.status_code == 404 and again.json()["error"]["code"] == "signing_handle_unknown"

        # 200 documents as one job submitted to A, followed on B, one worker killed halfway
        holder = SoftwareKeyHolder.from_dev_pki(pki, "le-hoang-phuc")
        documents = {f"văn bản {i:03}.pdf": engine.sign(SignRequest(document=make_pdf(pages=1, seed=1000 + i),
                                                                    level=Level.B_B), key_holder=holder).data
                     for i in range(200)}
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in documents.items():
                zf.writestr(name, data)
        submitted = a.post("/api/v1/verify/jobs", "receiver",
                           files={"zip": ("thư đến.zip", archive.getvalue(), "application/zip")})
        assert submitted.status_code == 202, submitted.text[:500]
        job_id = submitted.json()["id"]
        halfway = _job(b, job_id, timeout=240, until=lambda job: job["done"] >= 60)
        assert halfway["done"] >= 60, workers[0].log()
        assert halfway["done"] < 200, "the kill must come before the end to mean anything"
        workers[0].kill()              # a worker dies, perhaps in the middle of a document
        job = _job(b, job_id, timeout=300)
        assert job["finished"], (job["done"], workers[1].log())
        assert job["done"] == 200 and job["verdicts"] == {"valid": 200}
        with_reports = b.get(f"/api/v1/verify/jobs/{job_id}?reports=true", "receiver").json()
        assert sorted(r["file"] for r in with_reports["results"]) == sorted(documents)
        assert all(r["report"]["verdict"] == "valid" for r in with_reports["results"])
        # every stored document is served by both nodes (the bucket, not a node's disk)
        some = with_reports["results"][137]["sha256"]
        assert a.get(f"/api/v1/documents/{some}", "receiver").content == \
            b.get(f"/api/v1/documents/{some}", "receiver").content == documents[with_reports["results"][137]["file"]]

        db = create_engine(url)
        with db.connect() as conn:
            details = [json.loads(d) if isinstance(d, str) else d for d in conn.execute(text(
                "SELECT detail FROM audit WHERE action = 'verify'")).scalars()]
            shas = [r["sha256"] for r in with_reports["results"]]
            stored = conn.execute(text("SELECT count(*) FROM document WHERE sha256 = ANY(:s)"), {"s": shas}).scalar()
            items_done = conn.execute(text("SELECT status, verdict, count(*) FROM verify_job_item WHERE job_id = :j "
                                           "GROUP BY status, verdict"), {"j": job_id}).all()
        db.dispose()
        items = sorted(d["item"] for d in details if d and d.get("job") == job_id)
        assert items == list(range(1, 201)), "each document recorded once in the audit trail"
        assert len(set(shas)) == 200 and stored == 200, "every document of the job kept in the register"
        assert [tuple(r) for r in items_done] == [("done", "valid", 200)]
        for node in (a, b):
            assert "Traceback" not in node.log(), node.log()
    finally:
        for process in processes:
            process.stop()
        _drop_postgres(url)
