"""Kyso's HTTP door: the application factory and the JSON/PDF API.

Thin by design: each route parses its request with the schema that also documents it
(``webui/schemas.py``, apiflask and marshmallow: the OpenAPI document at ``/api/v1/openapi.json``
is generated from them), calls one use case of :class:`office.Office`, and renders the result.
Errors are ``{"error": {"code", "message", "message_vi", "detail"}}`` with the status of
:func:`office.http_status`, the same mapping the web pages use. Text outside ASCII never goes raw
into a header: file names use RFC 6266/8187 (``filename*=UTF-8''...``) and the ``X-Kyso-*``
headers are percent-encoded UTF-8.

    flask --app api run            # or: kyso serve (the README's `make run`)
"""
from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import os
import time
from typing import Any
from urllib.parse import quote

from apiflask import APIBlueprint, APIFlask, HTTPTokenAuth
from flask import (
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from kyso import __version__
from kyso.errors import ErrorKind, KysoError
from kyso.process import settle
from kyso.settings import Settings
from office import Office, http_headers, http_status
from office.errors import BadInput, Forbidden
from office.forms import report_form
from webui import schemas as S
from webui.downloads import attachment

log = logging.getLogger("kyso.api")

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")

health = APIBlueprint("health", __name__, tag="operations", enable_openapi=True)
api_v1 = APIBlueprint("api_v1", __name__, url_prefix="/api/v1", tag="kyso")
bearer = HTTPTokenAuth(scheme="Bearer", description="The account's API token (kyso admin create-user)")


@bearer.verify_token
def _verify_token(token: str | None):
    """Authenticate before anything else is read (a failed login is audited by the office)."""
    return office().authenticate(token or None, client=request.remote_addr)


# -- errors: one mapping for every door --------------------------------------------------------------

_HTTP_CODES = {
    400: ("bad_request", "The request is malformed.", "Yêu cầu không hợp lệ."),
    401: ("unauthenticated", "Authentication is required.", "Cần xác thực."),
    403: ("forbidden", "You are not allowed to do this.", "Bạn không có quyền thực hiện thao tác này."),
    404: ("not_found", "No such resource.", "Không tìm thấy tài nguyên."),
    405: ("method_not_allowed", "This method is not allowed here.", "Phương thức không được hỗ trợ."),
    413: ("upload_too_large", "The upload exceeds the size limit.", "Tệp tải lên vượt quá giới hạn dung lượng."),
    415: ("unsupported_media_type", "Unsupported media type.", "Định dạng không được hỗ trợ."),
}


class DatabaseUnavailable(KysoError):
    code = "database_unavailable"
    kind = ErrorKind.UNAVAILABLE
    message_en = "The database is unavailable; try again shortly."
    message_vi = "Cơ sở dữ liệu tạm thời không truy cập được; hãy thử lại sau."


def error_body(exc: KysoError) -> tuple[dict, int]:
    status = http_status(exc)
    if status >= 500 and exc.kind is not ErrorKind.UNAVAILABLE:
        log.error("internal error: %s", exc, exc_info=exc)
    return exc.to_dict(), status


def http_error_body(status: int, description: str | None = None) -> tuple[dict, int]:
    code, en, vi = _HTTP_CODES.get(status, ("http_error", description or "HTTP error", "Lỗi HTTP"))
    return {"error": {"code": code, "message": en, "message_vi": vi}}, status


def unexpected_body(exc: Exception) -> tuple[dict, int]:
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, (OperationalError, DBAPIError)):
        log.warning("database unavailable: %s", exc)
        return error_body(DatabaseUnavailable())
    log.exception("unexpected error")
    return {"error": {"code": "internal", "message": "Internal error; it has been logged.",
                      "message_vi": "Lỗi hệ thống; sự cố đã được ghi nhận."}}, 500


# the stable codes of the common schema failures (docs/errors.md); anything else is bad_request
_FIELD_CODES = {
    "file": ("file_missing", "Upload the PDF in the multipart field 'file'.",
             "Hãy tải tệp PDF lên trong trường 'file' (multipart)."),
    "level": ("level_invalid", "Unknown PAdES level; use B-B, B-T, B-LT or B-LTA.",
              "Mức PAdES không hợp lệ; hãy dùng B-B, B-T, B-LT hoặc B-LTA."),
}


