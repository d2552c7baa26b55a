"""The renderers (verifier.render) on hand-built ``kyso.verification/1`` reports:
the clerk's HTML page, the printable PDF (read back with pdftotext) and the
ETSI TS 119 102-2 XML report (parsed back, and into pyHanko's ETSI models)."""
from __future__ import annotations

import copy
import html.parser
import json
import subprocess
import xml.etree.ElementTree as ET

import pytest

from verifier.render import ReportUnreadable, to_etsi_xml, to_html, to_pdf
from verifier.report import SCHEMA

VALIDATION_TIME = "2025-03-10T03:15:00+00:00"

# --- certificates ------------------------------------------------------------------------------

ROOT = {
    "subject": "CN=Cơ quan chứng thực số chuyên dùng Chính phủ, O=Ban Cơ yếu Chính phủ, C=VN",
    "issuer": "CN=Cơ quan chứng thực số chuyên dùng Chính phủ, O=Ban Cơ yếu Chính phủ, C=VN",
    "serial": "4a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "not_before": "2009-12-14T03:00:00+00:00", "not_after": "2029-12-14T03:00:00+00:00",
    "sha256": "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "signature_algorithm": "sha1_rsa", "is_trust_anchor": True,
    "subject_fields": {"common_name": "Cơ quan chứng thực số chuyên dùng Chính phủ",
                       "organization_name": "Ban Cơ yếu Chính phủ", "country_name": "VN"},
}
SUB_CA = {
    "subject": "CN=Cục Chứng thực số và Bảo mật thông tin, O=Ban Cơ yếu Chính phủ, C=VN",
    "issuer": ROOT["subject"],
    "serial": "1f2e3d4c5b6a7988",
    "not_before": "2010-01-05T03:00:00+00:00", "not_after": "2030-01-05T03:00:00+00:00",
    "sha256": "11223344556677889900aabbccddeeff11223344556677889900aabbccddeeff",
    "signature_algorithm": "sha1_rsa", "is_trust_anchor": False,
    "subject_fields": {"common_name": "Cục Chứng thực số và Bảo mật thông tin",
                       "organization_name": "Ban Cơ yếu Chính phủ", "country_name": "VN"},
}
AN_CERT = {
    "subject": "CN=Nguyễn Văn An, T=Chủ tịch, O=UBND tỉnh Hưng Yên, L=Hưng Yên, C=VN",
    "issuer": SUB_CA["subject"],
    "serial": "5403a1b2c3d4e5f6a7b8",
    "not_before": "2024-01-02T01:00:00+00:00", "not_after": "2027-01-02T01:00:00+00:00",
    "sha256": "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
    "signature_algorithm": "sha256_rsa", "is_trust_anchor": False,
    "subject_fields": {"common_name": "Nguyễn Văn An", "title": "Chủ tịch",
                       "organization_name": "UBND tỉnh Hưng Yên", "locality_name": "Hưng Yên"},
}
AGENCY_CERT = {
    "subject": "CN=UBND tỉnh Hưng Yên, O=UBND tỉnh Hưng Yên, L=Hưng Yên, C=VN",
    "issuer": SUB_CA["subject"],
    "serial": "5403ffeeddccbbaa9988",
    "not_before": "2023-06-01T01:00:00+00:00", "not_after": "2028-06-01T01:00:00+00:00",
    "sha256": "b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1",
    "signature_algorithm": "sha256_rsa", "is_trust_anchor": False,
    "subject_fields": {"common_name": "UBND tỉnh Hưng Yên", "organization_name": "UBND tỉnh Hưng Yên"},
}
TSA_CERT = {
    "subject": "CN=Dịch vụ cấp dấu thời gian VGCA, O=Ban Cơ yếu Chính phủ, C=VN",
    "issuer": SUB_CA["subject"], "serial": "7788", "not_before": "2022-01-01T00:00:00+00:00",
    "not_after": "2032-01-01T00:00:00+00:00",
    "sha256": "c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2",
    "signature_algorithm": "sha256_rsa", "is_trust_anchor": False, "subject_fields": {},
}


def _signer(cert, *, kind, title=None):
    f = cert["subject_fields"]
    return {"common_name": f.get("common_name"), "organization": f.get("organization_name"), "title": title,
            "subject": cert["subject"], "subject_fields": f, "serial": cert["serial"], "issuer": cert["issuer"],
            "certificate_type": kind, "key_usage": ["digital_signature", "non_repudiation"],
            "sha256": cert["sha256"]}


