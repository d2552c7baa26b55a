"""The service API: OpenAPI, verification (one, batch), Decree 30 issuance, two-step signing,
documents, readiness and metrics, roles, and hostile input on every endpoint (4xx, never 5xx)."""
from __future__ import annotations

import base64
import dataclasses
import io
import json
import zipfile

import pikepdf
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from api import create_app
from certs_dev.images import load_dev_image
from kyso.samples import make_pdf
from office.compose import dev_token
from signer import Level, SignRequest, SoftwareKeyHolder
from signer.issuance import IssuanceWorkflow


def auth(user: str) -> dict:
    return {"Authorization": f"Bearer {dev_token(user)}"}


def files(**parts):
    return {k: (io.BytesIO(v), f"{k}.pdf") if isinstance(v, bytes) else v for k, v in parts.items()}


@pytest.fixture(scope="module")
def signed_b_t(engine, pki):
    return engine.sign(SignRequest(document=make_pdf(), level=Level.B_T),
                       key_holder=SoftwareKeyHolder.from_dev_pki(pki, "dang-thi-mai")).data


@pytest.fixture(scope="module")
def personally_signed(engine, pki, tmp_path_factory):
    from registers.numbering import SqliteNumbering

    workflow = IssuanceWorkflow(engine=engine, numbering=SqliteNumbering(tmp_path_factory.mktemp("n") / "n.db"))
    return workflow.sign_personal(workflow.prepare(make_pdf()), key_holder=SoftwareKeyHolder.from_dev_pki(
        pki, "nguyen-van-an"), signature_image=load_dev_image("nguyen-van-an")).data


