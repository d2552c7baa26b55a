"""Verdicts that last: a signature proven (by a trusted timestamp) to exist while its certificate
was good stays valid after the certificate expires or is revoked; without a proof it cannot be
judged; a validation time before every proof is never valid (ETSI EN 319 102-1, 5.6)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kyso.clock import fixed
from kyso.samples import make_pdf
from signer import Level, SignRequest, SigningEngine, SigningPolicy, SoftwareKeyHolder
from verifier import VerificationPolicy, verify

IN_2036 = datetime(2036, 6, 1, tzinfo=timezone.utc)      # the dev signers' certificates ended on 2035-01-01
BEFORE_REVOCATION = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)   # official-revoked: revoked 2025-06-01
AFTER_REVOCATION = datetime(2025, 7, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def documents(engine, pki) -> dict[str, bytes]:
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    return {level.value: engine.sign(SignRequest(document=make_pdf(pages=1), level=level), key_holder=holder).data
            for level in (Level.B_B, Level.B_T, Level.B_LT, Level.B_LTA)}


def at(pki, when, **kw) -> VerificationPolicy:
    return VerificationPolicy.for_profile("dev", dev_pki=pki, validation_time=when, **kw)


def signed_by_revoked_official(pki, moment: datetime, level=Level.B_T) -> bytes:
    engine = SigningEngine(policy=SigningPolicy.for_dev_pki(pki).dangerous_skip_certificate_checks(),
                           clock=fixed(moment))
    holder = SoftwareKeyHolder.from_dev_pki(pki, "official-revoked")
    return engine.sign(SignRequest(document=make_pdf(pages=1), level=level), key_holder=holder).data


@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_an_archive_signed_today_is_valid_offline_in_2036(documents, pki, level):
    report = verify(documents[level], policy=at(pki, IN_2036, offline=True))
    assert report.verdict.value == "valid", report.to_dict()
    sig = report.signatures[0]
    assert sig.indication.value == "TOTAL_PASSED" and sig.reason.code == "valid_at_proof"
    assert sig.proof_source == "signature_timestamp"
    assert sig.validated_at == sig.proof_of_existence == sig.timestamp.time, "judged as of its timestamp"
    assert datetime.fromisoformat(sig.validated_at) < datetime.fromisoformat(sig.chain[0].not_after) < IN_2036, \
        "valid then; the signer's certificate had expired by 2036"
    if level == "B-LTA":
        assert report.signatures[1].kind == "document_timestamp"
        assert report.signatures[1].indication.value == "TOTAL_PASSED"


@pytest.mark.parametrize("level", ["B-B", "B-T"])
def test_without_validation_data_nothing_is_proven_in_2036(documents, pki, level):
    report = verify(documents[level], policy=at(pki, IN_2036, offline=True))
    assert report.verdict.value == "indeterminate", report.to_dict()


def test_a_tampered_archive_is_invalid_in_2036(documents, pki):
    data = bytearray(documents["B-LTA"])
    contents = bytes(data).index(b"/Contents <")
    first_range_byte = 100 if contents > 200 else contents + 2
    data[first_range_byte] ^= 0x01
    report = verify(bytes(data), policy=at(pki, IN_2036, offline=True))
    assert report.verdict.value == "invalid"
    assert report.signatures[0].sub_indication.value in ("HASH_FAILURE", "FORMAT_FAILURE")


def test_a_signature_timestamped_before_the_revocation_stays_valid(pki):
    document = signed_by_revoked_official(pki, BEFORE_REVOCATION)
    report = verify(document, policy=VerificationPolicy.for_profile("dev", dev_pki=pki))
    sig = report.signatures[0]
    assert report.verdict.value == "valid", report.to_dict()
    assert sig.validated_at.startswith("2025-03-01") and sig.proof_source == "signature_timestamp"


def test_a_signature_timestamped_after_the_revocation_is_invalid_at_any_time(pki):
    document = signed_by_revoked_official(pki, AFTER_REVOCATION)
    now = verify(document, policy=VerificationPolicy.for_profile("dev", dev_pki=pki)).signatures[0]
    assert (now.indication.value, now.sub_indication.value) == ("TOTAL_FAILED", "REVOKED")
    # asked about a moment before the signature existed: never valid (it was TOTAL_PASSED before)
    earlier = verify(document, policy=at(pki, datetime(2025, 5, 1, tzinfo=timezone.utc)))
    assert earlier.verdict.value == "indeterminate", earlier.to_dict()
    assert earlier.signatures[0].sub_indication.value == "NO_POE"
    assert "2025-07-01" in earlier.signatures[0].reason.en


def test_a_validation_time_before_any_proof_cannot_be_judged(documents, pki):
    past = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for level in ("B-B", "B-LTA"):
        report = verify(documents[level], policy=at(pki, past))
        assert report.verdict.value == "indeterminate" and report.signatures[0].sub_indication.value == "NO_POE"
    # at or after the proof it is judged as usual
    later = verify(documents["B-LTA"], policy=at(pki, IN_2036, offline=True))
    assert later.verdict.value == "valid"


def test_kyso_verify_offline_with_the_clock_in_2036(documents, pki_server, tmp_path):
    """The command a records officer runs in 2036, on the archive kept since today."""
    archive = tmp_path / "lưu-trữ.pdf"
    archive.write_bytes(documents["B-LTA"])
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYSO_")}
    env.update(TZ="UTC", KYSO_DEV_PKI_URL=pki_server.base_url, KYSO_DATA_DIR=str(tmp_path / "var"))
    proc = subprocess.run(["faketime", "-f", "@2036-06-01 08:00:00", sys.executable, "-m", "commands.main",
                           "verify", "--offline", "--json", str(archive)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, proc.stderr[-3000:]
    assert lines[0]["validation_time"].startswith("2036-06-01"), lines[0]["validation_time"]
    assert lines[0]["verdict"] == "valid", json.dumps(lines[0], ensure_ascii=False)[:3000]