def _reason(code, en, vi):
    return {"code": code, "en": en, "vi": vi}


def _timestamp(time, *, ok=True):
    return {"time": time, "tsa": TSA_CERT["subject"], "intact": ok, "valid": ok, "trusted": ok}


def _sig(field, *, revision, signer, chain, indication="TOTAL_PASSED", sub=None, reason=None, intact=True,
         crypto=True, trusted=True, coverage="entire_revision", mods=(), signing_time=None, timestamp=None,
         revocation=None, level="B-LT", kind="signature", byte_range=(0, 1000, 9194, 2000), problems=(),
         docmdp=None):
    return {
        "field": field, "kind": kind, "indication": indication, "sub_indication": sub,
        "reason": reason or _reason("signature_valid", "The signature is valid.", "Chữ ký số hợp lệ."),
        "intact": intact, "crypto_valid": crypto, "trusted": trusted, "coverage": coverage, "revision": revision,
        "modifications_after": list(mods), "signer": signer, "chain": chain, "signing_time": signing_time,
        "timestamp": timestamp,
        "revocation": revocation or {"status": "good", "source": "dss", "checked_at": VALIDATION_TIME,
                                     "revoked_at": None, "detail": None},
        "level": level, "subfilter": "/ETSI.CAdES.detached" if kind == "signature" else "/ETSI.RFC3161",
        "digest_algorithm": "sha256", "signature_algorithm": "rsassa_pss" if kind == "signature" else "sha256_rsa",
        "docmdp": docmdp, "byte_range": list(byte_range), "problems": list(problems),
    }


def _change(revision, category, description, objects=(), *, docmdp=True, policy=True):
    return {"revision": revision, "category": category, "description": description, "objects": list(objects),
            "permitted_by_docmdp": docmdp, "permitted_by_policy": policy}


def _report(verdict, reasons, signatures, decree30, *, file="QD-125-UBND.pdf", revisions=None):
    return {
        "schema": SCHEMA, "file": file,
        "sha256": "3f5a9c0e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7", "size": 284_311,
        "verdict": verdict, "reasons": reasons, "signatures": signatures, "decree30": decree30,
        "revisions": revisions if revisions is not None else max([s["revision"] for s in signatures] + [0]) + 1,
        "last_revision_covered": verdict == "valid", "validation_time": VALIDATION_TIME,
        "policy": {"name": "kyso-vn-2025", "trust": "VGCA + MIC National Root CA",
                   "allow_sha1_in_ca_certificates": True, "revocation": "require"},
        "duration_ms": 84.2,
    }


def valid_report():
    personal = _sig(
        "Chu_ky_ca_nhan", revision=0, signer=_signer(AN_CERT, kind="personal", title="Chủ tịch"),
        chain=[AN_CERT, SUB_CA, ROOT], signing_time="2025-03-09T08:12:40+07:00",
        timestamp=_timestamp("2025-03-09T01:12:41+00:00"), byte_range=(0, 18342, 34728, 9120),
        mods=[_change(1, "form_filling", "Số và ngày ban hành điền vào trường “So_van_ban”, “Ngay_ban_hanh”",
                      ["/So_van_ban", "/Ngay_ban_hanh"]),
              _change(1, "new_signature", "Chữ ký của cơ quan (trường Chu_ky_co_quan) / agency signature"),
              _change(2, "validation_data", "DSS: 2 OCSP responses, 3 certificates"),
              _change(3, "document_timestamp", "Document timestamp Dau_thoi_gian")])
    agency = _sig(
        "Chu_ky_co_quan", revision=1, signer=_signer(AGENCY_CERT, kind="organisation"),
        chain=[AGENCY_CERT, SUB_CA, ROOT], signing_time="2025-03-09T09:37:36+07:00",
        timestamp=_timestamp("2025-03-09T02:37:36+00:00"), byte_range=(0, 52110, 68496, 3021),
        mods=[_change(2, "validation_data", "DSS: OCSP responses"),
              _change(3, "document_timestamp", "Document timestamp Dau_thoi_gian")])
    doc_ts = _sig(
        "Dau_thoi_gian", revision=3, kind="document_timestamp", level="B-LTA", coverage="entire_file",
        signer=_signer(TSA_CERT, kind="organisation"), chain=[TSA_CERT, SUB_CA, ROOT],
        timestamp=_timestamp("2025-03-09T02:40:02+00:00"), byte_range=(0, 90120, 106506, 1405),
        reason=_reason("timestamp_valid", "The document timestamp is valid.", "Dấu thời gian tài liệu hợp lệ."))
    return _report(
        "valid", [_reason("all_valid", "All 3 signatures are valid; the last revision is covered.",
                          "Cả 3 chữ ký hợp lệ; phiên bản cuối cùng đã được ký.")],
        [agency, doc_ts, personal],      # not in revision order on purpose: the timeline sorts them
        {"status": "ok", "personal_field": "Chu_ky_ca_nhan", "agency_field": "Chu_ky_co_quan",
         "reason": _reason("decree30_ok", "Signed by the competent person, then by the agency.",
                           "Người có thẩm quyền ký trước, cơ quan ký sau.")},
        revisions=4)


