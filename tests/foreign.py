"""Signed PDFs made by tools other than Kyso, and the file shapes other tools produce: the corpus the
verifier must judge right (tests/test_foreign_corpus.py). Each sample names its tool, what Kyso must
answer and why.

Tools: stock pyHanko (RSA PKCS#1 v1.5 and PSS, ECDSA, Ed25519, Ed448, SHA-3, SHA-1), endesive, and
pikepdf/qpdf for the file shapes (object streams, encryption that allows signing, indirect DSS arrays,
BER-encoded CMS, a signing time in local time labelled UTC). Keys that the development PKI does not
have (EC, EdDSA) come from a small CA made here, trusted as an administrator's extra anchor.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import re
from datetime import datetime, timedelta, timezone

import pikepdf
from asn1crypto import cms, keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko_certvalidator.registry import SimpleCertificateStore

from kyso.samples import make_pdf


@dataclasses.dataclass(frozen=True)
class Foreign:
    name: str
    tool: str
    data: bytes
    expect: str                       # the document verdict
    why: str
    extra_anchor: bool = False        # needs the small CA below as an extra trust anchor
    warning: str | None = None        # a warning code the first signature must carry


# -- a small CA for the algorithms the development PKI has no keys for -------------------------------

@dataclasses.dataclass(frozen=True)
class SmallCA:
    root: x509.Certificate
    leaves: dict          # algorithm -> (private key, certificate)

    @property
    def root_asn1(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.root.public_bytes(serialization.Encoding.DER))


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sở Thông tin và Truyền thông (thử nghiệm)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def small_ca(now: datetime) -> SmallCA:
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start, end = now - timedelta(days=30), now + timedelta(days=3650)
    root = (x509.CertificateBuilder().subject_name(_name("Foreign test Root")).issuer_name(_name("Foreign test Root"))
            .public_key(root_key.public_key()).serial_number(1).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(root_key, hashes.SHA256()))
    leaves = {}
    for serial, (algorithm, key) in enumerate((("ecdsa", ec.generate_private_key(ec.SECP256R1())),
                                               ("ed25519", ed25519.Ed25519PrivateKey.generate()),
                                               ("ed448", ed448.Ed448PrivateKey.generate())), start=2):
        cert = (x509.CertificateBuilder().subject_name(_name(f"Trần Thị Ký ({algorithm})")).issuer_name(root.subject)
                .public_key(key.public_key()).serial_number(serial).not_valid_before(start).not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .sign(root_key, hashes.SHA256()))
        leaves[algorithm] = (key, cert)
    return SmallCA(root=root, leaves=leaves)


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _asn1_key(key) -> keys.PrivateKeyInfo:
    return keys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))


def small_ca_signer(ca: SmallCA, algorithm: str) -> signers.SimpleSigner:
    key, cert = ca.leaves[algorithm]
    return signers.SimpleSigner(signing_cert=_asn1_cert(cert), signing_key=_asn1_key(key),
                                cert_registry=SimpleCertificateStore.from_certs([ca.root_asn1]))


def dev_signer(pki, label: str, *, prefer_pss: bool = False) -> signers.SimpleSigner:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(pki.private_key_pem(label), password=None)
    return signers.SimpleSigner(signing_cert=pki.certificate(label), signing_key=_asn1_key(key),
                                cert_registry=SimpleCertificateStore.from_certs(pki.chain(label)),
                                prefer_pss=prefer_pss)


# -- stock pyHanko -----------------------------------------------------------------------------------

def pyhanko_sign(data: bytes, signer: signers.Signer, *, md: str = "sha256", subfilter=fields.SigSeedSubFilter.PADES,
                 timestamper=None, signing_time: datetime | None = None, writer_setup=None,
                 field: str = "Signature1") -> bytes:
    if signing_time is not None:
        return _sign_with_signing_time(data, signer, signing_time, timestamper, md)
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    if writer_setup is not None:
        writer_setup(writer)
    meta = signers.PdfSignatureMetadata(field_name=field, md_algorithm=md, subfilter=subfilter)
    out = io.BytesIO()
    asyncio.run(signers.PdfSigner(meta, signer=signer, timestamper=timestamper).async_sign_pdf(writer, output=out))
    return out.getvalue()


def _sign_with_signing_time(data, signer, signing_time, timestamper, md) -> bytes:
    """pyHanko's own pipeline with the CMS signing-time attribute set by hand (as a tool that writes the
    office's local time and calls it UTC does)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from attacks import pyhanko_sign as dated_sign

    meta = signers.PdfSignatureMetadata(field_name="Signature1", md_algorithm=md,
                                        subfilter=fields.SigSeedSubFilter.PADES)
    return dated_sign(data, meta, signer, moment=signing_time, timestamper=timestamper)


