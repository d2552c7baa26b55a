"""Visible signature appearances of Decree 30/2020/ND-CP, Appendix I, for pyHanko.

    renderer = AppearanceRenderer()                       # one per process: it holds the caches
    look = AgencyAppearance(seal=png, agency_name="UBND TỈNH HƯNG YÊN")
    placement = seal_placement_over(personal_placement, seal_diameter_mm=36, renderer=renderer)
    kwargs = renderer.apply({}, look, moment=moment, placement=placement, field_name="Signature2")
    pdf_signer = PdfSigner(meta, signer=signer, **kwargs)   # stamp_style=..., new_field_spec=...

Four appearances:

* :class:`PersonalAppearance`: the competent person's handwritten signature image (blue PNG,
  transparent background), nothing else.
* :class:`AgencyAppearance`: the agency's red seal at its real size (``seal_diameter_mm``), and
  under it the agency's name and the signing time (ISO 8601, +07:00), DejaVu Sans 8 pt, black.
  Placed with :func:`seal_placement_over` the seal covers the left third of the personal
  signature image.
* :class:`AttachmentAppearance`: no image; the agency's name, "Kèm theo văn bản số: <number>"
  and the signing time; Liberation Serif (Times New Roman metrics) 10 pt, regular, black.
* :class:`CopyAppearance`: no image; the "SAO Y" / "SAO LỤC" / "TRÍCH SAO" title (10 pt,
  emboldened by stroking), the copying agency, "Số: <copy number>" and the signing time, centred.

Speed. Shaping and subsetting a TrueType font costs tens to hundreds of milliseconds, decoding
and compressing a PNG a few more; a signature must not pay that. So, once per process:

* :class:`PreparedFont`: the font is subset ONCE to the whole Latin + Vietnamese repertoire
  (:data:`REPERTOIRE`); the subset's compressed ``FontFile2`` program, its ``ToUnicode`` CMap,
  its metrics and a HarfBuzz font for shaping are kept. Per document only the short texts are
  shaped (HarfBuzz, microseconds) and a handful of small PDF objects are written around the
  already-compressed font program (:class:`PreparedFontEngine`, a pyHanko ``FontEngine``).
* :class:`PreparedImage`: the PNG is decoded and its colour and alpha planes Flate-compressed
  ONCE; per document two stream objects reuse those bytes.
* per appearance: its layout (natural size, line positions) and its stamp style.

Everything cached is immutable (bytes, tuples, frozen dataclasses); the one shared mutable
thing, the HarfBuzz font, is used under a lock. The renderer is thread-safe.

pyHanko integration: :class:`Decree30StampStyle` is a ``BaseStampStyle``; pyHanko calls its
``create_stamp`` when it builds the signature widget's appearance (``SigAppearanceSetup``), and
the stamp (a ``BaseStamp``, so an ``AppearanceContent`` form XObject) draws the image and the
text. The time shown is baked into the per-signature style by :meth:`AppearanceRenderer.apply`
(no ``appearance_text_params`` needed); it is ``format_vn_time(moment)``, and the engine passes
the same ``moment`` as the signature's signing time.
"""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import io
import logging
import os
import threading
import unicodedata
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Union

from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import ResourceType
from pyhanko.pdf_utils.font.api import FontEngine, FontEngineFactory, ShapeResult
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign.fields import SigFieldSpec
from pyhanko.stamp.base import BaseStamp, BaseStampStyle

from kyso.decree30 import VN_TZ, format_vn_time  # noqa: F401 - re-exported for the appearance code
from kyso.errors import ErrorKind
from signer.errors import SigningError

log = logging.getLogger(__name__)

__all__ = [
    "AgencyAppearance", "Appearance", "AppearanceError", "AppearanceRenderer", "AttachmentAppearance",
    "CopyAppearance", "CopyForm", "Decree30StampStyle", "PersonalAppearance", "Placement", "PreparedFont",
    "PreparedFontEngine", "PreparedFontFactory", "PreparedImage", "REPERTOIRE", "VN_TZ",
    "format_vn_time", "seal_placement_over", "top_right_placement",
]

MM = 72 / 25.4  # points per millimetre

DEFAULT_SERIF = Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf")
DEFAULT_SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

BLACK = (0.0, 0.0, 0.0)
_SAMPLE_TIME = "2026-12-28T08:08:08+07:00"   # for natural sizes; digits are tabular in both fonts


class _Template(str):
    """A line that is already a template: literal text escaped, and the signing time's placeholder."""


def _with_time(literal: str) -> _Template:
    return _Template(literal.replace("%", "%%") + "%(vn_time)s")


class AppearanceError(SigningError):
    """The appearance cannot be drawn (bad image, text outside the font's repertoire, bad box)."""

    code = "appearance_invalid"
    kind = ErrorKind.INVALID_INPUT
    message_en = "The signature appearance is invalid."
    message_vi = "Hình thức hiển thị chữ ký không hợp lệ."


# -- what to draw, where --------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Placement:
    """Where a new visible signature field goes: a page (0-based; negative counts from the end)
    and a box ``(x0, y0, x1, y1)`` in PDF points, origin bottom-left."""

    page: int
    box: tuple[float, float, float, float]

    def __post_init__(self):
        x0, y0, x1, y1 = self.box
        if not (x1 > x0 and y1 > y0):
            raise AppearanceError(f"empty or inverted signature box {self.box!r}")

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def field_spec(self, field_name: str) -> SigFieldSpec:
        """pyHanko's description of the new signature field at this place."""
        return SigFieldSpec(sig_field_name=field_name, on_page=self.page,
                            box=tuple(round(v, 2) for v in self.box))


