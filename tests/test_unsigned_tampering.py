"""Edits to the parts of a signed file that no signature covers: the validation-data update a
B-LT signature appends, and the unsigned fields of the signature container. Each is one byte or
one word, found by `make stress` bit flips that once came out valid; each must now be caught,
while the untouched file stays valid."""
from __future__ import annotations

import re

import pytest
from asn1crypto import cms, ocsp

from kyso.samples import make_pdf
from signer import Level, SignRequest, SoftwareKeyHolder
from verifier import VerificationPolicy, verify


@pytest.fixture(scope="module")
def policy(pki):
    return VerificationPolicy.for_profile("dev", dev_pki=pki)


def _sign(engine, pki, level):
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    return engine.sign(SignRequest(document=make_pdf(pages=2), level=level), key_holder=holder).data


@pytest.fixture(scope="module")
def blt(engine, pki):
    return _sign(engine, pki, Level.B_LT)


@pytest.fixture(scope="module")
def bt(engine, pki):
    return _sign(engine, pki, Level.B_T)


def _signed_end(data: bytes) -> int:
    a, la, b, lb = (int(x) for x in re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", data).groups())
    return b + lb


def _in_update(data: bytes, old: bytes, new: bytes, *, last: bool = False) -> bytes:
    """Replace ``old`` by ``new`` (same length) in the update written after the signature."""
    assert len(old) == len(new)
    start = _signed_end(data)
    at = data.rfind(old, start) if last else data.find(old, start)
    assert at >= start, old
    return data[:at] + new + data[at + len(old):]


def _contents(data: bytes) -> tuple[int, int]:
    m = re.search(rb"/Contents\s*<([0-9A-Fa-f]+)>", data)
    return m.start(1), m.end(1)


def _with_cms(data: bytes, edit) -> bytes:
    start, end = _contents(data)
    der = bytes.fromhex(data[start:end].decode())
    info = cms.ContentInfo.load(der)
    used = len(info.dump())
    new = edit(der[:used])
    assert len(new) == used
    hexed = new.hex().upper().encode()
    return data[:start] + hexed + data[start + len(hexed):]


def _verdict(data, policy):
    report = verify(data, policy=policy)
    text = " ".join([r.en for r in report.reasons] + [p.en for s in report.signatures for p in s.problems]
                    + [c.description for s in report.signatures for c in s.modifications_after]
                    + [s.reason.en for s in report.signatures])
    return report.verdict.value, text


def test_the_untouched_files_are_valid(blt, bt, policy):
    assert _verdict(blt, policy)[0] == "valid"
    assert _verdict(bt, policy)[0] == "valid"


@pytest.mark.parametrize("old, new, last, expected", [
    (b"65535 f", b"65537 f", True, "cross-reference entry is damaged"),
    (b" 00000 n \n", b" 00000 n(\n", True, "cross-reference entry is damaged"),
    (b"endobj\n", b"endob*\n", False, "does not end with 'endobj'"),
    (b"endobj\n", b"endobjJ", True, "unexpected bytes after 'endobj'"),
    (b"/Info", b"/Infp", True, "trailer has unknown entries"),
    (b"/ExtensionLevel", b"/ExtensionLavel", False, "developer extension"),
    (b"/OCSPs", b"/OCSP3", False, "validation data (DSS) is damaged"),
], ids=["xref-generation", "xref-marker", "endobj", "after-endobj", "trailer-key", "extensions", "dss-key"])
def test_edits_to_the_validation_data_update_are_caught(blt, policy, old, new, last, expected):
    verdict, text = _verdict(_in_update(blt, old, new, last=last), policy)
    assert verdict != "valid"
    assert expected in text, text


def test_an_altered_issuer_inside_an_ocsp_response_is_caught(blt, policy):
    start = _signed_end(blt)
    marker = start
    while True:   # the DSS's OCSP responses, in file order: the one whose responder the Government CA issued
        marker = blt.find(b"\x06\x09\x2b\x06\x01\x05\x05\x07\x30\x01\x01", marker + 1)   # id-pkix-ocsp-basic
        assert marker > 0, "no OCSP response with a responder certificate issued by the Government CA"
        body = blt.rfind(b"stream\n", start, marker) + len(b"stream\n")
        length = int(re.findall(rb"/Length (\d+)", blt[start:body])[-1])
        response = ocsp.OCSPResponse.load(blt[body:body + length])
        certs = response["response_bytes"]["response"].parsed["certs"]
        if certs and b"Government" in certs[0].issuer.dump():
            break
    issuer = certs[0].issuer.dump()
    at = blt.find(issuer, body)
    assert body <= at < body + length
    spot = at + issuer.find(b"Government")
    tampered = blt[:spot] + b"Govermment" + blt[spot + len(b"Government"):]
    verdict, text = _verdict(tampered, policy)
    assert verdict != "valid"
    assert "OCSP response has an unknown issuer" in text, text


def test_an_unknown_unsigned_attribute_is_not_ignored(bt, policy):
    """The signature timestamp attribute's OID altered: the timestamp silently disappears
    unless an attribute nobody can interpret makes the signature indeterminate."""
    oid = bytes.fromhex("060B2A864886F70D010910020E")

    def edit(der):
        assert der.count(oid) == 1
        return der.replace(oid, bytes.fromhex("060B2A844886F70D010910020E"))

    verdict, text = _verdict(_with_cms(bt, edit), policy)
    assert verdict == "indeterminate"
    assert "unsigned attribute" in text, text


def test_unsigned_fields_of_the_signer_info_are_checked(bt, policy):
    def version(der):
        info = cms.ContentInfo.load(der)
        sid = info["content"]["signer_infos"][0]["sid"].chosen.dump()
        at = der.find(sid)
        assert der[at - 3:at] == b"\x02\x01\x01"      # SignerInfo version 1 just before the sid
        return der[:at - 1] + b"\x21" + der[at:]

    def issuer(der):
        # a case change: X.520 name matching ignores case, so the signer is still found
        info = cms.ContentInfo.load(der)
        sid = info["content"]["signer_infos"][0]["sid"].chosen.dump()
        at = der.find(sid)
        spot = der.find(b"Government", at, at + len(sid))
        return der[:spot] + b"GovernmenT" + der[spot + len(b"Government"):]

    verdict, text = _verdict(_with_cms(bt, version), policy)
    assert verdict != "valid" and "version number" in text, text
    verdict, text = _verdict(_with_cms(bt, issuer), policy)
    assert verdict != "valid" and "signer identifier" in text, text


def test_a_damaged_crl_carried_in_the_container_is_not_ignored(bt, policy):
    """The container's own CRL set is unsigned and pyHanko never reads it: a damaged CRL there is
    an edit of the file, judged as a damaged container (not valid)."""
    from datetime import datetime, timedelta, timezone

    from asn1crypto import crl, x509

    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    issuer = x509.Name.build({"common_name": "CA"})
    good = crl.CertificateList({
        "tbs_cert_list": {"version": "v2", "signature": {"algorithm": "sha256_rsa"}, "issuer": issuer,
                          "this_update": x509.Time({"utc_time": now}),
                          "next_update": x509.Time({"utc_time": now + timedelta(days=7)})},
        "signature_algorithm": {"algorithm": "sha256_rsa"}, "signature": b"\x00" * 256}).dump()
    stamp = now.strftime("%y%m%d%H%M%SZ").encode()
    damaged = good.replace(stamp, b"X" * len(stamp), 1)
    assert damaged != good

    start, end = _contents(bt)
    der = bytes.fromhex(bt[start:end].decode())
    info = cms.ContentInfo.load(der)
    used = len(info.dump())
    info = cms.ContentInfo.load(der[:used])
    info["content"]["crls"] = [cms.RevocationInfoChoice(name="crl", value=crl.CertificateList.load(damaged))]
    new = info.dump(force=False)
    assert used < len(new) <= (end - start) // 2, "the CRL fits in the reserved space"
    hexed = new.hex().upper().encode()
    tampered = bt[:start] + hexed + b"0" * ((end - start) - len(hexed)) + bt[end:]
    verdict, text = _verdict(tampered, policy)
    assert verdict != "valid", text
    assert "cannot be read" in text, text
