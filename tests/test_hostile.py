"""A few hundred hostile and malformed PDFs through the verifier (the default run's share of
`make stress`): nothing raises, nothing runs long, memory stays bounded, and no mutation of a
signed document comes out valid."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from hostile import Sources, cases
from kyso.samples import make_pdf
from signer import Level, SignRequest, SoftwareKeyHolder
from verifier import VerificationPolicy, verify


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


@pytest.fixture(scope="module")
def sources(engine, pki):
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    signed = tuple(engine.sign(SignRequest(document=make_pdf(pages=2), level=level), key_holder=holder).data
                   for level in (Level.B_B, Level.B_T, Level.B_LT, Level.B_LTA))
    return Sources(unsigned=make_pdf(pages=2), signed=signed)


@pytest.mark.slow
def test_hostile_inputs_through_the_verifier(sources, pki):
    policy = VerificationPolicy.for_profile("dev", dev_pki=pki, time_budget_seconds=10)
    Path("/proc/self/clear_refs").write_text("5")
    base = _kib("VmRSS")
    slowest = (0.0, "")
    valid_mutations = []
    families = set()
    for case in cases(sources, count=400, seed=30):
        started = time.perf_counter()
        report = verify(case.data, policy=policy, file_name=case.name)   # must not raise
        elapsed = time.perf_counter() - started
        families.add(case.family)
        slowest = max(slowest, (elapsed, case.name))
        assert report.verdict.value in ("valid", "invalid", "indeterminate", "unsigned")
        assert report.reasons and report.reasons[0].vi
        if case.from_signed and report.verdict.value == "valid":
            valid_mutations.append(case.name)
    assert valid_mutations == []
    assert slowest[0] < 10, slowest
    assert _kib("VmHWM") - base < 768 * 1024, "memory stays bounded (decompression bombs included)"
    assert families >= {"truncation", "bitflip", "startxref", "prev-loop", "nesting", "bomb", "pages",
                        "encrypted", "not-pdf", "polyglot", "signature"}
