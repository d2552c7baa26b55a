"""An official's PDF signed at every PAdES baseline level, with RSA, RSA-PSS and
ECDSA keys from PKCS#12, from a SoftHSM2 token and through the external two-step
path, accepted by two verifiers that are not ours: pyHanko's validator against
the dev root, and poppler's pdfsig with the dev root trusted in NSS."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from pdfcheck import pdfsig, pyhanko_statuses
from pyhanko.sign.validation import SignatureCoverageLevel
from pyhanko.sign.diff_analysis import ModificationLevel
from signer import ExternalKeyHolder, Level, SignRequest, SigningEngine, SigningPolicy, SoftwareKeyHolder
from signer.external import ExternalSigning, PendingStore

KEYS = {
    # label: (rsa padding, expected CMS signature mechanism)
    "nguyen-van-an": ("pkcs1v15", "sha256_rsa"),        # RSA-2048, PKCS#1 v1.5
    "le-hoang-phuc": ("pss", "rsassa_pss"),             # RSA-2048, RSASSA-PSS
    "tran-thi-bich-ngoc": ("pkcs1v15", "sha256_ecdsa"),  # ECDSA P-256
}
SOURCES = ("pkcs12", "pkcs11", "external")
LEVELS = (Level.B_B, Level.B_T, Level.B_LT, Level.B_LTA)


def device_sign(private_key, prepared) -> bytes:
    """What the official's USB token does with the prepared bytes."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(prepared.to_be_signed, ec.ECDSA(hashes.SHA256()))
    if prepared.signature_algorithm == "rsassa_pss":
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=prepared.pss_salt_length)
        return private_key.sign(prepared.to_be_signed, pss, hashes.SHA256())
    assert isinstance(private_key, rsa.RSAPrivateKey)
    return private_key.sign(prepared.to_be_signed, padding.PKCS1v15(), hashes.SHA256())


def sign_document(*, source, label, level, pki, pkcs11_token, document, tmp_path) -> bytes:
    rsa_padding, _ = KEYS[label]
    engine = SigningEngine(policy=SigningPolicy.for_dev_pki(pki, rsa_padding=rsa_padding))
    request = SignRequest(document=document, level=level, reason="Ký ban hành", location="Hưng Yên")
    if source == "pkcs12":
        p12 = pki.pkcs12_bytes(label, b"mat-khau-p12")
        holder = SoftwareKeyHolder.from_pkcs12(p12, passphrase="mat-khau-p12")
        return engine.sign(request, key_holder=holder).data
    if source == "pkcs11":
        holder = pkcs11_token.key_holder(label, chain=pki.chain(label))
        return engine.sign(request, key_holder=holder).data
    external = ExternalSigning(engine=engine, store=PendingStore(tmp_path / "pending"))
    holder = ExternalKeyHolder(certificate=pki.identity(label).certificate, chain=pki.chain(label))
    prepared = external.prepare(request, key_holder=holder)
    return external.finish(prepared.handle, signature=device_sign(pki.private_key(label), prepared)).data


