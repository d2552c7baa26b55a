"""Property-based fuzzing (Hypothesis) of the PDF and CMS intake paths: arbitrary bytes and
structured mutations of signed documents never crash the verifier, never come out valid when
changed, and the signer's two-step CMS intake rejects anything that is not the right signature.
Crashes found here become regression cases in tests/test_hostile.py's generator families."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kyso.samples import make_pdf
from signer import ExternalKeyHolder, Level, SignRequest, SoftwareKeyHolder
from signer.errors import SigningError
from verifier import VerificationPolicy, verify

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def signed(engine, pki):
    return engine.sign(SignRequest(document=make_pdf(), level=Level.B_B),
                       key_holder=SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")).data


@pytest.fixture(scope="module")
def policy(pki):
    return VerificationPolicy.for_profile("dev", dev_pki=pki, offline=True, time_budget_seconds=5)


@FUZZ
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_never_crash_the_verifier(policy, data):
    report = verify(b"%PDF-1.7\n" + data, policy=policy)
    assert report.verdict.value != "valid"


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
                      min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.integers(min_value=0)))
def test_mutated_signed_documents_are_never_valid(signed, policy, edits, cut):
    data = bytearray(signed)
    changed = False
    for position, value in edits:
        position %= len(data)
        if data[position] != value:
            data[position] = value
            changed = True
    if cut is not None:
        data = data[: cut % len(data)]
        changed = True
    if not changed:
        return
    original_hex = _contents_hex(signed)
    if _contents_hex(bytes(data)) == original_hex and bytes(data).replace(b" ", b"") == signed.replace(b" ", b""):
        return   # only white space changed inside the hex string: the same document
    report = verify(bytes(data), policy=policy)
    if report.verdict.value == "valid":
        assert _equivalent(signed, bytes(data)), "a changed signed document came out valid"


def _contents_hex(data: bytes) -> bytes:
    start = data.find(b"/Contents <")
    return data[start: data.find(b">", start + 11)] if start >= 0 else b""


def _equivalent(a: bytes, b: bytes) -> bool:
    """Changes only in hex-digit case or white space inside /Contents leave the same bytes."""
    if len(a) != len(b):
        return False
    start = a.find(b"/Contents <") + 11
    end = a.find(b">", start)
    outside_same = a[:start] == b[:start] and a[end:] == b[end:]
    inside = [(x, y) for x, y in zip(a[start:end], b[start:end]) if x != y]
    return outside_same and all(chr(x).lower() == chr(y).lower() or chr(y).isspace() for x, y in inside)


@FUZZ
@given(blob=st.binary(max_size=2048))
def test_external_cms_intake_rejects_garbage(engine, pki, tmp_path_factory, blob):
    from signer.external import ExternalSigning, PendingStore

    store = PendingStore(tmp_path_factory.mktemp("pending"))
    external = ExternalSigning(engine=engine, store=store)
    holder = ExternalKeyHolder(certificate=pki.identity("nguyen-van-an").certificate,
                               chain=pki.chain("nguyen-van-an"))
    prepared = external.prepare(SignRequest(document=make_pdf(), level=Level.B_B), key_holder=holder)
    with pytest.raises(SigningError) as info:
        external.finish(prepared.handle, cms_data=blob)
    assert info.value.code == "external_signature_invalid"
