"""The content-addressed store of signed and received PDFs (SHA-256), crash-safe.

    store = BlobStore(settings.data_dir / "documents")
    store.sweep()                                   # at start-up: drop what killed writers left
    blob = store.put(upload_path)                   # durable on disk before anything refers to it
    with db.session() as s:
        record(s, blob, origin="received")          # same transaction as the row that refers to it
        s.add(IncomingEntry(..., document_sha256=blob.sha256))

Layout: ``root/ab/cd/<sha256>.pdf`` (two-level fan-out); temporary files in
``root/.tmp/`` on the same filesystem, so the final step is one atomic rename.

How a ``put`` stays whole when the process dies at any instant:

1. the data is streamed (hashed while written) into a fresh temporary file in ``.tmp``,
   held under an exclusive ``flock`` for as long as its writer lives;
2. the temporary file is ``fsync``-ed: its bytes are on disk;
3. it is renamed (``os.replace``) to its final, content-derived name: the name appears
   atomically, with complete content, or not at all;
4. the directory (and any fan-out directory just created, and ``.tmp``) is ``fsync``-ed:
   the name itself is on disk. Only then does ``put`` return.

So a file under its final name always matches its content, a database row written after
``put`` returned never points to a missing or partial file, and a killed writer leaves at
most a temporary file in ``.tmp``, which :meth:`BlobStore.sweep` removes (only those whose
writer is gone: the lock is released by the kernel when the process dies). A blob stored
but never recorded (killed between ``put`` and commit) is harmless: the next ``put`` of the
same content reuses it.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, BinaryIO, Callable, Iterator

from kyso.errors import ErrorKind, KysoError

CHUNK = 1024 * 1024
SUFFIX = ".pdf"
TMP_DIR = ".tmp"
TMP_SUFFIX = ".part"
ORIGINS = frozenset({"issued", "received", "signed", "copy", "notice", "prepared", "checked", "attachment", "draft", "extended", "renewed"})

_SHA256 = re.compile(r"[0-9a-f]{64}")

# A test seam, nothing more: called with the name of each step of ``put`` ("partial",
# "temp_written", "temp_fsynced", "renamed", "dir_fsynced"). The kill tests install a hook
# that SIGKILLs the process at one of them; in production it stays ``None``.
_checkpoint_hook: Callable[[str], None] | None = None


def _checkpoint(name: str) -> None:
    if _checkpoint_hook is not None:
        _checkpoint_hook(name)


# -- errors -------------------------------------------------------------------------------------

class StorageError(KysoError):
    """The document store cannot write (disk full, read-only, I/O error, permissions)."""

    code = "storage_unavailable"
    kind = ErrorKind.UNAVAILABLE
    message_en = "The document store is unavailable: the document could not be saved."
    message_vi = "Kho lưu trữ văn bản không khả dụng: không thể lưu văn bản."


class BlobNotFound(KysoError):
    code = "document_not_found"
    kind = ErrorKind.NOT_FOUND
    message_en = "No document with this SHA-256 is in the store."
    message_vi = "Không có văn bản nào với mã SHA-256 này trong kho lưu trữ."


class InvalidDigest(KysoError, ValueError):
    code = "invalid_sha256"
    kind = ErrorKind.INVALID_INPUT
    message_en = "A document is named by its SHA-256: 64 lowercase hexadecimal characters."
    message_vi = "Văn bản được xác định bằng mã SHA-256: 64 ký tự thập lục phân viết thường."


def _storage_error(exc: OSError, *, action: str) -> StorageError:
    name = errno.errorcode.get(exc.errno or 0, "EIO")
    detail = {"errno": name, "action": action, "reason": exc.strerror or str(exc)}
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return StorageError("The document store is full: no space left to save the document.",
                            message_vi="Kho lưu trữ văn bản đã đầy: không còn dung lượng để lưu văn bản.",
                            detail=detail)
    return StorageError(detail=detail)


def check_sha256(sha256: object) -> str:
    """The digest itself if it is 64 lowercase hex characters, else :class:`InvalidDigest`."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise InvalidDigest(detail={"sha256": repr(sha256)[:80]})
    return sha256


# -- the store ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    path: Path | None = None     # the local file (None in an object store: ``registers.s3store``)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# stored documents are official records: the service's user and its group (backups) read them, nobody else
FILE_MODE = 0o640
DIR_MODE = 0o750


