"""The ``kyso`` command as a clerk, an official or a script uses it on the server: every command
acts as an account (``--as``), shares the service's data home, and answers with the API's errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from commands.main import main
from kyso.samples import make_decree30_draft, make_pdf
from pdfcheck import pdfsig, pyhanko_statuses

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def home(tmp_path):
    return tmp_path / "kyso-home"


@pytest.fixture()
def run(pki_server, softhsm, monkeypatch, home):
    """``kyso`` in this process, with the development settings of a fresh data home."""
    for var in list(os.environ):
        if var.startswith("KYSO_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("KYSO_DEV_PKI_URL", pki_server.base_url)
    monkeypatch.setenv("KYSO_DATA_DIR", str(home))
    runner = CliRunner()

    def invoke(*args, input=None, **env):
        return runner.invoke(main, [str(a) for a in args], input=input, env={k: str(v) for k, v in env.items()})

    return invoke


@pytest.fixture()
def doc(tmp_path):
    path = tmp_path / "quyet-dinh.pdf"
    path.write_bytes(make_decree30_draft())
    return path


def test_an_official_signs_as_her_account(run, doc, tmp_path, pki, nssdb):
    out = tmp_path / "signed.pdf"
    result = run("sign", doc, out, "--as", "tran-thi-bich-ngoc", "--level", "B-LT", "--reason", "Ký ban hành",
                 "--location", "Hưng Yên")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["level"] == "B-LT" and summary["signer_fingerprint"] == pki.identity(
        "tran-thi-bich-ngoc").sha256_fingerprint
    signed = out.read_bytes()
    assert pyhanko_statuses(signed, pki.trust_roots())[0].bottom_line
    assert pdfsig(signed, nssdb)[0].valid


def test_an_account_whose_key_is_a_pkcs12_file(run, doc, tmp_path, pki):
    p12 = tmp_path / "le-hoang-phuc.p12"
    p12.write_bytes(pki.pkcs12_bytes("le-hoang-phuc", "bí-mật".encode()))
    assert run("admin", "create-user", "phuc", "--name", "Lê Hoàng Phúc", "--role", "official",
               "--agency", "SNV").exit_code == 0
    bound = run("admin", "bind-key", "phuc", "--pkcs12", p12, KYSO_PKCS12_PASSPHRASE="bí-mật")
    assert bound.exit_code == 0, bound.output
    out = tmp_path / "signed.pdf"
    result = run("sign", doc, out, "--as", "phuc", "--level", "B-T", KYSO_PKCS12_PASSPHRASE="bí-mật")
    assert result.exit_code == 0, result.output
    assert pyhanko_statuses(out.read_bytes(), pki.trust_roots())[0].bottom_line
    prompted = run("sign", doc, tmp_path / "p.pdf", "--as", "phuc", "--level", "B-B", input="bí-mật\n")
    assert prompted.exit_code == 0, prompted.output
    assert "bí-mật" not in prompted.stdout
    wrong = run("sign", doc, tmp_path / "o.pdf", "--as", "phuc", KYSO_PKCS12_PASSPHRASE="sai")
    assert wrong.exit_code == 1 and json.loads(wrong.stderr)["error"]["code"] == "key_passphrase_invalid"


def test_refusals_exit_1_with_the_apis_json_and_no_file(run, doc, tmp_path):
    out = tmp_path / "signed.pdf"
    result = run("sign", doc, out, "--as", "official-revoked", "--level", "B-B")
    assert result.exit_code == 1
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "certificate_revoked"
    assert error["message_vi"] == "Chứng thư số của người ký đã bị thu hồi."
    assert not out.exists()
    clerk = run("sign", doc, out, "--as", "agency-ubnd-hung-yen", "--level", "B-B")
    assert clerk.exit_code == 1 and json.loads(clerk.stderr)["error"]["code"] == "forbidden"   # a clerk seals
    nobody = run("sign", doc, out, "--as", "nobody-at-all")
    assert nobody.exit_code == 1 and json.loads(nobody.stderr)["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("args", [[], ["--as", "nguyen-van-an", "--level", "B-Z"]])
def test_usage_errors_exit_2(run, doc, tmp_path, args):
    result = run("sign", doc, tmp_path / "o.pdf", *args)
    assert result.exit_code == 2, result.output


def test_the_whole_office_from_the_command_line(run, tmp_path, pki, nssdb, home):
    draft = tmp_path / "draft.pdf"
    draft.write_bytes(make_decree30_draft(pages=2))
    prepared, personal, issued = tmp_path / "prepared.pdf", tmp_path / "personal.pdf", tmp_path / "issued.pdf"
    result = run("prepare", draft, prepared, "--as", "agency-ubnd-hung-yen")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["blanks"]["number_symbol"] == "QĐ-UBND"
    result = run("sign", prepared, personal, "--as", "nguyen-van-an", "--appearance", "personal", "--level", "B-T")
    assert result.exit_code == 0, result.output
    result = run("issue", personal, issued, "--as", "agency-ubnd-hung-yen", "--type", "QĐ", "--level", "B-T",
                 "--summary", "Ban hành quy chế", "--recipient", "Sở Nội vụ", "--recipient", "Lưu: VT")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["number"] == "01/QĐ-UBND" and summary["outcome"]["code"] == "valid"
    signed = issued.read_bytes()
    assert [s.valid for s in pdfsig(signed, nssdb)] == [True, True]
    statuses = pyhanko_statuses(signed, pki.trust_roots())
    assert statuses[0].intact and statuses[0].trusted and statuses[1].bottom_line

    # one draft, one number; another agency's clerk may not issue it
    again = run("issue", personal, tmp_path / "again.pdf", "--as", "agency-ubnd-hung-yen", "--type", "QĐ",
                "--level", "B-B")
    assert again.exit_code == 1 and json.loads(again.stderr)["error"]["detail"]["number"] == "01/QĐ-UBND"
    other = run("issue", personal, tmp_path / "other.pdf", "--as", "agency-so-noi-vu-hung-yen", "--type", "QĐ",
                "--level", "B-B")
    assert other.exit_code == 1 and json.loads(other.stderr)["error"]["code"] in ("agency_mismatch", "already_issued")

    # attachments of issued numbers only; copies of issued documents only
    attachment, attached = tmp_path / "phu-luc.pdf", tmp_path / "phu-luc-da-ky.pdf"
    attachment.write_bytes(make_pdf(pages=1, title="Phu luc"))
    stray = run("sign-attachment", attachment, attached, "--as", "agency-ubnd-hung-yen", "--main-number",
                "99/QĐ-UBND", "--level", "B-B")
    assert stray.exit_code == 1 and json.loads(stray.stderr)["error"]["code"] == "not_issued"
    result = run("sign-attachment", attachment, attached, "--as", "agency-ubnd-hung-yen", "--main-number",
                 "01/QĐ-UBND", "--level", "B-B")
    assert result.exit_code == 0, result.output
    assert pdfsig(attached.read_bytes(), nssdb)[0].valid
    stray_copy = run("copy", draft, tmp_path / "x.pdf", "--as", "agency-ubnd-hung-yen", "--form", "SY")
    assert stray_copy.exit_code == 1 and json.loads(stray_copy.stderr)["error"]["code"] == "not_issued"
    copy = tmp_path / "sao-y.pdf"
    result = run("copy", issued, copy, "--as", "agency-ubnd-hung-yen", "--form", "SY", "--level", "B-B")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["number"] == "01/SY-UBND"

    # the register, from the command line, the same as the service's (one data home)
    register = run("register", "outgoing", "--as", "agency-ubnd-hung-yen")
    numbers = [json.loads(line)["number_text"] for line in register.stdout.splitlines()]
    assert numbers == ["01/QĐ-UBND", "01/SY-UBND"]
    assert (home / "kyso.sqlite").exists()
    # the two fonts of the stamps, subset by the first command that drew them, kept for the next ones
    assert len(list((home / "cache" / "fonts").glob("*.json"))) == 2


def test_receiving_and_returning_from_the_command_line(run, tmp_path, engine, pki):
    from certs_dev.images import load_dev_image
    from registers.numbering import SqliteNumbering
    from signer import Level, SoftwareKeyHolder
    from signer.issuance import IssuanceWorkflow

    workflow = IssuanceWorkflow(engine=engine, numbering=SqliteNumbering(tmp_path / "na.db"))
    personal = workflow.sign_personal(workflow.prepare(make_decree30_draft(agency="TỈNH NGHỆ AN", place="Nghệ An")),
                                      key_holder=SoftwareKeyHolder.from_dev_pki(pki, "dang-thi-mai"),
                                      signature_image=load_dev_image("nguyen-van-an"), level=Level.B_B).data
    valid = workflow.issue(personal, key_holder=SoftwareKeyHolder.from_dev_pki(pki, "agency-ubnd-nghe-an"),
                           agency="UBNDNA", doc_type="CT", seal_image=load_dev_image("agency-ubnd-hung-yen"),
                           agency_name="UBND tỉnh Nghệ An", level=Level.B_B).signed.data
    good, only_personal = tmp_path / "den.pdf", tmp_path / "chua-ban-hanh.pdf"
    good.write_bytes(valid)
    only_personal.write_bytes(personal)
    result = run("receive", good, "--as", "receiver", "--sender", "UBND tỉnh Nghệ An", "--reference", "01/CT-UBNDNA")
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)
    assert (entry["number"], entry["status"]) == (1, "received")
    refused = run("receive", only_personal, "--as", "receiver", "--sender", "UBND tỉnh Nghệ An")
    assert refused.exit_code == 1 and "incoming_not_valid" in refused.stderr
    notice = tmp_path / "phieu.pdf"
    returned = run("return", only_personal, "--as", "receiver", "--sender", "UBND tỉnh Nghệ An",
                   "--notice-out", notice)
    assert returned.exit_code == 0, returned.output
    assert json.loads(returned.stdout)["status"] == "returned" and notice.read_bytes().startswith(b"%PDF")


def test_verify_writes_nothing_unless_asked(run, tmp_path, home, engine, pki):
    from signer import Level, SignRequest, SoftwareKeyHolder

    path = tmp_path / "da-ky.pdf"
    path.write_bytes(engine.sign(SignRequest(document=make_pdf(), level=Level.B_B),
                                 key_holder=SoftwareKeyHolder.from_dev_pki(pki, "pham-thu-ha")).data)
    result = run("verify", path)
    assert result.exit_code == 1, "one personal signature: not issued (amber), not green"
    assert "CHƯA BAN HÀNH" in result.stdout
    assert not home.exists(), "a read-only command created nothing"
    recorded = run("verify", path, "--record", "--as", "receiver")
    assert recorded.exit_code == 1
    trail = run("audit", "export", "--format", "jsonl")
    assert [json.loads(line)["action"] for line in trail.stdout.splitlines()][-1] == "verify"


def test_an_offline_verification_loads_no_http_client(tmp_path, engine, pki):
    """``kyso verify --offline`` in a fresh process judges the file without importing an HTTP stack
    (requests, urllib3): it never fetches, so it does not pay for one at start."""
    from signer import Level, SignRequest, SoftwareKeyHolder

    path = tmp_path / "da-ky.pdf"
    path.write_bytes(engine.sign(SignRequest(document=make_pdf(), level=Level.B_B),
                                 key_holder=SoftwareKeyHolder.from_dev_pki(pki, "pham-thu-ha")).data)
    probe = ("import sys, json\n"
             "from commands.main import main\n"
             "try:\n"
             "    main(['verify', '--offline', '--json', sys.argv[1]])\n"
             "except SystemExit as exc:\n"
             "    print(json.dumps({'exit': exc.code, 'loaded': sorted(m for m in ('requests', 'urllib3') "
             "if m in sys.modules)}))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYSO_")}
    done = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, cwd=ROOT,
                          env=dict(env, KYSO_DATA_DIR=str(tmp_path / "home")), timeout=120)
    report, status = [json.loads(line) for line in done.stdout.splitlines()]
    assert report["signatures"][0]["signer"]["common_name"] == "Phạm Thu Hà", "the file was judged"
    assert status == {"exit": 1, "loaded": []}


def test_the_command_line_and_the_service_share_one_data_home(pki_server, tmp_path, softhsm):
    """Run from any folder, ``kyso`` finds the same register: not a second one under ./var."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYSO_")}
    env.update(KYSO_DEV_PKI_URL=pki_server.base_url, XDG_DATA_HOME=str(tmp_path / "xdg"))
    draft = tmp_path / "draft.pdf"
    draft.write_bytes(make_decree30_draft())
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        done = subprocess.run([sys.executable, "-m", "commands.main", "prepare", str(draft), "out.pdf", "--as",
                               "agency-ubnd-hung-yen"], cwd=tmp_path / folder, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert not (tmp_path / "a" / "var").exists() and not (tmp_path / "b" / "var").exists()
    database = tmp_path / "xdg" / "kyso" / "kyso.sqlite"
    assert database.exists()
    from registers.db import Database
    from sqlalchemy import func, select

    from registers.models import AuditRecord

    db = Database.connect(f"sqlite:///{database}")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "prepare")) == 4
    db.dispose()


