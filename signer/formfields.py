"""The form fields of a Decree 30 draft: created before anyone signs, filled by the clerk.

Every viewer flags the clerk's step as "modified after signing" when the
number is stamped onto the page after the first signature. Kyso instead
prepares the draft with EMPTY form fields for the number-and-symbol and the
issue date (and the two signature fields) before the competent person signs;
the clerk then only *fills* pre-existing fields, which PDF's modification
rules (and pyHanko's diff analysis) classify as form filling: the personal
signature stays valid.
"""
from __future__ import annotations

import dataclasses
import io

import pikepdf
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import TextStamp, TextStampStyle

from kyso.decree30 import number_text, vn_date_text  # noqa: F401 - the texts the clerk fills in
from signer import errors

NUMBER_FIELD = "SoKyHieu"          # "Số: 16/CT-UBND"
DATE_FIELD = "NgayBanHanh"         # "Hưng Yên, ngày 21 tháng 11 năm 2026"
PERSONAL_FIELD = "ChuKyNguoiKy"    # the competent person's signature
AGENCY_FIELD = "ChuKyCoQuan"       # the agency's signature (the clerk's step)

Box = tuple[float, float, float, float]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DraftLayout:
    """Where the fields go. Defaults fit an A4 page laid out per Decree 30 Appendix I:
    number under the agency name (top left), place and date top right, signature
    block bottom right of the last page. ``personal_page``/``agency_page``: 0-based, -1 = last."""

    number_page: int = 0
    number_box: Box = (60.0, 728.0, 250.0, 746.0)
    date_page: int = 0
    date_box: Box = (300.0, 728.0, 560.0, 746.0)
    personal_page: int = -1
    personal_box: Box = (360.0, 170.0, 530.0, 238.0)
    agency_page: int = -1
    agency_box: Box | None = None      # None: over the left third of the personal box (seal placement)


def add_draft_fields(document: bytes, *, layout_: DraftLayout, agency_box: Box) -> bytes:
    """Add the empty number, date and signature fields to an unsigned draft."""
    try:
        pdf = pikepdf.open(io.BytesIO(document), attempt_recovery=False)
    except pikepdf.PasswordError:
        raise errors.DocumentEncrypted() from None
    except Exception as exc:  # noqa: BLE001
        raise errors.DocumentMalformed(detail={"reason": f"qpdf: {exc}"[:500]}) from None
    with pdf:
        acroform = pdf.Root.get("/AcroForm")
        existing = set()
        if acroform is not None:
            for field in acroform.get("/Fields", []):
                existing.add(str(field.get("/T", "")))
                if field.get("/FT") == "/Sig" and field.get("/V") is not None:
                    raise errors.IssuanceRefused(
                        "the draft is already signed: prepare it before anyone signs",
                        message_vi="Dự thảo đã được ký: phải chuẩn bị trước khi ký.")
        clash = existing & {NUMBER_FIELD, DATE_FIELD, PERSONAL_FIELD, AGENCY_FIELD}
        if clash:
            raise errors.IssuanceRefused(f"the draft already has field(s) {sorted(clash)}",
                                         message_vi="Dự thảo đã có các trường này.",
                                         detail={"fields": sorted(clash)})
        if acroform is None:
            acroform = pdf.make_indirect(pikepdf.Dictionary(Fields=pikepdf.Array()))
            pdf.Root.AcroForm = acroform
        if "/Fields" not in acroform:
            acroform.Fields = pikepdf.Array()
        acroform.DA = pikepdf.String("/Helv 0 Tf 0 g")
        if "/DR" not in acroform:
            acroform.DR = pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=pdf.make_indirect(pikepdf.Dictionary(
                Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica,
                Encoding=pikepdf.Name.WinAnsiEncoding))))
        pages = pdf.pages
        specs = [
            (NUMBER_FIELD, "/Tx", layout_.number_page, layout_.number_box),
            (DATE_FIELD, "/Tx", layout_.date_page, layout_.date_box),
            (PERSONAL_FIELD, "/Sig", layout_.personal_page, layout_.personal_box),
            (AGENCY_FIELD, "/Sig", layout_.agency_page, agency_box),
        ]
        for name, kind, page_index, box in specs:
            try:
                page = pages[page_index]
            except IndexError:
                raise errors.IssuanceRefused(f"the draft has no page {page_index}",
                                             message_vi="Dự thảo không có trang này.") from None
            widget = pikepdf.Dictionary(
                Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name(kind),
                T=pikepdf.String(name), Rect=pikepdf.Array([float(v) for v in box]), F=4, P=page.obj)
            if kind == "/Tx":
                widget.DA = pikepdf.String("/Helv 0 Tf 0 g")
                widget.Q = 0
            widget = pdf.make_indirect(widget)
            if "/Annots" not in page.obj:
                page.obj.Annots = pdf.make_indirect(pikepdf.Array())
            page.obj.Annots.append(widget)
            acroform.Fields.append(widget)
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


