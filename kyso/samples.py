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


# -- a realistic Decree 30 draft -----------------------------------------------------------------

SERIF = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"
SERIF_BOLD = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Bold.ttf"
SERIF_ITALIC = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Italic.ttf"


def make_decree30_draft(*, agency_parent: str = "ỦY BAN NHÂN DÂN", agency: str = "TỈNH HƯNG YÊN",
                        symbol: str = "QĐ-UBND", place: str = "Hưng Yên", year: int = 2026,
                        kind: str = "QUYẾT ĐỊNH",
                        subject: str = "Về việc ban hành Quy chế công tác văn thư của Ủy ban nhân dân tỉnh",
                        body: tuple[str, ...] = (), signing_for: str = "TM. ỦY BAN NHÂN DÂN",
                        title: str = "CHỦ TỊCH", name: str = "Nguyễn Văn An", pages: int = 1) -> bytes:
    """A draft laid out as Decree 30 Appendix I shows (Times-like serif, A4): the agency and
    "Số:      /QĐ-UBND" top left, the national motto and "Hưng Yên, ngày   tháng   năm 2026" top
    right, the document kind and subject, the body, "Nơi nhận" bottom left and the signer's
    block bottom right (``signing_for``, the title, a space for the signature, the name). Its blanks
    are printed as a clerk receives them: spaces where the number and the date will go."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    for font_name, path in (("KysoSerif", SERIF), ("KysoSerif-Bold", SERIF_BOLD), ("KysoSerif-Italic", SERIF_ITALIC)):
        if font_name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(font_name, path))
    width, height = A4
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, pageCompression=1, invariant=1)
    c.setTitle(f"{kind} {subject}")
    c.setAuthor(f"{agency_parent} {agency}")
    left_mid, right_mid = 155.0, 400.0
    paragraphs = body or (
        "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015;",
        "Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ về công tác văn thư;",
        "Theo đề nghị của Chánh Văn phòng Ủy ban nhân dân tỉnh.",
        "Điều 1. Ban hành kèm theo Quyết định này Quy chế công tác văn thư của Ủy ban nhân dân tỉnh.",
        "Điều 2. Quyết định này có hiệu lực kể từ ngày ký.",
        "Điều 3. Chánh Văn phòng, Thủ trưởng các sở, ban, ngành và các cơ quan, đơn vị có liên quan "
        "chịu trách nhiệm thi hành Quyết định này.",
    )
    for page in range(1, pages + 1):
        if page == 1:
            c.setFont("KysoSerif", 13)
            c.drawCentredString(left_mid, height - 60, agency_parent)
            c.setFont("KysoSerif-Bold", 13)
            c.drawCentredString(left_mid, height - 76, agency)
            c.line(left_mid - 30, height - 80, left_mid + 30, height - 80)
            c.setFont("KysoSerif", 13)
            c.drawString(left_mid - 55, height - 100, "Số:")
            c.drawString(left_mid - 55 + 62, height - 100, f"/{symbol}")
            c.setFont("KysoSerif-Bold", 12)
            c.drawCentredString(right_mid, height - 60, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
            c.setFont("KysoSerif-Bold", 13)
            c.drawCentredString(right_mid, height - 76, "Độc lập - Tự do - Hạnh phúc")
            c.line(right_mid - 80, height - 80, right_mid + 80, height - 80)
            c.setFont("KysoSerif-Italic", 13)
            c.drawString(right_mid - 110, height - 100, f"{place}, ngày")
            c.drawString(right_mid - 110 + 110, height - 100, "tháng")
            c.drawString(right_mid - 110 + 170, height - 100, f"năm {year}")
            c.setFont("KysoSerif-Bold", 14)
            c.drawCentredString(width / 2, height - 150, kind)
            c.setFont("KysoSerif-Bold", 13)
            c.drawCentredString(width / 2, height - 168, subject)
            y = height - 210
        else:
            y = height - 70
        c.setFont("KysoSerif", 13)
        for text in paragraphs if page == 1 else paragraphs[:3]:
            words, line = text.split(), ""
            for word in words:
                trial = f"{line} {word}".strip()
                if pdfmetrics.stringWidth(trial, "KysoSerif", 13) > width - 150:
                    c.drawString(85, y, line)
                    y -= 18
                    line = word
                else:
                    line = trial
            c.drawString(85, y, line)
            y -= 24
        if page == pages:
            y = min(y - 10, 300)
            c.setFont("KysoSerif-Bold", 12)
            c.drawString(75, y, "Nơi nhận:")
            c.setFont("KysoSerif", 11)
            for i, recipient in enumerate(("- Như Điều 3;", "- Chủ tịch, các PCT UBND tỉnh;", "- Lưu: VT, VP.")):
                c.drawString(75, y - 14 * (i + 1), recipient)
            c.setFont("KysoSerif-Bold", 13)
            c.drawCentredString(right_mid + 20, y, signing_for)
            c.drawCentredString(right_mid + 20, y - 17, title)
            c.drawCentredString(right_mid + 20, y - 110, name)
        c.setFont("KysoSerif", 10)
        c.drawCentredString(width / 2, 30, str(page))
        c.showPage()
    c.save()
    return out.getvalue()
