#!/usr/bin/env python3
"""Numbering throughput: issuances registered per second with N parallel clerks (processes),
on SQLite (WAL) and PostgreSQL. Each clerk allocates a number and confirms it with the register
columns, as the issuance workflow does (the signing itself is measured by kyso_bench.py).

    .venv/bin/python bench/numbering_bench.py [--per-clerk 100]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLERK = """
import sys
from registers.db import Database
from registers.numbering import DatabaseNumbering
book = DatabaseNumbering(Database.connect(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    n = book.allocate(agency="UBND", book="CV", year=2026, symbol="UBND-VP")
    book.confirm(n, document_sha256="ab" * 32, details={"doc_type": "CV", "summary": "Công văn", "signer": "Nguyễn Văn An",
                 "issue_date": "2026-11-21", "recipients": ["Sở Nội vụ"]})
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-clerk", type=int, default=100)
    args = parser.parse_args()
    from sqlalchemy import create_engine, text

    from registers.db import Database

    admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    print("| database | clerks | issuances | seconds | issuances/s | gapless |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "postgresql"):
            for clerks in (1, 4, 8):
                if kind == "sqlite":
                    url = f"sqlite:///{tmp}/n-{clerks}.sqlite"
                else:
                    name = "kyso_bench_" + uuid.uuid4().hex[:8]
                    with admin.connect() as c:
                        c.execute(text(f"CREATE DATABASE {name}"))
                    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
                db = Database.connect(url)
                db.upgrade()
                start = time.perf_counter()
                procs = [subprocess.Popen([sys.executable, "-c", CLERK, url, str(args.per_clerk)], cwd=ROOT)
                         for _ in range(clerks)]
                for p in procs:
                    p.wait()
                seconds = time.perf_counter() - start
                from registers.numbering import DatabaseNumbering

                numbers = [e["number"] for e in DatabaseNumbering(db).entries(agency="UBND", year=2026)]
                total = clerks * args.per_clerk
                print(f"| {kind} | {clerks} | {total} | {seconds:.2f} | {total / seconds:.0f} | "
                      f"{numbers == list(range(1, total + 1))} |")
                db.dispose()
                if kind == "postgresql":
                    with admin.connect() as c:
                        c.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))


if __name__ == "__main__":
    main()
