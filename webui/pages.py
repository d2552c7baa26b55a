"""Kyso's web pages: log in with the API token, sign, issue (Decree 30) and verify, in Vietnamese or English.

    GET  /web/                        home: the first page the role may use
    GET  /web/login  POST /web/login  paste the API token ("mã truy cập") -> a web session
    POST /web/logout
    GET  /web/sign   POST /web/sign   officials, clerks: upload, preview, appearance, level -> signed PDF
    POST /web/preview                 officials, clerks: PNG of page 1 (pdftoppm), for the sign and issue pages
    GET  /web/issue  POST /web/issue  clerks: documents waiting for a number; issue with one click
    GET  /web/verify                  every role: drop many files, a table of verdicts filled in as each finishes
    POST /web/verify                  JSON for that page: {"report": ..., "href": ...}
    GET  /web/documents/<sha256>      the full report of a stored document, with the certificate chains
    GET  /web/documents/<sha256>/download   the stored PDF, to the user who signed or issued it only

Sessions: Flask's signed cookie holds the username, the role, the login time and the language,
never the token; the user (and the key) is resolved again from the accounts on every request, so
a disabled account or a changed role ends the session at once. Every POST form carries the
CSRF token (Flask-WTF ``CSRFProtect``, set up in ``api.create_app``); the JSON endpoints take it
in the ``X-CSRFToken`` header. The documents are produced by the same code as ``/api/v1``:
``services.engine``, ``IssuanceWorkflow``, the blob store and the audit trail.
"""
from __future__ import annotations

import base64
import functools
import logging
import re
import subprocess
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from flask import (Blueprint, Response, current_app, g, jsonify, redirect, render_template, request, session,
                   url_for)
from werkzeug.exceptions import HTTPException

from kyso.errors import ErrorKind, KysoError

log = logging.getLogger("kyso.web")

pages = Blueprint("pages", __name__, url_prefix="/web", template_folder="templates", static_folder="static",
                  static_url_path="/static")

SESSION_HOURS = 8
SIGNERS = ("official", "clerk")
CLERKS = ("clerk",)
READERS = ("official", "clerk", "receiver", "auditor")
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
LANGS = ("vi", "en")
_SHA = re.compile(r"^[0-9a-f]{64}$")

# the pages each role sees, in the order of the navigation bar: (endpoint, roles, Vietnamese, English)
NAV = (
    ("pages.sign_page", SIGNERS, "Ký số", "Sign"),
    ("pages.issue_page", CLERKS, "Cấp số, ban hành", "Number and issue"),
    ("pages.verify_page", READERS, "Kiểm tra chữ ký", "Verify signatures"),
)
ROLE_NAMES = {"official": ("Người ký", "Official"), "clerk": ("Văn thư", "Clerk"),
              "receiver": ("Văn thư văn bản đến", "Receiver"), "auditor": ("Kiểm toán viên", "Auditor")}
VERDICTS = {"valid": ("HỢP LỆ", "VALID"), "invalid": ("KHÔNG HỢP LỆ", "NOT VALID"),
            "indeterminate": ("CHƯA XÁC ĐỊNH", "INDETERMINATE"), "unsigned": ("KHÔNG CÓ CHỮ KÝ", "UNSIGNED")}
TYPE_CHOICES = ("CV", "QĐ", "CT", "TB", "KH", "BC", "TTr", "HD", "NQ", "GM", "GGT", "QC", "QYĐ")


# -- errors ----------------------------------------------------------------------------------------

class WebError(KysoError):
    code = "bad_request"
    kind = ErrorKind.INVALID_INPUT
    message_en = "The request is malformed."
    message_vi = "Yêu cầu không hợp lệ."


class MissingFile(WebError):
    code = "file_missing"
    message_en = "Choose a PDF file."
    message_vi = "Hãy chọn một tệp PDF."


class NotLoggedIn(KysoError):
    code = "unauthenticated"
    kind = ErrorKind.UNAUTHENTICATED
    message_en = "Your session has ended: log in again."
    message_vi = "Phiên làm việc đã hết: hãy đăng nhập lại."


