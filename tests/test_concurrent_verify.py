"""Verifications running at once in threads of one process share the trust anchors, the
certificate memory and remembered paths: none of them sees another's half-parsed certificate."""
from __future__ import annotations

import sys
import threading

from kyso.samples import make_pdf
from signer import Level, SignRequest, SoftwareKeyHolder
from verifier import VerificationPolicy, verify


def test_a_new_offices_first_verifications_at_once_are_all_judged(engine, pki):
    """CI once saw one signature of twelve "indeterminate, could not be judged" (a KeyError inside
    asn1crypto): a new office's first three verifications ran at once on trust anchors no thread
    had parsed yet, and two threads parsed the same certificate lazily at the same moment. Each
    round here is such a start (a new policy, three threads released together), with the
    interpreter switching threads as often as it can."""
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    documents = [engine.sign(SignRequest(document=make_pdf(pages=1, seed=i), level=Level.B_B), key_holder=holder).data
                 for i in range(3)]
    verify(documents[0], policy=VerificationPolicy.for_profile("dev", dev_pki=pki))   # the process warm, as in a worker
    seen = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for round_ in range(15):
            policy = VerificationPolicy.for_profile("dev", dev_pki=pki)
            start = threading.Barrier(len(documents))

            def one(data: bytes) -> None:
                start.wait()
                report = verify(data, policy=policy)
                signature = report.signatures[0] if report.signatures else None
                seen.append((report.verdict.value, signature and signature.signer and signature.signer.common_name,
                             signature and signature.reason.en))

            threads = [threading.Thread(target=one, args=(data,)) for data in documents]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert len(seen) == 45
    assert [s for s in seen if s[:2] != ("valid", "Nguyễn Văn An")] == []
