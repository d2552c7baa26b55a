#!/usr/bin/env python3
"""Kyso against stock pyHanko, pdfsig and the physical limit: one run, one table.

    make bench                        # or: .venv/bin/python bench/kyso_bench.py [--quick] [--rounds N]

Every comparison is interleaved: each round runs every contender of a row once, in an order that
rotates from round to round, so that the machine's drift (2 shared cores drift 3x within minutes)
falls on all of them alike; medians and min-max over the same rounds; no target, no pass or fail.
Both sides get the same input (a file on tmpfs, by path or opened by the contender itself).

Contenders:
  * limit: what no verifier or signer can avoid: SHA-256 of the file in one pass (hashlib, as
    sha256sum) plus one raw RSA-2048 verification per signature (to verify) or one RSA signature
    (to sign), with cryptography;
  * stock pyHanko: as its documentation uses it, in its best ordinary use: the PKCS#12 key loaded
    once, the trust roots parsed once (from DER, as from a PEM file), one set of fetchers (its
    OCSP cache) for the whole run, ``validate_pdf_signature`` on every signature (with its own
    difference analysis, as documented), and none of Kyso's patches (``hazmat.stock()``);
  * Kyso: ``verifier.verify`` with the service's dev trust (path memory and name memory warm, as
    in a worker that has served a few documents) and cold (both emptied before each call, as in a
    worker's first document of that chain); ``SigningEngine.sign`` B-B, file to file;
  * whole process: ``kyso verify --offline FILE`` and the same for 100 files in one call, answered by
    its warm helper (commands.verify_daemon, started by an untimed first run) and all in its own
    process (``--no-daemon``), against ``pdfsig`` (one process per file, no certificate database: it checks the signature's digest
    and value and does no modification analysis); with the floor under any verifier written in
    Python on pyHanko: the interpreter starting, and the interpreter importing pyHanko's validator
    without reading a file;
  * a fresh worker's first signature, invisible and visible (the agency's seal and name: fonts
    subset on first use), each in a process of its own, after its imports.

Then the profile of what remains between Kyso and the limit (cProfile, warm, 1 MB).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from interleave import interleaved, table  # noqa: E402

LABEL = "nguyen-van-an"       # RSA-2048 official of the dev PKI
PASSPHRASE = b"bench-passphrase"
KYSO = str(ROOT / ".venv" / "bin" / "kyso")


def _quiet() -> None:
    for name in ("pyhanko", "pyhanko_certvalidator", "fontTools"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class Contenders:
    """The contenders of one run, sharing the dev PKI served over HTTP."""

    def __init__(self, pki, work: Path) -> None:
        from asn1crypto import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
        from pyhanko.sign import signers
        from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

        from signer import SigningEngine, SoftwareKeyHolder
        from verifier import VerificationPolicy

        self.pki, self.work = pki, work
        p12 = work / "signer.p12"
        p12.write_bytes(pki.pkcs12_bytes(LABEL, PASSPHRASE))
        self.key = pki.private_key(LABEL)
        self.public = self.key.public_key()
        self._pad, self._sha = PKCS1v15(), hashes.SHA256()
        self._raw_signature = self.key.sign(b"x" * 32, self._pad, self._sha)
        self.engine = SigningEngine.for_dev_pki(pki)
        self.holder = SoftwareKeyHolder.from_pkcs12(p12, passphrase=PASSPHRASE)
        self.stock_signer = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=PASSPHRASE)
        self.roots = [x509.Certificate.load(c.dump()) for c in pki.trust_roots()]
        self.stock_fetchers = RequestsFetcherBackend(per_request_timeout=10).get_fetchers()
        self.policy = VerificationPolicy.for_profile("dev", dev_pki=pki)
        self.n = 0

    # -- limits --------------------------------------------------------------------------------------
    def limit_verify(self, path: Path, signatures: int) -> None:
        from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15

        with open(path, "rb") as f:
            hashlib.file_digest(f, "sha256")
        for _ in range(signatures):
            self.public.verify(self._raw_signature, b"x" * 32, PKCS1v15(), self._sha)

    def limit_sign(self, path: Path) -> None:
        with open(path, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").digest()
        self.key.sign(digest, self._pad, self._sha)

    # -- stock pyHanko -------------------------------------------------------------------------------
    def stock_verify(self, path: Path) -> int:
        import hazmat
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko_certvalidator import ValidationContext

        with hazmat.stock(), open(path, "rb") as f:
            reader = PdfFileReader(f)
            count = 0
            for sig in reader.embedded_signatures:
                vc = ValidationContext(trust_roots=self.roots, allow_fetching=True, fetchers=self.stock_fetchers)
                status = validate_pdf_signature(sig, vc)
                assert status.bottom_line, status.pretty_print_details()
                count += 1
            return count

    def stock_sign(self, path: Path) -> Path:
        import hazmat
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import signers
        from pyhanko.sign.fields import SigSeedSubFilter

        self.n += 1
        out = self.work / f"stock-{self.n}.pdf"
        with hazmat.stock(), open(path, "rb") as f, open(out, "wb") as sink:
            signers.sign_pdf(IncrementalPdfFileWriter(f),
                             signers.PdfSignatureMetadata(field_name="Signature1", subfilter=SigSeedSubFilter.PADES),
                             signer=self.stock_signer, output=sink)
        return out

    # -- Kyso ----------------------------------------------------------------------------------------
    def kyso_verify(self, path: Path, *, cold: bool = False) -> None:
        from hazmat import asn1crypto_names
        from verifier import pathcache, verify

        if cold:
            pathcache.clear()
            asn1crypto_names.clear()
        report = verify(path, policy=self.policy)
        assert report.verdict.value == "valid", report.to_dict()["reasons"]

    def kyso_sign(self, path: Path) -> Path:
        from signer import SignRequest

        self.n += 1
        out = self.work / f"kyso-{self.n}.pdf"
        self.engine.sign(SignRequest(document=path, level="B-B"), key_holder=self.holder, output=out)
        return out


def _wait_for_helper(runtime: str, seconds: float = 60.0) -> None:
    """Until ``kyso verify``'s helper listens in ``runtime`` (commands.verify_daemon)."""
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in Path(runtime, "kyso").glob("verify-*.sock"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                try:
                    s.connect(str(path))
                    return
                except OSError:
                    pass
        time.sleep(0.1)
    raise SystemExit("kyso verify's helper did not start")


def _helper_answers(env: dict, path: Path) -> None:
    """Stop the bench unless ``kyso verify``'s warm helper answers a command now (the command then never
    imports pyHanko): otherwise its rows would time the command verifying alone."""
    probe = ("import sys\nfrom commands.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n"
             "    pass\nprint('pyhanko' in sys.modules, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe, "verify", "--offline", str(path)], env=env,
                          capture_output=True, text=True)
    if done.stderr.strip().splitlines()[-1:] != ["False"]:
        raise SystemExit(f"kyso verify's helper did not answer: {done.stderr[-500:]}")


def _helper_pids(runtime: str) -> list[int]:
    """The process ids of kyso verify's live helpers in ``runtime``."""
    from commands.verify_daemon import live_helpers

    return live_helpers(str(Path(runtime, "kyso")))


def _remove(path) -> None:
    if isinstance(path, Path):
        path.unlink(missing_ok=True)


def _ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}x" if base else "-"


