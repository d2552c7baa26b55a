#!/usr/bin/env python3
"""``make stress``: hostile input, load and faults, with a summary table; exit 1 on any problem.

    .venv/bin/python bench/stress.py [--verifier-cases 10000] [--http-cases 1000] [--load-seconds 600]
                                     [--quick] [--keep-failures DIR]

Every row of the table states what it checks (the "outcome" column: the check, then what was
seen) and a failure in ANY row is a problem: the run exits 1.

1. Hostile input through the verifier: ``--verifier-cases`` cases from ``hostile`` and every
   ``hostile.door_cases()`` file in 2 (spawned) worker processes, each case under a hard time
   budget (SIGALRM, a BaseException the verifier cannot swallow; a case over the budget is a
   failure either way); counts per family, time percentiles,
   peak memory of the workers, and any mutated signed document judged valid (must be none, except
   "neutral edits": changed bytes outside everything signed AND a report identical to the
   original's, such as the unsigned DSS update's trailer /ID; see ``neutral_edit``).
2. Hostile input over HTTP against gunicorn (4 workers) on PostgreSQL:
   * ``--http-cases`` random cases (``hostile.cases``) to /api/v1/verify and /api/v1/sign;
   * every ``hostile.door_cases()`` file (page-tree duplicates, deep nesting in page/form/catalog,
     content and object-stream bombs, hostile field names) to EVERY door that takes a PDF: sign,
     sign/prepare, prepare, issue, sign-attachment, copy, verify, incoming, extend (quick mode too);
   * /api/v1/sign with each of ``HOSTILE_FIELD_NAMES`` as the ``field`` of a good PDF;
   * a zip bomb (expect 422 zip_bomb) and a zip of 501 tiny members (expect 413 zip_too_large)
     to /api/v1/verify/batch.
   Expected: 200 or a 4xx with a JSON error code, within 30 s; any 5xx, connection error or slower
   answer is a failure. The requests go one at a time and the audit trail is counted around each:
   every request the office answered has its audit record (two for a prepare that got past the
   bounds: the draft kept, then the outcome), a refusal by the door itself (schema, size) none.
3. Load: ``--load-seconds`` of concurrent signing, issuing and verifying with 1% malformed uploads
   (expect 200 for all); then the consistency checks with exact counts: audit records == requests
   that reached the office.
4. Faults: a worker killed with SIGKILL during load (200, or a connection error for the request in
   flight on the killed worker: at most one), PostgreSQL restarted during load (200 or 503
   database_unavailable, nothing else), then a load after the restart (all 200); the load stopped,
   the reconciler (``kyso doctor --json --grace 0``) run with the service's environment, and the
   consistency checks again (records between the requests answered 200 and the requests made).
   Then kill -9 during signing and issuing (5 workers killed, 2 s apart), the reconciler, and the
   consistency checks once more. Then TSA unreachable (503, no file) and the whole dev PKI down
   (OCSP/CRL/TSA: 503, no file).

The consistency checks: the audit chain verifies and holds the expected number of records; every
outgoing number is issued or void with a reason, none reserved, 1..N gapless in every book; every
stored file that a ``document`` row calls signed (issued, signed, copy, attachment, ...) verifies
``valid`` with the independent verifier (dev trust, the same dev PKI), in two rows: the service's own
signature (the one ending at the end of the file) fails or cannot be found, or an earlier signature
the upload carried makes the verdict not valid (``--keep-failures DIR`` keeps those files); every
file has its row and matches its SHA-256, every row has its file and an audit record naming it; every 200 answer of
sign/issue names a stored file with its row and audit record (an issue's number: issued, that file).

Memory: the gunicorn workers' RSS (sum of VmRSS) before and after each phase, sampled twice a
second during it; a worker growing by more than 1 GiB in a phase is a problem.

Targets only 127.0.0.1; every loop is bounded in time and count.
"""
from __future__ import annotations

import argparse
import io
import itertools
import json
import multiprocessing
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from http_bench import Gunicorn, SeparatePKI, percentile, table  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CASE_BUDGET = 20              # seconds, one verifier case (the policy's own budget is 10 s)
HTTP_BUDGET = 30.0            # seconds, one hostile request
WORKER_GROWTH_LIMIT = 1024    # MiB, one worker in one phase
SIGNED_ORIGINS = ("issued", "signed", "copy", "attachment", "notice", "extended", "renewed")
OFFICIAL, CLERK, RECEIVER = "kyso-dev-nguyen-van-an", "kyso-dev-agency-ubnd-hung-yen", "kyso-dev-receiver"
# refusals by the door itself (request schema, HTTP-level): the office never saw the request
DOOR_CODES = {"file_missing", "level_invalid", "upload_too_large", "unsupported_media_type", "method_not_allowed",
              "not_found", "http_error"}
HEADERS = ["check", "cases", "failures", "outcome (the check | what was seen)", "p50 ms", "p95 ms", "p99/max ms",
           "memory"]


# -- the report ----------------------------------------------------------------------------------

class Report:
    """The table's rows; a row with failures is a problem, whatever its kind."""

    def __init__(self) -> None:
        self.rows: list[list] = []
        self.problems: list[tuple[str, list[str]]] = []     # (the failing row, its first details)
        self.phases: list[tuple[str, float]] = []

    def add(self, check: str, cases, failures: int, check_text: str, seen: str, p50="", p95="", p99="",
            memory="", details=()) -> None:
        self.rows.append([check, cases, failures, f"{check_text} | {seen}", p50, p95, p99, memory])
        if failures:
            self.problems.append((f"{check}: {failures} failure(s): {seen}", list(details)[:12]))


def _ms(values: list[float]) -> tuple[str, str, str]:
    if not values:
        return "", "", ""
    return (f"{percentile(values, 0.5):.0f}", f"{percentile(values, 0.95):.0f}", f"{percentile(values, 0.99):.0f}")


# -- memory of the gunicorn workers ---------------------------------------------------------------

