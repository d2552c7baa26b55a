"""The development PKI (certs_dev/ + devpki/): real HTTP, real SoftHSM2, real pdfsig, no mocks."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp, pem, tsp, x509
from click.testing import CliRunner
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from devpki import DevPKI, DevPKIError, UnknownIdentityError, is_dev_material
from devpki.cli import dev_pki as dev_pki_cli
from devpki.softhsm import provision_token
from devpki.testing import tiny_pdf_bytes   # the dev PKI and token fixtures come from conftest (one per run)

REPO = Path(__file__).resolve().parent.parent
NOW = datetime.now(tz=timezone.utc)

EXPECTED = {
    # label: (role, state, hierarchy)
    "root-gov": ("ca", "good", "gov"),
    "ca-gov": ("ca", "good", "gov"),
    "root-public": ("ca", "good", "public"),
    "ca-public": ("ca", "good", "public"),
    "tsa": ("tsa", "good", "gov"),
    "nguyen-van-an": ("official", "good", "gov"),
    "tran-thi-bich-ngoc": ("official", "good", "gov"),
    "le-hoang-phuc": ("official", "good", "gov"),
    "pham-thu-ha": ("official", "good", "gov"),
    "official-revoked": ("official", "revoked", "gov"),
    "official-expired": ("official", "expired", "gov"),
    "official-not-yet-valid": ("official", "not-yet-valid", "gov"),
    "official-no-nr": ("official", "no-non-repudiation", "gov"),
    "agency-ubnd-hung-yen": ("agency", "good", "gov"),
    "agency-so-noi-vu-hung-yen": ("agency", "good", "gov"),
    "dang-thi-mai": ("official", "good", "public"),
    "agency-ubnd-nghe-an": ("agency", "good", "public"),
    "untrusted-self-signed": ("untrusted", "good", "self"),
}
CA_LABELS = ("root-gov", "ca-gov", "root-public", "ca-public")


def _ext(cert: x509.Certificate, name: str):
    for ext in cert["tbs_certificate"]["extensions"]:
        if ext["extn_id"].native == name:
            return ext
    return None


def _pyca(cert: x509.Certificate) -> pyca_x509.Certificate:
    return pyca_x509.load_der_x509_certificate(cert.dump())


def _verify_sig(issuer: x509.Certificate, signature: bytes, data: bytes, hash_name: str) -> None:
    """Raise if ``signature`` over ``data`` is not by ``issuer``'s key (PKCS#1 v1.5 or ECDSA)."""
    pub = _pyca(issuer).public_key()
    hash_algo = getattr(hashes, hash_name.upper())()
    if isinstance(pub, rsa.RSAPublicKey):
        pub.verify(signature, data, padding.PKCS1v15(), hash_algo)
    else:
        pub.verify(signature, data, ec.ECDSA(hash_algo))


# ----------------------------------------------------------------------------- identities
def test_every_required_identity_exists_with_role_state_and_hierarchy(dev_pki):
    got = {i.label: (i.role, i.state, i.hierarchy) for i in dev_pki.identities}
    for label, expected in EXPECTED.items():
        assert got.get(label) == expected, label
    # one OCSP responder per CA, each with its own delegated certificate
    responders = dev_pki.select(role="ocsp-responder")
    assert {i.issuer_label for i in responders} == set(CA_LABELS)
    assert len(dev_pki.select(role="official", state="good", hierarchy="gov")) >= 4
    assert len(dev_pki.select(role="agency", hierarchy="gov")) >= 2


def test_unknown_label_raises_a_clear_lookup_error(dev_pki):
    with pytest.raises(LookupError) as err:
        dev_pki.identity("nguyen-van-b")
    assert isinstance(err.value, UnknownIdentityError)
    assert "nguyen-van-b" in str(err.value) and "nguyen-van-an" in str(err.value)
    with pytest.raises(LookupError):
        dev_pki.private_key("nobody")


