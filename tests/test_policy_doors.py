"""Certification, strict Decree 30 and the validation time, through the API, `kyso` and kyso-client:
what each door offers reaches the same use case and gives the same answer."""
from __future__ import annotations

import io
import json

import pytest
from kyso.samples import make_pdf
from office.compose import dev_token
from signer import Level, SignRequest, SoftwareKeyHolder
from verifier import VerificationPolicy, verify


def auth(user: str) -> dict:
    return {"Authorization": f"Bearer {dev_token(user)}"}


def upload(data: bytes, **form) -> dict:
    return {"file": (io.BytesIO(data), "văn-bản.pdf"), **{k: str(v) for k, v in form.items()}}


@pytest.fixture(scope="module")
def personal_only(engine, pki) -> bytes:
    return engine.sign(SignRequest(document=make_pdf(), level=Level.B_T),
                       key_holder=SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")).data


def test_api_certifies_and_refuses_a_second_certification(client, pki):
    response = client.post("/api/v1/sign", data=upload(make_pdf(), certify=2, level="B-B"),
                           headers=auth("nguyen-van-an"), content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    report = verify(response.data, policy=VerificationPolicy.for_profile("dev", dev_pki=pki))
    assert report.verdict.value == "valid" and report.signatures[0].docmdp == 2
    again = client.post("/api/v1/sign", data=upload(response.data, certify=1), headers=auth("nguyen-van-an"),
                        content_type="multipart/form-data")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "certification_not_first"
    bad = client.post("/api/v1/sign", data=upload(make_pdf(), certify=4), headers=auth("nguyen-van-an"),
                      content_type="multipart/form-data")
    assert bad.status_code == 422


def test_api_verify_with_decree30_and_a_validation_time(client, personal_only):
    plain = client.post("/api/v1/verify", data=upload(personal_only), headers=auth("nguyen-van-an"),
                        content_type="multipart/form-data").get_json()
    assert plain["verdict"] == "valid" and plain["decree30"]["status"] == "personal_only"
    strict = client.post("/api/v1/verify", data=upload(personal_only, decree30="true"),
                         headers=auth("nguyen-van-an"), content_type="multipart/form-data").get_json()
    assert strict["verdict"] == "invalid" and strict["reasons"][0]["code"] == "decree30_required"
    earlier = client.post("/api/v1/verify", data=upload(personal_only, at="2025-01-02T08:00:00+07:00"),
                          headers=auth("nguyen-van-an"), content_type="multipart/form-data").get_json()
    assert earlier["verdict"] == "indeterminate"
    assert earlier["signatures"][0]["sub_indication"] == "NO_POE"
    from datetime import datetime, timezone

    assert datetime.fromisoformat(earlier["validation_time"]) == datetime(2025, 1, 2, 1, tzinfo=timezone.utc)
    naive = client.post("/api/v1/verify", data=upload(personal_only, at="2025-01-02 08:00"),
                        headers=auth("nguyen-van-an"), content_type="multipart/form-data")
    assert naive.status_code == 422, "a time without its zone is refused, not guessed"


@pytest.fixture()
def run(kyso_cli):
    return kyso_cli


def test_kyso_sign_certify_and_verify_decree30(run, tmp_path, personal_only):
    draft = tmp_path / "dự-thảo.pdf"
    draft.write_bytes(make_pdf())
    certified = tmp_path / "chứng-thực.pdf"
    result = run("sign", draft, certified, "--as", "nguyen-van-an", "--level", "B-B", "--certify", "--docmdp", "2")
    assert result.exit_code == 0, result.output
    result = run("verify", "--json", certified)
    report = json.loads(result.output.splitlines()[0])
    assert report["verdict"] == "valid" and report["signatures"][0]["docmdp"] == 2
    again = run("sign", certified, tmp_path / "x.pdf", "--as", "nguyen-van-an", "--certify")
    assert again.exit_code != 0 and "certification_not_first" in again.output + str(again.stderr_bytes or b"")

    single = tmp_path / "ca-nhan.pdf"
    single.write_bytes(personal_only)
    plain = run("verify", "--json", single)
    assert json.loads(plain.output.splitlines()[0])["verdict"] == "valid"
    assert plain.exit_code == 1, "valid signatures, but not issued (the agency's is missing): not a pass"
    strict = run("verify", "--json", "--decree30", single)
    assert strict.exit_code == 1
    assert json.loads(strict.output.splitlines()[0])["reasons"][0]["code"] == "decree30_required"
    earlier = run("verify", "--json", "--at", "2025-01-02T08:00:00+07:00", single)
    assert json.loads(earlier.output.splitlines()[0])["signatures"][0]["sub_indication"] == "NO_POE"


def test_api_refuses_b_b_on_a_field_that_demands_a_timestamp_and_stamps_it_at_b_t(client, pki):
    """The official's upload names a signature field whose seed value demands a timestamp from a
    server the document chooses: B-B is refused with a clear 422 in both languages; B-T is signed,
    stamped by the service's own TSA."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields

    writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf()))
    seed = fields.SigSeedValueSpec(timestamp_server_url="http://192.0.2.1/tsa", timestamp_required=True)
    fields.append_signature_field(writer, fields.SigFieldSpec("ChuKyLanhDao", seed_value_dict=seed))
    out = io.BytesIO()
    writer.write(out)
    refused = client.post("/api/v1/sign", data=upload(out.getvalue(), level="B-B", field="ChuKyLanhDao"),
                          headers=auth("nguyen-van-an"), content_type="multipart/form-data")
    error = refused.get_json()["error"]
    assert refused.status_code == 422 and error["code"] == "field_requires_timestamp"
    assert "B-T" in error["message"] and "dấu thời gian" in error["message_vi"]
    signed = client.post("/api/v1/sign", data=upload(out.getvalue(), level="B-T", field="ChuKyLanhDao"),
                         headers=auth("nguyen-van-an"), content_type="multipart/form-data")
    assert signed.status_code == 200, signed.get_json()
    report = verify(signed.data, policy=VerificationPolicy.for_profile("dev", dev_pki=pki))
    assert report.verdict.value == "valid" and report.signatures[0].level == "B-T"


def test_api_refuses_to_sign_a_document_certified_with_no_changes_allowed(client):
    certified = client.post("/api/v1/sign", data=upload(make_pdf(), certify=1, level="B-B"),
                            headers=auth("nguyen-van-an"), content_type="multipart/form-data")
    assert certified.status_code == 200
    again = client.post("/api/v1/sign", data=upload(certified.data, level="B-B"), headers=auth("tran-thi-bich-ngoc"),
                        content_type="multipart/form-data")
    error = again.get_json()["error"]
    assert again.status_code == 409 and error["code"] == "document_forbids_signature"
    assert "forbids all changes" in error["detail"]["reason"] and "chứng thực" in error["message_vi"]
