"""Visible signatures of Decree 30 (Appendix I): real PDFs signed with the dev PKI, read back with
poppler (pdftotext, pdftoppm, pdfsig), pikepdf and pyHanko's validator.

* the text (Vietnamese diacritics included) comes back exactly from the signature widgets;
* the pixels are where they should be: text blocks in the top right corner of page 1, the RED
  seal over the LEFT third of the BLUE signature image only, at its real diameter;
* the signatures stay valid (pyHanko and pdfsig), the font embedded is a subset.
"""
from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
import subprocess
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path

import pikepdf
import pytest
from PIL import Image
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.validation import SignatureCoverageLevel

from certs_dev.images import dev_image_labels, load_dev_image
from kyso.samples import make_pdf
from signer.appearance import (
    VN_TZ, AgencyAppearance, AppearanceError, AppearanceRenderer, AttachmentAppearance, CopyAppearance,
    CopyForm, PersonalAppearance, Placement, format_vn_time, seal_placement_over, top_right_placement,
)
from signer.keyholders import SoftwareKeyHolder
from tests.pdfcheck import pdfsig, pyhanko_statuses

PAGE_W, PAGE_H = 595, 842                     # kyso.samples pages (A4)
MOMENT = datetime(2026, 11, 21, 2, 37, 36, 480000, tzinfo=timezone.utc)
SHOWN_TIME = "2026-11-21T09:37:36+07:00"
SEAL_MM = 36.0
PERSONAL_BOX = (330.0, 200.0, 474.0, 257.6)   # the personal signature image (144 x 57.6 pt)
SERIF_TTF = Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf")


def sign(document: bytes, holder: SoftwareKeyHolder, kwargs: dict, field: str) -> bytes:
    """PAdES B-B, step by step as the engine does, with MOMENT as the signing time."""
    buf = io.BytesIO(document)
    writer = IncrementalPdfFileWriter(buf, strict=True)
    meta = signers.PdfSignatureMetadata(field_name=field, subfilter=fields.SigSeedSubFilter.PADES)
    pdf_signer = signers.PdfSigner(meta, signer=holder.pyhanko_signer(), **kwargs)

    async def go():
        session = pdf_signer.init_signing_session(writer)
        session.system_time = MOMENT
        info = await session.perform_presign_validation(writer)
        tbs = session.prepare_tbs_document(validation_info=info, bytes_reserved=16384)
        digest, out = tbs.digest_tbs_document(in_place=True)
        post = await tbs.perform_signature(document_digest=digest.document_digest,
                                           pdf_cms_signed_attrs=PdfCMSSignedAttributes(signing_time=MOMENT))
        await post.post_signature_processing(out)

    asyncio.run(go())
    return buf.getvalue()


