"""`kyso sign` for people and scripts: dev identities, PKCS#12, PKCS#11, refusals."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from commands.main import main
from pdfcheck import pdfsig, pyhanko_statuses


@pytest.fixture()
def runner(pki_server, softhsm, monkeypatch):
    for var in list(__import__("os").environ):
        if var.startswith("KYSO_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("KYSO_DEV_PKI_URL", pki_server.base_url)
    monkeypatch.setenv("KYSO_PKCS11_MODULE", softhsm.module_path)
    monkeypatch.setenv("KYSO_PKCS11_TOKEN", softhsm.token_label)
    monkeypatch.setenv("KYSO_PKCS11_PIN", softhsm.user_pin)
    return CliRunner()


@pytest.fixture()
def doc(tmp_path, sample_pdf):
    path = tmp_path / "quyet-dinh.pdf"
    path.write_bytes(sample_pdf)
    return path


def test_sign_with_dev_identity(runner, doc, tmp_path, pki, nssdb):
    out = tmp_path / "signed.pdf"
    result = runner.invoke(main, ["sign", str(doc), str(out), "--signer", "nguyen-van-an", "--level", "B-LT",
                                  "--reason", "Ký ban hành", "--location", "Hưng Yên"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["level"] == "B-LT" and summary["field"] == "Signature1"
    assert "Nguyễn Văn An" in summary["signer"]["subject"]
    signed = out.read_bytes()
    assert pyhanko_statuses(signed, pki.trust_roots())[0].bottom_line
    assert pdfsig(signed, nssdb)[0].valid


def test_sign_with_pkcs12_passphrase_from_environment(runner, doc, tmp_path, pki, monkeypatch):
    p12 = tmp_path / "le-hoang-phuc.p12"
    p12.write_bytes(pki.pkcs12_bytes("le-hoang-phuc", b"bi-mat"))
    monkeypatch.setenv("KYSO_PKCS12_PASSPHRASE", "bi-mat")
    out = tmp_path / "signed.pdf"
    result = runner.invoke(main, ["sign", str(doc), str(out), "--pkcs12", str(p12), "--level", "B-T",
                                  "--rsa-padding", "pss"])
    assert result.exit_code == 0, result.output
    status = pyhanko_statuses(out.read_bytes(), pki.trust_roots())[0]
    assert status.bottom_line and status.pkcs7_signature_mechanism == "rsassa_pss"


def test_sign_with_pkcs12_passphrase_prompt(runner, doc, tmp_path, pki):
    p12 = tmp_path / "a.p12"
    p12.write_bytes(pki.pkcs12_bytes("nguyen-van-an", b"hoi-nhap"))
    out = tmp_path / "signed.pdf"
    result = runner.invoke(main, ["sign", str(doc), str(out), "--pkcs12", str(p12), "--level", "B-B"],
                           input="hoi-nhap\n")
    assert result.exit_code == 0, result.output
    assert "hoi-nhap" not in result.stdout


def test_wrong_pkcs12_passphrase_is_a_clear_error(runner, doc, tmp_path, pki, monkeypatch):
    p12 = tmp_path / "a.p12"
    p12.write_bytes(pki.pkcs12_bytes("nguyen-van-an", b"dung"))
    monkeypatch.setenv("KYSO_PKCS12_PASSPHRASE", "sai")
    result = runner.invoke(main, ["sign", str(doc), str(tmp_path / "o.pdf"), "--pkcs12", str(p12)])
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["code"] == "key_passphrase_invalid"


def test_sign_with_pkcs11_label(runner, doc, tmp_path, pki, pkcs11_token):
    out = tmp_path / "signed.pdf"
    result = runner.invoke(main, ["sign", str(doc), str(out), "--pkcs11-label", "agency-ubnd-hung-yen",
                                  "--level", "B-T"])
    assert result.exit_code == 0, result.output
    status = pyhanko_statuses(out.read_bytes(), pki.trust_roots())[0]
    assert status.bottom_line
    assert status.signing_cert.subject.native["organization_name"] == "UBND tỉnh Hưng Yên"


def test_refusal_exits_1_with_json_and_no_file(runner, doc, tmp_path):
    out = tmp_path / "signed.pdf"
    result = runner.invoke(main, ["sign", str(doc), str(out), "--signer", "official-revoked", "--level", "B-B"])
    assert result.exit_code == 1
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "certificate_revoked"
    assert error["message_vi"] == "Chứng thư số của người ký đã bị thu hồi."
    assert not out.exists()


@pytest.mark.parametrize("args", [
    ["--signer", "nguyen-van-an", "--pkcs11-label", "x"],
    [],
    ["--signer", "nobody-at-all"],
    ["--signer", "nguyen-van-an", "--level", "B-Z"],
])
def test_usage_errors_exit_2(runner, doc, tmp_path, args):
    result = runner.invoke(main, ["sign", str(doc), str(tmp_path / "o.pdf"), *args])
    assert result.exit_code == 2, result.output


def test_sign_starts_the_dev_pki_when_nothing_serves_it(runner, doc, tmp_path, monkeypatch):
    """A new user runs `kyso sign` without the service: the dev PKI comes up for the command."""
    import socket

    from devpki import DevPKI

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/dev-pki"
    monkeypatch.setenv("KYSO_DEV_PKI_URL", url)
    out = tmp_path / "signed.pdf"
    result = runner.invoke(main, ["sign", str(doc), str(out), "--signer", "pham-thu-ha", "--level", "B-T"])
    assert result.exit_code == 0, result.output
    status = pyhanko_statuses(out.read_bytes(), DevPKI.load(url).trust_roots())[0]
    assert status.intact and status.valid and status.timestamp_validity.valid


PRODUCTION = {"KYSO_MODE": "production", "KYSO_SECRET_KEY": "p" * 40, "KYSO_PKCS11_TOKEN": "hsm-ubnd",
              "KYSO_PKCS11_PIN": "a-real-pin", "KYSO_TSA_URL": "http://127.0.0.1:9/tsa",
              "KYSO_AUDIT_KEY": "k" * 40}


def other_root_pem(tmp_path):
    """A trust anchor that is not development material."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some Province Root CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=9))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp_path / "root.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_production_refuses_a_dev_certificate(runner, doc, tmp_path, pki, monkeypatch):
    monkeypatch.delenv("KYSO_DEV_PKI_URL")
    for var, value in PRODUCTION.items():
        monkeypatch.setenv(var, value)
    p12 = tmp_path / "dev.p12"
    p12.write_bytes(pki.pkcs12_bytes("nguyen-van-an", b"x"))
    monkeypatch.setenv("KYSO_PKCS12_PASSPHRASE", "x")
    out = tmp_path / "o.pdf"
    result = runner.invoke(main, ["sign", str(doc), str(out), "--pkcs12", str(p12), "--level", "B-B",
                                  "--trust", str(other_root_pem(tmp_path))])
    assert result.exit_code == 1, result.output
    assert json.loads(result.stderr)["error"]["code"] == "certificate_dev_material"
    assert not out.exists()