@dataclass(frozen=True, kw_only=True)
class PersonalAppearance:
    """The competent person's signature: their handwritten signature image (PNG, blue,
    transparent background), nothing else."""

    image: bytes = dataclasses.field(repr=False)


@dataclass(frozen=True, kw_only=True)
class AgencyAppearance:
    """The agency's signature: its red seal (PNG, transparent) at real size, its name and the time."""

    seal: bytes = dataclasses.field(repr=False)
    seal_diameter_mm: float = 36.0
    agency_name: str


@dataclass(frozen=True, kw_only=True)
class AttachmentAppearance:
    """An attachment in a separate file: no image; the main document's number and symbol
    (e.g. ``16/CT-UBND``) and the time; serif 10 pt, black, top right of page 1."""

    agency_name: str
    main_document_number: str
    compact: bool = False    # two lines instead of three, for a page with little room at its top right


class CopyForm(enum.Enum):
    SY = "SY"     # sao y
    SL = "SL"     # sao lục
    TRS = "TrS"   # trích sao

    @property
    def title(self) -> str:
        return {"SY": "SAO Y", "SL": "SAO LỤC", "TrS": "TRÍCH SAO"}[self.value]


@dataclass(frozen=True, kw_only=True)
class CopyAppearance:
    """An electronic copy: the "SAO Y"/"SAO LỤC"/"TRÍCH SAO" block, the copying agency, the copy's
    number (e.g. ``05/SY-UBND``) and the time; no image; top right of page 1."""

    form: CopyForm
    agency_name: str
    copy_number: str
    compact: bool = False    # two lines instead of four, for a page with little room at its top right


Appearance = Union[PersonalAppearance, AgencyAppearance, AttachmentAppearance, CopyAppearance]


# -- fonts: subset once, embed the prepared subset in every document ------------------------------

def _repertoire() -> str:
    ranges = [
        (0x20, 0x7E),        # Basic Latin
        (0xA0, 0xFF),        # Latin-1 (À Á Â Ã È É Ê Ì Í Ò Ó Ô Õ Ù Ú Ý à ... ý, °, «», ...)
        (0x1EA0, 0x1EF9),    # Latin Extended Additional: the Vietnamese letters with tones
        (0x2010, 0x2027),    # dashes, quotes, bullet, ellipsis
    ]
    singles = [
        0x102, 0x103, 0x110, 0x111, 0x128, 0x129, 0x168, 0x169,   # Ă ă Đ đ Ĩ ĩ Ũ ũ
        0x1A0, 0x1A1, 0x1AF, 0x1B0,                               # Ơ ơ Ư ư
        0x300, 0x301, 0x303, 0x309, 0x323,                        # combining tone marks
        0x20AB, 0x2116,                                           # ₫ №
    ]
    chars = [chr(c) for lo, hi in ranges for c in range(lo, hi + 1)] + [chr(c) for c in singles]
    return "".join(chars)


REPERTOIRE = _repertoire()
"""What the prepared subset covers: Basic Latin, Latin-1, all Vietnamese letters (precomposed,
with every tone), the combining tone marks, common punctuation, ₫ and №."""


def _subset_tag(data: bytes) -> str:
    """A deterministic subset tag (six capitals, ISO 32000-1 § 9.6.4) derived from the subset."""
    digest = hashlib.sha256(data).digest()
    return "".join(chr(ord("A") + b % 26) for b in digest[:6])


