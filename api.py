"""Kyso's HTTP edge: the Flask application factory.

Thin by design: it authenticates, maps requests onto the packages through
:mod:`kyso.services`, and maps every error to HTTP in one place
(:func:`_error_response`). Errors are ``{"error": {"code", "message",
"message_vi"}}`` with a 4xx status, or 503 when a dependency is down.

    flask --app api run            # or: kyso serve (the README's `make run`)
"""
from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from kyso.errors import ErrorKind, KysoError
from kyso.services import Services
from kyso.settings import Settings
from signer import Level, SignRequest

log = logging.getLogger("kyso.api")

STATUS_BY_KIND = {
    ErrorKind.INVALID_INPUT: 422,
    ErrorKind.UNSUPPORTED_MEDIA: 415,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.REFUSED: 422,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.CONFIGURATION: 500,
    ErrorKind.INTERNAL: 500,
}

_HTTP_CODES = {
    400: ("bad_request", "The request is malformed.", "Yêu cầu không hợp lệ."),
    401: ("unauthenticated", "Authentication is required.", "Cần xác thực."),
    403: ("forbidden", "You are not allowed to do this.", "Bạn không có quyền thực hiện thao tác này."),
    404: ("not_found", "No such resource.", "Không tìm thấy tài nguyên."),
    405: ("method_not_allowed", "This method is not allowed here.", "Phương thức không được hỗ trợ."),
    413: ("upload_too_large", "The upload exceeds the size limit.", "Tệp tải lên vượt quá giới hạn dung lượng."),
    415: ("unsupported_media_type", "Unsupported media type.", "Định dạng không được hỗ trợ."),
}


class BadRequest(KysoError):
    code = "bad_request"
    kind = ErrorKind.INVALID_INPUT
    message_en = "The request is malformed."
    message_vi = "Yêu cầu không hợp lệ."


class MissingFile(BadRequest):
    code = "file_missing"
    message_en = "Upload the PDF in the multipart field 'file'."
    message_vi = "Hãy tải tệp PDF lên trong trường 'file' (multipart)."


class InvalidLevel(BadRequest):
    code = "level_invalid"
    message_en = "Unknown PAdES level; use B-B, B-T, B-LT or B-LTA."
    message_vi = "Mức PAdES không hợp lệ; hãy dùng B-B, B-T, B-LT hoặc B-LTA."


def _error_response(exc: KysoError, status: int | None = None) -> Response:
    status = status or STATUS_BY_KIND.get(exc.kind, 500)
    if status >= 500 and exc.kind is not ErrorKind.UNAVAILABLE:
        log.error("internal error: %s", exc, exc_info=exc)
    response = jsonify(exc.to_dict())
    response.status_code = status
    return response


def _http_error(exc: HTTPException) -> Response:
    code, en, vi = _HTTP_CODES.get(exc.code or 500, ("http_error", exc.description or "HTTP error", "Lỗi HTTP"))
    response = jsonify({"error": {"code": code, "message": en, "message_vi": vi}})
    response.status_code = exc.code or 500
    return response


class DatabaseUnavailable(KysoError):
    code = "database_unavailable"
    kind = ErrorKind.UNAVAILABLE
    message_en = "The database is unavailable; try again shortly."
    message_vi = "Cơ sở dữ liệu tạm thời không truy cập được; hãy thử lại sau."


def _unexpected(exc: Exception) -> Response:
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, (OperationalError, DBAPIError)):
        log.warning("database unavailable: %s", exc)
        return _error_response(DatabaseUnavailable())
    log.exception("unexpected error")
    response = jsonify({"error": {"code": "internal", "message": "Internal error; it has been logged.",
                                  "message_vi": "Lỗi hệ thống; sự cố đã được ghi nhận."}})
    response.status_code = 500
    return response


def _services() -> Services:
    return current_app.extensions["kyso"]


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    match = re.fullmatch(r"Bearer\s+(\S+)", header.strip())
    return match.group(1) if match else None