# -- file shapes ---------------------------------------------------------------------------------------

def with_object_streams(data: bytes) -> bytes:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        out = io.BytesIO()
        pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
        return out.getvalue()


def encrypted_allowing_signing(data: bytes) -> bytes:
    """AES-256, an owner password, no user password, form filling and annotations allowed: common for
    documents that are published and then signed."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        out = io.BytesIO()
        pdf.save(out, encryption=pikepdf.Encryption(owner="chu-so-huu", user="", R=6, allow=pikepdf.Permissions(
            modify_form=True, modify_annotation=True, modify_other=False, extract=True, print_highres=True)))
        return out.getvalue()


def sign_encrypted(data: bytes, signer: signers.Signer) -> bytes:
    def unlock(writer):
        writer.encrypt("")
    return pyhanko_sign(data, signer, writer_setup=unlock)


def indirect_dss_arrays(data: bytes) -> bytes:
    """An update that makes the DSS's /Certs, /OCSPs and /CRLs indirect arrays (ISO 32000-2 allows
    any array to be indirect), values unchanged."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    dss_ref = writer.root.raw_get("/DSS")
    dss = dss_ref.get_object()
    for key in ("/Certs", "/OCSPs", "/CRLs"):
        if key in dss and not isinstance(dss.raw_get(key), generic.IndirectObject):
            dss[pdf_name(key)] = writer.add_object(generic.ArrayObject(list(dss.raw_get(key))))
    if isinstance(dss_ref, generic.IndirectObject):
        writer.mark_update(dss_ref)
    else:
        writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _ber_indefinite(der: bytes) -> bytes:
    """The outer ContentInfo and its [0] wrapper re-encoded with indefinite lengths (BER), contents
    unchanged: what some national signing tools write."""
    from asn1crypto import parser

    def header_len(data):
        _, _, _, header, _, _ = parser.parse(data)
        return header, len(header)

    outer_header, n = header_len(der)
    inner = der[n:]
    tag_header, m = header_len(inner[:])
    # ContentInfo: SEQUENCE { contentType OID, [0] EXPLICIT SignedData }
    oid_header_len = inner[1] + 2
    oid = inner[:oid_header_len]
    explicit = inner[oid_header_len:]
    _, _, _, explicit_header, explicit_content, _ = parser.parse(explicit)
    return (b"\x30\x80" + oid + b"\xa0\x80" + explicit_content + b"\x00\x00" + b"\x00\x00")


def ber_encoded_cms(data: bytes) -> bytes:
    reader = PdfFileReader(io.BytesIO(data))
    sig = reader.embedded_signatures[0]
    der = sig.pkcs7_content if hasattr(sig, "pkcs7_content") else bytes(sig.sig_object["/Contents"])
    der = cms.ContentInfo.load(bytes(sig.sig_object["/Contents"])).dump()
    ber = _ber_indefinite(der)
    hex_der = der.hex().encode()
    start = data.index(b"/Contents <") + len(b"/Contents <")
    end = data.index(b">", start)
    hole = end - start
    assert data[start:start + len(hex_der)].lower() == hex_der
    replacement = ber.hex().encode().ljust(hole, b"0")
    assert len(replacement) == hole
    return data[:start] + replacement + data[end:]


def _long_form(der: bytes) -> bytes:
    """The same TLV with its outer length in a longer form than DER allows (BER): same content."""
    from asn1crypto import parser

    _, _, _, header, content, _ = parser.parse(der)
    return header[:1] + b"\x84" + len(content).to_bytes(4, "big") + content