def test_vietnamese_names_are_intact_in_the_certificate_bytes(dev_pki):
    an = _pyca(dev_pki.certificate("nguyen-van-an")).subject
    oid = pyca_x509.oid.NameOID
    assert an.get_attributes_for_oid(oid.COMMON_NAME)[0].value == "Nguyễn Văn An"
    assert an.get_attributes_for_oid(oid.TITLE)[0].value == "Chủ tịch"
    assert an.get_attributes_for_oid(oid.ORGANIZATION_NAME)[0].value == "UBND tỉnh Hưng Yên"
    assert an.get_attributes_for_oid(oid.STATE_OR_PROVINCE_NAME)[0].value == "Hưng Yên"
    assert an.get_attributes_for_oid(oid.COUNTRY_NAME)[0].value == "VN"
    # encoded as UTF8String, precomposed (NFC) as typed
    assert "Nguyễn Văn An".encode("utf-8") in dev_pki.certificate("nguyen-van-an").dump()
    assert dev_pki.identity("tran-thi-bich-ngoc").display_name == "Trần Thị Bích Ngọc"
    assert dev_pki.identity("tran-thi-bich-ngoc").title == "Phó Chủ tịch"
    assert dev_pki.identity("le-hoang-phuc").display_name == "Lê Hoàng Phúc"
    assert dev_pki.identity("pham-thu-ha").display_name == "Phạm Thu Hà"
    # agency certificates name the agency, no person, no title
    for label, name in (("agency-ubnd-hung-yen", "UBND tỉnh Hưng Yên"),
                        ("agency-so-noi-vu-hung-yen", "Sở Nội vụ tỉnh Hưng Yên")):
        ident = dev_pki.identity(label)
        assert ident.display_name == name and ident.organization == name and ident.title is None
    assert dev_pki.identity("nguyen-van-an").subject.startswith("CN=Nguyễn Văn An, T=Chủ tịch")


def test_key_algorithms_are_mixed_and_cas_are_rsa(dev_pki):
    officials = dev_pki.select(role="official", state="good", hierarchy="gov")
    assert {"rsa2048", "ecdsa-p256"} <= {i.key_algorithm for i in officials}
    assert {i.key_algorithm for i in dev_pki.select(role="agency")} >= {"rsa2048", "ecdsa-p256"}
    for ident in dev_pki.select(role="ca"):
        assert ident.key_algorithm.startswith("rsa"), ident.label
    assert dev_pki.identity("tsa").key_algorithm == "rsa2048"
    # the private key matches the certificate
    for ident in dev_pki.identities:
        key = dev_pki.private_key(ident.label)
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert spki == ident.certificate.public_key.dump(), ident.label
    pem_bytes = dev_pki.private_key_pem("tran-thi-bich-ngoc")
    assert pem_bytes.startswith(b"-----BEGIN PRIVATE KEY-----")  # unencrypted PKCS#8


def test_key_usage_profiles(dev_pki):
    for ident in dev_pki.identities:
        if ident.role not in ("official", "agency", "untrusted"):
            continue
        ku = _ext(ident.certificate, "key_usage")
        assert ku["critical"].native is True
        want = {"digital_signature"} if ident.state == "no-non-repudiation" else {
            "digital_signature", "non_repudiation"}
        assert ku["extn_value"].native == want, ident.label
        assert _ext(ident.certificate, "basic_constraints") is None
    tsa = dev_pki.certificate("tsa")
    eku = _ext(tsa, "extended_key_usage")
    assert eku["critical"].native is True and eku["extn_value"].native == ["time_stamping"]
    for label in CA_LABELS:
        bc = _ext(dev_pki.certificate(label), "basic_constraints")
        assert bc["critical"].native and bc["extn_value"].native["ca"] is True


def test_validity_windows(dev_pki):
    def window(label):
        v = dev_pki.certificate(label)["tbs_certificate"]["validity"].native
        return v["not_before"], v["not_after"]

    nb, na = window("official-expired")
    assert na.year == 2024 and na < NOW
    nb, na = window("official-not-yet-valid")
    assert nb.year == 2040 and nb > NOW
    for label in ("nguyen-van-an", "tran-thi-bich-ngoc", "agency-ubnd-hung-yen", "dang-thi-mai"):
        nb, na = window(label)
        assert (nb.year, na.year) == (2025, 2035) and nb < NOW < na
    for label in CA_LABELS:
        nb, na = window(label)
        assert (nb.year, na.year) == (2020, 2050)


