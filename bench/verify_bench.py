#!/usr/bin/env python3
"""Verification benchmark: Kyso's verifier vs stock pyHanko vs pdfsig, in one run.

    .venv/bin/python bench/verify_bench.py [--quick]

Documents signed by Kyso (dev PKI, B-B, RSA-2048):
  * 1 MB with one signature; 100 MB with one signature (physical limit: SHA-256 of the file);
  * 1,000 pages with 5 and with 20 approval signatures (each one revision).
Columns: Kyso `verify` (dev trust, OCSP answers cached between runs as in a long-lived service),
stock pyHanko (`validate_pdf_signature` on every signature with its default difference analysis,
the same trust and the same fetch cache), pdfsig (no modification analysis; a second opinion),
medians in ms; peak memory at 100 MB (fresh process, VmHWM growth).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from timing import median_ms, status_kib  # noqa: E402




def probe(which, path, base_url):
    import logging

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    from devpki import DevPKI
    from verifier import VerificationPolicy, verify

    pki = DevPKI.load(base_url)
    policy = VerificationPolicy.for_profile("dev", dev_pki=pki)
    small = Path(path).with_name("probe-small.pdf")
    verify(small, policy=policy)   # warm-up: imports, caches
    base = status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    report = verify(Path(path), policy=policy)
    peak = status_kib("VmHWM")
    print(json.dumps({"growth_kib": peak - base, "verdict": report.verdict.value}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--probe", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(*args.probe)
        return

    import logging

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    from devpki.server import DevPKIServer
    from kyso.samples import MB, make_pdf, write_pdf
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext
    from signer import Level, SignRequest, SigningEngine, SoftwareKeyHolder
    from verifier import VerificationPolicy, verify
    from verifier.fetching import DEFAULT_POOL

    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with DevPKIServer.start() as server, tempfile.TemporaryDirectory(dir=shm) as tmp:
        tmp = Path(tmp)
        pki = server.pki
        engine = SigningEngine.for_dev_pki(pki)
        holders = [SoftwareKeyHolder.from_dev_pki(pki, label) for label in
                   ("nguyen-van-an", "tran-thi-bich-ngoc", "le-hoang-phuc", "pham-thu-ha")]
        policy = VerificationPolicy.for_profile("dev", dev_pki=pki)

        def sign_n(document: bytes, n: int) -> bytes:
            for i in range(n):
                document = engine.sign(SignRequest(document=document, level=Level.B_B),
                                       key_holder=holders[i % len(holders)]).data
            return document

        docs = {"1 MB, 1 signature": sign_n(make_pdf(size=MB), 1)}
        thousand = make_pdf(pages=1000)
        docs["1,000 pages, 5 signatures"] = sign_n(thousand, 5)
        if not args.quick:
            docs["1,000 pages, 20 signatures"] = sign_n(thousand, 20)
            big = write_pdf(tmp / "big.pdf", size=100 * MB)
            engine.sign(SignRequest(document=big, level=Level.B_B), key_holder=holders[0], output=tmp / "big-signed.pdf")
            docs["100 MB, 1 signature"] = tmp / "big-signed.pdf"
        (tmp / "probe-small.pdf").write_bytes(docs["1 MB, 1 signature"])

        from hazmat import pyhanko_hexreader as pdfspeed

        def stock(document):
            pdfspeed.uninstall()   # stock pyHanko, with its own hex-string reader
            try:
                data = document.read_bytes() if isinstance(document, Path) else document
                reader = PdfFileReader(io.BytesIO(data))
                for sig in reader.embedded_signatures:
                    vc = ValidationContext(trust_roots=pki.trust_roots(), allow_fetching=True,
                                           fetchers=DEFAULT_POOL.current())
                    validate_pdf_signature(sig, vc)
            finally:
                pdfspeed.install()

        rows = []
        for name, document in docs.items():
            path = document if isinstance(document, Path) else tmp / "doc.pdf"
            if not isinstance(document, Path):
                path.write_bytes(document)
            repeat = 3 if ("100 MB" in name or "20" in name or args.quick) else 7
            report = verify(path, policy=policy)
            assert report.verdict.value == "valid", report.to_dict()["reasons"]
            kyso = median_ms(lambda: verify(path, policy=policy), repeat)
            pyhanko_ms = median_ms(lambda: stock(path), max(1, repeat // 2) if "20" in name else repeat)
            pdfsig_ms = median_ms(lambda: subprocess.run(["pdfsig", "-nocert", str(path)], capture_output=True),
                                  repeat)
            def sha():
                with open(path, "rb") as f:
                    hashlib.file_digest(f, "sha256")
            physical = median_ms(sha, repeat)
            rows.append((name, kyso, pyhanko_ms, pdfsig_ms, physical))

        print("\nVerification, medians in ms (Kyso and pyHanko with the same trust and OCSP cache)")
        print("| document | Kyso verify | stock pyHanko | pdfsig | SHA-256 of file | Kyso/pyHanko | Kyso/SHA-256 |")
        print("|---|---|---|---|---|---|---|")
        for name, kyso, ph, ps, phys in rows:
            print(f"| {name} | {kyso:.0f} | {ph:.0f} | {ps:.0f} | {phys:.1f} | {kyso / ph:.2f} | {kyso / phys:.1f} |")
        if "100 MB, 1 signature" in docs:
            out = subprocess.run([sys.executable, __file__, "--probe", "kyso", str(docs["100 MB, 1 signature"]),
                                  server.base_url], capture_output=True, text=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            size = docs["100 MB, 1 signature"].stat().st_size
            growth = result["growth_kib"] * 1024
            print(f"\nPeak memory verifying 100 MB: {growth / MB:.0f} MiB = {growth / size:.2f} x the file "
                  f"({result['verdict']})")


if __name__ == "__main__":
    main()