class PreparedFont:
    """A TrueType font subset once to :data:`REPERTOIRE`, ready to embed in any number of PDFs.

    Built once per font file and process (~0.05-0.2 s of fontTools, plus its import), or read from
    ``cache_dir`` where an earlier process left it (a few milliseconds): the service's workers and
    every ``kyso`` command share one data folder, so a font is subset once per machine, not once per
    process. The cache entry is named by the SHA-256 of the font file and of what the preparation
    depends on (:func:`_font_cache_key`); an entry that does not read back exactly as written
    (:func:`_read_prepared`) is prepared again. Immutable afterwards, except for the HarfBuzz font,
    used only under ``self._lock``.
    """

    def __init__(self, path: Path | str, *, cache_dir: Path | str | None = None) -> None:
        import uharfbuzz as hb

        self.path = Path(path)
        try:
            source = self.path.read_bytes()
        except OSError as exc:
            raise AppearanceError(f"cannot read font {self.path}: {exc}") from None
        entry = Path(cache_dir) / f"{_font_cache_key(source, self.path.stem)}.json" if cache_dir is not None else None
        facts = _read_prepared(entry) if entry is not None else None
        self.from_cache = facts is not None
        if facts is None:
            facts = _prepare_font(self.path, source)
            if entry is not None:
                _write_prepared(entry, facts)
        self.base_name = facts["base_name"]
        self.program_length = facts["program_length"]
        self.fontfile_encoded = facts["fontfile"]
        self.subset_tag = facts["subset_tag"]
        self.name = f"{self.subset_tag}+{self.base_name}"
        self.units_per_em = facts["units_per_em"]
        self.widths = tuple(facts["widths"])
        self.covered = frozenset(facts["covered"])
        self.tounicode_encoded = facts["tounicode"]
        self.ascent, self.descent = facts["ascent"], facts["descent"]
        self.bbox = tuple(facts["bbox"])
        self.cap_height = facts["cap_height"]
        self.italic_angle = float(facts["italic_angle"])
        self.stem_v = facts["stem_v"]
        self.flags = facts["flags"]

        self._hb_font = hb.Font(hb.Face(facts["shaping"]))
        self._hb = hb
        self._lock = threading.Lock()

    def check_text(self, text: str) -> str:
        """The text in NFC (precomposed letters); refuses characters the font subset lacks."""
        text = unicodedata.normalize("NFC", text)
        missing = sorted({c for c in text if ord(c) not in self.covered and c not in "\n"})
        if missing:
            shown = "".join(missing)
            raise AppearanceError(
                f"characters not supported in signature appearances: {shown!r}",
                message_vi=f"Ký tự không được hỗ trợ trong hình thức hiển thị chữ ký: {shown!r}",
                detail={"characters": [f"U+{ord(c):04X}" for c in missing]})
        return text

    def shape(self, text: str) -> tuple[bytes, float, tuple[int, ...]]:
        """(``[...] TJ`` operator, advance in em, glyph ids used) for one line of ``text``.

        HarfBuzz positions the glyphs (kerning); TJ draws them with the adjustments needed
        between the advance in ``/W`` and HarfBuzz's advance (ISO 32000-1 § 9.4.3).
        """
        if not text:
            return b"", 0.0, ()
        hb = self._hb
        buf = hb.Buffer()
        buf.add_str(text)
        buf.guess_segment_properties()
        with self._lock:
            hb.shape(self._hb_font, buf, {})
            infos = [(i.codepoint, p.x_advance, p.x_offset) for i, p in zip(buf.glyph_infos, buf.glyph_positions)]
        k = 1000 / self.units_per_em
        widths = self.widths
        parts: list[str] = []
        run: list[str] = []
        pending = 0.0     # adjustment (thousandths of em, PDF sign) before the next glyph
        total = 0
        for gid, x_adv, x_off in infos:
            pending -= x_off * k
            adj = round(pending)
            if adj and run:
                parts.append("<" + "".join(run) + ">")
                run = []
            if adj:
                parts.append(str(adj))
            run.append(f"{gid:04x}")
            pending = widths[gid] - x_adv * k + x_off * k
            total += x_adv
        if run:
            parts.append("<" + "".join(run) + ">")
        ops = ("[" + " ".join(parts) + "] TJ").encode("ascii")
        return ops, total / self.units_per_em, tuple(g for g, _a, _o in infos)

    def width(self, text: str, size: float) -> float:
        return self.shape(text)[1] * size

    def embed(self, writer: BasePdfFileWriter, used_gids, *, font_ref: generic.IndirectObject | None = None
              ) -> generic.IndirectObject:
        """Write this font into ``writer``: a Type0 font over a CIDFontType2 with the prepared
        (already compressed) subset program. ``/W`` lists only the glyphs used."""
        program = generic.StreamObject(
            {pdf_name("/Filter"): pdf_name("/FlateDecode"),
             pdf_name("/Length1"): generic.NumberObject(self.program_length)},
            encoded_data=self.fontfile_encoded)
        descriptor = generic.DictionaryObject({
            pdf_name("/Type"): pdf_name("/FontDescriptor"),
            pdf_name("/FontName"): pdf_name("/" + self.name),
            pdf_name("/Flags"): generic.NumberObject(self.flags),
            pdf_name("/FontBBox"): generic.ArrayObject(generic.NumberObject(v) for v in self.bbox),
            pdf_name("/ItalicAngle"): generic.FloatObject(self.italic_angle),
            pdf_name("/Ascent"): generic.NumberObject(self.ascent),
            pdf_name("/Descent"): generic.NumberObject(self.descent),
            pdf_name("/CapHeight"): generic.NumberObject(self.cap_height),
            pdf_name("/StemV"): generic.NumberObject(self.stem_v),
            pdf_name("/FontFile2"): writer.add_object(program),
        })
        widths = generic.ArrayObject()
        for gid in sorted(set(used_gids)):
            widths.append(generic.NumberObject(gid))
            widths.append(generic.ArrayObject([generic.NumberObject(self.widths[gid])]))
        cid_font = generic.DictionaryObject({
            pdf_name("/Type"): pdf_name("/Font"),
            pdf_name("/Subtype"): pdf_name("/CIDFontType2"),
            pdf_name("/BaseFont"): pdf_name("/" + self.name),
            pdf_name("/CIDSystemInfo"): generic.DictionaryObject({
                pdf_name("/Registry"): generic.pdf_string("Adobe"),
                pdf_name("/Ordering"): generic.pdf_string("Identity"),
                pdf_name("/Supplement"): generic.NumberObject(0)}),
            pdf_name("/FontDescriptor"): writer.add_object(descriptor),
            pdf_name("/CIDToGIDMap"): pdf_name("/Identity"),   # CID = glyph id of the subset
            pdf_name("/DW"): generic.NumberObject(1000),
            pdf_name("/W"): widths,
        })
        to_unicode = generic.StreamObject({pdf_name("/Filter"): pdf_name("/FlateDecode")},
                                          encoded_data=self.tounicode_encoded)
        type0 = generic.DictionaryObject({
            pdf_name("/Type"): pdf_name("/Font"),
            pdf_name("/Subtype"): pdf_name("/Type0"),
            pdf_name("/BaseFont"): pdf_name("/" + self.name),
            pdf_name("/Encoding"): pdf_name("/Identity-H"),
            pdf_name("/DescendantFonts"): generic.ArrayObject([writer.add_object(cid_font)]),
            pdf_name("/ToUnicode"): writer.add_object(to_unicode),
        })
        if font_ref is not None:
            return writer.add_object(type0, idnum=font_ref.idnum)
        return writer.add_object(type0)


