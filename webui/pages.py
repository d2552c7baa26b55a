"""Kyso's web pages, in Vietnamese or English: a thin door over :class:`office.Office`.

    GET  /web/                         the first page the role may use
    GET  /web/login  POST /web/login   paste the access token -> a web session (kept by the office; the cookie
                                       holds its random id, the username and role)
    POST /web/logout
    GET  /web/prepare POST             officials, clerks: a draft's fields put on its own blanks; move them
    GET  /web/sign   POST              officials: sign with their own key (and image)
    POST /web/preview                  PNG of page 1, for the sign and prepare pages
    GET  /web/issue  POST              clerks: drafts waiting for a number; issue
    GET  /web/receive POST             receiving clerks: check an incoming document, register or return it
    GET  /web/verify POST              everyone: drop files, a table of outcomes (POST: JSON per file)
    GET  /web/documents                the agency's documents
    GET  /web/documents/<sha256>       a document's report; download for those who may read it
    GET  /web/registers/<which>        the outgoing / incoming register (HTML, .csv, .pdf)
    GET  /web/history/<sha256>         auditors: a document's register entries, audit records, signatures

Each view parses its form, calls one use case and renders the result; errors take the status and
code the API gives them (``office.http_status``). Times are shown in Asia/Ho_Chi_Minh, saying so.
"""
from __future__ import annotations

import base64
import functools
import io
import logging
import re
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError

from kyso.decree30 import DOCUMENT_TYPES, shown_time
from kyso.errors import KysoError
from office import (
    READERS,
    ROLE_NAMES,
    SIGNERS,
    BadInput,
    FileMissing,
    Forbidden,
    TooManyAttempts,
    Unauthenticated,
    http_headers,
    http_status,
)
from office.forms import register_form, register_title, report_page_parts
from webui.downloads import attachment

log = logging.getLogger("kyso.web")

pages = Blueprint("pages", __name__, url_prefix="/web", template_folder="templates", static_folder="static",
                  static_url_path="/static")
pages.enable_openapi = False   # pages, not the API: apiflask's document leaves them out

SESSION_HOURS = 8
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
LANGS = ("vi", "en")
TYPE_CHOICES = ("QĐ", "CV", "CT", "TB", "KH", "BC", "TTr", "HD", "NQ", "GM", "GGT", "QC", "QYĐ")

# the pages each role sees, in the order of the navigation bar: (endpoint, roles, Vietnamese, English)
NAV = (
    ("pages.prepare_page", ("clerk",), "Chuẩn bị dự thảo", "Prepare a draft"),
    ("pages.sign_page", ("official",), "Ký số", "Sign"),
    ("pages.issue_page", ("clerk",), "Cấp số, ban hành", "Number and issue"),
    ("pages.copies_page", ("clerk",), "Bản sao, phụ lục", "Copies, attachments"),
    ("pages.receive_page", ("receiver", "clerk"), "Tiếp nhận văn bản đến", "Receive"),
    ("pages.verify_page", READERS, "Kiểm tra chữ ký", "Verify signatures"),
    ("pages.documents_page", ("official", "clerk", "receiver"), "Văn bản", "Documents"),
    ("pages.registers_home", ("clerk", "receiver", "auditor"), "Sổ đăng ký", "Registers"),
)


# -- errors: the API's codes and statuses, as a page ------------------------------------------------

def render_error(status: int, code: str, vi: str, en: str):
    if request.headers.get("X-Requested-With") == "fetch" or request.endpoint in ("pages.verify_json",
                                                                                    "pages.preview"):
        response = jsonify({"error": {"code": code, "message": en, "message_vi": vi}})
        response.status_code = status
        return response
    if status == 401 and request.method == "GET":
        return redirect(url_for("pages.login", next=_safe_next(request.full_path)))
    return render_template("web_error.html", status=status, code=code, message=tr(vi, en)), status


@pages.errorhandler(KysoError)
def _kyso_error(exc: KysoError):
    return render_error(http_status(exc), exc.code, exc.message_vi_text, exc.message)


@pages.app_errorhandler(CSRFError)
def _csrf_failed(exc):
    return render_error(400, "csrf_failed", "Biểu mẫu đã hết hạn hoặc không hợp lệ (CSRF): hãy tải lại trang và "
                                            "thử lại.", "The form has expired or is not valid (CSRF): reload the page "
                                                        "and try again.")


# -- language, the session's user ---------------------------------------------------------------

def office():
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