def pdftotext(data: bytes, *, crop: tuple[float, float, float, float] | None = None) -> str:
    """Text of page 1 (layout kept); ``crop`` = a PDF box (x0, y0, x1, y1) to read only there."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        args = ["pdftotext", "-layout", "-f", "1", "-l", "1", "-enc", "UTF-8"]
        if crop:
            x0, y0, x1, y1 = crop   # -x/-y/-W/-H are pixels at -r 72, origin top left
            args += ["-r", "72", "-x", str(int(x0)), "-y", str(int(PAGE_H - y1)),
                     "-W", str(int(x1 - x0) + 1), "-H", str(int(y1 - y0) + 1)]
        out = subprocess.run(args + [f.name, "-"], capture_output=True, check=True, timeout=60)
    return out.stdout.decode("utf-8")


def render(data: bytes, *, dpi: int = 72) -> Image.Image:
    """Page 1 rendered by poppler (annotations included), RGB."""
    with tempfile.TemporaryDirectory() as d:
        pdf = Path(d) / "doc.pdf"
        pdf.write_bytes(data)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-f", "1", "-l", "1", "-singlefile",
                        str(pdf), str(Path(d) / "page")], check=True, timeout=60)
        return Image.open(Path(d) / "page.png").convert("RGB")


def region(box: tuple[float, float, float, float], dpi: int = 72) -> tuple[int, int, int, int]:
    """A PDF box as pixel coordinates (left, top, right, bottom) of a rendering at ``dpi``."""
    k = dpi / 72
    x0, y0, x1, y1 = box
    return round(x0 * k), round((PAGE_H - y1) * k), round(x1 * k), round((PAGE_H - y0) * k)


def is_red(p):
    return p[0] > 150 and p[1] < 110 and p[2] < 110


def is_blue(p):
    return p[2] > 110 and p[0] < 110 and p[1] < 130


def is_ink(p):
    return sum(p) < 3 * 160


def pixels(img: Image.Image):
    flat = getattr(img, "get_flattened_data", None) or img.getdata   # Pillow >= 12.1 / older
    return flat()


def count(img: Image.Image, px_box, predicate) -> int:
    return sum(1 for p in pixels(img.crop(px_box)) if predicate(p))


# -- fixtures: one signed document per appearance ------------------------------------------------

@pytest.fixture(scope="module")
def renderer() -> AppearanceRenderer:
    return AppearanceRenderer()


@pytest.fixture(scope="module")
def holders(pki):
    return {label: SoftwareKeyHolder.from_dev_pki(pki, label)
            for label in ("nguyen-van-an", "agency-ubnd-hung-yen", "agency-ubnd-nghe-an")}


@pytest.fixture(scope="module")
def document() -> bytes:
    return make_pdf(pages=2, title="Quyet dinh so 16/QD-UBND")


@pytest.fixture(scope="module")
def agency_signed(renderer, holders, document):
    """The official signs with their signature image, then the clerk with the agency's seal over it."""
    personal = PersonalAppearance(image=load_dev_image("nguyen-van-an"))
    assert renderer.natural_size(personal) == pytest.approx((PERSONAL_BOX[2] - PERSONAL_BOX[0],
                                                             PERSONAL_BOX[3] - PERSONAL_BOX[1]))
    personal_place = Placement(page=0, box=PERSONAL_BOX)
    once = sign(document, holders["nguyen-van-an"],
                renderer.apply({}, personal, moment=MOMENT, placement=personal_place, field_name="Signature1"),
                "Signature1")
    agency = AgencyAppearance(seal=load_dev_image("agency-ubnd-hung-yen"), seal_diameter_mm=SEAL_MM,
                              agency_name="UBND TỈNH HƯNG YÊN")
    agency_place = seal_placement_over(personal_place, seal_diameter_mm=SEAL_MM, renderer=renderer)
    twice = sign(once, holders["agency-ubnd-hung-yen"],
                 renderer.apply({}, agency, moment=MOMENT, placement=agency_place, field_name="Signature2"),
                 "Signature2")
    return {"personal_only": once, "data": twice, "agency_place": agency_place}


def _top_right(renderer, holders, document, appearance, label="agency-ubnd-nghe-an"):
    place = top_right_placement(PAGE_W, PAGE_H, renderer.natural_size(appearance))
    data = sign(document, holders[label],
                renderer.apply({}, appearance, moment=MOMENT, placement=place, field_name="Signature1"),
                "Signature1")
    return {"data": data, "place": place}


@pytest.fixture(scope="module")
def attachment_signed(renderer, holders, document):
    return _top_right(renderer, holders, document,
                      AttachmentAppearance(agency_name="UBND TỈNH HƯNG YÊN", main_document_number="16/CT-UBND"),
                      label="agency-ubnd-hung-yen")


COPY_NUMBERS = {CopyForm.SY: "05/SY-UBND", CopyForm.SL: "12/SL-UBND", CopyForm.TRS: "03/TrS-UBND"}


def test_the_seal_is_embedded_without_loss(agency_signed):
    """The seal in the signed PDF is the PNG's own pixels, colour and transparency, bit for bit
    (Flate is lossless whatever its level): what the agency registered is what an auditor sees."""
    png = Image.open(io.BytesIO(load_dev_image("agency-ubnd-hung-yen"))).convert("RGBA")
    with pikepdf.open(io.BytesIO(agency_signed["data"])) as pdf:
        images = [obj for obj in pdf.objects if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == "/Image"
                  and "/SMask" in obj and (obj.Width, obj.Height) == png.size]
        colours = {bytes(img.read_bytes()) for img in images}
        masks = {bytes(img.SMask.read_bytes()) for img in images}
    assert colours == {png.convert("RGB").tobytes()}
    assert masks == {png.getchannel("A").tobytes()}


@pytest.fixture(scope="module")
def copies_signed(renderer, holders, document):
    return {form: _top_right(renderer, holders, document,
                             CopyAppearance(form=form, agency_name="UBND TỈNH NGHỆ AN", copy_number=number))
            for form, number in COPY_NUMBERS.items()}


# -- time ------------------------------------------------------------------------------------------

def test_time_is_iso_8601_in_vietnam_time():
    assert format_vn_time(MOMENT) == SHOWN_TIME
    assert format_vn_time(datetime(2026, 1, 1, 0, 0, 0, tzinfo=VN_TZ)) == "2026-01-01T00:00:00+07:00"
    with pytest.raises(ValueError):
        format_vn_time(datetime(2026, 1, 1))