def reencoded_intermediate(data: bytes) -> bytes:
    """The signature's copy of its issuing CA certificate re-encoded (a longer length form): the same
    certificate written differently, as some tools and card middlewares do; not an altered copy."""
    reader = PdfFileReader(io.BytesIO(data))
    sig = reader.embedded_signatures[0]
    der = bytes(sig.sig_object.raw_get("/Contents"))
    info = cms.ContentInfo.load(der[:_der_length(der)])
    signed = info["content"]
    signer_serial = sig.signer_cert.serial_number
    certs = []
    for choice in signed["certificates"]:
        cert = choice.chosen
        if cert.serial_number != signer_serial and not cert.self_signed == "maybe":
            cert = asn1_x509.Certificate.load(_long_form(cert.dump()))
        certs.append(cms.CertificateChoices(name="certificate", value=cert))
    signed["certificates"] = cms.CertificateSet(certs)
    new = cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump(force=False)
    hex_old = der[:_der_length(der)].hex().encode()
    start = data.index(b"/Contents <") + len(b"/Contents <")
    end = data.index(b">", start)
    replacement = new.hex().encode().ljust(end - start, b"0")
    assert len(replacement) == end - start and data[start:start + len(hex_old)].lower() == hex_old
    return data[:start] + replacement + data[end:]


def _der_length(der: bytes) -> int:
    from asn1crypto import parser

    _, _, _, header, content, trailer = parser.parse(der, strict=False)
    return len(header) + len(content) + len(trailer)


def endesive_sign(data: bytes, pki, label: str) -> bytes:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from endesive.pdf import cms as endesive_cms

    key = load_pem_private_key(pki.private_key_pem(label), password=None)
    cert = x509.load_der_x509_certificate(pki.certificate(label).dump())
    others = [x509.load_der_x509_certificate(c.dump()) for c in pki.chain(label)]
    when = datetime.now(timezone.utc).strftime("D:%Y%m%d%H%M%S+00'00'")
    dct = {"sigflags": 3, "sigpage": 0, "sigfield": "Signature1", "contact": "van-thu@hungyen.gov.vn",
           "location": "Hưng Yên", "signingdate": when, "reason": "Phê duyệt", "signature": "Đã ký",
           "signaturebox": (0, 0, 0, 0), "aligned": 0, "md": "sha256"}
    appended = endesive_cms.sign(data, dct, key, cert, others, "sha256")
    return data + appended


def linearized_signed(signer) -> bytes:
    """A linearized file written in one piece with its signature, which covers the whole file (the
    final startxref points at the first-page cross-reference near the start)."""
    with pikepdf.open(io.BytesIO(make_pdf(pages=3))) as pdf:
        sig = pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Sig, Filter=pikepdf.Name("/Adobe.PPKLite"), SubFilter=pikepdf.Name("/ETSI.CAdES.detached"),
            ByteRange=pikepdf.Array([0, 1111111111, 1111111111, 1111111111]),
            Contents=pikepdf.String(b"\x00" * 8192)))
        widget = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget,
            FT=pikepdf.Name.Sig, T=pikepdf.String("Signature1"), V=sig, Rect=[0, 0, 0, 0], F=132, P=pdf.pages[0].obj))
        pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([widget]))
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=[widget], SigFlags=3)
        out = io.BytesIO()
        pdf.save(out, linearize=True, compress_streams=True)
        data = bytearray(out.getvalue())
    m = re.search(rb"/ByteRange \[ ?0 1111111111 1111111111 1111111111 ?\]", data)
    c = re.search(rb"/Contents <(0+)>", data)
    assert m and c, (m, c)
    start = c.start(1) - 1
    end = c.end(1) + 1
    br = [0, start, end, len(data) - end]
    text = ("/ByteRange [" + " ".join(str(x) for x in br) + "]").encode()
    text = text.ljust(m.end() - m.start(), b" ")
    # keep the closing bracket last
    text = text.rstrip(b" ")
    text = text[:-1] + b" " * (m.end() - m.start() - len(text)) + b"]"
    assert len(text) == m.end() - m.start()
    data[m.start():m.end()] = text
    md = hashlib.sha256(bytes(data[:start]) + bytes(data[end:])).digest()
    cms = asyncio.run(signer.async_sign(md, "sha256", use_pades=True))
    hexed = cms.dump().hex().encode()
    hole = end - start - 2
    data[start + 1:start + 1 + hole] = hexed.ljust(hole, b"0")
    return bytes(data)


