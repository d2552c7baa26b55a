"""The verifier's verdicts on documents Kyso signed: levels, Decree 30, certificate states,
trust profiles, time, offline validation, limits and bad input."""
from __future__ import annotations

import functools
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from certs_dev.images import load_dev_image
from kyso.samples import make_pdf
from registers.numbering import SqliteNumbering
from signer import Level, SignRequest, SigningEngine, SoftwareKeyHolder
from signer.issuance import IssuanceWorkflow
from verifier import VerificationPolicy, verify
from verifier.report import ChangeCategory


@pytest.fixture(scope="module")
def policy(pki):
    return VerificationPolicy.for_profile("dev", dev_pki=pki)


@pytest.fixture(scope="module")
def unchecked(pki):
    """An engine that signs with ANY certificate, to produce documents signed by bad certificates."""
    return SigningEngine(policy=__import__("signer").SigningPolicy.for_dev_pki(pki).dangerous_skip_certificate_checks())


def signed(engine, pki, label="nguyen-van-an", level=Level.B_B, document=None, **kw):
    holder = SoftwareKeyHolder.from_dev_pki(pki, label)
    return engine.sign(SignRequest(document=document or make_pdf(pages=2), level=level, **kw), key_holder=holder).data


@pytest.mark.parametrize("level", [Level.B_B, Level.B_T, Level.B_LT, Level.B_LTA], ids=lambda lv: lv.value)
def test_kyso_signatures_are_valid_at_every_level(engine, pki, policy, level):
    report = verify(signed(engine, pki, level=level), policy=policy)
    assert report.verdict.value == "valid", report.to_dict()
    sig = report.signatures[0]
    assert (sig.indication.value, sig.intact, sig.crypto_valid, sig.trusted) == ("TOTAL_PASSED", True, True, True)
    assert sig.level == level.value
    assert sig.signer.common_name == "Nguyễn Văn An" and sig.signer.certificate_type == "personal"
    assert [c.subject.split(",")[0] for c in sig.chain][-1].startswith("Common Name: KYSO DEV Root CA")
    assert sig.chain[-1].is_trust_anchor and len(sig.chain[-1].sha256) == 64
    assert sig.revocation.status == "good"
    # B-LT: the DSS revision after the signature is covered by nothing, and needs nothing
    assert report.last_revision_covered == (level is not Level.B_LT)
    if level is Level.B_B:
        assert sig.timestamp is None and sig.coverage == "entire_file"
    else:
        assert sig.timestamp.valid and "Time Stamping" in sig.timestamp.tsa
    if level in (Level.B_LT, Level.B_LTA):
        assert {c.category for c in sig.modifications_after} <= {
            ChangeCategory.VALIDATION_DATA, ChangeCategory.DOCUMENT_TIMESTAMP, ChangeCategory.STRUCTURE}
    if level is Level.B_LTA:
        assert report.signatures[1].kind == "document_timestamp"
        assert report.signatures[1].indication.value == "TOTAL_PASSED"


def test_report_json_shape(engine, pki, policy):
    data = json.loads(json.dumps(verify(signed(engine, pki, level=Level.B_T), policy=policy,
                                        file_name="cong-van.pdf").to_dict(), ensure_ascii=False))
    assert data["schema"] == "kyso.verification/1" and data["file"] == "cong-van.pdf"
    assert set(data) >= {"sha256", "verdict", "reasons", "signatures", "decree30"}
    sig = data["signatures"][0]
    assert set(sig) >= {"field", "kind", "indication", "sub_indication", "intact", "crypto_valid", "trusted",
                        "coverage", "revision", "modifications_after", "signer", "chain", "signing_time",
                        "timestamp", "revocation", "level", "docmdp"}
    assert sig["reason"]["vi"] and sig["reason"]["en"]


@pytest.fixture(scope="module")
def issued(pki, tmp_path_factory):
    engine = SigningEngine.for_dev_pki(pki)
    workflow = IssuanceWorkflow(engine=engine, numbering=SqliteNumbering(tmp_path_factory.mktemp("r") / "n.db"))
    personal = workflow.sign_personal(workflow.prepare(make_pdf(pages=1)),
                                      key_holder=SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an"),
                                      signature_image=load_dev_image("nguyen-van-an")).data
    agency = SoftwareKeyHolder.from_dev_pki(pki, "agency-ubnd-hung-yen")
    done = workflow.issue(personal, key_holder=agency, agency="UBND", doc_type="CT",
                          seal_image=load_dev_image("agency-ubnd-hung-yen"), agency_name="UBND tỉnh Hưng Yên").signed.data
    return personal, done


