"""Numbering books in SQLite: unique, in order, without gaps, safe across processes.

Every allocation runs in one ``BEGIN IMMEDIATE`` transaction (SQLite's writer
lock), so parallel clerks, in threads or processes, get distinct consecutive
numbers. A reserved number is confirmed with the issued document's hash, or
recorded as void with the reason: never silently reused, never lost.
"""
from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

from signer.errors import NumberTaken
from signer.numbering import DocumentNumber

_SCHEMA = """
CREATE TABLE IF NOT EXISTS numbering_counter (
    agency TEXT NOT NULL, book TEXT NOT NULL, year INTEGER NOT NULL, last INTEGER NOT NULL,
    PRIMARY KEY (agency, book, year)
);
CREATE TABLE IF NOT EXISTS numbering_entry (
    agency TEXT NOT NULL, book TEXT NOT NULL, year INTEGER NOT NULL, number INTEGER NOT NULL,
    symbol TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('reserved', 'issued', 'void')),
    document_sha256 TEXT, reason TEXT, reserved_at TEXT NOT NULL, closed_at TEXT,
    PRIMARY KEY (agency, book, year, number)
);
CREATE UNIQUE INDEX IF NOT EXISTS numbering_symbol_unique ON numbering_entry (agency, year, number, symbol);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class SqliteNumbering:
    """A :class:`signer.numbering.NumberAllocator` backed by one SQLite file (WAL)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
        return db

    def allocate(self, *, agency: str, book: str, year: int, symbol: str,
                 number: int | None = None) -> DocumentNumber:
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT last FROM numbering_counter WHERE agency=? AND book=? AND year=?",
                             (agency, book, year)).fetchone()
            last = row[0] if row else 0
            if number is None:
                number = last + 1
            elif number <= last:
                taken = db.execute(
                    "SELECT status FROM numbering_entry WHERE agency=? AND book=? AND year=? AND number=?",
                    (agency, book, year, number)).fetchone()
                raise NumberTaken(detail={"number": f"{number:02d}/{symbol}", "year": year,
                                          "status": taken[0] if taken else "skipped"})
            elif number > last + 1:
                raise NumberTaken(f"numbers have no gaps: the next number of this book is {last + 1:02d}",
                                  message_vi=f"Số văn bản phải liên tục: số tiếp theo là {last + 1:02d}",
                                  detail={"next": last + 1, "asked": number})
            db.execute("INSERT INTO numbering_counter(agency, book, year, last) VALUES (?,?,?,?) "
                       "ON CONFLICT(agency, book, year) DO UPDATE SET last=excluded.last",
                       (agency, book, year, number))
            db.execute("INSERT INTO numbering_entry(agency, book, year, number, symbol, status, reserved_at) "
                       "VALUES (?,?,?,?,?,'reserved',?)", (agency, book, year, number, symbol, _now()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return DocumentNumber(agency=agency, book=book, year=year, number=number, symbol=symbol)

    def _close(self, number: DocumentNumber, status: str, *, sha256: str | None, reason: str | None) -> None:
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            updated = db.execute(
                "UPDATE numbering_entry SET status=?, document_sha256=?, reason=?, closed_at=? "
                "WHERE agency=? AND book=? AND year=? AND number=? AND status='reserved'",
                (status, sha256, reason, _now(), number.agency, number.book, number.year, number.number)).rowcount
            if updated != 1:
                raise NumberTaken(f"number {number.text} is not reserved", detail={"number": number.text})
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def confirm(self, number: DocumentNumber, *, document_sha256: str) -> None:
        self._close(number, "issued", sha256=document_sha256, reason=None)

    def void(self, number: DocumentNumber, *, reason: str) -> None:
        self._close(number, "void", sha256=None, reason=reason[:1000])

    def entries(self, *, agency: str, year: int, book: str | None = None) -> list[dict]:
        """The book(s) of an agency for a year, in number order."""
        db = self._connect()
        query = ("SELECT agency, book, year, number, symbol, status, document_sha256, reason "
                 "FROM numbering_entry WHERE agency=? AND year=?")
        args: list = [agency, year]
        if book is not None:
            query += " AND book=?"
            args.append(book)
        rows = db.execute(query + " ORDER BY book, number", args).fetchall()
        keys = ("agency", "book", "year", "number", "symbol", "status", "document_sha256", "reason")
        return [dict(zip(keys, row)) for row in rows]

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
