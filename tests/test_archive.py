"""Extend and renew: raising signatures (any tool's) to B-LT/B-LTA without a new signature, renewing an
archive before its TSA's certificate ends, and the daily job that finds and renews what is due; through
the engine with a moved clock, the API and the `kyso` command."""
from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pytest
from foreign import dev_signer, pyhanko_sign
from kyso.clock import fixed
from kyso.samples import make_pdf
from office.compose import dev_token
from signer import Level, SignRequest, SigningEngine, SoftwareKeyHolder
from signer.archive import extend, protection_expiry, renew
from signer.errors import NothingToExtend, RenewalNeedsNewerTsa
from verifier import VerificationPolicy, verify

IN_2036 = datetime(2036, 6, 1, tzinfo=timezone.utc)
BEFORE_TSA_ENDS = datetime(2039, 11, 1, tzinfo=timezone.utc)   # the dev TSA's certificate ends 2040-01-01
IN_2041 = datetime(2041, 6, 1, tzinfo=timezone.utc)


def offline_at(pki, when):
    return VerificationPolicy.for_profile("dev", dev_pki=pki, offline=True, validation_time=when)


@pytest.fixture(scope="module")
def other_tools_b_t(pki) -> bytes:
    from pyhanko.sign import timestamps

    return pyhanko_sign(make_pdf(), dev_signer(pki, "nguyen-van-an"),
                        timestamper=timestamps.HTTPTimeStamper(pki.tsa_url))


def test_another_tools_b_t_extended_to_b_lt_and_b_lta_lasts(engine, pki, other_tools_b_t):
    assert verify(other_tools_b_t, policy=offline_at(pki, IN_2036)).verdict.value == "indeterminate"
    for level in ("B-LT", "B-LTA"):
        extended = extend(engine, other_tools_b_t, to=level)
        report = verify(extended.data, policy=offline_at(pki, IN_2036))
        assert report.verdict.value == "valid", (level, [r.en for r in report.reasons])
        assert report.signatures[0].level == level
        assert len(report.signatures) == (2 if level == "B-LTA" else 1), "no new signature, only a timestamp"
    with pytest.raises(NothingToExtend):
        extend(engine, make_pdf(), to="B-LT")


def test_an_archive_renewed_before_its_tsa_ends_outlives_it(engine, pki):
    archive = engine.sign(SignRequest(document=make_pdf(), level=Level.B_LTA),
                          key_holder=SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")).data
    assert protection_expiry(archive).year == 2040
    same_tsa = SigningEngine.for_dev_pki(pki, clock=fixed(BEFORE_TSA_ENDS))
    with pytest.raises(RenewalNeedsNewerTsa):
        renew(same_tsa, archive)
    renewer = SigningEngine.for_dev_pki(pki, clock=fixed(BEFORE_TSA_ENDS), tsa_url=pki.tsa_url_for("tsa-renewed"))
    renewed = renew(renewer, archive)
    assert protection_expiry(renewed.data).year == 2049
    assert verify(archive, policy=offline_at(pki, IN_2041)).verdict.value == "indeterminate", \
        "not renewed: its last timestamp's TSA certificate ended in 2040"
    report = verify(renewed.data, policy=offline_at(pki, IN_2041))
    assert report.verdict.value == "valid", [(s.kind, s.reason.en) for s in report.signatures]
    assert [s.kind for s in report.signatures] == ["signature", "document_timestamp", "document_timestamp"]
    # the page changed after the renewal: still caught
    from attacks import isa_replace_page_content

    tampered = isa_replace_page_content(renewed.data)
    assert verify(tampered, policy=offline_at(pki, IN_2041)).verdict.value == "invalid"


def auth(user: str) -> dict:
    return {"Authorization": f"Bearer {dev_token(user)}"}


def test_api_extend_and_the_due_list(client, pki, other_tools_b_t):
    response = client.post("/api/v1/extend", data={"file": (io.BytesIO(other_tools_b_t), "công-văn.pdf"),
                                                   "to": "B-LTA"},
                           headers=auth("agency-ubnd-hung-yen"), content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    assert response.headers["X-Kyso-Level"] == "B-LTA"
    assert "filename*=UTF-8''c%C3%B4ng-v%C4%83n-extended.pdf" in response.headers["Content-Disposition"]
    assert verify(response.data, policy=offline_at(pki, IN_2036)).verdict.value == "valid"
    sha = response.headers["X-Kyso-Sha256"]
    due = client.get("/api/v1/archive/due?days=20000", headers=auth("agency-ubnd-hung-yen")).get_json()
    listed = {d["sha256"]: d for d in due["documents"]}
    assert sha in listed and listed[sha]["protected_until"].startswith("2040-01-01T07:00:00+07:00")
    source = response.headers["X-Kyso-Source-Sha256"]
    assert source not in listed, "a version that has a successor is not due: its successor is"
    refused = client.post("/api/v1/extend", data={"file": (io.BytesIO(make_pdf()), "x.pdf")},
                          headers=auth("agency-ubnd-hung-yen"), content_type="multipart/form-data")
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "nothing_to_extend"
    auditor = client.post("/api/v1/extend", data={"file": (io.BytesIO(other_tools_b_t), "x.pdf")},
                          headers=auth("auditor"), content_type="multipart/form-data")
    assert auditor.status_code == 403


@pytest.fixture()
def run(kyso_cli, pki, monkeypatch):
    monkeypatch.setenv("KYSO_TSA_URL", pki.tsa_url_for("tsa-renewed"))   # a TSA whose certificate outlives 2040
    return kyso_cli


def test_kyso_extend_renew_and_the_daily_job(run, tmp_path, other_tools_b_t, pki):
    source = tmp_path / "đến.pdf"
    source.write_bytes(other_tools_b_t)
    lt = tmp_path / "b-lt.pdf"
    result = run("extend", source, lt, "--to", "B-LT", "--as", "agency-ubnd-hung-yen")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["level"] == "B-LT"
    renewed = tmp_path / "gia-han.pdf"
    result = run("renew", lt, renewed, "--as", "agency-ubnd-hung-yen")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["protected_until"].startswith("2049-12-31")
    assert verify(renewed.read_bytes(), policy=offline_at(pki, IN_2041)).verdict.value == "valid"
    # the daily job: the B-LT version has a successor; the renewed one is protected to 2049
    listed = run("renew-due", "--days", "20000", "--dry-run")
    assert listed.exit_code == 0, listed.output
    due = [json.loads(line) for line in listed.output.splitlines()]
    assert [d["protected_until"][:4] for d in due] == ["2049"], due
    assert run("renew-due", "--days", "30").output == "", "nothing ends within 30 days"


def test_extending_a_signature_from_an_untrusted_chain_is_a_clear_422_not_a_503(client):
    """Before: 503 validation_data_unavailable, as if a responder were down; retrying never helps."""
    from foreign import small_ca, small_ca_signer

    signed = pyhanko_sign(make_pdf(), small_ca_signer(small_ca(datetime.now(timezone.utc)), "ecdsa"))
    response = client.post("/api/v1/extend", data={"file": (io.BytesIO(signed), "lạ.pdf"), "to": "B-LT"},
                           headers=auth("agency-ubnd-hung-yen"), content_type="multipart/form-data")
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "signature_chain_untrusted" and "kyso trust add" in error["message"]
