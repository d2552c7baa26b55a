"""The web pages through Flask's test client, as each role uses them: login and sessions, roles,
CSRF, prepare, sign, issue, receive and return, verify, documents, registers, history, English.
The office's rules hold here as through the API and the command line (tests/test_office_rules.py)."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from kyso.samples import make_decree30_draft, make_pdf
from office.compose import dev_token
from registers.models import AuditRecord
from signer import Level, SignRequest, SoftwareKeyHolder

OFFICIAL, CLERK, OTHER_CLERK, RECEIVER, AUDITOR = ("nguyen-van-an", "agency-ubnd-hung-yen",
                                                    "agency-so-noi-vu-hung-yen", "receiver", "auditor")


@pytest.fixture(scope="module")
def web(tmp_path_factory, pki_server, softhsm_token, pkcs11_token):
    """A fresh office (its own database: numbers start at 01) and its application."""
    from api import create_app
    from kyso.settings import Settings
    from office import Office

    settings = Settings(dev_pki_url=pki_server.base_url, data_dir=tmp_path_factory.mktemp("web"),
                        pkcs11_token=softhsm_token.token_label, pkcs11_pin=softhsm_token.user_pin)
    office = Office.from_settings(settings, token=pkcs11_token)
    app = create_app(settings, office=office)
    app.config.update(TESTING=True)
    yield app
    office.db.dispose()


@pytest.fixture()
def client(web):
    return web.test_client()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'name="csrf-token" content="([^"]+)"',
                                                                                 html)
    assert match, html[:500]
    return match.group(1)


def login(client, user: str) -> str:
    """Log in through the login page; return the CSRF token of the session."""
    token = csrf_of(client.get("/web/login").get_data(as_text=True))
    response = client.post("/web/login", data={"csrf_token": token, "token": dev_token(user)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf_of(client.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True))


def audit_count(app, **where) -> int:
    with app.extensions["kyso"].db.session() as s:
        query = select(func.count()).select_from(AuditRecord)
        for key, value in where.items():
            query = query.where(getattr(AuditRecord, key) == value)
        return s.scalar(query)


def upload(data: bytes, name: str = "van-ban.pdf"):
    return (io.BytesIO(data), name)


def nav_labels(html: str) -> list[str]:
    nav = html.split('<nav class="main">', 1)[1].split("</nav>", 1)[0]
    return re.findall(r">([^<]+)</a>", nav)


def link(html: str, element: str = "download") -> str:
    return re.search(rf'id="{element}" href="([^"]+)"', html).group(1).replace("&amp;", "&")


@pytest.fixture(scope="module")
def from_nghe_an(engine, pki, tmp_path_factory):
    """A document issued by another province (personal and agency signatures)."""
    from certs_dev.images import load_dev_image
    from registers.numbering import SqliteNumbering
    from signer.issuance import IssuanceWorkflow

    workflow = IssuanceWorkflow(engine=engine, numbering=SqliteNumbering(tmp_path_factory.mktemp("na") / "n.db"))
    draft = workflow.prepare(make_decree30_draft(agency="TỈNH NGHỆ AN", place="Nghệ An", name="Đặng Thị Mai"))
    personal = workflow.sign_personal(draft, key_holder=SoftwareKeyHolder.from_dev_pki(pki, "dang-thi-mai"),
                                      signature_image=load_dev_image("nguyen-van-an"), level=Level.B_T).data
    return workflow.issue(personal, key_holder=SoftwareKeyHolder.from_dev_pki(pki, "agency-ubnd-nghe-an"),
                          agency="UBNDNA", doc_type="CV", unit="VP", seal_image=load_dev_image("agency-ubnd-hung-yen"),
                          agency_name="UBND tỉnh Nghệ An", level=Level.B_T).signed.data


# -- login, sessions, roles --------------------------------------------------------------------------

def test_the_front_door_leads_to_the_pages_and_unknown_pages_are_pages(client):
    assert client.get("/").headers["Location"] == "/web/"
    assert client.get("/web/").headers["Location"] == "/web/login"
    missing = client.get("/web/nothing-here", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and missing.mimetype == "text/html" and "Không tìm thấy" in missing.get_data(
        as_text=True)
    api = client.get("/api/v1/nothing", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"


def test_login_navigation_by_role_and_logout(web, client):
    assert client.get("/web/sign").headers["Location"].startswith("/web/login?next=/web/sign")
    page = client.get("/web/login")
    assert page.status_code == 200 and "Mã truy cập" in page.get_data(as_text=True)
    before = audit_count(web, action="login", actor=OFFICIAL)
    token = csrf_of(page.get_data(as_text=True))
    response = client.post("/web/login", data={"csrf_token": token, "token": dev_token(OFFICIAL),
                                               "next": "/web/verify"})
    assert response.status_code == 302 and response.headers["Location"] == "/web/verify"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie   # dev: plain HTTP
    assert dev_token(OFFICIAL) not in cookie
    assert audit_count(web, action="login", actor=OFFICIAL) == before + 1
    html = client.get("/web/verify").get_data(as_text=True)
    assert nav_labels(html) == ["Ký số", "Kiểm tra chữ ký", "Văn bản"] and "Nguyễn Văn An" in html
    assert client.get("/web/issue").status_code == 403                   # an official does not issue
    assert client.get("/web/").headers["Location"] == "/web/sign"
    response = client.post("/web/logout", data={"csrf_token": csrf_of(html)})
    assert response.status_code == 302
    assert "Bạn đã đăng xuất" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get("/web/verify").status_code == 302                  # the session is over


@pytest.mark.parametrize("user, labels, forbidden", [
    (CLERK, ["Chuẩn bị dự thảo", "Cấp số, ban hành", "Bản sao, phụ lục", "Tiếp nhận văn bản đến",
             "Kiểm tra chữ ký", "Văn bản", "Sổ đăng ký"], ["/web/sign", "/web/history/" + "0" * 64]),
    (RECEIVER, ["Tiếp nhận văn bản đến", "Kiểm tra chữ ký", "Văn bản", "Sổ đăng ký"],
     ["/web/sign", "/web/issue", "/web/prepare", "/web/copies"]),
    (AUDITOR, ["Kiểm tra chữ ký", "Sổ đăng ký"], ["/web/sign", "/web/issue", "/web/receive", "/web/documents",
                                                  "/web/copies"]),
])
def test_each_role_sees_its_pages(web, client, user, labels, forbidden):
    login(client, user)
    assert nav_labels(client.get("/web/verify").get_data(as_text=True)) == labels
    for path in forbidden:
        before = audit_count(web, action="forbidden", actor=user)
        response = client.get(path)
        assert response.status_code == 403 and "Vai trò của bạn" in response.get_data(as_text=True), path
        assert audit_count(web, action="forbidden", actor=user) == before + 1


def test_wrong_token_is_refused_and_audited(web, client):
    token = csrf_of(client.get("/web/login").get_data(as_text=True))
    before = audit_count(web, action="login_failed")
    response = client.post("/web/login", data={"csrf_token": token, "token": "kyso-dev-nobody"})
    assert response.status_code == 401
    assert "Mã truy cập không đúng" in response.get_data(as_text=True)
    assert audit_count(web, action="login_failed") == before + 1
    with web.extensions["kyso"].db.session() as s:
        last = s.scalars(select(AuditRecord).where(AuditRecord.action == "login_failed")
                         .order_by(AuditRecord.seq.desc())).first()
        assert last.actor == "anonymous" and "kyso-dev-nobody" not in str(last.detail)
    assert client.get("/web/verify").status_code == 302                  # still not logged in
    response = client.post("/web/login", data={"csrf_token": token, "token": dev_token("admin")})
    assert response.status_code == 403                                   # the admin has no web pages


def test_a_disabled_account_ends_its_session(web, client):
    accounts = web.extensions["kyso"].accounts
    accounts.create("le-van-tam", display_name="Lê Văn Tâm", role="receiver", agency="UBND")
    secret = accounts.issue_token("le-van-tam")
    token = csrf_of(client.get("/web/login").get_data(as_text=True))
    assert client.post("/web/login", data={"csrf_token": token, "token": secret}).status_code == 302
    assert client.get("/web/verify").status_code == 200
    accounts.disable("le-van-tam")
    assert client.get("/web/verify").status_code == 302


def test_csrf_is_required_on_forms_but_not_on_the_api(client, from_nghe_an):
    assert client.post("/web/login", data={"token": dev_token(OFFICIAL)}).status_code == 400
    token = login(client, OFFICIAL)
    response = client.post("/web/sign", data={"file": upload(make_pdf())}, content_type="multipart/form-data")
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    response = client.post("/web/verify", data={"file": upload(from_nghe_an)}, content_type="multipart/form-data")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf_failed"
    assert client.post("/web/logout").status_code == 400
    assert client.get("/web/verify").status_code == 200                  # still logged in
    response = client.post("/api/v1/verify", data={"file": upload(from_nghe_an)}, content_type="multipart/form-data",
                           headers={"Authorization": f"Bearer {dev_token(RECEIVER)}"})
    assert response.status_code == 200 and response.get_json()["verdict"] == "valid"
    assert token


# -- the office, as its people use it ----------------------------------------------------------------

def test_prepare_puts_the_fields_on_the_drafts_own_blanks(client):
    token = login(client, CLERK)
    page = client.get("/web/prepare").get_data(as_text=True)
    assert "Chuẩn bị dự thảo" in page
    response = client.post("/web/prepare", content_type="multipart/form-data", data={
        "csrf_token": token, "file": upload(make_decree30_draft(), "Dự thảo quyết định.pdf")})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert 'id="prepared-ok"' in html and "QĐ-UBND" in html and "Hưng Yên" in html and "CHỦ TỊCH" in html
    number_box = re.search(r'id="number_box" name="number_box" value="([^"]+)"', html).group(1)
    assert number_box.startswith("1:")
    prepared = client.get(link(html))
    assert prepared.status_code == 200 and prepared.data.startswith(b"%PDF")
    # moving a field prepares the draft again from what was uploaded
    source = re.search(r'name="source_sha256" value="([0-9a-f]{64})"', html).group(1)
    moved = client.post("/web/prepare", data={"csrf_token": token, "source_sha256": source,
                                              "number_box": "1:60,700,250,720"})
    assert moved.status_code == 200 and 'value="1:60.0,700.0,250.0,720.0"' in moved.get_data(as_text=True)


def test_sign_issue_and_receive_through_the_pages(web, from_nghe_an):
    """An official signs a real draft; the clerk issues it; another agency's clerk cannot; the same
    draft is refused the second time; a receiving clerk registers a valid document and returns a
    tampered one with a signed notice; the auditor reads the history."""
    official, clerk, other, receiver, auditor = (web.test_client() for _ in range(5))
    token = login(official, OFFICIAL)
    page = official.get("/web/sign").get_data(as_text=True)
    assert "Mức chữ ký PAdES" in page and 'value="personal"' in page
    response = official.post("/web/sign", content_type="multipart/form-data", data={
        "csrf_token": token, "file": upload(make_decree30_draft(), "Quyết định ban hành quy chế.pdf"),
        "appearance": "personal", "level": "B-T"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    draft_sha = re.search(r'class="mono">([0-9a-f]{64})<', html).group(1)
    signed = official.get(link(html))
    assert signed.status_code == 200 and "filename*=UTF-8''Quy%E1%BA%BFt" in signed.headers["Content-Disposition"]
    assert 'CHƯA BAN HÀNH' in official.get(f"/web/documents/{draft_sha}").get_data(as_text=True)

    # the clerk sees it waiting, sees where the number and the date will go, and issues it
    token = login(clerk, CLERK)
    waiting = clerk.get("/web/issue").get_data(as_text=True)
    assert draft_sha[:16] in waiting and "Nguyễn Văn An" in waiting
    chosen = clerk.get(f"/web/issue?sha256={draft_sha}").get_data(as_text=True)
    assert 'name="sha256" value="' + draft_sha in chosen and "data:image/png;base64," in chosen
    assert '<option value="QĐ" selected>' in chosen and 'value="Hưng Yên"' in chosen   # read off the draft's blanks
    response = clerk.post("/web/issue", data={"csrf_token": token, "sha256": draft_sha, "type": "QĐ",
                                              "summary": "Ban hành Quy chế công tác văn thư", "level": "B-T"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert re.search(r'id="number">01/QĐ-UBND<', html) and "HỢP LỆ" in html
    issued = clerk.get(link(html))
    assert issued.status_code == 200 and "filename*=UTF-8''01-Q%C4%90-UBND.pdf" in issued.headers["Content-Disposition"]
    assert draft_sha[:16] not in clerk.get("/web/issue").get_data(as_text=True)

    # the same draft, again: refused, naming its number; no number taken
    again = clerk.post("/web/issue", content_type="multipart/form-data", data={
        "csrf_token": token, "file": upload(signed.data), "type": "QĐ", "level": "B-B"})
    assert again.status_code == 409 and "01/QĐ-UBND" in again.get_data(as_text=True)

    # another agency's clerk: does not see it, cannot name it, cannot issue it
    token_other = login(other, OTHER_CLERK)
    assert draft_sha[:16] not in other.get("/web/issue").get_data(as_text=True)
    assert other.post("/web/issue", data={"csrf_token": token_other, "sha256": draft_sha, "type": "QĐ"}).status_code == 404
    refused = other.post("/web/issue", content_type="multipart/form-data", data={
        "csrf_token": token_other, "file": upload(signed.data), "type": "QĐ", "level": "B-B"})
    assert refused.status_code in (403, 409) and 'class="alert error"' in refused.get_data(as_text=True)
    assert other.get(f"/web/documents/{draft_sha}").status_code == 404

    # receiving: a valid document from another province is registered and acknowledged
    token = login(receiver, RECEIVER)
    checked = receiver.post("/web/receive", content_type="multipart/form-data", data={
        "csrf_token": token, "action": "check", "file": upload(from_nghe_an, "cong-van-nghe-an.pdf")})
    html = checked.get_data(as_text=True)
    assert checked.status_code == 200 and 'id="outcome">HỢP LỆ<' in html and 'id="register"' in html
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', html).group(1)
    registered = receiver.post("/web/receive", data={"csrf_token": token, "action": "register", "sha256": sha,
                                                     "sender": "UBND tỉnh Nghệ An", "reference": "15/UBNDNA-VP"})
    html = registered.get_data(as_text=True)
    assert registered.status_code == 200 and 'id="incoming-number">01/' in html and "(UTC+07:00)" in html
    # a tampered copy: not green, cannot be registered, returned with a notice the agency signs
    tampered = bytearray(from_nghe_an)
    tampered[len(tampered) // 3] ^= 0x01
    checked = receiver.post("/web/receive", content_type="multipart/form-data", data={
        "csrf_token": token, "action": "check", "file": upload(bytes(tampered), "sua.pdf")})
    html = checked.get_data(as_text=True)
    assert 'id="register"' not in html and 'id="outcome">HỢP LỆ<' not in html
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', html).group(1)
    forced = receiver.post("/web/receive", data={"csrf_token": token, "action": "register", "sha256": sha,
                                                 "sender": "UBND tỉnh Nghệ An"})
    assert forced.status_code == 422 and "trả lại nơi gửi" in forced.get_data(as_text=True)
    returned = receiver.post("/web/receive", data={"csrf_token": token, "action": "return", "sha256": sha,
                                                   "sender": "UBND tỉnh Nghệ An"})
    html = returned.get_data(as_text=True)
    assert returned.status_code == 200 and "Đã trả lại nơi gửi" in html
    notice = receiver.get(link(html, "notice"))
    assert notice.status_code == 200
    from verifier import verify

    report = verify(notice.data, policy=web.extensions["kyso"].verification)
    assert report.verdict.value == "valid"
    assert report.signatures[0].signer.common_name == "UBND tỉnh Hưng Yên", "signed with the agency's key"

    # the auditor, logged in on the web, reads both registers and the issued document's history
    login(auditor, AUDITOR)
    outgoing = auditor.get("/web/registers/outgoing").get_data(as_text=True)
    assert "01/QĐ-UBND" in outgoing and "Ban hành Quy chế công tác văn thư" in outgoing
    incoming = auditor.get("/web/registers/incoming").get_data(as_text=True)
    assert "UBND tỉnh Nghệ An" in incoming and "(UTC+07:00)" in incoming
    issued_sha = re.search(r'/web/history/([0-9a-f]{64})', outgoing).group(1)
    history = auditor.get(f"/web/history/{issued_sha}").get_data(as_text=True)
    assert "01/QĐ-UBND" in history and "agency-ubnd-hung-yen" in history and "issue" in history
    csv = auditor.get("/web/registers/outgoing.csv")
    assert csv.status_code == 200 and "01/QĐ-UBND" in csv.data.decode("utf-8-sig")


def test_the_clerk_reads_only_her_agencys_register(web, client):
    login(client, OTHER_CLERK)
    html = client.get("/web/registers/outgoing").get_data(as_text=True)
    assert "QĐ-UBND" not in html and "SNV" in html


def test_verify_endpoint_for_the_page(web, client, from_nghe_an, engine, pki):
    anonymous = csrf_of(client.get("/web/login").get_data(as_text=True))
    response = client.post("/web/verify", data={"file": upload(from_nghe_an)}, content_type="multipart/form-data",
                           headers={"X-CSRFToken": anonymous})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthenticated"
    token = login(client, RECEIVER)
    page = client.get("/web/verify").get_data(as_text=True)
    assert 'id="dropzone"' in page and "multiple" in page and "kyso.js" in page
    personal_only = engine.sign(SignRequest(document=make_pdf(), level=Level.B_B),
                                key_holder=SoftwareKeyHolder.from_dev_pki(pki, "dang-thi-mai")).data
    tampered = bytearray(from_nghe_an)
    tampered[400] ^= 1
    outcomes = {}
    for name, data in [("hop-le.pdf", from_nghe_an), ("sua.pdf", bytes(tampered)), ("rac.pdf", b"\x00garbage" * 50),
                       ("rong.pdf", b""), ("chua-ky.pdf", make_pdf()), ("mot-chu-ky.pdf", personal_only)]:
        response = client.post("/web/verify", data={"file": upload(data, name)}, content_type="multipart/form-data",
                               headers={"X-CSRFToken": token})
        assert response.status_code == 200, (name, response.get_data(as_text=True))
        body = response.get_json()
        outcomes[name] = (body["report"]["outcome"]["code"], body["report"]["outcome"]["colour"])
        if name == "hop-le.pdf":
            href = body["href"]
    assert outcomes["hop-le.pdf"] == ("valid", "green")
    assert outcomes["sua.pdf"][1] == "red" and outcomes["chua-ky.pdf"] == ("unsigned", "grey")
    assert outcomes["mot-chu-ky.pdf"] == ("not_issued", "amber"), "an official's signature alone is not green"
    assert outcomes["rac.pdf"][0] != "valid" and outcomes["rong.pdf"][0] != "valid"
    response = client.post("/web/verify", data={}, content_type="multipart/form-data", headers={"X-CSRFToken": token})
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "file_missing"
    report = client.get(href)
    html = report.get_data(as_text=True)
    assert report.status_code == 200 and "Đặng Thị Mai" in html and 'class="chain"' in html
    assert client.get("/web/documents/" + "f" * 64).status_code == 404
    assert client.get("/web/documents/nope").status_code == 404


def test_english_is_one_click_away(client):
    page = client.get("/web/login?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page and "Access token" in page and "Tiếng Việt" in page
    token = csrf_of(page)
    client.post("/web/login", data={"csrf_token": token, "token": dev_token(CLERK)})
    html = client.get("/web/issue").get_data(as_text=True)
    assert "Documents waiting for a number" in html and "Number and issue" in nav_labels(html)
    assert "Văn bản chờ cấp số" not in html
    html = client.get("/web/verify?lang=vi").get_data(as_text=True)
    assert '<html lang="vi">' in html and "Kéo và thả" in html


def test_everything_from_the_user_is_escaped(web, client):
    accounts = web.extensions["kyso"].accounts
    accounts.create("xss-test", display_name='<script>alert("x")</script> Đỗ', role="auditor", agency="UBND")
    secret = accounts.issue_token("xss-test")
    token = csrf_of(client.get("/web/login").get_data(as_text=True))
    client.post("/web/login", data={"csrf_token": token, "token": secret})
    html = client.get("/web/verify").get_data(as_text=True)
    assert '<script>alert("x")</script>' not in html and "&lt;script&gt;" in html
    assert "script-src 'self'" in client.get("/web/verify").headers["Content-Security-Policy"]
    client.post("/web/logout", data={"csrf_token": csrf_of(html)})
    token = csrf_of(client.get("/web/login").get_data(as_text=True))
    response = client.post("/web/login", data={"csrf_token": token, "token": secret, "next": "//evil.example/x"})
    assert response.headers["Location"] == "/web/"
