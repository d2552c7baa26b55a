"""The content-addressed document store: atomic, durable, and whole after a kill at any point."""
from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from kyso.errors import ErrorKind
from registers.blobstore import (BlobNotFound, BlobStore, InvalidDigest, StorageError, StoredBlob,
                                 record)
from registers.db import Database
from registers.models import StoredDocument

REPO = Path(__file__).resolve().parents[1]
WRITER = Path(__file__).with_name("blob_writer.py")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pdf(n: int, size: int = 5000) -> bytes:
    return b"%PDF-1.7\n" + hashlib.sha256(str(n).encode()).digest() * (size // 32) + b"\n%%EOF\n"


# -- round trips ---------------------------------------------------------------------------------

def test_bytes_path_and_file_object_round_trip(tmp_path):
    store = BlobStore(tmp_path / "store")
    a, b, c = pdf(1), pdf(2, 3_000_000), pdf(3, 200_000)
    source = tmp_path / "b.pdf"
    source.write_bytes(b)

    from_bytes = store.put(a)
    from_path = store.put(source)
    with open(tmp_path / "b.pdf", "rb") as f:
        assert store.put(f) == from_path
    from_io = store.put(io.BytesIO(c))

    for blob, data in ((from_bytes, a), (from_path, b), (from_io, c)):
        assert blob == StoredBlob(sha256=sha(data), size=len(data),
                                  path=store.root / sha(data)[:2] / sha(data)[2:4] / f"{sha(data)}.pdf")
        assert store.read(blob.sha256) == data
        with store.open(blob.sha256) as f:
            assert f.read() == data
        assert store.exists(blob.sha256) and store.verify(blob.sha256)
        assert store.path(blob.sha256) == blob.path
    assert sorted(store.scan()) == sorted({sha(a), sha(b), sha(c)})
    assert list(store.tmp.iterdir()) == []


def test_put_is_idempotent(tmp_path):
    store = BlobStore(tmp_path / "store")
    first = store.put(pdf(1))
    stat = first.path.stat()
    again = store.put(io.BytesIO(pdf(1)))
    assert again == first
    assert first.path.stat().st_ino == stat.st_ino        # the stored file was kept, not rewritten
    assert list(store.scan()) == [first.sha256]
    assert list(store.tmp.iterdir()) == []
    empty = store.put(b"")
    assert empty.sha256 == sha(b"") and empty.size == 0 and store.read(empty.sha256) == b""


def test_bytes_already_held_are_not_written_again_and_their_time_is_refreshed(tmp_path, monkeypatch):
    """A document checked again (or verified, then received) is stored once: no temporary file, no
    file written or synced, only its directories (its name on disk, as put promises, even if the
    writer that renamed it died before syncing them); its time refreshed, so a reconciler does not
    take it for an old orphan."""
    store = BlobStore(tmp_path / "store")
    first = store.put(pdf(2))
    os.utime(first.path, (1_600_000_000, 1_600_000_000))
    inode = first.path.stat().st_ino
    synced, temps = [], []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
                        or real_fsync(fd))
    real_new_temp = store._new_temp
    monkeypatch.setattr(store, "_new_temp", lambda: temps.append(1) or real_new_temp())
    assert store.put(pdf(2)) == first
    assert temps == [] and first.path not in synced
    assert set(synced) == {first.path.parent, first.path.parent.parent, store.root}
    assert first.path.stat().st_ino == inode and first.path.stat().st_mtime > 1_600_000_000 + 86400
    synced.clear()
    other = store.put(pdf(3))                          # new bytes: written and synced as ever
    assert temps == [1] and any(p.parent == store.tmp for p in synced) and store.verify(other.sha256)


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(field)


def test_a_50_mb_file_is_streamed_not_loaded(tmp_path):
    big = tmp_path / "big.pdf"
    digest = hashlib.sha256()
    with open(big, "wb") as f:
        for _ in range(50):
            chunk = os.urandom(1024 * 1024)
            digest.update(chunk)
            f.write(chunk)
    store = BlobStore(tmp_path / "store")

    for source in (lambda: big, lambda: open(big, "rb")):
        rss_before = _status("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")       # resets VmHWM to the current RSS
        argument = source()
        blob = store.put(argument)
        peak = _status("VmHWM") - rss_before
        if hasattr(argument, "close"):
            argument.close()
        assert blob.sha256 == digest.hexdigest() and blob.size == 50 * 1024 * 1024
        assert peak < 16 * 1024 * 1024, f"peak memory grew by {peak / 2**20:.1f} MiB for a 50 MiB file"

    rss_before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    assert store.verify(blob.sha256)
    assert _status("VmHWM") - rss_before < 16 * 1024 * 1024


