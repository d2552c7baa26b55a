"""Deterministic generators of hostile PDF inputs."""
from __future__ import annotations

import dataclasses
import io
import random
import re
import zlib
from typing import Callable, Iterator

import pikepdf


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    family: str
    data: bytes
    from_signed: bool            # a mutation of a signed document: must never verify as valid

    def __repr__(self) -> str:
        return f"Case({self.name!r}, {len(self.data)} bytes)"


@dataclasses.dataclass(frozen=True)
class Sources:
    """What the mutations start from: an unsigned PDF and one or more signed ones."""

    unsigned: bytes
    signed: tuple[bytes, ...]


_HEX_LETTERS = set(b"abcdefABCDEF")


def _contents_regions(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every /Contents <...> hex string (the unsigned hole of a signature)."""
    regions = []
    for match in re.finditer(rb"/Contents\s*<", data):
        start = match.end()
        end = data.find(b">", start)
        if end > start:
            regions.append((start, end))
    return regions


def _flip(data: bytes, rng: random.Random, flips: int) -> bytes:
    out = bytearray(data)
    holes = _contents_regions(data)
    done = 0
    attempts = 0
    while done < flips and attempts < flips * 50:
        attempts += 1
        pos = rng.randrange(len(out))
        bit = 1 << rng.randrange(8)
        if any(a <= pos < b for a, b in holes) and (
                (out[pos] in _HEX_LETTERS and bit == 0x20) or (out[pos] ^ bit) in b" \t\r\n\x0c\x00"):
            continue   # 'a' <-> 'A', or white space in a hex string: the same bytes, not a change
        out[pos] ^= bit
        done += 1
    return bytes(out)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(0, max(1, len(data) - 1))]


def _break_startxref(data: bytes, rng: random.Random) -> bytes:
    head, sep, tail = data.rpartition(b"startxref")
    if not sep:
        return data + b"startxref\n999999999\n%%EOF"
    return head + b"startxref\n" + str(rng.choice([0, 1, 7, len(data) + 10, 10 ** 12])).encode() + b"\n%%EOF\n"


def _prev_loop(data: bytes, rng: random.Random) -> bytes:
    start = data.rfind(b"startxref")
    number = data[start + 9:].split()[0] if start >= 0 else b"0"
    update = (b"\n99999 0 obj\n<< >>\nendobj\nxref\n99999 1\n0000000000 00000 n \ntrailer\n<< /Size 100000 /Prev "
              + number + b" /Root 1 0 R >>\n")
    xref_pos = len(data) + update.find(b"xref")
    update = update.replace(b"/Prev " + number, b"/Prev " + str(xref_pos).encode())
    return data + update + b"startxref\n" + str(xref_pos).encode() + b"\n%%EOF\n"


def _deep_nesting(depth: int) -> bytes:
    body = b"[" * depth + b"]" * depth
    return _minimal_pdf(extra_objects=[b"<< /Deep " + body + b" >>"])


def _deep_dicts(depth: int) -> bytes:
    body = b"<< /A " * depth + b"1" + b" >>" * depth
    return _minimal_pdf(extra_objects=[body])


def _minimal_pdf(*, extra_objects=(), page_count: int = 1, page_contents: bytes | None = None,
                 extra_catalog: bytes = b"", kids: bytes = b"[3 0 R]", extra_page: bytes = b"") -> bytes:
    objects = [b"<< /Type /Catalog /Pages 2 0 R " + extra_catalog + b">>",
               b"<< /Type /Pages /Kids " + kids + b" /Count " + str(page_count).encode() + b" >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R " + extra_page + b">>"]
    content = page_contents if page_contents is not None else b"BT /F1 12 Tf 72 720 Td (hostile) Tj ET"
    objects.append(b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream")
    objects.extend(extra_objects)
    return _assemble(objects)


def _assemble(objects: list[bytes]) -> bytes:
    """A PDF of ``objects`` (numbered from 1, the first one the catalog) with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(str(n).encode() + b" 0 obj\n" + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 " + str(len(objects) + 1).encode() + b"\n0000000000 65535 f \n")
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size " + str(len(objects) + 1).encode() + b" /Root 1 0 R >>\nstartxref\n"
              + str(xref).encode() + b"\n%%EOF\n")
    return out.getvalue()


def _table_cut_short(tail: bytes) -> bytes:
    """A small valid PDF whose trailer's /Prev points after its %%EOF, at ``tail``: a second
    cross-reference table cut short by the end of the file (``xref\\n1 0 \\ntr``), which pyHanko's
    table reader read for ever."""
    head = (b"%PDF-1.7\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n"
            b"2 0 obj\n<</Type/Pages/Kids[]/Count 0>>\nendobj\n")
    table = b"xref\n0 3\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \n" % (9, head.index(b"2 0 obj"))
    trailer = b"trailer\n<</Size 3/Root 1 0 R/Prev %010d>>\nstartxref\n%d\n%%%%EOF\n"
    prev = len(head) + len(table) + len(trailer % (0, len(head)))
    return head + table + trailer % (prev, len(head)) + tail


_BOMB_CACHE: dict[int, bytes] = {}


def _bomb(mebibytes: int) -> bytes:
    """A FlateDecode stream that inflates to ``mebibytes`` MiB (of zeros)."""
    if mebibytes not in _BOMB_CACHE:
        comp = zlib.compressobj(9)
        chunk = bytes(1 << 20)
        payload = b"".join(comp.compress(chunk) for _ in range(mebibytes)) + comp.flush()
        _BOMB_CACHE[mebibytes] = payload
    payload = _BOMB_CACHE[mebibytes]
    stream = (b"<< /Length " + str(len(payload)).encode() + b" /Filter /FlateDecode >>\nstream\n" + payload
              + b"\nendstream")
    return _minimal_pdf(extra_objects=[stream], extra_catalog=b"/Metadata 5 0 R ")


def _bomb_in_objstm(mebibytes: int) -> bytes:
    """An object stream whose content inflates to ``mebibytes`` MiB: the parser must stop early."""
    comp = zlib.compressobj(9)
    payload = b"".join(comp.compress(b" " * (1 << 20)) for _ in range(mebibytes)) + comp.flush()
    stream = (b"<< /Type /ObjStm /N 1 /First 4 /Length " + str(len(payload)).encode()
              + b" /Filter /FlateDecode >>\nstream\n" + payload + b"\nendstream")
    return _minimal_pdf(extra_objects=[stream])


def _page_tree_duplicates(times: int) -> bytes:
    """A page tree listing the same page ``times`` times (6 bytes a page: a million is a 6 MB file)."""
    return _minimal_pdf(page_count=times, kids=b"[" + b"3 0 R " * times + b"]")


def _nested_in_page(depth: int) -> bytes:
    """Deep arrays inside the page dictionary, which every signer and stamper reads."""
    return _minimal_pdf(extra_page=b"/Junk " + b"[" * depth + b"]" * depth + b" ")


def _nested_in_form(depth: int) -> bytes:
    """Deep arrays in the AcroForm's /Fields, which a signer walks to find or add its field."""
    return _minimal_pdf(extra_catalog=b"/AcroForm << /Fields " + b"[" * depth + b"]" * depth + b" >> ")


def _nested_dicts_in_catalog(depth: int) -> bytes:
    return _minimal_pdf(extra_catalog=b"/Junk " + b"<< /A " * depth + b"1" + b" >>" * depth + b" ")


def _form_with_field_names(names: list[str]) -> bytes:
    """Existing form fields with hostile names (a dot, Vietnamese letters, very long, a /Kids loop)."""
    fields = []
    first = 5
    for i, name in enumerate(names):
        encoded = b"<" + ("\ufeff" + name).encode("utf-16-be").hex().encode() + b">"
        fields.append(b"<< /FT /Tx /T " + encoded + b" /Rect [0 0 10 10] /Type /Annot /Subtype /Widget /P 3 0 R >>")
    loop = first + len(names)
    fields.append(b"<< /T (loop) /Kids [" + str(loop).encode() + b" 0 R] /Parent " + str(loop).encode() + b" 0 R >>")
    refs = b" ".join(str(first + i).encode() + b" 0 R" for i in range(len(fields)))
    return _minimal_pdf(extra_objects=fields, extra_catalog=b"/AcroForm << /Fields [" + refs + b"] >> ",
                        extra_page=b"/Annots [" + refs + b"] ")


# signature field names a request may carry
HOSTILE_FIELD_NAMES = ("Chu.Ky", "Chữ ký số của Chủ tịch", "x" * 101, " ", "Ký\u0000số", "../../etc/passwd",
                       "Chu\u030cky", "Sig1")


def door_cases() -> list[tuple[str, str, bytes]]:
    """(name, family, data): files for the doors that sign, prepare, issue, copy and receive; each must
    get a clear 4xx (or be served), quickly and in bounded memory."""
    return [
        ("page-tree-million", "pages", _page_tree_duplicates(1_000_000)),
        ("page-tree-20000", "pages", _page_tree_duplicates(20_000)),
        ("count-billion", "pages", _minimal_pdf(page_count=10 ** 9)),
        ("deep-arrays", "nesting", _deep_nesting(50_000)),
        ("deep-dicts", "nesting", _deep_dicts(20_000)),
        ("nested-in-page", "nesting", _nested_in_page(50_000)),
        ("nested-in-form", "nesting", _nested_in_form(50_000)),
        ("nested-dicts-in-catalog", "nesting", _nested_dicts_in_catalog(20_000)),
        ("flate-bomb-256m-content", "bomb", _content_bomb(256)),
        ("objstm-bomb-256m", "bomb", _bomb_in_objstm(256)),
        ("field-names", "fields", _form_with_field_names(["Chu.Ky", "Chữ ký số", "x" * 10_000, "", "Sig1"])),
        ("xref-cut-short", "startxref", _table_cut_short(b"xref\n1 0 \ntr")),
    ]


def _content_bomb(mebibytes: int) -> bytes:
    """The page's own content stream inflates to ``mebibytes`` MiB: what text extraction and stamping read."""
    comp = zlib.compressobj(9)
    payload = b"".join(comp.compress(b" " * (1 << 20)) for _ in range(mebibytes)) + comp.flush()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
               b"<< /Length " + str(len(payload)).encode() + b" /Filter /FlateDecode >>\nstream\n" + payload
               + b"\nendstream"]
    return _assemble(objects)