_FONT_CACHE_FORMAT = "kyso-prepared-font/1"
_FONT_BLOBS = ("shaping", "fontfile", "tounicode")
_FONT_NUMBERS = ("program_length", "units_per_em", "ascent", "descent", "cap_height", "italic_angle", "stem_v",
                 "flags")


def _font_cache_key(source: bytes, stem: str) -> str:
    """What a prepared font depends on: the font file (and its name, the fallback for a font without
    a PostScript name), the subsetter's and zlib's versions, the repertoire and this format."""
    from fontTools import version as fonttools_version

    digest = hashlib.sha256()
    for part in (_FONT_CACHE_FORMAT, fonttools_version, zlib.ZLIB_RUNTIME_VERSION, REPERTOIRE, stem):
        digest.update(part.encode("utf-8") + b"\0")
    digest.update(source)
    return digest.hexdigest()


def _prepare_font(path: Path, source: bytes) -> dict:
    """The subset and the metrics a PDF needs, computed with fontTools (the slow part)."""
    from fontTools import subset, ttLib

    try:
        # the source's own modification date kept: the same font file gives the same subset, byte for
        # byte, in every process (fontTools would stamp each save with the time of day)
        font = ttLib.TTFont(io.BytesIO(source), recalcTimestamp=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure: a clear configuration error
        raise AppearanceError(f"cannot read font {path}: {exc}") from None
    if "glyf" not in font:
        raise AppearanceError(f"{path} is not a TrueType (glyf) font")
    ps_name = font["name"].getDebugName(6) or path.stem

    # One subset for the whole repertoire, glyph ids renumbered compactly. Layout tables are
    # kept for shaping (kerning), hinting dropped (the PDF viewer rasterises anyway).
    options = subset.Options()
    options.hinting = False
    options.notdef_outline = True
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6]
    options.drop_tables += ["FFTM"]   # FontForge timestamps: fontTools cannot subset them
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(text=REPERTOIRE)
    subsetter.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    shaping = buf.getvalue()

    # The program embedded in PDFs: the same glyphs and ids without the layout tables
    # (a PDF viewer never reads them; the positions come from our TJ operators).
    embedded = ttLib.TTFont(io.BytesIO(shaping), recalcTimestamp=False)
    for table in ("GSUB", "GPOS", "GDEF", "kern"):
        if table in embedded:
            del embedded[table]
    buf = io.BytesIO()
    embedded.save(buf)
    program = buf.getvalue()

    upem = font["head"].unitsPerEm
    hmtx = font["hmtx"]
    cmap = font.getBestCmap()
    to_unicode: dict[int, int] = {}
    for cp, name in sorted(cmap.items()):
        to_unicode.setdefault(font.getGlyphID(name), cp)
    head, hhea, os2, post = font["head"], font["hhea"], font["OS/2"], font["post"]

    def scale(v):
        return round(v * 1000 / upem)

    base_name = _font_name(ps_name)
    serif = "Serif" in base_name and "Sans" not in base_name
    return {
        "base_name": base_name,
        "shaping": shaping,
        "fontfile": zlib.compress(program, 9),
        "program_length": len(program),
        "subset_tag": _subset_tag(program),
        "units_per_em": upem,
        "widths": [round(hmtx[name][0] * 1000 / upem) for name in font.getGlyphOrder()],
        "covered": sorted(cmap),
        "tounicode": zlib.compress(_tounicode_cmap(to_unicode), 9),
        "ascent": scale(hhea.ascent),
        "descent": scale(hhea.descent),
        "bbox": [scale(v) for v in (head.xMin, head.yMin, head.xMax, head.yMax)],
        "cap_height": scale(getattr(os2, "sCapHeight", 0) or hhea.ascent * 0.7),
        "italic_angle": float(getattr(post, "italicAngle", 0)),
        "stem_v": int(10 + 220 * (os2.usWeightClass - 50) / 900),
        # Flags (Table 123): 1 FixedPitch, 2 Serif, 3 Symbolic, 6 Nonsymbolic. Symbolic is the
        # safe choice for a CID font whose glyphs are addressed by id, not by a standard encoding.
        "flags": (1 << 1 if serif else 0) | (1 << 2),
    }


def _font_name(ps_name: str) -> str:
    """The font's PostScript name as a PDF /BaseFont may carry it."""
    return "".join(c for c in ps_name if c.isalnum() or c in "-_") or "Font"


_FONT_ENTRY_MAX_BYTES = 4 * 1024 * 1024


