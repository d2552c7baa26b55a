"""The Decree 30 commands as a script or a clerk uses them: prepare (with a text anchor),
sign --appearance personal, issue, sign-attachment, copy."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from commands.main import main
from kyso.samples import make_pdf
from pdfcheck import pdfsig, pyhanko_statuses


@pytest.fixture()
def run(pki_server, monkeypatch, tmp_path):
    for var in list(__import__("os").environ):
        if var.startswith("KYSO_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("KYSO_DEV_PKI_URL", pki_server.base_url)
    monkeypatch.setenv("KYSO_DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(main, [str(a) for a in args])
        return result

    return invoke


def test_the_whole_issuance_from_the_command_line(run, tmp_path, pki, nssdb):
    draft = tmp_path / "draft.pdf"
    draft.write_bytes(make_pdf(pages=2, title="Chi thi so", signature_block=("CHU TICH", "Nguyen Van An")))
    prepared, personal, issued = tmp_path / "prepared.pdf", tmp_path / "personal.pdf", tmp_path / "issued.pdf"

    result = run("prepare", draft, prepared, "--anchor", "Nguyen Van An")
    assert result.exit_code == 0, result.output
    result = run("sign", prepared, personal, "--signer", "nguyen-van-an", "--appearance", "personal",
                 "--level", "B-T")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["field"] == "ChuKyNguoiKy"
    result = run("issue", personal, issued, "--clerk", "agency-ubnd-hung-yen", "--type", "CT", "--agency", "UBND",
                 "--place", "Hưng Yên", "--level", "B-T")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["number"] == "01/CT-UBND"
    signed = issued.read_bytes()
    assert [s.valid for s in pdfsig(signed, nssdb)] == [True, True]
    statuses = pyhanko_statuses(signed, pki.trust_roots())
    assert statuses[0].intact and statuses[0].trusted and statuses[1].bottom_line

    # the personal signature sits above the printed name, below the job title
    from pyhanko.pdf_utils.reader import PdfFileReader
    import io

    sig = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0]
    x0, y0, x1, y1 = (float(v) for v in sig.sig_field["/Rect"])
    assert 188 < y0 and y1 < 298, (y0, y1)

    # the second document of the year gets 02, the attachment and the copy refer to the first
    attachment, attached = tmp_path / "phu-luc.pdf", tmp_path / "phu-luc-signed.pdf"
    attachment.write_bytes(make_pdf(pages=1, title="Phu luc"))
    result = run("sign-attachment", attachment, attached, "--clerk", "agency-ubnd-hung-yen",
                 "--main-number", summary["number"], "--level", "B-B")
    assert result.exit_code == 0, result.output
    assert pdfsig(attached.read_bytes(), nssdb)[0].valid
    copy = tmp_path / "sao-y.pdf"
    result = run("copy", issued, copy, "--clerk", "agency-ubnd-hung-yen", "--form", "SY", "--agency", "UBND",
                 "--level", "B-B")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["number"] == "01/SY-UBND"
    assert all(s.valid for s in pdfsig(copy.read_bytes(), nssdb))


def test_issue_refusals_come_back_as_json(run, tmp_path):
    draft = tmp_path / "draft.pdf"
    draft.write_bytes(make_pdf(pages=1))
    prepared = tmp_path / "prepared.pdf"
    assert run("prepare", draft, prepared).exit_code == 0
    result = run("issue", prepared, tmp_path / "o.pdf", "--clerk", "agency-ubnd-hung-yen", "--type", "CT",
                 "--agency", "UBND")
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["code"] == "personal_signature_missing"
    result = run("sign", prepared, tmp_path / "p.pdf", "--signer", "agency-ubnd-hung-yen", "--appearance", "personal",
                 "--image", tmp_path / "draft.pdf")
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["code"] == "certificate_not_personal"
    result = run("prepare", draft, tmp_path / "x.pdf", "--anchor", "Nobody Here")
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["code"] == "issuance_refused"
    result = run("issue", prepared, tmp_path / "o.pdf", "--clerk", "agency-ubnd-hung-yen", "--type", "CV",
                 "--agency", "UBND")
    assert result.exit_code == 2, "an official letter needs its drafting unit"


def test_issue_keeps_the_file_report_and_audit_records(run, tmp_path):
    from kyso.settings import Settings
    from registers.audit import AuditTrail
    from registers.blobstore import BlobStore
    from registers.db import Database
    from registers.numbering import DatabaseNumbering

    draft, prepared, personal, issued = (tmp_path / n for n in ("d.pdf", "p.pdf", "s.pdf", "i.pdf"))
    draft.write_bytes(make_pdf(pages=1))
    assert run("prepare", draft, prepared).exit_code == 0
    assert run("sign", prepared, personal, "--signer", "nguyen-van-an", "--appearance", "personal",
               "--level", "B-B").exit_code == 0
    result = run("issue", personal, issued, "--clerk", "agency-ubnd-hung-yen", "--type", "QĐ", "--agency", "UBND",
                 "--summary", "Quyết định về việc ban hành quy chế văn thư", "--recipient", "Sở Nội vụ",
                 "--recipient", "Lưu: VT", "--level", "B-B")
    assert result.exit_code == 0, result.output
    assert run("verify", issued).exit_code == 0
    settings = Settings.from_env({"KYSO_DATA_DIR": str(tmp_path / "var")})
    db = Database.connect(settings.database_url)
    (entry,) = DatabaseNumbering(db).entries(agency="UBND")
    assert entry["number_text"] == "01/QĐ-UBND" and entry["summary"].startswith("Quyết định")
    assert entry["recipients"] == ["Sở Nội vụ", "Lưu: VT"] and entry["verdict"] == "valid"
    assert BlobStore(tmp_path / "var" / "documents").read(entry["document_sha256"]) == issued.read_bytes()
    trail = AuditTrail(db, key=settings.audit_key.encode())
    check = trail.verify()
    assert check.ok and check.records == 3   # sign, issue, verify
    db.dispose()