def test_chains_and_trust_roots(dev_pki):
    def cns(certs):
        return [c.subject.native["common_name"] for c in certs]

    assert cns(dev_pki.chain("nguyen-van-an")) == ["KYSO DEV Government CA", "KYSO DEV Root CA"]
    assert cns(dev_pki.chain("dang-thi-mai")) == ["KYSO DEV Public CA", "KYSO DEV Public Root CA"]
    assert dev_pki.chain("untrusted-self-signed") == []
    assert cns(dev_pki.trust_roots()) == ["KYSO DEV Root CA", "KYSO DEV Public Root CA"]
    self_signed = dev_pki.certificate("untrusted-self-signed")
    assert self_signed.issuer == self_signed.subject
    _verify_sig(self_signed, self_signed["signature_value"].native,
                self_signed["tbs_certificate"].dump(), self_signed["signature_algorithm"].hash_algo)


def test_service_urls_follow_the_base_url_and_roots_do_not(dev_pki):
    other = DevPKI.load("http://127.0.0.1:1/elsewhere")
    assert DevPKI.load("http://127.0.0.1:1/elsewhere/") is other  # cached, trailing / ignored
    for label in CA_LABELS[::2]:  # roots: no service URLs, identical bytes
        assert other.certificate(label).dump() == dev_pki.certificate(label).dump()
    assert other.certificate("ca-gov").dump() != dev_pki.certificate("ca-gov").dump()

    for ident in dev_pki.identities:
        if ident.role in ("ocsp-responder", "untrusted") or ident.label in ("root-gov", "root-public"):
            continue
        aia = _ext(ident.certificate, "authority_information_access")["extn_value"].native
        methods = {a["access_method"]: a["access_location"] for a in aia}
        assert methods["ocsp"] == dev_pki.ocsp_url(ident.issuer_label), ident.label
        assert methods["ca_issuers"] == dev_pki.ca_cert_url(ident.issuer_label)
        cdp = _ext(ident.certificate, "crl_distribution_points")["extn_value"].native
        assert cdp[0]["distribution_point"] == [dev_pki.crl_url(ident.issuer_label)]
        assert methods["ocsp"].startswith(dev_pki.base_url + "/")
    assert dev_pki.tsa_url.startswith(dev_pki.base_url + "/")


# ----------------------------------------------------------------------------- revocation over HTTP
def _ocsp_request(dev_pki, label) -> ocsp.OCSPRequest:
    cert = dev_pki.certificate(label)
    issuer = dev_pki.chain(label)[0]
    cert_id = ocsp.CertId({
        "hash_algorithm": {"algorithm": "sha1"},
        "issuer_name_hash": hashlib.sha1(cert.issuer.dump()).digest(),
        "issuer_key_hash": issuer.public_key.sha1,
        "serial_number": cert.serial_number,
    })
    return ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": cert_id}]}})


def _check_ocsp_response(dev_pki, label, body: bytes) -> dict:
    resp = ocsp.OCSPResponse.load(body)
    assert resp["response_status"].native == "successful"
    basic = resp["response_bytes"]["response"].parsed
    responder = basic["certs"][0]
    issuer = dev_pki.chain(label)[0]
    # delegated responder: issued by the CA, EKU OCSPSigning, response signed by it
    _verify_sig(issuer, responder["signature_value"].native,
                responder["tbs_certificate"].dump(), responder["signature_algorithm"].hash_algo)
    assert "ocsp_signing" in _ext(responder, "extended_key_usage")["extn_value"].native
    _verify_sig(responder, basic["signature"].native, basic["tbs_response_data"].dump(),
                basic["signature_algorithm"].hash_algo)
    produced_at = basic["tbs_response_data"]["produced_at"]
    assert b"." not in produced_at.contents  # whole seconds: NSS rejects fractions
    single = basic["tbs_response_data"]["responses"][0]
    assert single["cert_id"]["serial_number"].native == dev_pki.certificate(label).serial_number
    return single["cert_status"]


