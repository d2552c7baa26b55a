"""Signing a large document hashes its original bytes on the other core while pyHanko writes the
update (signer.prehash, hazmat.pyhanko_prehash): the signature must be the one pyHanko's own
digest gives, and anything unexpected must fall back to pyHanko's digest."""
from __future__ import annotations

import hashlib
import io
import os
import signal
from datetime import datetime, timezone

import pytest

from kyso import process
from signer import prehash

MOMENT = datetime(2026, 3, 2, 3, 4, 5, tzinfo=timezone.utc)


def _signature(data: bytes):
    """The last signature of a signed file, as stock pyHanko reads it."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    return PdfFileReader(io.BytesIO(data)).embedded_signatures[-1]


def _byte_range_digest(data: bytes) -> tuple[bytes, tuple[int, ...]]:
    """The SHA-256 of the signature's /ByteRange, as pyHanko computes it from the file."""
    sig = _signature(data)
    return sig.compute_digest("sha256"), tuple(sig.byte_range)


def _message_digest(data: bytes) -> bytes:
    attrs = _signature(data).signer_info["signed_attrs"]
    return [a for a in attrs if a["type"].native == "message_digest"][0]["values"][0].native


def _digests_answered(monkeypatch) -> list:
    """What prehash.digest_for answers pyHanko's byte-range digest, one item per signature."""
    from hazmat import pyhanko_prehash

    answers = []
    real = prehash.digest_for
    monkeypatch.setattr(pyhanko_prehash, "_digest_of", lambda *a: answers.append(real(*a)) or answers[-1])
    return answers


