"""One clock per operation: a signature, an issuance or a verification made at a given moment is
made at that moment through and through (its signing time, its timestamp, the OCSP and CRL answers
it relies on, the number's year and the date on the page), whatever day it actually runs on."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from asn1crypto import cms, ocsp, tsp

from certs_dev.images import load_dev_image
from kyso.clock import fixed
from kyso.samples import make_decree30_draft, make_pdf
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from registers.audit import format_time
from registers.numbering import SqliteNumbering
from signer import Level, SignRequest, SigningEngine, SoftwareKeyHolder
from signer.errors import SigningError
from signer.issuance import IssuanceWorkflow
from verifier import VerificationPolicy, verify

# far from any day this suite runs on (2026-2034), inside the dev certificates' validity (2025-2035)
IN_2033 = datetime(2033, 6, 1, 3, 0, 0, tzinfo=timezone.utc)


class MovableClock:
    """A clock a test sets; every operation reads it once."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def timestamp_time(data: bytes) -> datetime:
    reader = PdfFileReader(io.BytesIO(data))
    sig = reader.embedded_signatures[0]
    token = sig.signer_info["unsigned_attrs"][0]["values"][0]
    assert isinstance(token, cms.ContentInfo)
    info = tsp.TSTInfo.load(token["content"]["encap_content_info"]["content"].parsed.dump())
    return info["gen_time"].native


def test_a_document_signed_in_2033_is_signed_in_2033_through_and_through(pki):
    engine = SigningEngine.for_dev_pki(pki, clock=fixed(IN_2033))
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    signed = engine.sign(SignRequest(document=make_pdf(pages=1, title="Cong van"), level=Level.B_LT),
                         key_holder=holder)
    data = signed.data
    assert signed.signing_time == IN_2033
    assert timestamp_time(data) == IN_2033, "the TSA dated its token at the operation's moment"

    reader = PdfFileReader(io.BytesIO(data))
    dss = DocumentSecurityStore.read_dss(reader)
    produced = {ocsp.OCSPResponse.load(o.get_object().data).basic_ocsp_response["tbs_response_data"]
                ["produced_at"].native for o in dss.ocsps}
    assert produced == {IN_2033}, "every OCSP answer embedded for B-LT is about the operation's moment"

    # valid in 2033 from what the document carries, asked of nobody
    context = dss.as_validation_context({"trust_roots": list(pki.trust_roots()), "allow_fetching": False,
                                         "revocation_mode": "hard-fail", "moment": IN_2033})
    status = validate_pdf_signature(reader.embedded_signatures[0], context,
                                    ts_validation_context=dss.as_validation_context(
                                        {"trust_roots": list(pki.trust_roots()), "allow_fetching": False,
                                         "moment": IN_2033}))
    assert status.bottom_line, status.pretty_print_details()

    # and Kyso's verifier, judging as of 2033 and asking the dev PKI about 2033, calls it valid
    report = verify(data, policy=VerificationPolicy.for_profile("dev", dev_pki=pki, validation_time=IN_2033))
    assert report.verdict == "valid", report.to_dict()


def test_a_good_check_at_one_moment_is_never_taken_for_another(pki):
    """The signer remembers a good certificate check for a few minutes of the operations' own
    time: a certificate good before its revocation is refused for a moment after it."""
    clock = MovableClock(datetime(2025, 5, 1, 8, 0, tzinfo=timezone.utc))   # revoked since 2025-06-01
    engine = SigningEngine.for_dev_pki(pki, clock=clock)
    holder = SoftwareKeyHolder.from_dev_pki(pki, "official-revoked")
    request = SignRequest(document=make_pdf(pages=1, title="Cong van"), level=Level.B_B)
    assert engine.sign(request, key_holder=holder).signing_time == clock.moment
    clock.moment = clock.moment + timedelta(seconds=30)
    engine.sign(request, key_holder=holder)        # within the check's window: reused
    clock.moment = datetime(2025, 6, 2, tzinfo=timezone.utc)
    with pytest.raises(SigningError) as refused:
        engine.sign(request, key_holder=holder)
    assert refused.value.code == "certificate_revoked"


def test_an_issuance_a_year_from_now_is_numbered_and_dated_in_that_year(pki, tmp_path):
    moment = (datetime.now(timezone.utc) + timedelta(days=365)).replace(microsecond=0)
    engine = SigningEngine.for_dev_pki(pki, clock=fixed(moment))
    workflow = IssuanceWorkflow(engine=engine, numbering=SqliteNumbering(tmp_path / "registers.sqlite"))
    chairman = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    clerk = SoftwareKeyHolder.from_dev_pki(pki, "agency-ubnd-hung-yen")
    prepared = workflow.prepare(make_pdf(pages=1, title="Chi thi"))
    personal = workflow.sign_personal(prepared, key_holder=chairman, signature_image=load_dev_image("nguyen-van-an"),
                                      level=Level.B_T)
    issued = workflow.issue(personal.data, key_holder=clerk, agency="UBND", doc_type="CT",
                            seal_image=load_dev_image("agency-ubnd-hung-yen"), agency_name="UBND tỉnh Hưng Yên",
                            place="Hưng Yên", level=Level.B_T)
    local = moment.astimezone(timezone(timedelta(hours=7)))
    assert issued.number.year == local.year
    assert issued.signed.signing_time == moment
    assert timestamp_time(issued.signed.data) == moment
    [entry] = workflow.numbering.entries(agency="UBND", year=local.year)
    assert entry["status"] == "issued" and entry["issue_date"] == local.date().isoformat()


