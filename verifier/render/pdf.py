"""The verification report as a printable PDF (A4) with Vietnamese text embedded.

Laid out with ReportLab's platypus; TrueType fonts that cover Vietnamese
(Liberation 2, else DejaVu) are embedded as subsets with a ToUnicode map, so
the text copies and extracts back exactly (``pdftotext``). Output is
deterministic (``invariant``): the same report gives the same bytes.
"""
from __future__ import annotations

import io
import os
import threading
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from kyso.errors import ErrorKind, KysoError

from . import _common as c


class FontsMissing(KysoError):
    code = "report_fonts_missing"
    kind = ErrorKind.CONFIGURATION
    message_en = "No font with Vietnamese glyphs was found for the PDF report (install fonts-liberation2 or fonts-dejavu-core)."
    message_vi = "Không tìm thấy phông chữ tiếng Việt để tạo báo cáo PDF (cài fonts-liberation2 hoặc fonts-dejavu-core)."


_FONT_DIRS = ("/usr/share/fonts/truetype/liberation2", "/usr/share/fonts/truetype/liberation",
              "/usr/share/fonts/truetype/dejavu")
_FONTS = {   # role -> candidate file names, first found wins
    "KysoSans": ("LiberationSans-Regular.ttf", "DejaVuSans.ttf"),
    "KysoSans-Bold": ("LiberationSans-Bold.ttf", "DejaVuSans-Bold.ttf"),
    "KysoMono": ("LiberationMono-Regular.ttf", "DejaVuSansMono.ttf"),
    # fallback for characters the main fonts lack (✓ ✗ and other symbols): DejaVu covers them
    "KysoSymbol": ("DejaVuSans.ttf",),
    "KysoSymbol-Bold": ("DejaVuSans-Bold.ttf",),
}
_fonts_lock = threading.Lock()
_fonts_ready = False
_covered: frozenset[int] = frozenset()     # code points the main font has glyphs for
_fallback: frozenset[int] = frozenset()    # code points the fallback font has glyphs for


def _register_fonts() -> None:
    global _fonts_ready, _covered, _fallback
    with _fonts_lock:
        if _fonts_ready:
            return
        for name, candidates in _FONTS.items():
            path = next((os.path.join(d, f) for f in candidates for d in _FONT_DIRS
                         if os.path.exists(os.path.join(d, f))), None)
            if path is None:
                raise FontsMissing(detail={"font": name, "searched": list(_FONT_DIRS)})
            pdfmetrics.registerFont(TTFont(name, path))
        pdfmetrics.registerFontFamily("KysoSans", normal="KysoSans", bold="KysoSans-Bold",
                                      italic="KysoSans", boldItalic="KysoSans-Bold")
        pdfmetrics.registerFontFamily("KysoSymbol", normal="KysoSymbol", bold="KysoSymbol-Bold",
                                      italic="KysoSymbol", boldItalic="KysoSymbol-Bold")
        pdfmetrics.registerFontFamily("KysoMono", normal="KysoMono", bold="KysoMono",
                                      italic="KysoMono", boldItalic="KysoMono")
        main = set(pdfmetrics.getFont("KysoSans").face.charToGlyph)
        for name in ("KysoSans-Bold", "KysoMono"):
            main &= set(pdfmetrics.getFont(name).face.charToGlyph)
        _covered = frozenset(main)
        _fallback = frozenset(pdfmetrics.getFont("KysoSymbol").face.charToGlyph)
        _fonts_ready = True


# colours shared with the HTML page
COL = {"valid": colors.HexColor("#1e7e34"), "invalid": colors.HexColor("#c62828"),
       "indeterminate": colors.HexColor("#b26a00"), "unsigned": colors.HexColor("#5f6368")}
GREY = colors.HexColor("#6b7280")
LINE = colors.HexColor("#d0d7de")
SOFT = colors.HexColor("#f6f8fa")
TINT = {"valid": colors.HexColor("#e8f5ec"), "invalid": colors.HexColor("#fdecea"),
        "indeterminate": colors.HexColor("#fff4e0"), "unsigned": colors.HexColor("#f0f1f2")}
PAGE_W, PAGE_H = A4
MARGIN = 16 * mm
WIDTH = PAGE_W - 2 * MARGIN


