"""The HTTP edge: /healthz, POST /api/v1/sign with a development token, errors as JSON."""
from __future__ import annotations

import io

import pikepdf
import pytest

from api import create_app
from kyso.samples import make_pdf
from office.compose import dev_token
from pdfcheck import pyhanko_statuses


def upload(data: bytes, name: str = "cong-van.pdf", **form):
    return {"file": (io.BytesIO(data), name), **form}


def auth(label: str) -> dict:
    return {"Authorization": f"Bearer {dev_token(label)}"}


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_official_signs_with_own_key_whatever_the_request_says(client, pki, sample_pdf):
    naming = client.post("/api/v1/sign", headers=auth("tran-thi-bich-ngoc"),
                         data=upload(sample_pdf, level="B-LT", signer="nguyen-van-an", key_label="nguyen-van-an"),
                         content_type="multipart/form-data")
    assert naming.status_code == 422, "a request cannot name the key: the schema has no such field"
    assert set(naming.get_json()["error"]["detail"]["form_and_files"]) == {"signer", "key_label"}
    response = client.post("/api/v1/sign", headers=auth("tran-thi-bich-ngoc"),
                           data=upload(sample_pdf, level="B-LT", reason="Ký duyệt"),
                           content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/pdf"
    assert response.headers["X-Kyso-Level"] == "B-LT"
    assert "filename=cong-van-signed.pdf" in response.headers["Content-Disposition"].replace('"', "")
    status = pyhanko_statuses(response.data, pki.trust_roots())[0]
    assert status.bottom_line
    assert status.signing_cert.subject == pki.identity("tran-thi-bich-ngoc").certificate.subject
    assert status.signing_cert.subject.native["common_name"] == "Trần Thị Bích Ngọc"


def test_default_level_is_b_t(client, pki, sample_pdf):
    response = client.post("/api/v1/sign", headers=auth("nguyen-van-an"), data=upload(sample_pdf),
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert response.headers["X-Kyso-Level"] == "B-T"
    assert pyhanko_statuses(response.data, pki.trust_roots())[0].timestamp_validity.valid


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}])
def test_sign_needs_a_known_token(client, sample_pdf, headers):
    response = client.post("/api/v1/sign", headers=headers, data=upload(sample_pdf),
                           content_type="multipart/form-data")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"


def encrypted() -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="o", user="u"))
    return out.getvalue()


@pytest.mark.parametrize("data, form, status, code", [
    (None, {}, 422, "file_missing"),
    (b"", {}, 415, "not_pdf"),
    (b"PK\x03\x04 not a pdf", {}, 415, "not_pdf"),
    (make_pdf()[:500], {}, 422, "pdf_malformed"),
    (encrypted(), {}, 422, "pdf_encrypted"),
    (make_pdf(), {"level": "B-XL"}, 422, "level_invalid"),
])
def test_bad_input_gets_a_clear_error(client, data, form, status, code):
    body = dict(form) if data is None else upload(data, **form)
    response = client.post("/api/v1/sign", headers=auth("nguyen-van-an"), data=body,
                           content_type="multipart/form-data")
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"] and error["message_vi"]


@pytest.mark.parametrize("label, code", [
    ("official-revoked", "certificate_revoked"),
    ("official-expired", "certificate_expired"),
    ("official-no-nr", "certificate_key_usage"),
])
def test_refused_certificates_over_http(client, sample_pdf, label, code):
    response = client.post("/api/v1/sign", headers=auth(label), data=upload(sample_pdf, level="B-B"),
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == code


def test_upload_limit(app, app_settings, sample_pdf):
    import dataclasses

    small = create_app(dataclasses.replace(app_settings, max_upload_bytes=1024), office=app.extensions["kyso"])
    response = small.test_client().post("/api/v1/sign", headers=auth("nguyen-van-an"),
                                        data=upload(make_pdf(size=64 * 1024)),
                                        content_type="multipart/form-data")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "upload_too_large"


def test_unknown_route_and_method_are_json(client):
    assert client.get("/api/v1/nothing").get_json()["error"]["code"] == "not_found"
    response = client.get("/api/v1/sign")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_dev_pki_is_mounted_under_dev_pki(client, pki):
    from asn1crypto import crl

    path = pki.crl_url("ca-gov").split(pki.base_url, 1)[1]
    response = client.get("/dev-pki" + path)
    assert response.status_code == 200
    parsed = crl.CertificateList.load(response.data)
    revoked = {c["user_certificate"].native for c in parsed["tbs_cert_list"]["revoked_certificates"]}
    assert pki.identity("official-revoked").certificate.serial_number in revoked


def test_a_document_changed_after_its_first_signature_is_not_signed_again(client, pki, sample_pdf):
    """An official co-signs a document another official signed; if the document was changed after
    that signature (or the signature is damaged), signing it would seal the change: 422, naming the field."""
    first = client.post("/api/v1/sign", headers=auth("nguyen-van-an"), data=upload(sample_pdf, level="B-B"),
                        content_type="multipart/form-data")
    assert first.status_code == 200, first.get_json()
    cosigned = client.post("/api/v1/sign", headers=auth("tran-thi-bich-ngoc"),
                           data=upload(first.data, level="B-B"), content_type="multipart/form-data")
    assert cosigned.status_code == 200, cosigned.get_json()
    assert len(pyhanko_statuses(cosigned.data, pki.trust_roots())) == 2

    header_end = first.data.index(b"\n")
    changed = first.data[:header_end - 1] + b"4" + first.data[header_end:]   # %PDF-1.x -> %PDF-1.4: inside the signed bytes
    assert changed != first.data and len(changed) == len(first.data)
    damaged = bytearray(first.data)
    contents = damaged.index(b"/Contents <") + len(b"/Contents <")
    damaged[contents:contents + 16] = b"0" * 16
    # the signer's certificate carried in the (unsigned) container, one byte of its own signature changed
    carried = pki.identity("nguyen-van-an").certificate.dump().hex().encode()
    at = first.data.lower().index(carried) + len(carried) - 2
    swapped = bytearray(first.data)
    swapped[at:at + 2] = b"%02x" % (int(first.data[at:at + 2], 16) ^ 0x01)
    # the container's list of digest algorithms (unsigned) no longer names the one the signer used
    sha256 = b"0609608648016503040201"
    listed = first.data.lower().index(sha256, contents) + len(sha256) - 2
    relisted = first.data[:listed] + b"02" + first.data[listed + 2:]        # SHA-256 -> SHA-384
    # the signature dictionary without a /ByteRange (a renamed key): still a signed field, still broken
    unranged = first.data.replace(b"/ByteRange", b"/ByteRangX", 1)
    for tampered in (changed, bytes(damaged), bytes(swapped), relisted, unranged):
        response = client.post("/api/v1/sign", headers=auth("tran-thi-bich-ngoc"),
                               data=upload(tampered, level="B-B"), content_type="multipart/form-data")
        assert response.status_code == 422, response.data[:200]
        error = response.get_json()["error"]
        assert error["code"] == "earlier_signature_broken"
        assert error["detail"]["field"] == "Signature1" and error["detail"]["broken"] == 1
        # the damage is named, not the revocation status an offline check could not establish
        assert error["detail"]["reason"] in ("hash_failure", "format_failure", "cannot_judge")
        assert error["detail"]["reason_vi"]
        assert "ký tiếp" in error["message_vi"]
