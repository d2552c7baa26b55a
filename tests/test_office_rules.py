"""The office's rules hold whatever the door: each rule is tried through the HTTP API, the web pages
and the ``kyso`` command, wherever the door offers the operation, on one office (one data home that
all three doors share) and answers with the same stable code everywhere.

Rules (issue 12): one draft, one number; a clerk issues only for her own agency, with its key and its
name; no agency signature without its Decree 30 precondition (a personal signature, an issued main
document, an issued or received original); the sign door signs with personal keys only; a document is
read by its agencies and auditors only; receiving registers valid documents only and returning sends
a notice the agency signs; the Decree 30 verdict is amber for a document not yet issued and never
green on a tampered one; Vietnamese never raw in an HTTP header."""
from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from kyso.samples import make_decree30_draft, make_pdf
from office.compose import dev_token

OFFICIAL, CLERK, OTHER_CLERK, RECEIVER, AUDITOR = ("nguyen-van-an", "agency-ubnd-hung-yen",
                                                    "agency-so-noi-vu-hung-yen", "receiver", "auditor")
OTHER_OFFICIAL = "le-hoang-phuc"          # an official of Sở Nội vụ
MISBOUND = "quan-chuc-khoa-nham"          # an official whose account an administrator bound to the agency's key


@dataclass
class Answer:
    """What a door answered: an HTTP status (None at the command line), the stable error code (None
    on success), the file it handed back, and what it said (JSON or the page's text)."""

    status: int | None
    code: str | None
    data: bytes = b""
    said: dict | str = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code is None


def _draft(tag: str) -> bytes:
    """A fresh realistic draft (its own content, so its own hash and its own personal signature)."""
    return make_decree30_draft(subject=f"Về việc thử quy tắc {tag} {uuid.uuid4().hex[:8]}")


# -- the three doors -------------------------------------------------------------------------------

class ApiDoor:
    name = "api"

    def __init__(self, app, tmp_path):
        self.client = app.test_client()

    def _post(self, user, path, pdf=None, **form) -> Answer:
        data = {k: v for k, v in form.items() if v is not None}
        if pdf is not None:
            data["file"] = (io.BytesIO(pdf), "văn bản.pdf")
        r = self.client.post(path, headers={"Authorization": f"Bearer {dev_token(user)}"},
                             content_type="multipart/form-data", data=data)
        if r.status_code >= 400:
            return Answer(r.status_code, r.get_json()["error"]["code"], said=r.get_json())
        if r.mimetype == "application/pdf":
            return Answer(r.status_code, None, r.data, said=dict(r.headers))
        return Answer(r.status_code, None, said=r.get_json())

    def sign(self, user, pdf):
        return self._post(user, "/api/v1/sign", pdf, appearance="personal", level="B-T")

    def prepare(self, user, pdf, signer_name):
        answer = self._post(user, "/api/v1/prepare", pdf, signer_name=signer_name)
        if answer.ok:
            answer.data = self.client.get(answer.said["href"], headers={
                "Authorization": f"Bearer {dev_token(user)}"}).data
        return answer

    @staticmethod
    def _numbered(answer):
        if answer.ok:
            answer.said["number"] = unquote(answer.said["X-Kyso-Number"])
        return answer

    def issue(self, user, pdf, doc_type="QĐ"):
        return self._numbered(self._post(user, "/api/v1/issue", pdf, type=doc_type, level="B-T"))

    def attach(self, user, pdf, main_number):
        return self._post(user, "/api/v1/sign-attachment", pdf, main_number=main_number, level="B-B")

    def copy(self, user, pdf, form="SY"):
        return self._numbered(self._post(user, "/api/v1/copy", pdf, form=form, level="B-B"))

    def receive(self, user, pdf, sender):
        return self._post(user, "/api/v1/incoming", pdf, sender=sender)

    def give_back(self, user, pdf, sender):
        answer = self._post(user, "/api/v1/incoming/return", pdf, sender=sender)
        if answer.ok:
            answer.data = self.client.get(answer.said["notice_href"], headers={
                "Authorization": f"Bearer {dev_token(user)}"}).data
        return answer

    def read(self, user, sha256):
        r = self.client.get(f"/api/v1/documents/{sha256}", headers={"Authorization": f"Bearer {dev_token(user)}"})
        return Answer(r.status_code, None if r.status_code == 200 else r.get_json()["error"]["code"], r.data)

    def verify(self, user, pdf):
        answer = self._post(user, "/api/v1/verify", pdf)
        return answer.said["outcome"], answer.said.get("decree30") or {}