PRODUCTION = {"KYSO_MODE": "production", "KYSO_SECRET_KEY": "p" * 40, "KYSO_PKCS11_TOKEN": "hsm-ubnd",
              "KYSO_PKCS11_PIN": "a-real-pin", "KYSO_TSA_URL": "http://127.0.0.1:9/tsa",
              "KYSO_AUDIT_KEY": "37435c09fe23bd8848505b3c041ee6196cf64e63c6db96fea828a042837c7f84"}


def test_production_refuses_a_development_certificate(run, doc, tmp_path, pki, monkeypatch):
    """An administrator who binds a development PKCS#12 file in production gets a refusal at signing."""
    monkeypatch.delenv("KYSO_DEV_PKI_URL")
    for var, value in PRODUCTION.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("KYSO_TRUST_PROFILE", "none")
    p12 = tmp_path / "dev.p12"
    p12.write_bytes(pki.pkcs12_bytes("nguyen-van-an", b"x"))
    assert run("admin", "create-user", "an", "--name", "An", "--role", "official", "--agency", "UBND").exit_code == 0
    assert run("admin", "bind-key", "an", "--pkcs12", p12, KYSO_PKCS12_PASSPHRASE="x").exit_code == 0
    out = tmp_path / "o.pdf"
    result = run("sign", doc, out, "--as", "an", "--level", "B-B", KYSO_PKCS12_PASSPHRASE="x")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stderr)["error"]["code"] == "certificate_dev_material"
    assert not out.exists()
