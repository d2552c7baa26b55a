"""Issuing a document the Decree 30 way: prepare, personal signature, the clerk's number, date and
agency signature in one update, attachments and copies, and the rules that refuse the wrong order."""
from __future__ import annotations

import io
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from certs_dev.images import load_dev_image
from kyso.samples import make_pdf
from pdfcheck import pdfsig, pyhanko_statuses
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import SignatureCoverageLevel
from registers.numbering import SqliteNumbering
from signer import Level, SignRequest, SigningEngine, SoftwareKeyHolder
from kyso.errors import KysoError
from signer.formfields import AGENCY_FIELD, DATE_FIELD, NUMBER_FIELD, PERSONAL_FIELD
from signer.issuance import IssuanceWorkflow

# 09:37:36 in Hanoi on 21 November 2026
MOMENT = datetime(2026, 11, 21, 2, 37, 36, tzinfo=timezone.utc)


def code_of(call) -> str:
    with pytest.raises(KysoError) as info:
        call()
    return info.value.code


@pytest.fixture()
def workflow(pki, tmp_path):
    engine = SigningEngine.for_dev_pki(pki, clock=lambda: MOMENT)
    return IssuanceWorkflow(engine=engine, numbering=SqliteNumbering(tmp_path / "registers.sqlite"))


@pytest.fixture(scope="module")
def chairman(pki):
    return SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")


@pytest.fixture(scope="module")
def agency(pki):
    return SoftwareKeyHolder.from_dev_pki(pki, "agency-ubnd-hung-yen")


@pytest.fixture(scope="module")
def draft() -> bytes:
    return make_pdf(pages=2, title="Chi thi ve cong tac van thu")


def issue(workflow, document, agency, **kwargs):
    args = dict(key_holder=agency, agency="UBND", doc_type="CT", seal_image=load_dev_image("agency-ubnd-hung-yen"),
                agency_name="UBND tỉnh Hưng Yên", place="Hưng Yên", level=Level.B_T)
    args.update(kwargs)
    return workflow.issue(document, **args)


def personally_signed(workflow, draft, chairman):
    prepared = workflow.prepare(draft)
    return workflow.sign_personal(prepared, key_holder=chairman, signature_image=load_dev_image("nguyen-van-an"),
                                  level=Level.B_T).data


def flattened_text(pdf: bytes, tmp_path: Path, page: int) -> str:
    """The text a reader sees on a page, appearances of fields and signatures included."""
    src, flat = tmp_path / "in.pdf", tmp_path / "flat.pdf"
    src.write_bytes(pdf)
    subprocess.run(["qpdf", "--flatten-annotations=all", str(src), str(flat)], check=True)
    return subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(flat), "-"],
                          capture_output=True, text=True, check=True).stdout


def rendered(pdf: bytes, tmp_path: Path, page: int) -> Image.Image:
    src = tmp_path / "render.pdf"
    src.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "72", "-png", "-f", str(page), "-l", str(page), "-singlefile",
                    str(src), str(tmp_path / "page")], check=True)
    return Image.open(tmp_path / "page.png").convert("RGB")


def test_issue_end_to_end_keeps_every_signature_valid(workflow, draft, chairman, agency, pki, nssdb, tmp_path):
    signed_personally = personally_signed(workflow, draft, chairman)
    issued = issue(workflow, signed_personally, agency)
    assert issued.number.text == "01/CT-UBND"
    data = issued.signed.data
    assert data.startswith(signed_personally)

    # poppler: two valid signatures, the agency's covers the whole file
    report = pdfsig(data, nssdb)
    assert [s.valid for s in report] == [True, True]
    assert report[1].total_document

    # pyHanko: the personal signature is intact and what came after it is form filling only
    personal, agency_status = pyhanko_statuses(data, pki.trust_roots())
    assert personal.intact and personal.valid and personal.trusted
    assert personal.modification_level == ModificationLevel.FORM_FILLING
    assert personal.bottom_line
    assert agency_status.bottom_line and agency_status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert agency_status.signing_cert.subject.native["organization_name"] == "UBND tỉnh Hưng Yên"

    # what a reader sees: number, date (Decree 30 format), agency name and ISO time with +07:00
    page1 = flattened_text(data, tmp_path, 1)
    assert "Số: 01/CT-UBND" in page1
    assert "Hưng Yên, ngày 21 tháng 11 năm 2026" in page1
    last = flattened_text(data, tmp_path, 2)
    assert "UBND tỉnh Hưng Yên" in last
    assert "2026-11-21T09:37:36+07:00" in last