def _validation_code(detail: dict) -> tuple[str, str, str]:
    fields = {name for location in detail.values() if isinstance(location, dict) for name in location}
    for name, answer in _FIELD_CODES.items():
        if name in fields:
            return answer
    return ("bad_request", "The request does not match its schema: " + ", ".join(sorted(fields))[:200],
            "Yêu cầu không đúng định dạng: " + ", ".join(sorted(fields))[:200])


def _browser() -> bool:
    """A person's browser (it prefers HTML), outside the JSON API."""
    if request.path.startswith(("/api/", "/healthz", "/readyz", "/metrics", "/dev-pki")):
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "text/html"


# -- the office and the caller -------------------------------------------------------------------------

def office() -> Office:
    return current_app.extensions["kyso"]


def _bearer_token() -> str | None:
    import re

    match = re.fullmatch(r"Bearer\s+(\S+)", request.headers.get("Authorization", "").strip())
    return match.group(1) if match else None


def caller():
    """The authenticated caller of this API request."""
    return bearer.current_user


# -- responses -------------------------------------------------------------------------------------------

def header_text(value: Any) -> str:
    """A header value: ASCII as is, anything else percent-encoded UTF-8 (RFC 3986)."""
    text = str(value)
    return text if text.isascii() and text.isprintable() else quote(text, safe="/:.,;=+-_ @()")


def pdf_response(data: bytes, filename: str, **headers: Any) -> Response:
    """A PDF download; a Vietnamese file name travels as ``filename*=UTF-8''...`` (RFC 6266/8187)."""
    response = attachment(data, filename=filename or "document.pdf", mimetype="application/pdf")
    for key, value in headers.items():
        if value is not None:
            response.headers["X-Kyso-" + "-".join(p.capitalize() for p in key.split("_"))] = header_text(value)
    return response


def _wants(names: tuple[str, ...], fmt: str | None) -> str:
    if fmt:
        if fmt not in names:
            raise BadInput(f"format must be one of {', '.join(names)}", message_vi="Định dạng không hợp lệ.")
        return fmt
    best = request.accept_mimetypes.best_match(["application/json", "text/html", "application/pdf"],
                                               default="application/json")
    return {"text/html": "html", "application/pdf": "pdf"}.get(best, "json")


def _render_report(report: dict, fmt: str, name: str) -> Response:
    if fmt == "json":
        return jsonify(report)
    form = report_form(report, fmt)
    if fmt == "pdf":
        return pdf_response(form.data, name)
    return Response(form.data, mimetype=form.mimetype)


def _read(upload) -> bytes:
    return upload.read() if upload is not None else None


_box = S.parse_box


# -- health and operations -----------------------------------------------------------------------------

@health.get("/healthz")
@health.doc(summary="Liveness", security=[])
def healthz() -> Any:
    return {"status": "ok"}


def _ops_allowed() -> bool:
    """Operators: an address of ``KYSO_OPS_ALLOW`` (the client's own behind ``KYSO_TRUSTED_PROXIES``
    proxies) or ``KYSO_OPS_TOKEN`` as a bearer token."""
    import hmac
    import ipaddress

    settings = office().settings
    token = _bearer_token()
    if settings.ops_token and token and hmac.compare_digest(token.encode(), settings.ops_token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n) for n in settings.ops_allow)


class OpsForbidden(Forbidden):
    message_en = "Metrics are for the operators: set KYSO_OPS_ALLOW or send KYSO_OPS_TOKEN as a bearer token."
    message_vi = "Số liệu vận hành chỉ dành cho người vận hành (KYSO_OPS_ALLOW hoặc KYSO_OPS_TOKEN)."