def test_ocsp_over_http_reports_revoked_and_good(dev_pki):
    req = _ocsp_request(dev_pki, "official-revoked").dump()
    r = requests.post(dev_pki.ocsp_url("ca-gov"), data=req,
                      headers={"Content-Type": "application/ocsp-request"}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/ocsp-response"
    status = _check_ocsp_response(dev_pki, "official-revoked", r.content)
    assert status.name == "revoked"
    assert status.chosen["revocation_time"].native == datetime(2025, 6, 1, tzinfo=timezone.utc)
    assert status.chosen["revocation_reason"].native == "key_compromise"

    for label in ("nguyen-van-an", "official-expired", "dang-thi-mai", "ca-gov"):
        issuer_label = dev_pki.identity(label).issuer_label
        r = requests.post(dev_pki.ocsp_url(issuer_label), data=_ocsp_request(dev_pki, label).dump(),
                          headers={"Content-Type": "application/ocsp-request"}, timeout=10)
        assert _check_ocsp_response(dev_pki, label, r.content).name == "good", label


def test_ocsp_rfc6960_get_form(dev_pki):
    der = _ocsp_request(dev_pki, "official-revoked").dump()
    b64 = requests.utils.quote(base64.b64encode(der).decode("ascii"), safe="")
    r = requests.get(f"{dev_pki.ocsp_url('ca-gov')}/{b64}", timeout=10)
    assert r.status_code == 200
    assert _check_ocsp_response(dev_pki, "official-revoked", r.content).name == "revoked"


def test_crl_fetched_over_http_lists_the_revoked_certificate(dev_pki):
    cert = dev_pki.certificate("official-revoked")
    url = _ext(cert, "crl_distribution_points")["extn_value"].native[0]["distribution_point"][0]
    r = requests.get(url, timeout=10)
    assert r.status_code == 200
    crl = asn1_crl.CertificateList.load(r.content)
    ca = dev_pki.certificate("ca-gov")
    _verify_sig(ca, crl["signature"].native, crl["tbs_cert_list"].dump(), crl["signature_algorithm"].hash_algo)
    assert crl.issuer == ca.subject
    revoked = {rc["user_certificate"].native: rc for rc in crl["tbs_cert_list"]["revoked_certificates"]}
    entry = revoked[cert.serial_number]
    assert entry["revocation_date"].native == datetime(2025, 6, 1, tzinfo=timezone.utc)
    assert entry.crl_reason_value.native == "key_compromise"
    assert dev_pki.certificate("nguyen-van-an").serial_number not in revoked
    tbs = crl["tbs_cert_list"]
    assert tbs["this_update"].native <= NOW < tbs["next_update"].native


def test_every_ca_publishes_crl_ocsp_and_its_certificate(dev_pki):
    for label in CA_LABELS:
        ca = dev_pki.certificate(label)
        crl = asn1_crl.CertificateList.load(requests.get(dev_pki.crl_url(label), timeout=10).content)
        _verify_sig(ca, crl["signature"].native, crl["tbs_cert_list"].dump(), crl["signature_algorithm"].hash_algo)
        fetched = requests.get(dev_pki.ca_cert_url(label), timeout=10)
        assert fetched.content == ca.dump()
    # OCSP for a root: ask the gov root about its sub-CA
    r = requests.post(dev_pki.ocsp_url("root-public"), data=_ocsp_request(dev_pki, "ca-public").dump(),
                      headers={"Content-Type": "application/ocsp-request"}, timeout=10)
    assert _check_ocsp_response(dev_pki, "ca-public", r.content).name == "good"
    # mounted under /dev-pki: other paths are not served
    assert requests.get(dev_pki.crl_url("ca-gov").replace("/dev-pki/", "/"), timeout=10).status_code == 404


def test_pyhanko_certvalidator_fetches_revocation_info(dev_pki):
    import asyncio

    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import (
        InvalidCertificateError,
        RevokedError,
    )

    def validator(label, mode="hard-fail"):
        vc = ValidationContext(trust_roots=dev_pki.trust_roots(), allow_fetching=True,
                               revocation_mode=mode)
        # no intermediates given: the sub-CA is fetched through AIA caIssuers
        cv = CertificateValidator(dev_pki.certificate(label), validation_context=vc)

        class _Sync:
            def validate_usage(self, usage):
                return asyncio.run(cv.async_validate_usage(usage))

        return _Sync()

    path = validator("nguyen-van-an").validate_usage({"non_repudiation"})
    assert path.first.subject.native["common_name"] == "KYSO DEV Root CA"
    validator("dang-thi-mai").validate_usage({"non_repudiation"})
    with pytest.raises(RevokedError):
        validator("official-revoked").validate_usage({"non_repudiation"})
    with pytest.raises(InvalidCertificateError):
        validator("official-no-nr").validate_usage({"non_repudiation"})
    with pytest.raises(InvalidCertificateError, match="self-signed"):
        validator("untrusted-self-signed", "soft-fail").validate_usage({"non_repudiation"})


# ----------------------------------------------------------------------------- TSA
def test_tsa_answers_a_real_rfc3161_request(dev_pki):
    digest = hashlib.sha256(b"Quyet dinh so 16/QD-UBND").digest()
    nonce = int.from_bytes(os.urandom(8), "big")
    req = tsp.TimeStampReq({
        "version": 1,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": nonce,
        "cert_req": True,
    })
    r = requests.post(dev_pki.tsa_url, data=req.dump(),
                      headers={"Content-Type": "application/timestamp-query"}, timeout=10)
    assert r.status_code == 200
    resp = tsp.TimeStampResp.load(r.content)
    assert resp["status"]["status"].native == "granted"
    signed = resp["time_stamp_token"]["content"]
    tst = signed["encap_content_info"]["content"].parsed
    assert tst["message_imprint"]["hashed_message"].native == digest
    assert tst["nonce"].native == nonce
    assert abs((tst["gen_time"].native - datetime.now(tz=timezone.utc)).total_seconds()) < 120
    certs = [c.chosen for c in signed["certificates"]]
    tsa = dev_pki.certificate("tsa")
    assert tsa.dump() in [c.dump() for c in certs]
    signer_info = signed["signer_infos"][0]
    signed_attrs = signer_info["signed_attrs"]
    digests = {a["type"].native: a["values"][0].native for a in signed_attrs}
    assert digests["message_digest"] == hashlib.sha256(tst.dump()).digest()
    _verify_sig(tsa, signer_info["signature"].native, signed_attrs.untag().dump(),
                signer_info["digest_algorithm"]["algorithm"].native)


# ----------------------------------------------------------------------------- PKCS#12 and export
def test_pkcs12_round_trips_with_the_passphrase_only(dev_pki):
    for label in ("nguyen-van-an", "tran-thi-bich-ngoc"):
        blob = dev_pki.pkcs12_bytes(label, b"mat-khau-123")
        key, cert, cas = pkcs12.load_key_and_certificates(blob, b"mat-khau-123")
        assert cert.public_bytes(serialization.Encoding.DER) == dev_pki.certificate(label).dump()
        assert key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) == dev_pki.certificate(label).public_key.dump()
        assert [c.public_bytes(serialization.Encoding.DER) for c in cas] == [
            c.dump() for c in dev_pki.chain(label)]
        for wrong in (b"wrong", None):
            with pytest.raises(ValueError):
                pkcs12.load_key_and_certificates(blob, wrong)
    with pytest.raises(DevPKIError):
        dev_pki.pkcs12_bytes("nguyen-van-an", b"")


