"""The web pages through Flask's test client: login and sessions, roles, CSRF, sign, issue, verify, English."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from certs_dev.images import load_dev_image
from kyso.samples import make_pdf
from office.compose import dev_token
from registers.models import AuditRecord
from signer import Level, SignRequest, SoftwareKeyHolder
from signer.issuance import IssuanceWorkflow
from verifier import verify

OFFICIAL, CLERK, RECEIVER, AUDITOR = "nguyen-van-an", "agency-ubnd-hung-yen", "receiver", "auditor"


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
    with app.extensions["kyso"].office.db.session() as s:
        query = select(func.count()).select_from(AuditRecord)
        for key, value in where.items():
            query = query.where(getattr(AuditRecord, key) == value)
        return s.scalar(query)


def upload(data: bytes, name: str = "van-ban.pdf"):
    return (io.BytesIO(data), name)


def nav_labels(html: str) -> list[str]:
    nav = html.split('<nav class="main">', 1)[1].split("</nav>", 1)[0]
    return re.findall(r">([^<]+)</a>", nav)


@pytest.fixture(scope="module")
def signed_b_t(engine, pki):
    return engine.sign(SignRequest(document=make_pdf(), level=Level.B_T),
                       key_holder=SoftwareKeyHolder.from_dev_pki(pki, "dang-thi-mai")).data


@pytest.fixture(scope="module")
def prepared_draft(engine, tmp_path_factory):
    from registers.numbering import SqliteNumbering

    workflow = IssuanceWorkflow(engine=engine, numbering=SqliteNumbering(tmp_path_factory.mktemp("n") / "n.db"))
    return workflow.prepare(make_pdf(title="To trinh so 12"))


@pytest.fixture(scope="module")
def personally_signed(engine, pki, prepared_draft, tmp_path_factory):
    from registers.numbering import SqliteNumbering

    workflow = IssuanceWorkflow(engine=engine, numbering=SqliteNumbering(tmp_path_factory.mktemp("n") / "n.db"))
    return workflow.sign_personal(prepared_draft, key_holder=SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an"),
                                  signature_image=load_dev_image("nguyen-van-an")).data


# -- login, sessions, roles ----------------------------------------------------------------------------

def test_login_navigation_by_role_and_logout(app, client):
    assert client.get("/web/sign").headers["Location"].startswith("/web/login?next=/web/sign")
    page = client.get("/web/login")
    assert page.status_code == 200 and "Mã truy cập" in page.get_data(as_text=True)
    before = audit_count(app, action="login", actor=OFFICIAL)
    token = csrf_of(page.get_data(as_text=True))
    response = client.post("/web/login", data={"csrf_token": token, "token": dev_token(OFFICIAL),
                                               "next": "/web/verify"})
    assert response.status_code == 302 and response.headers["Location"] == "/web/verify"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie   # dev: plain HTTP
    assert dev_token(OFFICIAL) not in cookie
    assert audit_count(app, action="login", actor=OFFICIAL) == before + 1
    html = client.get("/web/verify").get_data(as_text=True)
    assert nav_labels(html) == ["Ký số", "Kiểm tra chữ ký"] and "Nguyễn Văn An" in html
    assert client.get("/web/issue").status_code == 403                   # an official does not issue
    assert client.get("/web/").headers["Location"] == "/web/sign"
    response = client.post("/web/logout", data={"csrf_token": csrf_of(html)})
    assert response.status_code == 302
    assert "Bạn đã đăng xuất" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get("/web/verify").status_code == 302                  # the session is over


@pytest.mark.parametrize("user, labels, forbidden", [
    (CLERK, ["Ký số", "Cấp số, ban hành", "Kiểm tra chữ ký"], []),
    (RECEIVER, ["Kiểm tra chữ ký"], ["/web/sign", "/web/issue"]),
    (AUDITOR, ["Kiểm tra chữ ký"], ["/web/sign", "/web/issue"]),
])
def test_each_role_sees_its_pages(app, client, user, labels, forbidden):
    login(client, user)
    assert nav_labels(client.get("/web/verify").get_data(as_text=True)) == labels
    for path in forbidden:
        before = audit_count(app, action="forbidden", actor=user)
        response = client.get(path)
        assert response.status_code == 403 and "Vai trò của bạn" in response.get_data(as_text=True)
        assert audit_count(app, action="forbidden", actor=user) == before + 1


def test_wrong_token_is_refused_and_audited(app, client):
    token = csrf_of(client.get("/web/login").get_data(as_text=True))
    before = audit_count(app, action="login_failed")
    response = client.post("/web/login", data={"csrf_token": token, "token": "kyso-dev-nobody"})
    assert response.status_code == 401
    assert "Mã truy cập không đúng" in response.get_data(as_text=True)
    assert audit_count(app, action="login_failed") == before + 1
    with app.extensions["kyso"].office.db.session() as s:
        last = s.scalars(select(AuditRecord).where(AuditRecord.action == "login_failed")
                         .order_by(AuditRecord.seq.desc())).first()
        assert last.actor == "anonymous" and "kyso-dev-nobody" not in str(last.detail)
    assert client.get("/web/verify").status_code == 302                  # still not logged in
    # the admin account exists but has no web pages
    response = client.post("/web/login", data={"csrf_token": token, "token": dev_token("admin")})
    assert response.status_code == 403


def test_a_disabled_account_ends_its_session(app, client):
    accounts = app.extensions["kyso"].accounts
    accounts.create("le-van-tam", display_name="Lê Văn Tâm", role="receiver", agency="UBND")
    secret = accounts.issue_token("le-van-tam")
    token = csrf_of(client.get("/web/login").get_data(as_text=True))
    assert client.post("/web/login", data={"csrf_token": token, "token": secret}).status_code == 302
    assert client.get("/web/verify").status_code == 200
    accounts.disable("le-van-tam")
    assert client.get("/web/verify").status_code == 302


def test_csrf_is_required_on_forms_but_not_on_the_api(client, signed_b_t):
    assert client.post("/web/login", data={"token": dev_token(OFFICIAL)}).status_code == 400
    token = login(client, OFFICIAL)
    response = client.post("/web/sign", data={"file": upload(make_pdf())}, content_type="multipart/form-data")
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    response = client.post("/web/verify", data={"file": upload(signed_b_t)}, content_type="multipart/form-data")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf_failed"
    assert client.post("/web/logout").status_code == 400
    assert client.get("/web/verify").status_code == 200                  # still logged in
    assert client.post("/web/logout", data={"csrf_token": "forged"}).status_code == 400
    # the JSON API authenticates with bearer tokens and needs no CSRF token
    response = client.post("/api/v1/verify", data={"file": upload(signed_b_t)}, content_type="multipart/form-data",
                           headers={"Authorization": f"Bearer {dev_token(RECEIVER)}"})
    assert response.status_code == 200 and response.get_json()["verdict"] == "valid"
    assert client.get("/healthz").status_code == 200
    assert token


# -- sign -----------------------------------------------------------------------------------------------

def test_sign_page_end_to_end(app, client):
    token = login(client, "tran-thi-bich-ngoc")
    page = client.get("/web/sign").get_data(as_text=True)
    assert "Mức chữ ký PAdES" in page and 'value="B-LT"' in page
    preview = client.post("/web/preview", data={"file": upload(make_pdf())}, content_type="multipart/form-data",
                          headers={"X-CSRFToken": token})
    assert preview.status_code == 200 and preview.mimetype == "image/png" and preview.data[:8] == b"\x89PNG\r\n\x1a\n"
    bad = client.post("/web/preview", data={"file": upload(b"not a pdf")}, content_type="multipart/form-data",
                      headers={"X-CSRFToken": token})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "preview_failed"

    response = client.post("/web/sign", content_type="multipart/form-data", data={
        "csrf_token": token, "file": upload(make_pdf(), "Tờ trình 12.pdf"), "appearance": "invisible",
        "level": "B-T", "reason": "Phê duyệt"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "Đã ký số văn bản" in html and "data:image/png;base64," in html
    link = re.search(r'id="download" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    signed = client.get(link)
    assert signed.status_code == 200 and signed.mimetype == "application/pdf"
    assert "-signed.pdf" in signed.headers["Content-Disposition"]
    report = verify(signed.data, policy=app.extensions["kyso"].office.policy)
    assert report.verdict.value == "valid" and report.signatures[0].level == "B-T"
    assert report.signatures[0].signer.common_name == "Trần Thị Bích Ngọc"

    # personal appearance on a plain PDF: the image goes at the bottom right of the last page
    response = client.post("/web/sign", content_type="multipart/form-data", data={
        "csrf_token": token, "file": upload(make_pdf(pages=2)), "appearance": "personal", "level": "B-B"})
    assert response.status_code == 200, response.get_data(as_text=True)
    link = re.search(r'id="download" href="([^"]+)"', response.get_data(as_text=True)).group(1).replace("&amp;", "&")
    assert verify(client.get(link).data, policy=app.extensions["kyso"].office.policy).verdict.value == "valid"

    # someone else cannot download it here
    other = app.test_client()
    login(other, OFFICIAL)
    assert other.get(link).status_code == 403


def test_sign_page_refusals_are_shown_not_500(client):
    token = login(client, OFFICIAL)
    response = client.post("/web/sign", data={"csrf_token": token}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Hãy chọn một tệp PDF" in response.get_data(as_text=True)
    response = client.post("/web/sign", content_type="multipart/form-data",
                           data={"csrf_token": token, "file": upload(b"%PDF-1.7 garbage")})
    assert 400 <= response.status_code < 500 and 'class="alert error"' in response.get_data(as_text=True)
    response = client.post("/web/sign", content_type="multipart/form-data",
                           data={"csrf_token": token, "file": upload(make_pdf()), "level": "B-XL"})
    assert response.status_code == 422 and "Mức PAdES không hợp lệ" in response.get_data(as_text=True)


# -- issue ------------------------------------------------------------------------------------------------

def test_issue_page_end_to_end(app, client, prepared_draft):
    policy = app.extensions["kyso"].office.policy
    # the Chairman signs the prepared draft on the sign page, with his signature image
    token = login(client, OFFICIAL)
    response = client.post("/web/sign", content_type="multipart/form-data", data={
        "csrf_token": token, "file": upload(prepared_draft), "appearance": "personal", "level": "B-T"})
    assert response.status_code == 200, response.get_data(as_text=True)
    draft_sha = re.search(r'class="mono">([0-9a-f]{64})<', response.get_data(as_text=True)).group(1)

    # the clerk sees it waiting for a number, and issues it with one click
    clerk = app.test_client()
    token = login(clerk, CLERK)
    page = clerk.get("/web/issue").get_data(as_text=True)
    assert "Văn bản chờ cấp số" in page and f'name="sha256" value="{draft_sha}"' in page
    assert "Nguyễn Văn An" in page
    response = clerk.post("/web/issue", data={"csrf_token": token, "sha256": draft_sha, "type": "CT",
                                              "place": "Hưng Yên", "summary": "Về công tác chuyển đổi số",
                                              "level": "B-T"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    number = re.search(r'id="number">([^<]+)<', html).group(1)
    assert re.fullmatch(r"\d{2,}/CT-UBND", number)
    link = re.search(r'id="download" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    issued = clerk.get(link)
    assert issued.status_code == 200
    report = verify(issued.data, policy=policy)
    assert report.verdict.value == "valid" and report.decree30.status == "ok"
    entry = [e for e in app.extensions["kyso"].office.numbering.entries(agency="UBND")
             if e["number_text"] == number][0]
    assert entry["summary"] == "Về công tác chuyển đổi số" and entry["verdict"] == "valid"
    # issued: no longer waiting
    assert draft_sha not in clerk.get("/web/issue").get_data(as_text=True)


def test_issue_page_upload_and_refusals(app, client, personally_signed):
    token = login(client, CLERK)
    # an official letter (CV) needs the drafting unit: refused with a message, no number taken
    response = client.post("/web/issue", content_type="multipart/form-data", data={
        "csrf_token": token, "file": upload(personally_signed), "type": "CV", "upload": "1"})
    assert response.status_code == 422 and "đơn vị soạn thảo" in response.get_data(as_text=True)
    response = client.post("/web/issue", content_type="multipart/form-data", data={
        "csrf_token": token, "file": upload(make_pdf()), "type": "CT", "upload": "1", "level": "B-B"})
    assert 400 <= response.status_code < 500 and 'class="alert error"' in response.get_data(as_text=True)
    response = client.post("/web/issue", data={"csrf_token": token, "sha256": "0" * 64, "type": "CT"})
    assert response.status_code == 404
    response = client.post("/web/issue", content_type="multipart/form-data", data={
        "csrf_token": token, "file": upload(personally_signed), "type": "CV", "unit": "VP", "place": "Hưng Yên",
        "upload": "1", "level": "B-B"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert re.search(r'id="number">\d{2,}/UBND-VP<', html)


# -- verify -------------------------------------------------------------------------------------------------

def test_verify_endpoint_for_the_page(app, client, signed_b_t):
    anonymous = csrf_of(client.get("/web/login").get_data(as_text=True))
    response = client.post("/web/verify", data={"file": upload(signed_b_t)}, content_type="multipart/form-data",
                           headers={"X-CSRFToken": anonymous})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthenticated"  # no redirect
    token = login(client, RECEIVER)
    page = client.get("/web/verify").get_data(as_text=True)
    assert 'id="dropzone"' in page and "multiple" in page and "kyso.js" in page
    headers = {"X-CSRFToken": token}
    tampered = bytearray(signed_b_t)
    tampered[400] ^= 1
    verdicts = {}
    for name, data in [("hop-le.pdf", signed_b_t), ("sua.pdf", bytes(tampered)), ("rac.pdf", b"\x00garbage" * 50),
                       ("rong.pdf", b""), ("chua-ky.pdf", make_pdf())]:
        response = client.post("/web/verify", data={"file": upload(data, name)}, content_type="multipart/form-data",
                               headers=headers)
        assert response.status_code == 200, (name, response.get_data(as_text=True))
        body = response.get_json()
        verdicts[name] = body["report"]["verdict"]
        if name == "hop-le.pdf":
            href = body["href"]
    assert verdicts == {"hop-le.pdf": "valid", "sua.pdf": "invalid", "rac.pdf": verdicts["rac.pdf"],
                        "rong.pdf": verdicts["rong.pdf"], "chua-ky.pdf": "unsigned"}
    assert verdicts["rac.pdf"] != "valid" and verdicts["rong.pdf"] != "valid"
    response = client.post("/web/verify", data={}, content_type="multipart/form-data", headers=headers)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "file_missing"
    # the report page of a verified file, with the certificate chain
    report = client.get(href)
    html = report.get_data(as_text=True)
    assert report.status_code == 200 and "Đặng Thị Mai" in html and 'class="chain"' in html
    assert "Tải văn bản" not in html                                      # a receiver does not download here
    assert client.get("/web/documents/" + "f" * 64).status_code == 404
    assert client.get("/web/documents/nope").status_code == 404


def test_english_is_one_click_away(client):
    page = client.get("/web/login?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page and "Access token" in page and "Tiếng Việt" in page
    token = csrf_of(page)
    client.post("/web/login", data={"csrf_token": token, "token": dev_token(CLERK)})
    html = client.get("/web/issue").get_data(as_text=True)                 # the choice stays in the session
    assert "Documents waiting for a number" in html and nav_labels(html) == ["Sign", "Number and issue",
                                                                             "Verify signatures"]
    assert "Văn bản chờ cấp số" not in html
    html = client.get("/web/verify?lang=vi").get_data(as_text=True)
    assert '<html lang="vi">' in html and "Kéo và thả" in html


def test_everything_from_the_user_is_escaped(app, client):
    accounts = app.extensions["kyso"].accounts
    accounts.create("xss-test", display_name='<script>alert("x")</script> Đỗ', role="auditor", agency="UBND")
    secret = accounts.issue_token("xss-test")
    token = csrf_of(client.get("/web/login").get_data(as_text=True))
    client.post("/web/login", data={"csrf_token": token, "token": secret})
    html = client.get("/web/verify").get_data(as_text=True)
    assert '<script>alert("x")</script>' not in html and "&lt;script&gt;" in html
    assert "script-src 'self'" in client.get("/web/verify").headers["Content-Security-Policy"]
    # an open redirect through ?next= is not possible
    client.post("/web/logout", data={"csrf_token": csrf_of(html)})
    token = csrf_of(client.get("/web/login").get_data(as_text=True))
    response = client.post("/web/login", data={"csrf_token": token, "token": secret, "next": "//evil.example/x"})
    assert response.headers["Location"] == "/web/"
