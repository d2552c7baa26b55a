"""Checkpoints of the audit trail's head, kept outside the database.

    store = CheckpointStore(data_dir / CHECKPOINT_DIR, key=settings.audit_key.encode())
    checkpoint = store.write(trail.head(), at=moment, timestamp=stamp)   # stamp(sha256) -> token DER
    result = store.judge(trail.verify(), trail, check_token=check)     # VerifyResult, compared

Why
---
The audit trail (:mod:`registers.audit`) catches every edit, insertion, reordering and deletion
*inside* the chain, but a chain whose last records (or all of them) were deleted is still a valid
chain: nothing stored in the same database proves that the head was ever further on. A
checkpoint is a statement, outside the database, that "on <time> the trail's head was record
<seq> with hash <record_hash>, <records> records", authenticated twice:

* ``mac = HMAC-SHA256(audit key, canonical JSON of the statement)``: someone who can write the
  files but does not hold the key cannot make or edit one (an edited seq no longer verifies);
* an RFC 3161 timestamp token over ``SHA-256(canonical JSON)``, from the office's TSA: the
  statement existed at the TSA's time, so even the key holder cannot later backdate a shorter
  or rewritten head; the token's message imprint and CMS signature are checked.

Files
-----
One checkpoint per pair of files in ``DATA_DIR/audit-checkpoints/``, named by the head's seq and
the checkpoint's time (UTC), so that names sort in order::

    000000000120-20261204T031500123456Z.json    {"schema", "seq", "record_hash", "records", "time", "mac"}
    000000000120-20261204T031500123456Z.tsr     the timestamp token (DER, a CMS ContentInfo)

Each file is written atomically (a temporary file in the same folder, fsync, rename, fsync of the
folder); the token first, so that a checkpoint whose JSON is there always has its token. The
canonical JSON is :func:`registers.audit.canonical_json` of the statement without ``mac`` (sorted
keys, no whitespace, UTF-8; ``time`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``). Back the folder up (or
copy it elsewhere) with the registers' paper book: a checkpoint deleted along with the records it
anchors proves nothing; one kept elsewhere still does.

Judging
-------
:meth:`CheckpointStore.judge` takes the chain's own verdict and adds what the checkpoints say:
every checkpoint file must authenticate (HMAC, statement well formed, token present with the
right imprint: else problem ``checkpoint``); the latest (highest seq, then latest time) has its
token's CMS signature checked by the caller's ``check_token`` (the office validates it against
its trust anchors, as of the token's time). Then a chain shorter than the checkpoint's seq is
``truncated`` (naming how many records are missing after which seq) and a chain holding another
record_hash at that seq is ``diverged``. A problem of the chain itself (an edited record, a gap)
is reported first; the checkpoint's facts are added to the result either way
(:attr:`registers.audit.VerifyResult.checkpoint`).

When checkpoints are written is the office's choice (``office/auditing.py``): by ``kyso audit
checkpoint``, which an operator's timer runs, and by the service after every 100 records, at
most every 10 minutes.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from kyso.decree30 import vn_iso
from registers.audit import GENESIS, AuditTrail, CheckpointFacts, VerifyResult, canonical_json, format_time

CHECKPOINT_DIR = "audit-checkpoints"
SCHEMA = "kyso.audit-checkpoint/1"
DIGEST_ALGORITHM = "sha256"
_NAME = re.compile(r"(\d{12})-(\d{8}T\d{6}\d{6}Z)\.json")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_BODY = ("schema", "seq", "record_hash", "records", "time")


class CheckpointInvalid(Exception):
    """A checkpoint file that does not authenticate (messages in English and Vietnamese)."""

    def __init__(self, message_en: str, message_vi: str) -> None:
        super().__init__(message_en)
        self.message_en = message_en
        self.message_vi = message_vi


@dataclass(frozen=True)
class TokenFacts:
    """What a checked timestamp token says: the TSA's time and name, whether its certificate is
    trusted (``None``: its signature was not checked, only its imprint)."""

    time: datetime
    tsa: str | None = None
    trusted: bool | None = None


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of the head: record ``seq`` with ``record_hash``, ``records`` records, at ``time``."""

    seq: int
    record_hash: str
    records: int
    time: datetime
    path: Path | None = None
    mac: str | None = None

    def statement(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "seq": self.seq, "record_hash": self.record_hash, "records": self.records,
                "time": format_time(self.time)}

    def canonical(self) -> bytes:
        """The bytes the HMAC and the timestamp cover."""
        return canonical_json(self.statement()).encode("utf-8")

    def digest(self) -> bytes:
        return hashlib.sha256(self.canonical()).digest()

    @property
    def name(self) -> str:
        return f"{self.seq:012d}-{self.time.astimezone(timezone.utc):%Y%m%dT%H%M%S%fZ}"

    @property
    def token_path(self) -> Path | None:
        return self.path.with_suffix(".tsr") if self.path is not None else None

    def to_dict(self) -> dict[str, Any]:
        """What a door shows of a checkpoint just written: its files and the head it anchors."""
        return {"file": str(self.path) if self.path else None,
                "timestamp_token": str(self.token_path) if self.path else None, "seq": self.seq,
                "record_hash": self.record_hash, "records": self.records, "time": vn_iso(self.time)}

    def facts(self, token: TokenFacts | None = None) -> CheckpointFacts:
        return CheckpointFacts(file=str(self.path) if self.path else self.name, seq=self.seq,
                               record_hash=self.record_hash, records=self.records, time=vn_iso(self.time),
                               timestamp_time=vn_iso(token.time) if token else None,
                               tsa=token.tsa if token else None, tsa_trusted=token.trusted if token else None)