@health.get("/readyz")
@health.doc(summary="Readiness: database, key token, TSA (the detail for operators only)", security=[])
def readyz() -> Any:
    import requests as http
    from sqlalchemy import text

    o = office()
    checks: dict[str, str] = {}
    try:
        with o.db.session() as s:
            s.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        token = o._token
        checks["key_store"] = "ok" if token is not None and not token.closed and token.session is not None else "error"
    except Exception as exc:  # noqa: BLE001
        checks["key_store"] = f"error: {type(exc).__name__}"
    tsa = o.engine.policy.tsa_url
    for name, url in (("tsa", tsa), ("ocsp", o.dev_pki.ocsp_url("ca-gov") if o.dev_pki else None)):
        if url is None:
            checks[name] = "not configured"
            continue
        try:
            http.get(url, timeout=2)   # any HTTP answer means reachable
            checks[name] = "ok"
        except http.RequestException as exc:
            checks[name] = f"unreachable: {type(exc).__name__}"
    ok = all(v in ("ok", "not configured") for v in checks.values())
    body: dict[str, Any] = {"status": "ready" if ok else "not_ready"}
    if _ops_allowed():
        body["checks"] = checks
    response = jsonify(body)
    response.status_code = 200 if ok else 503
    return response


@health.get("/metrics")
@health.doc(summary="Prometheus metrics, added up over the workers (operators only)", security=[])
def metrics() -> Response:
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        generate_latest,
    )

    if not _ops_allowed():
        raise OpsForbidden()
    registry = METRICS_REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


# -- outgoing ------------------------------------------------------------------------------------------

@api_v1.post("/prepare")
@api_v1.auth_required(bearer)
@api_v1.input(S.PrepareForm, location="form_and_files", arg_name="form")
@api_v1.doc(summary="Prepare a draft: empty number, date and signature fields on its own blanks")
def prepare(form) -> Any:
    boxes = {name: _box(form.get(f"{name}_box")) for name in ("number", "date", "signature")}
    prepared = office().prepare(caller(), _read(form["file"]), boxes={k: v for k, v in boxes.items() if v},
                                signer_name=form.get("signer_name"))
    return {**prepared.to_dict(), "href": url_for("api_v1.download", sha256=prepared.stored.sha256)}


@api_v1.post("/sign")
@api_v1.auth_required(bearer)
@api_v1.input(S.SignForm, location="form_and_files", arg_name="form")
@api_v1.doc(summary="Sign with the caller's own personal key", responses={200: "The signed PDF"})
def sign(form) -> Response:
    placement = None
    if form.get("box"):
        from office import Placement

        page, box = _box(f"{form.get('page') or -1}:{form['box']}")
        placement = Placement(page=page, box=box)
    signed = office().sign(caller(), _read(form["file"]), level=form.get("level"),
                           appearance=form.get("appearance") or "invisible", reason=form.get("reason"),
                           location=form.get("location"), field=form.get("field"), placement=placement,
                           passphrase=form.get("passphrase"), certify=form.get("certify"))
    stem = (form["file"].filename or "document.pdf").rsplit("/", 1)[-1]
    stem = stem[:-4] if stem.lower().endswith(".pdf") else stem
    return pdf_response(signed.stored.data, f"{stem or 'document'}-signed.pdf", signature_field=signed.field,
                        level=signed.level, sha256=signed.stored.sha256, signer_fingerprint=signed.signer_fingerprint)


@api_v1.post("/issue")
@api_v1.auth_required(bearer)
@api_v1.input(S.IssueForm, location="form_and_files", arg_name="form")
@api_v1.doc(summary="Issue: the next number, the date and the agency's signature (a clerk)",
            responses={200: "The issued PDF"})
def issue(form) -> Response:
    issued = office().issue(caller(), _read(form.get("file")), sha256=form.get("sha256"), doc_type=form["type"],
                            unit=form.get("unit"), place=form.get("place"), summary=form.get("summary"),
                            recipients=form.get("recipient") or None, level=form.get("level"),
                            passphrase=form.get("passphrase"))
    return pdf_response(issued.stored.data, f"{issued.number.replace('/', '-')}.pdf", number=issued.number,
                        sha256=issued.stored.sha256, verdict=issued.report.get("verdict"))


@api_v1.post("/sign-attachment")
@api_v1.auth_required(bearer)
@api_v1.input(S.AttachmentForm, location="form_and_files", arg_name="form")
@api_v1.doc(summary="The agency's signature on an attachment of an issued document", responses={200: "PDF"})
def sign_attachment(form) -> Response:
    signed = office().sign_attachment(caller(), _read(form["file"]), main_number=form["main_number"],
                                      level=form.get("level"), passphrase=form.get("passphrase"))
    return pdf_response(signed.stored.data, "phu-luc.pdf", sha256=signed.stored.sha256)


