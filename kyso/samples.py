"""Sample PDFs for tests, benchmarks and demos, generated with pikepdf.

``make_pdf(pages=3)`` gives a small text document; ``make_pdf(size=10 * MB)``
pads it with incompressible image data (drawn on the first page, so it is
real content, not a trailing blob) to reach about that size.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import pikepdf

KB = 1024
MB = 1024 * 1024

_FONT = {"/Type": pikepdf.Name.Font, "/Subtype": pikepdf.Name.Type1,
         "/BaseFont": pikepdf.Name.Helvetica}


def _page_content(n: int, title: str, signature_block: tuple[str, str] | None = None) -> bytes:
    lines = [f"BT /F1 16 Tf 72 775 Td ({title}) Tj ET",
             f"BT /F1 9 Tf 290 30 Td (Page {n}) Tj ET"]
    y = 700
    for i in range(20):
        lines.append(f"BT /F1 10 Tf 72 {y} Td (Line {i + 1} of page {n}: sample text for signing.) Tj ET")
        y -= 16
    if signature_block:
        job_title, name = signature_block
        lines.append(f"BT /F1 12 Tf 400 300 Td ({job_title}) Tj ET")
        lines.append(f"BT /F1 12 Tf 400 180 Td ({name}) Tj ET")
    return "\n".join(lines).encode("ascii")


def build_pdf(*, pages: int = 1, size: int | None = None, title: str = "Kyso sample document",
              seed: int = 7, signature_block: tuple[str, str] | None = None) -> pikepdf.Pdf:
    """``signature_block=("CHU TICH", "Nguyen Van An")`` adds the job title and the name
    (ASCII: the sample uses a standard font) on the last page, as a signature block."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(_FONT))
    image = None
    if size:
        payload = max(0, size - pages * 1200 - 2000)
        if payload:
            side = max(1, int((payload / 3) ** 0.5))
            data = _random_bytes(side * side * 3, seed)
            image = pikepdf.Stream(pdf, data)
            image["/Type"] = pikepdf.Name.XObject
            image["/Subtype"] = pikepdf.Name.Image
            image["/Width"] = side
            image["/Height"] = side
            image["/ColorSpace"] = pikepdf.Name.DeviceRGB
            image["/BitsPerComponent"] = 8
            image = pdf.make_indirect(image)
    for n in range(1, pages + 1):
        content = _page_content(n, title, signature_block if n == pages else None)
        resources = pikepdf.Dictionary({"/Font": pikepdf.Dictionary({"/F1": font})})
        if image is not None and n == 1:
            resources["/XObject"] = pikepdf.Dictionary({"/Im1": image})
            content += b"\nq 200 0 0 200 72 200 cm /Im1 Do Q"
        page = pikepdf.Page(pikepdf.Dictionary({
            "/Type": pikepdf.Name.Page,
            "/MediaBox": pikepdf.Array([0, 0, 595, 842]),
            "/Resources": resources,
            "/Contents": pdf.make_stream(content),
        }))
        pdf.pages.append(page)
    pdf.docinfo["/Title"] = title
    return pdf


def make_pdf(**kwargs) -> bytes:
    """A sample PDF as bytes (see :func:`build_pdf` for the options)."""
    out = io.BytesIO()
    with build_pdf(**kwargs) as pdf:
        pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.preserve,
                 compress_streams=True, deterministic_id=True)
    return out.getvalue()


def write_pdf(path: Path | str, **kwargs) -> Path:
    path = Path(path)
    with build_pdf(**kwargs) as pdf:
        pdf.save(path, compress_streams=True, deterministic_id=True)
    return path


def _random_bytes(n: int, seed: int) -> bytes:
    import random

    rng = random.Random(seed)
    return rng.randbytes(n) if hasattr(rng, "randbytes") else os.urandom(n)
