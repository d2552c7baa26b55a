"""The fast hex-string and token readers give exactly what pyHanko's own readers give, errors included;
pyHanko extracts a signature's certificates once."""
from __future__ import annotations

import io
import random

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfStreamError

from hazmat import pyhanko_hexreader as pdfspeed


def outcome(reader, data: bytes):
    stream = io.BytesIO(data)
    try:
        value = reader(stream)
        return ("ok", type(value).__name__, bytes(value) if isinstance(value, generic.ByteStringObject)
                else str(value), stream.tell())
    except PdfStreamError as exc:
        return ("error", type(exc).__name__)


CASES = [b"<>", b"<41>", b"<4>", b"<41 42\n43>rest", b"<4 1\t4\r2\x00>", b"<zz>", b"<41%comment\n42>",
         b"<4142", b"<" + b"0" * 70000 + b">x", b"<" + b"ab" * 40000 + b"", b"<FEFF00410042>"]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_same_result_as_pyhanko(data):
    assert outcome(pdfspeed.read_hex_string_from_stream, data) == outcome(pdfspeed._original, data)


def test_same_result_on_random_strings():
    rng = random.Random(30)
    alphabet = b"0123456789abcdefABCDEF \n\r\t\f\x00%>gxyz<"
    for _ in range(2000):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        data = b"<" + body + (b">" if rng.random() < 0.8 else b"") + b" tail"
        assert outcome(pdfspeed.read_hex_string_from_stream, data) == outcome(pdfspeed._original, data), data


def test_certificates_extracted_once_per_signature_and_the_same_report(engine, pki, monkeypatch):
    """hazmat.pyhanko_certinfo: pyHanko extracts a signature's certificates once (it did twice per
    validation), and the report is the one stock pyHanko's extraction gives."""
    import hazmat
    from hazmat import pyhanko_certinfo
    from kyso.samples import make_pdf
    from signer import Level, SignRequest, SoftwareKeyHolder
    from verifier import VerificationPolicy, verify

    assert pyhanko_certinfo.installed()   # conftest installs every patch, as a worker does
    policy = VerificationPolicy.for_profile("dev", dev_pki=pki)
    document = make_pdf(pages=2)
    for label in ("nguyen-van-an", "le-hoang-phuc"):
        document = engine.sign(SignRequest(document=document, level=Level.B_T),
                               key_holder=SoftwareKeyHolder.from_dev_pki(pki, label)).data
    calls = []
    original = pyhanko_certinfo._original
    monkeypatch.setattr(pyhanko_certinfo, "_original", lambda sd: calls.append(sd) or original(sd))
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    patched = verify(document, policy=policy, now=now).to_dict()
    # two signatures, each with its timestamp token: four containers, each extracted once
    assert len(calls) == len({id(sd) for sd in calls}) == 4
    with hazmat.stock():
        assert not pyhanko_certinfo.installed()
        stock = verify(document, policy=policy, now=now).to_dict()
    assert pyhanko_certinfo.installed()
    for report in (patched, stock):
        report.pop("duration_ms")
    assert patched["verdict"] == "valid" and patched == stock