def test_decree30_issued_document_is_valid_and_the_clerk_step_is_form_filling(issued, policy):
    report = verify(issued[1], policy=policy)
    assert report.verdict.value == "valid"
    assert report.decree30.status == "ok"
    personal, agency = report.signatures
    assert (personal.signer.certificate_type, agency.signer.certificate_type) == ("personal", "organisation")
    categories = {c.category for c in personal.modifications_after}
    assert ChangeCategory.FORM_FILLING in categories and ChangeCategory.NEW_SIGNATURE in categories
    assert all(c.permitted_by_docmdp and c.permitted_by_policy for c in personal.modifications_after)


def test_decree30_reports_missing_or_misordered_signatures(issued, engine, pki, policy):
    assert verify(issued[0], policy=policy).decree30.status == "personal_only"
    agency_only = signed(engine, pki, "agency-ubnd-hung-yen")
    assert verify(agency_only, policy=policy).decree30.status == "agency_only"
    wrong = signed(engine, pki, "nguyen-van-an", document=agency_only)
    report = verify(wrong, policy=policy)
    assert report.decree30.status == "wrong_order"
    assert report.verdict.value == "valid", "the order is reported; both signatures are valid"
    strict = VerificationPolicy.for_profile("dev", dev_pki=pki, require_decree30=True)
    assert verify(wrong, policy=strict).verdict.value == "invalid"


def test_revoked_certificate(unchecked, pki, policy):
    b_b = verify(signed(unchecked, pki, "official-revoked"), policy=policy).signatures[0]
    assert (b_b.indication.value, b_b.sub_indication.value) == ("INDETERMINATE", "REVOKED_NO_POE")
    assert b_b.revocation.status == "revoked" and b_b.revocation.revoked_at.startswith("2025-06-01")
    # a timestamp proves the signature came after the revocation: failed
    b_t = verify(signed(unchecked, pki, "official-revoked", level=Level.B_T), policy=policy).signatures[0]
    assert (b_t.indication.value, b_t.sub_indication.value) == ("TOTAL_FAILED", "REVOKED")


@pytest.mark.parametrize("label, sub", [
    ("official-expired", "OUT_OF_BOUNDS_NO_POE"),
    ("untrusted-self-signed", "NO_CERTIFICATE_CHAIN_FOUND"),
])
def test_certificates_that_cannot_be_trusted_now(unchecked, pki, policy, label, sub):
    report = verify(signed(unchecked, pki, label), policy=policy)
    assert report.verdict.value == "indeterminate"
    assert report.signatures[0].sub_indication.value == sub


def test_trust_profiles(engine, pki):
    document = signed(engine, pki, level=Level.B_T)
    assert verify(document, policy=VerificationPolicy.for_profile("none")).verdict.value == "indeterminate"
    assert verify(document, policy=VerificationPolicy.for_profile("vn")).signatures[0].sub_indication.value == \
        "NO_CERTIFICATE_CHAIN_FOUND"
    vn = VerificationPolicy.for_profile("vn", extra_anchors=pki.trust_roots())
    assert verify(document, policy=vn).verdict.value == "valid", "an administrator-added anchor is trusted"


def test_vn_profile_holds_the_real_anchors_expired_ones_included():
    policy = VerificationPolicy.for_profile("vn")
    anchors = {c.subject.native["common_name"] for c in policy.trust.anchors}
    assert anchors == {"Co quan chung thuc so chuyen dung Chinh phu (RootCA)", "MIC National Root CA",
                       "RootCA chuyên dùng Chính phủ G2", "Vietnam National Root CA"}
    names = {c.subject.native["common_name"] for c in policy.trust.intermediates}
    # what signs government documents today; their PDFs often carry only the signer's certificate
    assert {"CA phục vụ các cơ quan Nhà nước G2", "VNPT-CA SHA2"} <= names
    assert "VNPT Certification Authority" in names, "expired in 2019, kept for validation at past times"
    assert "Cơ quan chứng thực số Bộ Ngoại giao" in names