class RoleForbidden(KysoError):
    code = "forbidden"
    kind = ErrorKind.FORBIDDEN
    message_en = "Your role does not allow this page."
    message_vi = "Vai trò của bạn không được phép dùng trang này."


class DocumentNotFound(KysoError):
    code = "not_found"
    kind = ErrorKind.NOT_FOUND
    message_en = "No such document."
    message_vi = "Không tìm thấy văn bản."


_STATUS = {ErrorKind.INVALID_INPUT: 422, ErrorKind.UNSUPPORTED_MEDIA: 415, ErrorKind.TOO_LARGE: 413,
           ErrorKind.REFUSED: 422, ErrorKind.UNAUTHENTICATED: 401, ErrorKind.FORBIDDEN: 403,
           ErrorKind.NOT_FOUND: 404, ErrorKind.CONFLICT: 409, ErrorKind.UNAVAILABLE: 503}
_HTTP = {400: ("Yêu cầu không hợp lệ.", "The request is malformed."),
         404: ("Không tìm thấy trang.", "No such page."),
         405: ("Phương thức không được hỗ trợ.", "This method is not allowed here."),
         413: ("Tệp tải lên vượt quá giới hạn dung lượng.", "The upload exceeds the size limit.")}
_JSON_ENDPOINTS = ("pages.verify_json", "pages.preview")


def _wants_json() -> bool:
    return request.endpoint in _JSON_ENDPOINTS or request.headers.get("X-Requested-With") == "fetch"


def _error(status: int, code: str, vi: str, en: str):
    if _wants_json():
        response = jsonify({"error": {"code": code, "message": en, "message_vi": vi}})
        response.status_code = status
        return response
    return render_template("web_error.html", status=status, code=code, message=tr(vi, en)), status


@pages.errorhandler(KysoError)
def _kyso_error(exc: KysoError):
    status = _STATUS.get(exc.kind, 500)
    if status >= 500 and exc.kind is not ErrorKind.UNAVAILABLE:
        log.error("internal error: %s", exc, exc_info=exc)
    if status == 401 and not _wants_json():
        return redirect(url_for("pages.login", next=_safe_next(request.full_path)))
    return _error(status, exc.code, exc.message_vi_text, exc.message)


@pages.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    from flask_wtf.csrf import CSRFError

    if isinstance(exc, CSRFError):
        return _error(400, "csrf_failed", "Biểu mẫu đã hết hạn hoặc không hợp lệ (CSRF): hãy tải lại trang và thử lại.",
                      "The form has expired or is not valid (CSRF): reload the page and try again.")
    status = exc.code or 500
    vi, en = _HTTP.get(status, ("Lỗi HTTP.", exc.description or "HTTP error."))
    return _error(status, "http_error" if status not in _HTTP else str(status), vi, en)


@pages.errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("unexpected error in a web page")
    return _error(500, "internal", "Lỗi hệ thống; sự cố đã được ghi nhận.", "Internal error; it has been logged.")


# -- language, users, audit ------------------------------------------------------------------------

def _services():
    return current_app.extensions["kyso"]


def lang() -> str:
    value = session.get("lang")
    return value if value in LANGS else "vi"


def tr(vi: str, en: str) -> str:
    """The label in the chosen language (Vietnamese by default)."""
    return en if lang() == "en" else vi


@pages.before_request
def _language():
    wanted = request.args.get("lang")
    if wanted in LANGS and session.get("lang") != wanted:
        session["lang"] = wanted


