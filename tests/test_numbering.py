"""Numbering books (Decree 30 Art. 15): in order, unique, no gaps, 01..09, void not reused."""
from __future__ import annotations

import threading

import pytest

from registers.numbering import SqliteNumbering
from signer.errors import NumberTaken
from signer.numbering import DocumentNumber, document_symbol


def test_number_text_follows_decree_30():
    assert DocumentNumber(agency="UBND", book="CT", year=2026, number=7, symbol="CT-UBND").text == "07/CT-UBND"
    assert DocumentNumber(agency="UBND", book="CV", year=2026, number=125, symbol="UBND-VP").text == "125/UBND-VP"
    assert document_symbol(doc_type="QĐ", agency="UBND") == "QĐ-UBND"
    assert document_symbol(doc_type="CV", agency="UBND", unit="VP") == "UBND-VP"
    with pytest.raises(ValueError):
        document_symbol(doc_type="CV", agency="UBND")
    with pytest.raises(ValueError):
        document_symbol(doc_type="XYZ", agency="UBND")


def test_numbers_run_per_agency_book_and_year(tmp_path):
    book = SqliteNumbering(tmp_path / "numbers.sqlite")
    first = book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND")
    second = book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND")
    other_book = book.allocate(agency="UBND", book="QĐ", year=2026, symbol="QĐ-UBND")
    other_agency = book.allocate(agency="SNV", book="CT", year=2026, symbol="CT-SNV")
    next_year = book.allocate(agency="UBND", book="CT", year=2027, symbol="CT-UBND")
    assert [first.text, second.text, other_book.text, other_agency.text, next_year.text] == [
        "01/CT-UBND", "02/CT-UBND", "01/QĐ-UBND", "01/CT-SNV", "01/CT-UBND"]


def test_void_numbers_are_kept_with_their_reason_and_never_reused(tmp_path):
    book = SqliteNumbering(tmp_path / "numbers.sqlite")
    failed = book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND")
    book.void(failed, reason="TSA unreachable")
    issued = book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND")
    book.confirm(issued, document_sha256="ab" * 32)
    entries = book.entries(agency="UBND", year=2026)
    assert [(e["number"], e["status"], e["reason"]) for e in entries] == [
        (1, "void", "TSA unreachable"), (2, "issued", None)]
    with pytest.raises(NumberTaken):
        book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND", number=1)
    with pytest.raises(NumberTaken):
        book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND", number=9)   # would leave a gap
    assert book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND", number=3).number == 3


def test_parallel_clerks_get_unique_gapless_numbers(tmp_path):
    path = tmp_path / "numbers.sqlite"
    results: list[int] = []
    lock = threading.Lock()

    def clerk():
        book = SqliteNumbering(path)     # each clerk its own connection
        for _ in range(25):
            n = book.allocate(agency="UBND", book="CV", year=2026, symbol="UBND-VP")
            book.confirm(n, document_sha256="00" * 32)
            with lock:
                results.append(n.number)

    threads = [threading.Thread(target=clerk) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(1, 201))