def test_verify_detects_a_damaged_file_and_a_new_put_repairs_it(tmp_path):
    store = BlobStore(tmp_path / "store")
    blob = store.put(pdf(1))
    with open(blob.path, "r+b") as f:
        f.seek(100)
        f.write(b"X")
    assert not store.verify(blob.sha256)
    assert store.put(pdf(1)) == blob                  # same name, but the damaged copy is replaced
    assert store.verify(blob.sha256)

    blob.path.write_bytes(pdf(1)[:-10])               # truncated
    assert not store.verify(blob.sha256)
    blob.path.unlink()
    assert not store.verify(blob.sha256) and not store.exists(blob.sha256)


@pytest.mark.parametrize("bad", ["../" * 10 + "etc/passwd", "A" * 64, "a" * 63, "a" * 65, "g" * 64,
                                 "ab/" + "a" * 61, "", "a" * 64 + "\n", None, b"a" * 64])
def test_invalid_sha256_is_refused_before_any_path_is_built(tmp_path, bad):
    store = BlobStore(tmp_path / "store")
    for call in (store.path, store.open, store.read, store.exists, store.verify):
        with pytest.raises(InvalidDigest) as caught:
            call(bad)
        assert caught.value.code == "invalid_sha256" and caught.value.kind is ErrorKind.INVALID_INPUT
        assert isinstance(caught.value, ValueError)


def test_a_missing_document_is_a_clear_not_found(tmp_path):
    store = BlobStore(tmp_path / "store")
    with pytest.raises(BlobNotFound) as caught:
        store.read("ab" * 32)
    assert caught.value.code == "document_not_found" and caught.value.kind is ErrorKind.NOT_FOUND
    assert not store.exists("ab" * 32)


def test_sweep_removes_leftovers_of_dead_writers_only(tmp_path):
    store = BlobStore(tmp_path / "store")
    kept = store.put(pdf(1))
    (store.tmp / "123-dead.part").write_bytes(b"%PDF-1.7 half")
    (store.tmp / "456-dead.part").write_bytes(b"")
    live = store.tmp / "789-live.part"
    live.write_bytes(b"%PDF-1.7 being written")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, sys
        f = open({str(live)!r}, "ab"); fcntl.flock(f, fcntl.LOCK_EX)
        print("locked", flush=True); sys.stdin.read()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert store.sweep() == 2
        assert [p.name for p in store.tmp.iterdir()] == ["789-live.part"]   # its writer still lives
    finally:
        holder.kill()
        holder.wait()
    assert store.sweep() == 1
    assert list(store.tmp.iterdir()) == [] and store.sweep() == 0
    assert list(store.scan()) == [kept.sha256] and store.verify(kept.sha256)


# -- a full disk, and other write errors -----------------------------------------------------------