def _rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class MemoryWatch:
    """The workers' RSS before and after a phase, and each worker's peak during it (every 0.5 s)."""

    def __init__(self, server) -> None:
        self.server = server
        self.first: dict[int, float] = {}
        self.peak: dict[int, float] = {}
        self.before = self.after = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> float:
        total = 0.0
        for pid in self.server.workers():
            rss = _rss_mib(pid)
            if rss is None:
                continue
            total += rss
            self.first.setdefault(pid, rss)
            self.peak[pid] = max(self.peak.get(pid, 0.0), rss)
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def __enter__(self) -> "MemoryWatch":
        self.before = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.after = self._sample()

    @property
    def growth(self) -> dict[int, float]:
        return {pid: self.peak[pid] - self.first[pid] for pid in self.first}

    def text(self) -> str:
        worst = max(self.growth.values(), default=0.0)
        return f"{self.before:.0f} -> {self.after:.0f} MiB (worker peak +{worst:.0f})"

    def check(self, report: Report, phase: str) -> None:
        grown = {pid: g for pid, g in self.growth.items() if g > WORKER_GROWTH_LIMIT}
        if grown:
            report.add(f"memory: {phase}", len(self.growth), len(grown),
                       f"no worker grows by more than {WORKER_GROWTH_LIMIT} MiB in a phase",
                       ", ".join(f"worker {pid} +{g:.0f} MiB" for pid, g in grown.items()), memory=self.text())


# -- 1. the verifier ----------------------------------------------------------------------------

_POLICY = None
_ORIGINALS: tuple[bytes, ...] = ()     # the signed sources (in a verifier process: set by _init_worker)
_ORIGINAL_REPORTS: dict[int, dict] = {}
_KEEP: Path | None = None              # --keep-failures: where a verifier process keeps a failing case
_PER_RUN = ("file", "sha256", "size", "validation_time", "duration_ms")
# the moment of each verification, in every signature's report (not a fact about the file)
_PER_RUN_IN_SIGNATURE = ("validated_at",)
_PER_RUN_IN_REVOCATION = ("checked_at",)


def _comparable(report) -> dict:
    """The report without what differs from one run to the next (its moment, duration, file name and
    hash): what is left is what the verifier found in the file."""
    d = report.to_dict()
    for key in _PER_RUN:
        d.pop(key, None)
    for signature in d.get("signatures") or []:
        for key in _PER_RUN_IN_SIGNATURE:
            signature.pop(key, None)
        for key in _PER_RUN_IN_REVOCATION:
            (signature.get("revocation") or {}).pop(key, None)
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


def _policy(pki_url: str):
    from devpki import DevPKI
    from verifier import VerificationPolicy

    return VerificationPolicy.for_profile("dev", dev_pki=DevPKI.load(pki_url), time_budget_seconds=10)


def _init_worker(pki_url: str, originals: tuple[bytes, ...] = (), keep: Path | None = None) -> None:
    import logging

    global _POLICY, _ORIGINALS, _KEEP
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    from office.compose import install_hazmat

    install_hazmat()                 # as the service does (pyHanko's parser bounds among them)
    _POLICY = _policy(pki_url)
    _ORIGINALS = originals
    _KEEP = keep


def _pool(pki_url: str, originals: tuple[bytes, ...] = (), keep: Path | None = None, **kwargs):
    """Verifier processes, spawned, not forked: by then this process has threads and an event loop
    (signing the sources, HTTP sessions), and a forked child shares the loop's epoll descriptor
    with its parent and sibling, so its network waits (OCSP) hang until the case's alarm."""
    context = multiprocessing.get_context("spawn")
    return context.Pool(2, initializer=_init_worker, initargs=(pki_url, originals, keep), **kwargs)


class _Timeout(BaseException):
    """Raised by SIGALRM: a BaseException, so that no ``except Exception`` in the verifier turns it
    into a verdict."""


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
    if outcome == "ok" and elapsed >= CASE_BUDGET:
        outcome = f"over the {CASE_BUDGET} s budget ({elapsed:.1f} s, verdict {verdict})"
    if _KEEP is not None and (outcome != "ok" or (from_signed and verdict == "valid")):
        _KEEP.mkdir(parents=True, exist_ok=True)
        (_KEEP / f"verifier-{name}.pdf").write_bytes(data)
        for i, original in enumerate(_ORIGINALS):
            (_KEEP / f"verifier-original-{i}.pdf").write_bytes(original)
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


def stress_verifier(report: Report, pki_url: str, count: int, keep: Path | None = None) -> None:
    from hostile import cases

    sources = _sources(pki_url)
    per_family = defaultdict(list)
    details = defaultdict(list)
    peak = 0
    with _pool(pki_url, sources.signed, keep, maxtasksperchild=500) as pool:
        from hostile import door_cases

        # the random cases, and every door case (page trees, nesting, bombs, field names) in any mode
        work = itertools.chain(
            ((c.name, c.family, c.from_signed, c.data) for c in cases(sources, count=count, seed=2026)),
            ((name, family, False, data) for name, family, data in door_cases()))
        for name, family, from_signed, verdict, outcome, elapsed, rss in pool.imap_unordered(_verify_case, work,
                                                                                          chunksize=8):
            bad = outcome != "ok" or (from_signed and verdict == "valid")
            per_family[family].append((verdict, bad, elapsed))
            peak = max(peak, rss)
            if outcome != "ok":
                details[family].append(f"{name}: {outcome}")
            elif from_signed and verdict == "valid":
                details[family].append(f"{name}: a mutated signed document judged valid")
    for family, results in sorted(per_family.items()):
        times = [r[2] * 1000 for r in results]
        verdicts = Counter(r[0] for r in results)
        failures = sum(1 for r in results if r[1])
        report.add(f"verifier: {family}", len(results), failures,
                   f"verify() answers within {CASE_BUDGET} s, never raises; no mutated signed file valid",
                   ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())),
                   f"{percentile(times, 0.5):.0f}", f"{percentile(times, 0.95):.0f}", f"{max(times):.0f}",
                   details=details[family])
    report.add("verifier: peak worker memory", 2, 1 if peak > WORKER_GROWTH_LIMIT else 0,
               f"each verifier process under {WORKER_GROWTH_LIMIT} MiB", f"peak {peak} MiB", memory=f"{peak} MiB")


# -- 2. hostile input over HTTP -------------------------------------------------------------------

