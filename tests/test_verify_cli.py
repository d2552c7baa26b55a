"""`kyso verify` as a receiving clerk or a script uses it: JSON lines, exit codes, reports; `kyso trust`."""
from __future__ import annotations

import json
import subprocess

import pytest

from kyso.samples import make_pdf
from signer import Level, SignRequest, SoftwareKeyHolder


@pytest.fixture()
def run(kyso_cli):
    return kyso_cli


@pytest.fixture(scope="module")
def issued_document(engine, pki, tmp_path_factory) -> bytes:
    """A document as an office receives it: the competent person's and the agency's signatures (B-LT)."""
    from certs_dev.images import load_dev_image
    from registers.numbering import SqliteNumbering
    from signer.issuance import IssuanceWorkflow

    workflow = IssuanceWorkflow(engine=engine, numbering=SqliteNumbering(tmp_path_factory.mktemp("n") / "n.db"))
    personal = workflow.sign_personal(workflow.prepare(make_pdf()), key_holder=SoftwareKeyHolder.from_dev_pki(
        pki, "nguyen-van-an"), signature_image=load_dev_image("nguyen-van-an"), level=Level.B_LT).data
    return workflow.issue(personal, key_holder=SoftwareKeyHolder.from_dev_pki(pki, "agency-ubnd-hung-yen"),
                          agency="UBND", doc_type="CT", seal_image=load_dev_image("agency-ubnd-hung-yen"),
                          agency_name="UBND tỉnh Hưng Yên", level=Level.B_LT).signed.data


@pytest.fixture()
def files(issued_document, tmp_path):
    good = tmp_path / "hop-le.pdf"
    good.write_bytes(issued_document)
    tampered = tmp_path / "bi-sua.pdf"
    data = bytearray(good.read_bytes())
    data[200] ^= 0x01
    tampered.write_bytes(bytes(data))
    unsigned = tmp_path / "chua-ky.pdf"
    unsigned.write_bytes(make_pdf())
    junk = tmp_path / "khong-phai-pdf.pdf"
    junk.write_bytes(b"not a pdf")
    return good, tampered, unsigned, junk


def test_json_lines_and_exit_codes(run, files):
    good, tampered, unsigned, junk = files
    result = run("verify", "--json", good)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["verdict"] == "valid"
    result = run("verify", "--json", good, tampered, unsigned)
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["verdict"] for d in lines] == ["valid", "invalid", "unsigned"]
    assert lines[1]["signatures"][0]["sub_indication"] == "HASH_FAILURE"
    result = run("verify", "--json", good, junk)
    assert result.exit_code == 2, "unreadable input"
    assert len(result.stdout.splitlines()) == 2, "still one JSON object per file"


def test_a_folder_and_a_list_are_verified_in_one_call(run, files, tmp_path):
    """A receiving clerk's day of mail: a folder (its PDFs, below it too, in name order; other files
    left alone) and a list of paths, one JSON line per document, in one process."""
    good, tampered, unsigned, _ = files
    inbox = tmp_path / "Hộp thư đến"
    (inbox / "Sở Tài chính").mkdir(parents=True)
    (inbox / "a-hop-le.pdf").write_bytes(good.read_bytes())
    (inbox / "Sở Tài chính" / "b-bi-sua.PDF").write_bytes(tampered.read_bytes())
    (inbox / "ghi-chu.txt").write_text("not a document")
    listing = tmp_path / "danh-sach.txt"
    listing.write_text(f"{unsigned}\n\n{good}\n", encoding="utf-8")
    result = run("verify", "--json", inbox, "--files-from", listing)
    assert result.exit_code == 1, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(d["file"].rsplit("/", 1)[-1], d["verdict"]) for d in lines] == [
        ("a-hop-le.pdf", "valid"), ("b-bi-sua.PDF", "invalid"), ("chua-ky.pdf", "unsigned"), ("hop-le.pdf", "valid")]
    result = run("verify", "--json", tmp_path / "empty-folder-that-is-not-there")
    assert result.exit_code == 2, "a path that is not there is unreadable input"
    (tmp_path / "trong").mkdir()
    result = run("verify", tmp_path / "trong")
    assert result.exit_code == 2 and "give the files" in result.output, "an empty folder is a usage error"


def test_human_output_is_bilingual(run, files):
    result = run("verify", files[1])
    assert "KHÔNG HỢP LỆ" in result.stdout and "invalid" in result.stdout
    assert "Văn bản đã bị thay đổi sau khi ký" in result.stdout


@pytest.mark.parametrize("fmt, check", [
    ("html", lambda p: "HỢP LỆ" in p.read_text(encoding="utf-8")),
    ("pdf", lambda p: "HỢP LỆ" in subprocess.run(["pdftotext", str(p), "-"], capture_output=True,
                                                 text=True).stdout),
    ("etsi-xml", lambda p: b"urn:etsi:019102:mainindication:total-passed" in p.read_bytes()),
])
def test_reports(run, files, tmp_path, fmt, check):
    out = tmp_path / f"report.{fmt}"
    result = run("verify", files[0], "--report", fmt, "--out", out)
    assert result.exit_code == 0, result.output
    assert check(out)


def test_offline_and_trust_profile_options(run, files):
    assert run("verify", "--offline", files[0]).exit_code == 0, "B-LT carries its validation data"
    result = run("verify", "--json", "--trust-profile", "none", files[0])
    assert result.exit_code == 1 and json.loads(result.stdout)["verdict"] == "indeterminate"
    assert run("verify", "--at", "yesterday", files[0]).exit_code == 2


def test_extract_what_the_signer_saw(run, files, tmp_path):
    out = tmp_path / "signed-revision.pdf"
    result = run("verify", files[0], "--extract-signed", "ChuKyNguoiKy", "--out", out)   # what the Chairman saw
    assert result.exit_code == 0, result.output
    assert files[0].read_bytes().startswith(out.read_bytes()) and out.stat().st_size < files[0].stat().st_size


def test_trust_add_list_remove(run, pki, tmp_path, monkeypatch, files):
    from asn1crypto import pem

    from verifier.trust import fingerprint

    root = pki.identity("root-gov").certificate
    path = tmp_path / "root.pem"
    path.write_bytes(pem.armor("CERTIFICATE", root.dump()))
    # under the vn profile the dev document is untrusted until an administrator adds the anchor
    assert json.loads(run("verify", "--json", "--trust-profile", "vn", files[0]).stdout)["verdict"] == "indeterminate"
    assert run("trust", "add", path).exit_code == 0
    assert fingerprint(root) in run("trust", "list").stdout
    assert json.loads(run("verify", "--json", "--trust-profile", "vn", files[0]).stdout)["verdict"] == "valid"
    assert run("trust", "remove", fingerprint(root)).exit_code == 0
    assert fingerprint(root) not in run("trust", "list").stdout
    assert run("trust", "remove", fingerprint(root)).exit_code == 2