@api_v1.post("/copy")
@api_v1.auth_required(bearer)
@api_v1.input(S.CopyForm, location="form_and_files", arg_name="form")
@api_v1.doc(summary="A copy (SY, SL, TrS) of a document the agency issued or registered", responses={200: "PDF"})
def make_copy(form) -> Response:
    pages = [int(x) for x in (form.get("pages") or "").split(",") if x.strip()] or None
    copy = office().make_copy(caller(), _read(form.get("file")), sha256=form.get("sha256"), form=form["form"],
                              pages=pages, level=form.get("level"), passphrase=form.get("passphrase"))
    return pdf_response(copy.stored.data, f"{copy.number.replace('/', '-')}.pdf", number=copy.number,
                        sha256=copy.stored.sha256)


@api_v1.post("/extend")
@api_v1.auth_required(bearer)
@api_v1.input(S.ExtendForm, location="form_and_files", arg_name="form")
@api_v1.doc(summary="Raise a signed document (any tool's) to B-LT or B-LTA, without a new signature",
            responses={200: "The extended PDF"})
def extend(form) -> Response:
    archived = office().extend(caller(), _read(form.get("file")), sha256=form.get("sha256"), to=form["to"])
    return _archived_response(archived, form.get("file"), "extended")


@api_v1.post("/renew")
@api_v1.auth_required(bearer)
@api_v1.input(S.RenewForm, location="form_and_files", arg_name="form")
@api_v1.doc(summary="Renew an archive: a new document timestamp with its validation data",
            responses={200: "The renewed PDF"})
def renew(form) -> Response:
    archived = office().renew(caller(), _read(form.get("file")), sha256=form.get("sha256"))
    return _archived_response(archived, form.get("file"), "renewed")


@api_v1.get("/archive/due")
@api_v1.auth_required(bearer)
@api_v1.input(S.DueQuery, location="query", arg_name="query")
@api_v1.doc(summary="Stored documents whose protection ends within N days (latest versions)")
def archive_due(query) -> Any:
    return {"days": query["days"], "documents": office().due_for_renewal(caller(), days=query["days"])}


def _archived_response(archived, upload, suffix: str) -> Response:
    stem = ((upload.filename if upload is not None else None) or archived.source_sha256[:12]).rsplit("/", 1)[-1]
    stem = stem[:-4] if stem.lower().endswith(".pdf") else stem
    return pdf_response(archived.stored.data, f"{stem}-{suffix}.pdf", level=archived.level,
                        sha256=archived.stored.sha256, source_sha256=archived.source_sha256,
                        protected_until=archived.protected_until)


@api_v1.post("/sign/prepare")
@api_v1.auth_required(bearer)
@api_v1.input(S.TwoStepPrepareForm, location="form_and_files", arg_name="form")
@api_v1.doc(summary="Two-step signing: the digest the official's own device signs")
def sign_prepare(form) -> Any:
    prepared = office().sign_prepare(caller(), _read(form["file"]), level=form.get("level"),
                                     reason=form.get("reason"))
    return prepared.to_dict()


@api_v1.post("/sign/finish")
@api_v1.auth_required(bearer)
@api_v1.input(S.TwoStepFinishForm, location="form", arg_name="form")
@api_v1.doc(summary="Two-step signing: embed the device's answer", responses={200: "The signed PDF"})
def sign_finish(form) -> Response:
    try:
        signature = base64.b64decode(form["signature"], validate=True) if form.get("signature") else None
        cms = base64.b64decode(form["cms"], validate=True) if form.get("cms") else None
    except (binascii.Error, ValueError):
        raise BadInput("signature and cms are base64", message_vi="signature và cms phải ở dạng base64.") from None
    signed = office().sign_finish(caller(), form["handle"], signature=signature, cms=cms)
    return pdf_response(signed.stored.data, "signed.pdf", sha256=signed.stored.sha256, level=signed.level)


# -- incoming ------------------------------------------------------------------------------------------

