"""Production as an administrator runs it: gunicorn with several workers (commands/gunicorn_conf.py),
PostgreSQL, a SoftHSM2 token standing in for the HSM, and a CA of the administrator's own (not
certs_dev) whose OCSP, CRL and TSA answer over HTTP. Users, keys, images and the trust anchor are
set up with ``kyso admin`` and ``kyso trust``; everything else goes through HTTP."""
from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from certs_dev.images import load_dev_image
from conftest import _drop_postgres, _fresh_postgres_url
from devpki.server import DevPKIServer
from devpki.softhsm import provision_token, put_key
from kyso.fetchguard import FetchGuard
from kyso.samples import make_pdf
from prodpki import make_production_like_pki
from test_fetchguard import document_pointing_at_a_listener  # noqa: F401 - a fixture

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PIN = "76543210"
OPS_TOKEN = "ops-" + "k" * 40
USERS = {   # username: (role, key label on the HSM or None, display name)
    "chu-tich": ("official", "nguyen-van-an", "Nguyễn Văn An"),
    "pho-gd-thu-hoi": ("official", "official-revoked", "Đỗ Minh Tuấn"),
    "gd-het-han": ("official", "official-expired", "Hoàng Văn Nam"),
    "pho-gd-sap-thu-hoi": ("official", "official-revoked-soon", "Ngô Thị Hạnh"),
    "van-thu": ("clerk", "agency-ubnd-hung-yen", "Lê Thị Thư"),
    "tiep-nhan": ("receiver", None, "Văn thư đến"),
    "kiem-toan": ("auditor", None, "Kiểm toán viên"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kyso(env: dict, *args, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "commands.main", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _clock_moved() -> bool:
    """The process clock is not the file system's (the suite runs under libfaketime): gunicorn's
    arbiter, which reads each worker's heartbeat from a file's ctime, would then kill every worker
    as timed out the moment it boots."""
    import tempfile

    with tempfile.NamedTemporaryFile() as probe:
        return abs(os.fstat(probe.fileno()).st_ctime - time.time()) > 120


def start_gunicorn(env: dict, *, workers: int = 3) -> subprocess.Popen:
    heartbeat = ["--timeout", "0"] if _clock_moved() else []
    return subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:commands.gunicorn_conf", "-w", str(workers),
                             *heartbeat, "api:create_app()"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_ready(proc: subprocess.Popen, base: str, *, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read()
            raise AssertionError(f"gunicorn exited {proc.returncode}: {err[:4000]}\n...\n{err[-2000:]}")
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    raise AssertionError(f"gunicorn did not come up in {seconds} s: {err[:4000]}\n...\n{err[-3000:]}")


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    work = tmp_path_factory.mktemp("production")
    # time for the set-up below to finish before the revocation; libfaketime slows every time call,
    # and the set-up with it (it took 50-60 s under faketime, 30-50 s without); the signature made before
    # the revocation is made here, the one after it by the module's last test
    margin = timedelta(seconds=300 if _clock_moved() else 120)
    revoked_soon_at = datetime.now(timezone.utc).replace(microsecond=0) + margin
    config = make_production_like_pki(work / "ca", revoked_soon_at=revoked_soon_at)
    ca = DevPKIServer.start(config_path=config, mount="/pki")
    pki = ca.pki
    labels = [label for _, label, _ in USERS.values() if label]
    token = provision_token(pki, work / "hsm", label="ubnd-hsm", user_pin=PIN, so_pin="87654321",
                            identities=labels)
    database = _fresh_postgres_url()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KYSO_", "PROMETHEUS_"))}
    env.update({
        "SOFTHSM2_CONF": str(token.conf_path), "KYSO_MODE": "production", "KYSO_HOST": "127.0.0.1",
        "KYSO_PORT": str(port), "KYSO_DATA_DIR": str(work / "data"), "KYSO_DATABASE_URL": database,
        "KYSO_SECRET_KEY": "s" * 48, "KYSO_PKCS11_MODULE": token.module_path,
        "KYSO_AUDIT_KEY": "d3b1f0a8c27e4965b0e1a4f79c38d26e5a0f1b7c9e2d4386a1c5f0b9e7d2a463",   # 32 random bytes
        "KYSO_PKCS11_TOKEN": "ubnd-hsm", "KYSO_PKCS11_PIN": PIN, "KYSO_TSA_URL": pki.tsa_url,
        "KYSO_OPS_TOKEN": OPS_TOKEN, "KYSO_TRUSTED_PROXIES": "1", "KYSO_REVOCATION_MAX_AGE": "2",
        "KYSO_AGENCY": "UBND", "KYSO_AGENCY_NAME": "UBND tỉnh Hưng Yên",
        # the administrator's CA answers on this machine: a private address, allowed by name
        "KYSO_FETCH_ALLOW": FetchGuard.allowance_for(pki.tsa_url),
    })
    root = work / "root.pem"
    root.write_bytes(pki.identity("root-gov").cert_pem)
    kyso(env, "trust", "add", root)
    tokens = {}
    for username, (role, label, name) in USERS.items():
        tokens[username] = json.loads(kyso(env, "admin", "create-user", username, "--name", name, "--role", role,
                                           "--agency", "UBND").stdout)["token"]
        if label:
            kyso(env, "admin", "bind-key", username, "--pkcs11-label", label)
            image = work / f"{username}.png"
            image.write_bytes(load_dev_image("agency-ubnd-hung-yen" if role == "clerk" else "nguyen-van-an"))
            kyso(env, "admin", "set-image", username, image)
    server = start_gunicorn(env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(server, base)
        state = {"env": env, "base": base, "tokens": tokens, "pki": pki, "hsm": token, "work": work,
                 "revoked_soon_at": revoked_soon_at, "server": server}
        state["signed_before_revocation"] = (sign(state, "pho-gd-sap-thu-hoi", "B-T"), datetime.now(timezone.utc))
        yield state
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        ca.stop()
        _drop_postgres(database)


def bearer(prod, user: str) -> dict:
    return {"Authorization": f"Bearer {prod['tokens'][user]}"}


def sign(prod, user: str, level: str = "B-B", **extra):
    return requests.post(prod["base"] + "/api/v1/sign", headers={**bearer(prod, user), **extra.pop("headers", {})},
                         files={"file": ("cong-van.pdf", make_pdf(), "application/pdf")}, data={"level": level},
                         timeout=60)


def audit_records(prod) -> list[dict]:
    out = kyso(prod["env"], "audit", "export", "--format", "jsonl").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_a_signature_made_in_production_is_valid_and_carries_the_administrators_ca(prod):
    signed = sign(prod, "chu-tich", "B-LT")
    assert signed.status_code == 200, signed.text
    report = requests.post(prod["base"] + "/api/v1/verify", headers=bearer(prod, "tiep-nhan"),
                           files={"file": ("da-ky.pdf", signed.content, "application/pdf")}, timeout=60).json()
    assert report["verdict"] == "valid", report["reasons"]
    assert "Hưng Yên thử nghiệm" in json.dumps(report, ensure_ascii=False)
    from pyhanko.pdf_utils.reader import PdfFileReader

    embedded = PdfFileReader(io.BytesIO(signed.content)).embedded_signatures[0].signed_data["certificates"]
    names = {c.chosen.subject.native.get("common_name") for c in embedded}
    assert "Hưng Yên thử nghiệm Government CA" in names, "the chain comes with the signature (from the HSM)"


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT"])
def test_a_revoked_or_expired_certificate_is_refused_at_every_level(prod, level):
    for user, code in (("pho-gd-thu-hoi", "certificate_revoked"), ("gd-het-han", "certificate_expired")):
        refused = sign(prod, user, level)
        assert (refused.status_code, refused.json()["error"]["code"]) == (422, code), refused.text


def test_cookies_and_security_headers(prod):
    base = prod["base"]
    https = {"X-Forwarded-Proto": "https"}   # as the TLS proxy in front says
    page = requests.get(base + "/web/login", headers=https, timeout=10)
    assert page.status_code == 200
    for header, fragment in (("Strict-Transport-Security", "max-age=31536000"),
                             ("Content-Security-Policy", "frame-ancestors 'none'"),
                             ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"),
                             ("Referrer-Policy", "same-origin"), ("Cache-Control", "no-store")):
        assert fragment in page.headers.get(header, ""), (header, page.headers.get(header))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    first = page.headers["Set-Cookie"]
    assert "Secure" in first and "HttpOnly" in first and "SameSite=Lax" in first
    # the browser sends the Secure cookie back over the HTTPS it sees
    login = requests.post(base + "/web/login", data={"token": prod["tokens"]["van-thu"], "csrf_token": csrf},
                          headers={**https, "Cookie": first.split(";", 1)[0],
                                   "Referer": base.replace("http://", "https://") + "/web/login"},
                          allow_redirects=False, timeout=10)
    assert login.status_code in (302, 303), login.text[:500]
    cookie = login.headers["Set-Cookie"]
    assert "kyso_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    api = requests.get(base + "/api/v1/registers/outgoing", headers=bearer(prod, "kiem-toan"), timeout=10)
    assert api.headers["X-Content-Type-Options"] == "nosniff" and "max-age" in api.headers["Strict-Transport-Security"]
    # the clerk's register page, in her session, carries the same protections
    register = requests.get(base + "/web/registers/outgoing", timeout=10,
                            headers={**https, "Cookie": cookie.split(";", 1)[0]}, allow_redirects=False)
    assert register.status_code == 200 and "SỔ ĐĂNG KÝ VĂN BẢN ĐI" in register.text, register.status_code
    assert "frame-ancestors 'none'" in register.headers["Content-Security-Policy"]
    assert register.headers["X-Frame-Options"] == "DENY" and "max-age" in register.headers["Strict-Transport-Security"]


def test_metrics_add_up_every_worker_and_are_for_operators_only(prod):
    base = prod["base"]
    for _ in range(30):
        assert requests.get(base + "/healthz", timeout=5).status_code == 200
    assert requests.get(base + "/metrics", timeout=5).status_code == 403
    ready = requests.get(base + "/readyz", timeout=10)
    assert ready.status_code == 200 and "checks" not in ready.json()
    ops = {"Authorization": f"Bearer {OPS_TOKEN}"}
    assert requests.get(base + "/readyz", headers=ops, timeout=10).json()["checks"]["database"] == "ok"
    counts = []
    for _ in range(6):   # each scrape lands on some worker; every one must see the sum
        text = requests.get(base + "/metrics", headers=ops, timeout=5).text
        match = re.search(r'kyso_http_requests_total\{endpoint="/healthz",status="200"\} ([0-9.e+]+)', text)
        assert match, text[:2000]
        counts.append(float(match.group(1)))
    assert min(counts) >= 30, counts


def test_the_audit_trail_records_the_client_behind_the_proxy(prod):
    seen = requests.post(prod["base"] + "/api/v1/verify", headers={**bearer(prod, "tiep-nhan"),
                                                                 "X-Forwarded-For": "203.0.113.77"},
                         files={"file": ("x.pdf", make_pdf(), "application/pdf")}, timeout=30)
    assert seen.status_code == 200
    verifications = [r for r in audit_records(prod) if r["action"] == "verify" and r["actor"] == "tiep-nhan"]
    assert verifications[-1]["client"] == "203.0.113.77"


def test_a_key_replaced_on_the_hsm_is_refused_by_every_worker(prod):
    assert sign(prod, "chu-tich").status_code == 200
    put_key(prod["hsm"], prod["pki"], "official-revoked-soon", object_label="nguyen-van-an")
    try:
        for _ in range(6):
            refused = sign(prod, "chu-tich")
            assert (refused.status_code, refused.json()["error"]["code"]) == (409, "key_binding_mismatch")
        assert any(r["result"] == "key_binding_mismatch" and r["actor"] == "chu-tich" for r in audit_records(prod))
    finally:
        put_key(prod["hsm"], prod["pki"], "nguyen-van-an")
    for _ in range(6):     # every worker, also one that signed before and never saw the wrong key
        restored = sign(prod, "chu-tich")
        assert restored.status_code == 200, restored.text[:500]


def test_a_wrong_pin_costs_one_attempt_and_stops_the_start_with_one_line(prod, tmp_path):
    env = {**prod["env"], "KYSO_PKCS11_PIN": "00000000", "KYSO_DATA_DIR": str(tmp_path / "data"),
           "KYSO_TRUST_DIR": str(Path(prod["env"]["KYSO_DATA_DIR"]) / "trust"), "KYSO_PORT": str(_free_port())}
    first = start_gunicorn(env, workers=4)
    _, err = first.communicate(timeout=120)
    assert first.returncode != 0
    [line] = [l for l in err.splitlines() if l.startswith("Error:")]
    assert "KYSO_PKCS11_PIN" in line and "'ubnd-hsm'" in line and "attempts left" in line
    marker = json.loads((tmp_path / "data" / "pkcs11-pin-refused.json").read_text())
    assert marker["token"] == "ubnd-hsm" and "00000000" not in json.dumps(marker)
    again = start_gunicorn(env, workers=4)
    _, err = again.communicate(timeout=120)
    assert again.returncode != 0 and "not trying it again" in err
    # the right PIN clears it
    # this start's data home is new while its database is the shared one: the reconciler warns (exit 3)
    # that the other home's documents are not here, which does not stop a start
    ok = kyso({**env, "KYSO_PKCS11_PIN": PIN}, "doctor", check=False)
    assert ok.returncode in (0, 3), ok.stdout + ok.stderr
    assert "ok   token" in ok.stdout and not (tmp_path / "data" / "pkcs11-pin-refused.json").exists()


def test_a_start_with_an_unreachable_database_says_which_setting_in_one_line(prod, tmp_path):
    env = {**prod["env"], "KYSO_DATABASE_URL": "postgresql+psycopg://kyso:secret@127.0.0.1:1/kyso",
           "KYSO_DATA_DIR": str(tmp_path / "data"), "KYSO_PORT": str(_free_port())}
    proc = start_gunicorn(env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    [line] = [l for l in err.splitlines() if l.startswith("Error:")]
    assert "KYSO_DATABASE_URL" in line and "secret" not in err
    assert "Traceback" not in err


def test_the_start_refuses_a_tsa_url_without_a_scheme(prod, tmp_path):
    proc = kyso({**prod["env"], "KYSO_TSA_URL": "tsa.example.vn/tsa"}, "doctor", check=False)
    assert proc.returncode == 1 and "KYSO_TSA_URL" in proc.stderr


def test_a_certificate_revoked_while_the_service_runs_is_refused_within_the_bound(prod):
    """Revoked at a moment after start-up: signatures stop within KYSO_REVOCATION_MAX_AGE (2 s here)
    of the revocation, at every level and in every worker. Last in the module: the set-up signed before
    the revocation moment, the module's other tests run while it approaches."""
    before, at = prod["signed_before_revocation"]
    assert at < prod["revoked_soon_at"], ("the set-up took longer than the revocation delay", at.isoformat(),
                                          prod["revoked_soon_at"].isoformat())
    assert before.status_code == 200, before.text
    wait = (prod["revoked_soon_at"] - datetime.now(timezone.utc)).total_seconds() + 2.5
    time.sleep(max(wait, 0))
    for level in ("B-B", "B-T", "B-LT", "B-B", "B-B", "B-B"):   # several requests: every worker
        refused = sign(prod, "pho-gd-sap-thu-hoi", level)
        assert (refused.status_code, refused.json()["error"]["code"]) == (422, "certificate_revoked"), level


def test_a_document_naming_private_addresses_makes_the_service_knock_nowhere(prod, document_pointing_at_a_listener):
    """A receiving office verifies, and a clerk extends, a document whose certificates name OCSP,
    CRL and issuer addresses on this machine (a listener there): the production service, which
    allows only its CA's address (KYSO_FETCH_ALLOW), asks none of them."""
    data, _, knocks = document_pointing_at_a_listener
    report = requests.post(prod["base"] + "/api/v1/verify", headers=bearer(prod, "tiep-nhan"),
                           files={"file": ("den.pdf", data, "application/pdf")}, timeout=60)
    assert report.status_code == 200, report.text
    assert report.json()["verdict"] == "indeterminate", report.json()["reasons"]
    for user in ("van-thu", "chu-tich"):
        extended = requests.post(prod["base"] + "/api/v1/extend", headers=bearer(prod, user),
                                 files={"file": ("den.pdf", data, "application/pdf")}, data={"to": "B-LT"},
                                 timeout=60)
        assert 400 <= extended.status_code < 500, extended.text
    assert knocks.count == 0
