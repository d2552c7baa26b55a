"""The fast hex-string reader gives exactly what pyHanko's own reader gives, errors included."""
from __future__ import annotations

import io
import random

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfStreamError

from hazmat import pyhanko_hexreader as pdfspeed


def outcome(reader, data: bytes):
    stream = io.BytesIO(data)
    try:
        value = reader(stream)
        return ("ok", type(value).__name__, bytes(value) if isinstance(value, generic.ByteStringObject)
                else str(value), stream.tell())
    except PdfStreamError as exc:
        return ("error", type(exc).__name__)


CASES = [b"<>", b"<41>", b"<4>", b"<41 42\n43>rest", b"<4 1\t4\r2\x00>", b"<zz>", b"<41%comment\n42>",
         b"<4142", b"<" + b"0" * 70000 + b">x", b"<" + b"ab" * 40000 + b"", b"<FEFF00410042>"]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_same_result_as_pyhanko(data):
    assert outcome(pdfspeed.read_hex_string_from_stream, data) == outcome(pdfspeed._original, data)


def test_same_result_on_random_strings():
    rng = random.Random(30)
    alphabet = b"0123456789abcdefABCDEF \n\r\t\f\x00%>gxyz<"
    for _ in range(2000):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        data = b"<" + body + (b">" if rng.random() < 0.8 else b"") + b" tail"
        assert outcome(pdfspeed.read_hex_string_from_stream, data) == outcome(pdfspeed._original, data), data