def test_openapi_is_valid_and_describes_every_route(client, app):
    from openapi_spec_validator import validate

    import re

    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    routes = set()
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if path.startswith(("/static", "/web", "/api/v1/docs", "/api/v1/openapi")) or path == "/":
            continue   # the pages, the front door and the document itself
        routes.add(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path))
    assert routes == set(spec["paths"]), routes ^ set(spec["paths"])
    issue = spec["paths"]["/api/v1/issue"]["post"]
    fields = issue["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert fields, "the schema that validates the request is the one documented"


def test_verify_one_in_three_formats(client, signed_b_t):
    response = client.post("/api/v1/verify", data=files(file=signed_b_t), headers=auth("receiver"),
                           content_type="multipart/form-data")
    assert response.status_code == 200 and response.get_json()["verdict"] == "valid"
    html = client.post("/api/v1/verify?format=html", data=files(file=signed_b_t), headers=auth("receiver"),
                       content_type="multipart/form-data")
    assert html.mimetype == "text/html" and "Đặng Thị Mai" in html.get_data(as_text=True)
    pdf = client.post("/api/v1/verify", data=files(file=signed_b_t), content_type="multipart/form-data",
                      headers={**auth("auditor"), "Accept": "application/pdf"})
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def test_verify_batch_streams_one_line_per_file(client, signed_b_t):
    tampered = bytearray(signed_b_t)
    tampered[400] ^= 1
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.pdf", signed_b_t)
        zf.writestr("b.pdf", bytes(tampered))
    data = {"files": [(io.BytesIO(signed_b_t), "mot.pdf"), (io.BytesIO(make_pdf()), "hai.pdf")],
            "zip": (io.BytesIO(archive.getvalue()), "lo.zip")}
    response = client.post("/api/v1/verify/batch", data=data, headers=auth("receiver"),
                           content_type="multipart/form-data")
    assert response.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [(l["index"], l["total"], l["verdict"]) for l in lines] == [
        (1, 4, "valid"), (2, 4, "unsigned"), (3, 4, "valid"), (4, 4, "invalid")]


def test_issue_attachment_copy_and_documents(client, personally_signed):
    response = client.post("/api/v1/issue", headers=auth("agency-ubnd-hung-yen"), content_type="multipart/form-data",
                           data={**files(file=personally_signed), "type": "CT", "place": "Hưng Yên",
                                 "summary": "Chỉ thị về công tác văn thư", "recipient": ["Sở Nội vụ"], "level": "B-B"})
    assert response.status_code == 200, response.get_json()
    number, sha = response.headers["X-Kyso-Number"], response.headers["X-Kyso-Sha256"]
    assert number.endswith("/CT-UBND")
    report = client.get(f"/api/v1/documents/{sha}/report", headers=auth("auditor")).get_json()
    assert report["verdict"] == "valid" and report["decree30"]["status"] == "ok"
    assert client.get(f"/api/v1/documents/{sha}", headers=auth("auditor")).data == response.data
    revisions = client.get(f"/api/v1/documents/{sha}/revisions", headers=auth("auditor")).get_json()
    personal = revisions["signatures"][0]
    seen = client.get(personal["href"], headers=auth("auditor"))
    assert seen.status_code == 200 and response.data.startswith(seen.data)
    assert client.get(f"/api/v1/documents/{sha}/report?format=etsi-xml", headers=auth("auditor")).mimetype \
        == "application/xml"
    attachment = client.post("/api/v1/sign-attachment", headers=auth("agency-ubnd-hung-yen"),
                             content_type="multipart/form-data",
                             data={**files(file=make_pdf()), "main_number": number, "level": "B-B"})
    assert attachment.status_code == 200, attachment.get_json()
    copy = client.post("/api/v1/copy", headers=auth("agency-ubnd-hung-yen"), content_type="multipart/form-data",
                       data={**files(file=response.data), "form": "SY", "level": "B-B"})
    assert copy.status_code == 200 and copy.headers["X-Kyso-Number"].endswith("/SY-UBND")


def test_two_step_signing_with_the_officials_device(client, pki):
    prepared = client.post("/api/v1/sign/prepare", headers=auth("nguyen-van-an"), content_type="multipart/form-data",
                           data={**files(file=make_pdf()), "level": "B-T"})
    assert prepared.status_code == 200, prepared.get_json()
    body = prepared.get_json()
    key = pki.private_key("nguyen-van-an")   # what the USB token does
    value = key.sign(base64.b64decode(body["to_be_signed"]), padding.PKCS1v15(), hashes.SHA256())
    finished = client.post("/api/v1/sign/finish", headers=auth("nguyen-van-an"), content_type="multipart/form-data",
                           data={"handle": body["handle"], "signature": base64.b64encode(value).decode()})
    assert finished.status_code == 200
    verdict = client.post("/api/v1/verify", data=files(file=finished.data), headers=auth("receiver"),
                          content_type="multipart/form-data").get_json()
    assert verdict["verdict"] == "valid" and verdict["signatures"][0]["level"] == "B-T"
    again = client.post("/api/v1/sign/finish", headers=auth("nguyen-van-an"), content_type="multipart/form-data",
                        data={"handle": body["handle"], "signature": base64.b64encode(value).decode()})
    assert again.status_code == 404 and again.get_json()["error"]["code"] == "signing_handle_unknown"


@pytest.mark.parametrize("user, path, form, status", [
    ("nguyen-van-an", "/api/v1/issue", {"type": "CT", "level": "B-B"}, 403),   # an official does not issue
    ("receiver", "/api/v1/sign", {"level": "B-B"}, 403),                       # a receiver does not sign
    ("auditor", "/api/v1/copy", {"form": "SY", "level": "B-B"}, 403),          # an auditor changes nothing
    ("agency-ubnd-hung-yen", "/api/v1/sign", {"level": "B-B"}, 403),           # a clerk seals only by issuing
    ("nguyen-van-an", "/api/v1/verify", {}, 200),
])
def test_roles(client, signed_b_t, user, path, form, status):
    response = client.post(path, data={**files(file=signed_b_t), **form}, headers=auth(user),
                           content_type="multipart/form-data")
    assert response.status_code == status, response.get_json()


def test_readyz_and_metrics(client):
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["database"] == "ok"
    client.get("/healthz")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "kyso_http_requests_total" in metrics and 'endpoint="/healthz"' in metrics


# -- hostile input on every endpoint -------------------------------------------------------------

def _encrypted() -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="o", user="u"))
    return out.getvalue()


HOSTILE = {
    "empty": b"",
    "not-pdf": b"MZ\x90\x00 this is an executable",
    "truncated": make_pdf(pages=3)[:600],
    "encrypted": _encrypted(),
    "garbage-pdf": b"%PDF-1.7\n" + bytes(range(256)) * 20,
    "zip-bomb-ish": b"PK\x03\x04" + b"\x00" * 100,
}
ENDPOINTS = [
    ("/api/v1/sign", "nguyen-van-an", {"level": "B-B"}),
    ("/api/v1/sign/prepare", "nguyen-van-an", {"level": "B-B"}),
    ("/api/v1/issue", "agency-ubnd-hung-yen", {"type": "CT", "level": "B-B"}),
    ("/api/v1/sign-attachment", "agency-ubnd-hung-yen", {"main_number": "16/CT-UBND", "level": "B-B"}),
    ("/api/v1/copy", "agency-ubnd-hung-yen", {"form": "SY", "level": "B-B"}),
    ("/api/v1/verify", "receiver", {}),
    ("/api/v1/verify/batch", "receiver", {}),
]


