#!/usr/bin/env python3
"""Decree 30 benchmark through Kyso's own engine and workflow, in one run.

    .venv/bin/python bench/issuance_bench.py [--repeat 15]

On a generated 1 MB draft (two pages), PAdES with RSA-2048 dev keys, medians in ms:
  * invisible vs visible signatures through SigningEngine (personal image, agency seal,
    attachment block, copy block), with the ratio visible/invisible (target <= 1.5);
  * the issuance end to end: prepare, the competent person's signature, the clerk's
    number + date + agency signature, at B-B and at B-T (dev TSA on localhost);
  * stock pyHanko signing the same visible image (TextStampStyle + PdfImage) for comparison,
    and pdfsig's time to verify the issued document.
"""
from __future__ import annotations

import argparse
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



def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    from certs_dev.images import load_dev_image
    from devpki.server import DevPKIServer
    from kyso.samples import MB, make_pdf
    from registers.numbering import SqliteNumbering
    from signer import Level, SignRequest, SigningEngine, SoftwareKeyHolder
    from signer.appearance import (AgencyAppearance, AttachmentAppearance, CopyAppearance, CopyForm,
                                   PersonalAppearance, Placement, top_right_placement)
    from signer.issuance import IssuanceWorkflow

    with DevPKIServer.start() as server, tempfile.TemporaryDirectory() as tmp:
        pki = server.pki
        engine = SigningEngine.for_dev_pki(pki)
        engine.renderer.warm_up()
        official = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
        agency = SoftwareKeyHolder.from_dev_pki(pki, "agency-ubnd-hung-yen")
        draft = make_pdf(size=MB, pages=2, title="Chi thi", signature_block=("CHU TICH", "Nguyen Van An"))
        signature = load_dev_image("nguyen-van-an")
        seal = load_dev_image("agency-ubnd-hung-yen")
        box = Placement(page=-1, box=(360, 190, 530, 258))
        cases = [
            ("invisible", official, None, None),
            ("personal (image)", official, PersonalAppearance(image=signature), box),
            ("agency (seal + text)", agency, AgencyAppearance(seal=seal, agency_name="UBND tỉnh Hưng Yên"),
             Placement(page=-1, box=(300, 180, 420, 300))),
            ("attachment (text)", agency, AttachmentAppearance(agency_name="UBND tỉnh Hưng Yên",
                                                               main_document_number="16/CT-UBND"),
             top_right_placement(595, 842, (200, 50))),
            ("copy SAO Y (text)", agency, CopyAppearance(form=CopyForm.SY, agency_name="UBND tỉnh Hưng Yên",
                                                          copy_number="05/SY-UBND"),
             top_right_placement(595, 842, (200, 60))),
        ]
        rows = []
        base = None
        for name, holder, appearance, placement in cases:
            request = SignRequest(document=draft, level=Level.B_B, appearance=appearance, placement=placement)
            ms = median_ms(lambda: engine.sign(request, key_holder=holder), args.repeat)
            base = base or ms
            rows.append((name, ms, ms / base))

        # stock pyHanko, same image, its own per-document machinery
        import io

        from pyhanko.pdf_utils.images import PdfImage
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers
        from pyhanko.stamp import TextStampStyle
        from PIL import Image

        p12 = Path(tmp) / "a.p12"
        p12.write_bytes(pki.pkcs12_bytes("nguyen-van-an", b"x"))

        def stock():
            signer = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=b"x")
            style = TextStampStyle(stamp_text="", background=PdfImage(Image.open(io.BytesIO(signature))),
                                   border_width=0)
            pdf_signer = signers.PdfSigner(
                signers.PdfSignatureMetadata(field_name="Sig", subfilter=fields.SigSeedSubFilter.PADES),
                signer=signer, stamp_style=style,
                new_field_spec=fields.SigFieldSpec("Sig", on_page=1, box=(360, 190, 530, 258)))
            pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(draft)))

        rows.append(("stock pyHanko, visible image", median_ms(stock, max(3, args.repeat // 3)), None))
        print(f"\n1 MB draft, PAdES B-B, RSA-2048, medians of {args.repeat} (ms)")
        print("| signature | ms | x invisible |\n|---|---|---|")
        for name, ms, ratio in rows:
            print(f"| {name} | {ms:.1f} | {'' if ratio is None else f'{ratio:.2f}'} |")

        print("\nIssuance end to end on the same draft (ms)")
        print("| level | prepare | personal signature | clerk: number + date + agency signature | total | pdfsig verify |")
        print("|---|---|---|---|---|---|")
        for level in (Level.B_B, Level.B_T):
            timings = {"prepare": [], "personal": [], "issue": [], "verify": []}
            workflow = IssuanceWorkflow(engine=engine, numbering=SqliteNumbering(Path(tmp) / f"{level.value}.db"))
            for i in range(max(5, args.repeat // 2)):
                t0 = time.perf_counter()
                prepared = workflow.prepare(draft)
                t1 = time.perf_counter()
                personal = workflow.sign_personal(prepared, key_holder=official, signature_image=signature,
                                                  level=level).data
                t2 = time.perf_counter()
                issued = workflow.issue(personal, key_holder=agency, agency="UBND", doc_type="CT", seal_image=seal,
                                        agency_name="UBND tỉnh Hưng Yên", place="Hưng Yên", level=level)
                t3 = time.perf_counter()
                if i:   # the first round warms caches up
                    timings["prepare"].append((t1 - t0) * 1000)
                    timings["personal"].append((t2 - t1) * 1000)
                    timings["issue"].append((t3 - t2) * 1000)
                out = Path(tmp) / "issued.pdf"
                out.write_bytes(issued.signed.data)
                t4 = time.perf_counter()
                subprocess.run(["pdfsig", "-nocert", str(out)], capture_output=True, check=True)
                timings["verify"].append((time.perf_counter() - t4) * 1000)
            med = {k: statistics.median(v) for k, v in timings.items()}
            total = med["prepare"] + med["personal"] + med["issue"]
            print(f"| {level.value} | {med['prepare']:.1f} | {med['personal']:.1f} | {med['issue']:.1f} | "
                  f"{total:.1f} | {med['verify']:.1f} |")


if __name__ == "__main__":
    main()