def test_production_refuses_dev_trust_anchors(runner, doc, tmp_path, pki, monkeypatch):
    from asn1crypto import pem

    monkeypatch.delenv("KYSO_DEV_PKI_URL")
    for var, value in PRODUCTION.items():
        monkeypatch.setenv(var, value)
    root = tmp_path / "dev-root.pem"
    root.write_bytes(pem.armor("CERTIFICATE", pki.identity("root-gov").certificate.dump()))
    p12 = tmp_path / "dev.p12"
    p12.write_bytes(pki.pkcs12_bytes("nguyen-van-an", b"x"))
    monkeypatch.setenv("KYSO_PKCS12_PASSPHRASE", "x")
    result = runner.invoke(main, ["sign", str(doc), str(tmp_path / "o.pdf"), "--pkcs12", str(p12),
                                  "--trust", str(root)])
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["code"] == "configuration_invalid"


def test_production_refuses_signing_with_a_dev_identity_label(runner, doc, tmp_path, monkeypatch):
    monkeypatch.delenv("KYSO_DEV_PKI_URL")
    for var, value in PRODUCTION.items():
        monkeypatch.setenv(var, value)
    result = runner.invoke(main, ["sign", str(doc), str(tmp_path / "o.pdf"), "--signer", "nguyen-van-an"])
    assert result.exit_code == 2
    assert "dev mode" in result.output