def test_sha1_rule_accepts_old_sha1_ca_certificates_only():
    from verifier.trust import vn_certificates
    from verifier.verify import weak_certificate

    vn = VerificationPolicy.for_profile("vn")
    dev = VerificationPolicy.for_profile("none")
    government_ca = next(c for c in vn_certificates() if c.subject.native["common_name"] ==
                         "Co quan chung thuc so Chinh phu")
    assert government_ca.hash_algo == "sha1" and government_ca.ca
    assert weak_certificate([government_ca], vn) is None, "SHA-1 CA certificate issued in 2010: accepted"
    assert "sha1" in weak_certificate([government_ca], dev), "refused where no cut-off is configured"
    late = VerificationPolicy.for_profile("vn", sha1_ca_cutoff=datetime(2009, 1, 1, tzinfo=timezone.utc))
    assert weak_certificate([government_ca], late) is not None, "issued after the cut-off: refused"


def test_validation_at_a_past_time(unchecked, pki):
    document = signed(unchecked, pki, "official-expired")
    at_2024 = VerificationPolicy.for_profile("dev", dev_pki=pki,
                                            validation_time=datetime(2024, 6, 1, tzinfo=timezone.utc))
    report = verify(document, policy=at_2024)
    assert report.signatures[0].sub_indication is None or \
        report.signatures[0].sub_indication.value != "OUT_OF_BOUNDS_NO_POE"
    assert report.validation_time.startswith("2024-06-01")


def test_offline_uses_embedded_validation_data_only(engine, pki):
    offline = VerificationPolicy.for_profile("dev", dev_pki=pki, offline=True)
    assert verify(signed(engine, pki, level=Level.B_LT), policy=offline).verdict.value == "valid"
    b_t = verify(signed(engine, pki, level=Level.B_T), policy=offline)
    assert b_t.verdict.value == "indeterminate", "no embedded revocation data and no fetching"


def test_limits_give_indeterminate_not_a_long_run(engine, pki):
    document = signed(engine, pki, document=make_pdf(pages=30))
    small = VerificationPolicy.for_profile("dev", dev_pki=pki, max_pages=10)
    report = verify(document, policy=small)
    assert report.verdict.value == "indeterminate" and report.reasons[0].code == "limit"
    tiny = VerificationPolicy.for_profile("dev", dev_pki=pki, max_bytes=1000)
    assert verify(document, policy=tiny).reasons[0].code == "limit"