def form_body(fields: dict[str, str], files: list[tuple[str, str, bytes, str]]) -> tuple[bytes, str]:
    """multipart/form-data: ``fields`` and ``files`` as (part name, file name, bytes, content type)."""
    boundary = "kyso-stress-" + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                     + str(value).encode("utf-8") + b"\r\n")
    for part, filename, data, content_type in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{part}"; filename="{filename}"\r\n'
                     f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def pdf_body(fields: dict[str, str], data: bytes, filename: str = "document.pdf") -> tuple[bytes, str]:
    return form_body(fields, [("file", filename, data, "application/pdf")])


def error_code(response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def door_refusal(status, code: str | None, response) -> bool:
    """Refused by the door itself (schema, HTTP level): the office never saw the request."""
    if not isinstance(status, int) or status < 400:
        return False
    if code in DOOR_CODES:
        return True
    if code == "bad_request":
        try:
            return response.json()["error"]["message"].startswith("The request does not match its schema")
        except (ValueError, KeyError, TypeError, AttributeError):
            return False
    return False


class AuditCounter:
    """How many audit records the service's database holds (read-only, its own connection)."""

    def __init__(self, db_url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.engine = create_engine(db_url, poolclass=NullPool)

    def count(self) -> int:
        from sqlalchemy import text

        with self.engine.connect() as c:
            return c.execute(text("SELECT count(*) FROM audit")).scalar_one()

    def dispose(self) -> None:
        self.engine.dispose()


class Sender:
    """Hostile requests one at a time: status, error code, time, and the audit records each added."""

    def __init__(self, base: str, audit: AuditCounter) -> None:
        import requests

        self.base = base
        self.audit = audit
        self.session = requests.Session()
        self.expected_records = 0     # what the office must have written for these requests

    def post(self, path: str, token: str, body: bytes, content_type: str, *, records=(1,)):
        """(status, code, ms, problem or None, response). ``records``: how many audit records the
        office writes for this request when it reaches the office (a door refusal: none)."""
        import requests

        before = self.audit.count()
        started = time.perf_counter()
        response = None
        try:
            response = self.session.post(self.base + path, data=body, timeout=HTTP_BUDGET + 60, headers={
                "Content-Type": content_type, "Authorization": f"Bearer {token}"})
            status, code = response.status_code, error_code(response)
        except requests.RequestException as exc:
            status, code = f"connection error {type(exc).__name__}", None
        ms = (time.perf_counter() - started) * 1000
        problem = None
        if not isinstance(status, int) or status >= 500:
            problem = f"{status} {code or ''}".strip()
        elif status != 200 and not code:
            problem = f"{status} without a JSON error code"
        elif ms > HTTP_BUDGET * 1000:
            problem = f"{status} {code or ''} after {ms / 1000:.1f} s (over {HTTP_BUDGET:.0f} s)"
        added = self.audit.count() - before
        wanted = (0,) if door_refusal(status, code, response) else tuple(records)
        if isinstance(status, int) and status < 500 and added not in wanted:
            problem = (problem + "; " if problem else "") + (
                f"{added} audit record(s) for a {status} {code or ''} (expected {' or '.join(map(str, wanted))})")
        self.expected_records += added     # a wrong count is this request's failure, reported once, here
        return status, code, ms, problem, response


def _status_text(status, code) -> str:
    return f"{status} {code}" if code else str(status)


def stress_http(report: Report, sender: Sender, count: int, pki_url: str) -> None:
    from hostile import cases

    global _ORIGINALS, _POLICY
    sources = _sources(pki_url)
    _ORIGINALS = sources.signed
    _ORIGINAL_REPORTS.clear()
    statuses = Counter()
    times = []
    details = []
    failures = 0
    for i, case in enumerate(cases(sources, count=count, seed=77)):
        path, token = (("/api/v1/verify", RECEIVER) if i % 2 == 0 else ("/api/v1/sign", OFFICIAL))
        body, content_type = pdf_body({"level": "B-B"} if path.endswith("/sign") else {}, case.data, f"{case.name}.pdf")
        status, code, ms, problem, response = sender.post(path, token, body, content_type)
        times.append(ms)
        statuses[_status_text(status, code)] += 1
        if problem is None and path.endswith("/verify") and status == 200 and case.from_signed \
                and response.json().get("verdict") == "valid":
            from verifier import verify

            if _POLICY is None:
                _POLICY = _policy(pki_url)
            if neutral_edit(case.data, verify(case.data, policy=_POLICY, file_name=case.name)):
                statuses["200 valid (neutral edit)"] += 1
            else:
                problem = "a mutated signed document judged valid over HTTP"
        if problem:
            failures += 1
            details.append(f"{path} {case.name}: {problem}")
    report.add("http: random hostile uploads", count, failures,
               "verify and sign: 200 or 4xx with a code, < 30 s, its audit record; no mutated file valid",
               ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str)), *_ms(times), details=details)


def issue_main_document(report: Report, sender: Sender, pki_url: str) -> str:
    """A QĐ issued for real, so that the attachment door reaches its signing step."""
    draft = _drafts(pki_url, 1)[0]
    body, content_type = pdf_body({"type": "QĐ", "summary": "Quyết định thử tải", "level": "B-B"}, draft)
    status, code, ms, problem, response = sender.post("/api/v1/issue", CLERK, body, content_type)
    number = unquote(response.headers.get("X-Kyso-Number", "")) if status == 200 else ""
    if status != 200 or not number:
        problem = problem or f"{_status_text(status, code)}, no number"
    report.add("setup: a QĐ issued (the attachment's main document)", 1, 1 if problem else 0,
               "a good draft issued: 200 with its number", problem or f"{number} in {ms:.0f} ms")
    return number or "01/QĐ-UBND"