@pytest.fixture()
def tiny_filesystem(tmp_path):
    """A real 1 MiB filesystem (tmpfs), so that writes fail with ENOSPC (needs mount rights)."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)
    assert done.returncode == 0, f"this test mounts a 1 MiB tmpfs and needs root: {done.stderr}"
    yield mountpoint
    subprocess.run(["umount", "-l", str(mountpoint)], check=True)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if not p.is_dir())


def test_a_full_disk_raises_storage_error_and_leaves_nothing_half_written(tiny_filesystem, tmp_path):
    store = BlobStore(tiny_filesystem / "store")
    small = store.put(pdf(1, 20_000))
    too_big = pdf(2, 2_000_000)
    source = tmp_path / "too_big.pdf"
    source.write_bytes(too_big)

    for argument in (too_big, source, io.BytesIO(too_big)):
        with pytest.raises(StorageError) as caught:
            store.put(argument)
        error = caught.value
        assert error.code == "storage_unavailable" and error.kind is ErrorKind.UNAVAILABLE
        assert error.detail["errno"] == "ENOSPC"
        assert "full" in error.message and "đầy" in error.message_vi_text
        assert error.to_dict()["error"]["code"] == "storage_unavailable"
        assert list(store.tmp.iterdir()) == []                 # no temporary file left
        assert not store.exists(sha(too_big))
        assert _files(store.root) == [small.path]              # nothing half-written anywhere
        assert store.verify(small.sha256)

    # the failed writes gave their space back: the store keeps working
    after = store.put(pdf(3, 300_000))
    assert sorted(store.scan()) == sorted([small.sha256, after.sha256])
    assert all(store.verify(s) for s in store.scan()) and store.sweep() == 0


def test_a_file_size_limit_raises_storage_error_too(tmp_path):
    """Another write error (EFBIG under RLIMIT_FSIZE, in a child process): same guarantees."""
    root = tmp_path / "store"
    script = textwrap.dedent(f"""
        import json, resource, signal, sys
        sys.path.insert(0, {str(REPO)!r})
        from registers.blobstore import BlobStore, StorageError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        store = BlobStore({str(root)!r})
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
        try:
            store.put(b"%PDF-1.7" + b"x" * 1_000_000)
            print(json.dumps({{"stored": True}}))
        except StorageError as e:
            print(json.dumps({{"code": e.code, "errno": e.detail["errno"],
                               "left": [p.name for p in store.tmp.iterdir()]}}))
        print(json.dumps({{"small": store.put(b"%PDF-1.7 small").sha256}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    failed, small = (json.loads(line) for line in done.stdout.splitlines())
    assert failed == {"code": "storage_unavailable", "errno": "EFBIG", "left": []}
    store = BlobStore(root)
    assert list(store.scan()) == [small["small"]] and store.verify(small["small"])
    assert _files(root) == [store.path(small["small"])]


# -- the database row --------------------------------------------------------------------------------

def test_record_adds_the_row_in_the_callers_transaction(db, tmp_path):
    store = BlobStore(tmp_path / "store")
    blob = store.put(pdf(1))
    moment = datetime(2026, 3, 2, 8, 30, tzinfo=timezone.utc)

    with pytest.raises(RuntimeError):
        with db.session() as session:
            record(session, blob, origin="received", clock=lambda: moment)
            raise RuntimeError("the referring row failed")
    with db.session() as session:
        assert session.get(StoredDocument, blob.sha256) is None     # rolled back with the caller

    with db.session() as session:
        record(session, blob, origin="received", clock=lambda: moment)
    with db.session() as session:                                    # recorded again: the first row stays
        record(session, blob, origin="signed")
    with db.session() as session:
        row = session.get(StoredDocument, blob.sha256)
        assert (row.size, row.origin, row.stored_at.replace(tzinfo=timezone.utc)) == (
            blob.size, "received", moment)

    ghost = StoredBlob(sha256="cd" * 32, size=10, path=store.path("cd" * 32))
    with pytest.raises(StorageError):                  # never a row for a file that is not stored
        with db.session() as session:
            record(session, ghost, origin="signed")
    with pytest.raises(ValueError):
        with db.session() as session:
            record(session, blob, origin="somewhere")
    with db.session() as session:
        assert session.scalars(select(StoredDocument.sha256)).all() == [blob.sha256]


# -- kill tests: SIGKILL a writer at any point, then check nothing acknowledged is lost ---------------

def _rows(url: str) -> dict[str, int]:
    database = Database.connect(url)
    try:
        with database.session() as session:
            return {r.sha256: r.size for r in session.scalars(select(StoredDocument))}
    finally:
        database.dispose()


def _check_store(store: BlobStore, url: str, acked: set[str]) -> dict[str, int]:
    """The invariants after a crash and a sweep; returns the rows."""
    assert list(store.tmp.iterdir()) == [], "sweep left temporary files"
    for path in _files(store.root):                  # every file is a whole blob under its own name
        relative = path.relative_to(store.root).parts
        assert len(relative) == 3, f"stray file {path}"
        name = relative[2].removesuffix(".pdf")
        assert relative == (name[:2], name[2:4], f"{name}.pdf"), f"stray file {path}"
        assert sha(path.read_bytes()) == name, f"{path} does not match its content"
    rows = _rows(url)
    for digest in acked:                              # nothing acknowledged is lost
        assert digest in rows, f"acknowledged {digest} has no row"
        assert store.verify(digest), f"acknowledged {digest} has no whole blob"
    for digest, size in rows.items():                 # no row points to a missing or partial file
        assert store.verify(digest) and store.path(digest).stat().st_size == size
    return rows


def _run_writer(root: Path, url: str, *, kill_at: str | None = None, count: int | None = None,
                kill_after: float | None = None) -> tuple[int, list[str], list[str]]:
    env = dict(os.environ)
    env.pop("KYSO_TEST_KILL_AT", None)
    if kill_at:
        env["KYSO_TEST_KILL_AT"] = kill_at
    argv = [sys.executable, str(WRITER), str(root), url] + ([str(count)] if count else [])
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    if kill_after is not None:
        time.sleep(kill_after)
        child.send_signal(signal.SIGKILL)
    out, err = child.communicate(timeout=60)
    text = out.decode(errors="replace")
    # a line the kill cut short was never received whole: it acknowledges nothing
    lines = text.split("\n")[:-1]
    tried = [line.split()[1] for line in lines if line.startswith("TRY ") and len(line.split()) == 2]
    acked = [line.split()[1] for line in lines if line.startswith("ACK ") and len(line.split()) == 2]
    if child.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"writer failed ({child.returncode}): {err.decode()[-2000:]}")
    return child.returncode, tried, acked


# point -> (temporary files left to sweep, blob stored, row committed) for the blob in flight
KILL_POINTS = {
    "partial": (1, False, False),        # first chunk written to the temporary file
    "temp_written": (1, False, False),   # all written, not yet fsync-ed
    "temp_fsynced": (1, False, False),   # on disk under its temporary name
    "renamed": (0, True, False),         # under its final name, directory not yet fsync-ed
    "dir_fsynced": (0, True, False),     # put() about to return
    "db_inserted": (0, True, False),     # row flushed, transaction not committed
    "committed": (0, True, True),        # committed, not yet acknowledged
}


@pytest.mark.slow
def test_a_writer_killed_at_each_step_loses_nothing_acknowledged(db_url, tmp_path):
    Database.connect(db_url).upgrade()
    store = BlobStore(tmp_path / "store")
    acked: set[str] = set()
    for point, (leftovers, stored, committed) in KILL_POINTS.items():
        code, tried, new_acks = _run_writer(store.root, db_url, kill_at=f"{point}:3")
        assert code == -signal.SIGKILL and len(tried) == 3 and new_acks == tried[:2], point
        acked.update(new_acks)
        in_flight = tried[2]
        assert store.sweep() == leftovers, point
        rows = _check_store(store, db_url, acked)
        assert store.exists(in_flight) == stored and (in_flight in rows) == committed, point
    code, tried, new_acks = _run_writer(store.root, db_url, count=2)     # a restart carries on
    assert code == 0 and new_acks == tried and len(new_acks) == 2
    acked.update(new_acks)
    assert store.sweep() == 0
    assert len(_check_store(store, db_url, acked)) == len(acked) + 1    # + the "committed" one
    shutil.rmtree(store.root)


@pytest.mark.slow
def test_a_writer_killed_at_random_moments_loses_nothing_acknowledged(db_url, tmp_path):
    Database.connect(db_url).upgrade()
    store = BlobStore(tmp_path / "store")
    rng = random.Random(os.environ.get("KYSO_TEST_SEED"))
    acked: set[str] = set()
    swept = 0
    for _ in range(10):
        _, tried, new_acks = _run_writer(store.root, db_url, kill_after=rng.uniform(0.05, 1.5))
        acked.update(new_acks)
        swept += store.sweep()
        rows = _check_store(store, db_url, acked)
        for digest in tried:                            # the one in flight is whole or absent
            assert store.verify(digest) or not store.exists(digest)
            assert digest not in rows or store.verify(digest)
    assert acked, "no writer got as far as an acknowledgement"
    assert set(store.scan()) >= acked
    shutil.rmtree(store.root)                          # hundreds of MB: not kept by pytest's tmp_path