def token_imprint(token_der: bytes) -> tuple[str, bytes, datetime]:
    """(hash algorithm, message imprint, TSA time) of an RFC 3161 timestamp token (DER)."""
    from asn1crypto import cms, tsp

    info = cms.ContentInfo.load(token_der)
    if info["content_type"].native != "signed_data":
        raise ValueError("not a CMS SignedData")
    tst = info["content"]["encap_content_info"]["content"].parsed
    if not isinstance(tst, tsp.TSTInfo):
        raise ValueError("the SignedData does not hold a TSTInfo")
    imprint = tst["message_imprint"]
    when = tst["gen_time"].native
    return imprint["hash_algorithm"]["algorithm"].native, imprint["hashed_message"].native, \
        when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CheckpointStore:
    """The checkpoint files of one installation (``DATA_DIR/audit-checkpoints``)."""

    def __init__(self, directory: Path, *, key: bytes) -> None:
        if isinstance(key, str):
            key = key.encode("utf-8")
        self.directory = Path(directory)
        self._key = bytes(key)

    def _mac(self, checkpoint: Checkpoint) -> str:
        return hmac.new(self._key, checkpoint.canonical(), hashlib.sha256).hexdigest()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One writer at a time across processes (the service's workers, a timer's command)."""
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- writing ---------------------------------------------------------------------------------

    def write(self, head: tuple[int, str, int], *, at: datetime, timestamp: Callable[[bytes], bytes]) -> Checkpoint:
        """Write a checkpoint of ``head`` (``AuditTrail.head()``) at ``at``; ``timestamp(sha256)``
        returns the TSA's token (DER) over the statement's SHA-256. The TSA is asked first: when
        it does not answer, nothing is written."""
        seq, digest, records = head
        if at.tzinfo is None:
            raise ValueError("a checkpoint's time must be timezone-aware")
        checkpoint = Checkpoint(seq=seq, record_hash=digest, records=records, time=at.astimezone(timezone.utc))
        token = timestamp(checkpoint.digest())
        algorithm, imprint, _ = token_imprint(token)
        if (algorithm, imprint) != (DIGEST_ALGORITHM, checkpoint.digest()):
            raise ValueError("the TSA's token does not cover this checkpoint")
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{checkpoint.name}.json"
        checkpoint = dataclasses.replace(checkpoint, path=path, mac=self._mac(checkpoint))
        document = {**checkpoint.statement(), "mac": checkpoint.mac}
        _write_atomically(path.with_suffix(".tsr"), token)
        _write_atomically(path, (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
        _fsync_dir(self.directory)
        return checkpoint

    # -- reading ---------------------------------------------------------------------------------

    def paths(self) -> list[Path]:
        """The checkpoint files, oldest first (by name: seq, then time)."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.glob("*.json") if not p.name.startswith("."))

    def latest_by_name(self) -> tuple[int, datetime] | None:
        """(seq, time) of the newest checkpoint as its file name says (unauthenticated: for
        deciding when the next one is due, never for judging)."""
        for path in reversed(self.paths()):
            match = _NAME.fullmatch(path.name)
            if match:
                when = datetime.strptime(match.group(2), "%Y%m%dT%H%M%S%fZ").replace(tzinfo=timezone.utc)
                return int(match.group(1)), when
        return None

    def read(self, path: Path) -> Checkpoint:
        """The checkpoint in ``path``, authenticated by its HMAC, its statement checked, and its
        token's imprint compared (raises :class:`CheckpointInvalid`)."""
        name = path.name
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise CheckpointInvalid(f"it cannot be read as JSON ({type(exc).__name__})",
                                    f"không đọc được dưới dạng JSON ({type(exc).__name__})") from None
        if not isinstance(document, dict) or set(document) != {*_BODY, "mac"} or document["schema"] != SCHEMA:
            raise CheckpointInvalid("it is not a Kyso audit checkpoint", "không phải điểm kiểm tra nhật ký của Kyso")
        seq, digest, records, when, mac = (document[k] for k in ("seq", "record_hash", "records", "time", "mac"))
        try:
            valid = (type(seq) is int and type(records) is int and 0 <= seq and 0 <= records
                     and isinstance(digest, str) and _HEX64.fullmatch(digest) and isinstance(mac, str)
                     and isinstance(when, str) and when.endswith("Z"))
            moment = datetime.fromisoformat(when[:-1]).replace(tzinfo=timezone.utc) if valid else None
        except ValueError:
            moment = None
        if moment is None or (seq == 0) != (digest == GENESIS):
            raise CheckpointInvalid("its statement is malformed", "nội dung không đúng định dạng")
        checkpoint = Checkpoint(seq=seq, record_hash=digest, records=records, time=moment, path=path, mac=mac)
        if checkpoint.statement()["time"] != when or not hmac.compare_digest(self._mac(checkpoint), mac):
            raise CheckpointInvalid("its authentication code does not match (edited, or written with another "
                                    "audit key)",
                                    "mã xác thực không khớp (đã bị sửa, hoặc được ghi bằng khóa kiểm toán khác)")
        try:
            token = checkpoint.token_path.read_bytes()
        except OSError:
            raise CheckpointInvalid(f"its timestamp token {checkpoint.token_path.name} is missing",
                                    f"thiếu dấu thời gian {checkpoint.token_path.name}") from None
        try:
            algorithm, imprint, _ = token_imprint(token)
            expected = hashlib.new(algorithm, checkpoint.canonical()).digest()
        except Exception:  # noqa: BLE001 - any parse failure: not a token
            raise CheckpointInvalid(f"{checkpoint.token_path.name} is not an RFC 3161 timestamp token",
                                    f"{checkpoint.token_path.name} không phải dấu thời gian RFC 3161") from None
        if not hmac.compare_digest(imprint, expected):
            raise CheckpointInvalid("its timestamp token covers other content",
                                    "dấu thời gian của nó cấp cho nội dung khác")
        return checkpoint

    # -- judging ---------------------------------------------------------------------------------

    def judge(self, result: VerifyResult, trail: AuditTrail, *,
              check_token: Callable[[bytes, bytes], TokenFacts] | None = None) -> VerifyResult:
        """``result`` (``trail.verify()``) compared with the checkpoints (see the module docstring).
        ``check_token(token_der, canonical)`` validates the latest checkpoint's token (its CMS
        signature and its TSA's certificate) and returns its facts, or raises
        :class:`CheckpointInvalid`."""
        paths = self.paths()
        if not paths:
            return result
        found: list[Checkpoint] = []
        for path in paths:
            try:
                found.append(self.read(path))
            except CheckpointInvalid as bad:
                return self._refused(result, path.name, bad, checked=len(paths))
        latest = max(found, key=lambda c: (c.seq, c.time))
        token = latest.token_path.read_bytes()
        try:
            if check_token is not None:
                facts = check_token(token, latest.canonical())
            else:
                facts = TokenFacts(time=token_imprint(token)[2])
        except CheckpointInvalid as bad:
            return self._refused(result, latest.path.name, bad, checked=len(paths))
        extra = {"checkpoint": latest.facts(facts), "checkpoints": len(paths)}
        if not result.ok:
            return dataclasses.replace(result, **extra)
        shown = vn_iso(latest.time)
        if result.records < latest.seq:
            missing, after = latest.seq - result.records, result.records
            return VerifyResult(
                ok=False, records=result.records, first_bad_seq=after + 1, problem="truncated",
                message_en=f"The audit trail was truncated: {missing} records missing after seq {after} "
                           f"(checkpoint of {shown} anchored record {latest.seq}).",
                message_vi=f"Nhật ký kiểm toán đã bị cắt cụt: thiếu {missing} bản ghi sau số {after} "
                           f"(điểm kiểm tra lúc {shown} đã ghi nhận bản ghi {latest.seq}).",
                last_record_hash=result.last_record_hash, **extra)
        held = trail.record_hash_at(latest.seq)
        if held is None or not hmac.compare_digest(held, latest.record_hash):
            return VerifyResult(
                ok=False, records=result.records, first_bad_seq=latest.seq, problem="diverged",
                message_en=f"Record {latest.seq} is not the one the checkpoint of {shown} anchored: the "
                           f"records up to it were rewritten since (with the audit key).",
                message_vi=f"Bản ghi {latest.seq} không phải bản ghi mà điểm kiểm tra lúc {shown} đã ghi nhận: "
                           f"các bản ghi đến số đó đã bị viết lại sau thời điểm ấy (bằng khóa kiểm toán).",
                last_record_hash=result.last_record_hash, **extra)
        return dataclasses.replace(
            result, **extra,
            message_en=f"{result.message_en.rstrip('.')}; it holds the checkpoint of {shown} (record {latest.seq}).",
            message_vi=f"{result.message_vi.rstrip('.')}; khớp với điểm kiểm tra lúc {shown} (bản ghi {latest.seq}).")

    @staticmethod
    def _refused(result: VerifyResult, name: str, bad: CheckpointInvalid, *, checked: int) -> VerifyResult:
        if not result.ok:   # the chain's own problem first; the checkpoint's is named beside it
            return dataclasses.replace(result, checkpoints=checked,
                                       checkpoint=CheckpointFacts(file=name, invalid=bad.message_en))
        return VerifyResult(
            ok=False, records=result.records, first_bad_seq=None, problem="checkpoint",
            message_en=f"Audit checkpoint {name} is not authentic: {bad.message_en}.",
            message_vi=f"Điểm kiểm tra nhật ký {name} không xác thực: {bad.message_vi}.",
            last_record_hash=result.last_record_hash, checkpoint=CheckpointFacts(file=name, invalid=bad.message_en),
            checkpoints=checked)