def _e(value: Any) -> str:
    """Escape for ReportLab's paragraph markup; characters the main fonts lack use the fallback font."""
    text = escape("" if value is None else str(value), quote=False)
    if all(ord(ch) in _covered or ch in "\n\t" for ch in text):
        return text
    out = []
    for ch in text:
        if ord(ch) not in _covered and ord(ch) in _fallback:
            out.append(f'<font face="KysoSymbol">{ch}</font>')
        else:
            out.append(ch)
    return "".join(out)


def _ts(commands: list[tuple[Any, ...]]) -> TableStyle:
    """A table style whose cells default to the embedded font (ReportLab's default is Helvetica)."""
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), "KysoSans")] + list(commands))


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName="KysoSans", bulletFontName="KysoSans", fontSize=8.6, leading=11,
                          alignment=TA_LEFT)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.2, leading=9, textColor=GREY),
        "label": ParagraphStyle("label", parent=base, textColor=colors.HexColor("#374151")),
        "mono": ParagraphStyle("mono", parent=base, fontName="KysoMono", fontSize=7.2, leading=9),
        "title": ParagraphStyle("title", parent=base, fontName="KysoSans-Bold", fontSize=13, leading=17,
                                textColor=colors.HexColor("#374151")),
        "h2": ParagraphStyle("h2", parent=base, fontName="KysoSans-Bold", fontSize=11, leading=14,
                             spaceBefore=8, spaceAfter=4, keepWithNext=1),
        "h3": ParagraphStyle("h3", parent=base, fontName="KysoSans-Bold", fontSize=9, leading=12,
                             spaceBefore=5, spaceAfter=2, keepWithNext=1),
        "verdict": ParagraphStyle("verdict", parent=base, fontName="KysoSans-Bold", fontSize=24, leading=29,
                                  textColor=colors.white),
        "on_colour": ParagraphStyle("on_colour", parent=base, fontSize=9, leading=12, textColor=colors.white),
        "card_head": ParagraphStyle("card_head", parent=base, fontName="KysoSans-Bold", fontSize=11, leading=14),
    }


class _NumberedCanvas(rl_canvas.Canvas):
    """Defers pages so the footer can say "page x of y"."""

    footer_left = ""
    footer_page = ("Trang", "Page")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not kwargs.get("initialFontName"):
            kwargs["initialFontName"] = "KysoSans"   # no unembedded Helvetica in the file
        super().__init__(*args, **kwargs)
        self._saved: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._saved)
        for state in self._saved:
            self.__dict__.update(state)
            self.setFont("KysoSans", 7)
            self.setFillColor(GREY)
            self.setStrokeColor(LINE)
            self.line(MARGIN, 11 * mm, PAGE_W - MARGIN, 11 * mm)
            self.drawString(MARGIN, 7.5 * mm, self.footer_left)
            self.drawRightString(PAGE_W - MARGIN, 7.5 * mm,
                                 f"{self.footer_page[0]} {self._pageNumber}/{total} · "
                                 f"{self.footer_page[1]} {self._pageNumber}/{total}")
            super().showPage()
        super().save()


