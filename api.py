"""Kyso's HTTP edge: the Flask application factory.

Thin by design: it authenticates, maps requests onto the packages through
:mod:`kyso.services`, and maps every error to HTTP in one place
(:func:`_error_response`). Errors are ``{"error": {"code", "message",
"message_vi"}}`` with a 4xx status, or 503 when a dependency is down.

    flask --app api run            # or: kyso serve (the README's `make run`)
"""
from __future__ import annotations

import logging
import re
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


def _unexpected(exc: Exception) -> Response:
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
        _audit(official, "sign", exc.code, certificate=official.key_holder.fingerprint)
        raise


def _sign(services, official) -> Response:
    upload = request.files.get("file")
    if upload is None:
        raise MissingFile()
    try:
        level = Level.parse(request.form.get("level") or services.settings.default_level)
    except ValueError:
        raise InvalidLevel(detail={"level": request.form.get("level")}) from None
    data = upload.read()
    sign_request = SignRequest(
        document=data,
        field=request.form.get("field") or None,
        reason=request.form.get("reason") or None,
        location=request.form.get("location") or None,
        level=level,
    )
    signed = services.engine.sign(sign_request, key_holder=official.key_holder)
    _audit(official, "sign", "ok", documents=(signed.sha256,), certificate=official.key_holder.fingerprint,
           detail={"level": signed.level.value, "field": signed.field})
    filename = re.sub(r"[^A-Za-z0-9._-]+", "_", (upload.filename or "document.pdf").rsplit("/", 1)[-1])
    stem = filename[:-4] if filename.lower().endswith(".pdf") else filename
    response = Response(signed.data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{stem or "document"}-signed.pdf"'
    response.headers["X-Kyso-Signature-Field"] = signed.field
    response.headers["X-Kyso-Level"] = signed.level.value
    response.headers["X-Kyso-SHA256"] = signed.sha256
    response.headers["X-Kyso-Signer-Fingerprint"] = signed.signer_fingerprint
    return response


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    """Build the Kyso application.

    ``settings`` defaults to :meth:`Settings.from_env`; ``services`` (for
    tests that share one SoftHSM token across apps) defaults to
    :meth:`Services.from_settings`. In dev mode the dev PKI's OCSP, CRL and
    TSA are mounted under the path of ``settings.dev_pki_url``.
    """
    settings = settings or Settings.from_env()
    services = services or Services.from_settings(settings)
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        SECRET_KEY=settings.secret_key,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    app.extensions["kyso"] = services
    app.register_blueprint(health)
    app.register_blueprint(api_v1)
    from webui.auditor import auditor

    app.register_blueprint(auditor)
    app.register_error_handler(KysoError, _error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    if services.pki is not None and services.pki.mount_path:
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {services.pki.mount_path: services.pki.wsgi_app()})
    return app
