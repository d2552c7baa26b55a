"""The registers on paper and in spreadsheets: CSV, and PDF in the Decree 30 register layout.

Column headings follow the outgoing and incoming register forms of Decree 30
(Appendix IV: sổ đăng ký văn bản đi / văn bản đến). Fonts: Liberation Sans with
full Vietnamese coverage, embedded.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from kyso.decree30 import shown_time

OUTGOING_COLUMNS = [
    ("number_text", "Số, ký hiệu văn bản"), ("issue_date", "Ngày tháng văn bản"),
    ("summary", "Tên loại và trích yếu nội dung văn bản"), ("signer", "Người ký"),
    ("recipients", "Nơi nhận văn bản"), ("status", "Tình trạng"), ("reason", "Ghi chú"),
]
INCOMING_COLUMNS = [
    ("received_at", "Ngày đến"), ("number_text", "Số đến"), ("sender", "Tác giả"),
    ("sender_reference", "Số, ký hiệu"), ("summary", "Tên loại và trích yếu nội dung"),
    ("verdict", "Kết quả kiểm tra chữ ký số"), ("status", "Tình trạng"), ("return_reason_vi", "Ghi chú"),
]
_FONT_DIRS = [Path("/usr/share/fonts/truetype/liberation2"), Path("/usr/share/fonts/truetype/liberation")]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    text = str(value)
    if len(text) >= 19 and text[4] == "-" and "T" in text:
        try:
            return shown_time(text)          # Asia/Ho_Chi_Minh, saying so
        except ValueError:
            return text
    return text


def to_csv(entries: list[dict], columns) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title for _, title in columns])
    for entry in entries:
        writer.writerow([_cell(entry.get(key)) for key, _ in columns])
    return out.getvalue()


def _fonts() -> tuple[str, str]:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for folder in _FONT_DIRS:
        regular, bold = folder / "LiberationSans-Regular.ttf", folder / "LiberationSans-Bold.ttf"
        if regular.exists() and bold.exists():
            if "KysoSans" not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont("KysoSans", str(regular)))
                pdfmetrics.registerFont(TTFont("KysoSans-Bold", str(bold)))
            return "KysoSans", "KysoSans-Bold"
    raise RuntimeError("no Liberation Sans font with Vietnamese glyphs (install fonts-liberation2)")


def to_pdf(entries: list[dict], columns, *, title: str, subtitle: str) -> bytes:
    """A landscape A4 register with the Decree 30 headings, repeated on every page."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    regular, bold = _fonts()
    cell = ParagraphStyle("cell", fontName=regular, fontSize=8, leading=10)
    head = ParagraphStyle("head", fontName=bold, fontSize=8, leading=10, alignment=1)
    heading = ParagraphStyle("title", fontName=bold, fontSize=14, leading=18, alignment=1)
    sub = ParagraphStyle("sub", fontName=regular, fontSize=10, leading=13, alignment=1)

    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    rows = [[Paragraph(esc(t), head) for _, t in columns]]
    for entry in entries:
        rows.append([Paragraph(esc(_cell(entry.get(key))), cell) for key, _ in columns])
    if len(rows) == 1:
        rows.append([Paragraph("", cell) for _ in columns])
    width = landscape(A4)[0] - 24 * mm
    table = LongTable(rows, repeatRows=1, colWidths=[width / len(columns)] * len(columns))
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.92, 0.92, 0.92)),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title=title, author="Kyso")
    doc.build([Paragraph(esc(title), heading), Paragraph(esc(subtitle), sub), Spacer(1, 6 * mm), table])
    return buffer.getvalue()


def return_notice_pdf(entry: dict, *, agency_name: str, signed_by: str | None = None) -> bytes:
    """Phiếu trả lại văn bản: what was received, when (Vietnam's time, said so), and why it goes
    back; ``signed_by`` names the agency whose digital signature the notice will carry."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    regular, bold = _fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=11, leading=15)
    heading = ParagraphStyle("heading", fontName=bold, fontSize=14, leading=18, alignment=1)

    def esc(text) -> str:
        return str(text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    lines = [
        Paragraph(esc(agency_name.upper()), ParagraphStyle("agency", fontName=bold, fontSize=11, leading=14)),
        Spacer(1, 8 * mm),
        Paragraph("PHIẾU TRẢ LẠI VĂN BẢN ĐIỆN TỬ", heading),
        Paragraph("Notice of return of an electronic document", ParagraphStyle("sub", fontName=regular,
                                                                                fontSize=10, alignment=1)),
        Spacer(1, 8 * mm),
        Paragraph(f"Nơi gửi / Sender: {esc(entry.get('sender'))}", body),
        Paragraph(f"Số, ký hiệu văn bản / Reference: {esc(entry.get('sender_reference') or '—')}", body),
        Paragraph(f"Trích yếu / Summary: {esc(entry.get('summary') or '—')}", body),
        Paragraph(f"Thời điểm nhận / Received: {esc(_cell(entry.get('received_at')))}", body),
        Paragraph(f"Số đến / Incoming number: {esc(entry.get('number_text'))}/{esc(entry.get('year'))}", body),
        Paragraph(f"Mã băm SHA-256 / SHA-256: {esc(entry.get('document_sha256'))}", body),
        Spacer(1, 6 * mm),
        Paragraph(f"Lý do trả lại: {esc(entry.get('return_reason_vi'))}", body),
        Paragraph(f"Reason: {esc(entry.get('return_reason_en'))}", body),
        Spacer(1, 6 * mm),
        Paragraph("Căn cứ Điều 21 Nghị định 30/2020/NĐ-CP, văn bản điện tử không đáp ứng yêu cầu về tính xác thực "
                  "và toàn vẹn được trả lại nơi gửi.", body),
    ]
    if signed_by:
        lines += [Spacer(1, 6 * mm),
                  Paragraph(f"Phiếu được ký số bởi / Digitally signed by: {esc(signed_by)}", body)]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, title="Phiếu trả lại văn bản",
                      author="Kyso").build(lines)
    return buffer.getvalue()