def test_seal_covers_the_left_third_of_the_signature_image(workflow, draft, chairman, agency, tmp_path):
    from pyhanko.pdf_utils.reader import PdfFileReader

    data = issue(workflow, personally_signed(workflow, draft, chairman), agency).signed.data
    reader = PdfFileReader(io.BytesIO(data))
    rects = {}
    for sig in reader.embedded_signatures:
        rects[sig.field_name] = [float(v) for v in sig.sig_field["/Rect"]]
    px0, py0, px1, py1 = rects[PERSONAL_FIELD]
    image = rendered(data, tmp_path, 2)
    height = image.height

    def count(box, test):
        x0, y0, x1, y1 = box
        n = 0
        for x in range(int(x0), int(x1)):
            for y in range(int(height - y1), int(height - y0)):
                if test(image.getpixel((x, y))):
                    n += 1
        return n

    def red(p):
        return p[0] > 150 and p[1] < 110 and p[2] < 110

    def blue(p):
        return p[2] > 120 and p[0] < 110

    third = (px1 - px0) / 3
    left_third = (px0, py0, px0 + third, py1)
    right_part = (px0 + third + 4, py0, px1, py1)
    assert count((px0, py0, px1, py1), blue) > 50, "the signature image is drawn in its box"
    assert count(left_third, red) > 50, "the seal covers the left third of the signature image"
    assert count(right_part, red) == 0, "and not the rest of it"


