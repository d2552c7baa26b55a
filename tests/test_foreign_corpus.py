"""Documents nobody here made: Kyso's verdict on each, against its expectation, with pdfsig and
stock pyHanko as second opinions; no internal error may surface as a reason."""
from __future__ import annotations

import json

import pytest

from foreign import foreign_samples, with_indirect_dss_arrays
from pdfcheck import pdfsig, pyhanko_statuses
from signer import Level, SignRequest, SoftwareKeyHolder
from kyso.samples import make_pdf
from verifier import VerificationPolicy, verify

# words of Python's own exceptions: a reason that shows one is Kyso's error, not the document's
INTERNAL = ("Error:", "Exception", "Traceback", "KeyError", "TypeError", "AttributeError", "assert", "readinto",
            "seek out of range")


@pytest.fixture(scope="module")
def corpus(pki, engine):
    samples, ca = foreign_samples(pki, tsa_url=pki.tsa_url)
    b_lt = engine.sign(SignRequest(document=make_pdf(), level=Level.B_LT),
                       key_holder=SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")).data
    return samples + [with_indirect_dss_arrays(b_lt)], ca


@pytest.fixture(scope="module")
def reports(corpus, pki):
    samples, ca = corpus
    plain = VerificationPolicy.for_profile("dev", dev_pki=pki)
    anchored = VerificationPolicy.for_profile("dev", dev_pki=pki, extra_anchors=[ca.root_asn1])
    return {s.name: verify(s.data, policy=anchored if s.extra_anchor else plain) for s in samples}


def _words(report) -> str:
    return json.dumps([r.to_dict() for r in report.reasons] +
                      [p.to_dict() for s in report.signatures for p in s.problems + (s.reason,)], ensure_ascii=False)


def test_every_sample_gets_its_expected_verdict(corpus, reports):
    samples, _ = corpus
    wrong = {s.name: (s.expect, reports[s.name].verdict.value, [r.en for r in reports[s.name].reasons])
             for s in samples if reports[s.name].verdict.value != s.expect}
    assert not wrong, wrong


def test_no_internal_error_is_shown_as_a_reason(corpus, reports):
    for s in corpus[0]:
        words = _words(reports[s.name])
        assert not any(w in words for w in INTERNAL), (s.name, words[:600])


def test_warnings_are_reported_without_failing(corpus, reports):
    for s in corpus[0]:
        if s.warning:
            codes = [w.code for w in reports[s.name].signatures[0].warnings]
            assert s.warning in codes, (s.name, codes)


def test_the_weak_digest_is_named(reports):
    sig = reports["pyhanko-sha1-pkcs7"].signatures[0]
    assert sig.intact and sig.crypto_valid, "intact: a weak algorithm is not a forgery"
    assert sig.indication.value == "INDETERMINATE" and sig.sub_indication.value == "CRYPTO_CONSTRAINTS_FAILURE"
    assert "sha1" in sig.reason.en


def test_second_opinions_find_the_same_signatures_intact(corpus, pki, nssdb):
    """pdfsig (poppler/NSS) and stock pyHanko on the same files: every signature Kyso calls intact
    is intact for both (pdfsig lacks EdDSA and SHA-3; stock pyHanko's reader needs the empty password
    given explicitly for the encrypted sample: each is asked only about what it can read)."""
    samples, _ = corpus
    for s in samples:
        if not s.name.startswith(("pyhanko-ed", "pyhanko-sha3")):
            assert all(sig.valid for sig in pdfsig(s.data, nssdb)), s.name
        if s.name.startswith("encrypted"):
            continue
        statuses = pyhanko_statuses(s.data, list(pki.trust_roots()))
        assert statuses and statuses[0].intact and statuses[0].valid, s.name


def test_bytes_appended_to_a_linearized_file_are_still_caught(corpus, pki):
    linearized = next(s for s in corpus[0] if s.name == "linearized-whole-file").data
    policy = VerificationPolicy.for_profile("dev", dev_pki=pki)
    appended = verify(linearized + b"\n1 0 obj\n<< /Evil true >>\nendobj\n", policy=policy)
    assert appended.verdict.value == "invalid"
    assert "appended" in appended.signatures[0].reason.en
    # a second end pointing nowhere: the file no longer reads as one document; never valid
    broken = verify(linearized + b"\n% appended\nstartxref\n0\n%%EOF\n", policy=policy)
    assert broken.verdict.value in ("invalid", "indeterminate")


def test_timestamps_out_of_order_are_a_warning(corpus, pki):
    """A later revision timestamped before an earlier signer's (local-labelled-UTC) signing time."""
    from pyhanko.sign import timestamps

    from foreign import dev_signer, pyhanko_sign

    first = next(s for s in corpus[0] if s.name == "local-time-labelled-utc").data
    second = pyhanko_sign(first, dev_signer(pki, "dang-thi-mai"), field="Signature2",
                          timestamper=timestamps.HTTPTimeStamper(pki.tsa_url))
    report = verify(second, policy=VerificationPolicy.for_profile("dev", dev_pki=pki))
    assert report.verdict.value == "valid", [r.en for r in report.reasons]
    assert "timestamp_order" in [w.code for w in report.signatures[1].warnings]


def test_a_changed_byte_inside_a_carried_certificate_is_never_valid(engine, pki):
    """Re-encoding the outer wrapper of a carried certificate is tolerated; a byte changed inside what
    its issuer signed is not, even when it means the same (a BOOLEAN TRUE written 0xDF, not 0xFF). The
    third copy is the CA certificate inside the signature timestamp token of a B-LT signature: judged
    valid once, when Kyso re-encoded a carried certificate to read it (found by tests/test_hostile.py)."""
    import re as _re

    data = engine.sign(SignRequest(document=make_pdf(pages=2), level=Level.B_LT),
                       key_holder=SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")).data
    start = data.index(b"/Contents <") + len(b"/Contents <")
    end = data.index(b">", start)
    hexed = data[start:end]
    policy = VerificationPolicy.for_profile("dev", dev_pki=pki)
    matches = list(_re.finditer(rb"551[dD]130101[fF][fF]", hexed))   # basicConstraints, critical TRUE
    assert len(matches) >= 3, "CA certificates in the signature and in its timestamp token"
    for match in matches:
        changed = hexed[:match.end() - 2] + b"DF" + hexed[match.end():]
        report = verify(data[:start] + changed + data[end:], policy=policy)
        assert report.verdict.value != "valid", match.start()