health = Blueprint("health", __name__)
api_v1 = Blueprint("api_v1", __name__, url_prefix="/api/v1")


@health.get("/healthz")
def healthz() -> Any:
    return {"status": "ok"}


def _audit(official, action: str, result: str, documents=(), certificate=None, detail=None) -> None:
    office = _services().office
    if office is None:
        return
    from registers.audit import AuditEvent

    office.audit.append(AuditEvent(
        actor=official.label if official else "anonymous", role=official.role if official else "none",
        action=action, result=result, documents=tuple(documents), certificate=certificate,
        client=(request.remote_addr or "")[:64] or None, detail=detail))


@api_v1.post("/sign")
def sign() -> Response:
    """Sign the uploaded PDF with the authenticated official's own key."""
    services = _services()
    try:
        official = services.official_for_token(_bearer_token(), roles=("official", "clerk"))
    except KysoError as exc:
        _audit(None, "login_failed" if exc.code == "unauthenticated" else "forbidden", exc.code,
               detail={"path": request.path})
        raise
    try:
        return _sign(services, official)
    except KysoError as exc:
        if exc.code != "key_binding_mismatch":     # that refusal is audited where it is found
            _audit(official, "sign", exc.code, certificate=_bound_certificate(official))
        raise


def _sign(services, official) -> Response:
    form = request.form
    data = _upload()
    level = _level()
    holder = _signing_key(official)
    appearance = form.get("appearance") or "invisible"
    if appearance not in ("invisible", "personal"):
        raise BadRequest("appearance is 'invisible' or 'personal'", message_vi="appearance là 'invisible' hoặc 'personal'.")
    if appearance == "personal":
        placement = None
        if form.get("page") or form.get("box"):
            from signer.appearance import Placement

            try:
                page = int(form.get("page", "-1"))
                box = tuple(float(v) for v in form.get("box", "").split(","))
                placement = Placement(page=page - 1 if page > 0 else page, box=box)
                if len(box) != 4:
                    raise ValueError
            except ValueError:
                raise BadRequest("page is a number and box is x0,y0,x1,y1", message_vi="page là số, box là x0,y0,x1,y1.") from None
        signed = _workflow().sign_personal(data, key_holder=holder, signature_image=_image(official.label, "signature"),
                                           level=level, reason=form.get("reason") or None,
                                           location=form.get("location") or None, placement=placement)
    else:
        sign_request = SignRequest(document=data, field=form.get("field") or None, reason=form.get("reason") or None,
                                   location=form.get("location") or None, level=level)
        signed = services.engine.sign(sign_request, key_holder=holder)
    sha = _keep(signed.data, "signed")
    _audit(official, "sign", "ok", documents=(sha,), certificate=holder.fingerprint,
           detail={"level": signed.level.value, "field": signed.field})
    upload = request.files["file"]
    filename = re.sub(r"[^A-Za-z0-9._-]+", "_", (upload.filename or "document.pdf").rsplit("/", 1)[-1])
    stem = filename[:-4] if filename.lower().endswith(".pdf") else filename
    response = Response(signed.data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{stem or "document"}-signed.pdf"'
    response.headers["X-Kyso-Signature-Field"] = signed.field
    response.headers["X-Kyso-Level"] = signed.level.value
    response.headers["X-Kyso-SHA256"] = signed.sha256
    response.headers["X-Kyso-Signer-Fingerprint"] = signed.signer_fingerprint
    return response


# -- helpers shared by the routes -----------------------------------------------------------------

SIGNERS = ("official", "clerk")
READERS = ("official", "clerk", "receiver", "auditor")


def _user(roles):
    services = _services()
    try:
        return services.official_for_token(_bearer_token(), roles=roles)
    except KysoError as exc:
        _audit(None, "login_failed" if exc.code == "unauthenticated" else "forbidden", exc.code,
               detail={"path": request.path})
        raise


def _signing_key(user):
    """The key bound to the user, for this signature (a PKCS#12 key opens with the passphrase sent
    with this request only: never stored, never logged)."""
    services = _services()
    return services.signing_key(services.accounts.get(user.label), passphrase=request.form.get("passphrase"))


def _bound_certificate(user) -> str | None:
    return _services().accounts.get(user.label).certificate_sha256


def _upload(name: str = "file") -> bytes:
    upload = request.files.get(name)
    if upload is None:
        raise MissingFile()
    return upload.read()


def _level(default: str | None = None) -> Level:
    try:
        return Level.parse(request.form.get("level") or default or _services().settings.default_level)
    except ValueError:
        raise InvalidLevel(detail={"level": request.form.get("level")}) from None


def _pdf_response(data: bytes, filename: str, **headers) -> Response:
    response = Response(data, mimetype="application/pdf")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", filename)[:100] or "document.pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    for key, value in headers.items():
        response.headers["X-Kyso-" + key.replace("_", "-").title()] = str(value)
    return response


def _keep(data: bytes, origin: str) -> str:
    """Store a produced or received document (content-addressed) and return its SHA-256."""
    office = _services().office
    from registers.blobstore import record

    blob = office.blobs.put(data)
    with office.db.session() as s:
        record(s, blob, origin=origin, clock=office.clock)
    return blob.sha256


def _image(account_label: str, what: str) -> bytes:
    return _services().image_for(account_label, what)



def _workflow():
    return _services().workflow()



# -- verification ---------------------------------------------------------------------------------

def _wants(fmt_names: tuple[str, ...]) -> str:
    fmt = (request.args.get("format") or request.form.get("format") or "").lower()
    if fmt:
        if fmt not in fmt_names:
            raise BadRequest(f"format must be one of {', '.join(fmt_names)}", message_vi="Định dạng không hợp lệ.")
        return fmt
    best = request.accept_mimetypes.best_match(["application/json", "text/html", "application/pdf"],
                                               default="application/json")
    return {"text/html": "html", "application/pdf": "pdf"}.get(best, "json")


@api_v1.post("/verify")
def verify_one() -> Response:
    """Verify one document: JSON by default, HTML or PDF by ?format= or the Accept header."""
    from verifier import render, verify

    user = _user(READERS)
    fmt = _wants(("json", "html", "pdf"))
    upload = request.files.get("file")
    if upload is None:
        raise MissingFile()
    data = upload.read()
    report = verify(data, policy=_services().office.verification_policy(), file_name=upload.filename or None).to_dict()
    _audit(user, "verify", report["verdict"], documents=(report["sha256"],) if report.get("sha256") else ())
    if fmt == "html":
        return Response(render.to_html(report), mimetype="text/html")
    if fmt == "pdf":
        return _pdf_response(render.to_pdf(report), "bao-cao-kiem-tra.pdf")
    return jsonify(report)


@api_v1.post("/verify/batch")
def verify_batch() -> Response:
    """Verify many files (several 'files' parts, or one zip): one JSON line per file as each finishes."""
    import io as _io
    import zipfile

    from verifier import verify

    user = _user(READERS)
    items: list[tuple[str, bytes]] = [(f.filename or f"file-{i}", f.read())
                                      for i, f in enumerate(request.files.getlist("files"))]
    archive = request.files.get("zip")
    if archive is not None:
        try:
            with zipfile.ZipFile(_io.BytesIO(archive.read())) as zf:
                members = [m for m in zf.infolist() if not m.is_dir()]
                if len(members) > 500 or sum(m.file_size for m in members) > current_app.config["MAX_CONTENT_LENGTH"] * 4:
                    raise BadRequest("the zip is too large (more than 500 files or too many bytes when unpacked)",
                                     message_vi="Tệp zip quá lớn.")
                items += [(m.filename, zf.read(m)) for m in members]
        except zipfile.BadZipFile:
            raise BadRequest("the 'zip' part is not a zip archive", message_vi="Tệp tải lên không phải tệp zip.") from None
    if not items:
        raise MissingFile("upload files in 'files' parts or one 'zip' part",
                          message_vi="Hãy tải các tệp lên trong trường 'files' hoặc một tệp 'zip'.")
    policy = _services().office.verification_policy()
    services = _services()
    client = (request.remote_addr or "")[:64] or None

    def generate():
        from registers.audit import AuditEvent

        total = len(items)
        for index, (name, data) in enumerate(items, 1):
            report = verify(data, policy=policy, file_name=name).to_dict()
            services.office.audit.append(AuditEvent(
                actor=user.label, role=user.role, action="verify", result=report["verdict"],
                documents=(report["sha256"],) if report.get("sha256") else (), client=client))
            line = {"index": index, "total": total, "file": name, "verdict": report["verdict"],
                    "reasons": report["reasons"], "report": report}
            yield json.dumps(line, ensure_ascii=False) + "\n"

    return Response(generate(), mimetype="application/x-ndjson")


# -- Decree 30: issue, attachments, copies ------------------------------------------------------------

@api_v1.post("/issue")
def issue() -> Response:
    """The clerk's step: the next number, the date and the agency signature (a personally signed draft)."""
    user = _user(("clerk",))
    services = _services()
    data = _upload()
    form = request.form
    doc_type = form.get("type") or ""
    try:
        from signer.numbering import document_symbol

        document_symbol(doc_type=doc_type, agency=services.settings.agency, unit=form.get("unit") or None)
    except ValueError as exc:
        raise BadRequest(str(exc), message_vi="Loại văn bản hoặc đơn vị soạn thảo không hợp lệ.") from None
    try:
        holder = _signing_key(user)
        issued = _workflow().issue(
            data, key_holder=holder, agency=services.settings.agency, doc_type=doc_type,
            unit=form.get("unit") or None, place=form.get("place") or None, summary=form.get("summary") or None,
            recipients=request.form.getlist("recipient") or None, seal_image=_image(user.label, "seal"),
            agency_name=services.settings.agency_name, level=_level())
    except KysoError as exc:
        if exc.code != "key_binding_mismatch":
            _audit(user, "issue", exc.code, certificate=_bound_certificate(user))
        raise
    sha = _keep(issued.signed.data, "issued")
    from verifier import verify

    services.office.numbering.attach_report(issued.number, verify(issued.signed.data,
                                                                  policy=services.office.verification_policy()).to_dict())
    _audit(user, "issue", "ok", documents=(sha,), certificate=holder.fingerprint,
           detail={"number": issued.number.text})
    return _pdf_response(issued.signed.data, f"{issued.number.text.replace('/', '-')}.pdf",
                         number=issued.number.text, sha256=sha)


@api_v1.post("/sign-attachment")
def sign_attachment() -> Response:
    user = _user(("clerk",))
    main_number = request.form.get("main_number") or ""
    if not re.fullmatch(r"\d{2,}/[0-9A-Za-zĐđÀ-ỹ-]+", main_number):
        raise BadRequest("main_number is the main document's number and symbol, e.g. 16/CT-UBND",
                         message_vi="main_number là số, ký hiệu văn bản chính, ví dụ 16/CT-UBND.")
    holder = _signing_key(user)
    signed = _workflow().sign_attachment(_upload(), key_holder=holder, main_document_number=main_number,
                                         agency_name=_services().settings.agency_name, level=_level())
    sha = _keep(signed.data, "signed")
    _audit(user, "sign_attachment", "ok", documents=(sha,), certificate=holder.fingerprint)
    return _pdf_response(signed.data, "phu-luc.pdf", sha256=sha)


@api_v1.post("/copy")
def make_copy() -> Response:
    user = _user(("clerk",))
    form = request.form.get("form") or ""
    if form not in ("SY", "SL", "TrS"):
        raise BadRequest("form is SY, SL or TrS", message_vi="Hình thức bản sao là SY, SL hoặc TrS.")
    try:
        pages = [int(x) for x in request.form.get("pages", "").split(",") if x.strip()] or None
    except ValueError:
        raise BadRequest("pages is a comma-separated list of page numbers") from None
    holder = _signing_key(user)
    copy = _workflow().make_copy(_upload(), key_holder=holder, form=form,
                                 agency=_services().settings.agency, agency_name=_services().settings.agency_name,
                                 pages=pages, level=_level())
    sha = _keep(copy.signed.data, "copy")
    _audit(user, "copy", "ok", documents=(sha,), certificate=holder.fingerprint,
           detail={"number": copy.number.text})
    return _pdf_response(copy.signed.data, f"{copy.number.text.replace('/', '-')}.pdf", number=copy.number.text,
                         sha256=sha)


# -- two-step signing with the official's own device --------------------------------------------------

@api_v1.post("/sign/prepare")
def sign_prepare() -> Response:
    """Prepare a signature for a key that stays on the official's device: returns the digest to sign."""
    from signer import ExternalKeyHolder, SignRequest
    from signer.external import ExternalSigning, PendingStore

    user = _user(("official",))
    services = _services()
    account = services.accounts.get(user.label)
    if account.key_kind != "pkcs11":
        raise BadRequest("no certificate is bound to this user", message_vi="Người dùng chưa được gán chứng thư số.")
    bound = services.key_holder(account)
    holder = ExternalKeyHolder(certificate=bound.certificate, chain=bound.chain)
    external = ExternalSigning(engine=services.engine, store=PendingStore(Path(services.settings.data_dir) / "pending"))
    prepared = external.prepare(SignRequest(document=_upload(), level=_level(), reason=request.form.get("reason") or None),
                                key_holder=holder)
    _audit(user, "sign", "prepared", certificate=account.certificate_sha256)
    return jsonify(prepared.to_dict())


@api_v1.post("/sign/finish")
def sign_finish() -> Response:
    import base64
    import binascii

    from signer.external import ExternalSigning, PendingStore

    user = _user(("official",))
    services = _services()
    handle = request.form.get("handle") or ""
    try:
        signature = base64.b64decode(request.form["signature"], validate=True) if request.form.get("signature") else None
        cms = base64.b64decode(request.form["cms"], validate=True) if request.form.get("cms") else None
    except (binascii.Error, ValueError):
        raise BadRequest("signature and cms are base64", message_vi="signature và cms phải ở dạng base64.") from None
    external = ExternalSigning(engine=services.engine, store=PendingStore(Path(services.settings.data_dir) / "pending"))
    signed = external.finish(handle, signature=signature, cms_data=cms)
    if signed.signer_fingerprint != _bound_certificate(user):
        raise Forbidden("this pending signature belongs to another user")
    sha = _keep(signed.data, "signed")
    _audit(user, "sign", "ok", documents=(sha,), certificate=signed.signer_fingerprint)
    return _pdf_response(signed.data, "signed.pdf", sha256=sha, level=signed.level.value)


# -- documents ---------------------------------------------------------------------------------------

_SHA = re.compile(r"^[0-9a-f]{64}$")


def _document(sha256: str) -> bytes:
    office = _services().office
    if not office.is_document(sha256):
        raise NotFound()
    return office.blobs.read(sha256)


@api_v1.get("/documents/<sha256>")
def download(sha256: str) -> Response:
    user = _user(READERS)
    data = _document(sha256)
    _audit(user, "download", "ok", documents=(sha256,))
    return _pdf_response(data, f"{sha256[:16]}.pdf", sha256=sha256)


@api_v1.get("/documents/<sha256>/revisions")
def revisions(sha256: str) -> Response:
    from verifier import verify

    user = _user(READERS)
    report = verify(_document(sha256), policy=_services().office.verification_policy()).to_dict()
    _audit(user, "download", "ok", documents=(sha256,))
    return jsonify({"sha256": sha256, "revisions": report["revisions"], "signatures": [
        {"field": s["field"], "revision": s["revision"], "kind": s["kind"], "indication": s["indication"],
         "href": f"/api/v1/documents/{sha256}/revisions/{s['field']}"} for s in report["signatures"]]})


@api_v1.get("/documents/<sha256>/revisions/<field>")
def revision(sha256: str, field: str) -> Response:
    from verifier.extract import RevisionNotFound, signed_revision

    user = _user(READERS)
    try:
        data = signed_revision(_document(sha256), field)
    except RevisionNotFound:
        raise NotFound() from None
    _audit(user, "download", "ok", documents=(sha256,))
    return _pdf_response(data, f"{sha256[:12]}-{field}.pdf")


@api_v1.get("/documents/<sha256>/report")
def document_report(sha256: str) -> Response:
    from verifier import render, verify

    user = _user(READERS)
    fmt = _wants(("json", "html", "pdf", "etsi-xml"))
    report = verify(_document(sha256), policy=_services().office.verification_policy()).to_dict()
    _audit(user, "download", "ok", documents=(sha256,))
    if fmt == "html":
        return Response(render.to_html(report), mimetype="text/html")
    if fmt == "pdf":
        return _pdf_response(render.to_pdf(report), f"{sha256[:12]}-report.pdf")
    if fmt == "etsi-xml":
        return Response(render.to_etsi_xml(report), mimetype="application/xml")
    return jsonify(report)


class NotFound(KysoError):
    code = "not_found"
    kind = ErrorKind.NOT_FOUND
    message_en = "No such document."
    message_vi = "Không tìm thấy văn bản."


class Forbidden(KysoError):
    code = "forbidden"
    kind = ErrorKind.FORBIDDEN
    message_en = "You are not allowed to do this."
    message_vi = "Bạn không có quyền thực hiện thao tác này."


# -- operations -------------------------------------------------------------------------------------

def _ops_allowed() -> bool:
    """May this request read the operations detail (metrics, readiness checks)? From an address of
    ``KYSO_OPS_ALLOW`` (loopback in dev; the client address is the proxy's unless
    ``KYSO_TRUSTED_PROXIES`` says how many proxies to believe), or with ``KYSO_OPS_TOKEN``."""
    import hmac
    import ipaddress

    settings = _services().settings
    token = _bearer_token()
    if settings.ops_token and token and hmac.compare_digest(token.encode(), settings.ops_token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n) for n in settings.ops_allow)