@pages.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
                                "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                                "form-action 'self'")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html" or request.endpoint in ("pages.download", "pages.preview"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def current_user():
    """The logged-in account, resolved again from the accounts on every request (or None)."""
    if "kyso_web_user" in g:
        return g.kyso_web_user
    user = None
    username, role, at = session.get("user"), session.get("role"), session.get("at")
    if username:
        fresh = isinstance(at, (int, float)) and 0 <= time.time() - at < SESSION_HOURS * 3600
        account = None
        if fresh:
            try:
                account = _services().accounts.get(username)
            except KysoError:
                account = None
        if account is not None and not account.disabled and account.role == role and role in READERS:
            user = account
        else:
            _end_session()
    g.kyso_web_user = user
    return user


def _end_session() -> None:
    keep = session.get("lang")
    session.clear()
    if keep in LANGS:
        session["lang"] = keep


def _audit(user, action: str, result: str, *, documents=(), certificate=None, detail=None) -> None:
    office = _services().office
    if office is None:
        return
    from registers.audit import AuditEvent

    office.audit.append(AuditEvent(
        actor=user.username if user else "anonymous", role=user.role if user else "none", action=action,
        result=result, documents=tuple(documents), certificate=certificate,
        client=(request.remote_addr or "")[:64] or None, detail={"path": request.path, **(detail or {})}))


def requires(roles: tuple[str, ...]):
    """The view needs a logged-in user with one of ``roles``; it receives the account first."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                raise NotLoggedIn()
            if user.role not in roles:
                _audit(user, "forbidden", "forbidden", detail={"allowed": list(roles)})
                raise RoleForbidden(detail={"role": user.role})
            return view(user, *args, **kwargs)
        return wrapper
    return decorate


def _nav(user) -> list[dict]:
    if user is None:
        return []
    return [{"endpoint": e, "href": url_for(e), "label": tr(vi, en), "active": request.endpoint == e}
            for e, roles, vi, en in NAV if user.role in roles]


@pages.app_template_global("tr")
def _tr_global(vi: str, en: str) -> str:
    return tr(vi, en)


@pages.context_processor
def _context() -> dict[str, Any]:
    user = current_user()
    role = ROLE_NAMES.get(user.role, (user.role, user.role)) if user else None
    from urllib.parse import urlencode

    other = "en" if lang() == "vi" else "vi"
    args = {k: v for k, v in request.args.items() if k not in ("lang", "bye")}
    return {"lang": lang(), "other_lang": other, "lang_href": request.path + "?" + urlencode({**args, "lang": other}),
            "user": user, "nav": _nav(user),
            "role_name": tr(*role) if role else "", "agency_name": _services().settings.agency_name}


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    target = target.rstrip("?")
    if target.startswith("/web/") and not target.startswith("//") and "\\" not in target and "\n" not in target:
        return target
    return None


# -- login -----------------------------------------------------------------------------------------

@pages.get("/")
def home():
    user = current_user()
    if user is None:
        return redirect(url_for("pages.login"))
    nav = _nav(user)
    return redirect(nav[0]["href"] if nav else url_for("pages.login"))


@pages.route("/login", methods=["GET", "POST"])
def login():
    services = _services()
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(next_url or url_for("pages.home"))
        return render_template("web_login.html", next=next_url, error=None,
                               notice=tr("Bạn đã đăng xuất.", "You have logged out.")
                               if request.args.get("bye") else None)
    token = (request.form.get("token") or "").strip()
    try:
        official = services.official_for_token(token, roles=READERS)
    except KysoError as exc:
        _audit(None, "login_failed" if exc.code == "unauthenticated" else "forbidden", exc.code,
               detail={"via": "web"})
        message = (tr("Mã truy cập không đúng hoặc đã bị thu hồi.", "The access token is wrong or revoked.")
                   if exc.code == "unauthenticated"
                   else tr("Vai trò của tài khoản này không dùng được các trang web.",
                           "This account's role cannot use the web pages."))
        return render_template("web_login.html", next=next_url, error=message), \
            (401 if exc.code == "unauthenticated" else 403)
    _end_session()                      # a new session: nothing from before the login survives
    session.permanent = True
    session["user"] = official.label
    session["role"] = official.role
    session["at"] = int(time.time())
    g.pop("kyso_web_user", None)
    account = services.accounts.get(official.label)
    _audit(account, "login", "ok", detail={"via": "web"})
    return redirect(next_url or url_for("pages.home"))


@pages.post("/logout")
def logout():
    _end_session()
    g.pop("kyso_web_user", None)
    return redirect(url_for("pages.login", bye=1))


# -- helpers shared by the pages -------------------------------------------------------------------

def _upload(name: str = "file") -> tuple[bytes, str]:
    upload = request.files.get(name)
    if upload is None or not upload.filename:
        raise MissingFile()
    return upload.read(), upload.filename


def _level():
    from signer import Level

    value = request.form.get("level") or _services().settings.default_level
    try:
        return Level.parse(value)
    except ValueError:
        raise WebError("Unknown PAdES level; use B-B, B-T, B-LT or B-LTA.",
                       message_vi="Mức PAdES không hợp lệ; hãy dùng B-B, B-T, B-LT hoặc B-LTA.") from None


def _keep(data: bytes, origin: str) -> str:
    from registers.blobstore import record

    office = _services().office
    blob = office.blobs.put(data)
    with office.db.session() as s:
        record(s, blob, origin=origin, clock=office.clock)
    return blob.sha256


def _image(account, what: str) -> bytes:
    return _services().image_for(account.username, what)



def _workflow():
    return _services().workflow()



def _download_name(filename: str, suffix: str = "") -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", (filename or "document.pdf").rsplit("/", 1)[-1])[:80]
    stem = base[:-4] if base.lower().endswith(".pdf") else base
    return f"{stem.strip('._') or 'document'}{suffix}.pdf"


def render_first_page(data: bytes, *, timeout: float = 15.0) -> bytes | None:
    """PNG of page 1 at 60 dpi by poppler's pdftoppm (a subprocess with a timeout), or None."""
    if b"%PDF" not in data[:1024]:
        return None
    with tempfile.TemporaryDirectory(prefix="kyso-preview-") as tmp:
        source, out = Path(tmp) / "in.pdf", Path(tmp) / "page"
        source.write_bytes(data)
        try:
            # -W/-H crop: a page of absurd size cannot make a huge image
            done = subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", "-singlefile",
                                   "-x", "0", "-y", "0", "-W", "1200", "-H", "1700", str(source), str(out)],
                                  capture_output=True, timeout=timeout, check=False)
        except (subprocess.TimeoutExpired, OSError):
            return None
        png = out.with_suffix(".png")
        if done.returncode != 0 or not png.exists():
            return None
        return png.read_bytes()