def _signed(engine, pki, document: bytes) -> bytes:
    from signer import Level, SignRequest, SoftwareKeyHolder

    return engine.sign(SignRequest(document=document, level=Level.B_B),
                       key_holder=SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an"), at=MOMENT).data


@pytest.mark.parametrize("to_file", [False, True])
def test_a_large_document_is_signed_from_the_hash_made_ahead_and_verifies(engine, pki, tmp_path, monkeypatch,
                                                                          to_file):
    """1 MB, B-B: the byte-range digest comes from the hash made ahead (pyHanko's own is not
    computed), it is the digest of the file's /ByteRange, and the signature verifies."""
    from hazmat import pyhanko_prehash
    from kyso.samples import MB, make_pdf
    from signer import Level, SignRequest, SoftwareKeyHolder
    from verifier import VerificationPolicy, verify

    assert pyhanko_prehash.installed()      # conftest installs every patch, as a worker does
    monkeypatch.setattr(process, "idle_core", lambda: True)     # the suite's other run keeps the cores busy
    answers = _digests_answered(monkeypatch)
    document = make_pdf(size=MB)
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    if to_file:
        source, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
        source.write_bytes(document)
        engine.sign(SignRequest(document=source, level=Level.B_B), key_holder=holder, output=out, at=MOMENT)
        signed = out.read_bytes()
    else:
        signed = engine.sign(SignRequest(document=document, level=Level.B_B), key_holder=holder, at=MOMENT).data
    assert len(answers) == 1 and answers[0] is not None
    digest, (start, _, _, _) = _byte_range_digest(signed)
    assert start == 0 and signed.startswith(document)
    assert answers[0] == digest == _message_digest(signed)
    report = verify(signed, policy=VerificationPolicy.for_profile("dev", dev_pki=pki), now=MOMENT)
    assert report.verdict.value == "valid", report.to_dict()["reasons"]


def test_a_small_document_is_hashed_by_pyhanko_alone(engine, pki, monkeypatch):
    """Under :data:`prehash.MIN_BYTES` nothing is hashed ahead (a thread would cost what it saves)."""
    from kyso.samples import KB, make_pdf

    answers = _digests_answered(monkeypatch)
    document = make_pdf(size=100 * KB)
    assert len(document) < prehash.MIN_BYTES
    signed = _signed(engine, pki, document)
    assert answers == [None]
    assert _byte_range_digest(signed)[0] == _message_digest(signed)


def test_with_every_core_busy_nothing_is_hashed_ahead(engine, pki, monkeypatch):
    """When no core stands idle (bulk signing, a loaded server), the hash is not moved to another
    thread: there it cost 5% of throughput on 1 MB."""
    from kyso.samples import MB, make_pdf

    monkeypatch.setattr(process, "idle_core", lambda: False)
    answers = _digests_answered(monkeypatch)
    signed = _signed(engine, pki, make_pdf(size=MB))
    assert answers == [None]
    assert _byte_range_digest(signed)[0] == _message_digest(signed)


def test_idle_core_reads_the_kernels_count_and_needs_two_cores(monkeypatch):
    """kyso.process.idle_core: False on one core; else whether fewer tasks are runnable than there
    are cores (the caller is one of them), from /proc/loadavg; False when that cannot be read."""
    real_read = os.read
    monkeypatch.setattr(process, "cores", lambda: 2)
    for line, idle in ((b"0.10 0.20 0.30 1/170 999\n", True), (b"1.9 1.9 1.9 2/170 999\n", False),
                       (b"garbage\n", False)):
        monkeypatch.setattr(os, "read", lambda fd, n, line=line: line)
        assert process.idle_core() is idle, line
    monkeypatch.setattr(os, "read", real_read)
    monkeypatch.setattr(process, "cores", lambda: 1)
    assert process.idle_core() is False


def test_digest_for_is_the_byte_range_digest_and_refuses_anything_else(monkeypatch):
    """The digest made ahead, continued with the update, equals hashing the range at once; another
    stream, another algorithm, a placeholder inside the original bytes, or original bytes changed in
    the stream: None (pyHanko hashes it all)."""
    monkeypatch.setattr(process, "idle_core", lambda: True)
    data = os.urandom(300_000)
    update = os.urandom(20_000)
    stream = io.BytesIO(data)
    stream.seek(0, io.SEEK_END)
    stream.write(update)
    whole = data + update
    start, end, eof = len(data) + 5_000, len(data) + 9_000, len(whole)
    expected = hashlib.sha256(whole[:start] + whole[end:eof]).digest()
    assert prehash.digest_for(stream, "sha256", start, end, eof) is None        # nothing offered
    with prehash.hashing_ahead(data, stream, algorithm="sha256"):
        assert prehash.digest_for(stream, "sha256", start, end, eof) == expected
        assert prehash.digest_for(io.BytesIO(whole), "sha256", start, end, eof) is None
        assert prehash.digest_for(stream, "sha512", start, end, eof) is None
        assert prehash.digest_for(stream, "sha256", len(data) - 1, end, eof) is None   # placeholder inside
        assert prehash.digest_for(stream, "sha256", start, end, eof + 1) is None       # past the end
        stream.seek(123)
        stream.write(b"\x00" if data[123] else b"\x01")                              # the original changed
        assert prehash.digest_for(stream, "sha256", start, end, eof) is None
    for algorithm in ("sha384", "sha512"):
        stream = io.BytesIO(whole)
        with prehash.hashing_ahead(data, stream, algorithm=algorithm):
            assert prehash.digest_for(stream, algorithm, start, end, eof) == \
                hashlib.new(algorithm, whole[:start] + whole[end:eof]).digest()


def test_background_work_starts_in_a_forked_child():
    """The I/O pool is per process: a child forked after the parent used it (a gunicorn worker) gets
    its own, instead of queueing work for threads that do not exist there (a signature that never
    ends)."""
    from signer import fileio

    assert fileio.background(sum, [1, 2]).result(timeout=10) == 3
    pid = os.fork()
    if pid == 0:                                   # the child: exit 0 only if the work is done
        signal.alarm(20)
        try:
            code = 0 if fileio.background(sum, [3, 4]).result(timeout=10) == 7 else 1
        except BaseException:   # noqa: BLE001
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_write_error_on_the_io_thread_reaches_the_caller(tmp_path):
    from signer import fileio

    fd = os.open(tmp_path / "f", os.O_RDONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError):
            fileio.BackgroundWrite(fd, b"x" * 100).join()
    finally:
        os.close(fd)


def test_work_whose_submission_failed_never_runs_later(monkeypatch):
    """A pool that queued the work, then failed to start a thread for it ("can't start new thread"),
    raises to the caller, which then closes the file the work was to write; a pool thread freed
    later must not run it (it would write the document into whatever file reuses the number)."""
    from signer import fileio

    class QueuedThenFailed:
        def submit(self, fn, *args):
            self.queued = (fn, args)
            raise RuntimeError("can't start new thread")

    pool = QueuedThenFailed()
    monkeypatch.setattr(fileio, "_pool", pool)
    written = []
    with pytest.raises(RuntimeError):
        fileio.background(written.append, b"the document")
    fn, args = pool.queued
    fn(*args)                                   # the pool thread that frees up later
    assert written == []


def test_a_signature_is_made_when_no_thread_can_hash_ahead(engine, pki, monkeypatch):
    """Hashing ahead is an optimisation: when its thread cannot start, pyHanko hashes the range
    itself and the signature is made, valid."""
    from kyso.samples import MB, make_pdf

    monkeypatch.setattr(process, "idle_core", lambda: True)

    def no_thread(*args, **kwargs):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(prehash, "OriginalBytes", no_thread)
    answers = _digests_answered(monkeypatch)
    signed = _signed(engine, pki, make_pdf(size=MB))
    assert answers == [None]
    assert _byte_range_digest(signed)[0] == _message_digest(signed)