def _read_prepared(entry: Path) -> dict | None:
    """A prepared font from the cache, or None (built again) when the entry is missing, is not a
    small regular file, or does not read back exactly as it was written: its SHA-256 over the whole
    content, the types the preparation produces, the subset's tag and length, the widths one per
    glyph of the shaping font. Whatever an entry holds, reading it never raises."""
    import base64
    import json
    import math
    import stat

    try:
        with open(entry, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > _FONT_ENTRY_MAX_BYTES:
                return None
            text = f.read(_FONT_ENTRY_MAX_BYTES + 1)
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("format") != _FONT_CACHE_FORMAT or raw.get("key") != entry.stem:
            return None
        body = raw.get("content")
        if not isinstance(body, dict) or hashlib.sha256(_canonical(body)).hexdigest() != raw.get("sha256"):
            return None
        facts = {name: base64.b64decode(body[name], validate=True) for name in _FONT_BLOBS}

        def whole(value):
            if type(value) is not int:
                raise TypeError("not an integer")
            return value

        facts.update({name: whole(body[name]) for name in _FONT_NUMBERS if name != "italic_angle"})
        angle = body["italic_angle"]
        if type(angle) not in (int, float) or not math.isfinite(angle):
            return None
        facts["italic_angle"] = float(angle)
        facts["widths"] = [whole(w) for w in body["widths"]]
        facts["covered"] = [whole(c) for c in body["covered"]]
        facts["bbox"] = [whole(v) for v in body["bbox"]]
        facts["base_name"], facts["subset_tag"] = body["base_name"], body["subset_tag"]
        if not isinstance(facts["base_name"], str) or len(facts["bbox"]) != 4 or facts["units_per_em"] <= 0 \
                or facts["base_name"] != _font_name(facts["base_name"]):
            return None
        program = zlib.decompress(facts["fontfile"])
        zlib.decompress(facts["tounicode"])
        if len(program) != facts["program_length"] or _subset_tag(program) != facts["subset_tag"]:
            return None
        import uharfbuzz as hb

        face = hb.Face(facts["shaping"])
        if face.glyph_count != len(facts["widths"]) or face.upem != facts["units_per_em"]:
            return None
        return facts
    except Exception:  # noqa: BLE001 - any damage at all: the font is prepared again
        return None


def _canonical(body: dict) -> bytes:
    import json

    return json.dumps(body, sort_keys=True, allow_nan=False).encode("ascii")


def _write_prepared(entry: Path, facts: dict) -> None:
    """Leave a prepared font for the next process (atomically; a cache that cannot be written
    only costs the next process the time to build it again)."""
    import base64
    import json
    import tempfile

    body = {name: base64.b64encode(value).decode("ascii") if name in _FONT_BLOBS else value
            for name, value in facts.items()}
    raw = {"format": _FONT_CACHE_FORMAT, "key": entry.stem, "content": body,
           "sha256": hashlib.sha256(_canonical(body)).hexdigest()}
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".font-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(json.dumps(raw, sort_keys=True, allow_nan=False).encode("ascii"))
            os.chmod(tmp, 0o644)   # not secret: readable by the service and the commands of this folder
            os.replace(tmp, entry)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, ValueError) as exc:
        log.info("prepared font not cached in %s: %s", entry.parent, exc)


def _tounicode_cmap(gid_to_cp: dict[int, int]) -> bytes:
    """A ToUnicode CMap (ISO 32000-1 § 9.10.3) mapping 2-byte CIDs (= glyph ids) to UTF-16BE."""
    lines = ["/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
             "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
             "/CMapName /Adobe-Identity-UCS def", "/CMapType 2 def",
             "1 begincodespacerange", "<0000> <FFFF>", "endcodespacerange"]
    items = sorted(gid_to_cp.items())
    for start in range(0, len(items), 100):   # at most 100 entries per block
        block = items[start:start + 100]
        lines.append(f"{len(block)} beginbfchar")
        lines.extend(f"<{gid:04X}> <{chr(cp).encode('utf-16-be').hex().upper()}>" for gid, cp in block)
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode("ascii")


class PreparedFontEngine(FontEngine):
    """A pyHanko font engine over a :class:`PreparedFont`: shapes with HarfBuzz, and at write time
    (``prepare_write``) embeds the prepared subset; no per-document subsetting.

    Usable anywhere pyHanko takes a font, e.g. ``TextBoxStyle(font=PreparedFontFactory(f))``.
    """

    def __init__(self, writer: BasePdfFileWriter, font: PreparedFont, obj_stream=None, font_size: int = 10):
        # embedded_subset=True only gives this engine its own slot in the writer's subset
        # collection (so the writer calls prepare_write); the PDF name uses font.subset_tag.
        super().__init__(writer, font.base_name, embedded_subset=True, obj_stream=obj_stream,
                         font_size=font_size)
        self.font = font
        self._font_ref = writer.allocate_placeholder()
        self._used: set[int] = set()
        self._written = False

    @property
    def uses_complex_positioning(self):
        return False   # only TJ: the line matrix is left alone, T* starts the next line

    def shape(self, txt: str) -> ShapeResult:
        ops, advance, gids = self.font.shape(self.font.check_text(txt))
        self._used.update(gids)
        return ShapeResult(graphics_ops=ops, x_advance=advance, y_advance=0)

    def as_resource(self) -> generic.IndirectObject:
        return self._font_ref

    def prepare_write(self):
        if not self._written:
            self.font.embed(self.writer, self._used, font_ref=self._font_ref)
            self._written = True


@dataclass(frozen=True)
class PreparedFontFactory(FontEngineFactory):
    font: PreparedFont

    def create_font_engine(self, writer: BasePdfFileWriter, obj_stream=None) -> PreparedFontEngine:
        return PreparedFontEngine(writer, self.font)


# -- images: decode and compress once ---------------------------------------------------------------