def _data_uri(png: bytes | None) -> str | None:
    return "data:image/png;base64," + base64.b64encode(png).decode() if png else None


def _holder(account):
    """The key bound to the account: the token's key, or its PKCS#12 file opened with the passphrase sent now."""
    services = _services()
    if account.key_kind == "pkcs12" and not request.form.get("passphrase"):
        raise WebError("this key is a PKCS#12 file: enter its passphrase",
                       message_vi="Khóa là tệp PKCS#12: hãy nhập mật khẩu của khóa.")
    return services.signing_key(account, passphrase=request.form.get("passphrase"))


def _produced_by(user, sha256: str) -> bool:
    """Did this user sign or issue this document (per the audit trail)?"""
    from sqlalchemy import select

    from registers.models import AuditRecord

    with _services().office.db.session() as s:
        rows = s.execute(select(AuditRecord.documents).where(
            AuditRecord.actor == user.username, AuditRecord.action.in_(("sign", "issue", "sign_attachment", "copy")),
            AuditRecord.result == "ok").order_by(AuditRecord.seq.desc()).limit(5000))
        return any(sha256 in (docs or []) for (docs,) in rows)


def _stored(sha256: str) -> Path:
    office = _services().office
    if not office.is_document(sha256):
        raise DocumentNotFound()
    return office.blobs.path(sha256)


def _message(exc: KysoError) -> str:
    return tr(exc.message_vi_text, exc.message)


def _status(exc: KysoError) -> int:
    return _STATUS.get(exc.kind, 500)


# -- sign ------------------------------------------------------------------------------------------

def _sign_context(user) -> dict[str, Any]:
    return {"levels": LEVELS, "default_level": _services().settings.default_level,
            "needs_passphrase": user.key_kind == "pkcs12"}