def _rows(work: str, timings: dict, *, limit: str | None, stock: str | None) -> list[list[str]]:
    rows = []
    for name, t in timings.items():
        rows.append([work, name, t.text(), _ratio(t.median, timings[limit].median if limit else None)
                     if name != limit else "1.00x",
                     _ratio(t.median, timings[stock].median) if stock and name not in (stock, limit) else "-"])
    return rows


def first_signature(kind: str, base_url: str, path: str) -> None:
    """In a fresh process: the first signature after the imports, visible or not (ms on stdout)."""
    _quiet()
    from certs_dev.images import load_dev_image
    from devpki import DevPKI
    from signer import SignRequest, SigningEngine, SoftwareKeyHolder
    from signer.appearance import AgencyAppearance, Placement

    pki = DevPKI.load(base_url)
    engine = SigningEngine.for_dev_pki(pki)
    if kind.endswith("cached"):   # as a worker whose data folder holds the fonts an earlier process prepared
        engine = SigningEngine(policy=engine.policy, font_cache=Path(path).parent / "font-cache")
    holder = SoftwareKeyHolder.from_dev_pki(pki, LABEL)
    extra = {}
    warm_ms = 0.0
    if kind.endswith("warmed"):   # as a web worker: Office.warm_up() in create_app, before its first request
        started = time.perf_counter()
        engine.warm_up()
        warm_ms = (time.perf_counter() - started) * 1000
    if kind.startswith("visible"):
        extra = dict(appearance=AgencyAppearance(seal=load_dev_image("agency-ubnd-hung-yen"),
                                                 agency_name="UBND tỉnh Hưng Yên"),
                     placement=Placement(page=0, box=(300, 100, 450, 250)))
    data = Path(path).read_bytes()
    started = time.perf_counter()
    engine.sign(SignRequest(document=data, level="B-B", **extra), key_holder=holder)
    print(json.dumps({"ms": (time.perf_counter() - started) * 1000, "warm_ms": warm_ms}))