class BlobStore:
    """PDFs by SHA-256 under one directory; every write atomic and durable before it returns."""

    kind = "local"

    def __init__(self, root: Path | str, *, quarantine: Path | str | None = None) -> None:
        self.root = Path(root)
        self.tmp = self.root / TMP_DIR
        self.quarantine = Path(quarantine) if quarantine is not None else self.root.parent / "quarantine"
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            self.tmp.mkdir(exist_ok=True, mode=DIR_MODE)
            for d in (self.root, self.tmp):
                if d.stat().st_mode & 0o007:
                    os.chmod(d, DIR_MODE)   # an older store: no access for others
        except OSError as exc:
            raise _storage_error(exc, action="create the store") from exc

    # -- names --------------------------------------------------------------------------------

    def path(self, sha256: str) -> Path:
        sha256 = check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}{SUFFIX}"

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def scan(self) -> Iterator[str]:
        """Every stored SHA-256 (by file name; :meth:`verify` checks the content)."""
        for first in sorted(self.root.iterdir()):
            if first.name == TMP_DIR or not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    continue
                for entry in sorted(second.iterdir()):
                    name = entry.name
                    if not name.endswith(SUFFIX):
                        continue
                    sha256 = name[: -len(SUFFIX)]
                    if (_SHA256.fullmatch(sha256) and sha256[:2] == first.name
                            and sha256[2:4] == second.name and entry.is_file()):
                        yield sha256

    # -- reading ------------------------------------------------------------------------------

    def open(self, sha256: str) -> BinaryIO:
        try:
            return open(self.path(sha256), "rb")
        except FileNotFoundError:
            raise BlobNotFound(detail={"sha256": sha256}) from None

    def read(self, sha256: str) -> bytes:
        with self.open(sha256) as f:
            return f.read()

    def verifiable(self, sha256: str) -> Path:
        """What ``verifier.verify`` reads the document from: the file itself (memory-mapped there)."""
        path = self.path(sha256)
        if not path.is_file():
            raise BlobNotFound(detail={"sha256": sha256})
        return path

    def verify(self, sha256: str) -> bool:
        """Whether the stored file exists and its content still hashes to its name."""
        digest = hashlib.sha256()
        try:
            with open(self.path(sha256), "rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            return False
        return digest.hexdigest() == sha256

    # -- writing ------------------------------------------------------------------------------

    def put(self, data: bytes | bytearray | memoryview | Path | IO[bytes]) -> StoredBlob:
        """Store ``data`` (bytes, a path, or a binary file object read in chunks); idempotent.

        Returns once the file and its name are on disk. On any OS error the temporary file is
        removed and :class:`StorageError` is raised; the store is left as it was.
        """
        if isinstance(data, (str, os.PathLike)):
            with open(data, "rb") as source:       # a missing source is the caller's error
                return self._put_stream(source)
        if isinstance(data, (bytes, bytearray, memoryview)):
            held, sha256 = self._already_held(data)
            if held is not None:
                return held
            return self._put_stream(io.BytesIO(data) if len(data) > CHUNK else _Once(data),
                                    sha256=sha256 if isinstance(data, bytes) else None)   # bytes cannot change
        if hasattr(data, "read"):
            return self._put_stream(data)
        raise TypeError(f"BlobStore.put takes bytes, a path or a binary file, not {type(data).__name__}")

    def _already_held(self, data: bytes | bytearray | memoryview) -> tuple[StoredBlob | None, str]:
        """(the stored blob of ``data`` when the store holds it, whole, else None; its SHA-256).

        A document verified, then received, or checked again, is stored once: nothing written, no
        temporary file, no file fsync (its directories are synced: a clean one costs microseconds);
        its time refreshed (no reconciler takes it for an old orphan now)."""
        sha256 = hashlib.sha256(data).hexdigest()
        final = self.path(sha256)
        size = memoryview(data).nbytes
        try:
            if not self._holds(final, size):
                return None, sha256
            os.utime(final)
            # its name on disk, as put promises: a writer killed between its rename and its directory
            # sync, or a file put back by the reconciler, may have left it only in the kernel's cache
            for directory in (final.parent, final.parent.parent, self.root):
                _fsync_dir(directory)
        except OSError:
            return None, sha256                       # set aside meanwhile, unreadable: store it anew
        return StoredBlob(sha256=sha256, size=size, path=final), sha256

    def _put_stream(self, source: IO[bytes], *, sha256: str | None = None) -> StoredBlob:
        """``sha256``: the digest of what ``source`` holds, when the caller has it (not computed again)."""
        fd, temp = self._new_temp()
        digest = hashlib.sha256() if sha256 is None else None
        size = 0
        try:
            while True:
                chunk = source.read(CHUNK)
                if not chunk:
                    break
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    raise TypeError("BlobStore.put needs a binary file (read() returned text)")
                if digest is not None:
                    digest.update(chunk)
                view = memoryview(chunk)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                if size == 0:
                    _checkpoint("partial")
                size += len(chunk)
            _checkpoint("temp_written")
            os.fsync(fd)
            _checkpoint("temp_fsynced")
            if digest is not None:
                sha256 = digest.hexdigest()
            final = self.path(sha256)
            created = self._make_fanout(final.parent)
            if self._holds(final, size):
                temp.unlink()
                os.utime(final)   # stored before, perhaps an orphan: no reconciler takes it for an old one now
            else:
                os.replace(temp, final)               # still locked: sweep() cannot take it first
                _checkpoint("renamed")
            _fsync_dir(final.parent)
            for directory in created:
                _fsync_dir(directory)
            _fsync_dir(self.tmp)
            _checkpoint("dir_fsynced")
            return StoredBlob(sha256=sha256, size=size, path=final)
        except BaseException as exc:
            try:
                temp.unlink()
            except OSError:
                pass                                  # gone already, or sweep() removes it later
            if isinstance(exc, OSError):
                raise _storage_error(exc, action="store a document") from exc
            raise
        finally:
            os.close(fd)                              # releases the lock

    def _new_temp(self) -> tuple[int, Path]:
        """A fresh temporary file in ``.tmp``, locked by this process for as long as it lives."""
        try:
            while True:
                temp = self.tmp / f"{os.getpid()}-{secrets.token_hex(8)}{TMP_SUFFIX}"
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    still_ours = os.stat(temp).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    still_ours = False                # swept between create and lock: try again
                if still_ours:
                    return fd, temp
                os.close(fd)
        except OSError as exc:
            raise _storage_error(exc, action="create a temporary file") from exc

    def _make_fanout(self, directory: Path) -> list[Path]:
        """Create the fan-out directories; return the parents whose entries changed."""
        created: list[Path] = []
        for d in (directory.parent, directory):
            try:
                d.mkdir(mode=DIR_MODE)
            except FileExistsError:
                continue
            created.append(d.parent)
        return created

    def _holds(self, final: Path, size: int) -> bool:
        """Whether ``final`` already holds this content (a repeated put); a damaged copy is replaced."""
        try:
            if final.stat().st_size != size:
                return False
        except FileNotFoundError:
            return False
        return self.verify(final.name[: -len(SUFFIX)])

    # -- recovery -----------------------------------------------------------------------------

    def set_aside(self, sha256: str, *, grace_seconds: float) -> bool:
        """Move a stored file last written more than ``grace_seconds`` ago (by this machine's clock,
        the one that wrote its time) to the quarantine folder; False when it is younger or gone
        (another reconciler took it)."""
        path = self.path(sha256)
        try:
            if path.stat().st_mtime > time.time() - grace_seconds:
                return False
            self.quarantine.mkdir(mode=0o700, exist_ok=True)
            os.replace(path, self.quarantine / path.name)
        except FileNotFoundError:
            return False
        return True

    def put_back(self, sha256: str) -> None:
        """Undo :meth:`set_aside` (a row referring to the file committed meanwhile)."""
        path = self.path(sha256)
        os.replace(self.quarantine / path.name, path)

    def sweep(self) -> int:
        """Remove the temporary files of writers that died; return how many. Safe at any time:
        a live writer's file is locked and left alone."""
        removed = 0
        try:
            entries = list(self.tmp.iterdir())
        except FileNotFoundError:
            self.tmp.mkdir(exist_ok=True)
            return 0
        for entry in entries:
            try:
                fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                continue                               # its writer finished meanwhile
            except OSError:                            # not a regular file we can open: remove it
                if entry.is_symlink() or entry.is_file():
                    entry.unlink(missing_ok=True)
                    removed += 1
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue                           # a live writer
                entry.unlink(missing_ok=True)
                removed += 1
            finally:
                os.close(fd)
        if removed:
            _fsync_dir(self.tmp)
        return removed


class _Once:
    """A file-like object over small bytes that hands them out without copying."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._data: bytes | bytearray | memoryview | None = data

    def read(self, _size: int = -1):
        data, self._data = self._data, None
        return data or b""


# -- the database row ---------------------------------------------------------------------------

def record(session, blob: StoredBlob, *, origin: str,
           clock: Callable[[], datetime] | None = None) -> None:
    """Add the :class:`~registers.models.StoredDocument` row of a stored blob to ``session``.

    The caller commits it in the same transaction as the row that refers to the document. The
    blob must already be in the store (``put`` returned). A document stored before keeps its
    first row (``stored_at``, ``origin``); concurrent transactions recording the same blob
    do not conflict.
    """
    from registers.db import insert_new
    from registers.models import StoredDocument

    check_sha256(blob.sha256)
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {sorted(ORIGINS)}, not {origin!r}")
    if blob.path is None:
        present = True       # an object store: put() returned only once the object was whole and checked
    else:
        try:
            on_disk = os.stat(blob.path).st_size
        except FileNotFoundError:
            on_disk = None
        present = on_disk == blob.size and blob.path.name == f"{blob.sha256}{SUFFIX}"
    if not present:
        raise StorageError("The document is not in the store; it must be stored before it is recorded.",
                           message_vi="Văn bản chưa có trong kho lưu trữ; phải lưu văn bản trước khi ghi sổ.",
                           detail={"sha256": blob.sha256})
    stored_at = (clock or (lambda: datetime.now(timezone.utc)))()
    values = {"sha256": blob.sha256, "size": blob.size, "stored_at": stored_at, "origin": origin}
    # the first row stays: a row already there (this session's pending ones are flushed first) wins
    session.execute(insert_new(session, StoredDocument.__table__, ("sha256",)), values)