@pytest.mark.parametrize("level", LEVELS, ids=lambda lv: lv.value)
@pytest.mark.parametrize("label", list(KEYS))
@pytest.mark.parametrize("source", SOURCES)
def test_signature_accepted_by_pyhanko_and_pdfsig(source, label, level, pki, pkcs11_token, nssdb,
                                                  sample_pdf, tmp_path):
    signed = sign_document(source=source, label=label, level=level, pki=pki, pkcs11_token=pkcs11_token,
                           document=sample_pdf, tmp_path=tmp_path)
    assert signed.startswith(sample_pdf), "the original revision must be kept byte for byte"

    # pyHanko, online, against the dev roots
    statuses = pyhanko_statuses(signed, pki.trust_roots())
    expected_count = 2 if level is Level.B_LTA else 1
    assert len(statuses) == expected_count
    sig = statuses[0]
    assert sig.intact and sig.valid and sig.trusted, sig.pretty_print_details()
    assert sig.bottom_line
    assert sig.md_algorithm == "sha256"
    assert sig.pkcs7_signature_mechanism == KEYS[label][1]
    assert sig.signing_cert.subject == pki.identity(label).certificate.subject
    if level in (Level.B_B, Level.B_T):
        assert sig.coverage == SignatureCoverageLevel.ENTIRE_FILE
        assert sig.modification_level == ModificationLevel.NONE
    else:
        # only validation data (and a document timestamp) come after the signature
        assert sig.coverage == SignatureCoverageLevel.ENTIRE_REVISION
        assert sig.modification_level == ModificationLevel.LTA_UPDATES
    if level is Level.B_B:
        assert sig.timestamp_validity is None
    else:
        assert sig.timestamp_validity is not None
        assert sig.timestamp_validity.intact and sig.timestamp_validity.valid and sig.timestamp_validity.trusted
    if level is Level.B_LTA:
        doc_ts = statuses[1]
        assert doc_ts.intact and doc_ts.valid and doc_ts.trusted
        assert doc_ts.coverage == SignatureCoverageLevel.ENTIRE_FILE
    if level.needs_validation_data:
        # B-LT: the DSS alone (no network) must be enough to validate the signer's path, hard-fail
        offline = pyhanko_statuses(signed, pki.trust_roots(), offline_dss=True)
        assert offline[0].bottom_line, offline[0].pretty_print_details()

    # poppler's pdfsig with the dev roots trusted in NSS
    report = pdfsig(signed, nssdb)
    assert len(report) == expected_count, report
    assert report[0].valid, report[0].lines
    if level in (Level.B_B, Level.B_T):
        assert report[0].total_document, report[0].lines
    elif level is Level.B_LT:
        # the DSS revision follows the signature: pdfsig rightly says it is not the total document
        assert not report[0].total_document
    else:
        # poppler 22.12 lists but cannot verify document timestamps (ETSI.RFC3161, "Signature Type:
        # unknown"); pyHanko validated it above. pdfsig still shows it covers the whole file.
        assert report[1].total_document, report[1].lines


@pytest.mark.parametrize("way", ["in memory", "streamed"])
@pytest.mark.parametrize("level", LEVELS, ids=lambda lv: lv.value)
def test_file_to_file_keeps_the_original_and_leaves_nothing_else(level, way, engine, pki, nssdb, sample_pdf, tmp_path,
                                                                 monkeypatch):
    """Signing a file never touches it; the output appears whole (atomic rename), nothing else does;
    both for a file read into memory and for one larger than ``fileio.IN_MEMORY_BYTES`` (streamed)."""
    import hashlib

    from signer import fileio

    if way == "streamed":
        monkeypatch.setattr(fileio, "IN_MEMORY_BYTES", len(sample_pdf) - 1)

    src = tmp_path / "to-trinh.pdf"
    src.write_bytes(sample_pdf)
    out = tmp_path / "signed" / "to-trinh-signed.pdf"
    holder = SoftwareKeyHolder.from_dev_pki(pki, "pham-thu-ha")
    result = engine.sign(SignRequest(document=src, level=level), key_holder=holder, output=out)
    assert src.read_bytes() == sample_pdf
    signed = out.read_bytes()
    assert result.path == out and result.size == len(signed)
    assert result.sha256 == hashlib.sha256(signed).hexdigest()
    assert signed.startswith(sample_pdf)
    assert sorted(p.name for p in out.parent.iterdir()) == ["to-trinh-signed.pdf"]
    statuses = pyhanko_statuses(signed, pki.trust_roots())
    assert all(s.intact and s.valid and s.trusted for s in statuses)
    assert pdfsig(signed, nssdb)[0].valid
    # the same file signed to memory
    in_memory = engine.sign(SignRequest(document=src, level=level), key_holder=holder)
    assert in_memory.data.startswith(sample_pdf) and in_memory.path is None
    assert pyhanko_statuses(in_memory.data, pki.trust_roots())[0].intact


def test_a_file_larger_than_the_memory_bound_is_never_read_into_memory(engine, pki, tmp_path, monkeypatch):
    """A 24 MB document signed file to file: the process's resident memory (VmHWM) grows by less than
    a fifth of the file, and the signature is valid."""
    from pathlib import Path

    from kyso.samples import MB, write_pdf
    from signer import fileio

    monkeypatch.setattr(fileio, "IN_MEMORY_BYTES", 4 * MB)
    src = write_pdf(tmp_path / "ho-so-lon.pdf", size=24 * MB)
    out = tmp_path / "ho-so-lon-da-ky.pdf"
    holder = SoftwareKeyHolder.from_dev_pki(pki, "pham-thu-ha")
    engine.sign(SignRequest(document=src, level=Level.B_B), key_holder=holder, output=tmp_path / "warm.pdf")

    def kib(field):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(field)

    Path("/proc/self/clear_refs").write_text("5")      # VmHWM := VmRSS
    base = kib("VmHWM")
    engine.sign(SignRequest(document=src, level=Level.B_B), key_holder=holder, output=out)
    grown = (kib("VmHWM") - base) * 1024
    assert grown < src.stat().st_size / 5, grown
    signed = out.read_bytes()
    assert signed.startswith(src.read_bytes())
    assert pyhanko_statuses(signed, pki.trust_roots())[0].bottom_line