def test_certificates_of_a_container_are_the_shared_objects_of_the_same_encodings(engine, pki):
    """hazmat.pyhanko_certinfo.extract_certificate_info gives the signer's certificate and the others
    with exactly the bytes pyHanko's own gives, as the process's shared objects (pathcache); with the
    memory off, pyHanko's copies."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from hazmat import pyhanko_certinfo
    from kyso.samples import make_pdf
    from signer import Level, SignRequest, SoftwareKeyHolder
    from verifier import pathcache

    document = engine.sign(SignRequest(document=make_pdf(pages=1), level=Level.B_T),
                           key_holder=SoftwareKeyHolder.from_dev_pki(pki, "tran-thi-bich-ngoc")).data
    (sig,) = PdfFileReader(io.BytesIO(document)).embedded_signatures
    token = sig.signer_info["unsigned_attrs"][0]["values"][0]["content"]
    for signed_data in (sig.signed_data, token):
        ours, stock = pyhanko_certinfo.extract_certificate_info(signed_data), pyhanko_certinfo._original_info(signed_data)
        assert ours.signer_cert.dump() == stock.signer_cert.dump()
        assert [c.dump() for c in ours.other_certs] == [c.dump() for c in stock.other_certs]
        assert ours.attribute_certs == stock.attribute_certs == []
        assert ours.signer_cert is pathcache.shared_certificate(stock.signer_cert)
        with pathcache.paths_remembered(False):
            apart = pyhanko_certinfo.extract_certificate_info(signed_data)
        assert apart.signer_cert is not ours.signer_cert and apart.signer_cert.dump() == stock.signer_cert.dump()


def test_a_certificate_wrapped_in_a_ber_length_is_left_to_pyhanko(pki):
    """pyHanko validates the DER rewrite of a certificate whose outer length is written in BER
    (``untag()`` writes the header anew): such a certificate is not exchanged for the shared object
    of its own bytes (the foreign corpus's re-encoded intermediate showed another chain without this)."""
    from asn1crypto import x509

    from hazmat import pyhanko_certinfo

    der = pki.certificate("nguyen-van-an").dump()
    assert der[:2] == b"\x30\x82"
    ber = x509.Certificate.load(b"\x30\x83\x00" + der[2:])
    assert pyhanko_certinfo._der_header(x509.Certificate.load(der))
    assert not pyhanko_certinfo._der_header(ber)
    assert ber.untag().dump() == der and ber.dump() != der


def test_a_signing_certificate_attribute_match_is_remembered_a_mismatch_never(pki):
    from asn1crypto import tsp
    from pyhanko.sign.general import as_signing_certificate_v2

    from hazmat import pyhanko_certinfo

    cert, other = pki.certificate("nguyen-van-an"), pki.certificate("le-hoang-phuc")
    right = tsp.SigningCertificateV2.load(as_signing_certificate_v2(cert, "sha256").dump())["certs"][0]
    wrong = tsp.SigningCertificateV2.load(as_signing_certificate_v2(other, "sha256").dump())["certs"][0]
    pyhanko_certinfo._checked.clear()
    for _ in range(2):
        assert pyhanko_certinfo.check_ess_certid(cert, right) is True
        assert pyhanko_certinfo.check_ess_certid(cert, wrong) is False
        assert pyhanko_certinfo.check_ess_certid(other, right) is False
    assert len(pyhanko_certinfo._checked) == 1


def _token_outcome(reader, data: bytes, chars: bytes, maxchars):
    stream = io.BytesIO(data)
    stream.seek(1)
    return reader(chars, stream, maxchars=maxchars), stream.tell()


TOKEN_CASES = [b"/Name rest", b"/Name", b"x", b"/" + b"N" * 300 + b"/Next", b"/A#20B(", b"/A\x00B", b"/ ",
               b"12 0 R", b"1234567890123", b"/%comment", b"//", b"/A<</B>>", b"/\xfe\xff\x00", b"/" + b"x" * 129]


@pytest.mark.parametrize("data", TOKEN_CASES, ids=range(len(TOKEN_CASES)))
@pytest.mark.parametrize("maxchars", [None, 1, 5, 200])
def test_token_reader_same_result_as_pyhanko(data, maxchars):
    from hazmat import pyhanko_tokens
    from pyhanko.pdf_utils.misc import PDF_DELIMITERS, PDF_WHITESPACE

    for chars in (PDF_WHITESPACE + PDF_DELIMITERS, PDF_WHITESPACE):
        assert _token_outcome(pyhanko_tokens._read_until_class, data, chars, maxchars) == \
            _token_outcome(pyhanko_tokens._original, data, chars, maxchars)


def test_token_reader_same_result_on_random_input():
    from hazmat import pyhanko_tokens
    from pyhanko.pdf_utils import misc

    rng = random.Random(38)
    alphabet = b"abcXYZ0129#/ \n\r\t\f\x00()<>[]{}%.-+\xc3\xa1"
    for _ in range(3000):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 400)))
        chars = rng.choice([misc.PDF_WHITESPACE + misc.PDF_DELIMITERS, misc.PDF_WHITESPACE])
        maxchars = rng.choice([None, None, 1, 3, 20, 130, 500])
        assert _token_outcome(pyhanko_tokens._read_until_class, data, chars, maxchars) == \
            _token_outcome(pyhanko_tokens._original, data, chars, maxchars), (data, maxchars)
    # the readers pyHanko calls go through it once installed (conftest installs it, as a worker does)
    assert pyhanko_tokens.installed()
    stream = io.BytesIO(b"/Type/Page")
    stream.seek(1)
    assert misc.read_until_delimiter(stream) == b"Type" and stream.tell() == 5