@pages.route("/sign", methods=["GET", "POST"])
@requires(SIGNERS)
def sign_page(user):
    if request.method == "GET":
        return render_template("web_sign.html", error=None, form={}, **_sign_context(user))
    try:
        signed, sha, filename = _sign(user)
    except KysoError as exc:
        _audit(user, "sign", exc.code, certificate=user.certificate_sha256)
        return render_template("web_sign.html", error=_message(exc), form=request.form, **_sign_context(user)), \
            _status(exc)
    name = _download_name(filename, "-signed")
    return render_template("web_signed.html", sha256=sha, level=signed.level.value, field=signed.field,
                           name=name, preview=_data_uri(render_first_page(signed.data)),
                           download=url_for("pages.download", sha256=sha, name=name),
                           report=url_for("pages.document_page", sha256=sha))


def _sign(user):
    from signer import SignRequest

    services = _services()
    form = request.form
    data, filename = _upload()
    level = _level()
    appearance = form.get("appearance") or "invisible"
    if appearance not in ("invisible", "personal"):
        raise WebError("appearance is 'invisible' or 'personal'", message_vi="Hình thức chữ ký không hợp lệ.")
    holder = _holder(user)
    reason, location = form.get("reason") or None, form.get("location") or None
    if appearance == "personal":
        from signer.errors import DraftNotPrepared

        image = _image(user, "signature")
        workflow = _workflow()
        try:   # a prepared draft: its signature field; any other PDF: the bottom right of the last page
            signed = workflow.sign_personal(data, key_holder=holder, signature_image=image, level=level,
                                            reason=reason, location=location)
        except DraftNotPrepared:
            signed = workflow.sign_personal(data, key_holder=holder, signature_image=image, level=level,
                                            reason=reason, location=location, placement=_corner(data))
    else:
        signed = services.engine.sign(SignRequest(document=data, reason=reason, location=location, level=level),
                                      key_holder=holder)
    sha = _keep(signed.data, "signed")
    _audit(user, "sign", "ok", documents=(sha,), certificate=holder.fingerprint,
           detail={"level": signed.level.value, "field": signed.field})
    return signed, sha, filename


def _corner(data: bytes):
    """A signature box at the bottom right of the last page (PDF points)."""
    import io

    import pikepdf

    from signer.appearance import Placement

    width = 595.0
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            box = [float(v) for v in pdf.pages[-1].mediabox]
            width = box[2] - box[0]
    except Exception:  # noqa: BLE001 - the signing engine refuses a bad PDF with a clear error
        pass
    right = max(width - 50.0, 220.0)
    return Placement(page=-1, box=(right - 180.0, 50.0, right, 140.0))


@pages.post("/preview")
@requires(SIGNERS)
def preview(user):
    data, _ = _upload()
    png = render_first_page(data)
    if png is None:
        return _error(422, "preview_failed", "Không xem trước được tệp này (không phải PDF hoặc PDF hỏng).",
                      "This file cannot be previewed (not a PDF, or a damaged PDF).")
    return Response(png, mimetype="image/png")


# -- issue (Decree 30, the clerk) ------------------------------------------------------------------

_CACHE_LOCK = threading.Lock()
_DRAFT_STATUS: OrderedDict[tuple[int, str], tuple[float, dict]] = OrderedDict()
_PRIOR_REVISIONS: OrderedDict[str, frozenset[str]] = OrderedDict()
_STATUS_TTL = 300.0