@pytest.mark.parametrize("with_xmp", [False, True], ids=["info dictionary", "XMP metadata (PDF/A)"])
def test_the_signed_update_is_dated_by_the_operations_clock(with_xmp, pki, sample_pdf):
    """pyHanko stamps each update it writes with a modification date; a signature made on a clock
    set to 2 March 2026 (a replay, a document dated in advance) carries that date there as well
    as in its signature, not the day the test runs."""
    import io
    from datetime import datetime, timezone

    import pikepdf
    from pyhanko.pdf_utils.generic import parse_pdf_date
    from pyhanko.pdf_utils.reader import PdfFileReader

    from kyso.clock import fixed

    document = sample_pdf
    if with_xmp:
        out = io.BytesIO()
        with pikepdf.open(io.BytesIO(sample_pdf)) as pdf:
            with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
                meta["dc:title"] = "Quyết định số 125/QĐ-UBND"
                meta["xmp:ModifyDate"] = "2025-01-01T00:00:00+00:00"
            pdf.save(out)
        document = out.getvalue()
    moment = datetime(2026, 3, 2, 1, 30, tzinfo=timezone.utc)
    engine = SigningEngine.for_dev_pki(pki, clock=fixed(moment))
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    signed = engine.sign(SignRequest(document=document, level=Level.B_B), key_holder=holder).data
    reader = PdfFileReader(io.BytesIO(signed))
    assert reader.embedded_signatures[0].self_reported_timestamp == moment
    if with_xmp:
        with pikepdf.open(io.BytesIO(signed)) as pdf:
            modified = datetime.fromisoformat(pdf.open_metadata()["xmp:ModifyDate"])
    else:
        modified = parse_pdf_date(str(reader.trailer["/Info"]["/ModDate"]))
    assert modified == moment


@pytest.mark.parametrize("way", ["in memory", "streamed"])
def test_a_file_rewritten_while_it_is_signed_gives_the_bytes_that_were_signed(way, engine, pki, tmp_path, monkeypatch):
    """Another program rewrites the document (same size) after Kyso read it: the output holds what
    was read and signed, so its signature is intact (with the file read into memory, the output was
    once copied from the file again: new bytes under a signature over the old)."""
    from kyso.samples import make_pdf
    from signer import fileio

    original = make_pdf(pages=1, title="Cong van so 125/UBND-VP")
    src = tmp_path / "cong-van.pdf"
    src.write_bytes(original)
    if way == "streamed":
        monkeypatch.setattr(fileio, "IN_MEMORY_BYTES", 0)

    def rewrite(writer):
        with open(src, "r+b") as f:
            f.write(original.replace(b"125", b"999", 1))

    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    out = tmp_path / "da-ky.pdf"
    engine.sign(SignRequest(document=src, level=Level.B_B), key_holder=holder, output=out, before_signing=rewrite)
    status = pyhanko_statuses(out.read_bytes(), pki.trust_roots())[0]
    assert status.intact and status.bottom_line, status.pretty_print_details()


@pytest.mark.parametrize("way", ["in memory", "streamed"])
def test_a_folder_given_as_the_document_is_not_a_pdf(way, engine, pki, tmp_path, monkeypatch):
    from signer import fileio
    from signer.errors import NotAPdf

    if way == "streamed":
        monkeypatch.setattr(fileio, "IN_MEMORY_BYTES", 0)
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    with pytest.raises(NotAPdf):
        engine.sign(SignRequest(document=tmp_path, level=Level.B_B), key_holder=holder, output=tmp_path / "x.pdf")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("way", ["engine", "two-step"])
