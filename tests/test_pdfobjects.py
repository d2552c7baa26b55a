"""The fast dictionary reader (hazmat.pyhanko_objects) gives exactly what pyHanko's own (bounded)
reader gives: the same objects, the same container references, the same errors, the stream left at
the same place; on fixed cases, on random dictionaries and on random damage to them."""
from __future__ import annotations

import io
import random

import pytest
from pyhanko.pdf_utils import generic

from hazmat import pyhanko_bounds, pyhanko_objects


class _Handler:
    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def get_object(self, ref):   # an indirect /Length
        return generic.NumberObject(3)


class _Ref:
    def __init__(self, handler) -> None:
        self.handler = handler

    def get_pdf_handler(self):
        return self.handler


def _describe(value, ref, handler):
    """Everything a caller can see of a parsed object."""
    kind = type(value).__name__
    extra = ("ref" if value.__dict__.get("container_ref", None) is ref else repr(value.__dict__.get("container_ref")))
    if isinstance(value, generic.StreamObject):
        return (kind, extra, [(_key(k), _describe(v, ref, handler)) for k, v in dict.items(value)],
                value.encoded_data)
    if isinstance(value, dict):
        return (kind, extra, [(_key(k), _describe(v, ref, handler)) for k, v in dict.items(value)])
    if isinstance(value, list):
        return (kind, extra, [_describe(v, ref, handler) for v in value])
    if isinstance(value, generic.IndirectObject):
        return (kind, extra, value.idnum, value.generation, value.get_pdf_handler() is handler)
    if isinstance(value, generic.TextStringObject):
        return (kind, extra, str(value), value.autodetected_encoding)
    if isinstance(value, generic.BooleanObject):
        return (kind, extra, value.value)
    if isinstance(value, generic.NullObject):
        return (kind, extra)
    return (kind, extra, repr(value), str(value))


def _key(key):
    return (type(key).__name__, str(key), key.__dict__.get("container_ref"))


def outcome(reader, data: bytes, *, strict: bool = False, start: int = 0, metadata: bool = False):
    handler = _Handler(strict)
    ref = _Ref(handler)
    stream = io.BytesIO(data)
    stream.seek(start)
    try:
        value = reader(stream, ref, as_metadata_stream=metadata)
        return ("ok", _describe(value, ref, handler), stream.tell())
    except Exception as exc:  # noqa: BLE001 - the same error, in the same words
        return ("error", type(exc).__name__, str(exc))


def fast(stream, ref, **kw):
    return pyhanko_objects._read(stream, ref, **kw)


def bounded(stream, ref, **kw):
    return pyhanko_objects._state["bounded"](stream, ref, **kw)


