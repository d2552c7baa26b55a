"""The one decision: each row of verifier.decision's table, and its precedence over the rows below."""
from __future__ import annotations

import pytest

from verifier.decision import TABLE, PathOutcome, SignatureFacts, decide, decide_row
from verifier.reasons import reason
from verifier.report import Change, ChangeCategory, Indication, SubIndication

GOOD = SignatureFacts(kind="signature", intact=True, crypto_valid=True, coverage="entire_file")
CHANGE = Change(revision=2, category=ChangeCategory.PAGE_CONTENT, description="page /Contents changed",
                permitted_by_docmdp=True, permitted_by_policy=False)
REVOKED = PathOutcome(Indication.TOTAL_FAILED, SubIndication.REVOKED, reason("revoked"))
EXPIRED = PathOutcome(Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE, reason("expired_no_poe"))

# (row, the facts that make it hold, indication, sub-indication, reason code)
ROWS = [
    (1, dict(intact=False), "TOTAL_FAILED", "HASH_FAILURE", "hash_failure"),
    (2, dict(crypto_valid=False), "TOTAL_FAILED", "SIG_CRYPTO_FAILURE", "sig_crypto_failure"),
    (3, dict(coverage="partial"), "TOTAL_FAILED", "FORMAT_FAILURE", "format_failure"),
    (4, dict(not_permitted=(CHANGE,)), "TOTAL_FAILED", "FORMAT_FAILURE", "modified_after_signing"),
    (5, dict(path=REVOKED), "TOTAL_FAILED", "REVOKED", "revoked"),
    (6, dict(altered="an altered copy of a certificate"), "TOTAL_FAILED", "FORMAT_FAILURE", "cannot_judge"),
    (7, dict(changes_unknown="the updates after this signature could not be analysed"), "INDETERMINATE", "GENERIC",
     "cannot_judge"),
    (8, dict(weak_signature_digest="sha1"), "INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE", "crypto_constraints"),
    (9, dict(before_proof=("2025-05-01T08:00:00+07:00", "2025-07-01T16:00:00+07:00")), "INDETERMINATE", "NO_POE",
     "before_proof"),
    (10, dict(path=EXPIRED), "INDETERMINATE", "OUT_OF_BOUNDS_NO_POE", "expired_no_poe"),
    (11, dict(path_algorithm_problem="sha1 in an end-entity certificate"), "INDETERMINATE",
     "CRYPTO_CONSTRAINTS_FAILURE", "crypto_constraints"),
    (12, dict(timestamp_problem=True), "INDETERMINATE", "GENERIC", "chain_failure"),
    (13, dict(damaged="an OCSP response does not verify"), "INDETERMINATE", "GENERIC", "cannot_judge"),
    (14, dict(), "TOTAL_PASSED", None, "valid"),
]


def facts(**kw) -> SignatureFacts:
    values = {**GOOD.__dict__, **kw}
    return SignatureFacts(**values)


@pytest.mark.parametrize("row, kw, indication, sub, code", ROWS, ids=[f"row{r[0]}" for r in ROWS])
def test_each_row(row, kw, indication, sub, code):
    decided_row, got_indication, got_sub, why = decide_row(facts(**kw))
    assert decided_row == row
    assert (got_indication.value, got_sub.value if got_sub else None, why.code) == (indication, sub, code)
    assert why.en and why.vi


def test_every_row_is_exercised():
    assert [r[0] for r in ROWS] == [row for row, _, _ in TABLE]


@pytest.mark.parametrize("upper", range(len(ROWS) - 1))
def test_a_row_wins_over_every_row_below_it(upper):
    """All the facts of the rows below hold too: the upper row still decides."""
    combined: dict = {}
    for _, kw, *_ in ROWS[upper:]:
        for key, value in kw.items():
            combined.setdefault(key, value)
    # rows 5 and 10 both set the path: the upper one's value is kept by setdefault
    assert decide_row(facts(**combined))[0] == ROWS[upper][0]


def test_nothing_failed_or_unknown_is_ever_passed():
    for row, kw, *_ in ROWS[:-1]:
        assert decide(facts(**kw))[0] is not Indication.TOTAL_PASSED, row


def test_a_document_timestamp_passes_with_its_own_words():
    assert decide(facts(kind="document_timestamp"))[2].code == "timestamp_valid"


# -- the document's verdict ---------------------------------------------------------------------
from verifier.decision import DOCUMENT_TABLE, DocumentFacts, decide_document  # noqa: E402

DOCUMENT_ROWS = [
    (1, dict(signatures=0, hidden_signature=True), "indeterminate", "hidden_signature"),
    (2, dict(signatures=0), "unsigned", "unsigned"),
    (3, dict(signatures=2, failed=1, indeterminate=1, uncovered_change=True), "invalid", "doc_invalid"),
    (4, dict(signatures=2, indeterminate=1, uncovered_change=True), "indeterminate", "doc_indeterminate"),
    (5, dict(signatures=1, uncovered_change=True, decree30_status="personal_only", require_decree30=True),
     "invalid", "unsigned_tail"),
    (6, dict(signatures=1, decree30_status="personal_only", require_decree30=True), "invalid", "decree30_required"),
    (7, dict(signatures=1, decree30_status="personal_only"), "valid", "doc_valid"),
]


@pytest.mark.parametrize("row, kw, verdict, code", DOCUMENT_ROWS, ids=[f"doc-row{r[0]}" for r in DOCUMENT_ROWS])
def test_each_document_row(row, kw, verdict, code):
    got_row, got_verdict, why = decide_document(DocumentFacts(**kw))
    assert (got_row, got_verdict.value, why.code) == (row, verdict, code)


def test_every_document_row_is_exercised():
    assert [r[0] for r in DOCUMENT_ROWS] == [row for row, *_ in DOCUMENT_TABLE]


def test_a_report_never_contradicts_itself(engine, pki):
    """The headline reason is the verdict's own: a strict Decree 30 failure does not also say
    'all signatures are valid'."""
    from signer import Level, SignRequest, SoftwareKeyHolder
    from kyso.samples import make_pdf
    from verifier import VerificationPolicy, verify

    personal = engine.sign(SignRequest(document=make_pdf(), level=Level.B_B),
                           key_holder=SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")).data
    strict = VerificationPolicy.for_profile("dev", dev_pki=pki, require_decree30=True)
    report = verify(personal, policy=strict)
    assert report.verdict.value == "invalid"
    codes = [r.code for r in report.reasons]
    assert codes[0] == "decree30_required" and "doc_valid" not in codes


def test_a_past_time_without_any_proof_says_so():
    indication, sub, why = decide(facts(before_proof=("2025-05-01T08:00:00+07:00", None)))
    assert (indication.value, sub.value, why.code) == ("INDETERMINATE", "NO_POE", "no_proof")
    assert "2025-05-01T08:00:00+07:00" in why.vi