def invalid_report():
    personal = _sig(
        "Chu_ky_ca_nhan", revision=0, signer=_signer(AN_CERT, kind="personal", title="Chủ tịch"),
        chain=[AN_CERT, SUB_CA, ROOT], signing_time="2025-03-09T08:12:40+07:00",
        timestamp=_timestamp("2025-03-09T01:12:41+00:00"), indication="TOTAL_FAILED", sub="HASH_FAILURE",
        intact=False, crypto=True, coverage="partial",
        reason=_reason("hash_failure", "The document was modified after signing: the digest does not match.",
                       "Tài liệu đã bị sửa sau khi ký: mã băm không khớp."),
        problems=[_reason("page_content_changed", "Page 1 content was replaced after signing.",
                          "Nội dung trang 1 bị thay thế sau khi ký.")],
        mods=[_change(1, "page_content", "Nội dung trang 1 bị thay đổi (số tiền 150.000.000 đ)",
                      ["4 0 R /Contents"], docmdp=False, policy=False),
              _change(1, "annotation", "Thêm chú thích văn bản", ["12 0 R"], docmdp=True, policy=False)])
    return _report(
        "invalid", [_reason("signature_invalid", "A signature is invalid: the document was modified after signing.",
                            "Có chữ ký không hợp lệ: tài liệu đã bị sửa sau khi ký.")],
        [personal],
        {"status": "personal_only", "personal_field": "Chu_ky_ca_nhan", "agency_field": None,
         "reason": _reason("decree30_agency_missing", "The agency signature is missing.",
                           "Thiếu chữ ký của cơ quan, tổ chức.")},
        revisions=2)


def indeterminate_report():
    unknown_ca = dict(AGENCY_CERT, issuer="CN=Unknown CA, O=Công ty ABC, C=VN",
                      sha256="d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3")
    agency = _sig(
        "Chu_ky_co_quan", revision=0, signer=_signer(unknown_ca, kind="organisation"), chain=[unknown_ca],
        signing_time="2025-03-09T09:37:36+07:00", indication="INDETERMINATE", sub="NO_CERTIFICATE_CHAIN_FOUND",
        trusted=False, coverage="entire_file", level="B-B",
        reason=_reason("no_chain", "No path to a trusted CA; revocation status unknown.",
                       "Không xác lập được đường dẫn tới CA tin cậy; không rõ trạng thái thu hồi."),
        revocation={"status": "unknown", "source": None, "checked_at": VALIDATION_TIME, "revoked_at": None,
                    "detail": "OCSP responder unreachable"})
    return _report(
        "indeterminate", [_reason("signature_indeterminate", "A signature cannot be judged.",
                                  "Không xác định được tính hợp lệ của chữ ký.")],
        [agency],
        {"status": "agency_only", "personal_field": None, "agency_field": "Chu_ky_co_quan",
         "reason": _reason("decree30_personal_missing", "The competent person's signature is missing.",
                           "Thiếu chữ ký của người có thẩm quyền.")},
        file="Công văn 125-UBND-VP.pdf")


def unsigned_report():
    return _report("unsigned", [_reason("no_signature", "The document carries no digital signature.",
                                        "Tài liệu không có chữ ký số.")], [], None, file="to-trinh.pdf")


