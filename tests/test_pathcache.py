"""Remembered certificate paths (``verifier.pathcache``, through ``hazmat.pyhanko_paths``) never
change a report: the attack corpus, its legitimate changes, the documents other tools signed and
a couple of hundred hostile mutations of signed files get the same report, field for field, with
the memory off, cold and warm, online and offline; and what a remembered path depends on (the
trust anchors, the validation time against the revocation data's next update) is seen. The hook
is installed by conftest, as every worker's composition root does."""
from __future__ import annotations

from datetime import timedelta

import pytest
from asn1crypto import ocsp

from attacks import SignedFactory, attack_samples, legit_samples
from foreign import foreign_samples
from hostile import Sources, cases
from kyso.samples import make_pdf
from signer import Level, SignRequest, SoftwareKeyHolder
from verifier import VerificationPolicy, verify
from verifier import pathcache

# what differs from one run to the next, not a fact about the file (as make stress compares)
_PER_RUN = ("duration_ms", "validation_time")


def _comparable(report) -> dict:
    d = report.to_dict()
    for key in _PER_RUN:
        d.pop(key, None)
    for signature in d.get("signatures") or []:
        signature.pop("validated_at", None)
        (signature.get("revocation") or {}).pop("checked_at", None)
    return d


@pytest.fixture(scope="module")
def documents(pki, engine, tmp_path_factory):
    factory = SignedFactory(pki, engine, workdir=tmp_path_factory.mktemp("attacks"))
    samples = [(s.name, s.data, False) for s in attack_samples(factory) + legit_samples(factory)]
    foreign, ca = foreign_samples(pki, tsa_url=pki.tsa_url)
    samples += [(s.name, s.data, s.extra_anchor) for s in foreign]
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    signed = tuple(engine.sign(SignRequest(document=make_pdf(pages=2), level=level), key_holder=holder).data
                   for level in (Level.B_B, Level.B_T, Level.B_LT, Level.B_LTA))
    samples += [(c.name, c.data, False) for c in cases(Sources(unsigned=make_pdf(pages=2), signed=signed),
                                                        count=200, seed=15)]
    return samples, ca


def _reports(samples, policies) -> list[dict]:
    return [_comparable(verify(data, policy=policies[anchored], file_name=name)) for name, data, anchored in samples]


@pytest.mark.parametrize("offline", [False, True], ids=["online", "offline"])
def test_remembered_paths_never_change_a_report(documents, pki, offline):
    samples, ca = documents
    policies = {anchored: VerificationPolicy.for_profile("dev", dev_pki=pki, offline=offline,
                                                         extra_anchors=[ca.root_asn1] if anchored else [])
                for anchored in (False, True)}
    with pathcache.paths_remembered(False):
        uncached = _reports(samples, policies)
    pathcache.clear()
    cold = _reports(samples, policies)
    warm = _reports(samples, policies)
    assert pathcache.DEFAULT.hits > len(samples) / 4, "the memory was used"
    assert pathcache.CERTIFICATE_INFO._facts and pathcache.CLEAN_ELEMENTS._facts and len(pathcache.CERTIFICATES)
    for (name, _, _), a, b, c in zip(samples, uncached, cold, warm):
        assert b == a, name
        assert c == a, name
    verdicts = {r["verdict"] for r in uncached}
    assert verdicts >= {"valid", "invalid", "indeterminate"}, "the set exercises every bottom line"


def test_another_trust_store_or_revocation_source_is_never_answered_from_memory(pki, engine):
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    data = engine.sign(SignRequest(document=make_pdf(pages=1), level=Level.B_B), key_holder=holder).data
    trusted = VerificationPolicy.for_profile("dev", dev_pki=pki)
    pathcache.clear()
    # the first answer brings the OCSP responder's certificate into later contexts: the third recalls
    for _ in range(3):
        assert verify(data, policy=trusted).verdict.value == "valid"
    assert pathcache.DEFAULT.hits > 0
    # nothing trusted: no path
    report = verify(data, policy=VerificationPolicy.for_profile("none"))
    assert report.verdict.value == "indeterminate"
    assert report.signatures[0].reason.code == "no_chain"
    # offline, a B-B signature carries no revocation data: the online answer is not reused
    report = verify(data, policy=VerificationPolicy.for_profile("dev", dev_pki=pki, offline=True))
    assert report.verdict.value == "indeterminate"
    assert report.signatures[0].revocation.status != "good"


def _next_update(data: bytes):
    """The earliest next update among the OCSP responses in the document's DSS."""
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(data)))
    times = []
    for stream in dss.ocsps:
        response = ocsp.OCSPResponse.load(stream.get_object().data)
        for single in response.basic_ocsp_response["tbs_response_data"]["responses"]:
            times.append(single["next_update"].native)
    return min(times)


def test_a_path_is_not_recalled_past_its_revocation_data(pki, engine):
    """Offline, the document's OCSP response decides; a path validated a minute before its next
    update is not recalled a minute after it (well inside the memory's five minutes)."""
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    data = engine.sign(SignRequest(document=make_pdf(pages=1), level=Level.B_LT), key_holder=holder).data
    boundary = _next_update(data)

    def at(moment):
        return VerificationPolicy.for_profile("dev", dev_pki=pki, offline=True, validation_time=moment)

    before, after = boundary - timedelta(minutes=1), boundary + timedelta(minutes=1)
    with pathcache.paths_remembered(False):
        expected_before = _comparable(verify(data, policy=at(before)))
        expected_after = _comparable(verify(data, policy=at(after)))
    pathcache.clear()
    assert _comparable(verify(data, policy=at(before))) == expected_before
    remembered = len(pathcache.DEFAULT)
    assert remembered > 0, "the path validated before the next update was remembered"
    assert _comparable(verify(data, policy=at(after))) == expected_after
    assert expected_after != expected_before, "the next update changes what is found"


def test_one_certificate_object_per_encoding_shared_only_when_remembering(pki):
    """The certificates a signature carries are exchanged for one parsed object per exact encoding
    (hazmat.pyhanko_certinfo with pathcache.shared_certificate): the same bytes, whatever copy came
    in; none with the memory off; emptied with the path memory."""
    from asn1crypto import x509

    der = pki.certificate("nguyen-van-an").dump()
    first, second = x509.Certificate.load(der), x509.Certificate.load(der)
    pathcache.clear()
    shared = pathcache.shared_certificate(first)
    assert shared is pathcache.shared_certificate(second) and shared.dump() == der
    assert shared is not first and shared is not second
    other = pathcache.shared_certificate(x509.Certificate.load(pki.certificate("le-hoang-phuc").dump()))
    assert other is not shared and other.subject != shared.subject
    with pathcache.paths_remembered(False):
        assert pathcache.shared_certificate(second) is second
    pathcache.clear()
    assert pathcache.shared_certificate(second) is not shared
