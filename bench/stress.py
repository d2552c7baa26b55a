#!/usr/bin/env python3
"""``make stress``: hostile input, load and faults, with a summary table.

    .venv/bin/python bench/stress.py [--verifier-cases 10000] [--http-cases 1000] [--load-seconds 600]
                                     [--quick]

1. Hostile input through the verifier: ``--verifier-cases`` cases from ``hostile`` in 2 worker
   processes, each case under a hard time budget (SIGALRM); counts per family, time percentiles,
   peak memory of the workers, and any mutated signed document judged valid (must be none, except
   "neutral edits": changed bytes outside everything signed AND a report identical to the
   original's, such as the unsigned DSS update's trailer /ID; see ``neutral_edit``).
2. Hostile input over HTTP: ``--http-cases`` uploads to /api/v1/verify and /api/v1/sign against
   gunicorn (4 workers) on PostgreSQL: no 5xx, time percentiles.
3. Load: ``--load-seconds`` of concurrent signing, issuing and verifying with 1% malformed uploads;
   then every request has exactly one audit record, the audit chain verifies, issued numbers are
   unique and gapless, every stored document verifies.
4. Faults: TSA unreachable (503, no file), the whole dev PKI down (OCSP/CRL/TSA: 503, no file), PostgreSQL restarted during load (clean errors, then the
   service resumes by itself), a worker killed with SIGKILL during load (respawned, nothing partial),
   then the store and the audit chain checked again.

Targets only 127.0.0.1; every loop is bounded in time and count.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from http_bench import Gunicorn, SeparatePKI, multipart, percentile, table  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CASE_BUDGET = 20


# -- 1. the verifier ----------------------------------------------------------------------------

_POLICY = None
_ORIGINALS: tuple[bytes, ...] = ()     # the signed sources, set before the pool forks
_ORIGINAL_REPORTS: dict[int, dict] = {}
_PER_RUN = ("file", "sha256", "size", "validation_time", "duration_ms")


def _comparable(report) -> dict:
    d = report.to_dict()
    for key in _PER_RUN:
        d.pop(key, None)
    return d


def neutral_edit(data: bytes, report) -> bool:
    """A mutated signed document that comes out valid is a NEUTRAL edit (not a miss) only when
    every changed byte lies outside the signed byte ranges and the signature holes, and the
    report is the original's, field for field: nothing the verifier judges changed. Examples:
    the trailer /ID of the unsigned DSS update, or a space that became a leading zero
    (``[ 18 0 R`` -> ``[018 0 R``). Anything else counts as a miss."""
    import re

    from verifier import verify

    candidates = [(i, o) for i, o in enumerate(_ORIGINALS) if len(o) == len(data)]
    if not candidates:
        return False
    index, original = min(candidates, key=lambda c: sum(a != b for a, b in zip(c[1], data)))
    changed = [k for k in range(len(data)) if data[k] != original[k]]
    for m in re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", original):
        a, la, b, lb = (int(x) for x in m.groups())
        if any(a <= k < b + lb for k in changed):     # signed bytes, or the /Contents hole between
            return False
    if index not in _ORIGINAL_REPORTS:
        _ORIGINAL_REPORTS[index] = _comparable(verify(original, policy=_POLICY, file_name="original"))
    return _comparable(report) == _ORIGINAL_REPORTS[index]


def _init_worker(pki_url: str) -> None:
    import logging

    global _POLICY
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    from devpki import DevPKI
    from verifier import VerificationPolicy

    _POLICY = VerificationPolicy.for_profile("dev", dev_pki=DevPKI.load(pki_url), time_budget_seconds=10)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _verify_case(args):
    name, family, from_signed, data = args
    from verifier import verify

    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_BUDGET)
    started = time.perf_counter()
    try:
        report = verify(data, policy=_POLICY, file_name=name)
        verdict, outcome = report.verdict.value, "ok"
        if from_signed and verdict == "valid" and neutral_edit(data, report):
            verdict = "valid (neutral edit)"
    except _Timeout:
        verdict, outcome = "timeout", "timeout"
    except BaseException as exc:  # noqa: BLE001 - counted: verify() must never raise
        verdict, outcome = "exception", f"{type(exc).__name__}"
    finally:
        signal.alarm(0)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return name, family, from_signed, verdict, outcome, elapsed, peak


def _sources(pki_url: str):
    from devpki import DevPKI
    from hostile import Sources
    from kyso.samples import make_pdf
    from signer import SignRequest, SigningEngine, SoftwareKeyHolder

    pki = DevPKI.load(pki_url)
    engine = SigningEngine.for_dev_pki(pki)
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    signed = tuple(engine.sign(SignRequest(document=make_pdf(pages=2), level=level), key_holder=holder).data
                   for level in ("B-B", "B-T", "B-LT", "B-LTA"))
    return Sources(unsigned=make_pdf(pages=2), signed=signed)


def stress_verifier(pki_url: str, count: int) -> tuple[list, list[str]]:
    from hostile import cases

    global _ORIGINALS
    sources = _sources(pki_url)
    _ORIGINALS = sources.signed
    per_family = defaultdict(list)
    problems: list[str] = []
    peak = 0
    context = multiprocessing.get_context("fork")
    with context.Pool(2, initializer=_init_worker, initargs=(pki_url,), maxtasksperchild=500) as pool:
        work = ((c.name, c.family, c.from_signed, c.data) for c in cases(sources, count=count, seed=2026))
        for name, family, from_signed, verdict, outcome, elapsed, rss in pool.imap_unordered(_verify_case, work,
                                                                                          chunksize=8):
            per_family[family].append((verdict, outcome, elapsed))
            peak = max(peak, rss)
            if outcome != "ok":
                problems.append(f"{name}: {outcome}")
            elif from_signed and verdict == "valid":
                problems.append(f"{name}: a mutated signed document judged valid")
    rows = []
    for family, results in sorted(per_family.items()):
        times = [r[2] * 1000 for r in results]
        verdicts = Counter(r[0] for r in results)
        failures = sum(1 for r in results if r[1] != "ok")
        rows.append([f"verifier: {family}", len(results), failures,
                     ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())),
                     f"{percentile(times, 0.5):.0f}", f"{percentile(times, 0.95):.0f}", f"{max(times):.0f}", ""])
    rows.append(["verifier: peak worker memory", "", "", "", "", "", "", f"{peak} MiB"])
    return rows, problems


# -- 2. hostile input over HTTP -------------------------------------------------------------------

def stress_http(base: str, count: int, pki_url: str) -> tuple[list, list[str]]:
    import requests

    from hostile import cases

    global _ORIGINALS
    sources = _sources(pki_url)
    _ORIGINALS = sources.signed
    _ORIGINAL_REPORTS.clear()
    session = requests.Session()
    statuses = Counter()
    times = []
    problems = []
    for i, case in enumerate(cases(sources, count=count, seed=77)):
        path, token = (("/api/v1/verify", "kyso-dev-receiver") if i % 2 == 0
                       else ("/api/v1/sign", "kyso-dev-nguyen-van-an"))
        body, content_type = multipart({"level": "B-B"}, case.data, f"{case.name}.pdf")
        started = time.perf_counter()
        try:
            response = session.post(base + path, data=body, headers={"Content-Type": content_type,
                                                                     "Authorization": f"Bearer {token}"}, timeout=60)
            status = response.status_code
        except requests.RequestException as exc:
            status = f"error {type(exc).__name__}"
        times.append((time.perf_counter() - started) * 1000)
        statuses[status] += 1
        if not isinstance(status, int) or status >= 500:
            problems.append(f"{path} {case.name}: {status}")
        elif path.endswith("/verify") and case.from_signed and '"verdict":"valid"' in response.text.replace(" ", ""):
            from verifier import verify

            if _POLICY is None:
                _init_worker(pki_url)
            if neutral_edit(case.data, verify(case.data, policy=_POLICY, file_name=case.name)):
                statuses["200 valid (neutral edit)"] += 1
            else:
                problems.append(f"{case.name}: a mutated signed document judged valid over HTTP")
    rows = [["http: hostile uploads", count, len(problems), ", ".join(f"{k}: {v}" for k, v in sorted(
        statuses.items(), key=str)), f"{percentile(times, 0.5):.0f}", f"{percentile(times, 0.95):.0f}",
             f"{max(times):.0f}", ""]]
    return rows, problems


# -- 3. load --------------------------------------------------------------------------------------

def _drafts(pki_url: str, n: int) -> list[bytes]:
    """Personally signed Decree 30 drafts, ready for the clerk's step."""
    from certs_dev.images import load_dev_image
    from devpki import DevPKI
    from kyso.samples import make_pdf
    from registers.numbering import SqliteNumbering
    from signer import SigningEngine, SoftwareKeyHolder
    from signer.issuance import IssuanceWorkflow

    pki = DevPKI.load(pki_url)
    with tempfile.TemporaryDirectory() as tmp:
        workflow = IssuanceWorkflow(engine=SigningEngine.for_dev_pki(pki), numbering=SqliteNumbering(Path(tmp) / "n"))
        holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
        prepared = workflow.prepare(make_pdf(pages=1, size=100 * 1024))
        image = load_dev_image("nguyen-van-an")
        return [workflow.sign_personal(prepared, key_holder=holder, signature_image=image,
                                       level="B-B").data for _ in range(n)]


def run_load(base: str, seconds: float, pki_url: str, *, clients: int = 8, on_tick=None) -> dict:
    import requests

    from kyso.samples import make_pdf

    pdf = make_pdf(size=100 * 1024)
    signed = _sources(pki_url).signed[0]
    drafts = _drafts(pki_url, max(20, int(seconds)))
    draft_lock = threading.Lock()
    deadline = time.monotonic() + seconds
    results = defaultdict(list)     # kind -> [(status, ms)]
    lock = threading.Lock()
    sent = Counter()

    def worker(index: int):
        rng = random.Random(index)
        session = requests.Session()
        while time.monotonic() < deadline:
            roll = rng.random()
            if roll < 0.01:
                kind, path, token, data, form = "malformed", "/api/v1/verify", "kyso-dev-receiver", rng.randbytes(2048), {}
            elif roll < 0.45:
                kind, path, token, data, form = "sign", "/api/v1/sign", "kyso-dev-tran-thi-bich-ngoc", pdf, {"level": "B-B"}
            elif roll < 0.55:
                with draft_lock:
                    draft = drafts.pop() if drafts else None
                if draft is None:
                    continue
                kind, path, token, data = "issue", "/api/v1/issue", "kyso-dev-agency-ubnd-hung-yen", draft
                form = {"type": "CV", "unit": "VP", "summary": "Công văn thử tải", "level": "B-B"}
            else:
                kind, path, token, data, form = "verify", "/api/v1/verify", "kyso-dev-receiver", signed, {}
            body, content_type = multipart(form, data)
            started = time.perf_counter()
            try:
                response = session.post(base + path, data=body, timeout=60,
                                         headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"})
                status = response.status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            with lock:
                sent[kind] += 1
                results[kind].append((status, (time.perf_counter() - started) * 1000))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        if on_tick:
            on_tick()
        time.sleep(1)
    return {"results": results, "sent": sent}


def load_rows(label: str, outcome: dict) -> tuple[list, int]:
    rows = []
    errors = 0
    for kind, values in sorted(outcome["results"].items()):
        times = [v[1] for v in values]
        expected = (200,) if kind != "malformed" else (200,)
        bad = [v[0] for v in values if v[0] not in expected]
        errors += len(bad)
        rows.append([f"{label}: {kind}", len(values), len(bad), ", ".join(
            f"{k}: {v}" for k, v in sorted(Counter(bad).items(), key=str)) or "all 200",
            f"{percentile(times, 0.5):.0f}", f"{percentile(times, 0.95):.0f}", f"{percentile(times, 0.99):.0f}", ""])
    return rows, errors


def check_consistency(db_url: str, data_dir: Path, requests_made: int) -> list:
    from kyso.settings import Settings
    from registers.audit import AuditTrail
    from registers.blobstore import BlobStore
    from registers.db import Database
    from registers.numbering import DatabaseNumbering

    db = Database.connect(db_url)
    settings = Settings.from_env({"KYSO_DATA_DIR": str(data_dir)})
    audit = AuditTrail(db, key=settings.audit_key.encode()).verify()
    entries = DatabaseNumbering(db).entries(agency="UBND")
    numbers = [e["number"] for e in entries if e["book"] == "CV"]
    statuses = Counter(e["status"] for e in entries)
    blobs = BlobStore(data_dir / "documents")
    stored = list(blobs.scan())
    broken = [s for s in stored if not blobs.verify(s)]
    db.dispose()
    # one audit record per request made (after faults, requests refused mid-restart have none)
    records_match = not requests_made or audit.records == requests_made
    return [
        ["audit chain", audit.records, 0 if audit.ok and records_match else 1,
         f"ok={audit.ok}" + (f"; requests made {requests_made}" if requests_made else ""), "", "", "", ""],
        ["outgoing numbers (CV)", len(numbers), 0 if numbers == list(range(1, len(numbers) + 1)) else 1,
         f"gapless={numbers == list(range(1, len(numbers) + 1))}; {dict(statuses)}", "", "", "", ""],
        ["stored documents", len(stored), len(broken), "all verify" if not broken else f"{len(broken)} broken",
         "", "", "", ""],
    ]


# -- 4. faults --------------------------------------------------------------------------------------

def fault_tsa_down(pki_url: str, tmp: Path) -> list:
    import requests

    from kyso.samples import make_pdf

    server = Gunicorn(workers=1, threads=1, worker_class=None, data_dir=tmp / "tsa-down", pki_url=pki_url,
                      env_extra={"KYSO_TSA_URL": "http://127.0.0.1:9/tsa"})
    try:
        _wait_up(server)  # /readyz is 503 by design while the TSA is down
        body, content_type = multipart({"level": "B-T"}, make_pdf())
        response = requests.post(server.base + "/api/v1/sign", data=body, timeout=60, headers={
            "Content-Type": content_type, "Authorization": "Bearer kyso-dev-nguyen-van-an"})
        code = response.json().get("error", {}).get("code") if response.status_code != 200 else "signed?!"
        body, content_type = multipart({"level": "B-B"}, make_pdf())
        fallback = requests.post(server.base + "/api/v1/sign", data=body, timeout=60, headers={
            "Content-Type": content_type, "Authorization": "Bearer kyso-dev-nguyen-van-an"}).status_code
        stored = list((tmp / "tsa-down" / "documents").rglob("*.pdf"))
        ok = response.status_code == 503 and code == "tsa_unavailable" and fallback == 200 and len(stored) == 1
        return [["fault: TSA unreachable", 2, 0 if ok else 1,
                 f"B-T -> {response.status_code} {code}; B-B -> {fallback}; stored files {len(stored)}", "", "", "", ""]]
    finally:
        server.stop()


def fault_pki_down(pki_url: str, tmp: Path) -> list:
    """The dev PKI stopped (OCSP, CRL and TSA unreachable), then a freshly started service (no
    cached certificate check) asked for a B-B and a B-LT signature: both refused with a 503."""
    import requests

    from kyso.samples import make_pdf

    server = Gunicorn(workers=1, threads=1, worker_class=None, data_dir=tmp / "pki-down", pki_url=pki_url)
    try:
        _wait_up(server)
        seen = []
        for level in ("B-B", "B-LT"):
            body, content_type = multipart({"level": level}, make_pdf())
            response = requests.post(server.base + "/api/v1/sign", data=body, timeout=90, headers={
                "Content-Type": content_type, "Authorization": "Bearer kyso-dev-nguyen-van-an"})
            code = response.json().get("error", {}).get("code") if response.status_code != 200 else "signed?!"
            seen.append((level, response.status_code, code))
        stored = list((tmp / "pki-down" / "documents").rglob("*.pdf"))
        ok = all(status == 503 for _, status, _ in seen) and not stored
        return [["fault: OCSP/CRL/TSA unreachable", 2, 0 if ok else 1,
                 "; ".join(f"{lv} -> {st} {cd}" for lv, st, cd in seen) + f"; stored files {len(stored)}",
                 "", "", "", ""]]
    finally:
        server.stop()


def _wait_up(server) -> None:
    import requests

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(server.base + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError("server did not start:\n" + server.log())


def restart_postgres() -> None:
    version = next(iter(sorted(os.listdir("/etc/postgresql"))))
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True,
                   capture_output=True, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verifier-cases", type=int, default=10_000)
    parser.add_argument("--http-cases", type=int, default=1_000)
    parser.add_argument("--load-seconds", type=float, default=600)
    parser.add_argument("--quick", action="store_true", help="1,000 / 200 cases and 60 s of load")
    args = parser.parse_args()
    if args.quick:
        args.verifier_cases, args.http_cases, args.load_seconds = 1_000, 200, 60

    from sqlalchemy import create_engine, text

    started = time.monotonic()
    rows: list = []
    problems: list[str] = []
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = "kyso_stress_" + uuid.uuid4().hex[:8]
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with tempfile.TemporaryDirectory(prefix="kyso-stress-") as tmp:
        tmp = Path(tmp)
        pki = SeparatePKI(tmp)
        pki.wait_ready()
        server = None
        try:
            r, p = stress_verifier(pki.url, args.verifier_cases)
            rows += r
            problems += p
            data_dir = tmp / "service"
            server = Gunicorn(workers=4, threads=1, worker_class=None, data_dir=data_dir, pki_url=pki.url,
                              env_extra={"KYSO_DATABASE_URL": db_url})
            server.wait_ready()
            r, p = stress_http(server.base, args.http_cases, pki.url)
            rows += r
            problems += p
            outcome = run_load(server.base, args.load_seconds, pki.url)
            r, errors = load_rows("load", outcome)
            rows += r
            if errors:
                problems.append(f"load: {errors} requests not answered 200")
            made = args.http_cases + sum(outcome["sent"].values())
            checked = check_consistency(db_url, data_dir, made)
            rows += checked
            problems += [f"consistency: {r[0]}: {r[3]}" for r in checked if r[2]]
            # faults during load: a worker killed, PostgreSQL restarted
            killed = {"done": False}

            def kill_one():
                if not killed["done"] and time.monotonic() > kill_at:
                    pids = server.workers()
                    if pids:
                        os.kill(pids[0], signal.SIGKILL)
                    killed["done"] = True

            kill_at = time.monotonic() + 5
            outcome = run_load(server.base, 20, pki.url, on_tick=kill_one)
            r, errors = load_rows("fault: worker killed", outcome)
            rows += r
            restarted = {"done": False}

            def restart():
                if not restarted["done"] and time.monotonic() > restart_at:
                    restarted["done"] = True
                    threading.Thread(target=restart_postgres, daemon=True).start()

            restart_at = time.monotonic() + 5
            outcome = run_load(server.base, 30, pki.url, on_tick=restart)
            r, errors = load_rows("fault: PostgreSQL restarted", outcome)
            rows += r
            resumed = run_load(server.base, 10, pki.url)
            r, errors = load_rows("after the restart", resumed)
            rows += r
            if errors:
                problems.append(f"after the PostgreSQL restart: {errors} requests still failing")
            checked = check_consistency(db_url, data_dir, 0)
            rows += checked
            problems += [f"consistency: {r[0]}: {r[3]}" for r in checked if r[2]]
            checked = fault_tsa_down(pki.url, tmp)
            rows += checked
            problems += [f"{r[0]}: {r[3]}" for r in checked if r[2]]
        finally:
            if server is not None:
                server.stop()
            pki.stop()
        try:
            checked = fault_pki_down(pki.url, tmp)
        except Exception as exc:  # noqa: BLE001 - reported in the table
            checked = [["fault: OCSP/CRL/TSA unreachable", 2, 1, f"{type(exc).__name__}: {exc}"[:200],
                        "", "", "", ""]]
        rows += checked
        problems += [f"{r[0]}: {r[3]}" for r in checked if r[2]]
    admin.dispose()  # its pooled connections died with the PostgreSQL restart
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    print(table(rows, ["check", "cases", "failures", "outcome", "p50 ms", "p95 ms", "p99/max ms", "memory"]))
    print(f"\nproblems ({len(problems)}):")
    for problem in problems[:50]:
        print("  " + problem)
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
