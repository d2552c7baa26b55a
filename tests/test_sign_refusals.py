"""Before signing, Kyso refuses what must not be signed, each with its own stable code,
and leaves no partial output behind."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pikepdf
import pytest

from devpki import DevPKI
from kyso.samples import make_pdf
from signer import Level, Pkcs11Token, SignRequest, SigningEngine, SigningError, SigningPolicy, SoftwareKeyHolder
from signer.errors import KeyUnavailable


def code_of(call) -> str:
    with pytest.raises(SigningError) as info:
        call()
    return info.value.code


@pytest.fixture(scope="module")
def good(pki):
    return SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")


def encrypted_pdf() -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(make_pdf(pages=1))) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="chu", user="", R=6))
    return out.getvalue()


def wrong_startxref(data: bytes) -> bytes:
    head, _, tail = data.rpartition(b"startxref")
    number = tail.split()[0]
    return head + b"startxref\n" + str(int(number) - 7).encode() + b"\n%%EOF\n"


def broken_xref_entry(data: bytes) -> bytes:
    """An xref table whose first in-use entry points 3 bytes off its object."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        out = io.BytesIO()
        pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable, qdf=False)
    raw = out.getvalue()
    start = raw.rindex(b"\nxref\n") + 1
    table = raw[start:]
    lines = table.split(b"\n")
    for i, line in enumerate(lines):
        if line.endswith(b" 00000 n ") or line.endswith(b" 00000 n"):
            offset = int(line[:10])
            lines[i] = b"%010d" % (offset + 3) + line[10:]
            break
    return raw[:start] + b"\n".join(lines)


@pytest.mark.parametrize("document, code", [
    (b"", "not_pdf"),
    ("Công văn số 125/UBND-VP\n".encode("utf-8"), "not_pdf"),
    (b"\x89PNG\r\n\x1a\n" + bytes(200), "not_pdf"),
    (encrypted_pdf(), "pdf_encrypted"),
    (make_pdf(pages=2)[:700], "pdf_malformed"),
    (wrong_startxref(make_pdf(pages=2)), "pdf_malformed"),
    (broken_xref_entry(make_pdf(pages=2)), "pdf_malformed"),
], ids=["empty", "text", "png", "encrypted", "truncated", "wrong-startxref", "xref-entry-off-by-3"])
def test_refuses_documents_it_must_not_sign(engine, good, document, code, tmp_path):
    target = tmp_path / "out.pdf"
    assert code_of(lambda: engine.sign(SignRequest(document=document, level=Level.B_B),
                                       key_holder=good, output=target)) == code
    assert list(tmp_path.iterdir()) == [], "a refused signature must leave no file behind"


@pytest.mark.parametrize("label, code", [
    ("official-revoked", "certificate_revoked"),       # asked of the live OCSP responder
    ("official-expired", "certificate_expired"),
    ("official-not-yet-valid", "certificate_not_yet_valid"),
    ("official-no-nr", "certificate_key_usage"),
    ("untrusted-self-signed", "certificate_untrusted"),
])
def test_refuses_certificates_it_must_not_use(engine, pki, sample_pdf, label, code):
    holder = SoftwareKeyHolder.from_dev_pki(pki, label)
    assert code_of(lambda: engine.sign(SignRequest(document=sample_pdf, level=Level.B_B),
                                       key_holder=holder)) == code


def test_revoked_certificate_refused_through_pkcs11_too(engine, pki, pkcs11_token, sample_pdf):
    # the SoftHSM token holds every official, the revoked one included
    holder = pkcs11_token.key_holder("official-revoked", chain=pki.chain("official-revoked"))
    assert code_of(lambda: engine.sign(SignRequest(document=sample_pdf, level=Level.B_B),
                                       key_holder=holder)) == "certificate_revoked"


def test_time_is_injectable_and_expiry_follows_it(pki, good, sample_pdf):
    later = SigningEngine.for_dev_pki(pki, clock=lambda: datetime(2041, 1, 1, tzinfo=timezone.utc))
    assert code_of(lambda: later.sign(SignRequest(document=sample_pdf, level=Level.B_B),
                                      key_holder=good)) == "certificate_expired"