CASES = [
    b"<< >>", b"<</Type/Page/Count 3>>", b"<< /A 1 0 R /B [1 2.5 -3 +4 .5 1.] /C (text) /D <414> >> tail",
    b"<< /A true /B false /C null /D /Name >>", b"<< /A truex >>", b"<< /A nul >>", b"<< /A fals >>",
    b"<< /M (D\\07220261206Z) /N (a\\(b\\)c) /O (nested (paren) ok) /P (line\\\ncont) /Q (\\n\\r\\t\\b\\f\\\\) >>",
    b"<< /A (\\8) >>", b"<< /A (\\777) >>", b"<< /A (\\q) >>", b"<< /A (unbalanced >>", b"<< /A (\\12",
    b"<< /A 0 0 R >>", b"<< /A 1 0R >>", b"<< /A 1 0 \x0bR >>", b"<< /A 1\x0b0 R >>", b"<< /A 1 0 Rx >>",
    b"<< /A 1 0 R>>", b"<< /A 12 0 R/B 3>>", b"<< /A 1.2.3 >>", b"<< /A +- >>", b"<< /A 1,2 >>", b"<< /A -.5 >>",
    b"<< /A#20B 1 /C\xc3\xa1 2 >>", b"<< /A 1 /A 2 >>", b"<< /A 1 % comment\n /B 2 >>", b"<< /A %c\n 1 >>",
    b"<< /A <41 42\n43> /B <4> /C <zz> /D <41%c\n42> >>", b"<< /A << /B << /C 1 >> >> >>", b"<< /A [[[1]] [2]] >>",
    b"<< /A << /B 1 >> stream\n>>", b"<< /Length 3 >>\nstream\nabcendstream", b"<< /Length 3 >>stream\r\nabc\nendstream",
    b"<< /Length 4 >>\nstream\nabc\nendstream", b"<< /Length 9 0 R >>\nstream\nabc\nendstream", b"<< /Length 3 >>\n%x\n",
    b"<< /Length 3 >> startxref", b"<< /A 1 > >>", b"<< 1 2 >>", b"<< /A ] >>", b"<< /A", b"<< /A 1", b"<<", b"< /A 1 >>",
    b"<</A 1>>", b"<< /A {1} >>", b"<< /A 1 >>\x00\x00stream", b"<< /A (\xfe\xff\x00A) /B <FEFF0042> >>",
    b"<< /A [1 0 R 2 0 R] /B [1 0 R2 0 R] >>", b"<< /A 1 0 obj >>", b"<< /Contents <" + b"30" * 20000 + b"> /B 1 >>",
    b"<< /Contents <" + b"0" * 3000000 + b"> >>", b"<< /A (" + b"x" * 5000 + b") /B 1 >>", b"<< /K [" + b"0 " * 100001 + b"] >>",
    b"<< /A " + b"[" * 70 + b"]" * 70 + b" >>", b"<< /A " + b"<< /B " * 70 + b">> " * 70 + b">>",
    b"<< /A 1 >>" + b" " * 5000 + b"stream", b"<< /Type /Metadata /Length 2 >>\nstream\nab\nendstream",
]


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_same_result_as_pyhanko(data, strict):
    assert outcome(fast, data, strict=strict) == outcome(bounded, data, strict=strict)


def test_same_result_at_chunk_edges_and_in_a_metadata_stream():
    body = b"<< /Length 3 /A (x) /B 1 0 R /C [1 2] /D <41> /E true >>\nstream\nabc\nendstream"
    for pad in range(0, 120):
        data = b" " * (4096 - 60 - pad) + body
        for start in (len(data) - len(body),):
            assert outcome(fast, data, start=start) == outcome(bounded, data, start=start), pad
            assert outcome(fast, data[:start + 40 + pad % 30], start=start) == \
                outcome(bounded, data[:start + 40 + pad % 30], start=start), pad
    data = b"<< /Type /Metadata /Subtype /XML /Length 3 >>\nstream\nabc\nendstream"
    assert outcome(fast, data, metadata=True) == outcome(bounded, data, metadata=True)
    assert outcome(fast, data, metadata=True)[1][0] == "MetadataStream"