class WebDoor:
    name = "web"

    def __init__(self, app, tmp_path):
        self.app = app
        self.sessions: dict[str, tuple] = {}

    def _session(self, user):
        if user not in self.sessions:
            client = self.app.test_client()
            page = client.get("/web/login").get_data(as_text=True)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            assert client.post("/web/login", data={"csrf_token": csrf, "token": dev_token(user)}).status_code == 302
            page = client.get("/web/verify").get_data(as_text=True)
            csrf = re.search(r'name="csrf-token" content="([^"]+)"', page) or \
                re.search(r'name="csrf_token" value="([^"]+)"', page)
            self.sessions[user] = (client, csrf.group(1))
        return self.sessions[user]

    def _post(self, user, path, pdf=None, **form) -> Answer:
        client, csrf = self._session(user)
        data = {"csrf_token": csrf, **{k: v for k, v in form.items() if v is not None}}
        if pdf is not None:
            data["file"] = (io.BytesIO(pdf), "văn bản.pdf")
        r = client.post(path, content_type="multipart/form-data", data=data)
        html = r.get_data(as_text=True)
        if r.status_code >= 400:
            code = re.search(r'data-code="([a-z0-9_]+)"', html)
            assert code, html[:3000]
            return Answer(r.status_code, code.group(1), said=html)
        assert r.status_code == 200, html[:2000]
        download = re.search(r'id="download" href="([^"]+)"', html)
        data = client.get(download.group(1).replace("&amp;", "&")).data if download else b""
        return Answer(200, None, data, said=html)

    def sign(self, user, pdf):
        return self._post(user, "/web/sign", pdf, appearance="personal", level="B-T")

    def prepare(self, user, pdf, signer_name):
        return self._post(user, "/web/prepare", pdf, signer_name=signer_name)

    @staticmethod
    def _numbered(answer):
        if answer.ok:
            answer.said = {"number": re.search(r'id="number">([^<]+)<', answer.said).group(1), "html": answer.said}
        return answer

    def issue(self, user, pdf, doc_type="QĐ"):
        return self._numbered(self._post(user, "/web/issue", pdf, type=doc_type, level="B-T"))

    def attach(self, user, pdf, main_number):
        return self._post(user, "/web/copies", pdf, action="attachment", main_number=main_number, level="B-B")

    def copy(self, user, pdf, form="SY"):
        return self._numbered(self._post(user, "/web/copies", pdf, action="copy", form=form, level="B-B"))

    def _check(self, user, pdf):
        answer = self._post(user, "/web/receive", pdf, action="check")
        return re.search(r'name="sha256" value="([0-9a-f]{64})"', answer.said).group(1)

    def receive(self, user, pdf, sender):
        return self._post(user, "/web/receive", action="register", sha256=self._check(user, pdf), sender=sender)

    def give_back(self, user, pdf, sender):
        client, _ = self._session(user)
        answer = self._post(user, "/web/receive", action="return", sha256=self._check(user, pdf), sender=sender)
        if answer.ok:
            notice = re.search(r'id="notice" href="([^"]+)"', answer.said).group(1).replace("&amp;", "&")
            answer.data = client.get(notice).data
        return answer

    def read(self, user, sha256):
        client, _ = self._session(user)
        r = client.get(f"/web/documents/{sha256}/download")
        code = re.search(r'data-code="([a-z0-9_]+)"', r.get_data(as_text=True)) if r.status_code >= 400 else None
        return Answer(r.status_code, code.group(1) if code else None, r.data)

    def verify(self, user, pdf):
        client, csrf = self._session(user)
        r = client.post("/web/verify", content_type="multipart/form-data", headers={"X-CSRFToken": csrf},
                        data={"file": (io.BytesIO(pdf), "văn bản.pdf")})
        report = r.get_json()["report"]
        return report["outcome"], report.get("decree30") or {}