def _draft_info(sha256: str) -> dict:
    """Decree 30 status of a stored signed document (cached a few minutes per document)."""
    from verifier import verify

    office = _services().office
    key = (id(office.policy), sha256)
    with _CACHE_LOCK:
        hit = _DRAFT_STATUS.get(key)
        if hit and time.monotonic() - hit[0] < _STATUS_TTL:
            return hit[1]
    report = verify(office.blobs.path(sha256), policy=office.verification_policy()).to_dict()
    decree30 = report.get("decree30") or {}
    signer = next((s.get("signer") or {} for s in report["signatures"]
                   if s["field"] == decree30.get("personal_field")), {})
    info = {"status": decree30.get("status"), "personal_field": decree30.get("personal_field"),
            "verdict": report["verdict"], "signer": signer.get("common_name") or signer.get("subject") or "",
            "signing_time": next((s.get("signing_time") for s in report["signatures"]
                                  if s["field"] == decree30.get("personal_field")), None)}
    with _CACHE_LOCK:
        _DRAFT_STATUS[key] = (time.monotonic(), info)
        while len(_DRAFT_STATUS) > 1024:
            _DRAFT_STATUS.popitem(last=False)
    return info


def _prior_revisions(sha256: str) -> frozenset[str]:
    """SHA-256 of every signed earlier revision of a stored document (the draft an issued file grew from)."""
    import hashlib

    with _CACHE_LOCK:
        if sha256 in _PRIOR_REVISIONS:
            return _PRIOR_REVISIONS[sha256]
    data = _services().office.blobs.read(sha256)
    found = set()
    for match in re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data):
        end = int(match.group(3)) + int(match.group(4))
        if 0 < end < len(data):
            found.add(hashlib.sha256(data[:end]).hexdigest())
    result = frozenset(found)
    with _CACHE_LOCK:
        _PRIOR_REVISIONS[sha256] = result
        while len(_PRIOR_REVISIONS) > 4096:
            _PRIOR_REVISIONS.popitem(last=False)
    return result


def waiting_documents(limit: int = 50) -> list[dict]:
    """Signed documents with a personal signature in the prepared field and no number yet."""
    from sqlalchemy import select

    from registers.models import StoredDocument
    from signer.formfields import PERSONAL_FIELD

    office = _services().office
    with office.db.session() as s:
        signed = [(d.sha256, d.stored_at) for d in s.scalars(
            select(StoredDocument).where(StoredDocument.origin == "signed")
            .order_by(StoredDocument.stored_at.desc()).limit(limit))]
        issued = [d.sha256 for d in s.scalars(
            select(StoredDocument).where(StoredDocument.origin == "issued")
            .order_by(StoredDocument.stored_at.desc()).limit(limit * 4))]
    consumed: set[str] = set()
    for sha in issued:
        if office.blobs.exists(sha):
            consumed |= _prior_revisions(sha)
    waiting = []
    for sha, stored_at in signed:
        if sha in consumed or not office.blobs.exists(sha):
            continue
        info = _draft_info(sha)
        if info["status"] == "personal_only" and info["personal_field"] == PERSONAL_FIELD:
            waiting.append({"sha256": sha, "stored_at": stored_at, **info})
    return waiting


def _issue_context(**extra) -> dict[str, Any]:
    from signer.numbering import DOCUMENT_TYPES

    services = _services()
    return {"types": [(t, DOCUMENT_TYPES.get(t, t)) for t in TYPE_CHOICES], "levels": LEVELS,
            "default_level": services.settings.default_level, "agency": services.settings.agency,
            "waiting": waiting_documents(), "error": None, "form": {}, **extra}


@pages.route("/issue", methods=["GET", "POST"])
@requires(CLERKS)
def issue_page(user):
    if request.method == "GET":
        return render_template("web_issue.html", **_issue_context())
    try:
        issued, sha, report = _issue(user)
    except KysoError as exc:
        _audit(user, "issue", exc.code, certificate=user.certificate_sha256)
        return render_template("web_issue.html", **_issue_context(error=_message(exc), form=request.form)), \
            _status(exc)
    name = _download_name(issued.number.text.replace("/", "-"))
    return render_template("web_issued.html", number=issued.number.text, sha256=sha, name=name,
                           verdict=report["verdict"],
                           verdict_label=tr(*VERDICTS.get(report["verdict"], (report["verdict"],) * 2)), preview=_data_uri(render_first_page(issued.signed.data)),
                           download=url_for("pages.download", sha256=sha, name=name),
                           report=url_for("pages.document_page", sha256=sha))


