"""Everything that judges signatures.

    from verifier import verify, VerificationPolicy
    report = verify(pdf_bytes, policy=VerificationPolicy.for_profile("vn"))
    report.verdict, report.to_dict()

This package never imports ``signer``.
"""
from verifier.policy import VerificationPolicy
from verifier.report import Indication, SubIndication, Verdict, VerificationReport
from verifier.verify import signed_fields, verify

__all__ = ["Indication", "SubIndication", "Verdict", "VerificationPolicy", "VerificationReport", "signed_fields", "verify"]
