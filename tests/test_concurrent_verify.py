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


def _with_extension(cert, oid: str, value: bytes):
    """``cert``'s encoding with one more (non-critical) extension; the signature no longer matches,
    which ``settle`` never looks at."""
    from asn1crypto import core, x509

    tbs = x509.TbsCertificate.load(cert["tbs_certificate"].dump())
    tbs["extensions"] = list(tbs["extensions"]) + [x509.Extension({"extn_id": oid, "critical": False,
                                                                    "extn_value": core.ParsableOctetString(value)})]
    return x509.Certificate({"tbs_certificate": x509.TbsCertificate.load(tbs.dump(force=True)),
                             "signature_algorithm": cert["signature_algorithm"],
                             "signature_value": cert["signature_value"]}).dump(force=True)


def test_settling_parses_what_readers_read_and_leaves_unknown_extensions_as_bytes(pki):
    """A document may carry a certificate with megabytes in an extension no one reads: settled in
    milliseconds, that value left unparsed (settling it took 3.3 s and 193 MB); a trust anchor whose
    inner signature identifier does not parse (nowhere read) is settled, not refused."""
    from asn1crypto import core

    from verifier import sharing

    root = pki.trust_roots()[0]
    value = b"\x30\x83" + (300_000 * 3).to_bytes(3, "big") + b"\x02\x01\x00" * 300_000
    settled = sharing.certificate(_with_extension(root, "1.2.3.4.5.6.7", value))
    unknown = [e for e in settled["tbs_certificate"]["extensions"] if e["extn_id"].dotted == "1.2.3.4.5.6.7"][0]
    assert unknown["extn_value"]._parsed is None                 # still bytes
    assert settled.key_usage_value is not None and settled.public_key.bit_size >= 2048
    # the inner signature identifier (the first one) made RSASSA-PSS with NULL parameters
    odd = root.dump().replace(bytes.fromhex("300d06092a864886f70d01010b0500"),
                              bytes.fromhex("300d06092a864886f70d01010a0500"), 1)
    assert sharing.certificate(odd).subject.human_friendly == root.subject.human_friendly