def current_user():
    """The caller of this web session, checked with the office on every request (or None): a
    logged-out, expired or revoked session, a disabled account or a changed role ends it at once."""
    if "kyso_web_user" in g:
        return g.kyso_web_user
    user = None
    username, role, sid = session.get("user"), session.get("role"), session.get("sid")
    if username:
        try:
            user = office().web_session_caller(sid, client=request.remote_addr)
        except KysoError:
            user = None
        if user is None or user.username != username or user.role != role or role not in READERS:
            user = None
            _end_session()
    g.kyso_web_user = user
    return user


def _end_session() -> None:
    keep = session.get("lang")
    session.clear()
    if keep in LANGS:
        session["lang"] = keep


def requires(*roles: str):
    """The view needs a logged-in user with one of ``roles``; it receives the caller first."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                raise Unauthenticated("Your session has ended: log in again.",
                                      message_vi="Phiên làm việc đã hết: hãy đăng nhập lại.")
            if user.role not in roles:
                raise office().refused(user, "forbidden", Forbidden(detail={"role": user.role,
                                                                            "allowed": list(roles)}),
                                       path=request.path)
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


@pages.app_template_filter("vntime")
def _vntime(value) -> str:
    try:
        return shown_time(value)
    except (TypeError, ValueError):
        return str(value or "")


@pages.context_processor
def _context() -> dict[str, Any]:
    from urllib.parse import urlencode

    user = current_user()
    role = ROLE_NAMES.get(user.role, (user.role, user.role)) if user else None
    other = "en" if lang() == "vi" else "vi"
    args = {k: v for k, v in request.args.items() if k not in ("lang", "bye")}
    return {"lang": lang(), "other_lang": other, "lang_href": request.path + "?" + urlencode({**args, "lang": other}),
            "user": user, "nav": _nav(user), "role_name": tr(*role) if role else "",
            "agency_name": office().settings.agency_name}


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    target = target.rstrip("?")
    if target.startswith("/web/") and not target.startswith("//") and "\\" not in target and "\n" not in target:
        return target
    return None


# -- helpers ------------------------------------------------------------------------------------------

def _upload(name: str = "file", *, required: bool = True) -> tuple[bytes | None, str]:
    upload = request.files.get(name)
    if upload is None or not upload.filename:
        if required:
            raise FileMissing("Choose a PDF file.", message_vi="Hãy chọn một tệp PDF.")
        return None, ""
    return upload.read(), upload.filename


def _text(name: str, limit: int = 500) -> str | None:
    return (request.form.get(name) or "").strip()[:limit] or None


def download_name(filename: str, suffix: str = "") -> str:
    base = (filename or "document.pdf").rsplit("/", 1)[-1][:80]
    stem = base[:-4] if base.lower().endswith(".pdf") else base
    return f"{stem.strip('._') or 'document'}{suffix}.pdf"


def render_first_page(data: bytes, *, boxes: list[tuple[int, tuple, str]] = (), page: int = 0,
                      timeout: float = 15.0) -> bytes | None:
    """PNG of a page at 60 dpi (poppler's pdftoppm, in a subprocess with a timeout), with ``boxes``
    (page, PDF box, colour) outlined: where the fields are. None when it cannot be drawn."""
    if b"%PDF" not in data[:1024]:
        return None
    with tempfile.TemporaryDirectory(prefix="kyso-preview-") as tmp:
        source, out = Path(tmp) / "in.pdf", Path(tmp) / "page"
        source.write_bytes(data)
        try:
            done = subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", str(page + 1), "-l", str(page + 1),
                                   "-singlefile", "-x", "0", "-y", "0", "-W", "1200", "-H", "1700", str(source),
                                   str(out)], capture_output=True, timeout=timeout, check=False)
        except (subprocess.TimeoutExpired, OSError):
            return None
        png = out.with_suffix(".png")
        if done.returncode != 0 or not png.exists():
            return None
        if not boxes:
            return png.read_bytes()
        from PIL import Image, ImageDraw

        image = Image.open(png).convert("RGB")
        scale = 60 / 72
        draw = ImageDraw.Draw(image)
        for box_page, (x0, y0, x1, y1), colour in boxes:
            if box_page != page:
                continue
            height_pt = image.height / scale
            draw.rectangle([x0 * scale, (height_pt - y1) * scale, x1 * scale, (height_pt - y0) * scale],
                           outline=colour, width=2)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()


def _data_uri(png: bytes | None) -> str | None:
    return "data:image/png;base64," + base64.b64encode(png).decode() if png else None


class _Shown(str):
    """An error message shown in a form, with the API's stable code beside it."""

    code = ""


def _message(exc: KysoError) -> str:
    shown = _Shown(tr(exc.message_vi_text, exc.message))
    shown.code = exc.code
    return shown


def _outcome_label(report: dict) -> str:
    outcome = report.get("outcome") or {}
    return tr(outcome.get("vi", ""), outcome.get("en", ""))


# -- login ---------------------------------------------------------------------------------------------

@pages.get("/")
def home():
    user = current_user()
    if user is None:
        return redirect(url_for("pages.login"))
    if user.role == "auditor":
        return redirect(url_for("pages.registers_home"))
    nav = _nav(user)
    return redirect(nav[0]["href"] if nav else url_for("pages.login"))


@pages.route("/login", methods=["GET", "POST"])
def login():
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(next_url or url_for("pages.home"))
        return render_template("web_login.html", next=next_url, error=None,
                               notice=tr("Bạn đã đăng xuất.", "You have logged out.") if request.args.get("bye") else None)
    token = (request.form.get("token") or "").strip()
    try:
        user, sid = office().web_login(token, client=request.remote_addr, lifetime=timedelta(hours=SESSION_HOURS))
    except KysoError as exc:
        message = (tr("Mã truy cập không đúng hoặc đã bị thu hồi.", "The access token is wrong or revoked.")
                   if exc.code == "unauthenticated"
                   else _message(exc) if isinstance(exc, TooManyAttempts)
                   else tr("Vai trò của tài khoản này không dùng được các trang web.",
                           "This account's role cannot use the web pages."))
        return (render_template("web_login.html", next=next_url, error=message), http_status(exc),
                http_headers(exc))
    _end_session()                      # a new session: nothing from before the login survives
    session.permanent = True
    session["user"] = user.username
    session["role"] = user.role
    session["sid"] = sid                # the office keeps the session; the cookie only names it
    g.pop("kyso_web_user", None)
    return redirect(next_url or url_for("pages.home"))


@pages.post("/logout")
def logout():
    office().end_web_session(session.get("sid"), caller=current_user())
    _end_session()
    g.pop("kyso_web_user", None)
    return redirect(url_for("pages.login", bye=1))


# -- prepare a draft ---------------------------------------------------------------------------------

def _box_field(name: str):
    text = _text(name, 80)
    if not text:
        return None
    from webui.schemas import parse_box

    return parse_box(text)


@pages.route("/prepare", methods=["GET", "POST"])
@requires("official", "clerk")
def prepare_page(user):
    if request.method == "GET":
        return render_template("web_prepare.html", error=None, prepared=None)
    data, filename = _upload(required=not request.form.get("source_sha256"))
    boxes = {name: _box_field(f"{name}_box") for name in ("number", "date", "signature")}
    try:
        prepared = office().prepare(user, data, source_sha256=request.form.get("source_sha256") or None,
                                    boxes={k: v for k, v in boxes.items() if v}, signer_name=_text("signer_name", 200))
    except KysoError as exc:
        return render_template("web_prepare.html", error=_message(exc), prepared=None), http_status(exc)
    layout = prepared.layout
    outlines = [(layout["number"][0], tuple(layout["number"][1]), "#d32f2f"),
                (layout["date"][0], tuple(layout["date"][1]), "#1565c0"),
                (layout["signature"][0], tuple(layout["signature"][1]), "#2e7d32")]
    data = prepared.stored.data
    previews = [_data_uri(render_first_page(data, boxes=outlines, page=0))]
    last = _last_page_index(data)
    if last > 0:
        previews.append(_data_uri(render_first_page(data, boxes=outlines, page=last)))
    name = download_name(filename or "du-thao.pdf", "-da-chuan-bi")
    return render_template("web_prepare.html", error=None, prepared=prepared, previews=previews, name=name,
                           boxes={k: f"{v[0] + 1}:{','.join(str(round(x, 1)) for x in v[1])}" for k, v in layout.items()},
                           download=url_for("pages.download", sha256=prepared.stored.sha256, name=name))


def _last_page_index(data: bytes) -> int:
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            return len(pdf.pages) - 1
    except Exception:  # noqa: BLE001
        return 0


# -- sign --------------------------------------------------------------------------------------------

def _sign_context(user) -> dict[str, Any]:
    return {"levels": LEVELS, "default_level": office().settings.default_level,
            "needs_passphrase": user.key_kind == "pkcs12"}


@pages.route("/sign", methods=["GET", "POST"])
@requires("official")
def sign_page(user):
    if request.method == "GET":
        return render_template("web_sign.html", error=None, form={}, **_sign_context(user))
    try:
        data, filename = _upload()
        signed = office().sign(user, data, level=office().level(request.form.get("level")), appearance=request.form.get("appearance") or "invisible",
                               reason=_text("reason", 200), location=_text("location", 200),
                               passphrase=request.form.get("passphrase") or None)
    except KysoError as exc:
        return render_template("web_sign.html", error=_message(exc), form=request.form, **_sign_context(user)), \
            http_status(exc)
    name = download_name(filename, "-da-ky")
    return render_template("web_signed.html", sha256=signed.stored.sha256, level=signed.level, field=signed.field,
                           name=name, preview=_data_uri(render_first_page(signed.stored.data,
                                                                          page=_last_page_index(signed.stored.data))),
                           download=url_for("pages.download", sha256=signed.stored.sha256, name=name),
                           report=url_for("pages.document_page", sha256=signed.stored.sha256))


@pages.post("/preview")
@requires(*SIGNERS)
def preview(user):
    data, _ = _upload()
    png = render_first_page(data)
    if png is None:
        return render_error(422, "preview_failed", "Không xem trước được tệp này (không phải PDF hoặc PDF hỏng).",
                            "This file cannot be previewed (not a PDF, or a damaged PDF).")
    return Response(png, mimetype="image/png")


# -- issue (Decree 30, the clerk) ----------------------------------------------------------------------

def _issue_context(user, **extra) -> dict[str, Any]:
    waiting = office().waiting(user)
    for item in waiting:
        item["preview"] = None
    return {"types": [(t, DOCUMENT_TYPES.get(t, t)) for t in TYPE_CHOICES], "levels": LEVELS,
            "default_level": office().settings.default_level, "agency": user.agency, "waiting": waiting,
            "error": None, "form": {}, "needs_passphrase": user.key_kind == "pkcs12", "selected": None, **extra}


@pages.route("/issue", methods=["GET", "POST"])
@requires("clerk")
def issue_page(user):
    if request.method == "GET":
        selected = request.args.get("sha256")
        context = _issue_context(user)
        if selected and re.fullmatch(r"[0-9a-f]{64}", selected):
            context["selected"] = _draft_details(user, selected)
        return render_template("web_issue.html", **context)
    source = request.form.get("sha256") or None
    try:
        data, _ = _upload(required=source is None)
        issued = office().issue(user, data, sha256=source, doc_type=request.form.get("type") or "",
                                unit=_text("unit", 16), place=_text("place", 100), summary=_text("summary", 2000),
                                recipients=[r.strip() for r in (request.form.get("recipients") or "").splitlines()
                                            if r.strip()] or None,
                                level=office().level(request.form.get("level")), passphrase=request.form.get("passphrase") or None)
    except KysoError as exc:
        context = _issue_context(user, error=_message(exc), form=request.form)
        if source and re.fullmatch(r"[0-9a-f]{64}", source):
            context["selected"] = _draft_details(user, source)
        return render_template("web_issue.html", **context), http_status(exc)
    name = download_name(issued.number.replace("/", "-"))
    return render_template("web_issued.html", number=issued.number, sha256=issued.stored.sha256, name=name,
                           outcome=issued.report.get("outcome") or {}, outcome_label=_outcome_label(issued.report),
                           preview=_data_uri(render_first_page(issued.stored.data)),
                           download=url_for("pages.download", sha256=issued.stored.sha256, name=name),
                           report=url_for("pages.document_page", sha256=issued.stored.sha256))


# -- copies and attachments (the clerk) ------------------------------------------------------------------

COPY_FORM_NAMES = (("SY", "Sao y", "True copy"), ("SL", "Sao lục", "Transcribed copy"),
                   ("TrS", "Trích sao", "Excerpt"))


def _copies_context(user, **extra) -> dict[str, Any]:
    the_office = office()
    issued = [e for e in the_office.registers(user, "outgoing", status="issued") if e.get("document_sha256")]
    received = [e for e in the_office.registers(user, "incoming", status="received")]
    return {"issued": issued[-100:][::-1], "received": received[-100:][::-1], "forms": COPY_FORM_NAMES,
            "levels": LEVELS, "default_level": the_office.settings.default_level, "agency": user.agency,
            "needs_passphrase": user.key_kind == "pkcs12", "error": None, "form": {}, **extra}


@pages.route("/copies", methods=["GET", "POST"])
@requires("clerk")
def copies_page(user):
    """SAO Y, SAO LỤC, TRÍCH SAO of a document the agency issued or received, and the agency's
    signature on an attachment of an issued document."""
    if request.method == "GET":
        return render_template("web_copies.html", **_copies_context(user))
    action = request.form.get("action")
    try:
        if action == "copy":
            source = request.form.get("sha256") or None
            data, _ = _upload(required=source is None)
            pages_text = _text("pages", 200) or ""
            if not re.fullmatch(r"\s*(\d+\s*(,\s*\d+\s*)*)?", pages_text):
                raise BadInput("pages: numbers separated by commas, e.g. 1,3",
                               message_vi="Trang: các số cách nhau bằng dấu phẩy, ví dụ 1,3.")
            pages_list = [int(x) for x in pages_text.split(",") if x.strip()] or None
            done = office().make_copy(user, data, sha256=source, form=request.form.get("form") or "",
                                      pages=pages_list, level=office().level(request.form.get("level")),
                                      passphrase=request.form.get("passphrase") or None)
            number, outcome = done.number, done.report.get("outcome") or {}
            label, name = _outcome_label(done.report), download_name(done.number.replace("/", "-"))
        elif action == "attachment":
            data, filename = _upload()
            done = office().sign_attachment(user, data, main_number=_text("main_number", 100) or "",
                                            level=office().level(request.form.get("level")),
                                            passphrase=request.form.get("passphrase") or None)
            number, outcome, label = None, {}, None
            name = download_name(filename or "phu-luc.pdf", "-da-ky")
        else:
            raise BadInput("choose a copy or an attachment", message_vi="Hãy chọn sao văn bản hoặc ký phụ lục.")
    except KysoError as exc:
        return render_template("web_copies.html", **_copies_context(user, error=_message(exc), form=request.form,
                                                                     action=action)), http_status(exc)
    return render_template("web_copied.html", action=action, number=number, outcome=outcome, outcome_label=label,
                           sha256=done.stored.sha256, name=name,
                           preview=_data_uri(render_first_page(done.stored.data)),
                           download=url_for("pages.download", sha256=done.stored.sha256, name=name),
                           report=url_for("pages.document_page", sha256=done.stored.sha256))


def _draft_details(user, sha256: str) -> dict | None:
    """A waiting draft: where its number and date will go (outlined), and what its blanks say."""
    try:
        data, blanks = office().draft(user, sha256)
    except KysoError:
        return None
    outlines = [(blanks[f"{what}_page"], tuple(blanks[f"{what}_box"]), colour)
                for what, colour in (("number", "#d32f2f"), ("date", "#1565c0")) if blanks.get(f"{what}_box")]
    return {"sha256": sha256, "blanks": blanks,
            "preview": _data_uri(render_first_page(data, boxes=outlines))}


# -- receive (Decree 30 Art. 21) -----------------------------------------------------------------

@pages.route("/receive", methods=["GET", "POST"])
@requires("receiver", "clerk")
def receive_page(user):
    recent = office().registers(user, "incoming")[-20:][::-1]
    if request.method == "GET":
        return render_template("web_receive.html", error=None, checked=None, entry=None, recent=recent, form={})
    action = request.form.get("action") or "check"
    form = request.form
    try:
        if action == "check":
            data, filename = _upload()
            report = office().verify(user, data, file_name=filename)
            return render_template("web_receive.html", error=None, entry=None, recent=recent, form=form,
                                   checked={"report": report, "sha256": report.get("sha256"), "file": filename,
                                            "label": _outcome_label(report)})
        sha = form.get("sha256") or ""
        common = dict(sha256=sha, sender=_text("sender", 300) or "", reference=_text("reference", 100),
                      summary=_text("summary", 2000))
        if action == "register":
            entry = office().receive(user, **common)
        elif action == "return":
            entry = office().return_to_sender(user, **common, reason_vi=_text("reason_vi"), reason_en=_text("reason_en"),
                                              passphrase=form.get("passphrase") or None)
        else:
            raise BadInput("unknown action", message_vi="Thao tác không hợp lệ.")
    except KysoError as exc:
        checked = None
        if form.get("sha256"):
            try:
                report = office().report(user, form["sha256"])
                checked = {"report": report, "sha256": form["sha256"], "file": form.get("file_name") or "",
                           "label": _outcome_label(report)}
            except KysoError:
                checked = None
        return render_template("web_receive.html", error=_message(exc), checked=checked, entry=None, recent=recent,
                               form=form), http_status(exc)
    recent = office().registers(user, "incoming")[-20:][::-1]
    return render_template("web_receive.html", error=None, checked=None, entry=entry, recent=recent, form={},
                           notice=url_for("pages.download", sha256=entry["notice_sha256"],
                                          name=f"phieu-tra-lai-{entry['number']:02d}-{entry['year']}.pdf")
                           if entry.get("notice_sha256") else None)


# -- verify ---------------------------------------------------------------------------------------

@pages.get("/verify")
@requires(*READERS)
def verify_page(user):
    return render_template("web_verify.html")


@pages.post("/verify")
@requires(*READERS)
def verify_json(user):
    """One file of the verify page: its report, and the address of its report page."""
    data, filename = _upload()
    report = office().verify(user, data, file_name=filename[:255])
    href = url_for("pages.document_page", sha256=report["sha256"]) \
        if report.get("sha256") and office().may_read(user, report["sha256"]) else None
    return jsonify({"report": report, "href": href})


# -- documents ---------------------------------------------------------------------------------------

@pages.get("/documents")
@requires("official", "clerk", "receiver")
def documents_page(user):
    return render_template("web_documents.html", documents=office().documents_of(user))


@pages.get("/documents/<sha256>")
@requires(*READERS)
def document_page(user, sha256: str):
    report = office().report(user, sha256)
    style, body = report_page_parts(report, lang=lang())
    return render_template("web_document.html", sha256=sha256, report=report, report_body=body, report_style=style,
                           download=url_for("pages.download", sha256=sha256),
                           history=url_for("pages.history_page", sha256=sha256) if user.role == "auditor" else None)


@pages.get("/documents/<sha256>/download")
@requires(*READERS)
def download(user, sha256: str):
    data = office().document(user, sha256)
    return attachment(data, mimetype="application/pdf",
                      filename=download_name(request.args.get("name") or f"{sha256[:16]}.pdf"))


# -- registers and history -------------------------------------------------------------------------

@pages.get("/registers")
@requires("clerk", "receiver", "auditor")
def registers_home(user):
    return redirect(url_for("pages.register_page", name="incoming" if user.role == "receiver" else "outgoing"))


@pages.get("/registers/<name>")
@requires("clerk", "receiver", "auditor")
def register_page(user, name: str):
    which, _, fmt = name.partition(".")
    if which not in ("outgoing", "incoming") or fmt not in ("", "csv", "pdf"):
        raise BadInput("the registers are outgoing and incoming (.csv, .pdf)")
    try:
        year = int(request.args["year"]) if request.args.get("year") else None
    except ValueError:
        raise BadInput("year is a number", message_vi="Năm phải là số.") from None
    status = request.args.get("status") or None
    entries = office().registers(user, which, year=year, status=status)
    title, subtitle = register_title(which, agency=user.agency, year=year)
    if fmt:
        form = register_form(entries, which, fmt, agency=user.agency, year=year)
        return attachment(form.data, mimetype=form.mimetype, filename=f"so-{which}{form.suffix}")
    return render_template("web_register.html", which=which, entries=entries, title=title, subtitle=subtitle,
                           year=year, status=status)


@pages.post("/registers/incoming/reverify")
@requires("clerk", "receiver")
def reverify_incoming(user):
    """Verify again, as of now, every document the agency received (after a trust-store change)."""
    try:
        year = int(request.form["year"]) if request.form.get("year") else None
    except ValueError:
        raise BadInput("year is a number", message_vi="Năm phải là số.") from None
    job = office().reverify_incoming(user, year=year)
    return redirect(url_for("pages.job_page", job_id=job["id"]))


@pages.get("/jobs/<job_id>")
@requires(*READERS)
def job_page(user, job_id: str):
    """A verification job's progress and results (the page reloads itself until the job is done)."""
    return render_template("web_job.html", job=office().verify_job(user, job_id))


@pages.get("/history/<sha256>")
@requires("auditor")
def history_page(user, sha256: str):
    history = office().history(user, sha256)
    style, body = report_page_parts(history["report"], lang=lang())
    return render_template("web_history.html", history=history, sha256=sha256, report_body=body, report_style=style)