@api_v1.post("/verify")
@api_v1.auth_required(bearer)
@api_v1.input(S.VerifyForm, location="form_and_files", arg_name="form")
@api_v1.doc(summary="Verify one document: JSON (default), HTML or PDF report")
def verify_one(form) -> Response:
    fmt = _wants(("json", "html", "pdf"), form.get("format") or request.args.get("format"))
    upload = form["file"]
    report = office().verify(caller(), upload.read(), file_name=upload.filename, at=form.get("at"),
                             decree30=bool(form.get("decree30")))
    return _render_report(report, fmt, "bao-cao-kiem-tra.pdf")


@api_v1.post("/verify/batch")
@api_v1.auth_required(bearer)
@api_v1.input(S.BatchForm, location="form_and_files", arg_name="form")
@api_v1.doc(summary="Verify many files or a zip: one JSON line per file as each finishes")
def verify_batch(form) -> Response:
    lines = office().verify_batch(caller(), files=form.get("files") or [],
                                  archive=form["zip"].stream if form.get("zip") is not None else None)
    # the uploads are read one by one while the answer streams: keep the request open until the end
    return Response(stream_with_context(json.dumps(line, ensure_ascii=False) + "\n" for line in lines),
                    mimetype="application/x-ndjson")


@api_v1.post("/verify/jobs")
@api_v1.auth_required(bearer)
@api_v1.input(S.JobForm, location="form_and_files", arg_name="form")
@api_v1.doc(summary="Verify many documents as a job done by workers (files, a zip, or stored documents); "
                    "answers at once with the job (202)")
def verify_job_submit(form) -> Any:
    documents = (form.get("documents") or "").replace(",", " ").split()
    job = office().submit_verify_job(caller(), files=form.get("files") or [],
                                     archive=form["zip"].stream if form.get("zip") is not None else None,
                                     documents=documents)
    return job, 202


@api_v1.post("/incoming/reverify")
@api_v1.auth_required(bearer)
@api_v1.input(S.ReverifyForm, location="form", arg_name="form")
@api_v1.doc(summary="Verify again, as a job, every document the agency received (after a trust-store change)")
def reverify_incoming(form) -> Any:
    return office().reverify_incoming(caller(), year=form.get("year")), 202


@api_v1.get("/verify/jobs/<job_id>")
@api_v1.auth_required(bearer)
@api_v1.input(S.JobQuery, location="query", arg_name="query")
@api_v1.doc(summary="A verification job's progress (done/total, verdicts) and each document's result")
def verify_job_status(job_id: str, query) -> Any:
    return office().verify_job(caller(), job_id, reports=bool(query.get("reports")))


@api_v1.post("/incoming")
@api_v1.auth_required(bearer)
@api_v1.input(S.ReceiveForm, location="form_and_files", arg_name="form")
@api_v1.doc(summary="Receive: verify, register with the incoming number, acknowledge (receiving clerk)")
def receive(form) -> Any:
    entry = office().receive(caller(), _read(form.get("file")), sha256=form.get("sha256"), sender=form["sender"],
                             reference=form.get("reference"), summary=form.get("summary"))
    return _entry(entry)


@api_v1.post("/incoming/return")
@api_v1.auth_required(bearer)
@api_v1.input(S.ReturnForm, location="form_and_files", arg_name="form")
@api_v1.doc(summary="Return to the sender, with a notice signed by the agency")
def return_to_sender(form) -> Any:
    entry = office().return_to_sender(caller(), _read(form.get("file")), sha256=form.get("sha256"),
                                      sender=form["sender"], reference=form.get("reference"),
                                      summary=form.get("summary"), reason_vi=form.get("reason_vi"),
                                      reason_en=form.get("reason_en"), passphrase=form.get("passphrase"))
    return _entry(entry)


@api_v1.get("/incoming/<int:entry_id>")
@api_v1.auth_required(bearer)
@api_v1.doc(summary="One entry of the incoming register, with its acknowledgement")
def incoming_entry(entry_id: int) -> Any:
    return _entry(office().incoming_entry(caller(), entry_id))


def _entry(entry: dict) -> dict:
    out = {k: v for k, v in entry.items() if k not in ("report", "evidence")}
    out["document_href"] = url_for("api_v1.download", sha256=entry["document_sha256"])
    if entry.get("notice_sha256"):
        out["notice_href"] = url_for("api_v1.download", sha256=entry["notice_sha256"])
    out["verdict_outcome"] = (entry.get("report") or {}).get("outcome")
    return out