@pytest.mark.parametrize("data, verdict, code", [
    (b"", "indeterminate", "not_pdf"),
    (b"GIF89a nothing", "indeterminate", "not_pdf"),
    (b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF", "indeterminate", "unreadable"),
])
def test_bad_input_is_never_valid(policy, data, verdict, code):
    report = verify(data, policy=policy)
    assert (report.verdict.value, report.reasons[0].code) == (verdict, code)


def test_unsigned_and_truncated(engine, pki, policy):
    assert verify(make_pdf(), policy=policy).verdict.value == "unsigned"
    document = signed(engine, pki)
    truncated = verify(document[: len(document) - 300], policy=policy)
    assert truncated.verdict.value != "valid"


def test_what_the_signer_saw(issued, pki, policy):
    from verifier.extract import RevisionNotFound, signed_revision

    personal_doc, done = issued
    seen = signed_revision(done, "ChuKyNguoiKy")
    assert seen == personal_doc, "the chairman saw the document before the clerk's number and seal"
    report = verify(seen, policy=policy)
    assert report.verdict.value == "valid" and report.signatures[0].coverage == "entire_file"
    with pytest.raises(RevisionNotFound):
        signed_revision(done, "NoSuchField")


def test_one_unreadable_signature_does_not_spoil_the_others(engine, pki, policy, nssdb):
    """A document whose first signature's CMS is damaged, signed again afterwards by another tool:
    the damaged signature fails on its own, the later one is judged on its own (pdfsig calls it valid)."""
    import re

    from foreign import dev_signer, pyhanko_sign
    from pdfcheck import pdfsig

    first = signed(engine, pki)
    start = re.search(rb"/Contents\s*<", first).end()
    damaged = first[:start] + b"0" * 16 + first[start + 16:]
    document = pyhanko_sign(damaged, dev_signer(pki, "tran-thi-bich-ngoc"), field="Signature2")
    report = verify(document, policy=policy)
    by_field = {s.field: s for s in report.signatures}
    assert set(by_field) == {"Signature1", "Signature2"}, by_field
    assert by_field["Signature1"].indication.value == "TOTAL_FAILED"
    assert by_field["Signature1"].problems[0].code == "format_failure"
    later = by_field["Signature2"]
    assert later.byte_range and later.byte_range[0] == 0 and later.coverage == "entire_file"
    assert later.indication.value == "TOTAL_PASSED", [p.code for p in later.problems]
    assert report.verdict.value != "valid"
    second_opinion = pdfsig(document, nssdb)
    assert second_opinion[-1].valid and second_opinion[-1].total_document


def test_edits_to_the_unsigned_container_are_not_valid(engine, pki, policy):
    """Found by make stress's bit flips: the CMS container in /Contents is not covered by the
    signature. Raising its outer length by 16 swallows 16 bytes of the zero padding (the parser took them
    as end-of-contents octets), and the SignedData version 1 -> 3 changes nothing signed: both still
    verified cryptographically and were judged valid."""
    import re

    document = signed(engine, pki, level=Level.B_T)
    assert verify(document, policy=policy).verdict.value == "valid"
    start = re.search(rb"/Contents\s*<", document).end()
    header = bytes.fromhex(document[start:start + 8].decode())
    assert header[:2] == b"\x30\x82"
    longer = (int.from_bytes(header[2:], "big") + 16).to_bytes(2, "big")
    raised = document[:start + 4] + longer.hex().encode() + document[start + 8:]
    version = re.compile(rb"a082[0-9a-f]{4}3082[0-9a-f]{4}020101", re.I).search(document, start)
    assert version is not None and version.start() - start < 80
    renumbered = document[:version.end() - 1] + b"3" + document[version.end():]
    for edited in (raised, renumbered):
        assert len(edited) == len(document) and edited != document
        report = verify(edited, policy=policy)
        assert report.verdict.value != "valid", report.signatures[0].reason
        assert report.signatures[0].indication.value != "TOTAL_PASSED"


def test_a_verification_frees_what_it_parsed_at_once(engine, pki, policy):
    """A worker verifies all day: the objects parsed for a 300-page document go when its report is
    made, not at the next full garbage collection (they used to form one cycle through the reader:
    tens of thousands of objects, and verification times that doubled at random)."""
    import gc

    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    data = make_pdf(pages=300)
    for _ in range(2):
        data = engine.sign(SignRequest(document=data, level=Level.B_B), key_holder=holder).data
    assert verify(data, policy=policy).verdict.value == "valid"
    gc.collect()
    assert verify(data, policy=policy).verdict.value == "valid"
    assert gc.collect() < 1000


def test_verifications_at_once_in_threads_all_end_valid(engine, pki):
    """A threaded server (the development server, the web page sending three files at once) verifies
    in several threads: each gets its answer. With one set of OCSP fetchers shared between threads,
    one of twelve waited forever on another thread's event loop and another came out indeterminate."""
    from concurrent.futures import ThreadPoolExecutor

    from verifier.fetching import DEFAULT_POOL

    DEFAULT_POOL.reset()   # nothing fetched yet: the first answers are fetched at once by three threads
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    documents = [engine.sign(SignRequest(document=make_pdf(pages=1, seed=i), level=Level.B_B), key_holder=holder).data
                 for i in range(12)]
    policy = VerificationPolicy.for_profile("dev", dev_pki=pki)
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(verify, data, policy=policy) for data in documents]
        verdicts = [f.result(timeout=60).verdict.value for f in futures]
    assert verdicts == ["valid"] * 12


def test_end_of_contents_octets_are_found_inside_any_definite_length():
    """The walk for stray end-of-contents octets enters every constructed element of definite
    length: one whose length's last octet is 0x80 (128 bytes: ``81 80``) too, which it once took for
    an indefinite length and skipped; a BER indefinite length keeps its own end-of-contents octets."""
    from verifier.verify import _stray_end_of_contents

    inner = b"\x04\x7c" + b"\x11" * 124 + b"\x00\x00"                 # 128 bytes, two of them 00 00
    assert len(inner) == 128
    hidden = b"\x30\x81\x83" + b"\x30\x81\x80" + inner
    assert _stray_end_of_contents(hidden + b"\x00" * 64) is not None
    clean = b"\x30\x81\x83" + b"\x30\x81\x80" + b"\x04\x7e" + b"\x11" * 126
    assert _stray_end_of_contents(clean + b"\x00" * 64) is None
    indefinite = b"\x30\x80" + b"\x04\x02ab" + b"\x00\x00"
    assert _stray_end_of_contents(b"\x30\x08" + indefinite + b"\x00" * 8) is None
    assert _stray_end_of_contents(b"\x30\x08" + b"\x04\x02ab" + b"\x00\x00" + b"\x04\x00") is not None


