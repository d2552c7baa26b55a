"""Where a draft's own blanks are: the number ("Số: ..."), the place and date ("Hưng Yên, ngày ...
tháng ... năm ..."), and the signer's block (title, space for the signature, name).

A Vietnamese draft (Decree 30, Appendix I) prints its blanks: the clerk's number goes into
"Số:      /QĐ-UBND" under the agency's name, the date into "..., ngày   tháng   năm 2026" under
the national motto, and the competent person's signature between the title line ("CHỦ TỊCH") and
the name. :func:`detect` reads the words and their boxes with poppler's ``pdftotext -bbox`` and
returns those places, so that the fields are put exactly there and the number and the date are
drawn once, over the blanks, not beside them.
"""
from __future__ import annotations

import dataclasses
import html
import io
import re
import subprocess
import tempfile
import unicodedata

import pikepdf

from signer import errors

Box = tuple[float, float, float, float]

__all__ = ["Blanks", "Word", "detect", "free_top_right", "words"]

# title lines of a signature block, the last words before the signature (Decree 30 Appendix I)
_TITLES = ("CHỦ TỊCH", "PHÓ CHỦ TỊCH", "GIÁM ĐỐC", "PHÓ GIÁM ĐỐC", "CHÁNH VĂN PHÒNG", "PHÓ CHÁNH VĂN PHÒNG",
           "BỘ TRƯỞNG", "THỨ TRƯỞNG", "THỦ TƯỚNG", "PHÓ THỦ TƯỚNG", "TRƯỞNG BAN", "PHÓ TRƯỞNG BAN",
           "CHÁNH THANH TRA", "TỔNG GIÁM ĐỐC", "VIỆN TRƯỞNG", "HIỆU TRƯỞNG", "TRƯỞNG PHÒNG", "THỦ TRƯỞNG",
           "BÍ THƯ", "PHÓ BÍ THƯ", "CỤC TRƯỞNG", "CHI CỤC TRƯỞNG", "TỔNG CỤC TRƯỞNG")
_SYMBOL = re.compile(r"/\s*([0-9A-Za-zĐđ]+)-([0-9A-Za-zĐđ]+)(?:-([0-9A-Za-zĐđ]+))?")


@dataclasses.dataclass(frozen=True)
class Word:
    page: int
    x0: float
    top: float       # distance from the top of the page (pdftotext's y)
    x1: float
    bottom: float
    text: str

    @property
    def mid(self) -> float:
        return (self.top + self.bottom) / 2


@dataclasses.dataclass(frozen=True)
class Blanks:
    """What :func:`detect` found (PDF points, origin bottom left; pages 0-based). None: not found."""

    number_page: int | None = None
    number_box: Box | None = None
    number_symbol: str | None = None      # the symbol printed in the blank, e.g. "QĐ-UBND" or "UBND-VP"
    date_page: int | None = None
    date_box: Box | None = None
    place: str | None = None              # the place printed before ", ngày", e.g. "Hưng Yên"
    signature_page: int | None = None
    signature_box: Box | None = None
    title: str | None = None              # the signer's title line, e.g. "CHỦ TỊCH"
    signer_name: str | None = None        # the printed name under the signature space
    font_size: float | None = None        # the size of the blank's text, for the filled-in text

    @property
    def doc_type(self) -> str | None:
        """The document type the printed symbol names (``QĐ`` of ``QĐ-UBND``; ``CV`` for ``UBND-VP``)."""
        if not self.number_symbol:
            return None
        from kyso.decree30 import DOCUMENT_TYPES

        head = self.number_symbol.split("-", 1)[0]
        return head if head in DOCUMENT_TYPES else "CV"

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["doc_type"] = self.doc_type
        return out


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def words(document: bytes, *, pages: tuple[int, ...] | None = None) -> tuple[list[Word], list[float]]:
    """Every word of the chosen pages (all by default) with its box, and each page's height."""
    try:
        with pikepdf.open(io.BytesIO(document)) as pdf:
            heights = [float(p.mediabox[3]) - float(p.mediabox[1]) for p in pdf.pages]
    except Exception as exc:  # noqa: BLE001 - the engine refuses a bad PDF with a clear error
        raise errors.DocumentMalformed(detail={"reason": f"{type(exc).__name__}: {exc}"[:300]}) from None
    count = len(heights)
    wanted = sorted({p if p >= 0 else count + p for p in (pages or range(count)) if -count <= p < count})
    found: list[Word] = []
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(document)
        f.flush()
        for index in wanted:
            result = subprocess.run(["pdftotext", "-f", str(index + 1), "-l", str(index + 1), "-bbox", f.name, "-"],
                                    capture_output=True, text=True, timeout=60, check=False)
            if result.returncode != 0:
                continue
            for a, b, c, d, w in re.findall(
                    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
                    result.stdout):
                found.append(Word(index, float(a), float(b), float(c), float(d), _nfc(html.unescape(w))))
    return found, heights