# -- reading ---------------------------------------------------------------------------------------------

@api_v1.get("/documents")
@api_v1.auth_required(bearer)
@api_v1.doc(summary="The documents the caller's agency produced or received")
def documents() -> Any:
    return {"documents": office().documents_of(caller())}


@api_v1.get("/documents/<sha256>")
@api_v1.auth_required(bearer)
@api_v1.doc(summary="A stored document (for the agencies that produced or received it, and auditors)",
            responses={200: "The PDF"})
def download(sha256: str) -> Response:
    return pdf_response(office().document(caller(), sha256), f"{sha256[:16]}.pdf", sha256=sha256)


@api_v1.get("/documents/<sha256>/report")
@api_v1.auth_required(bearer)
@api_v1.input(S.ReportQuery, location="query", arg_name="query")
@api_v1.doc(summary="The document's verification report: JSON, HTML, PDF or ETSI TS 119 102-2 XML")
def document_report(sha256: str, query) -> Response:
    fmt = _wants(("json", "html", "pdf", "etsi-xml"), query.get("format"))
    return _render_report(office().report(caller(), sha256), fmt, f"{sha256[:12]}-report.pdf")


@api_v1.get("/documents/<sha256>/revisions")
@api_v1.auth_required(bearer)
@api_v1.doc(summary="The document's signed revisions")
def revisions(sha256: str) -> Any:
    report = office().report(caller(), sha256)
    return {"sha256": sha256, "revisions": report["revisions"], "signatures": [
        {"field": s["field"], "revision": s["revision"], "kind": s["kind"], "indication": s["indication"],
         "href": url_for("api_v1.revision", sha256=sha256, field=s["field"])} for s in report["signatures"]]}


@api_v1.get("/documents/<sha256>/revisions/<field>")
@api_v1.auth_required(bearer)
@api_v1.doc(summary="What the signer of FIELD saw", responses={200: "The PDF revision"})
def revision(sha256: str, field: str) -> Response:
    return pdf_response(office().revision(caller(), sha256, field), f"{sha256[:12]}-{field}.pdf")


@api_v1.get("/documents/<sha256>/history")
@api_v1.auth_required(bearer)
@api_v1.doc(summary="A document's register entries, audit records and signatures (auditors)")
def history(sha256: str) -> Any:
    return office().history(caller(), sha256)


@api_v1.get("/registers/<which>")
@api_v1.auth_required(bearer)
@api_v1.input(S.RegisterQuery, location="query", arg_name="query")
@api_v1.doc(summary="The outgoing or incoming register (auditors: every agency; clerks: their own)")
def register(which: str, query) -> Any:
    entries = office().registers(caller(), which, year=query.get("year"), status=query.get("status"))
    return {"register": which, "year": query.get("year"), "status": query.get("status"),
            "entries": [{k: v for k, v in e.items() if k not in ("report", "evidence")} for e in entries]}


@api_v1.get("/waiting")
@api_v1.auth_required(bearer)
@api_v1.doc(summary="Drafts of the clerk's agency signed by the competent person and waiting for a number")
def waiting() -> Any:
    return {"waiting": office().waiting(caller())}


# -- metrics -------------------------------------------------------------------------------------------

def _metrics():
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry()
    requests_total = Counter("kyso_http_requests_total", "HTTP requests", ["endpoint", "status"], registry=registry)
    latency = Histogram("kyso_http_request_seconds", "HTTP request latency", ["endpoint"], registry=registry,
                        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
    return registry, requests_total, latency


METRICS_REGISTRY, _REQUESTS, _LATENCY = _metrics()

CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
                           "script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
                           "form-action 'self'")


