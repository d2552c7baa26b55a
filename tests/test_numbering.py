"""Numbering books and the outgoing register (Decree 30 Art. 15, 16), on SQLite and PostgreSQL:
in order, unique, no gaps, 01..09, void numbers kept with their reason, safe under concurrency."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from registers.numbering import DatabaseNumbering
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


def test_numbers_run_per_agency_book_and_year(db):
    book = DatabaseNumbering(db)
    got = [book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND"),
           book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND"),
           book.allocate(agency="UBND", book="QĐ", year=2026, symbol="QĐ-UBND"),
           book.allocate(agency="SNV", book="CT", year=2026, symbol="CT-SNV"),
           book.allocate(agency="UBND", book="CT", year=2027, symbol="CT-UBND")]
    assert [n.text for n in got] == ["01/CT-UBND", "02/CT-UBND", "01/QĐ-UBND", "01/CT-SNV", "01/CT-UBND"]


def test_register_entries_void_numbers_and_no_reuse(db):
    book = DatabaseNumbering(db)
    failed = book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND")
    book.void(failed, reason="TSA unreachable")
    issued = book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND")
    book.confirm(issued, document_sha256="ab" * 32, details={
        "doc_type": "CT", "summary": "Về tăng cường công tác văn thư", "signer": "Nguyễn Văn An",
        "issue_date": "2026-11-21", "recipients": ["Sở Nội vụ", "UBND các huyện"]})
    book.attach_report(issued, {"schema": "kyso.verification/1", "verdict": "valid"})
    entries = book.entries(agency="UBND", year=2026)
    assert [(e["number_text"], e["status"], e["reason"]) for e in entries] == [
        ("01/CT-UBND", "void", "TSA unreachable"), ("02/CT-UBND", "issued", None)]
    assert entries[1]["summary"] == "Về tăng cường công tác văn thư"
    assert entries[1]["recipients"] == ["Sở Nội vụ", "UBND các huyện"] and entries[1]["verdict"] == "valid"
    with pytest.raises(NumberTaken):
        book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND", number=1)
    with pytest.raises(NumberTaken):
        book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND", number=9)   # would leave a gap
    assert book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND", number=3).number == 3
    with pytest.raises(NumberTaken):
        book.confirm(issued, document_sha256="cd" * 32)   # already issued


def test_parallel_clerks_in_threads_get_unique_gapless_numbers(db):
    results: list[int] = []
    lock = threading.Lock()

    def clerk():
        book = DatabaseNumbering(db)
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


CLERK = """
import sys
from registers.db import Database
from registers.numbering import DatabaseNumbering
book = DatabaseNumbering(Database.connect(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    n = book.allocate(agency="UBND", book="CV", year=2026, symbol="UBND-VP")
    book.confirm(n, document_sha256="11" * 32)
    print(n.number, flush=True)
"""


def test_parallel_clerks_in_processes_get_unique_gapless_numbers(db, db_url):
    procs = [subprocess.Popen([sys.executable, "-c", CLERK, db_url, "30"], stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    numbers = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        numbers += [int(x) for x in out.split()]
    assert sorted(numbers) == list(range(1, 121))
    entries = DatabaseNumbering(db).entries(agency="UBND", year=2026, book="CV")
    assert [e["number"] for e in entries] == list(range(1, 121)) and {e["status"] for e in entries} == {"issued"}


def test_numbers_left_reserved_by_a_killed_worker_are_voided(db):
    book = DatabaseNumbering(db)
    stale = book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND")
    fresh = book.allocate(agency="UBND", book="CT", year=2026, symbol="CT-UBND")
    from datetime import datetime, timedelta, timezone

    from registers.models import OutgoingEntry

    with db.session() as s:
        s.get(OutgoingEntry, ("UBND", "CT", 2026, 1)).reserved_at = datetime.now(timezone.utc) - timedelta(hours=1)
    assert book.void_stale(older_than_seconds=600) == 1
    statuses = {e["number"]: (e["status"], e["reason"]) for e in book.entries(agency="UBND")}
    assert statuses[1][0] == "void" and "interrupted" in statuses[1][1]
    assert statuses[2] == ("reserved", None), "a live issuance keeps its number"
    book.confirm(fresh, document_sha256="aa" * 32)
    assert stale.number == 1