def test_a_field_that_requires_a_timestamp_is_stamped_by_the_service_never_by_the_documents_server(way, pki,
                                                                                                 tmp_path):
    """A signature field whose seed value requires a timestamp from a server the document names
    (here a listener that records any connection). pyHanko, given no timestamper, would ask that
    server: a request from Kyso's network to wherever an uploaded file points. At B-B the signature
    is refused with ``field_requires_timestamp``; at B-T the service's own TSA stamps it and the
    field's demand is met. The document's server is never contacted."""
    import io
    import socket

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields

    from kyso.samples import make_pdf
    from signer.errors import FieldRequiresTimestamp

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    documents_server = f"http://127.0.0.1:{listener.getsockname()[1]}/tsa"
    writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf(pages=1, title="x")))
    seed = fields.SigSeedValueSpec(timestamp_server_url=documents_server, timestamp_required=True)
    fields.append_signature_field(writer, fields.SigFieldSpec("ChuKy1", seed_value_dict=seed))
    buffer = io.BytesIO()
    writer.write(buffer)
    engine = SigningEngine.for_dev_pki(pki)
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")

    def sign(level):
        request = SignRequest(document=buffer.getvalue(), level=level, field="ChuKy1")
        if way == "engine":
            return engine.sign(request, key_holder=holder).data
        external = ExternalSigning(engine=engine, store=PendingStore(tmp_path / "pending"))
        prepared = external.prepare(request, key_holder=ExternalKeyHolder(
            certificate=holder.certificate, chain=holder.chain))
        return external.finish(prepared.handle, signature=device_sign(pki.private_key("nguyen-van-an"),
                                                                       prepared)).data

    try:
        with pytest.raises(FieldRequiresTimestamp):
            sign(Level.B_B)
        signed = sign(Level.B_T)
        status = pyhanko_statuses(signed, pki.trust_roots())[0]
        assert status.timestamp_validity is not None and status.timestamp_validity.trusted
        assert status.seed_value_ok and status.bottom_line, status.pretty_print_details()
        with pytest.raises(TimeoutError):
            listener.accept()      # nobody came
    finally:
        listener.close()


@pytest.mark.parametrize("level", [Level.B_B, Level.B_T], ids=lambda lv: lv.value)
def test_a_damaged_seed_value_is_the_documents_fault_at_every_level(level, pki):
    """A signature field whose /SV is not a dictionary: refused as a malformed document (422) whatever
    the level (at B-T it was an internal error, 500)."""
    import io

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields

    from kyso.samples import make_pdf
    from signer.errors import DocumentMalformed

    writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf(pages=1, title="x")))
    fields.append_signature_field(writer, fields.SigFieldSpec("ChuKy1"))
    field = next(fields.enumerate_sig_fields(writer, with_name="ChuKy1"))[2]
    field.get_object()[generic.pdf_name("/SV")] = generic.NumberObject(3)
    writer.mark_update(field)
    buffer = io.BytesIO()
    writer.write(buffer)
    engine = SigningEngine.for_dev_pki(pki)
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    with pytest.raises(DocumentMalformed) as refused:
        engine.sign(SignRequest(document=buffer.getvalue(), level=level, field="ChuKy1"), key_holder=holder)
    assert refused.value.code == "pdf_malformed"


@pytest.mark.parametrize("case", ["certified, no changes", "seed value: reasons", "seed value: digest"])
def test_what_the_document_forbids_is_refused_with_its_reason(case, pki):
    """A document certified "no changes" (DocMDP P=1), a field whose seed value allows other reasons
    or another digest: refused as ``document_forbids_signature`` (409) with pyHanko's reason, not an
    internal error (500)."""
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields

    from kyso.samples import make_pdf
    from signer.errors import DocumentForbidsSignature

    engine = SigningEngine.for_dev_pki(pki)
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    name = None
    if case == "certified, no changes":
        document = engine.sign(SignRequest(document=make_pdf(), level=Level.B_B, certify=1), key_holder=holder).data
    else:
        seed = (fields.SigSeedValueSpec(flags=fields.SigSeedValFlags.REASONS, reasons=["Phê duyệt"])
                if case.endswith("reasons") else
                fields.SigSeedValueSpec(flags=fields.SigSeedValFlags.DIGEST_METHOD, digest_methods=["sha512"]))
        writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf(pages=1, title="x")))
        fields.append_signature_field(writer, fields.SigFieldSpec("ChuKy1", seed_value_dict=seed))
        buffer = io.BytesIO()
        writer.write(buffer)
        document, name = buffer.getvalue(), "ChuKy1"
    with pytest.raises(DocumentForbidsSignature) as refused:
        engine.sign(SignRequest(document=document, level=Level.B_B, field=name, reason="Ký ban hành"),
                    key_holder=holder)
    assert refused.value.detail["reason"]
