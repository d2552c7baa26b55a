"""The office's forms: a verification report as a web page, a PDF or ETSI TS 119 102-2 XML, and a
register as CSV or a printable PDF in the Decree 30 layout. The doors hand these to people; they do
not render reports or registers themselves."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from office.errors import BadInput

REPORT_FORMATS = ("json", "html", "pdf", "etsi-xml")
REGISTER_FORMATS = ("json", "csv", "pdf")
REGISTER_TITLES = {"outgoing": "SỔ ĐĂNG KÝ VĂN BẢN ĐI", "incoming": "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN"}


@dataclass(frozen=True)
class Form:
    """A rendered form: its bytes, media type and file-name suffix."""

    data: bytes
    mimetype: str
    suffix: str


def report_form(report: Mapping[str, Any], fmt: str, *, lang: str = "vi") -> Form:
    """A verification report (``Report.to_dict()``) as ``json``, ``html``, ``pdf`` or ``etsi-xml``."""
    import json

    from verifier import render

    if fmt == "html":
        return Form(render.to_html(report, lang=lang).encode("utf-8"), "text/html; charset=utf-8", ".html")
    if fmt == "pdf":
        return Form(render.to_pdf(report, lang=lang), "application/pdf", ".pdf")
    if fmt == "etsi-xml":
        return Form(render.to_etsi_xml(report), "application/xml", ".xml")
    if fmt == "json":
        return Form(json.dumps(report, ensure_ascii=False).encode("utf-8"), "application/json", ".json")
    raise BadInput(f"a report is one of {', '.join(REPORT_FORMATS)}",
                   message_vi="Báo cáo có các định dạng " + ", ".join(REPORT_FORMATS) + ".")


def report_page_parts(report: Mapping[str, Any], *, lang: str = "vi") -> tuple[str, str]:
    """The report's web page cut for embedding in another page: (its style sheet, its body)."""
    from verifier.render import to_html

    page = to_html(report, lang=lang)
    body = page.split("<body>", 1)[-1].rsplit("</body>", 1)[0]
    style = page.split("<style>", 1)[-1].split("</style>", 1)[0] if "<style>" in page else ""
    return style, body


def register_title(which: str, *, agency: str | None, year: int | None) -> tuple[str, str]:
    """The register's printed title and subtitle."""
    return REGISTER_TITLES[which], (agency or "Mọi cơ quan / Every agency") + (f" — năm {year}" if year else "")


def register_form(entries: list[dict], which: str, fmt: str, *, agency: str | None, year: int | None) -> Form:
    """The outgoing or incoming register as ``csv`` (UTF-8 with BOM, for spreadsheets), ``pdf`` (the
    Decree 30 register layout) or ``json`` (one entry per line)."""
    import json

    from registers import printing

    if which not in REGISTER_TITLES:
        raise BadInput("the registers are 'outgoing' and 'incoming'",
                       message_vi="Sổ đăng ký là 'outgoing' hoặc 'incoming'.")
    columns = printing.OUTGOING_COLUMNS if which == "outgoing" else printing.INCOMING_COLUMNS
    if fmt == "csv":
        return Form(printing.to_csv(entries, columns).encode("utf-8-sig"), "text/csv; charset=utf-8", ".csv")
    if fmt == "pdf":
        title, subtitle = register_title(which, agency=agency, year=year)
        return Form(printing.to_pdf(entries, columns, title=title, subtitle=subtitle), "application/pdf", ".pdf")
    if fmt == "json":
        lines = "".join(json.dumps({k: v for k, v in e.items() if k not in ("report", "evidence")},
                                   ensure_ascii=False, default=str) + "\n" for e in entries)
        return Form(lines.encode("utf-8"), "application/x-ndjson", ".jsonl")
    raise BadInput(f"a register is one of {', '.join(REGISTER_FORMATS)}",
                   message_vi="Sổ đăng ký có các định dạng " + ", ".join(REGISTER_FORMATS) + ".")