class _Maker:
    """Random dictionaries: mostly well formed (what the fast reader reads), with rare odd tokens
    (what it leaves to pyHanko), ``wild`` deciding how rare."""

    def __init__(self, rng: random.Random, wild: float) -> None:
        self.rng, self.wild = rng, wild

    def pick(self, plain: list, odd: list):
        return self.rng.choice(odd if self.rng.random() < self.wild else plain)

    def ws(self) -> bytes:
        return self.pick([b" ", b" ", b"\n", b"", b"\r\n", b"\t", b"\x00", b"\f"], [b" %c\n", b"\x0b", b"%"])

    def value(self, depth: int) -> bytes:
        rng = self.rng
        pick = rng.random()
        if depth < 4 and pick < 0.08:
            return self.dictionary(depth + 1)
        if depth < 4 and pick < 0.16:
            return b"[" + self.ws().join(self.value(depth + 1) for _ in range(rng.randint(0, 4))) + b"]"
        kind = rng.randrange(6)
        if kind == 0:
            return b"/" + self.pick([b"Type", b"Page", b"", b"K", b"F1", b"Type-3", b"x.5", b"12"], [b"A#20B", b"C\xc3\xa1", b"X#4"])
        if kind == 1:
            return self.pick([b"0", b"12", b"-3", b"+4", b"1.5", b".5", b"1.", b"007"], [b"1.2.3", b"+-", b"1,2", b"--1"])
        if kind == 2:
            return b"%d%s%d%sR" % (rng.randint(0, 30), self.pick([b" ", b"  ", b"\n"], [b"\x0b", b"\x00"]),
                                    rng.randint(0, 3), self.pick([b" ", b"\r\n"], [b"", b" \x0b", b"\n\x00"]))
        if kind == 3:
            return self.pick([b"true", b"false", b"null"], [b"tru", b"nul", b"truex"])
        if kind == 4:
            return b"(" + b"".join(self.pick([b"a", b"(x)", b"\\(", b"\\)", b"\\n", b"\\\\", b"\\0", b"\\12",
                                              b"\\377", b"\\\n", b"\\\r\n", b"\xc3\xa1", b"\xfe\xff", b" ", b"%"],
                                             [b"(", b")", b"\\8", b"\\q"])
                                   for _ in range(rng.randint(0, 8))) + b")"
        return b"<" + b"".join(self.pick([b"4", b"1", b"a", b"F", b" ", b"\n", b"\x00"], [b"g", b"%"])
                               for _ in range(rng.randint(0, 9))) + b">"

    def dictionary(self, depth: int = 0) -> bytes:
        entries = []
        for _ in range(self.rng.randint(0, 5)):
            key = b"/" + self.pick([b"Type", b"Length", b"A", b"B", b"", b"Type-3", b"F+1", b"7"], [b"C#20", b"A"])
            entries.append(key + self.ws() + self.value(depth))
        return b"<<" + self.ws() + self.ws().join(entries) + self.ws() + b">>"


def test_same_result_on_random_dictionaries(monkeypatch):
    original = pyhanko_objects._state["bounded"]
    fallbacks = []
    monkeypatch.setitem(pyhanko_objects._state, "bounded", lambda *a, **kw: fallbacks.append(1) or original(*a, **kw))
    rng = random.Random(2612)
    alone = 0
    for n in range(4000):
        maker = _Maker(rng, wild=rng.choice([0.0, 0.02, 0.1, 0.3]))
        data = maker.dictionary()
        if rng.random() < 0.2:
            data += maker.ws() + b"stream\n" + b"x" * rng.randint(0, 6) + rng.choice([b"\nendstream", b"endstream", b""])
        data += rng.choice([b" endobj", b"", b"\n"])
        if rng.random() < 0.15:   # damage: a byte changed, or the text cut short
            at = rng.randrange(len(data))
            data = data[:at] + bytes([rng.randrange(256)]) + data[at + 1:] if rng.random() < 0.5 else data[:at]
        strict = rng.random() < 0.3
        before = len(fallbacks)
        mine = outcome(fast, data, strict=strict)
        alone += len(fallbacks) == before
        assert mine == outcome(original, data, strict=strict), (n, data)
    # the fast reader read many of them alone, and left many to pyHanko: both sides were compared
    assert 1000 < alone < 3600, alone