def test_the_development_certificates_outlive_the_suites_horizon(pki):
    """The suite runs a year ahead (below); the dev PKI must still be valid then. When this fails,
    renew ``certs_dev`` (the ``valid-to`` dates of ``certs_dev/certomancer.yml``)."""
    horizon = datetime.now(timezone.utc) + timedelta(days=400)
    expiring = sorted(i.label for i in pki.identities if i.state == "good"
                      and i.certificate["tbs_certificate"]["validity"]["not_after"].native < horizon)
    assert not expiring, f"dev certificates expire before {horizon:%Y-%m-%d}: {expiring}"


@pytest.mark.slow
def test_the_suite_passes_with_the_clock_a_year_ahead():
    """``make test`` once turned red a day after it was written (tests signed at a fixed moment
    while the dev PKI answered about the wall clock). Every other fast test runs again in a
    process whose clock is a year ahead (libfaketime): whatever mixes a fixed moment with the wall
    clock fails here first. The run started with the session (tests/moved_clock.py), on the other core."""
    import moved_clock

    run = moved_clock.running() or moved_clock.start()
    assert abs(run.clock_read - run.target.timestamp()) < 3600, "libfaketime did not move the clock"
    code, output = run.wait()
    lines = output.strip().splitlines()
    closing = lines[-1] if lines else "(no output)"
    assert code == 0, f"with the clock a year ahead: {closing}\n{output[-6000:]}"
    assert " passed" in closing and "failed" not in closing and "error" not in closing, closing


def test_the_service_with_its_clock_in_2033_signs_issues_and_records_in_2033(pki, pki_server, softhsm_token,
                                                                             pkcs11_token, tmp_path):
    """One clock for the whole service: the signature, the number's year, the date, the register
    rows and the audit records of a request all carry the moment the service's clock gave."""
    from api import create_app
    from kyso.settings import Settings
    from office import Office
    from office.compose import dev_token

    settings = Settings(dev_pki_url=pki_server.base_url, data_dir=tmp_path / "data",
                        pkcs11_token=softhsm_token.token_label, pkcs11_pin=softhsm_token.user_pin)
    office = Office.from_settings(settings, token=pkcs11_token, clock=fixed(IN_2033))
    client = create_app(settings, office=office).test_client()

    def auth(user):
        return {"Authorization": f"Bearer {dev_token(user)}"}

    signed = client.post("/api/v1/sign", headers=auth("nguyen-van-an"), content_type="multipart/form-data",
                         data={"file": (io.BytesIO(make_pdf()), "cong-van.pdf"), "level": "B-T"})
    assert signed.status_code == 200, signed.get_json()
    assert timestamp_time(signed.data) == IN_2033

    personal = client.post("/api/v1/sign", headers=auth("nguyen-van-an"), content_type="multipart/form-data",
                           data={"file": (io.BytesIO(make_decree30_draft()), "du-thao.pdf"), "level": "B-T",
                                 "appearance": "personal"})
    assert personal.status_code == 200, personal.get_json()
    issued = client.post("/api/v1/issue", headers=auth("agency-ubnd-hung-yen"), content_type="multipart/form-data",
                         data={"file": (io.BytesIO(personal.data), "chi-thi.pdf"), "type": "CT", "place": "Hưng Yên",
                               "level": "B-T"})
    assert issued.status_code == 200, issued.get_json()
    outgoing = client.get("/api/v1/registers/outgoing", headers=auth("auditor")).get_json()
    [entry] = [e for e in outgoing["entries"] if e["status"] == "issued"]
    assert (entry["year"], entry["issue_date"]) == (2033, "2033-06-01")

    received = client.post("/api/v1/incoming", headers=auth("receiver"), content_type="multipart/form-data",
                           data={"file": (io.BytesIO(issued.data), "den.pdf"), "sender": "UBND tỉnh Hưng Yên"})
    assert received.status_code == 200, received.get_json()
    received = office.incoming_entry(office.caller("receiver"), received.get_json()["id"])
    assert (received["status"], received["year"], received["verdict"]) == ("received", 2033, "valid")
    assert received["received_at"] == "2033-06-01T10:00:00+07:00"          # the same moment, in Vietnam
    assert received["report"]["policy"]["validation_time"].startswith("2033-06-01T03:00:00")

    trail = io.StringIO()
    assert office.audit.export_jsonl(trail) >= 4     # two signatures, an issuance, a receipt
    times = {json.loads(line)["time"] for line in trail.getvalue().splitlines()}
    assert times == {format_time(IN_2033)}
    office.db.dispose()