def test_a_large_element_found_clean_once_is_skipped_only_when_identical():
    """Elements of certificate size found clean are remembered (pathcache.CLEAN_ELEMENTS): the same
    bytes at the same depth are not walked again, with the same answer; an element of the same size
    and shape with end-of-contents octets hidden inside is still found, memory or not."""
    from verifier import pathcache
    from verifier.verify import _stray_end_of_contents

    def container(body: bytes) -> bytes:
        element = b"\x30\x82" + len(body).to_bytes(2, "big") + body
        return b"\x30\x82" + len(element).to_bytes(2, "big") + element + b"\x00" * 32

    clean_body = b"".join(b"\x04\x0e" + bytes([i]) * 14 for i in range(1, 61))        # 960 bytes, 60 strings
    hidden_body = clean_body[:480] + b"\x04\x0c" + b"\x22" * 12 + b"\x00\x00" + clean_body[496:]
    assert len(hidden_body) == len(clean_body)
    pathcache.clear()
    for _ in range(3):
        assert _stray_end_of_contents(container(clean_body)) is None
        assert _stray_end_of_contents(container(hidden_body)) is not None
    assert pathcache.CLEAN_ELEMENTS._facts, "the clean elements were remembered"
    with pathcache.paths_remembered(False):
        assert _stray_end_of_contents(container(clean_body)) is None
        assert _stray_end_of_contents(container(hidden_body)) is not None


