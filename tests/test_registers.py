"""The incoming and outgoing registers on SQLite and PostgreSQL: receiving with evidence, returning
failed documents with a notice, same-day acknowledgement, printable registers, a document's history."""
from __future__ import annotations

import dataclasses
import json
import subprocess
from datetime import datetime, timezone

import pytest

from certs_dev.images import load_dev_image
from kyso.office import Office
from kyso.samples import make_pdf
from kyso.settings import Settings
from registers import printing
from registers.audit import AuditEvent
from signer import Level, SignRequest, SigningEngine, SoftwareKeyHolder
from signer.issuance import IssuanceWorkflow
from verifier import VerificationPolicy


@pytest.fixture()
def office(db_url, tmp_path, pki, pki_server):
    settings = Settings(dev_pki_url=pki_server.base_url, data_dir=tmp_path / "var", database_url=db_url)
    office = Office.from_settings(settings, policy=VerificationPolicy.for_profile("dev", dev_pki=pki))
    yield office
    office.db.dispose()


@pytest.fixture(scope="module")
def signed_doc(pki):
    engine = SigningEngine.for_dev_pki(pki)
    return engine.sign(SignRequest(document=make_pdf(pages=1, title="Cong van so 125/SNV-VP"), level=Level.B_T),
                       key_holder=SoftwareKeyHolder.from_dev_pki(pki, "dang-thi-mai")).data


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "t.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_receiving_valid_and_failed_documents(office, signed_doc, tmp_path):
    valid = office.receive(signed_doc, sender="UBND tỉnh Nghệ An", actor="Lê Văn Thư",
                           sender_reference="125/SNV-VP", summary="V/v báo cáo công tác văn thư")
    assert (valid["number"], valid["status"], valid["verdict"]) == (1, "received", "valid")
    assert valid["acknowledgement"]["acknowledged_at"][:10] == valid["received_at"][:10], "acknowledged the same day"
    stored = office.incoming.get(valid["id"])
    assert office.blobs.read(stored["document_sha256"]) == signed_doc
    tampered = bytearray(signed_doc)
    tampered[300] ^= 0x01
    returned = office.receive(bytes(tampered), sender="UBND tỉnh Nghệ An", actor="Lê Văn Thư")
    assert (returned["number"], returned["status"], returned["verdict"]) == (2, "returned", "invalid")
    assert returned["return_reason_vi"] and "thay đổi" in returned["return_reason_vi"]
    notice = office.blobs.read(returned["notice_sha256"])
    text = pdf_text(notice, tmp_path)
    assert "PHIẾU TRẢ LẠI VĂN BẢN ĐIỆN TỬ" in text and "UBND tỉnh Nghệ An" in text
    assert [e["number"] for e in office.incoming.entries(status="returned")] == [2]


def test_evidence_is_kept_with_the_verdict(office, signed_doc):
    from registers.models import IncomingEntry

    entry = office.receive(signed_doc, sender="UBND tỉnh Nghệ An", actor="Lê Văn Thư")
    with office.db.session() as s:
        row = s.get(IncomingEntry, entry["id"])
        evidence = row.evidence
        report = row.report
    sig = evidence["signatures"]["Signature1"]
    assert len(sig["certificates"]) == 3, "signer, sub-CA, root"
    assert sig["ocsp_responses"] and sig["timestamp_tokens"]
    assert evidence["validation_time"] == report["validation_time"]
    assert report["signatures"][0]["signer"]["common_name"] == "Đặng Thị Mai"


def test_outgoing_register_from_an_issuance(office, pki):
    engine = SigningEngine.for_dev_pki(pki)
    workflow = IssuanceWorkflow(engine=engine, numbering=office.numbering)
    personal = workflow.sign_personal(workflow.prepare(make_pdf()), key_holder=SoftwareKeyHolder.from_dev_pki(
        pki, "nguyen-van-an"), signature_image=load_dev_image("nguyen-van-an")).data
    issued = workflow.issue(personal, key_holder=SoftwareKeyHolder.from_dev_pki(pki, "agency-ubnd-hung-yen"),
                            agency="UBND", doc_type="CT", seal_image=load_dev_image("agency-ubnd-hung-yen"),
                            agency_name="UBND tỉnh Hưng Yên", summary="Chỉ thị về tăng cường công tác văn thư",
                            recipients=["Các sở, ban, ngành", "UBND các huyện"], level=Level.B_B)
    from verifier import verify

    office.numbering.attach_report(issued.number, verify(issued.signed.data, policy=office.policy).to_dict())
    (entry,) = office.numbering.entries(agency="UBND")
    assert entry["number_text"] == "01/CT-UBND" and entry["status"] == "issued"
    assert entry["signer"] == "Nguyễn Văn An" and entry["summary"].startswith("Chỉ thị")
    assert entry["recipients"] == ["Các sở, ban, ngành", "UBND các huyện"] and entry["verdict"] == "valid"


def test_printable_registers(office, signed_doc, tmp_path):
    office.receive(signed_doc, sender="UBND tỉnh Nghệ An", actor="x", summary="Báo cáo quý IV")
    entries = office.incoming.entries()
    csv_text = printing.to_csv(entries, printing.INCOMING_COLUMNS)
    assert csv_text.splitlines()[0].startswith("Ngày đến,Số đến,Tác giả")
    assert "UBND tỉnh Nghệ An" in csv_text and "Báo cáo quý IV" in csv_text
    pdf = printing.to_pdf(entries, printing.INCOMING_COLUMNS, title="SỔ ĐĂNG KÝ VĂN BẢN ĐẾN", subtitle="UBND tỉnh Hưng Yên")
    text = pdf_text(pdf, tmp_path)
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN" in text and "UBND tỉnh Nghệ An" in text and "Trích yếu" in text or "trích yếu" in text


def test_document_history_for_an_auditor(office, signed_doc):
    entry = office.receive(signed_doc, sender="UBND tỉnh Nghệ An", actor="Lê Văn Thư")
    office.audit.append(AuditEvent(actor="Trần Kiểm Toán", role="auditor", action="download", result="ok",
                                   documents=(entry["document_sha256"],)))
    history = office.document_history(entry["document_sha256"])
    assert [a["action"] for a in history["audit"]] == ["receive", "download"]
    assert history["incoming"][0]["number"] == entry["number"]
    assert history["report"]["verdict"] == "valid"
    assert history["report"]["signatures"][0]["chain"][-1]["is_trust_anchor"]
    assert office.audit.verify().ok