# -- the text, read back ---------------------------------------------------------------------------

def lines_of(text: str) -> list[str]:
    return [re.sub(r"\s+", " ", line).strip() for line in text.splitlines() if line.strip()]


def test_attachment_text_read_back_exactly_in_the_top_right_corner(attachment_signed):
    place = attachment_signed["place"]
    text = lines_of(pdftotext(attachment_signed["data"], crop=place.box))
    assert text == ["UBND TỈNH HƯNG YÊN", "Kèm theo văn bản số: 16/CT-UBND", SHOWN_TIME]
    # and the corner really is the top right of page 1, one centimetre from the edges
    assert place.page == 0
    assert place.box[2] == pytest.approx(PAGE_W - 28.35) and place.box[3] == pytest.approx(PAGE_H - 28.35)


@pytest.mark.parametrize("form, title", [(CopyForm.SY, "SAO Y"), (CopyForm.SL, "SAO LỤC"),
                                         (CopyForm.TRS, "TRÍCH SAO")])
def test_copy_block_read_back_exactly(copies_signed, form, title):
    signed = copies_signed[form]
    text = lines_of(pdftotext(signed["data"], crop=signed["place"].box))
    assert text == [title, "UBND TỈNH NGHỆ AN", f"Số: {COPY_NUMBERS[form]}", SHOWN_TIME]


def test_agency_name_and_time_read_back_under_the_seal(agency_signed):
    text = lines_of(pdftotext(agency_signed["data"], crop=agency_signed["agency_place"].box))
    assert text[-2:] == ["UBND TỈNH HƯNG YÊN", SHOWN_TIME]
    assert SHOWN_TIME not in pdftotext(agency_signed["personal_only"])   # the personal one shows no text


# -- the pixels --------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["attachment", "SY", "SL", "TrS"])
def test_text_blocks_are_drawn_black_in_the_top_right_corner(which, attachment_signed, copies_signed, document):
    signed = attachment_signed if which == "attachment" else copies_signed[CopyForm(which)]
    box = region(signed["place"].box)
    before, after = render(document), render(signed["data"])
    assert count(before, box, is_ink) == 0                    # the corner was blank
    inked = count(after, box, is_ink)
    assert inked > 300                                        # now it holds the text, in black
    assert count(after, box, lambda p: is_red(p) or is_blue(p)) == 0
    # nothing drawn outside the corner: the rest of the page is unchanged
    outside = Image.new("RGB", after.size, (255, 255, 255))
    outside.paste(after, (0, 0))
    outside.paste((255, 255, 255), box)
    reference = before.copy()
    reference.paste((255, 255, 255), box)
    assert outside.tobytes() == reference.tobytes()


def test_seal_covers_the_left_third_of_the_signature_image_only(agency_signed):
    img = render(agency_signed["data"])
    x0, y0, x1, y1 = PERSONAL_BOX
    third = (x1 - x0) / 3
    left = region((x0, y0, x0 + third - 1, y1))        # 1 pt of slack for anti-aliasing
    right = region((x0 + third + 1, y0, x1, y1))
    assert count(img, region(PERSONAL_BOX), is_blue) > 500               # the signature image is there
    red_left, red_right = count(img, left, is_red), count(img, right, is_red)
    assert red_left > 300, red_left
    assert red_right <= 0.01 * red_left, (red_left, red_right)
    assert count(img, right, is_blue) > 300                              # still visible on the right
    # before the agency signed, no red at all
    assert count(render(agency_signed["personal_only"]), region(PERSONAL_BOX), is_red) == 0