def stress_doors(report: Report, sender: Sender, main_number: str) -> None:
    """Every door case to every door, each field name to /sign, the zip bombs to /verify/batch."""
    from hostile import HOSTILE_FIELD_NAMES, door_cases
    from kyso.samples import make_pdf

    doors = [
        ("/api/v1/sign", OFFICIAL, {"level": "B-B"}, (1,)),
        ("/api/v1/sign/prepare", OFFICIAL, {"level": "B-B"}, (1,)),
        ("/api/v1/prepare", OFFICIAL, {}, (1, 2)),      # the draft kept, then the outcome
        ("/api/v1/issue", CLERK, {"type": "QĐ", "summary": "Quyết định thử", "level": "B-B"}, (1,)),
        ("/api/v1/sign-attachment", CLERK, {"main_number": main_number, "level": "B-B"}, (1,)),
        ("/api/v1/copy", CLERK, {"form": "SY", "level": "B-B"}, (1,)),
        ("/api/v1/verify", RECEIVER, {}, (1,)),
        ("/api/v1/incoming", RECEIVER, {"sender": "UBND"}, (1,)),
        ("/api/v1/extend", RECEIVER, {}, (1,)),
    ]
    expect = "every door case: 200 or 4xx with a code, < 30 s, its audit record"
    cases = door_cases()
    for path, token, fields, records in doors:
        statuses, times, details = Counter(), [], []
        for name, family, data in cases:
            body, content_type = pdf_body(fields, data, f"{name}.pdf")
            status, code, ms, problem, _ = sender.post(path, token, body, content_type, records=records)
            statuses[_status_text(status, code)] += 1
            times.append(ms)
            if problem:
                details.append(f"{path} {name}: {problem}")
        report.add(f"http door {path}", len(cases), len(details), expect,
                   ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str)), *_ms(times),
                   details=details)
    families = Counter(family for _, family, _ in cases)
    report.add("http doors: the cases", len(cases), 0, f"each case sent to each of the {len(doors)} doors above",
               ", ".join(f"{k} {v}" for k, v in sorted(families.items())) + f"; {len(cases) * len(doors)} requests")
    # hostile signature field names on a good PDF
    good = make_pdf()
    statuses, times, details = Counter(), [], []
    for name in HOSTILE_FIELD_NAMES:
        body, content_type = pdf_body({"level": "B-B", "field": name}, good)
        status, code, ms, problem, _ = sender.post("/api/v1/sign", OFFICIAL, body, content_type)
        statuses[_status_text(status, code)] += 1
        times.append(ms)
        if problem:
            details.append(f"field {name[:30]!r}: {problem}")
    report.add("http: /api/v1/sign field names", len(HOSTILE_FIELD_NAMES), len(details),
               "each hostile field name: 200 or 4xx with a code, < 30 s, its audit record",
               ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str)), *_ms(times), details=details)
    # zips to the batch door
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bom.pdf", bytes(32 * 1024 * 1024))
        zf.writestr("ok.pdf", good)
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(501):
            zf.writestr(f"tep-{i:03d}.pdf", b"%PDF-1.7\n%%EOF\n")
    for label, data, want in (("zip bomb (32 MiB of zeros)", bomb.getvalue(), (422, "zip_bomb")),
                              ("zip of 501 tiny members", many.getvalue(), (413, "zip_too_large"))):
        body, content_type = form_body({}, [("zip", "tep.zip", data, "application/zip")])
        status, code, ms, problem, _ = sender.post("/api/v1/verify/batch", RECEIVER, body, content_type)
        if (status, code) != want:
            problem = (problem + "; " if problem else "") + f"{_status_text(status, code)}, not {want[0]} {want[1]}"
        report.add(f"http: /api/v1/verify/batch {label}", 1, 1 if problem else 0, f"expect {want[0]} {want[1]}",
                   problem or _status_text(status, code), f"{ms:.0f}", "", "")


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