def find_field(writer, name: str):
    """The widget/field dictionary (and its reference) named ``name`` in the writer's document."""
    root = writer.root
    try:
        fields = root["/AcroForm"]["/Fields"]
    except KeyError:
        return None, None
    for ref in fields:
        field = ref.get_object()
        if field.get("/T") == name:
            return field, ref
    return None, None


def fill_text_fields(writer, values: dict[str, str], *, font_factory, font_size: float = 13,
                     opaque: bool = True) -> None:
    """Set /V and a matching appearance on pre-existing text fields, in the writer's update.

    Only the field dictionaries change (value and appearance): exactly what
    PDF calls form filling. With ``opaque`` the appearance is white under the
    text: a field laid over the draft's own printed blank ("Số:      /QĐ-UBND")
    shows the filled-in text once, not on top of the blank's words.
    """
    from pyhanko.pdf_utils.content import RawContent

    font_size = max(6, int(round(font_size)))   # pyHanko's layout works in whole points here

    centred = layout.SimpleBoxLayoutRule(
        x_align=layout.AxisAlignment.ALIGN_MID, y_align=layout.AxisAlignment.ALIGN_MID,
        margins=layout.Margins(0, 0, 0, 0), inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT)
    fill = layout.SimpleBoxLayoutRule(
        x_align=layout.AxisAlignment.ALIGN_MID, y_align=layout.AxisAlignment.ALIGN_MID,
        margins=layout.Margins(0, 0, 0, 0), inner_content_scaling=layout.InnerScaling.STRETCH_FILL)
    white = RawContent(b"1 1 1 rg 0 0 1 1 re f", box=layout.BoxConstraints(width=1, height=1)) if opaque else None
    style = TextStampStyle(
        stamp_text="%(value)s", border_width=0,
        text_box_style=TextBoxStyle(font=font_factory, font_size=font_size, leading=font_size,
                                    box_layout_rule=centred),
        inner_content_layout=centred,
        background=white, background_layout=fill, background_opacity=1.0,
    )
    for name, value in values.items():
        field, ref = find_field(writer, name)
        if field is None or field.get("/FT") != "/Tx":
            raise errors.DraftNotPrepared(detail={"field": name})
        if field.get("/V"):
            raise errors.AlreadyIssued(detail={"field": name, "value": str(field.get("/V"))})
        x0, y0, x1, y1 = (float(v) for v in field["/Rect"])
        stamp = TextStamp(writer, style, text_params={"value": value},
                          box=layout.BoxConstraints(width=abs(x1 - x0), height=abs(y1 - y0)))
        appearance = stamp.register()
        field[pdf_name("/V")] = generic.TextStringObject(value)
        field[pdf_name("/AP")] = generic.DictionaryObject({pdf_name("/N"): appearance})
        writer.update_container(field)


def find_text(document: bytes, text: str, *, page: int = -1) -> tuple[int, Box] | None:
    """Where ``text`` (one or more words) is printed on a page: ``(page index, box)`` in PDF
    points, or None. Uses poppler's ``pdftotext -bbox``; a negative page counts from the end."""
    import html
    import re
    import subprocess
    import tempfile

    with pikepdf.open(io.BytesIO(document)) as pdf:
        count = len(pdf.pages)
        index = page if page >= 0 else count + page
        if not 0 <= index < count:
            return None
        mediabox = pdf.pages[index].mediabox
        height = float(mediabox[3]) - float(mediabox[1])
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(document)
        f.flush()
        result = subprocess.run(["pdftotext", "-f", str(index + 1), "-l", str(index + 1), "-bbox", f.name, "-"],
                                capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        return None
    words = [(float(a), float(b), float(c), float(d), html.unescape(w)) for a, b, c, d, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', result.stdout)]
    wanted = text.split()
    for i in range(len(words) - len(wanted) + 1):
        run = words[i:i + len(wanted)]
        if [w[4] for w in run] == wanted:
            x0, x1 = min(w[0] for w in run), max(w[2] for w in run)
            top, bottom = min(w[1] for w in run), max(w[3] for w in run)
            return index, (x0, height - bottom, x1, height - top)
    return None


def anchored_layout(document: bytes, name: str, *, page: int = -1, size: tuple[float, float] = (170.0, 68.0),
                    base: DraftLayout = DraftLayout()) -> DraftLayout:
    """A layout whose personal signature sits just above the official's printed name
    (between the job title line and the name, as Appendix I wants)."""
    found = find_text(document, name, page=page)
    if found is None:
        raise errors.IssuanceRefused(f"the text {name!r} is not on that page of the draft",
                                     message_vi=f"Không tìm thấy dòng chữ {name!r} trên trang đó của dự thảo.",
                                     detail={"anchor": name, "page": page})
    index, (x0, y0, x1, y1) = found
    width, height = size
    centre = (x0 + x1) / 2
    box = (centre - width / 2, y1 + 6, centre + width / 2, y1 + 6 + height)
    return dataclasses.replace(base, personal_page=index, personal_box=box)