def test_export_writes_ca_pem_bundles_and_one_p12_per_signer(dev_pki, tmp_path):
    written = dev_pki.export(tmp_path / "out", passphrase=b"kyso-dev")
    assert all(p.is_file() for p in written)
    rel = {p.relative_to(tmp_path / "out").as_posix() for p in written}
    signers = [i.label for i in dev_pki.identities if i.role in ("official", "agency", "untrusted")]
    assert {f"p12/{lbl}.p12" for lbl in signers} == {r for r in rel if r.startswith("p12/")}
    assert {f"ca/{lbl}.pem" for lbl in CA_LABELS} <= rel
    roots = list(pem.unarmor((tmp_path / "out" / "trust-roots.pem").read_bytes(), multiple=True))
    assert [der for _, _, der in roots] == [c.dump() for c in dev_pki.trust_roots()]
    bundle = list(pem.unarmor((tmp_path / "out" / "ca-bundle.pem").read_bytes(), multiple=True))
    assert len(bundle) == 4
    key, cert, _ = pkcs12.load_key_and_certificates(
        (tmp_path / "out" / "p12" / "le-hoang-phuc.p12").read_bytes(), b"kyso-dev")
    assert cert.subject.rfc4514_string().startswith("CN=Lê Hoàng Phúc")