def test_attachment_signature_top_right_with_main_number(workflow, agency, pki, nssdb, tmp_path):
    attachment = make_pdf(pages=1, title="Phu luc kem theo")
    signed = workflow.sign_attachment(attachment, key_holder=agency, main_document_number="16/CT-UBND",
                                      agency_name="UBND tỉnh Hưng Yên", level=Level.B_T).data
    assert pyhanko_statuses(signed, pki.trust_roots())[0].bottom_line
    assert pdfsig(signed, nssdb)[0].valid
    text = flattened_text(signed, tmp_path, 1)
    assert "16/CT-UBND" in text and "2026-11-21T09:37:36+07:00" in text
    # the text sits in the top-right corner of page 1
    image = rendered(signed, tmp_path, 1)
    w, h = image.size
    dark_top_right = sum(1 for x in range(w // 2, w) for y in range(0, h // 6) if sum(image.getpixel((x, y))) < 200)
    dark_top_left_band = sum(1 for x in range(0, w // 2) for y in range(0, 40) if sum(image.getpixel((x, y))) < 200)
    assert dark_top_right > 100 and dark_top_left_band == 0


@pytest.mark.parametrize("form, title", [("SY", "SAO Y"), ("SL", "SAO LỤC")])
def test_copy_of_an_issued_original(workflow, draft, chairman, agency, pki, nssdb, tmp_path, form, title):
    original = issue(workflow, personally_signed(workflow, draft, chairman), agency).signed.data
    copy = workflow.make_copy(original, key_holder=agency, form=form, agency="UBND",
                              agency_name="UBND tỉnh Hưng Yên", level=Level.B_T)
    assert copy.number.text == f"01/{form}-UBND"
    statuses = pyhanko_statuses(copy.signed.data, pki.trust_roots())
    assert len(statuses) == 3 and statuses[-1].bottom_line
    assert all(s.intact and s.valid for s in statuses)
    assert all(s.valid for s in pdfsig(copy.signed.data, nssdb))
    text = flattened_text(copy.signed.data, tmp_path, 1)
    assert title in text and f"01/{form}-UBND" in text and "UBND tỉnh Hưng Yên" in text


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("what", ["copy", "attachment"])
def test_the_copy_or_attachment_block_covers_nothing_on_a_real_page(workflow, chairman, agency, tmp_path, what):
    """A Decree 30 page has its agency name and national motto right at the top: the block goes where
    it covers no word and no field (the top margin, in its two-line form), not over the motto."""
    from kyso.samples import make_decree30_draft
    from signer.blanks import _occupied

    original = issue(workflow, personally_signed(workflow, make_decree30_draft(), chairman), agency,
                     doc_type="QĐ").signed.data
    before, width, height = _occupied(original, 0)
    if what == "copy":
        signed = workflow.make_copy(original, key_holder=agency, form="SY", agency="UBND",
                                    agency_name="UBND tỉnh Hưng Yên", level=Level.B_B).signed.data
    else:
        signed = workflow.sign_attachment(original, key_holder=agency, main_document_number="01/QĐ-UBND",
                                          agency_name="UBND tỉnh Hưng Yên", level=Level.B_B).data
    after, _, _ = _occupied(signed, 0)
    added = [box for box in after if box not in before]      # the widget, and the words drawn in it
    block = max(added, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    assert all(block[0] - 1 <= b[0] and b[2] <= block[2] + 1 and block[1] - 1 <= b[1] and b[3] <= block[3] + 1
               for b in added), (block, added)
    assert not [box for box in before if _overlaps(block, box)], "the block covers something on the page"
    assert block[3] > height * 0.9 and block[2] > width * 0.8, "top right of page 1"
    text = flattened_text(signed, tmp_path, 1)
    assert ("SAO Y" in text and "/SY-UBND" in text) if what == "copy" else "01/QĐ-UBND" in text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text, "the motto reads as before"


def test_excerpt_copy_takes_the_named_pages(workflow, draft, chairman, agency, pki, tmp_path):
    original = issue(workflow, personally_signed(workflow, draft, chairman), agency).signed.data
    excerpt = workflow.make_copy(original, key_holder=agency, form="TrS", agency="UBND",
                                 agency_name="UBND tỉnh Hưng Yên", pages=[2], level=Level.B_B)
    assert excerpt.number.text == "01/TrS-UBND"
    statuses = pyhanko_statuses(excerpt.signed.data, pki.trust_roots())
    assert len(statuses) == 1 and statuses[0].bottom_line
    assert "TRÍCH SAO" in flattened_text(excerpt.signed.data, tmp_path, 1)


def test_numbers_follow_each_other_for_official_letters(workflow, draft, chairman, agency):
    first = issue(workflow, personally_signed(workflow, draft, chairman), agency, doc_type="CV", unit="VP",
                  level=Level.B_B)
    second = issue(workflow, personally_signed(workflow, draft, chairman), agency, doc_type="CV", unit="VP",
                   level=Level.B_B)
    assert (first.number.text, second.number.text) == ("01/UBND-VP", "02/UBND-VP")


def test_date_text_pads_days_below_ten_and_january_february():
    from datetime import date

    from signer.formfields import vn_date_text

    assert vn_date_text(date(2027, 2, 4), place="Hưng Yên") == "Hưng Yên, ngày 04 tháng 02 năm 2027"
    assert vn_date_text(date(2026, 11, 21)) == "ngày 21 tháng 11 năm 2026"
    assert vn_date_text(date(2026, 3, 9)) == "ngày 09 tháng 3 năm 2026"


# -- the rules --------------------------------------------------------------------------------

def test_agency_signature_before_the_personal_one_is_refused(workflow, draft, agency):
    prepared = workflow.prepare(draft)
    assert code_of(lambda: issue(workflow, prepared, agency)) == "personal_signature_missing"


def test_agency_signature_with_a_personal_certificate_is_refused(workflow, draft, chairman, pki):
    signed = personally_signed(workflow, draft, chairman)
    deputy = SoftwareKeyHolder.from_dev_pki(pki, "tran-thi-bich-ngoc")
    assert code_of(lambda: issue(workflow, signed, deputy)) == "certificate_not_organisation"
    assert code_of(lambda: workflow.sign_attachment(make_pdf(), key_holder=deputy, main_document_number="1/CT-UBND",
                                                    agency_name="x")) == "certificate_not_organisation"


def test_personal_signature_with_an_organisation_certificate_is_refused(workflow, draft, agency):
    prepared = workflow.prepare(draft)
    assert code_of(lambda: workflow.sign_personal(prepared, key_holder=agency,
                                                  signature_image=load_dev_image("nguyen-van-an"))
                   ) == "certificate_not_personal"


def test_document_changed_after_the_personal_signature_is_refused(workflow, draft, chairman, agency):
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    signed = personally_signed(workflow, draft, chairman)
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    page_ref = writer.find_page_for_modification(0)[0]
    writer.add_stream_to_page(0, writer.add_object(generic.StreamObject(
        stream_data=b"BT /F1 30 Tf 100 400 Td (DA SUA NOI DUNG) Tj ET")))
    out = io.BytesIO()
    writer.write(out)
    tampered = out.getvalue()
    assert page_ref is not None
    assert code_of(lambda: issue(workflow, tampered, agency)) == "document_modified_after_signature"
    assert workflow.numbering.entries(agency="UBND", year=2026) == [], "no number is taken for a refusal"


def test_a_number_is_never_reused(workflow, draft, chairman, agency):
    signed = personally_signed(workflow, draft, chairman)
    issued = issue(workflow, signed, agency)
    assert code_of(lambda: issue(workflow, issued.signed.data, agency)) == "already_issued"
    other = personally_signed(workflow, draft, chairman)
    assert code_of(lambda: issue(workflow, other, agency, number=1)) == "number_taken"


def test_failed_issuance_voids_its_number_with_the_reason(pki, draft, chairman, agency, tmp_path):
    engine = SigningEngine.for_dev_pki(pki, clock=lambda: MOMENT, tsa_url="http://127.0.0.1:9/tsa")
    workflow = IssuanceWorkflow(engine=engine, numbering=SqliteNumbering(tmp_path / "r.sqlite"))
    signed = personally_signed(IssuanceWorkflow(engine=SigningEngine.for_dev_pki(pki, clock=lambda: MOMENT),
                                                numbering=workflow.numbering), draft, chairman)
    assert code_of(lambda: issue(workflow, signed, agency, level=Level.B_T)) == "tsa_unavailable"
    entries = workflow.numbering.entries(agency="UBND", year=2026)
    assert [(e["number"], e["status"]) for e in entries] == [(1, "void")]
    assert "TimestampUnavailable" in entries[0]["reason"]


def test_prepared_fields_exist_and_are_empty(workflow, draft):
    from pyhanko.pdf_utils.reader import PdfFileReader

    prepared = workflow.prepare(draft)
    reader = PdfFileReader(io.BytesIO(prepared))
    fields = {f.get_object()["/T"]: f.get_object() for f in reader.root["/AcroForm"]["/Fields"]}
    assert set(fields) >= {NUMBER_FIELD, DATE_FIELD, PERSONAL_FIELD, AGENCY_FIELD}
    assert all("/V" not in fields[name] for name in fields)
    assert code_of(lambda: workflow.prepare(prepared)) == "issuance_refused"