def _name_outcome(decode, data: bytes):
    from pyhanko.pdf_utils.misc import PdfReadError

    try:
        value = decode(data)
        return ("ok", type(value).__name__, str(value))
    except PdfReadError as exc:
        return ("error", type(exc).__name__)


@pytest.mark.parametrize("data", [b"", b"Type", b"A#20B", b"A#2", b"Caf#C3#A9", b"\xc3\xa1", b"a b", b"A/B", b"#41",
                                  b"x" * 300, b"A%", b"\x7f", b"~!"])
def test_name_decoder_same_result_as_pyhanko(data):
    from hazmat import pyhanko_tokens

    assert _name_outcome(pyhanko_tokens._decode_name, data) == _name_outcome(pyhanko_tokens._original_name, data)


def test_name_decoder_same_result_on_random_names():
    from pyhanko.pdf_utils import generic

    from hazmat import pyhanko_tokens

    rng = random.Random(1106)
    alphabet = bytes(range(0x21, 0x7F)) + b"#0123456789abcdefABCDEF \x00\x7f\xc3\xa1\xe1\xba\xa1"
    for _ in range(5000):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert _name_outcome(pyhanko_tokens._decode_name, data) == \
            _name_outcome(pyhanko_tokens._original_name, data), data
    assert generic._decode_name is pyhanko_tokens._decode_name   # installed, as a worker does


def _written(write, name: str):
    stream = io.BytesIO()
    try:
        write(generic.NameObject(name), stream)
        return ("ok", stream.getvalue())
    except Exception as exc:  # noqa: BLE001 - the same refusal is part of the same result
        return ("error", type(exc).__name__, stream.getvalue())


@pytest.mark.parametrize("name", ["/Type", "/Sig", "/A#B", "/A B", "/Tên", "/Căn cứ", "/", "Type", "", "/x" * 200,
                                  "/(paren)", "/\x00\x7f"])
def test_name_writer_same_bytes_as_pyhanko_twice(name):
    """The remembered bytes of a name are pyHanko's, the first time and the next; a refusal stays one."""
    from hazmat import pyhanko_tokens

    expected = _written(pyhanko_tokens._original_write_name, name)
    assert _written(pyhanko_tokens._write_name, name) == expected
    assert _written(pyhanko_tokens._write_name, name) == expected


def test_name_writer_same_bytes_on_random_names():
    from hazmat import pyhanko_tokens

    rng = random.Random(1167)
    alphabet = "/#()<>[]{}%ABCabc012 \x00\x7fáạđĐ"
    for _ in range(3000):
        name = "/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        expected = _written(pyhanko_tokens._original_write_name, name)
        assert _written(pyhanko_tokens._write_name, name) == expected, name
        assert _written(pyhanko_tokens._write_name, name) == expected, name
    assert generic.NameObject.write_to_stream is pyhanko_tokens._write_name   # installed, as a worker does