@pytest.mark.parametrize("size", [None, 6 * 1024 * 1024], ids=["small", "6MB"])
def test_the_file_and_its_signatures_hashed_in_one_pass_judge_every_byte(engine, pki, policy, tmp_path, size):
    """The file's SHA-256 and each signature's ByteRange digest come from one read of the document
    (the signatures' common first bytes hashed once; over 4 MiB, on another thread while it is
    parsed). Both must still be exact: the report's SHA-256 is the file's, a two-signature document
    is valid, and one changed byte anywhere a signature covers (before its /Contents, or in the
    short range after it) makes it invalid, from bytes or from a path."""
    import hashlib

    holder = SoftwareKeyHolder.from_dev_pki(pki, "le-hoang-phuc")
    first = signed(engine, pki, document=make_pdf(pages=3) if size is None else make_pdf(size=size))
    both = engine.sign(SignRequest(document=first, level=Level.B_B), key_holder=holder).data
    path = tmp_path / "both.pdf"
    path.write_bytes(both)
    for document in (both, path):
        report = verify(document, policy=policy)
        assert report.sha256 == hashlib.sha256(both).hexdigest()
        assert report.verdict.value == "valid" and len(report.signatures) == 2, report.to_dict()["reasons"]
    ranges = [s.byte_range for s in report.signatures]
    assert all(r[0] == 0 for r in ranges) and ranges[0][1] < ranges[1][1]
    unsigned = verify(make_pdf(pages=1), policy=policy)
    assert unsigned.sha256 == hashlib.sha256(make_pdf(pages=1)).hexdigest()

    def flipped(at: int) -> bytes:
        data = bytearray(both)
        data[at] ^= 0x01 if data[at] not in b"0123456789" else 0x02   # stays a digit: the parser reads on
        return bytes(data)

    _, la, b, lb = ranges[1]
    for at, spoiled in ((ranges[0][1] // 2, (0, 1)), ((ranges[0][2] + ranges[0][3] + la) // 2, (1,)),
                        (b + lb // 2, (1,)), (ranges[0][2] + 3, (0, 1))):
        data = flipped(at)
        report = verify(data, policy=policy)
        assert report.sha256 == hashlib.sha256(data).hexdigest()
        assert report.verdict.value != "valid", at
        by_revision = sorted(report.signatures, key=lambda s: s.revision)
        assert [i for i, s in enumerate(by_revision) if not s.intact] == list(spoiled) or \
            report.signatures == (), (at, [s.intact for s in by_revision])


def test_a_large_file_is_verified_without_taking_its_size_in_memory(engine, pki, policy, tmp_path):
    """A 40 MB document verified from its path: the worker's resident memory (VmHWM, mapped file
    pages included) grows by less than a fifth of the file, whether the pages are already cached or
    not: the file is hashed through a small buffer, read with pread(2), not through its memory map."""
    import gc

    path = tmp_path / "lon.pdf"
    path.write_bytes(signed(engine, pki, document=make_pdf(size=40 * 1024 * 1024)))
    size = path.stat().st_size
    assert verify(path, policy=policy).verdict.value == "valid"     # imports and caches warm, pages cached
    gc.collect()

    def kib(field: str) -> int:
        return next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                    if line.startswith(field + ":"))

    Path("/proc/self/clear_refs").write_text("5")   # VmHWM := VmRSS
    base = kib("VmRSS")
    report = verify(path, policy=policy)
    assert report.verdict.value == "valid"
    assert (kib("VmHWM") - base) * 1024 < size / 5, (kib("VmHWM") - base, size)


def _ranged_signature(a, la, b, lb, algorithm="sha256"):
    """What verifier.verify._FileDigest reads of an embedded signature."""
    from types import SimpleNamespace

    return SimpleNamespace(byte_range=(a, la, b, lb), external_md_algorithm=algorithm, external_digests={})


def _range_digest(data: bytes, signature) -> bytes:
    import hashlib

    a, la, b, lb = signature.byte_range
    return hashlib.new(signature.external_md_algorithm, data[a:a + la] + data[b:b + lb]).digest()


def test_one_read_of_a_large_file_serves_every_range_whenever_it_is_asked_for(monkeypatch):
    """verifier.verify._FileDigest over 4 MiB: a range asked for before the reading thread reaches
    its start is served from a copy of the thread's state, the ranges of all those asked for after
    it passed are hashed together in one more pass (not one pass each: a file may hold hundreds of
    signatures), two ranges starting at the same offset each get their own state; every digest, and
    the file's own, is exactly hashlib's."""
    import hashlib
    import random
    from verifier.verify import _FileDigest

    data = random.Random(15).randbytes(9 * 1024 * 1024 + 123)
    sig, expected = _ranged_signature, functools.partial(_range_digest, data)
    passes = []
    prefix_states = _FileDigest._prefix_states
    monkeypatch.setattr(_FileDigest, "_prefix_states",
                        staticmethod(lambda view, forks: passes.append([f[0] for f in forks])
                                     or prefix_states(view, forks)))

    for wait_first in (False, True):
        passes.clear()
        digest = _FileDigest(data)
        assert digest.in_background
        if wait_first:
            assert digest.hexdigest() == hashlib.sha256(data).hexdigest()   # the thread passed every offset
        signatures = [sig(0, 8_000_000, 8_020_000, len(data) - 8_020_000), sig(0, 8_000_000, 8_000_100, 50),
                      sig(0, 1000, 3000, 500), sig(0, len(data), len(data), 0), sig(10, 100, 200, 10),
                      sig(0, 4_194_304, 4_194_400, 1000, algorithm="sha512")]
        digest.with_signatures(signatures)
        for s in signatures:
            assert s.external_digests[s.external_md_algorithm] == expected(s), (wait_first, s.byte_range)
        assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
        if wait_first:   # every offset passed: one more pass serves the four SHA-256 signatures
            assert passes == [[1000, 8_000_000, 8_000_000, len(data)]]
        else:
            assert len(passes) == 1
    small = data[:1024 * 1024]   # under 4 MiB: one pass here gives every range and the file's hash
    passes.clear()
    digest = _FileDigest(small)
    assert not digest.in_background
    signatures = [sig(0, 500_000, 510_000, 100), sig(0, 1000, 2000, 10), sig(0, len(small), len(small), 0)]
    digest.with_signatures(signatures)
    assert passes == [[1000, 500_000, len(small)]] and digest.hexdigest() == hashlib.sha256(small).hexdigest()
    assert all(s.external_digests["sha256"] == _range_digest(small, s) for s in signatures)