def test_what_a_signed_document_holds_is_read_without_pyhanko(monkeypatch):
    """A catalog, a page, a signature field and a signature dictionary (its /M date has an escaped
    colon, its /Contents 16 KiB of hex) are read by the fast reader alone."""
    monkeypatch.setitem(pyhanko_objects._state, "bounded", None)   # a fallback would fail
    for data in (b"<</Type/Catalog/Pages 3 0 R/AcroForm 9 0 R/Version/1.7>>",
                 b"<< /Contents 5 0 R /MediaBox [0 0 595.28 842] /Parent 3 0 R /Resources << /Font << /F1 6 0 R >> >> >>",
                 b"<< /FT /Sig /T (Signature1) /Type /Annot /Subtype /Widget /F 132 /Rect [0 0 0 0] /V 11 0 R >>",
                 b"<< /Contents <" + b"3082" * 8192 + b"> /ByteRange [0 1046501 1058791 497] /Type /Sig "
                 b"/Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /M (D\\07220261206024451Z) >>"):
        assert outcome(fast, data)[0] == "ok", data[:60]


def test_installed_in_front_of_the_bounded_reader():
    """As a worker runs: the fast reader first, the bounds still refusing what they refused."""
    assert pyhanko_objects.installed() and pyhanko_bounds.installed()
    assert generic.DictionaryObject.read_from_stream is pyhanko_objects._read
    deep = b"<< /A " + b"[" * 70 + b"]" * 70 + b" >>"
    with pytest.raises(pyhanko_bounds.ParserBoundExceeded):
        generic.read_object(io.BytesIO(deep), _Ref(_Handler(False)))


# -- cross-reference tables and object headers (hazmat.pyhanko_xref) ----------------------------------

def _table_outcome(reader, data: bytes, strict: bool):
    """Each entry with where the stream stood when it came, then where it ends (or the error)."""
    stream = io.BytesIO(data)
    seen = []
    try:
        for entry in reader(stream, strict):
            seen.append((entry.xref_type, entry.location, type(entry.idnum).__name__, entry.idnum, entry.generation,
                         stream.tell()))
        return ("ok", seen, stream.tell())
    except Exception as exc:  # noqa: BLE001 - the same error, after the same entries
        return ("error", seen, type(exc).__name__, str(exc))


def _random_table(rng: random.Random) -> bytes:
    eol = rng.choice([b" \n", b"\r\n", b" \r"])
    parts = [rng.choice([b"", b"\n", b"  ", b"\r\n"])]
    for _ in range(rng.randint(1, 3)):
        count = rng.randint(0, 6)
        parts.append(b"%d %d" % (rng.randint(0, 40), count) + rng.choice([b"\n", b" \n", b"\r\n", b"\n\n"]))
        for _ in range(count):
            parts.append(b"%010d %05d %s" % (rng.randint(0, 10**9), rng.choice([0, 0, 1, 65535]),
                                             rng.choice([b"n", b"n", b"f"])) + (eol if rng.random() < 0.95 else b"\n"))
    parts.append(rng.choice([b"trailer\n<<", b"trailer<<", b"\ntrailer \r\n<<", b"trailer %c\n<<", b"trailerx"]))
    data = b"".join(parts)
    if rng.random() < 0.3:   # damage
        at = rng.randrange(len(data))
        change = rng.choice([b"", b" ", b"x", b"%", b"\r", b"9", b"t"])
        data = data[:at] + change + data[at + 1:] if rng.random() < 0.7 else data[:at]
    # a file goes on after its table (pyHanko's reader loops for ever on a table cut short within
    # seven bytes of the end of its stream, "31 0 \ntr": it seeks back seven bytes from there)
    return data + b"\nstartxref\n123\n%%EOF"