# ----------------------------------------------------------------------------- dev material marker
def test_is_dev_material_recognises_dev_certs_only(dev_pki):
    for ident in dev_pki.identities:
        assert is_dev_material(ident.certificate), ident.label
        assert is_dev_material(ident.cert_pem) and is_dev_material(_pyca(ident.certificate))
    for ref in sorted((Path("/work/shared/reference/vn-trust")).glob("*.pem"))[:5]:
        assert not is_dev_material(ref.read_bytes()), ref.name

    # a certificate with an innocent name but a dev key is still dev material
    key = dev_pki.private_key("nguyen-van-an")
    name = pyca_x509.Name([pyca_x509.NameAttribute(pyca_x509.oid.NameOID.COMMON_NAME, "Nguyễn Văn An")])
    forged = (pyca_x509.CertificateBuilder().subject_name(name).issuer_name(name)
              .public_key(key.public_key()).serial_number(7)
              .not_valid_before(datetime(2025, 1, 1)).not_valid_after(datetime(2030, 1, 1))
              .sign(key, hashes.SHA256()))
    assert is_dev_material(forged)
    other_key = ec.generate_private_key(ec.SECP256R1())
    clean = (pyca_x509.CertificateBuilder().subject_name(name).issuer_name(name)
             .public_key(other_key.public_key()).serial_number(8)
             .not_valid_before(datetime(2025, 1, 1)).not_valid_after(datetime(2030, 1, 1))
             .sign(other_key, hashes.SHA256()))
    assert not is_dev_material(clean)


# ----------------------------------------------------------------------------- SoftHSM + pyHanko
def _sign_with_token(dev_pki, token, label, **signer_kwargs) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers, timestamps
    from pyhanko.sign.pkcs11 import PKCS11Signer

    with token.open_session() as session:
        signer = PKCS11Signer(session, **token.pkcs11_signer_kwargs(label), **signer_kwargs)
        writer = IncrementalPdfFileWriter(io.BytesIO(tiny_pdf_bytes("Kyso dev")))
        out = signers.sign_pdf(
            writer, signers.PdfSignatureMetadata(field_name="ChuKy1"), signer=signer,
            timestamper=timestamps.HTTPTimeStamper(dev_pki.tsa_url),
        )
    return out.getvalue()


def _validate(dev_pki, pdf: bytes):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    vc = ValidationContext(trust_roots=dev_pki.trust_roots(), allow_fetching=True,
                           revocation_mode="hard-fail")
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    return sig, validate_pdf_signature(sig, vc)


@pytest.mark.parametrize("label", ["nguyen-van-an", "tran-thi-bich-ngoc", "agency-ubnd-hung-yen"])
def test_pkcs11_signature_from_softhsm_validates_against_the_dev_root(dev_pki, softhsm_token, label):
    pdf = _sign_with_token(dev_pki, softhsm_token, label)
    sig, status = _validate(dev_pki, pdf)
    assert status.intact and status.valid and status.trusted and not status.revoked
    assert status.bottom_line
    assert status.signing_cert.dump() == dev_pki.certificate(label).dump()
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    # the chain came from the token
    embedded = {c.chosen.dump() for c in sig.signed_data["certificates"]}
    assert dev_pki.certificate("ca-gov").dump() in embedded


def test_pkcs11_rsassa_pss_signature_validates(dev_pki, softhsm_token):
    sig, status = _validate(
        dev_pki, _sign_with_token(dev_pki, softhsm_token, "le-hoang-phuc", prefer_pss=True))
    assert sig.signer_info["signature_algorithm"]["algorithm"].native == "rsassa_pss"
    assert status.bottom_line and status.trusted


def test_second_session_while_one_is_open_shares_the_login(dev_pki, softhsm_token):
    with softhsm_token.open_session() as held:  # e.g. a long-lived key holder elsewhere
        pdf = _sign_with_token(dev_pki, softhsm_token, "pham-thu-ha")
        assert len(list(held.get_objects())) > 0  # the held session survived
    assert _validate(dev_pki, pdf)[1].bottom_line


def test_pkcs11_signature_by_revoked_official_is_reported_revoked(dev_pki, softhsm_token):
    sig, status = _validate(dev_pki, _sign_with_token(dev_pki, softhsm_token, "official-revoked"))
    assert status.intact and status.revoked and not status.bottom_line


def test_softhsm_provisioning_is_idempotent(dev_pki, tmp_path):
    first = provision_token(dev_pki, tmp_path / "hsm", label="kyso-test", identities=["pham-thu-ha"],
                            include_ca_certs=False)
    second = provision_token(dev_pki, tmp_path / "hsm", label="kyso-test",
                             identities=["le-hoang-phuc", "pham-thu-ha"], include_ca_certs=False)
    assert first.conf_path == second.conf_path
    listing = subprocess.run(
        ["pkcs11-tool", "--module", second.module_path, "--token-label", "kyso-test", "--login",
         "--pin", "1234", "--list-objects"],
        env={**os.environ, **second.env}, capture_output=True, text=True, check=True,
    ).stdout
    assert listing.count("Private Key Object") == 2
    assert listing.count("Certificate Object") == 2
    tokens = subprocess.run(["softhsm2-util", "--show-slots"], env={**os.environ, **second.env},
                            capture_output=True, text=True, check=True).stdout
    assert tokens.count("kyso-test") == 1