class PreparedImage:
    """A PNG decoded and Flate-compressed once; :meth:`embed` writes it into any PDF as an image
    XObject (DeviceRGB, 8 bpc) with its alpha channel as a soft mask (``/SMask``)."""

    MAX_PIXELS = 4_000_000
    # zlib's default level: a 600 x 600 px seal compresses in 5 ms to 16.7 KB where level 9 took
    # 30 ms for 14.3 KB (measured), and a worker's first visible signature waits for it
    FLATE_LEVEL = 6

    def __init__(self, png: bytes) -> None:
        from PIL import Image, UnidentifiedImageError

        try:
            img = Image.open(io.BytesIO(png))
            if img.width * img.height > self.MAX_PIXELS:
                raise AppearanceError(f"image too large ({img.width}x{img.height} px)")
            img.load()
        except AppearanceError:
            raise
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            raise AppearanceError(f"unreadable signature or seal image: {exc}",
                                  message_vi="Không đọc được ảnh chữ ký hoặc con dấu.") from None
        if img.format != "PNG":
            raise AppearanceError(f"the image must be a PNG, not {img.format}",
                                  message_vi="Ảnh chữ ký hoặc con dấu phải ở định dạng PNG.")
        dpi = img.info.get("dpi")
        self.dpi = float(dpi[0]) if dpi and dpi[0] and dpi[0] > 1 else 300.0
        rgba = img.convert("RGBA")
        self.width, self.height = rgba.size
        rgb, alpha = rgba.convert("RGB"), rgba.getchannel("A")
        self.rgb_encoded = zlib.compress(rgb.tobytes(), self.FLATE_LEVEL)
        lo, hi = alpha.getextrema()
        self.alpha_encoded = None if lo == 255 else zlib.compress(alpha.tobytes(), self.FLATE_LEVEL)
        self.transparent = self.alpha_encoded is not None

    @property
    def natural_size(self) -> tuple[float, float]:
        """Size in points at the PNG's resolution (300 dpi when it states none)."""
        return self.width * 72 / self.dpi, self.height * 72 / self.dpi

    def _stream(self, colour_space: str, data: bytes) -> generic.StreamObject:
        return generic.StreamObject({
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Image"),
            pdf_name("/Width"): generic.NumberObject(self.width),
            pdf_name("/Height"): generic.NumberObject(self.height),
            pdf_name("/ColorSpace"): pdf_name(colour_space),
            pdf_name("/BitsPerComponent"): generic.NumberObject(8),
            pdf_name("/Filter"): pdf_name("/FlateDecode"),
        }, encoded_data=data)

    def embed(self, writer: BasePdfFileWriter) -> generic.IndirectObject:
        image = self._stream("/DeviceRGB", self.rgb_encoded)
        if self.alpha_encoded is not None:
            image[pdf_name("/SMask")] = writer.add_object(self._stream("/DeviceGray", self.alpha_encoded))
        return writer.add_object(image)


# -- layout and the pyHanko stamp --------------------------------------------------------------------

class Align(enum.Enum):
    LEFT = "left"
    CENTRE = "centre"


@dataclass(frozen=True)
class TextLine:
    """One line of text: a template (``%(vn_time)s`` is the signing time), its baseline (from the
    bottom of the natural box), size, alignment point and whether it is emboldened."""

    template: str
    baseline: float
    size: float
    x: float
    align: Align = Align.LEFT
    bold: bool = False


@dataclass(frozen=True)
class Decree30StampStyle(BaseStampStyle):
    """A pyHanko stamp style drawing a prepared image and text lines laid out in a natural box
    of ``natural_size`` points; the content is scaled uniformly (never up) and centred to fit
    the signature field's actual box. ``vn_time`` is the time shown (set per signature)."""

    border_width: int = 0
    natural_size: tuple[float, float] = (100.0, 50.0)
    image: PreparedImage | None = None
    image_rect: tuple[float, float, float, float] | None = None   # x, y, w, h in the natural box
    font: PreparedFont | None = None
    lines: tuple[TextLine, ...] = ()
    text_colour: tuple[float, float, float] = BLACK
    vn_time: str = ""

    def create_stamp(self, writer: BasePdfFileWriter, box: layout.BoxConstraints,
                     text_params: dict) -> "Decree30Stamp":
        return Decree30Stamp(writer, self, box, text_params)


class Decree30Stamp(BaseStamp):
    """One signature's appearance (a form XObject), drawn from a :class:`Decree30StampStyle`."""

    def __init__(self, writer, style: Decree30StampStyle, box: layout.BoxConstraints, text_params: dict):
        if not (box and box.width_defined and box.height_defined):
            raise layout.LayoutError("a Decree 30 appearance needs the field's box")
        super().__init__(writer, style, box)
        self.text_params = dict(text_params or {})

    def _render_inner_content(self):
        style: Decree30StampStyle = self.style
        nat_w, nat_h = style.natural_size
        scale = min(self.box.width / nat_w, self.box.height / nat_h, 1.0)
        dx = (self.box.width - nat_w * scale) / 2
        dy = (self.box.height - nat_h * scale) / 2
        ops = [b"%.4f 0 0 %.4f %.3f %.3f cm" % (scale, scale, dx, dy)]
        if style.image is not None:
            x, y, w, h = style.image_rect
            self.set_resource(ResourceType.XOBJECT, pdf_name("/Im0"), style.image.embed(self.writer))
            ops.append(b"q %.3f 0 0 %.3f %.3f %.3f cm /Im0 Do Q" % (w, h, x, y))
        if style.lines:
            engine = PreparedFontEngine(self.writer, style.font)
            self.set_resource(ResourceType.FONT, pdf_name("/F0"), engine.as_resource())
            params = {"vn_time": style.vn_time, **self.text_params}
            ops.append(b"BT %.3f %.3f %.3f rg %.3f %.3f %.3f RG" % (style.text_colour + style.text_colour))
            for line in style.lines:
                text = line.template % params
                shaped = engine.shape(text)
                width = shaped.x_advance * line.size
                x = line.x - width / 2 if line.align is Align.CENTRE else line.x
                # Tr 2 = fill then stroke: emboldens the regular face ("SAO Y" titles)
                mode = b"2 Tr %.3f w" % (line.size * 0.035) if line.bold else b"0 Tr"
                ops.append(b"/F0 %.2f Tf %s 1 0 0 1 %.3f %.3f Tm %s"
                           % (line.size, mode, x, line.baseline, shaped.graphics_ops))
            ops.append(b"ET")
        return ops