def test_xref_tables_read_alike():
    from hazmat import pyhanko_xref

    assert pyhanko_xref.installed()
    original, fast_table = pyhanko_xref._state["table"], pyhanko_xref.parse_xref_table
    fixed = [b"0 3\n0000000000 65535 f \n0001045845 00000 n \n0001046017 00000 n \n4 1\n0001046133 00000 n \ntrailer\n<<",
             b"0 1\r\n0000000000 65535 f\r\ntrailer\r\n<<", b"0 1\n0000000000 65535 f \r\n trailer <<", b"1 2\n0000000001 00000 n\n",
             b"0 1\n0000000000 65535 x \ntrailer", b"% c\n0 0\ntrailer <<", b"0 1\n000000000A 00000 n \ntrailer <<", b"",
             b"9" * 5000 + b" 0\ntrailer\n<<", b"0 1\n0000000000 65535 f \n" + b"9" * 4400 + b" 0\ntrailer <<"]
    rng = random.Random(734)
    cases = fixed + [_random_table(rng) for _ in range(3000)]
    alone = 0
    for data in cases:
        for strict in (False, True):
            stock = _table_outcome(original, data, strict)
            assert _table_outcome(fast_table, data, strict) == stock, data
            assert _table_outcome(pyhanko_xref._table_pyhanko, data, strict) == stock, data
        alone += pyhanko_xref._fast_table(data) is not None
    assert 1000 < alone < 2800, alone   # both the fast reader and pyHanko's were compared


def test_object_headers_read_alike():
    from hazmat import pyhanko_xref

    original, fast_header = pyhanko_xref._state["header"], pyhanko_xref._read_object_header

    def outcome(reader, data, strict):
        stream = io.BytesIO(data)
        try:
            return ("ok", reader(stream, strict), stream.tell())
        except Exception as exc:  # noqa: BLE001
            return ("error", type(exc).__name__, str(exc))

    rng = random.Random(873)
    pieces = [b"1", b"12", b"0", b" ", b"  ", b"\n", b"obj", b"ob", b"%c\n", b"<<", b"\r\n", b"x", b"-1", b"00"]
    cases = [b"9" * 4400 + b" 0 obj <<", b"12 0 obj\n<<", b"12 0 obj<<", b"12 0 obj %c\n<<", b" 12 0 obj <<", b"12  0 obj <<", b"12 0 obx <<",
             b"12 0 obj", b"1 0 obj" + b" " * 100 + b"<<", b"a 0 obj <<"]
    cases += [b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 9))) for _ in range(3000)]
    for data in cases:
        for strict in (False, True):
            assert outcome(fast_header, data, strict) == outcome(original, data, strict), data


def test_a_table_cut_short_at_the_end_of_the_file_is_an_error_not_a_loop():
    """pyHanko's own reader sought back seven bytes after reading two ("tr") and read them again for
    ever: a 300-byte file (its /Prev table after %%EOF) held a verification, a signing, a worker."""
    import threading

    from hostile.generator import _table_cut_short
    from verifier import VerificationPolicy, verify

    for tail in (b"xref\n1 0 \ntr", b"xref\n31 0 \ntr", b"xref\n0 1\n0000000000 65535 f\n\r"):
        data = _table_cut_short(tail)
        answer = {}
        worker = threading.Thread(target=lambda: answer.setdefault(
            "report", verify(data, policy=VerificationPolicy.for_profile("none"))), daemon=True)
        worker.start()
        worker.join(30)
        assert "report" in answer, f"still reading after 30 s: {tail!r}"
        assert answer["report"].verdict.value != "valid"


def test_inside_a_dictionary_pyhanko_reads_its_nested_ones_are_not_tried_again(monkeypatch):
    """A dictionary the fast reader leaves to pyHanko (a comment deep inside) is scanned once: its
    nested dictionaries go to pyHanko's reader with it (before, each level scanned the same chunk
    again: 41 s for a 180 KB object sixty levels deep)."""
    attempts = []
    original = pyhanko_objects._Parser.__init__
    monkeypatch.setattr(pyhanko_objects._Parser, "__init__", lambda self, *a: attempts.append(1) or original(self, *a))
    data = b"<< /A " * 30 + b"<< /K [" + b"1 " * 3000 + b"] %c\n>>" + b" >>" * 30
    assert outcome(fast, data) == outcome(bounded, data)
    assert outcome(fast, data)[0] == "ok"
    attempts.clear()
    outcome(fast, data)
    assert len(attempts) <= len(pyhanko_objects._SIZES), len(attempts)