class Answers:
    """What every 200 sign/issue answer named: the stored file, an issue's number."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}       # sha256 -> kind
        self.numbers: dict[str, str] = {}     # number text -> sha256


def run_load(base: str, seconds: float, pki_url: str, answers: Answers, *, clients: int = 8, on_tick=None,
             mix=(0.01, 0.45, 0.55), material=None) -> dict:
    """``clients`` threads for ``seconds``: malformed verify (mix[0]), sign (to mix[1]), issue (to
    mix[2]), verify (the rest). Results per kind: (status, error code, ms)."""
    import requests

    pdf, signed, drafts = material
    draft_lock = threading.Lock()
    deadline = time.monotonic() + seconds
    results = defaultdict(list)     # kind -> [(status, code, ms)]
    lock = threading.Lock()

    def worker(index: int):
        rng = random.Random(index + int(seconds * 1000))
        session = requests.Session()
        while time.monotonic() < deadline:
            roll = rng.random()
            if roll < mix[0]:
                kind, path, token, data, form = "malformed", "/api/v1/verify", RECEIVER, rng.randbytes(2048), {}
            elif roll < mix[1]:
                kind, path, token, data = "sign", "/api/v1/sign", "kyso-dev-tran-thi-bich-ngoc", pdf
                form = {"level": "B-B"}
            elif roll < mix[2]:
                with draft_lock:
                    draft = drafts.pop() if drafts else None
                if draft is None:
                    continue
                kind, path, token, data = "issue", "/api/v1/issue", CLERK, draft
                form = {"type": "CV", "unit": "VP", "summary": "Công văn thử tải", "level": "B-B"}
            else:
                kind, path, token, data, form = "verify", "/api/v1/verify", RECEIVER, signed, {}
            body, content_type = pdf_body(form, data)
            started = time.perf_counter()
            code = None
            try:
                response = session.post(base + path, data=body, timeout=60,
                                        headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"})
                status = response.status_code
                if status == 200 and kind in ("sign", "issue"):
                    sha = response.headers.get("X-Kyso-Sha256", "")
                    number = unquote(response.headers.get("X-Kyso-Number", ""))
                    with lock:
                        answers.files[sha] = kind
                        if kind == "issue":
                            answers.numbers[number] = sha
                elif status != 200:
                    code = error_code(response)
            except requests.RequestException as exc:
                status = "connection error"
                code = type(exc).__name__
                session = requests.Session()
            with lock:
                results[kind].append((status, code, (time.perf_counter() - started) * 1000))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        if on_tick:
            on_tick()
        time.sleep(0.2)
    return results


def load_material(pki_url: str, drafts: int):
    from kyso.samples import make_pdf

    return make_pdf(size=100 * 1024), _sources(pki_url).signed[0], _drafts(pki_url, drafts)


def load_rows(report: Report, label: str, results: dict, *, expect_text: str,
              allowed=lambda status, code: status == 200, memory: str = "",
              shared_limit: tuple[str, int] | None = None) -> tuple[int, int]:
    """One row per kind; a request outside ``allowed`` is a failure. ``shared_limit``: (what, N) at most
    N requests over all kinds may be what ``allowed`` accepted beyond 200 (a killed worker's)."""
    sent = ok = 0
    for index, (kind, values) in enumerate(sorted(results.items())):
        times = [v[2] for v in values]
        bad = [v for v in values if not allowed(v[0], v[1])]
        seen = Counter(_status_text(v[0], v[1]) for v in values)
        sent += len(values)
        ok += sum(1 for v in values if v[0] == 200)
        report.add(f"{label}: {kind}", len(values), len(bad), expect_text,
                   ", ".join(f"{k}: {v}" for k, v in sorted(seen.items(), key=str)), *_ms(times),
                   memory=memory if index == 0 else "")
    if shared_limit:
        what, limit = shared_limit
        extra = sum(1 for values in results.values() for v in values if v[0] != 200 and allowed(v[0], v[1]))
        report.add(f"{label}: {what}", sent, 0 if extra <= limit else extra - limit,
                   f"at most {limit} {what} (one per killed worker: its request in flight)", f"{extra}")
    return sent, ok


# -- consistency ----------------------------------------------------------------------------------

def _verify_stored(path: str):
    """(sha256, the document's verdict, the indication of the signature whose byte range ends at
    the end of the file (the service's own, its last revision; "not found" when the verifier could
    not place one there), the other signatures' and timestamps' indications, the reasons)."""
    from verifier import verify

    data = Path(path).read_bytes()
    try:
        report = verify(data, policy=_POLICY, file_name=Path(path).name).to_dict()
    except BaseException as exc:  # noqa: BLE001 - counted
        return Path(path).stem, "exception", "none", (), f"{type(exc).__name__}: {exc}"[:300]
    signatures = report.get("signatures") or []
    last = [s for s in signatures if s.get("kind") == "signature" and len(s.get("byte_range") or ()) == 4
            and s["byte_range"][2] + s["byte_range"][3] == len(data)]
    own = last[0]["indication"] if last else "not found"
    earlier = tuple(f"{s.get('field')}: {s['indication']}" for s in signatures if not last or s is not last[0])
    codes = [r.get("code") for r in report.get("reasons") or []]
    texts = [r.get("en") for r in report.get("reasons") or [] if r.get("code") not in ("doc_invalid",
                                                                                        "doc_indeterminate")]
    reasons = f"{codes[:4]}: " + " / ".join(t for t in texts[:2] if t)
    return Path(path).stem, report.get("verdict"), own, earlier, reasons[:300]


class Consistency:
    """The registers, the store and the audit trail, checked from outside the service."""

    def __init__(self, db_url: str, data_dir: Path, pki_url: str, answers: Answers, keep: Path | None = None) -> None:
        self.db_url, self.data_dir, self.pki_url, self.answers, self.keep = db_url, data_dir, pki_url, answers, keep
        self.verdicts: dict[str, tuple] = {}     # sha256 -> _verify_stored's answer (content-addressed)

    def check(self, report: Report, label: str, *, exact: int | None = None, at_least: int | None = None,
              at_most: int | None = None) -> None:
        from sqlalchemy import select

        from kyso.settings import Settings
        from registers.audit import AuditTrail
        from registers.blobstore import BlobStore
        from registers.db import Database
        from registers.models import AuditRecord, OutgoingEntry, StoredDocument

        db = Database.connect(self.db_url)
        try:
            settings = Settings.from_env({"KYSO_DATA_DIR": str(self.data_dir)})
            audit = AuditTrail(db, key=settings.audit_key.encode()).verify()
            with db.read_session() as s:
                entries = list(s.scalars(select(OutgoingEntry)))
                rows = {sha: origin for sha, origin in s.execute(select(StoredDocument.sha256, StoredDocument.origin))}
                audited: set[str] = set()
                actions = Counter()
                for action, documents in s.execute(select(AuditRecord.action, AuditRecord.documents)):
                    actions[action] += 1
                    audited.update(d for d in (documents or ()) if isinstance(d, str))
        finally:
            db.dispose()
        reconciler_records = actions.get("reconcile", 0)

        # (a) the audit trail: intact, and the records the requests made
        records = audit.records - reconciler_records
        if exact is not None:
            wanted, fine = f"== {exact} requests that reached the office", records == exact
        else:
            wanted = f">= {at_least} answered 200 and <= {at_most} requests made"
            fine = at_least <= records <= at_most
        report.add(f"{label}: audit trail", audit.records, 0 if audit.ok and fine else 1,
                   f"chain verifies; records (reconciler's aside) {wanted}",
                   f"ok={audit.ok} {'' if audit.ok else audit.message_en}; {records} records + {reconciler_records} "
                   f"reconciler; by action: {dict(sorted(actions.items()))}")

        # (b) the outgoing numbers
        books = defaultdict(list)
        for e in entries:
            books[(e.agency, e.book, e.year)].append(e)
        bad = []
        statuses = Counter(e.status for e in entries)
        for (agency, book, year), items in sorted(books.items()):
            numbers = sorted(e.number for e in items)
            if numbers != list(range(1, len(numbers) + 1)):
                missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
                bad.append(f"{agency} {book} {year}: not 1..{len(numbers)} gapless (missing {missing[:10]})")
            for e in items:
                text = f"{agency} {book} {year} no. {e.number:02d}/{e.symbol}"
                if e.status == "reserved":
                    bad.append(f"{text}: still reserved (since {e.reserved_at})")
                elif e.status == "void" and not (e.reason or "").strip():
                    bad.append(f"{text}: void without a reason")
                elif e.status == "issued" and (not e.document_sha256 or e.document_sha256 not in rows):
                    bad.append(f"{text}: issued, but its file {e.document_sha256} has no document row")
                elif e.status not in ("issued", "void", "reserved"):
                    bad.append(f"{text}: status {e.status!r}")
        report.add(f"{label}: outgoing numbers", len(entries), len(bad),
                   "every number issued (its file recorded) or void with a reason; none reserved; 1..N gapless",
                   f"{dict(statuses)}; books "
                   + ", ".join(f"{b} {y}: {len(v)}" for (a, b, y), v in sorted(books.items())),
                   details=bad)

        # (c) the store: every file has its row, every row its file and an audit record
        blobs = BlobStore(self.data_dir / "documents")
        stored = set(blobs.scan())
        orphans = sorted(stored - set(rows))
        missing = sorted(set(rows) - stored)
        unaudited = sorted(sha for sha in rows if sha not in audited)
        corrupt = [sha for sha in stored if sha not in self.verdicts and not blobs.verify(sha)]
        details = ([f"file without a row: {sha}" for sha in orphans] + [f"row without a file: {sha}" for sha in missing]
                   + [f"row without an audit record: {sha} ({rows[sha]})" for sha in unaudited]
                   + [f"content does not match its name: {sha}" for sha in corrupt])
        report.add(f"{label}: stored files and rows", len(stored), len(details),
                   "every file has a document row and its SHA-256; every row its file and an audit record",
                   f"{len(stored)} files, {len(rows)} rows ({dict(Counter(rows.values()))}); orphans {len(orphans)}, "
                   f"rows without file {len(missing)}, without audit {len(unaudited)}, corrupt {len(corrupt)}",
                   details=details)

        # every 200 answer of sign/issue: its file, row and audit record; an issue's number
        quarantine = self.data_dir / "quarantine"
        lost = []
        for sha, kind in sorted(self.answers.files.items()):
            if sha not in rows or sha not in stored or sha not in audited:
                where = "quarantined" if (quarantine / f"{sha}.pdf").exists() else "gone"
                lost.append(f"{kind} answered 200 with {sha or '(no X-Kyso-Sha256)'}: row {sha in rows}, "
                            f"file {sha in stored} ({where}), audit {sha in audited}")
        issued = {f"{e.number:02d}/{e.symbol}": e for e in entries if e.status == "issued"}
        for number, sha in sorted(self.answers.numbers.items()):
            e = issued.get(number)
            if e is None or e.document_sha256 != sha:
                lost.append(f"issue answered 200 with {number or '(no number)'}: register says "
                            f"{'nothing issued' if e is None else e.document_sha256}")
        report.add(f"{label}: answered documents", len(self.answers.files), len(lost),
                   "every 200 sign/issue: its file, row and audit record; its number issued with that file",
                   "all present" if not lost else f"{len(lost)} missing", details=lost)

        # (d) every file a register row calls signed: re-verified
        signed = sorted(sha for sha, origin in rows.items() if origin in SIGNED_ORIGINS and sha in stored)
        todo = [str(blobs.path(sha)) for sha in signed if sha not in self.verdicts]
        started = time.perf_counter()
        if todo:
            with _pool(self.pki_url) as pool:
                for answer in pool.imap_unordered(_verify_stored, todo, chunksize=4):
                    self.verdicts[answer[0]] = answer
        verdicts = Counter(self.verdicts[sha][1] for sha in signed)
        own_bad, upload_bad = [], []
        for sha in signed:
            _, verdict, own, earlier, reasons = self.verdicts[sha]
            if verdict == "valid":
                continue
            text = f"{sha} ({rows[sha]}): {verdict}; own (last) signature {own}, others {list(earlier)}: {reasons}"
            if self.keep is not None:
                self.keep.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(blobs.path(sha), self.keep / f"{sha}.pdf")
            # not valid although the service's own signature passed: only an earlier signature, one
            # the upload already carried, fails
            if own == "TOTAL_PASSED" and any(not e.endswith("TOTAL_PASSED") for e in earlier):
                upload_bad.append(text)
            else:
                own_bad.append(text)
        timing = (f"{len(todo)} verified now in {time.perf_counter() - started:.0f} s, "
                  f"{len(signed) - len(todo)} earlier (same SHA-256)")
        report.add(f"{label}: stored signed documents", len(signed), len(own_bad),
                   "every file a row calls signed (issued/signed/copy/attachment/...): its last (the "
                   "service's) signature passes and, all its signatures passing, the verdict is valid",
                   f"verdicts {dict(verdicts)}; {timing}", details=own_bad)
        report.add(f"{label}: stored signed documents: uploads", len(signed), len(upload_bad),
                   "verdict valid also when the uploaded document carried signatures (the service's passes)",
                   f"{len(upload_bad)} stored as signed with an earlier, uploaded signature failing",
                   details=upload_bad)


# -- the reconciler ------------------------------------------------------------------------------

def run_reconciler(report: Report, label: str, env: dict) -> dict:
    """``kyso doctor --json --grace 0`` with the service's environment; one row."""
    command = [str(Path(sys.executable).with_name("kyso")), "doctor", "--json", "--grace", "0"]
    check = "kyso doctor --json --grace 0: exit 0, ok; voids reserved, quarantines orphans"
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        report.add(label, 0, 1, check, f"{type(exc).__name__}: {exc}"[:200])
        return {}
    found = None
    for line in [done.stdout.strip()] + done.stdout.splitlines()[::-1]:
        try:
            candidate = json.loads(line)
        except ValueError:
            continue
        if isinstance(candidate, dict):
            found = candidate
            break
    if found is None:
        report.add(label, 0, 1, check, f"exit {done.returncode}, no JSON: "
                   + (done.stdout.strip() or done.stderr.strip()).replace("\n", " ")[-200:])
        return {}
    reconciled = found.get("reconciled") or {}
    voided = reconciled.get("voided_numbers") or []
    quarantined = reconciled.get("quarantined_files") or []
    missing_audit = reconciled.get("missing_audit") or []
    missing_files = reconciled.get("missing_files") or []
    failed = [f for f in found.get("findings") or [] if not f.get("ok")]
    ok = done.returncode == 0 and found.get("ok") is True and not failed
    details = ([f"finding {f.get('name')}: {f.get('text')}" for f in failed]
               + [f"missing audit: {m}" for m in missing_audit] + [f"missing file: {m}" for m in missing_files])
    numbers = ", ".join(str(v.get("number", v)) if isinstance(v, dict) else str(v) for v in voided)
    report.add(label, len(voided) + len(quarantined) + len(missing_audit) + len(missing_files), 0 if ok else 1, check,
               f"exit {done.returncode}, ok={found.get('ok')}; voided {len(voided)} [{numbers[:120]}], quarantined "
               f"{len(quarantined)}, missing audit {len(missing_audit)}, missing files {len(missing_files)}",
               details=details)
    return reconciled


def service_env(server, data_dir: Path, db_url: str, pki_url: str) -> dict:
    """The service's environment, as ``http_bench.Gunicorn`` builds it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYSO_")}
    env.update(KYSO_PORT=str(server.port), KYSO_HOST="127.0.0.1", KYSO_DATA_DIR=str(data_dir),
               KYSO_DEV_PKI_URL=pki_url, KYSO_DATABASE_URL=db_url)
    return env


# -- 4. faults --------------------------------------------------------------------------------------

def fault_tsa_down(report: Report, pki_url: str, tmp: Path) -> None:
    import requests

    from kyso.samples import make_pdf

    check = "B-T -> 503 tsa_unavailable; B-B -> 200; 1 stored file"
    server = Gunicorn(workers=1, threads=1, worker_class=None, data_dir=tmp / "tsa-down", pki_url=pki_url,
                      env_extra={"KYSO_TSA_URL": "http://127.0.0.1:9/tsa"})
    try:
        _wait_up(server)  # /readyz is 503 by design while the TSA is down
        body, content_type = pdf_body({"level": "B-T"}, make_pdf())
        response = requests.post(server.base + "/api/v1/sign", data=body, timeout=60, headers={
            "Content-Type": content_type, "Authorization": f"Bearer {OFFICIAL}"})
        code = error_code(response) if response.status_code != 200 else "signed?!"
        body, content_type = pdf_body({"level": "B-B"}, make_pdf())
        fallback = requests.post(server.base + "/api/v1/sign", data=body, timeout=60, headers={
            "Content-Type": content_type, "Authorization": f"Bearer {OFFICIAL}"}).status_code
        stored = list((tmp / "tsa-down" / "documents").rglob("*.pdf"))
        ok = response.status_code == 503 and code == "tsa_unavailable" and fallback == 200 and len(stored) == 1
        report.add("fault: TSA unreachable", 2, 0 if ok else 1, check,
                   f"B-T -> {response.status_code} {code}; B-B -> {fallback}; stored files {len(stored)}")
    except Exception as exc:  # noqa: BLE001 - reported in the table
        report.add("fault: TSA unreachable", 2, 1, check, f"{type(exc).__name__}: {exc}"[:200])
    finally:
        server.stop()


def fault_pki_down(report: Report, pki_url: str, tmp: Path) -> None:
    """The dev PKI stopped (OCSP, CRL and TSA unreachable), then a freshly started service (no
    cached certificate check) asked for a B-B and a B-LT signature: both refused with a 503."""
    import requests

    from kyso.samples import make_pdf

    check = "B-B and B-LT -> 503 (a code); no stored file"
    server = Gunicorn(workers=1, threads=1, worker_class=None, data_dir=tmp / "pki-down", pki_url=pki_url)
    try:
        _wait_up(server)
        seen = []
        for level in ("B-B", "B-LT"):
            body, content_type = pdf_body({"level": level}, make_pdf())
            response = requests.post(server.base + "/api/v1/sign", data=body, timeout=90, headers={
                "Content-Type": content_type, "Authorization": f"Bearer {OFFICIAL}"})
            code = error_code(response) if response.status_code != 200 else "signed?!"
            seen.append((level, response.status_code, code))
        stored = list((tmp / "pki-down" / "documents").rglob("*.pdf"))
        ok = all(status == 503 and code for _, status, code in seen) and not stored
        report.add("fault: OCSP/CRL/TSA unreachable", 2, 0 if ok else 1, check,
                   "; ".join(f"{lv} -> {st} {cd}" for lv, st, cd in seen) + f"; stored files {len(stored)}")
    except Exception as exc:  # noqa: BLE001 - reported in the table
        report.add("fault: OCSP/CRL/TSA unreachable", 2, 1, check, f"{type(exc).__name__}: {exc}"[:200])
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


def restart_postgres(outcome: dict) -> None:
    try:
        version = next(iter(sorted(os.listdir("/etc/postgresql"))))
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True,
                       capture_output=True, timeout=120)
        outcome["ok"] = True
    except Exception as exc:  # noqa: BLE001 - reported in the table
        outcome["error"] = f"{type(exc).__name__}: {exc}"[:200]


def killer(server, times: int, *, first_after: float, spacing: float, killed: list):
    """An on_tick that SIGKILLs a worker ``times`` times, ``spacing`` seconds apart."""
    start = time.monotonic()

    def tick():
        if len(killed) < times and time.monotonic() - start >= first_after + spacing * len(killed):
            pids = server.workers()
            if pids:
                pid = pids[len(killed) % len(pids)]
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
    return tick


def _wait_workers(server, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(server.workers()) < n:
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verifier-cases", type=int, default=10_000)
    parser.add_argument("--http-cases", type=int, default=1_000)
    parser.add_argument("--load-seconds", type=float, default=600)
    parser.add_argument("--keep-failures", type=Path, default=None, metavar="DIR",
                        help="keep the failing verifier cases (and their signed originals) and every stored "
                             "signed file that does not verify valid in DIR")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 verifier / 200 random HTTP cases (all door cases in both), 30 s of load, "
                             "shorter faults")
    args = parser.parse_args()
    fault_seconds = (20, 30, 10)         # worker killed, PostgreSQL restarted, after the restart
    if args.quick:
        args.verifier_cases, args.http_cases, args.load_seconds = 1_000, 200, 30
        fault_seconds = (12, 20, 6)

    from sqlalchemy import create_engine, text

    started = time.monotonic()
    report = Report()
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = "kyso_stress_" + uuid.uuid4().hex[:8]
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

    def phase(label: str, since: float) -> float:
        now = time.monotonic()
        report.phases.append((label, now - since))
        print(f"[stress] {label}: {now - since:.0f} s", file=sys.stderr, flush=True)
        return now

    with tempfile.TemporaryDirectory(prefix="kyso-stress-") as tmp:
        tmp = Path(tmp)
        pki = SeparatePKI(tmp)
        pki.wait_ready()
        server = None
        audit = None
        t = time.monotonic()
        try:
            stress_verifier(report, pki.url, args.verifier_cases, args.keep_failures)
            t = phase("verifier", t)
            data_dir = tmp / "service"
            server = Gunicorn(workers=4, threads=1, worker_class=None, data_dir=data_dir, pki_url=pki.url,
                              env_extra={"KYSO_DATABASE_URL": db_url})
            server.wait_ready()
            env = service_env(server, data_dir, db_url, pki.url)
            answers = Answers()
            consistency = Consistency(db_url, data_dir, pki.url, answers, keep=args.keep_failures)
            audit = AuditCounter(db_url)
            sender = Sender(server.base, audit)

            # 2. hostile input over HTTP
            first_row = len(report.rows)
            with MemoryWatch(server) as memory:
                stress_http(report, sender, args.http_cases, pki.url)
                main_number = issue_main_document(report, sender, pki.url)
                stress_doors(report, sender, main_number)
            report.rows[first_row][7] = memory.text()
            memory.check(report, "hostile input over HTTP")
            t = phase("hostile HTTP", t)

            # 3. load, then the exact consistency checks
            material = load_material(pki.url, max(20, int(args.load_seconds * 1.5)))
            with MemoryWatch(server) as memory:
                results = run_load(server.base, args.load_seconds, pki.url, answers, material=material)
            made, _ = load_rows(report, "load", results, expect_text="every request answered 200",
                                memory=memory.text())
            memory.check(report, "load")
            records = sender.expected_records + made
            consistency.check(report, "after the load", exact=records)
            t = phase("load and checks", t)

            # 4. faults during load: a worker killed, PostgreSQL restarted, then the service resumes
            at_least = at_most = records
            material = load_material(pki.url, 40)
            killed: list[int] = []
            with MemoryWatch(server) as memory:
                results = run_load(server.base, fault_seconds[0], pki.url, answers, material=material,
                                   on_tick=killer(server, 1, first_after=fault_seconds[0] / 3, spacing=2,
                                                  killed=killed))
            sent, ok = load_rows(report, "fault: worker killed", results,
                                 expect_text="200, or a connection error (the killed worker's request)",
                                 allowed=lambda st, code: st in (200, "connection error"), memory=memory.text(),
                                 shared_limit=("connection errors", len(killed)))
            report.add("fault: worker killed: the kill", 1, 0 if len(killed) == 1 else 1,
                       "one worker SIGKILLed during the load", f"killed {killed}")
            memory.check(report, "worker killed")
            at_least, at_most = at_least + ok, at_most + sent
            _wait_workers(server, 4)

            material = load_material(pki.url, 40)
            restarted: dict = {}
            restart_at = time.monotonic() + fault_seconds[1] / 4

            def restart():
                if not restarted and time.monotonic() > restart_at:
                    restarted["started"] = True
                    threading.Thread(target=restart_postgres, args=(restarted,), daemon=True).start()

            with MemoryWatch(server) as memory:
                results = run_load(server.base, fault_seconds[1], pki.url, answers, material=material, on_tick=restart)
            sent, ok = load_rows(report, "fault: PostgreSQL restarted", results,
                                 expect_text="200 or 503 database_unavailable",
                                 allowed=lambda st, code: st == 200 or (st == 503 and code == "database_unavailable"),
                                 memory=memory.text())
            deadline = time.monotonic() + 120
            while "ok" not in restarted and "error" not in restarted and time.monotonic() < deadline:
                time.sleep(0.5)
            report.add("fault: PostgreSQL restarted: the restart", 1, 0 if restarted.get("ok") else 1,
                       "pg_ctlcluster restart during the load", restarted.get("error") or "restarted")
            memory.check(report, "PostgreSQL restarted")
            at_least, at_most = at_least + ok, at_most + sent

            material = load_material(pki.url, 20)
            with MemoryWatch(server) as memory:
                results = run_load(server.base, fault_seconds[2], pki.url, answers, material=material)
            sent, ok = load_rows(report, "after the restart", results, expect_text="every request answered 200 "
                                 "(the service resumed by itself)", memory=memory.text())
            memory.check(report, "after the restart")
            at_least, at_most = at_least + ok, at_most + sent
            run_reconciler(report, "reconciler after the kill and the restart", env)
            consistency.check(report, "after the faults", at_least=at_least, at_most=at_most)
            t = phase("faults: kill, PostgreSQL restart, checks", t)

            # kill -9 during signing and issuing: 5 workers, 2 s apart
            material = load_material(pki.url, 60)
            killed = []
            with MemoryWatch(server) as memory:
                results = run_load(server.base, 13, pki.url, answers, material=material, mix=(0.0, 0.5, 1.0),
                                   on_tick=killer(server, 5, first_after=2, spacing=2, killed=killed))
            sent, ok = load_rows(report, "fault: kill -9 x5 during sign/issue", results,
                                 expect_text="200, or a connection error (the killed worker's request)",
                                 allowed=lambda st, code: st in (200, "connection error"), memory=memory.text(),
                                 shared_limit=("connection errors", len(killed)))
            report.add("fault: kill -9 x5: the kills", 5, 5 - len(killed), "five workers SIGKILLed, 2 s apart",
                       f"killed {killed}")
            memory.check(report, "kill -9 x5")
            at_least, at_most = at_least + ok, at_most + sent
            _wait_workers(server, 4)
            run_reconciler(report, "reconciler after kill -9 x5", env)
            consistency.check(report, "after kill -9 x5", at_least=at_least, at_most=at_most)
            t = phase("kill -9 x5 and checks", t)

            fault_tsa_down(report, pki.url, tmp)
        except Exception as exc:  # noqa: BLE001 - the run itself failed: a problem, with the reason
            import traceback

            report.add("stress run", 1, 1, "the run completes", f"{type(exc).__name__}: {exc}"[:300],
                       details=traceback.format_exc().splitlines()[-8:])
        finally:
            if audit is not None:
                audit.dispose()
            if server is not None:
                server.stop()
            pki.stop()
        fault_pki_down(report, pki.url, tmp)
        phase("TSA and PKI faults", t)
    admin.dispose()  # its pooled connections died with the PostgreSQL restart
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    print(table(report.rows, HEADERS))
    print(f"\nproblems ({len(report.problems)}):" if report.problems else "\nproblems: none")
    for problem, details in report.problems[:60]:
        print("  " + problem)
        for detail in details:
            print("      " + detail)
    print("\nphases: " + ", ".join(f"{label} {seconds:.0f} s" for label, seconds in report.phases))
    print(f"(total {time.monotonic() - started:.0f} s)")
    sys.exit(1 if report.problems else 0)


if __name__ == "__main__":
    main()
