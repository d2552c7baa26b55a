#!/usr/bin/env python3
"""Visible-signature benchmark: what a Decree 30 appearance costs on top of an invisible signature.

    .venv/bin/python bench/appearance_bench.py [--repeat 20] [--size-mb 1]

Signs a generated PDF (1 MB by default) with PAdES B-B, RSA-2048 (dev PKI ``nguyen-van-an``, key
parsed once), the update appended to an in-memory copy and hashed in place (as the engine does),
and prints the median time of
  * invisible:            no appearance,
  * <appearance> cached:  a long-lived AppearanceRenderer (fonts subset once, images compressed once),
  * <appearance> uncached: a fresh AppearanceRenderer per signature (font subsetting, PNG decoding
                          and compression every time; fewer repetitions),
  * stock pyHanko:        TextStampStyle + GlyphAccumulatorFactory (subsets per document) and a
                          PdfImage background, for comparison,
with the ratio to the invisible signature. The target: cached visible <= 1.5 x invisible.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from timing import median_ms, status_kib  # noqa: E402

from certs_dev.images import load_dev_image  # noqa: E402
from kyso.samples import MB, make_pdf  # noqa: E402
from signer.appearance import (  # noqa: E402
    AgencyAppearance, AppearanceRenderer, AttachmentAppearance, CopyAppearance, CopyForm,
    PersonalAppearance, Placement, seal_placement_over, top_right_placement,
)

LABEL = "nguyen-van-an"



class Bench:
    def __init__(self, size: int):
        from devpki import DevPKI
        from signer.keyholders import SoftwareKeyHolder

        pki = DevPKI.load()
        self.holder = SoftwareKeyHolder.from_dev_pki(pki, LABEL)
        self.attrs = _FixedSignedAttributes(self.holder.certificate)
        self.loop = asyncio.new_event_loop()
        self.doc = make_pdf(size=size)
        self.moment = datetime(2026, 11, 21, 2, 37, 36, tzinfo=timezone.utc)

    def sign(self, kwargs: dict | None = None, *, text_params=None) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers
        from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

        buf = io.BytesIO(self.doc)
        writer = IncrementalPdfFileWriter(buf)
        meta = signers.PdfSignatureMetadata(field_name="Signature1", subfilter=fields.SigSeedSubFilter.PADES)
        signer = self.holder.pyhanko_signer()
        signer.signed_attr_prov_spec = self.attrs     # as the engine: computed once per certificate
        pdf_signer = signers.PdfSigner(meta, signer=signer, **(kwargs or {}))
        moment = self.moment

        async def go():
            session = pdf_signer.init_signing_session(writer)
            session.system_time = moment
            info = await session.perform_presign_validation(writer)
            tbs = session.prepare_tbs_document(validation_info=info, bytes_reserved=16384,
                                               appearance_text_params=text_params)
            digest, out = tbs.digest_tbs_document(in_place=True)
            post = await tbs.perform_signature(document_digest=digest.document_digest,
                                               pdf_cms_signed_attrs=PdfCMSSignedAttributes(signing_time=moment))
            await post.post_signature_processing(out)

        self.loop.run_until_complete(go())
        return buf.getvalue()


class _FixedSignedAttributes:
    """signing-certificate-v2 built once per certificate, as ``signer.engine`` does (otherwise
    asn1crypto re-encodes the certificate at every signature and dominates the timing)."""

    def __init__(self, cert):
        from asn1crypto import tsp
        from pyhanko.sign.attributes import CMSAttributeProvider
        from pyhanko.sign.general import as_signing_certificate_v2

        value = tsp.SigningCertificateV2.load(as_signing_certificate_v2(cert, "sha256").dump())

        class Constant(CMSAttributeProvider):
            attribute_type = "signing_certificate_v2"

            async def build_attr_value(self, dry_run=False):
                return value

        self._provider = Constant()

    def signed_attr_providers(self, data_digest, digest_algorithm):
        yield self._provider


def appearances():
    personal = PersonalAppearance(image=load_dev_image("nguyen-van-an"))
    return [
        ("personal", personal),
        ("agency", AgencyAppearance(seal=load_dev_image("agency-ubnd-hung-yen"), agency_name="UBND TỈNH HƯNG YÊN")),
        ("attachment", AttachmentAppearance(agency_name="UBND TỈNH HƯNG YÊN", main_document_number="16/CT-UBND")),
        ("copy (SAO LỤC)", CopyAppearance(form=CopyForm.SL, agency_name="UBND TỈNH HƯNG YÊN",
                                          copy_number="05/SL-UBND")),
    ]


def placement_for(name, appearance, renderer):
    w, h = renderer.natural_size(appearance)
    if name == "personal":
        return Placement(page=0, box=(330, 150, 330 + w, 150 + h))
    if name == "agency":
        personal = Placement(page=0, box=(330, 150, 474, 207.6))
        return seal_placement_over(personal, seal_diameter_mm=36, renderer=renderer)
    return top_right_placement(595, 842, (w, h))


def stock_kwargs(personal_png: bytes):
    """Stock pyHanko: a text stamp with an embedded, per-document subset font and a PNG background."""
    from PIL import Image
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
    from pyhanko.pdf_utils.images import PdfImage
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.sign.fields import SigFieldSpec
    from pyhanko.stamp import TextStampStyle

    from signer.appearance import DEFAULT_SERIF

    style = TextStampStyle(
        stamp_text="UBND TỈNH HƯNG YÊN\n%(vn_time)s", border_width=0, background_opacity=1.0,
        text_box_style=TextBoxStyle(font=GlyphAccumulatorFactory(str(DEFAULT_SERIF)), font_size=10),
        background=PdfImage(Image.open(io.BytesIO(personal_png))))
    return ({"stamp_style": style, "new_field_spec": SigFieldSpec("Signature1", on_page=0, box=(330, 150, 474, 208))},
            {"vn_time": "2026-11-21T09:37:36+07:00"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--size-mb", type=float, default=1.0)
    args = parser.parse_args()
    bench = Bench(int(args.size_mb * MB))
    renderer = AppearanceRenderer()
    t = time.perf_counter()
    renderer.warm_up()
    warm = (time.perf_counter() - t) * 1000

    rows = []
    invisible = median_ms(lambda: bench.sign(), args.repeat)
    rows.append(("invisible", invisible))
    for name, look in appearances():
        placement = placement_for(name, look, renderer)
        rows.append((f"{name} cached", median_ms(
            lambda: bench.sign(renderer.apply({}, look, moment=bench.moment, placement=placement,
                                              field_name="Signature1")), args.repeat)))
    for name, look in appearances():
        placement = placement_for(name, look, renderer)
        rows.append((f"{name} uncached", median_ms(
            lambda: bench.sign(AppearanceRenderer().apply({}, look, moment=bench.moment, placement=placement,
                                                          field_name="Signature1")), max(3, args.repeat // 4))))
    kwargs, params = stock_kwargs(load_dev_image("nguyen-van-an"))
    rows.append(("stock pyHanko text+image", median_ms(lambda: bench.sign(kwargs, text_params=params),
                                                      max(3, args.repeat // 4))))

    print(f"{args.size_mb:g} MB PDF, PAdES B-B, RSA-2048, median of {args.repeat} "
          f"(uncached/stock: {max(3, args.repeat // 4)}); renderer warm-up (both fonts): {warm:.0f} ms")
    print(f"{'signature':<28} {'median ms':>10} {'x invisible':>12}")
    for name, ms in rows:
        print(f"{name:<28} {ms:>10.2f} {ms / invisible:>12.2f}")


if __name__ == "__main__":
    main()
