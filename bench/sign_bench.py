#!/usr/bin/env python3
"""Signing benchmark: Kyso's signer vs stock pyHanko vs the physical limit, in one run.

    make bench                       # or: .venv/bin/python bench/sign_bench.py [--quick]

For generated PDFs of 100 KB, 1 MB, 10 MB, 100 MB and 1,000 pages it prints the
median time of
  * physical: SHA-256 of the file (hashlib.file_digest: read in chunks and hashed, as
              sha256sum does) + one raw RSA-2048 signature (cryptography),
  * stock:    pyHanko as documented (SimpleSigner.load_pkcs12 + signers.sign_pdf), file to BytesIO,
  * kyso:     SigningEngine (B-B, RSA-2048, strict preflight, certificate check), file to file,
and the ratios kyso/stock and kyso/physical; then peak memory at 100 MB (each
signer in a fresh process, ru_maxrss over its post-import baseline), Kyso at
every level on 1 MB, and pdfsig's time to verify Kyso's output.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
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

from kyso.samples import KB, MB, write_pdf  # noqa: E402

SIZES = [("100 KB", dict(size=100 * KB)), ("1 MB", dict(size=MB)), ("10 MB", dict(size=10 * MB)),
         ("100 MB", dict(size=100 * MB)), ("1,000 pages", dict(pages=1000))]
LABEL = "nguyen-van-an"      # RSA-2048 official of the dev PKI
P12_PASSPHRASE = b"bench-passphrase"



def remove(path: Path) -> None:
    path.unlink(missing_ok=True)


class Bench:
    def __init__(self, workdir: Path, pki):
        from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
        from cryptography.hazmat.primitives import hashes

        from signer import SigningEngine, SoftwareKeyHolder

        self.workdir = workdir
        self.pki = pki
        self.p12 = workdir / "signer.p12"
        self.p12.write_bytes(pki.pkcs12_bytes(LABEL, P12_PASSPHRASE))
        self.key = pki.private_key(LABEL)
        self._padding, self._sha = PKCS1v15(), hashes.SHA256()
        self.engine = SigningEngine.for_dev_pki(pki)
        self.holder = SoftwareKeyHolder.from_pkcs12(self.p12, passphrase=P12_PASSPHRASE)
        self.n = 0

    def physical(self, path: Path) -> None:
        """SHA-256 of the file as a hashing tool computes it (read in chunks + hash), one RSA signature."""
        with open(path, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").digest()
        self.key.sign(digest, self._padding, self._sha)

    def stock(self, path: Path) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import signers
        from pyhanko.sign.fields import SigSeedSubFilter

        signer = signers.SimpleSigner.load_pkcs12(str(self.p12), passphrase=P12_PASSPHRASE)
        with open(path, "rb") as f:
            out = signers.sign_pdf(IncrementalPdfFileWriter(f),
                                   signers.PdfSignatureMetadata(field_name="Signature1",
                                                                subfilter=SigSeedSubFilter.PADES),
                                   signer=signer)
        return out.getvalue()

    def kyso(self, path: Path, level: str = "B-B") -> Path:
        from signer import SignRequest

        self.n += 1
        out = self.workdir / f"kyso-{self.n}.pdf"
        self.engine.sign(SignRequest(document=path, level=level), key_holder=self.holder, output=out)
        return out


def pdfsig_ms(path: Path, repeat: int) -> float:
    return median_ms(lambda: subprocess.run(["pdfsig", "-nocert", str(path)], capture_output=True, check=True),
                     repeat)


def memory_probe(which: str, path: str, base_url: str) -> None:
    """Run in a fresh process: peak RSS growth while signing ``path`` once."""
    from devpki import DevPKI

    pki = DevPKI.load(base_url)
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp), pki)
        small = Path(tmp) / "small.pdf"
        write_pdf(small, pages=1)
        getattr(bench, which)(small)   # imports and caches warmed up
        base = status_kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")   # reset the peak (VmHWM) to the current RSS
        result = getattr(bench, which)(Path(path))
        peak = status_kib("VmHWM")
        del result
    print(json.dumps({"peak_growth_kib": peak - base, "base_kib": base, "peak_kib": peak}))



def table(rows, headers) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(str(c).rjust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, no 100 MB")
    parser.add_argument("--probe", nargs=3, metavar=("WHICH", "PATH", "BASE_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        memory_probe(*args.probe)
        return

    from devpki.server import DevPKIServer

    sizes = [s for s in SIZES if not (args.quick and s[0] == "100 MB")]
    # tmpfs when there is one: the benchmark measures the signer, not the disk's write-back
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with DevPKIServer.start() as server, tempfile.TemporaryDirectory(prefix="kyso-bench-", dir=shm) as tmp:
        work = Path(tmp)
        bench = Bench(work, server.pki)
        rows = []
        files = {}
        for name, spec in sizes:
            path = write_pdf(work / f"{name.replace(' ', '').replace(',', '')}.pdf", **spec)
            files[name] = path
            big = path.stat().st_size > 50 * MB
            repeat = 3 if args.quick else (5 if big else 15)
            physical = median_ms(lambda: bench.physical(path), repeat)
            stock = median_ms(lambda: bench.stock(path), repeat)
            kyso = median_ms(lambda: bench.kyso(path), repeat, cleanup=remove)
            signed = bench.kyso(path)
            verify = pdfsig_ms(signed, 3 if big else 5)
            for f in work.glob("kyso-*.pdf"):
                f.unlink()
            rows.append([name, f"{path.stat().st_size / MB:.2f}", f"{physical:.1f}", f"{stock:.1f}",
                         f"{kyso:.1f}", f"{kyso / stock:.2f}", f"{kyso / physical:.1f}", f"{verify:.1f}"])
        print("\nB-B, RSA-2048, medians in ms (file to file for Kyso)")
        print(table(rows, ["document", "MB", "physical", "stock pyHanko", "Kyso", "Kyso/stock",
                           "Kyso/physical", "pdfsig verify"]))

        if "100 MB" in files:
            mem_rows = []
            size = files["100 MB"].stat().st_size
            for which in ("stock", "kyso"):
                out = subprocess.run([sys.executable, __file__, "--probe", which, str(files["100 MB"]),
                                      server.base_url], capture_output=True, text=True, check=True)
                growth = json.loads(out.stdout.strip().splitlines()[-1])["peak_growth_kib"] * 1024
                mem_rows.append([which, f"{growth / MB:.0f}", f"{growth / size:.2f}"])
            print(f"\nPeak memory signing 100 MB ({size / MB:.0f} MiB), growth over the warmed-up process")
            print(table(mem_rows, ["signer", "MiB", "x file size"]))

        level_rows = []
        one = files["1 MB"]
        for level in ("B-B", "B-T", "B-LT", "B-LTA"):
            ms = median_ms(lambda: bench.kyso(one, level), 3 if args.quick else 7, cleanup=remove)
            level_rows.append([level, f"{ms:.1f}"])
        print("\nKyso on 1 MB by level (dev TSA and OCSP on localhost), medians in ms")
        print(table(level_rows, ["level", "ms"]))


if __name__ == "__main__":
    main()
