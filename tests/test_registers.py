"""The incoming and outgoing registers on SQLite and PostgreSQL, through the office: receiving with
evidence, returning with a signed notice, same-day acknowledgement, printable registers, a
document's history for an auditor."""
from __future__ import annotations

import subprocess

import pytest

from certs_dev.images import load_dev_image
from kyso.samples import make_decree30_draft
from kyso.settings import Settings
from office import Office
from registers import printing
from signer import Level, SoftwareKeyHolder
from signer.issuance import IssuanceWorkflow


@pytest.fixture()
def office(db_url, tmp_path, pki_server, pkcs11_token, softhsm_token):
    settings = Settings(dev_pki_url=pki_server.base_url, data_dir=tmp_path / "var", database_url=db_url,
                        pkcs11_token=softhsm_token.token_label, pkcs11_pin=softhsm_token.user_pin)
    office = Office.from_settings(settings, token=pkcs11_token)
    yield office
    office.db.dispose()


@pytest.fixture(scope="module")
def from_nghe_an(engine, pki, tmp_path_factory) -> tuple[bytes, bytes]:
    """(issued by UBND tỉnh Nghệ An, the same draft with its Chairman's signature only)."""
    from registers.numbering import SqliteNumbering

    workflow = IssuanceWorkflow(engine=engine, numbering=SqliteNumbering(tmp_path_factory.mktemp("na") / "n.db"))
    draft = workflow.prepare(make_decree30_draft(agency="TỈNH NGHỆ AN", place="Nghệ An", name="Đặng Thị Mai"))
    personal = workflow.sign_personal(draft, key_holder=SoftwareKeyHolder.from_dev_pki(pki, "dang-thi-mai"),
                                      signature_image=load_dev_image("nguyen-van-an"), level=Level.B_T).data
    issued = workflow.issue(personal, key_holder=SoftwareKeyHolder.from_dev_pki(pki, "agency-ubnd-nghe-an"),
                            agency="UBNDNA", doc_type="CV", unit="VP", seal_image=load_dev_image("agency-ubnd-hung-yen"),
                            agency_name="UBND tỉnh Nghệ An", level=Level.B_T).signed.data
    return issued, personal


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "t.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_receiving_and_returning(office, from_nghe_an, tmp_path):
    issued, personal_only = from_nghe_an
    receiver = office.caller("receiver")
    valid = office.receive(receiver, issued, sender="UBND tỉnh Nghệ An", reference="01/UBNDNA-VP",
                           summary="V/v báo cáo công tác văn thư")
    assert (valid["number"], valid["status"], valid["verdict"]) == (1, "received", "valid")
    assert valid["acknowledgement"]["acknowledged_at"][:10] == valid["received_at"][:10], "acknowledged the same day"
    assert valid["received_at"].endswith("+07:00"), "a register time is in Vietnam's time zone, saying so"
    assert office.blobs.read(valid["document_sha256"]) == issued

    from kyso.errors import KysoError

    with pytest.raises(KysoError) as refused:
        office.receive(receiver, personal_only, sender="UBND tỉnh Nghệ An")
    assert refused.value.code == "incoming_not_valid", "the agency's signature is missing: it is not issued"
    tampered = bytearray(issued)
    tampered[len(tampered) // 3] ^= 0x01
    returned = office.return_to_sender(receiver, bytes(tampered), sender="UBND tỉnh Nghệ An")
    assert (returned["number"], returned["status"], returned["verdict"]) == (2, "returned", "invalid")
    assert returned["return_reason_vi"]
    notice = office.blobs.read(returned["notice_sha256"])
    text = pdf_text(notice, tmp_path)
    assert "PHIẾU TRẢ LẠI VĂN BẢN ĐIỆN TỬ" in text and "UBND tỉnh Nghệ An" in text and "(UTC+07:00)" in text
    assert "Digitally signed by: UBND tỉnh Hưng Yên" in text
    assert [e["number"] for e in office.incoming.entries(status="returned")] == [2]


def test_evidence_is_kept_with_the_verdict(office, from_nghe_an):
    from registers.models import IncomingEntry

    entry = office.receive(office.caller("receiver"), from_nghe_an[0], sender="UBND tỉnh Nghệ An")
    with office.db.session() as s:
        row = s.get(IncomingEntry, entry["id"])
        evidence = row.evidence
        report = row.report
    personal = evidence["signatures"]["ChuKyNguoiKy"]
    assert len(personal["certificates"]) == 3, "signer, sub-CA, root"
    assert personal["ocsp_responses"] and personal["timestamp_tokens"]
    assert evidence["validation_time"] == report["validation_time"]
    assert report["signatures"][0]["signer"]["common_name"] == "Đặng Thị Mai"


def test_printable_registers_show_vietnams_time(office, from_nghe_an, tmp_path):
    office.receive(office.caller("receiver"), from_nghe_an[0], sender="UBND tỉnh Nghệ An", summary="Báo cáo quý IV")
    entries = office.registers(office.caller("auditor"), "incoming")
    csv_text = printing.to_csv(entries, printing.INCOMING_COLUMNS)
    assert csv_text.splitlines()[0].startswith("Ngày đến,Số đến,Tác giả")
    assert "UBND tỉnh Nghệ An" in csv_text and "Báo cáo quý IV" in csv_text and "(UTC+07:00)" in csv_text
    pdf = printing.to_pdf(entries, printing.INCOMING_COLUMNS, title="SỔ ĐĂNG KÝ VĂN BẢN ĐẾN",
                          subtitle="UBND tỉnh Hưng Yên")
    text = pdf_text(pdf, tmp_path)
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN" in text and "UBND tỉnh Nghệ An" in text


def test_document_history_for_an_auditor(office, from_nghe_an):
    entry = office.receive(office.caller("receiver"), from_nghe_an[0], sender="UBND tỉnh Nghệ An")
    auditor = office.caller("auditor")
    office.document(auditor, entry["document_sha256"])
    history = office.history(auditor, entry["document_sha256"])
    assert [a["action"] for a in history["audit"]] == ["receive", "download"]
    assert history["incoming"][0]["number"] == entry["number"]
    assert history["report"]["verdict"] == "valid"
    assert history["report"]["signatures"][0]["chain"][-1]["is_trust_anchor"]
    assert office.audit.verify().ok


def test_an_issued_documents_history_tells_who_signed_it_in_what_order(office):
    """An auditor reads, on the issued document, the Chairman's signature of its draft and the clerk's
    issuance, in order, with Vietnam's time."""
    signed = office.sign(office.caller("nguyen-van-an"), make_decree30_draft(), appearance="personal",
                         level="B-B")
    issued = office.issue(office.caller("agency-ubnd-hung-yen"), signed.stored.data, doc_type="QĐ", level="B-B")
    history = office.history(office.caller("auditor"), issued.stored.sha256)
    steps = [(a["actor"], a["action"], a["document"]) for a in history["audit"]]
    assert steps[:2] == [("nguyen-van-an", "sign", "draft"), ("agency-ubnd-hung-yen", "issue", "this")], steps
    assert all(a["time"].endswith("+07:00") for a in history["audit"])
    assert history["outgoing"][0]["number_text"] == issued.number
    assert history["outgoing"][0]["source_sha256"] == signed.stored.sha256
