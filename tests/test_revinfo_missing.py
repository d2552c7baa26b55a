"""A signature whose certificate path is sound but whose revocation status cannot be found (checked
offline, or the responder is down, and the document carries no OCSP response or CRL) is
INDETERMINATE/TRY_LATER with "the revocation status could not be established", as ETSI EN 319 102-1
and EU DSS say, not "the certificate path could not be validated" (CERTIFICATE_CHAIN_GENERAL_FAILURE,
which stock pyHanko reports and a clerk reads as a broken chain)."""
from __future__ import annotations

import pytest

from kyso.samples import make_pdf


@pytest.fixture(scope="module")
def signed(engine, pki):
    from signer import Level, SignRequest, SoftwareKeyHolder

    def sign(label):
        return engine.sign(SignRequest(document=make_pdf(pages=1), level=Level.B_B),
                           key_holder=SoftwareKeyHolder.from_dev_pki(pki, label)).data

    return sign


def test_offline_without_revocation_data_is_try_later_with_its_reason(signed, pki):
    from verifier import VerificationPolicy, verify

    data = signed("pham-thu-ha")
    report = verify(data, policy=VerificationPolicy.for_profile("dev", dev_pki=pki, offline=True)).to_dict()
    [sig] = report["signatures"]
    assert (report["verdict"], sig["indication"], sig["sub_indication"]) == ("indeterminate", "INDETERMINATE",
                                                                             "TRY_LATER")
    assert sig["reason"]["code"] == "revocation_unknown"
    assert sig["revocation"]["status"] == "unknown"
    assert sig["crypto_valid"] and sig["intact"], "the signature itself is sound"
    assert "revocation_unknown" in {r["code"] for r in report["reasons"]}
    assert "chain_failure" not in {r["code"] for r in report["reasons"]}

    online = verify(data, policy=VerificationPolicy.for_profile("dev", dev_pki=pki)).to_dict()
    assert online["verdict"] == "valid", "the same document, its responder asked"


def test_stock_pyhanko_calls_the_same_case_a_chain_failure(signed, pki):
    """What the patch changes, and only that: pyHanko's own mapping, on the same document and the same
    validation context, says CERTIFICATE_CHAIN_GENERAL_FAILURE."""
    import io

    import hazmat
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.ades.report import AdESIndeterminate
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from hazmat import pyhanko_revinfo
    from office.compose import install_hazmat

    install_hazmat()
    assert pyhanko_revinfo.installed()
    data = signed("pham-thu-ha")

    def indication():
        sig = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
        vc = ValidationContext(trust_roots=list(pki.trust_roots()), allow_fetching=False,
                               revocation_mode="hard-fail", crls=[], ocsps=[])
        return validate_pdf_signature(sig, vc).trust_problem_indic

    assert indication() is AdESIndeterminate.TRY_LATER
    with hazmat.stock():
        assert indication() is AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE
    assert pyhanko_revinfo.installed(), "put back after the block"


def _signed_elsewhere(pki, label: str) -> bytes:
    """Signed by stock pyHanko (Kyso signs with no certificate it cannot trust or that is out of date)."""
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    signer = signers.SimpleSigner.load_pkcs12_data(pki.pkcs12_bytes(label, b"pw"), other_certs=[], passphrase=b"pw")
    out = io.BytesIO()
    signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(make_pdf(pages=1))),
                     signers.PdfSignatureMetadata(field_name="Signature1"), signer=signer, output=out)
    return out.getvalue()


@pytest.mark.parametrize("label, expected", [
    ("untrusted-self-signed", ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "no_chain")),
    ("official-expired", ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE", "expired_no_poe")),
    ("official-not-yet-valid", None),
])
def test_a_path_with_another_fault_is_judged_by_that_fault_offline_as_online(pki, label, expected):
    """Missing revocation information is said only of a path with no other fault: a certificate
    nobody trusts, a signer's certificate expired or not yet valid (below an intermediate CA whose
    own revocation status is unknown offline) get, offline, the indication they get online, never
    "try later" (which no later attempt could change)."""
    from verifier import VerificationPolicy, verify

    data = _signed_elsewhere(pki, label)
    seen = []
    for offline in (True, False):
        report = verify(data, policy=VerificationPolicy.for_profile("dev", dev_pki=pki, offline=offline)).to_dict()
        [sig] = report["signatures"]
        seen.append((sig["indication"], sig["sub_indication"], sig["reason"]["code"]))
    assert seen[0] == seen[1], "offline as online"
    assert seen[0][1] != "TRY_LATER" and seen[0][0] == "INDETERMINATE"
    if expected is not None:
        assert seen[0] == expected