def test_seal_is_drawn_at_its_real_diameter(agency_signed):
    dpi = 144
    img = render(agency_signed["data"], dpi=dpi)
    box = region(agency_signed["agency_place"].box, dpi)
    crop = img.crop(box)
    xs, ys = [], []
    for i, p in enumerate(pixels(crop)):
        if is_red(p):
            xs.append(i % crop.width)
            ys.append(i // crop.width)
    expected = SEAL_MM / 25.4 * dpi
    assert max(xs) - min(xs) + 1 == pytest.approx(expected, rel=0.03)
    assert max(ys) - min(ys) + 1 == pytest.approx(expected, rel=0.03)
    # centred on the signature image's vertical centre, right edge at its left third
    centre_y = box[1] + (min(ys) + max(ys)) / 2
    assert centre_y == pytest.approx((PAGE_H - (PERSONAL_BOX[1] + PERSONAL_BOX[3]) / 2) * dpi / 72, abs=3)
    right_edge = box[0] + max(xs)
    assert right_edge == pytest.approx((PERSONAL_BOX[0] + (PERSONAL_BOX[2] - PERSONAL_BOX[0]) / 3) * dpi / 72,
                                       abs=4)


# -- the signatures, and the fonts -----------------------------------------------------------------

def all_signed(agency_signed, attachment_signed, copies_signed):
    return ([("agency", agency_signed["data"]), ("attachment", attachment_signed["data"])]
            + [(f"copy {f.value}", s["data"]) for f, s in copies_signed.items()])


def test_signatures_valid_for_pyhanko_and_pdfsig(pki, nssdb, agency_signed, attachment_signed, copies_signed):
    for name, data in all_signed(agency_signed, attachment_signed, copies_signed):
        statuses = pyhanko_statuses(data, pki.trust_roots())
        assert statuses, name
        for status in statuses:
            assert status.intact and status.valid and status.trusted, (name, status.pretty_print_details())
        assert statuses[-1].coverage == SignatureCoverageLevel.ENTIRE_FILE, name
        checked = pdfsig(data, nssdb)
        assert len(checked) == len(statuses) and all(s.valid for s in checked), (name, checked)


def test_embedded_fonts_are_prepared_subsets_with_unicode_maps(agency_signed, attachment_signed, copies_signed):
    ttf_size = SERIF_TTF.stat().st_size
    seen = set()
    for name, data in all_signed(agency_signed, attachment_signed, copies_signed):
        with pikepdf.open(io.BytesIO(data)) as pdf:
            for obj in pdf.objects:
                if isinstance(obj, pikepdf.Dictionary) and obj.get("/Subtype") == "/CIDFontType2":
                    base = str(obj.BaseFont)
                    assert re.fullmatch(r"/[A-Z]{6}\+(LiberationSerif|DejaVuSans)", base), base
                    program = obj.FontDescriptor.FontFile2.read_bytes()
                    assert len(program) < ttf_size / 10, (name, len(program))
                    seen.add(base)
    assert any("LiberationSerif" in b for b in seen) and any("DejaVuSans" in b for b in seen)


def test_a_font_is_subset_once_per_data_folder_and_read_back_exactly(tmp_path):
    """The first process prepares the font and leaves it in the data folder's cache; the next one
    reads it (no subsetting) and embeds exactly the same subset, widths and ToUnicode map as one
    prepared without a cache (the subset is the same bytes every time). An entry that is cut short,
    or whose font program does not match its tag, is prepared again."""
    from signer.appearance import DEFAULT_SANS, PreparedFont

    def facts(font):
        return {k: v for k, v in vars(font).items() if not k.startswith("_") and k != "from_cache"}

    built = PreparedFont(DEFAULT_SANS)
    first = PreparedFont(DEFAULT_SANS, cache_dir=tmp_path)
    again = PreparedFont(DEFAULT_SANS, cache_dir=tmp_path)
    assert (first.from_cache, again.from_cache) == (False, True)
    assert facts(again) == facts(built) == facts(first)
    assert again.shape("Ủy ban nhân dân tỉnh Hưng Yên") == built.shape("Ủy ban nhân dân tỉnh Hưng Yên")
    [entry] = tmp_path.glob("*.json")
    whole = entry.read_text()
    entry.write_text(whole[: len(whole) // 2])
    assert not PreparedFont(DEFAULT_SANS, cache_dir=tmp_path).from_cache, "a cut entry is prepared again"
    assert entry.read_text() == whole, "and written again whole"

    from signer.appearance import _canonical

    serif_cache = tmp_path / "serif"
    PreparedFont(SERIF_TTF, cache_dir=serif_cache)
    [serif_entry] = serif_cache.glob("*.json")
    serif = json.loads(serif_entry.read_text())["content"]

    def damaged(change, *, consistent: bool):
        """The entry changed; ``consistent``: its SHA-256 recomputed, as someone who meant it would."""
        raw = json.loads(whole)
        change(raw["content"])
        if consistent:
            raw["sha256"] = hashlib.sha256(_canonical(raw["content"])).hexdigest()
        return json.dumps(raw)

    cases = {
        "one width changed": (lambda c: c["widths"].__setitem__(5, 1), False),
        "another font's program": (lambda c: c.__setitem__("fontfile", serif["fontfile"]), True),
        "another font's shaping": (lambda c: c.__setitem__("shaping", serif["shaping"]), True),
        "a width short": (lambda c: c["widths"].pop(), True),
        "a flag that is a boolean": (lambda c: c.__setitem__("flags", True), True),
        "a fractional stem": (lambda c: c.__setitem__("stem_v", 80.7), True),
        "a name to be cleaned": (lambda c: c.__setitem__("base_name", "Deja Vu)"), True),
    }
    for name, (change, consistent) in cases.items():
        entry.write_text(damaged(change, consistent=consistent))
        font = PreparedFont(DEFAULT_SANS, cache_dir=tmp_path)
        assert not font.from_cache and facts(font) == facts(built), name
    for hostile in ('{"format": 1, "content": {"widths": [Infinity]}}', "[" * 200_000, "\x00" * 10):
        entry.write_text(hostile)
        assert not PreparedFont(DEFAULT_SANS, cache_dir=tmp_path).from_cache
    entry.unlink()
    entry.mkdir()   # not a regular file
    assert facts(PreparedFont(DEFAULT_SANS, cache_dir=tmp_path)) == facts(built)


def test_characters_outside_the_font_are_refused_clearly(renderer):
    with pytest.raises(AppearanceError) as err:
        renderer.natural_size(AttachmentAppearance(agency_name="UBND 漢字", main_document_number="1/CT"))
    assert "U+6F22" in str(err.value.detail)


def test_decomposed_vietnamese_is_normalised(renderer):
    nfd = "UBND TI\u0309NH NGHE\u0302\u0323 AN"
    a = renderer.natural_size(CopyAppearance(form=CopyForm.SY, agency_name=nfd, copy_number="1/SY"))
    b = renderer.natural_size(CopyAppearance(form=CopyForm.SY, agency_name="UBND TỈNH NGHỆ AN", copy_number="1/SY"))
    assert a == pytest.approx(b)


def test_bad_images_are_refused(renderer):
    with pytest.raises(AppearanceError):
        renderer.natural_size(PersonalAppearance(image=b"not a png"))
    jpeg = io.BytesIO()
    Image.new("RGB", (10, 10)).save(jpeg, format="JPEG")
    with pytest.raises(AppearanceError):
        renderer.natural_size(PersonalAppearance(image=jpeg.getvalue()))


def test_one_renderer_signs_concurrently(renderer, holders):
    """Threads share the renderer (cached fonts, images, layouts); each document shows its own text."""
    doc = make_pdf(pages=1)
    results, errors = {}, []

    def work(n):
        try:
            look = CopyAppearance(form=CopyForm.SY, agency_name="UBND TỈNH NGHỆ AN", copy_number=f"{n:02d}/SY-UBND")
            place = top_right_placement(PAGE_W, PAGE_H, renderer.natural_size(look))
            results[n] = (place, sign(doc, holders["agency-ubnd-nghe-an"],
                                      renderer.apply({}, look, moment=MOMENT, placement=place,
                                                     field_name="Signature1"), "Signature1"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    for n, (place, data) in results.items():
        assert lines_of(pdftotext(data, crop=place.box))[2] == f"Số: {n:02d}/SY-UBND"


# -- the development images --------------------------------------------------------------------------

@pytest.mark.parametrize("label", ["nguyen-van-an", "tran-thi-bich-ngoc", "le-hoang-phuc", "pham-thu-ha",
                                   "dang-thi-mai", "official-revoked", "official-expired",
                                   "official-not-yet-valid", "official-no-nr"])
def test_dev_signature_images_are_blue_on_transparent(label):
    data = load_dev_image(label)
    assert len(data) < 60 * 1024
    img = Image.open(io.BytesIO(data)).convert("RGBA")
    opaque = [p for p in pixels(img) if p[3] > 200]
    assert 0.02 < len(opaque) / (img.width * img.height) < 0.6          # ink on a transparent sheet
    assert all(is_blue(p[:3]) for p in opaque)


@pytest.mark.parametrize("label", ["agency-ubnd-hung-yen", "agency-so-noi-vu-hung-yen", "agency-ubnd-nghe-an"])
def test_dev_seals_are_red_round_and_transparent(label):
    data = load_dev_image(label)
    assert len(data) < 60 * 1024
    img = Image.open(io.BytesIO(data)).convert("RGBA")
    assert img.width == img.height
    opaque = [(i % img.width, i // img.width) for i, p in enumerate(pixels(img)) if p[3] > 200]
    assert all(is_red(img.getpixel(xy)[:3]) for xy in opaque[::50])
    xs = [x for x, _ in opaque]
    assert max(xs) - min(xs) > 0.95 * img.width                          # the ring touches the edges
    assert img.getpixel((5, 5))[3] == 0                                  # corners transparent
    assert set(dev_image_labels()) >= {label}