def test_unreachable_ocsp_refuses_instead_of_signing(sample_pdf):
    # the same dev PKI, but its OCSP/CRL URLs point at a port where nothing listens
    dead = DevPKI.load("http://127.0.0.1:9/dev-pki")
    engine = SigningEngine.for_dev_pki(dead)
    holder = SoftwareKeyHolder.from_dev_pki(dead, "nguyen-van-an")
    assert code_of(lambda: engine.sign(SignRequest(document=sample_pdf, level=Level.B_B),
                                       key_holder=holder)) == "revocation_unavailable"


def test_unreachable_tsa_fails_b_t_clearly(pki, good, sample_pdf, tmp_path):
    engine = SigningEngine.for_dev_pki(pki, tsa_url="http://127.0.0.1:9/tsa")
    target = tmp_path / "out.pdf"
    assert code_of(lambda: engine.sign(SignRequest(document=sample_pdf, level=Level.B_T),
                                       key_holder=good, output=target)) == "tsa_unavailable"
    assert not target.exists()
    # B-B needs no TSA and still works
    assert engine.sign(SignRequest(document=sample_pdf, level=Level.B_B), key_holder=good).size > len(sample_pdf)


def test_no_tsa_configured_refuses_b_t(pki, good, sample_pdf):
    engine = SigningEngine.for_dev_pki(pki, tsa_url=None)
    assert code_of(lambda: engine.sign(SignRequest(document=sample_pdf, level=Level.B_LT),
                                       key_holder=good)) == "tsa_unavailable"


def test_wrong_pkcs12_passphrase(pki):
    p12 = pki.pkcs12_bytes("nguyen-van-an", b"dung")
    assert code_of(lambda: SoftwareKeyHolder.from_pkcs12(p12, passphrase="sai")) == "key_passphrase_invalid"


def test_signed_field_is_not_signed_again(engine, good, sample_pdf):
    once = engine.sign(SignRequest(document=sample_pdf, field="ChuKyChuTich", level=Level.B_B), key_holder=good)
    assert code_of(lambda: engine.sign(SignRequest(document=once.data, field="ChuKyChuTich", level=Level.B_B),
                                       key_holder=good)) == "signature_field_taken"
    # a second signature in a new field is fine
    twice = engine.sign(SignRequest(document=once.data, level=Level.B_B), key_holder=good)
    assert twice.field == "Signature2"


def test_missing_token_fails_closed(softhsm, pkcs11_token):
    assert code_of(lambda: Pkcs11Token.open(module=softhsm.module_path, token_label="no-such-token",
                                            pin=softhsm.user_pin)) == "key_unavailable"
    assert code_of(lambda: Pkcs11Token.open(module=softhsm.module_path, token_label=softhsm.token_label,
                                            pin="0000")) == "key_unavailable"
    with pytest.raises(KeyUnavailable):
        pkcs11_token.key_holder("no-such-key")


def test_closed_token_fails_closed(pki, softhsm, sample_pdf):
    engine = SigningEngine.for_dev_pki(pki)
    token = Pkcs11Token.open(module=softhsm.module_path, token_label=softhsm.token_label, pin=softhsm.user_pin)
    holder = token.key_holder("nguyen-van-an", chain=pki.chain("nguyen-van-an"))
    token.close()
    assert code_of(lambda: engine.sign(SignRequest(document=sample_pdf, level=Level.B_B),
                                       key_holder=holder)) == "key_unavailable"


def test_errors_carry_both_languages(engine, pki, sample_pdf):
    holder = SoftwareKeyHolder.from_dev_pki(pki, "official-revoked")
    with pytest.raises(SigningError) as info:
        engine.sign(SignRequest(document=sample_pdf, level=Level.B_B), key_holder=holder)
    body = info.value.to_dict()["error"]
    assert body["code"] == "certificate_revoked"
    assert "revoked" in body["message"]
    assert body["message_vi"] == "Chứng thư số của người ký đã bị thu hồi."