def _encrypted(data: bytes) -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="chu", user="khach", R=6))
    return out.getvalue()


def _polyglots(unsigned: bytes) -> list[tuple[str, bytes]]:
    return [
        ("zip-then-pdf", b"PK\x03\x04" + bytes(26) + unsigned),
        ("html-then-pdf", b"<html><script>alert(1)</script>" + unsigned),
        ("pdf-with-javascript", _minimal_pdf(extra_catalog=b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> ")),
        ("pdf-then-zip", unsigned + b"PK\x05\x06" + bytes(18)),
        ("jpeg-header", b"\xff\xd8\xff\xe0" + unsigned),
    ]


def _signature_mutations(signed: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    out = []
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", signed)
    holes = _contents_regions(signed)
    if match:
        a, b, c, d = (int(x) for x in match.groups())
        original = match.group(0)
        for label, values in (("byterange-shift", (a, b, c + 2, d - 2)), ("byterange-short", (a, b - 10, c, d)),
                              ("byterange-cover-less", (a, b, c, max(0, d - 100))),
                              ("byterange-zero", (0, 0, 0, 0)), ("byterange-huge", (0, b, c, d * 1000))):
            text = b"/ByteRange [" + b" ".join(str(v).encode() for v in values) + b"]"
            text = text.ljust(len(original))[:len(original)] if len(text) <= len(original) else text
            out.append((label, signed.replace(original, text, 1)))
    if holes:
        start, end = holes[-1]
        length = end - start
        out.append(("contents-zeros", signed[:start] + b"0" * length + signed[end:]))
        garbage = bytes(rng.choice(b"0123456789abcdef") for _ in range(length))
        out.append(("contents-garbage", signed[:start] + garbage + signed[end:]))
        cms_hex = signed[start:end]
        cut = rng.randrange(20, max(21, length // 2))
        out.append(("contents-truncated-cms", signed[:start] + cms_hex[:cut] + b"0" * (length - cut) + signed[end:]))
        pos = start + rng.randrange(200, max(201, min(length, 4000)))
        mutated = bytearray(signed)
        # a different hex value, not just a different case ("F" -> "f" would leave the same bytes)
        mutated[pos] = ord("e") if chr(mutated[pos]).lower() == "f" else ord("f")
        out.append(("contents-one-digit", bytes(mutated)))
        out.append(("contents-empty", signed[:start - 1] + b"<>" + b" " * (length) + signed[end + 1:]))
        for label, edit in _CMS_EDITS:
            mutated_cms = _rewrite_cms(cms_hex, edit)
            if mutated_cms is not None:
                out.append((label, signed[:start] + mutated_cms + signed[end:]))
    out.append(("appended-after-eof", signed + b"\n1 0 obj << /Type /Catalog >> endobj\n"))
    out.append(("appended-new-revision-garbage", signed + b"xref\n0 1\n0000000000 65535 f \ntrailer << /Size 1 >>\n"
                                                           b"startxref\n" + str(len(signed)).encode() + b"\n%%EOF\n"))
    return out


def _rewrite_cms(cms_hex: bytes, edit) -> bytes | None:
    """Parse the CMS in a /Contents hole, apply ``edit`` to its SignedData, re-encode it into the
    same number of hex digits (zero padded); None if it no longer fits or does not parse."""
    from asn1crypto import cms

    try:
        info = cms.ContentInfo.load(bytes.fromhex(cms_hex.decode()).rstrip(b"\x00") + b"\x00\x00",
                                    strict=False)
        signed_data = info["content"]
        edit(signed_data)
        der = cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump(force=True)
    except Exception:  # noqa: BLE001 - a source this edit does not apply to
        return None
    hexed = der.hex().upper().encode()
    return hexed.ljust(len(cms_hex), b"0") if len(hexed) <= len(cms_hex) else None


def _digest_sha1(sd) -> None:
    """Weak digest: the signer claims SHA-1 (the signed attributes still hold a SHA-256 digest)."""
    sd["digest_algorithms"][0]["algorithm"] = "sha1"
    sd["signer_infos"][0]["digest_algorithm"]["algorithm"] = "sha1"


def _digest_md5(sd) -> None:
    sd["digest_algorithms"][0]["algorithm"] = "md5"
    sd["signer_infos"][0]["digest_algorithm"]["algorithm"] = "md5"


def _digest_mismatch(sd) -> None:
    """Wrong digest: the algorithm list and the signer disagree (SHA-512 declared)."""
    sd["digest_algorithms"][0]["algorithm"] = "sha512"


def _certificates_swapped(sd) -> None:
    """The signer's certificate replaced by its issuer's: same container, wrong key."""
    certs = list(sd["certificates"])
    sid = sd["signer_infos"][0]["sid"].chosen
    signer = [i for i, c in enumerate(certs) if c.chosen.serial_number == sid["serial_number"].native]
    others = [c for i, c in enumerate(certs) if i not in signer]
    if not signer or not others:
        raise ValueError("nothing to swap")
    for i in signer:
        certs[i] = others[-1]
    sd["certificates"] = certs


def _certificates_removed(sd) -> None:
    sd["certificates"] = []


def _signer_reversed(sd) -> None:
    """The signature value bytes reversed: well-formed container, wrong signature."""
    value = sd["signer_infos"][0]["signature"].native
    sd["signer_infos"][0]["signature"] = value[::-1]


_CMS_EDITS = (("cms-digest-sha1", _digest_sha1), ("cms-digest-md5", _digest_md5),
              ("cms-digest-mismatch", _digest_mismatch), ("cms-certificates-swapped", _certificates_swapped),
              ("cms-certificates-removed", _certificates_removed), ("cms-signature-reversed", _signer_reversed))


FAMILIES: dict[str, Callable] = {}


def families() -> list[str]:
    return ["truncation", "bitflip", "startxref", "prev-loop", "nesting", "bomb", "pages", "encrypted",
            "not-pdf", "polyglot", "signature"]


def cases(sources: Sources, *, count: int, seed: int = 30) -> Iterator[Case]:
    """``count`` cases, cycling through the families, deterministic for a seed."""
    rng = random.Random(seed)
    fixed: list[Case] = [
        Case("zero-bytes", "not-pdf", b"", False),
        Case("text", "not-pdf", "Công văn số 125/UBND-VP".encode("utf-8"), False),
        Case("random-bytes", "not-pdf", rng.randbytes(4096), False),
        Case("header-only", "not-pdf", b"%PDF-1.7\n", False),
        Case("deep-arrays", "nesting", _deep_nesting(50_000), False),
        Case("deep-dicts", "nesting", _deep_dicts(20_000), False),
        Case("flate-bomb-256m", "bomb", _bomb(256), False),
        Case("objstm-bomb-256m", "bomb", _bomb_in_objstm(256), False),
        Case("count-billion", "pages", _minimal_pdf(page_count=10 ** 9), False),
        Case("count-negative", "pages", _minimal_pdf(page_count=-5), False),
        Case("xref-cut-short", "startxref", _table_cut_short(b"xref\n1 0 \ntr"), False),
        Case("encrypted", "encrypted", _encrypted(sources.unsigned), False),
        Case("encrypted-signed", "encrypted", _encrypted(sources.signed[0]), True),
    ]
    fixed += [Case(name, "polyglot", data, False) for name, data in _polyglots(sources.unsigned)]
    for i, signed in enumerate(sources.signed):
        fixed += [Case(f"{name}-{i}", "signature", data, True) for name, data in _signature_mutations(signed, rng)]
    produced = 0
    for case in fixed:
        if produced >= count:
            return
        produced += 1
        yield case
    while produced < count:
        kind = produced % 5
        signed = sources.signed[rng.randrange(len(sources.signed))]
        base_signed = rng.random() < 0.8
        base = signed if base_signed else sources.unsigned
        if kind == 0:
            yield Case(f"truncate-{produced}", "truncation", _truncate(base, rng), base_signed)
        elif kind in (1, 2):
            yield Case(f"bitflip-{produced}", "bitflip", _flip(base, rng, rng.choice([1, 1, 2, 4, 16])), base_signed)
        elif kind == 3:
            yield Case(f"startxref-{produced}", "startxref", _break_startxref(base, rng), base_signed)
        else:
            yield Case(f"prev-loop-{produced}", "prev-loop", _prev_loop(base, rng), base_signed)
        produced += 1