# ----------------------------------------------------------------------------- independent client
def test_pdfsig_nss_fetches_ocsp_and_sees_trusted_and_revoked(dev_pki, softhsm_token, tmp_path):
    nss = tmp_path / "nss"
    nss.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True)
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(dev_pki.identity("root-gov").cert_pem)
    subprocess.run(["certutil", "-A", "-d", f"sql:{nss}", "-n", "kyso-dev-root", "-t", "C,C,C",
                    "-i", str(root_pem)], check=True)
    for label, expected in (("nguyen-van-an", "Certificate is Trusted."),
                            ("official-revoked", "Certificate has been Revoked.")):
        pdf = tmp_path / f"{label}.pdf"
        pdf.write_bytes(_sign_with_token(dev_pki, softhsm_token, label))
        out = subprocess.run(["pdfsig", "-nssdir", f"sql:{nss}", str(pdf)],
                             capture_output=True, text=True, timeout=60).stdout
        assert "Signature Validation: Signature is Valid." in out
        assert f"Certificate Validation: {expected}" in out, out


# ----------------------------------------------------------------------------- CLI
def test_cli_list_json_and_table_keep_vietnamese(dev_pki):
    runner = CliRunner()
    res = runner.invoke(dev_pki_cli, ["list", "--json", "--base-url", dev_pki.base_url])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    rows = {r["label"]: r for r in data["identities"]}
    assert rows["nguyen-van-an"]["display_name"] == "Nguyễn Văn An"
    assert rows["official-revoked"]["state"] == "revoked"
    res = runner.invoke(dev_pki_cli, ["list"], env={"KYSO_DEV_PKI_URL": dev_pki.base_url})
    assert res.exit_code == 0
    line = next(ln for ln in res.output.splitlines() if ln.startswith("tran-thi-bich-ngoc"))
    assert "ecdsa-p256" in line and "Trần Thị Bích Ngọc" in line


def test_cli_export_uses_passphrase_from_env(dev_pki, tmp_path):
    res = CliRunner().invoke(
        dev_pki_cli, ["export", str(tmp_path / "x"), "--passphrase-env", "MY_P12_PASS"],
        env={"MY_P12_PASS": "bi-mat", "KYSO_DEV_PKI_URL": dev_pki.base_url},
    )
    assert res.exit_code == 0, res.output
    p12 = tmp_path / "x" / "p12" / "agency-ubnd-hung-yen.p12"
    assert str(p12) in res.output
    pkcs12.load_key_and_certificates(p12.read_bytes(), b"bi-mat")
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(p12.read_bytes(), b"kyso-dev")


def test_the_committed_dev_roots_are_the_ones_the_dev_pki_builds():
    """``kyso verify`` under the dev profile reads the two roots from certs_dev/trust-roots.pem
    instead of building the PKI (0.7 s): they must be what the PKI builds, for any base URL.
    After a change to certs_dev: kyso dev-pki export --out DIR, then copy DIR/trust-roots.pem."""
    from devpki import DevPKI
    from devpki.roots import DevTrust

    committed = [c.dump() for c in DevTrust().trust_roots()]
    assert len(committed) == 2
    for url in ("http://127.0.0.1:8080/dev-pki", "http://127.0.0.1:50999/somewhere-else"):
        assert [c.dump() for c in DevPKI.load(url).trust_roots()] == committed, url


def test_kyso_verify_builds_no_dev_pki(kyso_cli, tmp_path):
    """An offline check under the dev profile: no certomancer build, no certomancer import."""
    import subprocess
    import sys

    probe = ("import sys; sys.argv = ['kyso', 'verify', '--offline', '--trust-profile', 'dev', sys.argv[1]]\n"
             "from commands.main import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "import devpki\n"
             "print('certomancer' in sys.modules, 'devpki.pki' in sys.modules)")
    from kyso.samples import make_pdf

    unsigned = tmp_path / "cong-van.pdf"
    unsigned.write_bytes(make_pdf())
    out = subprocess.run([sys.executable, "-c", probe, str(unsigned)], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip().splitlines()[-1] == "False False", out.stdout + out.stderr[-2000:]