class CliDoor:
    name = "cli"

    def __init__(self, app, tmp_path):
        self.tmp = tmp_path
        self.runner = CliRunner()

    def _run(self, *args) -> Answer:
        from commands.main import main

        result = self.runner.invoke(main, [str(a) for a in args])
        if result.exit_code == 0:
            lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
            return Answer(None, None, said=lines[-1] if lines else result.stdout)
        assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
        error = json.loads(result.stderr.strip().splitlines()[-1])
        return Answer(None, error["error"]["code"], said=error)

    def _files(self, pdf):
        name = uuid.uuid4().hex[:8]
        source, out = self.tmp / f"vào-{name}.pdf", self.tmp / f"ra-{name}.pdf"
        source.write_bytes(pdf)
        return source, out

    def _with_output(self, answer, out):
        if answer.ok and out.exists():
            answer.data = out.read_bytes()
        return answer

    def sign(self, user, pdf):
        source, out = self._files(pdf)
        return self._with_output(self._run("sign", source, out, "--as", user, "--appearance", "personal",
                                           "--level", "B-T"), out)

    def prepare(self, user, pdf, signer_name):
        source, out = self._files(pdf)
        return self._with_output(self._run("prepare", source, out, "--as", user, "--signer-name", signer_name), out)

    def issue(self, user, pdf, doc_type="QĐ"):
        source, out = self._files(pdf)
        return self._with_output(self._run("issue", source, out, "--as", user, "--type", doc_type,
                                           "--level", "B-T"), out)

    def attach(self, user, pdf, main_number):
        source, out = self._files(pdf)
        return self._with_output(self._run("sign-attachment", source, out, "--as", user, "--main-number",
                                           main_number, "--level", "B-B"), out)

    def copy(self, user, pdf, form="SY"):
        source, out = self._files(pdf)
        return self._with_output(self._run("copy", source, out, "--as", user, "--form", form, "--level", "B-B"), out)

    def receive(self, user, pdf, sender):
        source, _ = self._files(pdf)
        return self._run("receive", source, "--as", user, "--sender", sender)

    def give_back(self, user, pdf, sender):
        source, _ = self._files(pdf)
        notice = self.tmp / f"phieu-{uuid.uuid4().hex[:8]}.pdf"
        return self._with_output(self._run("return", source, "--as", user, "--sender", sender,
                                           "--notice-out", notice), notice)

    def verify(self, user, pdf):
        from commands.main import main

        source, _ = self._files(pdf)
        result = self.runner.invoke(main, ["verify", str(source), "--json"])
        data = json.loads(result.stdout.splitlines()[0])
        return data["outcome"], data.get("decree30") or {}


DOORS = {"api": ApiDoor, "web": WebDoor, "cli": CliDoor}


@pytest.fixture(scope="module")
def shared(tmp_path_factory, pki_server, softhsm_token, pkcs11_token):
    """One office and its data home; the command line uses the same data home."""
    from api import create_app
    from kyso.settings import Settings
    from office import Office

    home = tmp_path_factory.mktemp("rules-home")
    settings = Settings(dev_pki_url=pki_server.base_url, data_dir=home, pkcs11_token=softhsm_token.token_label,
                        pkcs11_pin=softhsm_token.user_pin)
    office = Office.from_settings(settings, token=pkcs11_token)
    agency_key = office.dev_pki.identity("agency-ubnd-hung-yen")
    office.accounts.create(MISBOUND, display_name="Quan chức khóa nhầm", role="official", agency="UBND")
    office.accounts.bind_key(MISBOUND, kind="pkcs11", ref=agency_key.label,
                             certificate_sha256=agency_key.sha256_fingerprint)
    office.accounts.issue_token(MISBOUND, token=dev_token(MISBOUND))
    app = create_app(settings, office=office)
    app.config.update(TESTING=True)
    yield app, settings
    office.db.dispose()


