"""The auditor's read-only views: registers with filters (HTML, CSV, PDF, JSON) and a document's history.

    GET /api/v1/registers/<outgoing|incoming>?year=&status=       JSON
    GET /api/v1/documents/<sha256>/history                          JSON
    GET /auditor/registers/<outgoing|incoming>[.csv|.pdf]?year=&status=
    GET /auditor/documents/<sha256>

Auditors only (role "auditor"): a bearer token, or ``?token=`` for the pages until the web login of
the service issue lands. Every view appends a "download" audit record.
"""
from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from kyso.errors import ErrorKind, KysoError

auditor = Blueprint("auditor", __name__, template_folder="templates")

_SHA = re.compile(r"^[0-9a-f]{64}$")


class NotFound(KysoError):
    code = "not_found"
    kind = ErrorKind.NOT_FOUND
    message_en = "No such document or register."
    message_vi = "Không tìm thấy văn bản hoặc sổ đăng ký."


class BadFilter(KysoError):
    code = "filter_invalid"
    kind = ErrorKind.INVALID_INPUT
    message_en = "The filter is not valid: year must be a number."
    message_vi = "Bộ lọc không hợp lệ: năm phải là số."


def _services():
    return current_app.extensions["kyso"]


def _auditor():
    token = request.args.get("token")
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[7:].strip()
    services = _services()
    try:
        user = services.official_for_token(token, roles=("auditor",))
    except KysoError as exc:
        _record(None, "login_failed" if exc.code == "unauthenticated" else "forbidden", exc.code)
        raise
    if services.office is None:
        raise NotFound("the registers are not configured", message_vi="Chưa cấu hình sổ đăng ký.")
    return user, services.office


def _record(user, action: str, result: str, documents=()) -> None:
    office = _services().office
    if office is None:
        return
    from registers.audit import AuditEvent

    office.audit.append(AuditEvent(actor=user.label if user else "anonymous", role=user.role if user else "none",
                                   action=action, result=result, documents=tuple(documents),
                                   client=(request.remote_addr or "")[:64] or None,
                                   detail={"path": request.path}))


def _filters():
    year = request.args.get("year")
    try:
        year = int(year) if year else None
    except ValueError:
        raise BadFilter() from None
    status = request.args.get("status") or None
    return year, status


def _entries(office, which: str, year, status):
    if which == "outgoing":
        return office.numbering.entries(agency=office.settings.agency, year=year, status=status)
    if which == "incoming":
        return office.incoming.entries(year=year, status=status)
    raise NotFound()


def _strip(entries):
    return [{k: v for k, v in e.items() if k != "report"} for e in entries]


@auditor.get("/api/v1/registers/<which>")
def register_json(which: str):
    user, office = _auditor()
    year, status = _filters()
    entries = _strip(_entries(office, which, year, status))
    _record(user, "download", "ok")
    return jsonify({"register": which, "year": year, "status": status, "entries": entries})


@auditor.get("/api/v1/documents/<sha256>/history")
def history_json(sha256: str):
    user, office = _auditor()
    if not office.is_document(sha256):
        raise NotFound()
    _record(user, "download", "ok", documents=(sha256,))
    return jsonify(office.document_history(sha256))


@auditor.get("/auditor/registers/<name>")
def register_page(name: str):
    from registers import printing

    user, office = _auditor()
    which, _, fmt = name.partition(".")
    year, status = _filters()
    entries = _strip(_entries(office, which, year, status))
    columns = printing.OUTGOING_COLUMNS if which == "outgoing" else printing.INCOMING_COLUMNS
    title = "SỔ ĐĂNG KÝ VĂN BẢN ĐI" if which == "outgoing" else "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN"
    _record(user, "download", "ok")
    if fmt == "csv":
        return Response(printing.to_csv(entries, columns).encode("utf-8-sig"), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{which}.csv"'})
    if fmt == "pdf":
        subtitle = office.settings.agency_name + (f" — năm {year}" if year else "")
        return Response(printing.to_pdf(entries, columns, title=title, subtitle=subtitle), mimetype="application/pdf")
    if fmt:
        raise NotFound()
    rows = [[printing._cell(e.get(key)) for key, _ in columns] + [e.get("document_sha256")] for e in entries]
    return render_template("register.html", title=title, which=which, columns=[t for _, t in columns], rows=rows,
                           year=year, status=status, token=request.args.get("token", ""),
                           agency=office.settings.agency_name)


@auditor.get("/auditor/documents/<sha256>")
def document_page(sha256: str):
    from verifier.render import to_html

    user, office = _auditor()
    if not office.is_document(sha256):
        raise NotFound()
    history = office.document_history(sha256)
    _record(user, "download", "ok", documents=(sha256,))
    report_html = to_html(history["report"]) if history.get("report") else ""
    body = report_html.split("<body>", 1)[-1].rsplit("</body>", 1)[0] if report_html else ""
    style = report_html.split("<style>", 1)[-1].split("</style>", 1)[0] if "<style>" in report_html else ""
    return render_template("document.html", sha256=sha256, history=history, report_body=body, report_style=style,
                           token=request.args.get("token", ""))
