"""A writer for the kill tests of ``registers.blobstore`` (run as a child process).

    python tests/blob_writer.py STORE_ROOT DATABASE_URL [COUNT]

Loops (COUNT times, or until killed): makes a distinct PDF-like blob, prints ``TRY <sha256>``,
stores it, records its ``document`` row in one transaction, commits, then prints
``ACK <sha256>``. Every line is flushed at once.

``KYSO_TEST_KILL_AT=<point>:<n>`` makes the process SIGKILL itself at ``point`` of its n-th blob
(1-based). Points inside ``put``: partial, temp_written, temp_fsynced, renamed, dir_fsynced;
around the database: db_inserted (row flushed, not committed), committed (before the ACK).
"""
from __future__ import annotations

import hashlib
import os
import random
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registers import blobstore  # noqa: E402
from registers.blobstore import BlobStore, record  # noqa: E402
from registers.db import Database  # noqa: E402


def pdf_like(rng: random.Random) -> bytes:
    size = rng.choice([2_000, 40_000, 300_000, 1_000_000, 3_000_000])
    size = rng.randint(size // 2, size)
    body = os.urandom(size)
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + body + b"\n%%EOF\n"


def main() -> None:
    root, url = Path(sys.argv[1]), sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else None
    point, _, nth = os.environ.get("KYSO_TEST_KILL_AT", "").partition(":")
    kill_at = int(nth) if point else 0
    current = 0

    def checkpoint(name: str) -> None:
        if name == point and current == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    blobstore._checkpoint_hook = checkpoint
    store = BlobStore(root)
    db = Database.connect(url)
    rng = random.Random()
    while count is None or current < count:
        current += 1
        data = pdf_like(rng)
        print("TRY", hashlib.sha256(data).hexdigest(), flush=True)
        blob = store.put(data)
        with db.session() as session:
            record(session, blob, origin="signed")
            session.flush()
            checkpoint("db_inserted")
        checkpoint("committed")
        print("ACK", blob.sha256, flush=True)
    db.dispose()


if __name__ == "__main__":
    main()