def _issue(user):
    from sqlalchemy import select

    from registers.models import StoredDocument
    from signer.numbering import document_symbol
    from verifier import verify

    services = _services()
    office = services.office
    form = request.form
    source = form.get("sha256") or ""
    if source:
        with office.db.session() as s:
            row = s.scalars(select(StoredDocument).where(StoredDocument.sha256 == source)).first() \
                if _SHA.match(source) else None
            if row is None or row.origin != "signed" or not office.blobs.exists(source):
                raise DocumentNotFound()
        data = office.blobs.read(source)
    else:
        data, _ = _upload()
    doc_type = form.get("type") or ""
    unit = (form.get("unit") or "").strip() or None
    try:
        document_symbol(doc_type=doc_type, agency=services.settings.agency, unit=unit)
    except ValueError as exc:
        raise WebError(str(exc), message_vi="Loại văn bản hoặc đơn vị soạn thảo không hợp lệ "
                                            "(công văn cần đơn vị soạn thảo, ví dụ VP).") from None
    holder = _holder(user)
    issued = _workflow().issue(
        data, key_holder=holder, agency=services.settings.agency, doc_type=doc_type, unit=unit,
        place=(form.get("place") or "").strip() or None, summary=(form.get("summary") or "").strip() or None,
        recipients=None, seal_image=_image(user, "seal"), agency_name=services.settings.agency_name,
        level=_level())
    sha = _keep(issued.signed.data, "issued")
    report = verify(issued.signed.data, policy=office.verification_policy()).to_dict()
    office.numbering.attach_report(issued.number, report)
    _audit(user, "issue", "ok", documents=(sha,), certificate=holder.fingerprint,
           detail={"number": issued.number.text, **({"source": source} if source else {})})
    return issued, sha, report


# -- verify ----------------------------------------------------------------------------------------

@pages.get("/verify")
@requires(READERS)
def verify_page(user):
    return render_template("web_verify.html")


@pages.post("/verify")
@requires(READERS)
def verify_json(user):
    """One file of the verify page: its report, and the address of its report page."""
    from verifier import verify

    data, filename = _upload()
    report = verify(data, policy=_services().office.verification_policy(), file_name=filename[:255]).to_dict()
    href = None
    if report.get("sha256") and b"%PDF" in data[:1024]:
        sha = _keep(data, "received")
        href = url_for("pages.document_page", sha256=sha)
    _audit(user, "verify", report["verdict"], documents=(report["sha256"],) if report.get("sha256") else ())
    return jsonify({"report": report, "href": href})


@pages.get("/documents/<sha256>")
@requires(READERS)
def document_page(user, sha256: str):
    from verifier import verify
    from verifier.render import to_html

    path = _stored(sha256)
    report = verify(path, policy=_services().office.verification_policy(), file_name=sha256[:12] + ".pdf").to_dict()
    _audit(user, "download", "ok", documents=(sha256,))
    page = to_html(report, lang=lang())
    body = page.split("<body>", 1)[-1].rsplit("</body>", 1)[0]
    style = page.split("<style>", 1)[-1].split("</style>", 1)[0] if "<style>" in page else ""
    can_download = user.role in SIGNERS and _produced_by(user, sha256)
    return render_template("web_document.html", sha256=sha256, report=report, report_body=body,
                           report_style=style,
                           download=url_for("pages.download", sha256=sha256) if can_download else None)


@pages.get("/documents/<sha256>/download")
@requires(SIGNERS)
def download(user, sha256: str):
    path = _stored(sha256)
    if not _produced_by(user, sha256):
        _audit(user, "forbidden", "forbidden", documents=(sha256,))
        raise RoleForbidden("Only the user who signed or issued this document can download it here.",
                            message_vi="Chỉ người đã ký hoặc ban hành văn bản này mới tải được văn bản tại đây.")
    _audit(user, "download", "ok", documents=(sha256,))
    name = _download_name(request.args.get("name") or f"{sha256[:16]}.pdf")
    response = Response(path.read_bytes(), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