@pytest.fixture()
def door(request, shared, tmp_path, monkeypatch):
    app, settings = shared
    for var in [v for v in __import__("os").environ if v.startswith("KYSO_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("KYSO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("KYSO_DEV_PKI_URL", settings.dev_pki_url)
    monkeypatch.setenv("KYSO_PKCS11_TOKEN", settings.pkcs11_token)
    monkeypatch.setenv("KYSO_PKCS11_PIN", settings.pkcs11_pin)
    return DOORS[request.param](app, tmp_path)


def office_of(shared):
    return shared[0].extensions["kyso"]


def outgoing(shared, agency):
    from registers.numbering import DatabaseNumbering

    return DatabaseNumbering(office_of(shared).db).entries(agency=agency)


# -- one draft, one number -------------------------------------------------------------------------------

@pytest.mark.parametrize("door", ["api", "web", "cli"], indirect=True)
def test_one_draft_one_number(door, shared):
    signed = door.sign(OFFICIAL, _draft("một số"))
    assert signed.ok, signed
    first = door.issue(CLERK, signed.data)
    assert first.ok, first
    number = first.said["number"]
    assert re.fullmatch(r"\d{2,}/QĐ-UBND", number)
    before = len(outgoing(shared, "UBND"))
    again = door.issue(CLERK, signed.data)
    assert (again.status, again.code) in ((409, "already_issued"), (None, "already_issued"))
    assert number in json.dumps(again.said, ensure_ascii=False) if door.name != "web" else number in again.said
    # the same personal signature in other bytes (the file saved again with an update appended)
    resaved = signed.data + b"\n%% saved again by a PDF reader\n"
    other_bytes = door.issue(CLERK, resaved)
    assert other_bytes.code == "already_issued", other_bytes
    assert len(outgoing(shared, "UBND")) == before, "no number was taken by a refused issue"


# -- a clerk issues for her own agency, with its key and its name ------------------------------------------

@pytest.mark.parametrize("door", ["api", "web", "cli"], indirect=True)
def test_a_clerk_issues_only_for_her_agency(door, shared):
    from verifier import verify

    signed = door.sign(OFFICIAL, _draft("cơ quan"))
    before = outgoing(shared, "SNV")
    refused = door.issue(OTHER_CLERK, signed.data)
    assert refused.code == "agency_mismatch" and refused.status in (403, None), refused
    assert outgoing(shared, "SNV") == before, "nothing went into the other agency's book"
    issued = door.issue(CLERK, signed.data)
    assert issued.ok and issued.said["number"].endswith("/QĐ-UBND")
    report = verify(issued.data, policy=office_of(shared).verification)
    agency_signature = report.signatures[-1]
    assert agency_signature.signer.common_name == "UBND tỉnh Hưng Yên"
    assert report.to_dict()["decree30"]["status"] == "ok"


# -- no agency signature without its precondition; the sign door signs with personal keys only --------------

@pytest.mark.parametrize("door", ["api", "web", "cli"], indirect=True)
def test_agency_signatures_need_their_precondition(door, shared):
    unprepared = door.issue(CLERK, _draft("chưa chuẩn bị"))
    assert unprepared.code == "draft_not_prepared" and unprepared.status in (422, None), unprepared
    prepared = door.prepare(CLERK, _draft("chưa ký"), "Nguyễn Văn An")
    unsigned = door.issue(CLERK, prepared.data)
    assert unsigned.code == "personal_signature_missing" and unsigned.status in (422, None), unsigned
    stray = door.attach(CLERK, make_pdf(title="Phu luc"), "987/QĐ-UBND")
    assert stray.code == "not_issued" and stray.status in (422, None), stray
    never = door.copy(CLERK, make_pdf(title="Khong phai van ban da ban hanh"))
    assert never.code == "not_issued" and never.status in (422, None), never
    seal_anything = door.sign(CLERK, make_pdf(title="Bat ky"))
    assert seal_anything.code == "forbidden" and seal_anything.status in (403, None), seal_anything
    # an official's account bound, by mistake, to the agency's key: the sign door still refuses it
    wrongly_bound = door.sign(MISBOUND, make_pdf(title="Bat ky"))
    assert wrongly_bound.code == "certificate_not_personal" and wrongly_bound.status in (422, None), wrongly_bound
    # with the precondition, each works
    issued = door.issue(CLERK, door.sign(OFFICIAL, _draft("tiền đề")).data)
    assert issued.ok
    attached = door.attach(CLERK, make_pdf(title="Phu luc"), issued.said["number"])
    assert attached.ok and attached.data.startswith(b"%PDF")
    copy = door.copy(CLERK, issued.data)
    assert copy.ok and copy.said["number"].endswith("/SY-UBND")


# -- prepare: the fields go on the draft's own blanks ----------------------------------------------------------

@pytest.mark.parametrize("door", ["api", "web", "cli"], indirect=True)
def test_prepare_finds_the_drafts_own_blanks(door, shared):
    from signer.blanks import detect

    draft = _draft("chuẩn bị")
    blanks = detect(draft, signer_name="Nguyễn Văn An")
    assert blanks.number_box and blanks.date_box and blanks.signature_box
    prepared = door.prepare(CLERK, draft, "Nguyễn Văn An")
    assert prepared.ok, prepared
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(prepared.data))
    fields = {f["/T"]: [float(x) for x in f["/Rect"]] for f in
              (a.get_object() for a in reader.root["/AcroForm"]["/Fields"])}
    number, date = fields["SoKyHieu"], fields["NgayBanHanh"]

    def inside(rect, box):
        return box[0] - 3 <= rect[0] and rect[2] <= box[2] + 60 and box[1] - 6 <= rect[1] and rect[3] <= box[3] + 6

    assert inside(number, blanks.number_box), (number, blanks.number_box)
    assert inside(date, blanks.date_box), (date, blanks.date_box)


# -- receiving and returning -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def from_nghe_an(engine, pki, tmp_path_factory):
    from certs_dev.images import load_dev_image
    from registers.numbering import SqliteNumbering
    from signer import Level, SoftwareKeyHolder
    from signer.issuance import IssuanceWorkflow

    workflow = IssuanceWorkflow(engine=engine, numbering=SqliteNumbering(tmp_path_factory.mktemp("na") / "n.db"))

    def one():
        draft = workflow.prepare(make_decree30_draft(agency="TỈNH NGHỆ AN", place="Nghệ An", name="Đặng Thị Mai",
                                                     subject=f"Về việc {uuid.uuid4().hex[:8]}"))
        personal = workflow.sign_personal(draft, key_holder=SoftwareKeyHolder.from_dev_pki(pki, "dang-thi-mai"),
                                          signature_image=load_dev_image("nguyen-van-an"), level=Level.B_T).data
        return workflow.issue(personal, key_holder=SoftwareKeyHolder.from_dev_pki(pki, "agency-ubnd-nghe-an"),
                              agency="UBNDNA", doc_type="CV", unit="VP",
                              seal_image=load_dev_image("agency-ubnd-hung-yen"),
                              agency_name="UBND tỉnh Nghệ An", level=Level.B_T).signed.data

    return one


@pytest.mark.parametrize("door", ["api", "web", "cli"], indirect=True)
def test_receive_registers_valid_documents_and_returns_with_a_signed_notice(door, shared, from_nghe_an):
    from verifier import verify

    document = from_nghe_an()
    received = door.receive(RECEIVER, document, "UBND tỉnh Nghệ An")
    assert received.ok, received
    tampered = bytearray(from_nghe_an())
    tampered[len(tampered) // 3] ^= 0x01
    refused = door.receive(RECEIVER, bytes(tampered), "UBND tỉnh Nghệ An")
    assert refused.code == "incoming_not_valid" and refused.status in (422, None), refused
    official_only = door.sign(OFFICIAL, _draft("chỉ người ký"))
    not_issued = door.receive(RECEIVER, official_only.data, "UBND tỉnh Hưng Yên")
    assert not_issued.code == "incoming_not_valid", "an official's signature alone is not an issued document"
    returned = door.give_back(RECEIVER, bytes(tampered), "UBND tỉnh Nghệ An")
    assert returned.ok and returned.data.startswith(b"%PDF"), returned
    notice = verify(returned.data, policy=office_of(shared).verification)
    assert notice.verdict.value == "valid" and notice.signatures[0].signer.common_name == "UBND tỉnh Hưng Yên"
    import subprocess

    text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=returned.data, capture_output=True,
                          check=True).stdout.decode("utf-8")
    assert "(UTC+07:00)" in text and "Nghệ An" in text


# -- reading -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("door", ["api", "web"], indirect=True)
def test_a_document_is_read_by_its_agency_and_auditors_only(door, shared):
    signed = door.sign(OFFICIAL, _draft("đọc"))
    import hashlib

    issued = ApiDoor(shared[0], None).issue(CLERK, signed.data)
    sha = hashlib.sha256(issued.data).hexdigest()
    for user in (CLERK, OFFICIAL, RECEIVER, AUDITOR):     # the receiving clerk is of the same agency
        assert door.read(user, sha).status == 200, user
    for user in (OTHER_CLERK, OTHER_OFFICIAL):
        answer = door.read(user, sha)
        assert (answer.status, answer.code) == (404, "not_found"), user


# -- the Decree 30 verdict -----------------------------------------------------------------------------------

@pytest.mark.parametrize("door", ["api", "web", "cli"], indirect=True)
def test_the_decree30_verdict(door, shared):
    signed = door.sign(OFFICIAL, _draft("kết luận"))
    outcome, decree30 = door.verify(AUDITOR, signed.data)
    assert (outcome["code"], outcome["colour"]) == ("not_issued", "amber")
    assert decree30["status"] == "personal_only"
    issued = door.issue(CLERK, signed.data)
    outcome, decree30 = door.verify(AUDITOR, issued.data)
    assert (outcome["code"], outcome["colour"]) == ("valid", "green") and decree30["status"] == "ok"
    tampered = bytearray(issued.data)
    tampered[len(tampered) // 2] ^= 0x01
    outcome, decree30 = door.verify(AUDITOR, bytes(tampered))
    assert outcome["colour"] != "green" and decree30.get("status") != "ok"


# -- Vietnamese in HTTP headers -------------------------------------------------------------------------------

@pytest.mark.parametrize("door", ["api", "web"], indirect=True)
def test_vietnamese_never_raw_in_a_header(door, shared):
    signed = door.sign(OFFICIAL, _draft("tiêu đề"))
    issued = door.issue(CLERK, signed.data)
    assert issued.ok and issued.said["number"].endswith("/QĐ-UBND")
    if door.name == "api":
        client = door.client
        named = client.post("/api/v1/sign", headers={"Authorization": f"Bearer {dev_token(OFFICIAL)}"},
                            content_type="multipart/form-data",
                            data={"file": (io.BytesIO(make_pdf()), "Quyết định.pdf"), "field": "Chữ ký", "level": "B-B"})
        headers = named.headers
    else:
        client, _ = door._session(CLERK)
        number = issued.said["number"]
        link = re.search(r'id="download" href="([^"]+)"', issued.said["html"]).group(1).replace("&amp;", "&")
        headers = client.get(link).headers
        assert "filename*=UTF-8''" in headers["Content-Disposition"] and number.split("/")[0] in \
            headers["Content-Disposition"]
    for name, value in headers.items():
        assert value.isascii(), (name, value)
    if door.name == "api":
        assert unquote(headers["X-Kyso-Signature-Field"]) == "Chữ ký"
        assert "filename*=UTF-8''Quy%E1%BA%BFt%20%C4%91%E1%BB%8Bnh-signed.pdf" in headers["Content-Disposition"]
        assert 'filename="Quyet dinh-signed.pdf"' in headers["Content-Disposition"], "an old client's name"
    else:
        assert f'filename="{number.replace("/", "-").replace("Đ", "D")}.pdf"' in headers["Content-Disposition"]
