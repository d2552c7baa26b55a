"""The auditor's read-only views over HTTP: registers (HTML, CSV, PDF, JSON) and a document's history;
only auditors see them; every request leaves an audit record."""
from __future__ import annotations

import io

import pytest

from kyso.samples import make_pdf
from office.compose import dev_token
from signer import Level, SignRequest, SoftwareKeyHolder

AUDITOR = {"Authorization": f"Bearer {dev_token('auditor')}"}


@pytest.fixture()
def received(app, engine, pki):
    office = app.extensions["kyso"].office
    data = engine.sign(SignRequest(document=make_pdf(), level=Level.B_T),
                       key_holder=SoftwareKeyHolder.from_dev_pki(pki, "dang-thi-mai")).data
    return office.receive(data, sender="UBND tỉnh Nghệ An", actor="van-thu", summary="Báo cáo tổng kết năm")


def test_only_auditors_read_the_registers(client):
    assert client.get("/api/v1/registers/incoming").status_code == 401
    official = {"Authorization": f"Bearer {dev_token('nguyen-van-an')}"}
    response = client.get("/api/v1/registers/incoming", headers=official)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert client.get("/api/v1/registers/incoming", headers=AUDITOR).status_code == 200
    assert client.get("/api/v1/registers/nothing", headers=AUDITOR).status_code == 404


def test_registers_as_json_html_csv_pdf(client, received):
    data = client.get("/api/v1/registers/incoming", headers=AUDITOR).get_json()
    numbers = {e["number"] for e in data["entries"]}
    assert received["number"] in numbers
    page = client.get(f"/auditor/registers/incoming?token={dev_token('auditor')}").get_data(as_text=True)
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN" in page and "UBND tỉnh Nghệ An" in page and "Báo cáo tổng kết năm" in page
    csv = client.get("/auditor/registers/incoming.csv", headers=AUDITOR)
    assert csv.mimetype == "text/csv" and "Số đến" in csv.get_data().decode("utf-8-sig")
    pdf = client.get("/auditor/registers/outgoing.pdf", headers=AUDITOR)
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    filtered = client.get("/api/v1/registers/incoming?status=returned", headers=AUDITOR).get_json()
    assert all(e["status"] == "returned" for e in filtered["entries"])
    assert client.get("/api/v1/registers/incoming?year=abc", headers=AUDITOR).status_code == 422


def test_document_history_page(client, received, app):
    sha = received["document_sha256"]
    history = client.get(f"/api/v1/documents/{sha}/history", headers=AUDITOR).get_json()
    assert history["incoming"][0]["sender"] == "UBND tỉnh Nghệ An"
    assert "receive" in [a["action"] for a in history["audit"]]
    page = client.get(f"/auditor/documents/{sha}?token={dev_token('auditor')}").get_data(as_text=True)
    assert "Lịch sử văn bản" in page and "Đặng Thị Mai" in page and "Nhật ký kiểm toán" in page
    assert client.get("/auditor/documents/" + "0" * 64, headers=AUDITOR).status_code == 404
    assert client.get("/auditor/documents/../etc", headers=AUDITOR).status_code == 404


def test_every_request_leaves_an_audit_record(client, app, sample_pdf):
    office = app.extensions["kyso"].office
    before = office.audit.verify().records
    client.post("/api/v1/sign", data={"file": (io.BytesIO(sample_pdf), "a.pdf"), "level": "B-B"},
                headers={"Authorization": f"Bearer {dev_token('nguyen-van-an')}"}, content_type="multipart/form-data")
    client.post("/api/v1/sign", data={"file": (io.BytesIO(sample_pdf), "a.pdf")}, content_type="multipart/form-data")
    client.get("/api/v1/registers/outgoing", headers={"Authorization": f"Bearer {dev_token('nguyen-van-an')}"})
    client.get("/api/v1/registers/outgoing", headers=AUDITOR)
    result = office.audit.verify()
    assert result.ok and result.records == before + 4
    from registers.models import AuditRecord
    from sqlalchemy import select

    with office.db.session() as s:
        last = [(r.action, r.result) for r in s.scalars(select(AuditRecord).order_by(AuditRecord.seq))][-4:]
    assert last == [("sign", "ok"), ("login_failed", "unauthenticated"), ("forbidden", "forbidden"),
                    ("download", "ok")]