def memory_probe(which: str, path: str, base_url: str) -> None:
    """In a fresh process, after a warm-up on a small file: the peak memory growth of one operation
    (``kyso-verify``, ``stock-verify``, ``kyso-sign``, ``stock-sign``) on ``path`` (KiB on stdout)."""
    _quiet()
    from devpki import DevPKI
    from kyso.samples import make_pdf
    from office.compose import install_hazmat
    from timing import reset_peak, status_kib

    install_hazmat()
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        c = Contenders(DevPKI.load(base_url), Path(tmp))
        small = Path(tmp) / "small.pdf"
        small.write_bytes(make_pdf(pages=1))
        op = {"kyso-verify": c.kyso_verify, "stock-verify": c.stock_verify, "kyso-sign": c.kyso_sign,
              "stock-sign": c.stock_sign}[which]
        _remove(op(c.kyso_sign(small) if which.endswith("verify") else small))
        base = {field: status_kib(field) for field in ("VmRSS", "RssAnon", "RssFile", "RssShmem")}
        peaks = {"RssAnon": 0, "RssFile": 0, "RssShmem": 0}
        done = threading.Event()

        def sample():   # VmHWM has no anonymous/file split: sample both every millisecond
            while not done.is_set():
                for field in peaks:
                    peaks[field] = max(peaks[field], status_kib(field))
                time.sleep(0.001)

        sampler = threading.Thread(target=sample, daemon=True)
        reset_peak()
        sampler.start()
        _remove(op(Path(path)))
        done.set()
        sampler.join()
        print(json.dumps({"growth_kib": status_kib("VmHWM") - base["VmRSS"],
                          "anon_kib": peaks["RssAnon"] - base["RssAnon"],
                          # a file on tmpfs, memory-mapped, counts as shared memory
                          "file_kib": max(peaks["RssFile"] - base["RssFile"], peaks["RssShmem"] - base["RssShmem"])}))


def _memory_rows(work_name: str, path: Path, base_url: str, kind: str) -> list[list[str]]:
    size = path.stat().st_size
    rows = []
    for who in ("stock", "kyso"):
        out = subprocess.run([sys.executable, __file__, "--memory", f"{who}-{kind}", str(path), base_url],
                             capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        growth, anon, mapped = (result[k] * 1024 for k in ("growth_kib", "anon_kib", "file_kib"))
        rows.append([work_name, "stock pyHanko" if who == "stock" else "Kyso",
                     f"{growth / 2**20:.0f} MiB ({growth / size:.2f}x the file)",
                     f"{anon / 2**20:.0f} MiB ({anon / size:.2f}x)", f"{mapped / 2**20:.0f} MiB"])
    return rows


def _child_ms(args: list[str]) -> float:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["ms"]


def profile_remaining(contenders: Contenders, path: Path) -> str:
    import cProfile
    import pstats

    for _ in range(3):
        contenders.kyso_verify(path)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(20):
        contenders.kyso_verify(path)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"verifier|kyso/|pyhanko/(sign|pdf_utils)/\w+\.py", 25)
    return out.getvalue()