class OpsForbidden(KysoError):
    code = "forbidden"
    kind = ErrorKind.FORBIDDEN
    message_en = "Metrics are for the operators: set KYSO_OPS_ALLOW or send KYSO_OPS_TOKEN as a bearer token."
    message_vi = "Số liệu vận hành chỉ dành cho người vận hành (KYSO_OPS_ALLOW hoặc KYSO_OPS_TOKEN)."


@health.get("/readyz")
def readyz() -> Any:
    """Ready to serve: database, key store, TSA and OCSP reachable; 503 otherwise. The checks' detail
    is shown to operators only (``_ops_allowed``); a load balancer gets the status alone."""
    import requests as http

    services = _services()
    checks: dict[str, str] = {}
    try:
        with services.office.db.session() as s:
            from sqlalchemy import text

            s.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        token = services._token
        checks["key_store"] = "ok" if token is not None and not token.closed and token.session is not None else "error"
    except Exception as exc:  # noqa: BLE001
        checks["key_store"] = f"error: {type(exc).__name__}"
    tsa = services.engine.policy.tsa_url
    for name, url in (("tsa", tsa), ("ocsp", services.pki.ocsp_url("ca-gov") if services.pki else None)):
        if url is None:
            checks[name] = "not configured"
            continue
        try:
            http.get(url, timeout=2)   # any HTTP answer means reachable
            checks[name] = "ok"
        except http.RequestException as exc:
            checks[name] = f"unreachable: {type(exc).__name__}"
    ok = all(v in ("ok", "not configured") for v in checks.values())
    body = {"status": "ready" if ok else "not_ready"}
    if _ops_allowed():
        body["checks"] = checks
    response = jsonify(body)
    response.status_code = 200 if ok else 503
    return response


