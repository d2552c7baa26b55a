#!/usr/bin/env python3
"""Generate the development signature images and agency seals (DEV ONLY).

    .venv/bin/python certs_dev/images/generate.py [--force]

* ``<official>.png``: a handwritten-like BLUE scribble of the official's initials, transparent
  background, 600x240 px (Decree 30, App. I: "the person's signature image in blue, PNG with
  transparent background").
* ``<agency>.png``: a RED round seal, transparent background, 600x600 px, with the agency's name
  around the ring (DejaVu Sans Bold) and a star in the centre, like a Vietnamese official seal.

Deterministic (seeded by the label) and small: palette PNGs with alpha, < 60 KB each. Existing
files are kept unless ``--force`` is given.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import random
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
FONT_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
FONT_OBLIQUE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Oblique.ttf")

BLUE = (16, 40, 170)
RED = (214, 24, 32)

OFFICIALS = {
    "nguyen-van-an": "Nguyễn Văn An",
    "tran-thi-bich-ngoc": "Trần Thị Bích Ngọc",
    "le-hoang-phuc": "Lê Hoàng Phúc",
    "pham-thu-ha": "Phạm Thu Hà",
    "dang-thi-mai": "Đặng Thị Mai",
    "official-revoked": "Official Revoked",
    "official-expired": "Official Expired",
    "official-not-yet-valid": "Official Not Yet Valid",
    "official-no-nr": "Official No Nr",
}
AGENCIES = {
    "agency-ubnd-hung-yen": "UBND TỈNH HƯNG YÊN",
    "agency-so-noi-vu-hung-yen": "SỞ NỘI VỤ TỈNH HƯNG YÊN",
    "agency-ubnd-nghe-an": "UBND TỈNH NGHỆ AN",
}
SS = 3  # supersampling factor: draw large, downsample for anti-aliasing


def _rng(label: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "big"))


def _finish(big: Image.Image, size: tuple[int, int], colour: tuple[int, int, int]) -> Image.Image:
    """Downsample the alpha mask drawn at SS x, colour it, and quantise to a small palette PNG."""
    alpha = big.resize(size, Image.LANCZOS)
    # 16 alpha levels are plenty for anti-aliased ink and keep the PNG small
    alpha = alpha.point(lambda a: min(255, (a + 8) // 17 * 17))
    img = Image.new("RGBA", size, colour + (0,))
    img.putalpha(alpha)
    return img.quantize(colors=16, method=Image.Quantize.FASTOCTREE)


def _initials(name: str) -> str:
    base = "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c))
    base = base.replace("Đ", "D").replace("đ", "d")
    parts = base.split()
    return "".join(p[0] for p in parts[-3:])


def signature(label: str, name: str) -> Image.Image:
    """A flowing scribble: the initials in an oblique hand, joined by a looping stroke and a flourish."""
    rng = _rng(label)
    w, h = 600 * SS, 240 * SS
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    initials = _initials(name)
    font = ImageFont.truetype(str(FONT_OBLIQUE), 150 * SS)
    x = 40 * SS
    for ch in initials:
        y = rng.randint(10, 40) * SS
        draw.text((x, y), ch, font=font, fill=255)
        x += int(draw.textlength(ch, font=font) * 0.95)
    # a looping pen stroke through the initials, then an underline flourish
    pts = []
    n = 220
    amp, freq, phase = rng.uniform(18, 28), rng.uniform(2.5, 3.5), rng.uniform(0, math.pi)
    for i in range(n):
        t = i / (n - 1)
        px = (60 + 470 * t) * SS + math.sin(t * freq * math.pi * 2 + phase) * 28 * SS
        py = (140 - 40 * t) * SS + math.cos(t * freq * math.pi * 2 + phase) * amp * SS
        pts.append((px, py))
    draw.line(pts, fill=255, width=7 * SS, joint="curve")
    flourish = [((80 + 480 * t) * SS, (205 - 30 * math.sin(math.pi * t) - 10 * t) * SS)
                for t in (i / 60 for i in range(61))]
    draw.line(flourish, fill=255, width=6 * SS, joint="curve")
    return _finish(mask, (600, 240), BLUE)


def _star(cx, cy, r_out, r_in, rotation=-math.pi / 2):
    pts = []
    for i in range(10):
        r = r_out if i % 2 == 0 else r_in
        a = rotation + i * math.pi / 5
        pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return pts


def _text_on_arc(mask: Image.Image, text: str, font, cx, cy, radius, centre_angle, *, top=True):
    """Draw ``text`` along a circle of ``radius``, centred at ``centre_angle`` (radians, 0 = right,
    clockwise in image coordinates); on the top arc letters read left-to-right clockwise, on the
    bottom arc counter-clockwise so they stay upright."""
    tmp = ImageDraw.Draw(mask)
    widths = [tmp.textlength(c, font=font) for c in text]
    spacing = font.size * 0.08
    total = sum(widths) + spacing * (len(text) - 1)
    angle = centre_angle - (total / radius / 2 if top else -total / radius / 2)
    ascent, descent = font.getmetrics()
    for ch, cw in zip(text, widths):
        step = (cw / 2) / radius
        angle += step if top else -step
        glyph = Image.new("L", (int(cw + 4 * SS), ascent + descent + 4 * SS), 0)
        ImageDraw.Draw(glyph).text((2 * SS, 2 * SS), ch, font=font, fill=255)
        # rotate so the glyph's baseline is tangent to the circle
        deg = -math.degrees(angle) - 90 if top else -math.degrees(angle) + 90
        rot = glyph.rotate(deg, resample=Image.BICUBIC, expand=True)
        gx = cx + radius * math.cos(angle)
        gy = cy + radius * math.sin(angle)
        mask.paste(255, (int(gx - rot.width / 2), int(gy - rot.height / 2)), rot)
        angle += (step + spacing / radius) if top else -(step + spacing / radius)


def seal(label: str, name: str) -> Image.Image:
    size = 600 * SS
    c = size / 2
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    r_outer = 299 * SS   # the ring touches the edges: the PNG's width IS the seal's diameter
    draw.ellipse((c - r_outer, c - r_outer, c + r_outer, c + r_outer), outline=255, width=16 * SS)
    r_ring = 222 * SS
    draw.ellipse((c - r_ring, c - r_ring, c + r_ring, c + r_ring), outline=255, width=7 * SS)
    band_mid = (r_outer - 8 * SS + r_ring) / 2
    # the largest font (<= 50 px) whose text spans at most ~220 degrees of the upper arc
    px = 50
    while px > 24:
        font = ImageFont.truetype(str(FONT_BOLD), px * SS)
        if draw.textlength(name, font=font) * 1.08 <= band_mid * math.radians(220):
            break
        px -= 2
    # agency name on the upper arc; the text's vertical centre sits in the middle of the band
    ascent, descent = font.getmetrics()
    _text_on_arc(mask, name, font, c, c, band_mid - (ascent - descent) * 0.05, -math.pi / 2, top=True)
    # lower arc: the province's name part (after "TỈNH"/"UBND"), as on real seals
    lower = name.split("TỈNH")[-1].strip() if "TỈNH" in name else name
    _text_on_arc(mask, "★ " + lower + " ★", ImageFont.truetype(str(FONT_BOLD), 40 * SS),
                 c, c, band_mid, math.pi / 2, top=False)
    draw.polygon(_star(c, c, 120 * SS, 48 * SS), fill=255)
    return _finish(mask, (600, 600), RED)


def generate(*, force: bool = False) -> list[Path]:
    written = []
    for label, name in OFFICIALS.items():
        path = HERE / f"{label}.png"
        if force or not path.exists():
            signature(label, name).save(path, optimize=True)
            written.append(path)
    for label, name in AGENCIES.items():
        path = HERE / f"{label}.png"
        if force or not path.exists():
            seal(label, name).save(path, optimize=True)
            written.append(path)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="regenerate existing images")
    args = parser.parse_args()
    for p in generate(force=args.force):
        print(f"{p.name}: {p.stat().st_size} bytes")