REPORTS = {"valid": valid_report, "invalid": invalid_report, "indeterminate": indeterminate_report,
           "unsigned": unsigned_report}


def _text(page: str) -> str:
    """The visible text of an HTML page (tags removed, entities decoded)."""
    class P(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.parts, self.skip = [], False

        def handle_starttag(self, tag, attrs):
            self.skip = tag in ("style", "script")

        def handle_endtag(self, tag):
            self.skip = False

        def handle_data(self, data):
            if not self.skip:
                self.parts.append(data)
    p = P()
    p.feed(page)
    return " ".join(" ".join(p.parts).split())


# --- HTML --------------------------------------------------------------------------------------

@pytest.mark.parametrize("verdict,vi,en,colour", [
    ("valid", "HỢP LỆ", "Valid", "#1e7e34"),
    ("invalid", "KHÔNG HỢP LỆ", "Invalid", "#c62828"),
    ("indeterminate", "KHÔNG XÁC ĐỊNH", "Indeterminate", "#b26a00"),
    ("unsigned", "KHÔNG CÓ CHỮ KÝ", "Unsigned", "#5f6368"),
])
def test_html_banner_per_verdict(verdict, vi, en, colour):
    page = to_html(REPORTS[verdict]())
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert f'class="banner verdict-{verdict}"' in page
    assert f".verdict-{verdict}{{background:{colour}}}" in page
    text = _text(page)
    assert f"{vi} {en}" in text                                      # Vietnamese first, English smaller
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_html_valid_shows_the_decree30_chain_in_revision_order():
    page = to_html(valid_report())
    text = _text(page)
    for needle in ("Nguyễn Văn An", "UBND tỉnh Hưng Yên", "Chủ tịch", "Cá nhân", "Tổ chức",
                   "Cục Chứng thực số và Bảo mật thông tin", "Dịch vụ cấp dấu thời gian VGCA",
                   "2025-03-09 09:37:36 +07:00",            # agency timestamp shown in Vietnam time
                   "Người có thẩm quyền ký trước, cơ quan ký sau.", "QD-125-UBND.pdf",
                   "3f5a9c0e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7", "Điền biểu mẫu",
                   "Ký bằng SHA-1", "Điểm tin cậy gốc", "B-LTA", "kyso-vn-2025"):
        assert needle in text, needle
    # timeline order = revision order: personal (0), agency (1), document timestamp (3)
    assert text.index("#1 · Chữ ký số") < text.index("#2 · Chữ ký số") < text.index("#3 · Dấu thời gian tài liệu")
    assert text.index("Nguyễn Văn An", text.index("#1")) < text.index("#2")
    assert page.count("<details>") == 3                              # one certificate path per signature


def test_html_invalid_shows_hash_failure_and_forbidden_change():
    page = to_html(invalid_report())
    text = _text(page)
    assert "HASH_FAILURE" in text and "Tài liệu đã bị sửa sau khi ký: mã băm không khớp." in text
    assert "Nội dung trang 1 bị thay đổi (số tiền 150.000.000 đ)" in text
    assert "✗ Không trái DocMDP, trái chính sách" in text             # the page change is not permitted
    assert 'class="tl-card invalid"' in page and "Chỉ có chữ ký của cá nhân" in text


def test_html_indeterminate_shows_missing_chain_and_unknown_revocation():
    text = _text(to_html(indeterminate_report()))
    assert "NO_CERTIFICATE_CHAIN_FOUND" in text and "Không xác định được" in text
    assert "OCSP responder unreachable" in text and "Công văn 125-UBND-VP.pdf" in text


def test_html_english_first():
    page = to_html(valid_report(), lang="en")
    text = _text(page)
    assert '<html lang="en">' in page and "Valid HỢP LỆ" in text and "Signer" in text
    with pytest.raises(ValueError):
        to_html(valid_report(), lang="fr")


def test_html_escapes_hostile_fields():
    report = invalid_report()
    hostile = "<script>alert(1)</script>"
    report["signatures"][0]["field"] = hostile
    report["decree30"]["personal_field"] = hostile
    report["signatures"][0]["signer"]["common_name"] = 'An" onmouseover="x'
    report["file"] = "<img src=x onerror=alert(1)>.pdf"
    report["policy"]["<b>"] = "</td>"
    page = to_html(report)
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;.pdf" in page
    assert "<td>&lt;b&gt;</td><td>&lt;/td&gt;</td>" in page
    assert 'An&quot; onmouseover=&quot;x' in page


def test_renderers_refuse_other_schemas():
    report = valid_report()
    report["schema"] = "kyso.verification/0"
    for render in (to_html, to_pdf, to_etsi_xml):
        with pytest.raises(ReportUnreadable) as info:
            render(report)
        assert info.value.code == "report_unreadable"


def test_renderers_read_stored_json():
    stored = json.loads(json.dumps(valid_report(), ensure_ascii=False))
    assert to_html(stored) == to_html(valid_report())


# --- PDF ---------------------------------------------------------------------------------------

def _pdftotext(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True)
    return out.stdout.decode("utf-8")


@pytest.fixture(scope="module")
def valid_pdf():
    return to_pdf(valid_report())


def test_pdf_vietnamese_text_extracts_exactly(valid_pdf):
    assert valid_pdf.startswith(b"%PDF-")
    text = " ".join(_pdftotext(valid_pdf).split())      # table cells wrap lines at spaces
    for needle in ("HỢP LỆ", "Nguyễn Văn An", "UBND tỉnh Hưng Yên", "Chủ tịch", "Nghị định 30",
                   "Cục Chứng thực số và Bảo mật thông tin", "Người có thẩm quyền ký trước, cơ quan ký sau.",
                   "2025-03-09 09:37:36 +07:00", "QD-125-UBND.pdf"):
        assert needle in text, needle
    flat = "".join(text.split())           # long hashes may wrap in table cells
    assert "3f5a9c0e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7" in flat


def test_pdf_embeds_every_font(valid_pdf, tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(valid_pdf)
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True).stdout.decode().splitlines()[2:]
    assert lines and not any("Helvetica" in line for line in lines)
    for line in lines:          # columns: name type encoding emb sub uni ...
        assert line.split()[-5:-2] == ["yes", "yes", "yes"], line


@pytest.mark.parametrize("verdict,word", [("invalid", "KHÔNG HỢP LỆ"), ("indeterminate", "KHÔNG XÁC ĐỊNH"),
                                          ("unsigned", "KHÔNG CÓ CHỮ KÝ")])
def test_pdf_other_verdicts(verdict, word):
    text = _pdftotext(to_pdf(REPORTS[verdict]()))
    assert word in text
    if verdict == "invalid":
        assert "HASH_FAILURE" in text and "Nguyễn Văn An" in text


def test_pdf_english_and_hostile_text():
    report = invalid_report()
    report["signatures"][0]["field"] = "<script>alert(1)</script> & <b>"
    text = _pdftotext(to_pdf(report, lang="en"))
    assert "Invalid" in text and "<script>alert(1)</script> & <b>" in "".join(text.splitlines())


# --- ETSI TS 119 102-2 -------------------------------------------------------------------------

NS = {"vr": "http://uri.etsi.org/19102/v1.2.1#", "ds": "http://www.w3.org/2000/09/xmldsig#"}
MAIN = "urn:etsi:019102:mainindication:"


@pytest.mark.parametrize("verdict,expected", [
    ("valid", [("total-passed", None)] * 3),
    ("invalid", [("total-failed", "HASH_FAILURE")]),
    ("indeterminate", [("indeterminate", "NO_CERTIFICATE_CHAIN_FOUND")]),
    ("unsigned", [("total-failed", None)]),
])
def test_etsi_one_report_per_signature(verdict, expected):
    xml = to_etsi_xml(REPORTS[verdict]())
    root = ET.fromstring(xml)
    assert root.tag == "{http://uri.etsi.org/19102/v1.2.1#}ValidationReport"
    reports = root.findall("vr:SignatureValidationReport", NS)
    assert len(reports) == len(expected)
    for rep, (main, sub) in zip(reports, expected):
        status = rep.find("vr:SignatureValidationStatus", NS)
        assert status.findtext("vr:MainIndication", namespaces=NS) == MAIN + main
        subs = [s.text for s in status.findall("vr:SubIndication", NS)]
        assert subs == ([f"urn:etsi:019102:subindication:{sub}"] if sub else [])


def test_etsi_structure_and_validation_objects():
    xml = to_etsi_xml(valid_report())
    root = ET.fromstring(xml)
    objects = {vo.get("id"): vo for vo in root.findall("vr:SignatureValidationObjects/vr:ValidationObject", NS)}
    # 5 distinct certificates (personal, agency, TSA, sub-CA, root) + the PDF file
    assert len(objects) == 6
    first = root.find("vr:SignatureValidationReport", NS)       # revision order: the personal signature
    ident = first.find("vr:SignatureIdentifier", NS)
    assert ident.findtext("vr:DAIdentifier", namespaces=NS) == "Chu_ky_ca_nhan"
    assert ident.findtext("vr:HashOnly", namespaces=NS) == "false"
    assert first.findtext("vr:ValidationTimeInfo/vr:ValidationTime", namespaces=NS).startswith("2025-03-10T03:15:00")
    attrs = first.find("vr:SignatureAttributes", NS)
    assert attrs.findtext("vr:SigningTime/vr:Time", namespaces=NS) == "2025-03-09T08:12:40+07:00"
    assert attrs.findtext("vr:SignatureTimeStamp/vr:TimeStampValue", namespaces=NS).startswith("2025-03-09T01:12:41")
    assert attrs.find("vr:DocTimeStamp", NS) is not None                          # covered by the LTA timestamp
    assert attrs.findtext("vr:ByteRange", namespaces=NS) == "0 18342 34728 9120"
    signer_ref = first.find("vr:SignerInformation/vr:SignerCertificate", NS).get("VOReference")
    assert signer_ref == "C-" + AN_CERT["sha256"].upper() and signer_ref in objects
    assert objects[signer_ref].findtext("vr:ObjectType", namespaces=NS) == "urn:etsi:019102:validationObject:certificate"
    assert first.findtext("vr:SignerInformation/vr:Signer", namespaces=NS) == AN_CERT["subject"]
    chain = first.find("vr:SignatureValidationStatus/vr:AssociatedValidationReportData/vr:CertificateChain", NS)
    assert chain.find("vr:TrustAnchor", NS).get("VOReference") == "C-" + ROOT["sha256"].upper()
    assert chain.find("vr:IntermediateCertificate", NS).get("VOReference") == "C-" + SUB_CA["sha256"].upper()
    data = {d.findtext("vr:Type", namespaces=NS): d.findtext("vr:Value", namespaces=NS)
            for d in first.iter("{{{}}}ReportData".format(NS["vr"]))}
    assert data["urn:kyso:verification:reason:vi"] == "Chữ ký số hợp lệ."
    assert data["urn:kyso:verification:decree30:role"] == "personal"
    assert b'encoding="UTF-8"' in xml[:60] and "Nguyễn Văn An".encode() in xml


def test_etsi_parses_back_into_pyhanko_models():
    """The XML fits the element names and types of pyHanko's generated ETSI models (a schema proxy)."""
    from pyhanko.generated.etsi import ts_11910202
    from xsdata.formats.dataclass.parsers import XmlParser
    from xsdata.formats.dataclass.parsers.config import ParserConfig

    parser = XmlParser(config=ParserConfig(fail_on_unknown_properties=True,
                                           fail_on_unknown_attributes=True, fail_on_converter_warnings=True))
    for make in REPORTS.values():
        model = parser.from_bytes(to_etsi_xml(make()), ts_11910202.ValidationReport)
        assert model.signature_validation_report
        for rep in model.signature_validation_report:
            assert rep.signature_validation_status.main_indication.startswith(MAIN)


def test_etsi_does_not_invent_non_standard_sub_indications():
    report = invalid_report()
    report["signatures"][0]["sub_indication"] = "GENERIC"
    root = ET.fromstring(to_etsi_xml(copy.deepcopy(report)))
    status = root.find("vr:SignatureValidationReport/vr:SignatureValidationStatus", NS)
    assert status.findall("vr:SubIndication", NS) == []
    assert "GENERIC" in [d.findtext("vr:Value", namespaces=NS) for d in status.iter("{{{}}}ReportData".format(NS["vr"]))]


# --- robustness --------------------------------------------------------------------------------

def test_broken_signature_without_signer_or_chain_renders_everywhere():
    """A signature whose CMS could not be parsed: no signer, no chain, odd times; nothing crashes."""
    broken = _sig("Signature1", revision=0, signer=None, chain=[], indication="TOTAL_FAILED", sub="FORMAT_FAILURE",
                  intact=None, crypto=None, trusted=None, coverage="partial", byte_range=(), level="unknown",
                  signing_time="not a time", timestamp={"time": "2025-03-09T01:12:41Z", "tsa": None,
                                                        "intact": None, "valid": False, "trusted": None},
                  revocation={"status": "not_checked", "source": None, "checked_at": None},
                  reason=_reason("cms_unreadable", "The signature cannot be read.", "Không đọc được chữ ký."))
    report = _report("invalid", [], [broken], None, revisions=1)
    report["size"] = None
    text = _text(to_html(report))
    assert "FORMAT_FAILURE" in text and "Không đọc được chữ ký." in text and "not a time" in text
    assert "Không đọc được chữ ký." in " ".join(_pdftotext(to_pdf(report)).split())
    rep = ET.fromstring(to_etsi_xml(report)).find("vr:SignatureValidationReport", NS)
    assert rep.find("vr:SignerInformation", NS) is None
    assert rep.findtext("vr:SignatureValidationStatus/vr:SubIndication", namespaces=NS).endswith("FORMAT_FAILURE")


def test_renders_a_report_built_from_the_verifier_dataclasses():
    """The dict the real ``VerificationReport.to_dict()`` produces is what the renderers read."""
    from verifier import report as r

    cert = r.CertificateInfo(**{k: v for k, v in AN_CERT.items()})
    signer = r.SignerInfo(**dict(_signer(AN_CERT, kind="personal", title="Chủ tịch"),
                                 key_usage=("digital_signature", "non_repudiation")))
    sig = r.SignatureReport(
        field="Chu_ky_ca_nhan", kind="signature", indication=r.Indication.TOTAL_FAILED,
        sub_indication=r.SubIndication.HASH_FAILURE,
        reason=r.Reason("hash_failure", "Modified after signing.", "Đã bị sửa sau khi ký."),
        intact=False, crypto_valid=True, trusted=True, coverage="partial", revision=0,
        modifications_after=(r.Change(1, r.ChangeCategory.PAGE_CONTENT, "Trang 1", ("4 0 R",), False, False),),
        signer=signer, chain=(cert,), signing_time="2025-03-09T08:12:40+07:00",
        timestamp=r.TimestampInfo("2025-03-09T01:12:41+00:00", TSA_CERT["subject"], True, True, True),
        revocation=r.RevocationInfo("good", "fetched", VALIDATION_TIME), level="B-T",
        subfilter="/ETSI.CAdES.detached", digest_algorithm="sha256", signature_algorithm="sha256_rsa",
        docmdp=2, byte_range=(0, 10, 20, 30))
    report = r.VerificationReport(
        file="QĐ 16.pdf", sha256="ab" * 32, size=1000, verdict=r.Verdict.INVALID,
        reasons=(r.Reason("signature_invalid", "Invalid.", "Không hợp lệ."),), signatures=(sig,),
        decree30=r.Decree30Check("personal_only", "Chu_ky_ca_nhan", None, r.Reason("x", "Agency missing.", "Thiếu.")),
        revisions=2, last_revision_covered=False, validation_time=VALIDATION_TIME, policy={"name": "p"}).to_dict()
    page = to_html(report)
    assert 'class="banner verdict-invalid"' in page and "Nguyễn Văn An" in page and "QĐ 16.pdf" in page
    assert "Nguyễn Văn An" in _pdftotext(to_pdf(report, lang="en"))
    status = ET.fromstring(to_etsi_xml(report)).find("vr:SignatureValidationReport/vr:SignatureValidationStatus", NS)
    assert status.findtext("vr:MainIndication", namespaces=NS) == MAIN + "total-failed"


def test_etsi_unreadable_file_is_indeterminate_not_failed():
    report = _report("indeterminate", [_reason("unreadable", "The PDF cannot be read.", "Không đọc được tệp PDF.")],
                     [], None, revisions=0)
    status = ET.fromstring(to_etsi_xml(report)).find("vr:SignatureValidationReport/vr:SignatureValidationStatus", NS)
    assert status.findtext("vr:MainIndication", namespaces=NS) == MAIN + "indeterminate"
