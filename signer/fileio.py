"""Getting a document's bytes in and the signed bytes out, fast and safely.

A document up to :data:`IN_MEMORY_BYTES` is read into memory and signed
there (a Python-level stream costs more than reading a few megabytes); the
bytes read, the ones signed, are written to the output on another thread
(:class:`BackgroundWrite`, :func:`background`) while the signature is made.

Signing appends an incremental update; the original bytes never change. So
for a larger file on disk Kyso does not copy the original through Python at all:

* :class:`AppendOverlay` shows pyHanko the original file (read-only, by
  ``pread``) followed by an in-memory tail where the update is written;
  pyHanko signs "in place" on it and hashes the original straight from the
  page cache, in 1 MiB reads.
* meanwhile :func:`kernel_copy` copies the original into the output file
  in the kernel (``copy_file_range``, ``sendfile`` across file systems), on
  the other core; the tail is written after it.
* :func:`atomic_file` writes to a temporary file in the target folder and
  renames it into place, so a reader never sees half a signed PDF; with
  ``durable=True`` it fsyncs the file and the folder first.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import io
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

from kyso import process

CHUNK = 1 << 20
# a document up to this size is read into memory to be signed (nearly every document an office signs);
# a larger one never is (the overlay and the kernel copy below)
IN_MEMORY_BYTES = 8 << 20


class AppendOverlay(io.RawIOBase):
    """The original file, read-only, followed by a writable in-memory tail."""

    def __init__(self, fd: int, size: int) -> None:
        self._fd = fd
        self._size = size
        self._pos = 0
        self.tail = bytearray()

    @property
    def original_size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            base = 0
        elif whence == io.SEEK_CUR:
            base = self._pos
        elif whence == io.SEEK_END:
            base = self._size + len(self.tail)
        else:
            raise ValueError(f"invalid whence {whence}")
        if base + offset < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        pos, size = self._pos, self._size
        if pos < size:
            count = os.preadv(self._fd, [view[:min(len(view), size - pos)]], pos)
        else:
            chunk = self.tail[pos - size: pos - size + len(view)]
            count = len(chunk)
            view[:count] = chunk
        self._pos += count
        return count

    def write(self, data) -> int:
        pos, size = self._pos, self._size
        if pos < size:
            raise io.UnsupportedOperation("the original bytes of a document are never overwritten")
        data = memoryview(data).cast("B")
        offset = pos - size
        if offset > len(self.tail):
            self.tail.extend(bytes(offset - len(self.tail)))
        self.tail[offset: offset + len(data)] = data
        self._pos += len(data)
        return len(data)

    def getvalue(self) -> bytes:
        """The whole document (original + tail) as bytes."""
        return os.pread(self._fd, self._size, 0) + bytes(self.tail)


def read_all(fd: int, size: int) -> bytes:
    """The first ``size`` bytes of ``fd`` (short only if the file shrank meanwhile)."""
    parts, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        parts.append(chunk)
        offset += len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def pwrite_all(fd: int, data, offset: int = 0) -> None:
    """Write all of ``data`` (bytes or a buffer) to ``fd`` from ``offset`` on."""
    view, done = memoryview(data).cast("B"), 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], offset + done)


def kernel_copy(src_fd: int, dst_fd: int, size: int) -> None:
    """Copy ``size`` bytes from the start of ``src_fd`` to the start of ``dst_fd`` in the kernel."""
    offset = 0
    try:
        while offset < size:
            count = os.copy_file_range(src_fd, dst_fd, size - offset, offset, offset)
            if count == 0:
                raise OSError(errno.EIO, "short copy")
            offset += count
    except OSError as exc:
        if offset or exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
        os.lseek(dst_fd, 0, os.SEEK_SET)
        while offset < size:
            count = os.sendfile(dst_fd, src_fd, offset, size - offset)
            if count == 0:
                raise OSError(errno.EIO, "short copy")
            offset += count


_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forked() -> None:
    """In a forked child: none of the parent's I/O threads, and a lock no thread holds."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forked)


def background(work: Callable[..., Any], *args) -> concurrent.futures.Future:
    """``work(*args)`` on this process's pool of I/O threads, begun before this returns.

    ``work`` should spend its time in calls that release the GIL (hashing, file writes), and must
    not itself call :func:`background` (a full pool would wait for itself). This returns once a
    pool thread holds the GIL and is about to call it (as ``Thread.start`` does; a thread merely
    queued for the GIL waits until this one blocks, 5 ms of pure Python at worst), without starting
    a thread each time (0.08 ms, 0.25 ms on a cold machine). A forked child makes a pool of its own
    (its parent's threads are not in it).

    If this raises (the pool cannot start a thread, the wait is interrupted), ``work`` never runs
    after it: the caller may close what ``args`` name (a queued write must not land in a file
    descriptor reused meanwhile); work that had begun is waited for first."""
    global _pool
    pool = _pool
    if pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = concurrent.futures.ThreadPoolExecutor(max(4, 2 * process.cores()), thread_name_prefix="kyso-io")
            pool = _pool
    begun, finished, gate = threading.Event(), threading.Event(), threading.Lock()
    abandoned = False

    def begin():
        with gate:
            if abandoned:
                return None
            begun.set()
        try:
            return work(*args)
        finally:
            finished.set()

    try:
        future = pool.submit(begin)
        begun.wait()
    except BaseException:
        with gate:
            abandoned = True
        if begun.is_set():
            finished.wait()
        raise
    return future


class BackgroundCopy:
    """:func:`kernel_copy` on an I/O thread (:func:`background`); :meth:`join` waits for it and
    re-raises its error."""

    def __init__(self, src_fd: int, dst_fd: int, size: int) -> None:
        self._future = background(kernel_copy, src_fd, dst_fd, size)

    def join(self) -> None:
        self._future.result()


class BackgroundWrite(BackgroundCopy):
    """``data`` (immutable bytes) written at the start of ``dst_fd`` on an I/O thread."""

    def __init__(self, dst_fd: int, data: bytes) -> None:
        self._future = background(pwrite_all, dst_fd, data)


@contextlib.contextmanager
def atomic_file(target: Path, *, durable: bool = False) -> Iterator[int]:
    """A file descriptor on a temporary file that becomes ``target`` on success only."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        yield fd
        if durable:
            os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, target)
        if durable:
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