def http_rows(seconds: float) -> list[list[str]]:
    """The service under gunicorn (one and two sync workers per core, as docs/deploy.md says; the dev
    PKI in a process of its own), 8 clients on this machine. Each HTTP run is compared with stock
    pyHanko in this process measured just before and just after it (a few interleaved rounds; the
    mean of both): the machine's speed drifts by up to 2x over the minute the runs take, and a
    figure from another minute would compare two speeds (bench/http_bench.py)."""
    from http_bench import InProcess, run_config
    from kyso.samples import KB, make_pdf

    pdf = make_pdf(size=100 * KB)
    cores = os.cpu_count() or 2
    results = []
    with InProcess(pdf) as measured:
        inproc = {name: (ops, ms) for name, ops, ms in measured.measure(3.0)}
        for workers in (cores, 2 * cores):
            _, found, _ = run_config(pdf, workers=workers, threads=1, worker_class=None, levels=[8],
                                     duration=seconds, warmup=2.0, scenarios=["sign", "verify", "verify-new"],
                                     separate_pki=True, between=measured.stock_burst)
            results += [dict(r, workers=workers) for r in found]
    rows = []
    for scenario in ("sign", "verify"):
        stock_ops, stock_ms = inproc[f"in-process {scenario}, stock pyHanko"]
        kyso_name = next(n for n in inproc if n.startswith(f"in-process {scenario}, Kyso"))
        rows.append([f"100 KB {scenario}, operations/s", "stock pyHanko, in process, 1 thread",
                     f"{stock_ops:.1f}/s ({stock_ms:.1f} ms)", "-", "-"])
        rows.append([f"100 KB {scenario}, operations/s", kyso_name.split(", ", 1)[1] + ", in process, 1 thread",
                     f"{inproc[kyso_name][0]:.1f}/s ({inproc[kyso_name][1]:.1f} ms)", "-",
                     f"{inproc[kyso_name][0] / stock_ops:.2f}x stock"])
        # verify: one document again and again (stored once); verify-new: each a document signed above,
        # never verified before (each stored as a new file, as an office receiving documents does)
        for kind, what in ((scenario, ""), (f"{scenario}-new", ", each a new document")):
            for r in (r for r in results if r["scenario"] == kind):
                beside = (r["stock_before"][scenario] + r["stock_after"][scenario]) / 2
                rows.append([f"100 KB {scenario}, operations/s",
                             f"Kyso HTTP, {r['workers']} workers, {r['clients']} clients{what}",
                             f"{r['rps']:.1f}/s (p50 {r['p50']:.0f}, p95 {r['p95']:.0f} ms, {r['errors']} errors; "
                             f"stock beside it {beside:.1f}/s)",
                             "-", f"{r['rps'] / beside:.2f}x stock"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, no 100 MB, no whole-process rows")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--first-signature", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--memory", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--http-seconds", type=float, default=10.0, help="measured seconds per HTTP scenario")
    args = parser.parse_args()
    if args.first_signature:
        first_signature(*args.first_signature)
        return
    if args.memory:
        memory_probe(*args.memory)
        return
    _quiet()

    from devpki.server import DevPKIServer
    from kyso.samples import MB, make_pdf, write_pdf
    from office.compose import install_hazmat
    from signer import SignRequest

    install_hazmat()   # as every worker does; stock pyHanko runs inside hazmat.stock()
    rounds = args.rounds or (5 if args.quick else 15)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    rows: list[list[str]] = []
    hundred = None
    profile_text = ""
    with DevPKIServer.start() as server, tempfile.TemporaryDirectory(prefix="kyso-bench-", dir=shm) as tmp:
        work = Path(tmp)
        c = Contenders(server.pki, work)
        from kyso.process import settle

        settle()   # as a worker after create_app (both sides run in this process)

        def signed(name: str, source: Path, n: int) -> Path:
            holders = [c.holder]
            from signer import SoftwareKeyHolder

            holders += [SoftwareKeyHolder.from_dev_pki(server.pki, label)
                        for label in ("tran-thi-bich-ngoc", "le-hoang-phuc", "pham-thu-ha")]
            current = source
            for i in range(n):
                out = work / f"{name}-{i + 1}.pdf"
                c.engine.sign(SignRequest(document=current, level="B-B"), key_holder=holders[i % len(holders)],
                              output=out)
                current = out
            return current

        one_mb = write_pdf(work / "1mb.pdf", size=MB)
        documents = [("verify 1 MB, 1 signature", signed("v1mb", one_mb, 1), 1, rounds)]
        thousand = work / "1000p.pdf"
        thousand.write_bytes(make_pdf(pages=1000))
        documents.append(("verify 1,000 pages, 5 signatures", signed("v1000", thousand, 5), 5, max(5, rounds // 2)))
        if not args.quick:
            hundred = write_pdf(work / "100mb.pdf", size=100 * MB)
            documents.append(("verify 100 MB, 1 signature", signed("v100mb", hundred, 1), 1, max(5, rounds // 3)))

        for work_name, path, n, r in documents:
            timings = interleaved({
                "limit (SHA-256 + RSA verify)": lambda: c.limit_verify(path, n),
                "stock pyHanko": lambda: c.stock_verify(path),
                "Kyso, memory warm": lambda: c.kyso_verify(path),
                "Kyso, memory cold": lambda: c.kyso_verify(path, cold=True),
            }, rounds=r)
            rows += _rows(work_name, timings, limit="limit (SHA-256 + RSA verify)", stock="stock pyHanko")

        sign_inputs = [("sign 1 MB, file to file", one_mb, rounds)]
        if hundred is not None:
            sign_inputs.append(("sign 100 MB, file to file", hundred, max(5, rounds // 3)))
        for work_name, path, r in sign_inputs:
            timings = interleaved({
                "limit (SHA-256 + RSA sign)": lambda: c.limit_sign(path),
                "stock pyHanko": lambda: c.stock_sign(path),
                "Kyso B-B": lambda: c.kyso_sign(path),
            }, rounds=r, cleanup=_remove)
            rows += _rows(work_name, timings, limit="limit (SHA-256 + RSA sign)", stock="stock pyHanko")

        if hundred is not None:
            memory_rows = _memory_rows("peak memory, verify 100 MB", documents[-1][1], server.base_url, "verify")
            memory_rows += _memory_rows("peak memory, sign 100 MB", hundred, server.base_url, "sign")

        if not args.quick:
            one_signed = documents[0][1]
            runtime = tempfile.mkdtemp(prefix="kyso-bench-run-")   # the helper's socket folder (short, 0700)
            env = dict(os.environ, KYSO_DATA_DIR=str(work / "data"), XDG_DATA_HOME=str(work / "xdg"),
                       XDG_RUNTIME_DIR=runtime)
            batch = work / "batch"
            batch.mkdir()
            for i in range(100):
                (batch / f"{i:03}.pdf").write_bytes(one_signed.read_bytes())
            files = sorted(str(p) for p in batch.glob("*.pdf"))

            from http_bench import Gunicorn, SeparatePKI

            pki_apart = SeparatePKI(work)
            service = None
            try:
                pki_apart.wait_ready()
                service = Gunicorn(workers=2, threads=1, worker_class=None, data_dir=work / "service",
                                   pki_url=pki_apart.url)
                service.wait_ready()
                client_env = dict(env, KYSO_SERVER_URL=service.base, KYSO_TOKEN="kyso-dev-receiver")
                client = str(Path(KYSO).with_name("kyso-client"))

                def run(*cmd, environment=env):
                    subprocess.run(list(cmd), env=environment, capture_output=True)

                r = max(3, rounds // 3)
                run(KYSO, "verify", "--offline", str(one_signed))     # leaves the warm helper, then:
                _wait_for_helper(runtime)
                _helper_answers(env, one_signed)
                helpers = _helper_pids(runtime)
                timings = interleaved({
                    "pdfsig": lambda: run("pdfsig", str(one_signed)),
                    "kyso verify --offline (its warm helper answers)": lambda: run(
                        KYSO, "verify", "--offline", str(one_signed)),
                    "kyso verify --offline --no-daemon (all in its own process)": lambda: run(
                        KYSO, "verify", "--offline", "--no-daemon", str(one_signed)),
                    "kyso-client verify (a running Kyso verifies)": lambda: run(
                        client, "verify", str(one_signed), environment=client_env),
                    "floor: Python starting, nothing imported": lambda: run(sys.executable, "-c", "pass"),
                    "floor: Python importing pyHanko's validator, no file read": lambda: run(
                        sys.executable, "-c", "import pyhanko.sign.validation, pyhanko.pdf_utils.reader"),
                }, rounds=r)
                base = timings["pdfsig"].median
                rows += [["whole process, 1 file (1 MB)", name, t.text(), "-",
                          _ratio(t.median, base) + " pdfsig" if name != "pdfsig" else "-"]
                         for name, t in timings.items()]
                timings = interleaved({
                    "pdfsig, 100 processes": lambda: [run("pdfsig", f) for f in files],
                    "kyso verify --offline, 1 process (its warm helper answers)": lambda: run(
                        KYSO, "verify", "--offline", str(batch)),
                    "kyso verify --offline --no-daemon, 1 process": lambda: run(
                        KYSO, "verify", "--offline", "--no-daemon", str(batch)),
                    "kyso-client verify, 1 process": lambda: run(client, "verify", *files, environment=client_env),
                }, rounds=r)
                _helper_answers(env, one_signed)
                if _helper_pids(runtime) != helpers:
                    raise SystemExit("kyso verify's helper was replaced during the rounds: they timed commands alone")
                base = timings["pdfsig, 100 processes"].median
                rows += [["whole process, 100 files, per file", name,
                          f"{t.median / 100:.1f} ({t.low / 100:.1f}-{t.high / 100:.1f})", "-",
                          _ratio(t.median, base) + " pdfsig" if "kyso" in name else "-"]
                         for name, t in timings.items()]
            finally:
                if service is not None:
                    service.stop()
                pki_apart.stop()
                shutil.rmtree(runtime, ignore_errors=True)   # the helper leaves when its socket goes

            small = work / "small.pdf"
            small.write_bytes(make_pdf(pages=1))
            # each visible row against the invisible row of a worker started the same way
            kinds = {"invisible, prepared at start-up": "invisible-warmed",
                     "visible (seal + name), prepared at start-up": "visible-warmed",
                     "invisible, nothing prepared": "invisible",
                     "visible (seal + name), nothing prepared": "visible",
                     "visible (seal + name), nothing prepared, fonts cached on disk": "visible-cached"}
            # an earlier process left the prepared fonts in the data folder (not timed)
            subprocess.run([sys.executable, __file__, "--first-signature", "visible-cached", server.base_url,
                            str(small)], capture_output=True, check=True)
            firsts = {name: [] for name in kinds}
            warm_up = []
            for i in range(max(3, rounds // 3)):
                names = list(kinds)
                for name in names[i % len(names):] + names[:i % len(names)]:
                    out = subprocess.run([sys.executable, __file__, "--first-signature", kinds[name],
                                          server.base_url, str(small)], capture_output=True, text=True, check=True)
                    result = json.loads(out.stdout.strip().splitlines()[-1])
                    firsts[name].append(result["ms"])
                    if kinds[name].endswith("warmed"):
                        warm_up.append(result["warm_ms"])
            from interleave import Timing

            for name, samples in firsts.items():
                t = Timing.of(samples)
                if name.startswith("visible"):
                    started_as = "prepared at start-up" if "prepared at start-up" in name else "nothing prepared"
                    inv = Timing.of(firsts["invisible, " + started_as])
                    ratio = _ratio(t.median, inv.median) + " invisible"
                else:
                    ratio = "-"
                rows.append(["fresh worker: first signature, 1 page", f"Kyso B-B, {name}", t.text(), "-", ratio])
            t = Timing.of(warm_up)
            rows.append(["fresh worker: first signature, 1 page", "(start-up: Office.warm_up)", t.text(), "-", "-"])

        profile_text = profile_remaining(c, documents[0][1])

    if not args.quick:
        rows += http_rows(args.http_seconds)
    print("\nKyso vs stock pyHanko, pdfsig and the limit: ms, median (min-max), interleaved rounds; "
          f"{os.cpu_count()} cores")
    print(table(rows, ["work", "contender", "ms", "x limit", "x stock / other"]))
    if hundred is not None:
        print("\nPeak memory growth of one operation in a fresh, warmed-up process: VmHWM, and sampled every "
              "millisecond, anonymous memory (the process's own) and file pages (a memory-mapped input: the "
              "kernel's page cache, dropped under pressure)")
        print(table(memory_rows, ["work", "contender", "peak RSS growth", "anonymous", "file pages"]))
    print("\nStock pyHanko's SimpleSigner parses its private key from DER twice per signature (cryptography's "
          "RSA key check, about 35 ms each): that is most of its signing time, and it is how pyHanko signs.")
    if profile_text:
        print("\nWhere a warm 1 MB verification goes (cProfile, 20 calls; cumulative s):")
        print(profile_text)


if __name__ == "__main__":
    main()
