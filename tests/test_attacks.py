"""No known attack on PDF signatures comes out valid; legitimate later changes stay valid.

The corpus (tests/attacks.py) applies ISA, SWA, USF, shadow hide/replace/hide-and-replace,
evil-annotation and sneaky-signature attacks, and crypto tampering, to documents Kyso signed.
"""
from __future__ import annotations

import pytest

from attacks import SignedFactory, attack_samples, legit_samples
from verifier import VerificationPolicy, verify


@pytest.fixture(scope="module")
def factory(pki, tmp_path_factory):
    return SignedFactory.for_dev_pki(pki)


@pytest.fixture(scope="module")
def policy(pki):
    return VerificationPolicy.for_profile("dev", dev_pki=pki)


@pytest.fixture(scope="module")
def attacks(factory):
    return attack_samples(factory)


@pytest.fixture(scope="module")
def legit(factory):
    return legit_samples(factory)


def test_no_attack_comes_out_valid(attacks, policy):
    assert len(attacks) >= 50
    results = {s.name: verify(s.data, policy=policy) for s in attacks}
    valid = [name for name, report in results.items() if report.verdict.value == "valid"]
    assert valid == [], f"attacks judged valid: {valid}"
    # and every one carries a reason a clerk can read
    for name, report in results.items():
        assert report.reasons and report.reasons[0].vi and report.reasons[0].en, name


def test_attacks_that_keep_the_signature_intact_are_caught_as_modifications(attacks, policy):
    """Where the victim signature is still cryptographically intact, the change analysis must be
    what fails it: the reason says the document was modified after signing."""
    checked = 0
    for sample in attacks:
        if sample.family not in ("ISA", "shadow-hide", "shadow-replace", "shadow-hide-and-replace", "EAA", "SSA"):
            continue
        report = verify(sample.data, policy=policy)
        if not report.signatures:
            assert report.verdict.value in ("indeterminate", "invalid"), sample.name
            continue
        victim = min(report.signatures, key=lambda s: s.revision)
        if victim.intact:
            checked += 1
            assert victim.indication.value == "TOTAL_FAILED", sample.name
            assert victim.reason.code in ("modified_after_signing", "format_failure"), (sample.name, victim.reason)
            assert any(not (c.permitted_by_docmdp and c.permitted_by_policy) for c in victim.modifications_after) \
                or victim.coverage == "partial", sample.name
    assert checked >= 15


def test_a_hidden_signature_is_not_called_unsigned(attacks, policy):
    hidden = [s for s in attacks if s.name in ("shadow-hnr-switch-root", "isa-prev-skips-signed-revision")]
    assert hidden
    for sample in hidden:
        report = verify(sample.data, policy=policy)
        assert report.verdict.value == "indeterminate"
        assert report.reasons[0].code == "hidden_signature"


def test_legitimate_changes_stay_valid(legit, policy):
    assert {s.name for s in legit} >= {"legit-b-lt", "legit-b-lta", "legit-second-approval", "legit-decree30-issue"} \
        or len(legit) >= 5
    failures = {}
    for sample in legit:
        report = verify(sample.data, policy=policy)
        if report.verdict.value != "valid":
            failures[sample.name] = [r.en for r in report.reasons]
    assert failures == {}