# -- the renderer: caches and layouts -----------------------------------------------------------

class _LRU:
    def __init__(self, size: int):
        self._size = size
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, build):
        with self._lock:
            try:
                self._data.move_to_end(key)
                return self._data[key]
            except KeyError:
                pass
        value = build()          # outside the lock: a slow build never blocks the other keys
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)
        return value


@dataclass(frozen=True)
class _Prepared:
    style: Decree30StampStyle
    natural_size: tuple[float, float]


class AppearanceRenderer:
    """Long-lived (one per engine/process), thread-safe. Caches the prepared fonts (subset once),
    the prepared images (decoded and compressed once, keyed by the PNG's SHA-256) and, per
    appearance, its layout and stamp style."""

    AGENCY_TEXT_SIZE = 8
    AGENCY_BOX_MIN_WIDTH = 150.0   # pt: room for a long agency name and the time under the seal
    TEXT_SIZE = 10           # Decree 30 App. I: attachments and copies, Times New Roman 10
    LEADING = 1.2
    PAD = 2.0

    def __init__(self, *, serif_font: Path | None = None, sans_font: Path | None = None,
                 cache_size: int = 256, font_cache_dir: Path | None = None) -> None:
        self._font_paths = {"serif": Path(serif_font or DEFAULT_SERIF), "sans": Path(sans_font or DEFAULT_SANS)}
        self._font_cache_dir = font_cache_dir   # prepared fonts shared by the processes of one data folder
        self._fonts: dict[str, PreparedFont] = {}
        self._font_lock = threading.Lock()
        self._images = _LRU(cache_size)
        self._prepared = _LRU(cache_size)

    # fonts and images
    def font(self, kind: str) -> PreparedFont:
        font = self._fonts.get(kind)
        if font is None:
            with self._font_lock:
                font = self._fonts.get(kind)
                if font is None:
                    font = self._fonts[kind] = PreparedFont(self._font_paths[kind],
                                                            cache_dir=self._font_cache_dir)
        return font

    def image(self, png: bytes) -> PreparedImage:
        if not isinstance(png, (bytes, bytearray, memoryview)) or not png:
            raise AppearanceError("the signature or seal image is empty")
        png = bytes(png)
        return self._images.get(hashlib.sha256(png).digest(), lambda: PreparedImage(png))

    def field_font(self, kind: str = "serif") -> "PreparedFontFactory":
        """A pyHanko font factory over the cached subset, for filling form fields (number, date)."""
        return PreparedFontFactory(self.font(kind))

    def warm_up(self) -> None:
        """Build both fonts now (e.g. at start-up) instead of at the first visible signature, and load
        the PNG decoder the first signature or seal image needs."""
        self.font("serif")
        self.font("sans")
        from PIL import Image, PngImagePlugin  # noqa: F401 - imported now, not at the first image

    # public API
    def natural_size(self, appearance: Appearance) -> tuple[float, float]:
        """(width, height) in points the appearance is drawn at, unscaled: the signature image at
        its resolution; the seal at its real diameter plus its text lines; text blocks sized
        to their text."""
        return self._prepare(appearance).natural_size

    def apply(self, pdf_signer_kwargs: dict, appearance: Appearance, *, moment: datetime,
              placement: Placement | None = None, field_name: str | None = None) -> dict:
        """A copy of ``pdf_signer_kwargs`` with ``stamp_style`` set (and ``new_field_spec``, when
        ``placement`` and ``field_name`` are given), for ``PdfSigner(meta, signer=..., **kwargs)``.

        The style shows ``format_vn_time(moment)``; pass the same ``moment`` as the signing time.
        No ``appearance_text_params`` are needed.
        """
        prepared = self._prepare(appearance)
        style = prepared.style
        if style.lines:
            style = dataclasses.replace(style, vn_time=format_vn_time(moment))
        kwargs = dict(pdf_signer_kwargs)
        kwargs["stamp_style"] = style
        if placement is not None:
            if not field_name:
                raise ValueError("a placement needs the new field's name")
            kwargs["new_field_spec"] = placement.field_spec(field_name)
        return kwargs

    # layouts
    def _prepare(self, appearance: Appearance) -> _Prepared:
        if not isinstance(appearance, (PersonalAppearance, AgencyAppearance, AttachmentAppearance,
                                       CopyAppearance)):
            raise TypeError(f"not an appearance: {type(appearance).__name__}")
        return self._prepared.get(appearance, lambda: self._build(appearance))

    def _build(self, appearance: Appearance) -> _Prepared:
        if isinstance(appearance, PersonalAppearance):
            image = self.image(appearance.image)
            w, h = image.natural_size
            style = Decree30StampStyle(natural_size=(w, h), image=image, image_rect=(0, 0, w, h))
            return _Prepared(style, (w, h))
        if isinstance(appearance, AgencyAppearance):
            image = self.image(appearance.seal)
            font = self.font("sans")
            width, height = self.agency_size(appearance.seal_diameter_mm)
            d = appearance.seal_diameter_mm * MM
            # the seal's ring touches the PNG's edges: the image, fitted in a d x d square at the
            # top centre of the box, is the seal at its real size
            scale = d / max(image.width, image.height)
            seal_w, seal_h = image.width * scale, image.height * scale
            seal_rect = ((width - seal_w) / 2, height - d + (d - seal_h) / 2, seal_w, seal_h)
            texts = [font.check_text(appearance.agency_name.strip()), "%(vn_time)s"]
            # the box's width is fixed by the diameter; a long name gets a smaller font instead
            room = width - 2 * self.PAD
            size = min([self.AGENCY_TEXT_SIZE]
                       + [self.AGENCY_TEXT_SIZE * room / self._text_width(font, t, self.AGENCY_TEXT_SIZE)
                          for t in texts])
            lines, _ = self._lines(texts, size, x=width / 2, align=Align.CENTRE,
                                   leading=self.AGENCY_TEXT_SIZE * self.LEADING)
            style = Decree30StampStyle(natural_size=(width, height), image=image, image_rect=seal_rect,
                                       font=font, lines=lines)
            return _Prepared(style, (width, height))
        font = self.font("serif")
        if isinstance(appearance, AttachmentAppearance):
            agency = font.check_text(appearance.agency_name.strip())
            main = font.check_text(f"Kèm theo văn bản số: {appearance.main_document_number.strip()}")
            texts = [f"{agency} — {main}", "%(vn_time)s"] if appearance.compact else [agency, main, "%(vn_time)s"]
            align, bold = Align.LEFT, ()
        else:
            agency = font.check_text(appearance.agency_name.strip())
            number = font.check_text(f"Số: {appearance.copy_number.strip()}")
            texts = [f"{appearance.form.title} — {agency}", _with_time(f"{number} — ")] if appearance.compact \
                else [appearance.form.title, agency, number, "%(vn_time)s"]
            align, bold = Align.CENTRE, (0,)
        size = self.TEXT_SIZE
        width = max(self._text_width(font, t, size) for t in texts) + 2 * self.PAD
        lines, height = self._lines(texts, size, x=width / 2 if align is Align.CENTRE else self.PAD,
                                    align=align, bold=bold)
        style = Decree30StampStyle(natural_size=(width, height), font=font, lines=lines)
        return _Prepared(style, (width, height))

    def agency_size(self, seal_diameter_mm: float) -> tuple[float, float]:
        """The agency box's natural size: it depends on the seal's diameter only (not on the name),
        so that :func:`seal_placement_over` can place it before the appearance is known."""
        if not 10 <= seal_diameter_mm <= 80:
            raise AppearanceError(f"implausible seal diameter {seal_diameter_mm} mm")
        d = seal_diameter_mm * MM
        width = max(d, self.AGENCY_BOX_MIN_WIDTH)
        height = d + 1 + 2 * self.AGENCY_TEXT_SIZE * self.LEADING + 2 * self.PAD
        return width, height

    @staticmethod
    def _text_width(font: PreparedFont, template: str, size: float) -> float:
        """Width of a line (the time line measured on a sample time), with a little slack."""
        text = template % {"vn_time": _SAMPLE_TIME} \
            if template == "%(vn_time)s" or isinstance(template, _Template) else template
        return font.width(text, size) * 1.02 + (size * 0.07)

    def _lines(self, texts, size, *, x, align, bold=(), leading=None) -> tuple[tuple[TextLine, ...], float]:
        """Lines from the top down (``texts[i]`` is literal text, or the time's template); returns
        them with the block's height, padding included, measured from the bottom of the box."""
        leading = leading or size * self.LEADING
        height = len(texts) * leading + 2 * self.PAD
        lines = []
        for i, text in enumerate(texts):
            template = str(text) if text == "%(vn_time)s" or isinstance(text, _Template) else text.replace("%", "%%")
            # baseline: i + 1 lines below the top padding, raised by the descender room (~0.22 em)
            baseline = height - self.PAD - (i + 1) * leading + 0.22 * size + (leading - size) / 2
            lines.append(TextLine(template=template, baseline=baseline, size=size, x=x, align=align,
                                  bold=i in bold))
        return tuple(lines), height