@health.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics, for operators only; under gunicorn the sum over every worker
    (``PROMETHEUS_MULTIPROC_DIR``, set by ``kyso/gunicorn_conf.py``)."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    if not _ops_allowed():
        raise OpsForbidden()
    registry = METRICS_REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


@api_v1.get("/openapi.json")
def openapi() -> Any:
    from webui.openapi import spec

    return jsonify(spec())


def _metrics():
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry()
    requests_total = Counter("kyso_http_requests_total", "HTTP requests", ["endpoint", "status"], registry=registry)
    latency = Histogram("kyso_http_request_seconds", "HTTP request latency", ["endpoint"], registry=registry,
                        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
    return registry, requests_total, latency


METRICS_REGISTRY, _REQUESTS, _LATENCY = _metrics()


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    """Build the Kyso application.

    ``settings`` defaults to :meth:`Settings.from_env`; ``services`` (for
    tests that share one SoftHSM token across apps) defaults to
    :meth:`Services.from_settings`. In dev mode the dev PKI's OCSP, CRL and
    TSA are mounted under the path of ``settings.dev_pki_url``.
    """
    settings = settings or Settings.from_env()
    if settings.is_production and os.environ.get("FLASK_DEBUG", "").lower() in ("1", "true", "yes"):
        from kyso.errors import ConfigurationError

        raise ConfigurationError("FLASK_DEBUG is refused in production", message_vi="Không bật chế độ gỡ lỗi khi vận hành.")
    services = services or Services.from_settings(settings)
    from datetime import timedelta

    from flask_wtf.csrf import CSRFProtect

    from webui.pages import SESSION_HOURS

    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        SECRET_KEY=settings.secret_key,
        JSON_AS_ASCII=False,
        # the web pages' session: a signed cookie (username, role, login time, language, CSRF secret)
        SESSION_COOKIE_NAME="kyso_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
    )
    app.json.ensure_ascii = False
    app.extensions["kyso"] = services
    # every POST form of the web pages carries a CSRF token; the API (bearer tokens) does not need one
    csrf = CSRFProtect(app)
    app.register_blueprint(health)
    app.register_blueprint(api_v1)
    from webui.auditor import auditor
    from webui.pages import pages

    app.register_blueprint(auditor)
    app.register_blueprint(pages)
    for blueprint in (health, api_v1, auditor):
        csrf.exempt(blueprint)
    app.register_error_handler(KysoError, _error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    import time as _time

    @app.before_request
    def _start_timer():
        g.kyso_started = _time.perf_counter()

    @app.after_request
    def _count(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        _REQUESTS.labels(endpoint=endpoint, status=str(response.status_code)).inc()
        if hasattr(g, "kyso_started"):
            _LATENCY.labels(endpoint=endpoint).observe(_time.perf_counter() - g.kyso_started)
        return response

    @app.after_request
    def _security_headers(response):
        _secure(response, production=settings.is_production)
        return response

    if services.pki is not None and services.pki.mount_path:
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {services.pki.mount_path: services.pki.wsgi_app()})
    if settings.trusted_proxies:
        # behind a TLS proxy: the client's address and scheme from X-Forwarded-For/-Proto, believing
        # exactly that many proxies (a client cannot forge its way past them)
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    return app


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
    if not request.path.startswith("/static/") and "/static/" not in request.path:
        headers.setdefault("Cache-Control", "no-store")
    if production:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