# -- the corpus -----------------------------------------------------------------------------------------

def foreign_samples(pki, *, tsa_url: str) -> tuple[list[Foreign], SmallCA]:
    now = datetime.now(timezone.utc)
    ca = small_ca(now)
    plain = make_pdf(pages=2)
    official = "nguyen-van-an"
    tsa = timestamps.HTTPTimeStamper(tsa_url)
    out = [
        Foreign("pyhanko-rsa", "pyHanko", pyhanko_sign(plain, dev_signer(pki, official)), "valid",
                "RSA PKCS#1 v1.5, SHA-256, PAdES B-B"),
        Foreign("pyhanko-rsa-pss", "pyHanko", pyhanko_sign(plain, dev_signer(pki, official, prefer_pss=True)),
                "valid", "RSASSA-PSS"),
        Foreign("pyhanko-sha3-256", "pyHanko", pyhanko_sign(plain, small_ca_signer(ca, "ecdsa"), md="sha3_256"),
                "valid", "ECDSA with a SHA3-256 digest", extra_anchor=True),
        Foreign("pyhanko-b-t", "pyHanko", pyhanko_sign(plain, dev_signer(pki, official), timestamper=tsa), "valid",
                "a signature timestamp from the TSA"),
        Foreign("pyhanko-ecdsa-p256", "pyHanko", pyhanko_sign(plain, small_ca_signer(ca, "ecdsa")), "valid",
                "ECDSA P-256 under an administrator's anchor", extra_anchor=True),
        Foreign("pyhanko-ed25519", "pyHanko", pyhanko_sign(plain, small_ca_signer(ca, "ed25519"), md="sha512"),
                "valid", "Ed25519", extra_anchor=True),
        Foreign("pyhanko-ed448", "pyHanko", pyhanko_sign(plain, small_ca_signer(ca, "ed448"), md="shake256"),
                "valid", "Ed448 with SHAKE256", extra_anchor=True),
        Foreign("pyhanko-sha1-pkcs7", "pyHanko", pyhanko_sign(plain, dev_signer(pki, official), md="sha1",
                                                             subfilter=fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED),
                "indeterminate", "SHA-1 digest (as in 2013): too weak to rely on, not proof of forgery"),
        Foreign("endesive-rsa", "endesive", endesive_sign(plain, pki, official), "valid",
                "endesive's incremental signature"),
        Foreign("object-streams", "pikepdf + pyHanko", pyhanko_sign(with_object_streams(plain),
                                                                   dev_signer(pki, official)), "valid",
                "a document written with object streams and a cross-reference stream, then signed"),
        Foreign("encrypted-signing-allowed", "pikepdf + pyHanko",
                sign_encrypted(encrypted_allowing_signing(plain), dev_signer(pki, official)), "valid",
                "AES-256 encryption with an empty user password that allows signing"),
        Foreign("local-time-labelled-utc", "pyHanko", pyhanko_sign(plain, dev_signer(pki, official), timestamper=tsa,
                                                                   signing_time=now + timedelta(hours=7)),
                "valid", "signing-time attribute 7 hours after the timestamp: local time labelled UTC",
                warning="signing_time_disagrees"),
        Foreign("linearized-whole-file", "pikepdf (qpdf) + pyHanko's CMS", linearized_signed(dev_signer(pki, official)),
                "valid", "linearized, signed in one piece: the signature covers the whole file"),
        Foreign("re-encoded-intermediate", "pyHanko + re-encoding",
                reencoded_intermediate(pyhanko_sign(plain, dev_signer(pki, official))), "valid",
                "the carried CA certificate written with a longer length form: the same certificate"),
        Foreign("ber-encoded-cms", "pyHanko + re-encoding", ber_encoded_cms(pyhanko_sign(plain, dev_signer(pki, official))),
                "valid", "the CMS container BER-encoded (indefinite lengths)", warning="ber_encoded"),
    ]
    return out, ca


def with_indirect_dss_arrays(b_lt: bytes) -> Foreign:
    return Foreign("indirect-dss-arrays", "pyHanko writer", indirect_dss_arrays(b_lt), "valid",
                   "B-LT whose DSS /Certs, /OCSPs, /CRLs are indirect arrays")