# -- placements ---------------------------------------------------------------------------------------

def top_right_placement(page_width: float, page_height: float, size: tuple[float, float], *,
                        page: int = 0, margin: float = 28.35) -> Placement:
    """A box of ``size`` in the top right corner of the page, ``margin`` points (28.35 = 1 cm)
    from the top and right edges (Decree 30: attachments and copies, top right of page 1)."""
    w, h = size
    x1, y1 = page_width - margin, page_height - margin
    return Placement(page=page, box=(x1 - w, y1 - h, x1, y1))


def seal_placement_over(personal: Placement, *, seal_diameter_mm: float,
                        renderer: AppearanceRenderer) -> Placement:
    """The agency signature's box on the personal signature's page, placed so that the seal
    (real size) covers about the LEFT THIRD of the personal signature image (Decree 30 App. I):
    the seal's right edge on the line at one third of the image's width, its centre level with
    the image's vertical centre. The box also holds the agency's name and the time under the
    seal (its size depends on the diameter only: ``renderer.agency_size``)."""
    d = seal_diameter_mm * MM
    width, height = renderer.agency_size(seal_diameter_mm)
    x0, y0, x1, y1 = personal.box
    seal_cx = x0 + (x1 - x0) / 3 - d / 2
    seal_top = (y0 + y1) / 2 + d / 2
    return Placement(page=personal.page, box=(seal_cx - width / 2, seal_top - height, seal_cx + width / 2, seal_top))