class _Doc:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.s = _styles()

    # text helpers ------------------------------------------------------------------------------
    def bi(self, vi: str, en: str, style: str = "base", *, inline: bool = False) -> Paragraph:
        primary, secondary = c.ordered(vi, en, self.lang)
        st = self.s[style]
        if primary == secondary:
            return Paragraph(_e(primary), st)
        small = max(st.fontSize * 0.78, 6.5)
        colour = "#e5e7eb" if style in ("verdict", "on_colour") else "#6b7280"
        sep = " " if inline else "<br/>"
        return Paragraph(f'{_e(primary)}{sep}<font size="{small:.1f}" color="{colour}">{_e(secondary)}</font>', st)

    def t(self, key: str, style: str = "label") -> Paragraph:
        return self.bi(*c.T[key], style=style)

    def one(self, vi: str, en: str) -> str:
        return vi if self.lang == "vi" else en

    def para(self, text: Any, style: str = "base") -> Paragraph:
        return Paragraph(_e(text if text not in (None, "") else "—"), self.s[style])

    def markup(self, markup: str, style: str = "base") -> Paragraph:
        return Paragraph(markup, self.s[style])

    def flag(self, value: Any) -> Paragraph:
        key = c.flag(value)
        colour = {"yes": "#1e7e34", "no": "#c62828", "unknown": "#b26a00"}[key]
        mark = {"yes": "✓", "no": "✗", "unknown": "?"}[key]
        return self.markup(f'<font color="{colour}"><b>{_e(mark)} {_e(self.one(*c.T[key]))}</b></font>')

    def coloured(self, text: str, css: str) -> str:
        hexcol = {"valid": "#1e7e34", "invalid": "#c62828", "indeterminate": "#b26a00"}.get(css, "#5f6368")
        return f'<font color="{hexcol}"><b>{_e(text)}</b></font>'

    # building blocks ---------------------------------------------------------------------------
    def kv(self, rows: Sequence[tuple[Any, Any]], right: Sequence[tuple[Any, Any]] | None = None, *,
           accent: colors.Color | None = None) -> Table:
        """Label/value rows; with ``right``, two label/value columns side by side."""
        if right is not None:
            data = []
            for i in range(max(len(rows), len(right))):
                lrow = list(rows[i]) if i < len(rows) else ["", ""]
                rrow = list(right[i]) if i < len(right) else ["", ""]
                data.append(lrow + rrow)
            widths = [WIDTH * 0.17, WIDTH * 0.33, WIDTH * 0.17, WIDTH * 0.33]
        else:
            data = [list(r) for r in rows]
            widths = [WIDTH * 0.24, WIDTH * 0.76]
        table = Table(data, colWidths=widths, hAlign="LEFT")
        style = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 5),
                 ("RIGHTPADDING", (0, 0), (-1, -1), 5), ("TOPPADDING", (0, 0), (-1, -1), 2.2),
                 ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
                 ("LINEBELOW", (0, 0), (-1, -2), 0.3, colors.HexColor("#eef0f2"))]
        if accent is not None:
            style.append(("LINEBEFORE", (0, 0), (0, -1), 3, accent))
        table.setStyle(_ts(style))
        return table

    def grid(self, header: list[Any], rows: list[list[Any]], widths: list[float],
             accent: colors.Color | None = None) -> Table:
        table = Table([header] + rows, colWidths=[w * WIDTH for w in widths], repeatRows=1, hAlign="LEFT")
        style = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("GRID", (0, 0), (-1, -1), 0.4, LINE),
                 ("BACKGROUND", (0, 0), (-1, 0), SOFT), ("LEFTPADDING", (0, 0), (-1, -1), 4),
                 ("RIGHTPADDING", (0, 0), (-1, -1), 4), ("TOPPADDING", (0, 0), (-1, -1), 2),
                 ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5)]
        if accent is not None:
            style.append(("LINEBEFORE", (0, 0), (0, -1), 3, accent))
        table.setStyle(_ts(style))
        return table

    def box(self, content: list[list[Any]], css: str, *, tint: bool = True) -> Table:
        table = Table(content, colWidths=[WIDTH], hAlign="LEFT")
        style = [("LEFTPADDING", (0, 0), (-1, -1), 9), ("RIGHTPADDING", (0, 0), (-1, -1), 9),
                 ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                 ("LINEBEFORE", (0, 0), (0, -1), 4, COL.get(css, COL["unsigned"]))]
        if tint:
            style.append(("BACKGROUND", (0, 0), (-1, -1), TINT.get(css, TINT["unsigned"])))
        table.setStyle(_ts(style))
        return table

    # sections ----------------------------------------------------------------------------------
    def banner(self, data: Mapping[str, Any]) -> Table:
        vi, en, css, _colour = c.headline(data)
        rows: list[list[Any]] = [[self.bi(vi, en, "verdict", inline=True)]]
        for reason in data.get("reasons") or []:
            r_vi, r_en = c.reason_text(reason)
            rows.append([self.bi(r_vi, r_en, "on_colour")])
        if data.get("file"):
            rows.append([self.markup(f'{_e(self.one(*c.T["file"]))}: <b>{_e(data["file"])}</b>', "on_colour")])
        table = Table(rows, colWidths=[WIDTH], hAlign="LEFT")
        table.setStyle(_ts([
            ("BACKGROUND", (0, 0), (-1, -1), COL[css]), ("LEFTPADDING", (0, 0), (-1, -1), 12),
            ("RIGHTPADDING", (0, 0), (-1, -1), 12), ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2), ("TOPPADDING", (0, 0), (-1, 0), 9),
            ("BOTTOMPADDING", (0, -1), (-1, -1), 9)]))
        return table

    def decree30(self, data: Mapping[str, Any]) -> list[Any]:
        d30 = data.get("decree30")
        if not d30:
            return []
        vi, en, css = c.DECREE30.get(d30.get("status"), (d30.get("status"), d30.get("status"), "unsigned"))
        r_vi, r_en = c.reason_text(d30.get("reason"))
        rows: list[list[Any]] = [
            [self.markup(self.coloured(self.one(vi, en), css) + " · " + _e(self.one(r_vi, r_en)))],
            [self.markup(f'<font size="7" color="#6b7280">{_e(self.one(r_en, r_vi))}</font>')],
        ]
        for key, field_key in (("d30_personal", "personal_field"), ("d30_agency", "agency_field")):
            name = d30.get(field_key)
            sig = c.find_field(data["signatures"], name)
            label = _e(self.one(*c.T[key]))
            if name:
                parts = [f"<b>{_e(c.signer_label(sig) if sig else name)}</b>"]
                signer = (sig or {}).get("signer") or {}
                if signer.get("organization") and signer.get("organization") != c.signer_label(sig):
                    parts.append(_e(signer["organization"]))
                parts.append(f'{_e(self.one(*c.T["field"]))}: {_e(name)}')
                if sig:
                    i_vi, i_en, i_css = c.INDICATION.get(sig.get("indication"), ("?", "?", "unsigned"))
                    parts.append(self.coloured(self.one(i_vi, i_en), i_css) + " · " + _e(c.fmt_time(c.best_time(sig))))
                text = " · ".join(parts)
            else:
                text = f'<font color="#c62828"><b>{_e("✗ " + self.one(*c.T["d30_none"]))}</b></font>'
            rows.append([self.markup(f"{label}: {text}")])
        return [Paragraph(self._h(c.T["decree30"]), self.s["h2"]), self.box(rows, css)]

    def _h(self, pair: tuple[str, str]) -> str:
        primary, secondary = c.ordered(*pair, self.lang)
        return f'{_e(primary)} <font size="8" color="#6b7280">{_e(secondary)}</font>'

    def timeline(self, data: Mapping[str, Any]) -> list[Any]:
        out: list[Any] = [Paragraph(self._h(c.T["timeline"]), self.s["h2"])]
        if not data["signatures"]:
            out.append(self.box([[self.bi(*c.T["no_signatures"])]], "unsigned"))
            return out
        for n, sig in enumerate(data["signatures"], 1):
            out.extend(self.signature(n, sig))
        return out

    def signature(self, n: int, sig: Mapping[str, Any]) -> list[Any]:
        i_vi, i_en, css = c.INDICATION.get(sig.get("indication"), (sig.get("indication"), sig.get("indication"), "unsigned"))
        accent = COL.get(css, COL["unsigned"])
        k_vi, k_en = c.pair(c.KIND, sig.get("kind"))
        signer = sig.get("signer") or {}
        who = c.signer_label(sig)
        org, title = signer.get("organization"), signer.get("title")
        kind_line = (f'<font size="7.5" color="#4b5563">#{n} · {_e(self.one(k_vi, k_en))} · '
                     f'{_e(self.one(k_en, k_vi))} · {_e(self.one(*c.T["revision"]))} {_e(sig.get("revision"))}</font>')
        sub_line = " — ".join(_e(x) for x in (title, org) if x)
        head_left = self.markup(f"{kind_line}<br/><b>{_e(who)}</b>"
                                + (f'<br/><font size="8.6">{sub_line}</font>' if sub_line else ""), "card_head")
        head_right = self.markup(self.coloured(f"{self.one(i_vi, i_en)}", css)
                                 + f'<br/><font size="7" color="#6b7280">{_e(self.one(i_en, i_vi))}</font>')
        r_vi, r_en = c.reason_text(sig.get("reason"))
        head = Table([[head_left, head_right], [self.bi(r_vi, r_en), ""]],
                     colWidths=[WIDTH * 0.78, WIDTH * 0.22], hAlign="LEFT")
        head.setStyle(_ts([
            ("VALIGN", (0, 0), (-1, -1), "TOP"), ("BACKGROUND", (0, 0), (-1, 0), SOFT),
            ("BACKGROUND", (0, 1), (-1, 1), TINT.get(css, TINT["unsigned"])), ("SPAN", (0, 1), (1, 1)),
            ("LINEBEFORE", (0, 0), (0, -1), 3, accent), ("LINEABOVE", (0, 0), (-1, 0), 0.6, LINE),
            ("LEFTPADDING", (0, 0), (-1, -1), 7), ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4), ("ALIGN", (1, 0), (1, 0), "RIGHT")]))

        ts = sig.get("timestamp")
        if ts:
            ts_cell = self.markup(
                f'{_e(c.fmt_time(ts.get("time")))}<br/><font size="7" color="#6b7280">'
                f'{_e(self.one(*c.T["tsa"]))}: {_e(ts.get("tsa") or "—")}</font><br/>'
                + " · ".join(f'{_e(self.one(vi_, en_))} {self._mark(ts.get(k))}' for k, vi_, en_ in (
                    ("intact", "Toàn vẹn", "Intact"), ("valid", "Hợp lệ", "Valid"), ("trusted", "Tin cậy", "Trusted"))))
        else:
            ts_cell = self.markup(f'<font color="#b26a00">{_e(self.one(*c.T["no_timestamp"]))}</font>')
        cert = c.signer_cert(sig)
        when = c.validity_at(cert, c.best_time(sig))
        if when:
            w_vi, w_en, w_css = c.VALIDITY_AT[when]
            validity = self.markup(self.coloured(self.one(w_vi, w_en), w_css)
                                   + f'<br/><font size="7" color="#6b7280">{_e(c.fmt_time(cert.get("not_before")))} → '
                                   f'{_e(c.fmt_time(cert.get("not_after")))}</font>')
        else:
            validity = self.para("—")
        rev = sig.get("revocation") or {}
        rv_vi, rv_en, rv_css = c.REVOCATION.get(rev.get("status"), (rev.get("status"), rev.get("status"), "indeterminate"))
        rev_parts = [self.coloured(self.one(rv_vi, rv_en), rv_css)]
        if rev.get("source"):
            rev_parts.append(_e(self.one(*c.pair(c.REVOCATION_SOURCE, rev["source"]))))
        if rev.get("revoked_at"):
            rev_parts.append(f'{_e(self.one(*c.T["revoked_at"]))}: {_e(c.fmt_time(rev["revoked_at"]))}')
        if rev.get("checked_at"):
            rev_parts.append(f'<font size="7" color="#6b7280">{_e(self.one(*c.T["checked_at"]))}: '
                             f'{_e(c.fmt_time(rev["checked_at"]))}</font>')
        if rev.get("detail"):
            rev_parts.append(f'<font size="7" color="#6b7280">{_e(rev["detail"])}</font>')
        sub = sig.get("sub_indication")
        sub_cell = (self.markup(f'<font face="KysoMono" size="7.5">{_e(sub)}</font><br/>'
                                f'<font size="7" color="#6b7280">{_e(self.one(*c.pair(c.SUB_INDICATION, sub)))}</font>')
                    if sub else self.para("—"))
        level = _e(sig.get("level") or "—") + (f' <font size="7" color="#6b7280">({_e(sig["subfilter"])})</font>'
                                               if sig.get("subfilter") else "")
        algs = " · ".join(str(a) for a in (sig.get("digest_algorithm"), sig.get("signature_algorithm")) if a)
        rows = [
            (self.t("signer"), self.para(who)),
            (self.t("organization"), self.para(org)),
            (self.t("job_title"), self.para(title)),
            (self.t("cert_type"), self.bi(*c.pair(c.CERT_TYPE, signer.get("certificate_type")), inline=True)
             if signer else self.para("—")),
            (self.t("issuing_ca"), self.para(signer.get("issuer") or (cert or {}).get("issuer"))),
            (self.t("signing_time"), self.para(c.fmt_time(sig.get("signing_time")))),
            (self.t("timestamp"), ts_cell),
            (self.t("cert_valid_at"), validity),
        ]
        right = [
            (self.t("indication"), self.para(sig.get("indication"), "mono")),
            (self.t("sub_indication"), sub_cell),
            (self.t("intact"), self.flag(sig.get("intact"))),
            (self.t("crypto_valid"), self.flag(sig.get("crypto_valid"))),
            (self.t("trusted"), self.flag(sig.get("trusted"))),
            (self.t("coverage"), self.bi(*c.pair(c.COVERAGE, sig.get("coverage")))),
            (self.t("revocation"), self.markup("<br/>".join(rev_parts))),
            (self.t("level"), self.markup(level)),
            (self.t("algorithms"), self.para(algs)),
            (self.t("field"), self.markup(f'<font face="KysoMono" size="7.5">{_e(sig.get("field"))}</font><br/>'
                                          f'<font size="7" color="#6b7280">ByteRange '
                                          f'[{_e(" ".join(str(x) for x in sig.get("byte_range") or []))}]</font>')),
        ]
        if sig.get("docmdp"):
            right.append((self.t("docmdp"), self.para(f'P={sig["docmdp"]} · ' + self.one(*c.pair(c.DOCMDP, sig["docmdp"])))))
        out: list[Any] = [Spacer(1, 6), KeepTogether([head, self.kv(rows, right, accent=accent)])]
        if sig.get("problems"):
            out.append(Paragraph(self._h(c.T["problems"]), self.s["h3"]))
            out.append(self.box([[self.bi(*c.reason_text(p))] for p in sig["problems"]], css))
        out.extend(self.modifications(sig, accent))
        out.extend(self.chain(sig, accent))
        return out

    def _mark(self, value: Any) -> str:
        key = c.flag(value)
        colour = {"yes": "#1e7e34", "no": "#c62828", "unknown": "#b26a00"}[key]
        return f'<font color="{colour}"><b>{_e({"yes": "✓", "no": "✗", "unknown": "?"}[key])}</b></font>'

    def modifications(self, sig: Mapping[str, Any], accent: colors.Color) -> list[Any]:
        title = Paragraph(self._h(c.T["modifications"]), self.s["h3"])
        changes = sig.get("modifications_after") or []
        if not changes:
            return [title, self.box([[self.para(self.one(*c.T["no_modifications"]))]], "unsigned", tint=False)]
        rows = []
        for ch in changes:
            allowed = c.change_permitted(ch)
            why = []
            if not ch.get("permitted_by_docmdp", True):
                why.append(self.one("trái DocMDP", "breaks DocMDP"))
            if not ch.get("permitted_by_policy", True):
                why.append(self.one("trái chính sách", "breaks the policy"))
            mark = (self.coloured("✓ " + self.one(*c.T["yes"]), "valid") if allowed else
                    self.coloured("✗ " + self.one(*c.T["no"]), "invalid")
                    + (f'<br/><font size="7" color="#6b7280">{_e(", ".join(why))}</font>' if why else ""))
            objects = ", ".join(str(o) for o in ch.get("objects") or [])
            rows.append([self.para(ch.get("revision")), self.bi(*c.pair(c.CHANGE, ch.get("category"))),
                         self.markup(_e(ch.get("description")) + (f'<br/><font face="KysoMono" size="6.8" '
                                                                  f'color="#6b7280">{_e(objects)}</font>' if objects else "")),
                         self.markup(mark)])
        header = [self.t(k) for k in ("revision", "category", "description", "permitted")]
        return [title, self.grid(header, rows, [0.1, 0.22, 0.52, 0.16], accent)]

    def chain(self, sig: Mapping[str, Any], accent: colors.Color) -> list[Any]:
        chain = sig.get("chain") or []
        title = Paragraph(self._h(c.T["cert_path"]) + f" ({len(chain)})", self.s["h3"])
        if not chain:
            return [title, self.box([[self.para(self.one(*c.T["no_chain"]))]], "unsigned", tint=False)]
        signer_sha = (sig.get("signer") or {}).get("sha256")
        rows = []
        for n, cert in enumerate(chain, 1):
            badges = []
            if signer_sha and cert.get("sha256") == signer_sha:
                badges.append(f'<font color="#374151"><b>[{_e(self.one(*c.T["signer_cert"]))}]</b></font>')
            if cert.get("is_trust_anchor"):
                badges.append(self.coloured(f'[{self.one(*c.T["trust_anchor"])}]', "valid"))
            if c.is_sha1(cert.get("signature_algorithm")):
                badges.append(self.coloured(f'[{self.one(*c.T["sha1_signed"])}]', "indeterminate"))
            names = (f'<b>{_e(cert.get("subject"))}</b><br/><font size="7" color="#6b7280">'
                     f'{_e(self.one(*c.T["issuer"]))}: {_e(cert.get("issuer"))}</font>'
                     + (f"<br/>{' '.join(badges)}" if badges else ""))
            ids = (f'<font size="6.6" color="#6b7280">{_e(self.one(*c.T["serial"]))}:</font> '
                   f'<font face="KysoMono" size="6.6">{_e(c.group_hex(cert.get("serial")))}</font><br/>'
                   f'<font size="6.6" color="#6b7280">SHA-256:</font> '
                   f'<font face="KysoMono" size="6.6">{_e(cert.get("sha256") or "—")}</font>')
            rows.append([self.para(n), self.markup(names),
                         self.markup(f'{_e(c.fmt_time(cert.get("not_before")))}<br/>→ {_e(c.fmt_time(cert.get("not_after")))}'),
                         self.markup(ids), self.para(cert.get("signature_algorithm"))])
        header = [self.para("#"), self.t("subject"), self.t("validity"),
                  self.markup(f'{_e(self.one(*c.T["serial"]))} / SHA-256'), self.t("sig_alg")]
        out: list[Any] = [title, self.grid(header, rows, [0.04, 0.38, 0.17, 0.29, 0.12], accent)]
        ku = (sig.get("signer") or {}).get("key_usage") or []
        if ku:
            out.append(self.markup(f'<font size="7" color="#6b7280">{_e(self.one(*c.T["key_usage"]))}: '
                                   f'{_e(", ".join(ku))}</font>'))
        return out

    def document(self, data: Mapping[str, Any]) -> list[Any]:
        policy = data.get("policy") or {}
        policy_text = "<br/>".join(f"{_e(k)}: " + "<br/>&nbsp;&nbsp;&nbsp;".join(_e(x) for x in c.fmt_lines(v))
                                   for k, v in sorted(policy.items(), key=lambda kv: str(kv[0]))) or "—"
        rows = [
            (self.t("file"), self.para(data.get("file"))),
            (self.t("sha256"), self.para(data.get("sha256"), "mono")),
            (self.t("size"), self.para(c.fmt_size(data.get("size"), self.lang))),
            (self.t("revisions"), self.para(data.get("revisions"))),
            (self.t("last_covered"), self.flag(data.get("last_revision_covered")) if data.get("signatures")
             else self.para("—")),
            (self.t("validation_time"), self.para(c.fmt_time(data.get("validation_time")))),
            (self.t("policy"), self.markup(policy_text)),
        ]
        return [Paragraph(self._h(c.T["document"]), self.s["h2"]),
                KeepTogether([self.kv(rows, accent=LINE)])]

    def build(self, data: Mapping[str, Any]) -> bytes:
        buf = io.BytesIO()
        vi, en, _css, _colour = c.headline(data)
        title = f'{self.one(*c.T["title"])}: {self.one(vi, en)}' + (f' — {data["file"]}' if data.get("file") else "")
        doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=14 * mm,
                                bottomMargin=16 * mm, title=title, author="Kyso", subject="kyso.verification/1",
                                creator="Kyso", lang=self.lang, invariant=1)
        story: list[Any] = [Paragraph(self._h(c.T["title"]), self.s["title"]), Spacer(1, 5), self.banner(data)]
        story += self.decree30(data)
        story += self.timeline(data)
        story += self.document(data)
        story += [Spacer(1, 10), self.markup(f'<font size="7" color="#6b7280">{_e(self.one(*c.T["generated_by"]))} · '
                                             f'{_e(self.one(c.T["generated_by"][1], c.T["generated_by"][0]))} · '
                                             f'schema {_e(data.get("schema"))}</font>')]

        footer = f'Kyso · {data.get("file") or ""} · SHA-256 {str(data.get("sha256") or "—")[:16]}… · ' \
                 f'{c.fmt_time(data.get("validation_time"))}'

        class Canvas(_NumberedCanvas):
            footer_left = footer

        doc.build(story, canvasmaker=Canvas)
        return buf.getvalue()


def to_pdf(report: Mapping[str, Any], *, lang: str = "vi") -> bytes:
    """The report as an A4 PDF with the same content as the HTML page."""
    c.check_lang(lang)
    data = c.load(report)
    _register_fonts()
    return _Doc(lang).build(data)