def _secure(response: Response, *, production: bool) -> None:
    """Security headers on every response: pages cannot be framed, sniffed or leak their address;
    nothing personal is cached; in production, HTTPS only (HSTS)."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")   # Flask-WTF checks the Referer over HTTPS
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
    if "/static/" not in request.path:
        headers.setdefault("Cache-Control", "no-store")
    if production:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


# -- the factory ---------------------------------------------------------------------------------------

def create_app(settings: Settings | None = None, *, office: Office | None = None) -> APIFlask:
    """Build the Kyso application: the API, the web pages and (in dev mode) the dev PKI's OCSP, CRL
    and TSA under the path of ``settings.dev_pki_url``. ``office`` (tests sharing one token)
    defaults to :meth:`Office.from_settings`."""
    from datetime import timedelta

    from flask_wtf.csrf import CSRFProtect

    from webui.pages import SESSION_HOURS, pages, render_error

    settings = settings or Settings.from_env()
    if settings.is_production and os.environ.get("FLASK_DEBUG", "").lower() in ("1", "true", "yes"):
        from kyso.errors import ConfigurationError

        raise ConfigurationError("FLASK_DEBUG is refused in production", message_vi="Không bật chế độ gỡ lỗi khi vận hành.")
    the_office = office or Office.from_settings(settings)
    if office is None:
        the_office.start_housekeeping()   # the crash reconciler, every KYSO_RECONCILE_MINUTES
    app = APIFlask(__name__, title="Kyso", version=__version__, spec_path="/api/v1/openapi.json",
                   docs_path=None, docs_oauth2_redirect_path=None)   # no UI: it would load scripts from a CDN
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        SECRET_KEY=settings.secret_key,
        JSON_AS_ASCII=False,
        SESSION_COOKIE_NAME="kyso_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
        SECURITY_SCHEMES={"bearer": {"type": "http", "scheme": "bearer"}},
        VALIDATION_ERROR_STATUS_CODE=422,
        INFO={"description": "Kyso (ký số): signing and verifying PDF documents for Vietnamese state offices."},
    )
    app.json.ensure_ascii = False
    app.extensions["kyso"] = the_office
    csrf = CSRFProtect(app)   # the web pages' forms; the API (bearer tokens) does not need it
    app.register_blueprint(health)
    app.register_blueprint(api_v1)
    app.register_blueprint(pages)
    csrf.exempt(health)
    csrf.exempt(api_v1)

    @app.error_processor
    def _validation(error):   # apiflask's request validation: the same error shape as everything else
        if error.status_code == 422:
            code, en, vi = _validation_code(error.detail or {})
        else:
            code, en, vi = _HTTP_CODES.get(error.status_code, ("http_error", error.message or "HTTP error", "Lỗi HTTP."))
        if error.status_code == 401:   # no token, or not a bearer token: audited like a wrong one
            the_office._audit(None, "login_failed", "unauthenticated", client=request.remote_addr,
                              detail={"path": request.path[:200]})
        body = {"error": {"code": code, "message": en, "message_vi": vi,
                          **({"detail": error.detail} if error.detail else {})}}
        return body, error.status_code, error.headers

    @app.errorhandler(KysoError)
    def _kyso_error(exc: KysoError):
        body, status = error_body(exc)
        if _browser():
            return render_error(status, exc.code, exc.message_vi_text, exc.message)
        return jsonify(body), status, http_headers(exc)   # Retry-After with a 429

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        body, status = http_error_body(exc.code or 500, exc.description)
        if _browser():
            err = body["error"]
            return render_error(status, err["code"], err["message_vi"], err["message"])
        return jsonify(body), status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        body, status = unexpected_body(exc)
        if _browser():
            err = body["error"]
            return render_error(status, err["code"], err["message_vi"], err["message"])
        return jsonify(body), status

    @app.get("/")
    @app.doc(hide=True)
    def front_door():
        return redirect(url_for("pages.home"))

    @app.before_request
    def _start_timer():
        g.kyso_started = time.perf_counter()

    @app.after_request
    def _count(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        _REQUESTS.labels(endpoint=endpoint, status=str(response.status_code)).inc()
        if hasattr(g, "kyso_started"):
            _LATENCY.labels(endpoint=endpoint).observe(time.perf_counter() - g.kyso_started)
        _secure(response, production=settings.is_production)
        return response

    pki = the_office.dev_pki
    if pki is not None and pki.mount_path:
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {pki.mount_path: pki.wsgi_app()})
    if settings.trusted_proxies:
        # behind a TLS proxy: the client's address and scheme from X-Forwarded-For/-Proto, believing
        # exactly that many proxies (a client cannot forge its way past them)
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    the_office.warm_up()   # fonts prepared before the first request, not during it
    settle()               # the worker is set up: its objects live as long as it does
    return app