@pytest.mark.parametrize("path, user, form", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_uploads_get_a_clear_4xx(client, path, user, form, kind):
    data = HOSTILE[kind]
    part = "files" if path.endswith("/batch") else "file"
    response = client.post(path, data={**form, part: (io.BytesIO(data), f"{kind}.pdf")}, headers=auth(user),
                           content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    if path.endswith("/verify") or path.endswith("/batch"):
        # verification answers with a report: never "valid", never a server error
        assert response.status_code == 200, body
        assert '"verdict": "valid"' not in body and '"verdict":"valid"' not in body
        return
    assert 400 <= response.status_code < 500, (response.status_code, body)
    assert response.get_json()["error"]["code"] and response.get_json()["error"]["message_vi"]


def test_oversized_and_malformed_requests(app, app_settings):
    small = create_app(dataclasses.replace(app_settings, max_upload_bytes=2048), office=app.extensions["kyso"])
    client = small.test_client()
    for path, user, form in ENDPOINTS:
        response = client.post(path, data={**form, "file": (io.BytesIO(make_pdf(size=64 * 1024)), "big.pdf")},
                               headers=auth(user), content_type="multipart/form-data")
        assert response.status_code == 413, path
    missing = client.post("/api/v1/verify", headers=auth("receiver"), data={}, content_type="multipart/form-data")
    assert missing.status_code == 422 and missing.get_json()["error"]["code"] == "file_missing"
    bad_zip = client.post("/api/v1/verify/batch", headers=auth("receiver"), content_type="multipart/form-data",
                          data={"zip": (io.BytesIO(b"not a zip"), "x.zip")})
    assert bad_zip.status_code == 422
    bad_format = client.post("/api/v1/verify?format=docx", headers=auth("receiver"), content_type="multipart/form-data",
                             data={"file": (io.BytesIO(make_pdf()), "a.pdf")})
    assert bad_format.status_code == 422
    bad_b64 = client.post("/api/v1/sign/finish", headers=auth("nguyen-van-an"), content_type="multipart/form-data",
                          data={"handle": "x", "signature": "%%%"})
    assert bad_b64.status_code == 422
    assert client.get("/api/v1/documents/nothex", headers=auth("auditor")).status_code == 404


def test_database_outage_is_a_clear_503(app, client, signed_b_t, monkeypatch):
    from sqlalchemy.exc import OperationalError

    office = app.extensions["kyso"]

    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(office.audit, "append", down)
    response = client.post("/api/v1/verify", data=files(file=signed_b_t), headers=auth("receiver"),
                           content_type="multipart/form-data")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_unavailable"


def test_generated_hostile_documents_are_refused_cleanly_at_sign(client, pki, engine):
    """The `make stress` generator's mutations (bit flips, broken page counts, cut files...) of
    unsigned and signed drafts: an official's upload is signed or refused with a 4xx, never a 500."""
    from hostile import Sources, cases
    from signer import Level, SignRequest, SoftwareKeyHolder

    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    signed = (engine.sign(SignRequest(document=make_pdf(pages=2), level=Level.B_B), key_holder=holder).data,)
    server_errors = []
    statuses = set()
    for case in cases(Sources(unsigned=make_pdf(pages=2), signed=signed), count=240, seed=77):
        response = client.post("/api/v1/sign", data={"level": "B-B", "file": (io.BytesIO(case.data), "x.pdf")},
                               headers=auth("nguyen-van-an"), content_type="multipart/form-data")
        statuses.add(response.status_code)
        if response.status_code >= 500 or response.status_code not in (200, 413, 415, 422):
            server_errors.append((case.name, response.status_code, response.get_data(as_text=True)[:300]))
        elif response.status_code != 200:
            assert response.get_json()["error"]["message_vi"]
    assert server_errors == []
    assert 200 in statuses and 422 in statuses