def _lines(ws: list[Word]) -> list[list[Word]]:
    """Words grouped into lines (same page, overlapping vertically), left to right, top to bottom."""
    lines: list[list[Word]] = []
    for w in sorted(ws, key=lambda w: (w.page, w.mid, w.x0)):
        for line in lines:
            ref = line[0]
            if ref.page == w.page and abs(ref.mid - w.mid) < max(2.5, (ref.bottom - ref.top) * 0.45):
                line.append(w)
                break
        else:
            lines.append([w])
    for line in lines:
        line.sort(key=lambda w: w.x0)
    lines.sort(key=lambda line: (line[0].page, line[0].mid))
    return lines


def _segments(line: list[Word], gap: float = 28.0) -> list[list[Word]]:
    """A line cut where the space between two words is wide (two columns of the header)."""
    out: list[list[Word]] = [[line[0]]]
    for prev, w in zip(line, line[1:]):
        if w.x0 - prev.x1 > gap:
            out.append([w])
        else:
            out[-1].append(w)
    return out


def _box(run: list[Word], height: float, *, pad: float = 2.0) -> Box:
    x0 = min(w.x0 for w in run) - pad
    x1 = max(w.x1 for w in run) + pad
    top = min(w.top for w in run) - pad
    bottom = max(w.bottom for w in run) + pad
    return (round(x0, 1), round(height - bottom, 1), round(x1, 1), round(height - top, 1))


def detect(document: bytes, *, signer_name: str | None = None) -> Blanks:
    """The draft's number, date and signature blanks (see the module's docstring)."""
    found, heights = words(document, pages=(0, -1))
    if not found:
        return Blanks()
    first = [w for w in found if w.page == 0]
    last_page = max(w.page for w in found)
    last = [w for w in found if w.page == last_page]
    values: dict = {}

    # "Số: ..../QĐ-UBND": the first word "Số:" in the top half of page 1, and what follows it on its
    # line within the left column (the blank is spaces or dots between "Số:" and the symbol)
    for line in _lines(first):
        starts = [i for i, w in enumerate(line) if w.text in ("Số:", "Số") or w.text.startswith("Số:")]
        if line[0].top > heights[0] / 2:
            break
        if starts:
            start = line[starts[0]]
            run = [start]
            for w in line[starts[0] + 1:]:
                # the blank (spaces, dots) may be wide; then the symbol; the next column is farther
                widest = 120.0 if len(run) == 1 and w.text[:1] in "/.…_0123456789" else 30.0
                if w.x0 - run[-1].x1 > widest or w.x0 - start.x0 > 220:
                    break
                run.append(w)
            text = " ".join(w.text for w in run)
            symbol = _SYMBOL.search(text)
            values.update(number_page=0, number_box=_widen(_box(run, heights[0]), 150.0),
                          number_symbol="-".join(g for g in symbol.groups() if g) if symbol else None,
                          font_size=round(max(w.bottom - w.top for w in run) * 1.05, 1))
            break

    # "<place>, ngày ... tháng ... năm ...": a segment on page 1 holding the three words
    for segment in (s for line in _lines(first) for s in _segments(line, gap=60.0)):
        texts = [w.text.strip(",") for w in segment]
        if segment[0].top > heights[0] / 2:
            break
        if "ngày" in texts and "tháng" in texts and "năm" in texts:
            at = texts.index("ngày")
            place = " ".join(w.text for w in segment[:at]).strip().rstrip(",").strip() or None
            values.update(date_page=0, date_box=_widen(_box(segment, heights[0]), 250.0), place=place)
            break

    # the signature: between the title line and the name, on the last page
    lines = _lines(last)
    name_line = None
    if signer_name:
        wanted = _nfc(signer_name).split()
        for line in lines:
            texts = [w.text for w in line]
            for i in range(len(texts) - len(wanted) + 1):
                if texts[i:i + len(wanted)] == wanted:
                    name_line = line[i:i + len(wanted)]
                    break
            if name_line:
                break
    title_line = None
    for index, line in enumerate(lines):
        for segment in _segments(line):
            text = " ".join(w.text for w in segment)
            bare = re.sub(r"^(KT\.|TM\.|TL\.|TUQ\.|Q\.)\s*", "", text).strip()
            if bare in _TITLES and (name_line is None or segment[0].top < name_line[0].top):
                title_line = segment
                if name_line is None:   # the name: the next line below in the same column, after a gap
                    for below in lines[index + 1:]:
                        column = [w for w in below if w.x1 > segment[0].x0 - 60 and w.x0 < segment[-1].x1 + 60]
                        if column and column[0].top - segment[-1].bottom > 30:
                            name_line = column
                            break
    if name_line is not None:
        height = heights[last_page]
        x_mid = (min(w.x0 for w in name_line) + max(w.x1 for w in name_line)) / 2
        name_top = height - min(w.top for w in name_line)
        ceiling = height - max(w.bottom for w in title_line) if title_line else name_top + 80
        gap = max(ceiling - name_top, 40.0)
        box_h = min(gap - 6, 76.0)
        y0 = name_top + 3 + (gap - 6 - box_h) / 2
        values.update(signature_page=last_page, signature_box=(round(x_mid - 85, 1), round(y0, 1),
                                                               round(x_mid + 85, 1), round(y0 + box_h, 1)),
                      signer_name=" ".join(w.text for w in name_line),
                      title=" ".join(w.text for w in title_line) if title_line else None)
    return Blanks(**values)


def _widen(box: Box, minimum: float) -> Box:
    """A box at least ``minimum`` points wide (the filled text is longer than a blank of spaces)."""
    x0, y0, x1, y1 = box
    if x1 - x0 < minimum:
        x1 = x0 + minimum
    return (x0, y0, x1, y1)


def draft_layout(blanks: Blanks, *, base=None):
    """The :class:`signer.formfields.DraftLayout` that puts each field on its blank (what was not
    found keeps ``base``'s place)."""
    from signer.formfields import DraftLayout

    layout = base or DraftLayout()
    changes = {}
    if blanks.number_box is not None:
        changes.update(number_page=blanks.number_page, number_box=blanks.number_box)
    if blanks.date_box is not None:
        changes.update(date_page=blanks.date_page, date_box=blanks.date_box)
    if blanks.signature_box is not None:
        changes.update(personal_page=blanks.signature_page, personal_box=blanks.signature_box)
    return dataclasses.replace(layout, **changes)


def _occupied(document: bytes, page: int) -> tuple[list[Box], float, float]:
    """What is already on a page, in PDF points (origin bottom left): its words and the rectangles
    of its annotations (form fields and earlier signatures, which pdftotext does not see), and the
    page's width and height."""
    ws, heights = words(document, pages=(page,))
    with pikepdf.open(io.BytesIO(document)) as pdf:
        index = page if page >= 0 else len(pdf.pages) + page
        p = pdf.pages[index]
        x0, y0, x1, y1 = (float(v) for v in p.mediabox)
        boxes: list[Box] = [(w.x0 + x0, y1 - w.bottom, w.x1 + x0, y1 - w.top) for w in ws]
        for annot in p.obj.get("/Annots") or []:
            try:
                rect = [float(v) for v in annot.get("/Rect")]
            except (TypeError, ValueError):
                continue
            if len(rect) == 4 and rect[2] - rect[0] > 0.5 and rect[3] - rect[1] > 0.5:
                boxes.append((min(rect[0], rect[2]), min(rect[1], rect[3]), max(rect[0], rect[2]),
                              max(rect[1], rect[3])))
    return boxes, x1 - x0, y1 - y0


def free_top_right(document: bytes, size: tuple[float, float], *, page: int = 0, margin: float = 28.35,
                   min_scale: float = 1.0, gap: float = 2.0, scan_down: bool = True,
                   corner_anyway: bool = False) -> Box | None:
    """Where a block of ``size`` points goes at the top right of ``page`` (Decree 30: an attachment's
    or a copy's agency signature) without covering what the page already shows: 1 cm from the top
    and right edges if that is free; else in the top margin above the page's first line, drawn
    smaller (down to ``min_scale`` of its size); else lower down the right side, in the first free
    space of the top half. None if there is no such place (the corner itself with ``corner_anyway``:
    the block then overlaps what is there)."""
    w, h = size
    occupied, width, height = _occupied(document, page)
    right = width - margin

    def free(box: Box) -> bool:
        return not any(box[0] - gap < o[2] and o[0] < box[2] + gap and box[1] - gap < o[3] and o[1] < box[3] + gap
                       for o in occupied)

    corner = (right - w, height - margin - h, right, height - margin)
    if free(corner):
        return corner
    top = height - min(margin, 14.0)                       # 5 mm from the edge: printable on any printer
    below = [o[3] for o in occupied if o[0] < right and o[2] > right - w and o[3] <= top]
    ceiling = max(below, default=0.0)
    room = top - ceiling - 2 * gap
    if room >= h * min_scale:
        scale = min(1.0, room / h)
        box = (right - w * scale, top - h * scale, right, top)
        if free(box):
            return box
    y = height - margin
    while scan_down and y - h > height / 2:
        box = (right - w, y - h, right, y)
        if free(box):
            return box
        y -= 2.0
    return corner if corner_anyway else None
