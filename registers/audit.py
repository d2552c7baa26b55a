"""The audit trail: one hash-chained, HMAC-authenticated record per operation.

    trail = AuditTrail(db, key=settings.audit_key.encode())
    seq = trail.append(AuditEvent(actor="Nguyễn Văn An", role="clerk", action="issue", result="ok",
                                  documents=(sha256_hex,), client="10.0.0.7"), session=s)
    result = trail.verify()             # VerifyResult(ok=..., first_bad_seq=..., problem=...)
    trail.export_jsonl(out); trail.export_csv(out)

Records
-------
Every record (table ``audit``, :class:`registers.models.AuditRecord`) has an
application-assigned ``seq``, contiguous from 1. :meth:`AuditTrail.append` takes the
``"audit"`` writer lock (:meth:`registers.db.Database.lock`: BEGIN IMMEDIATE on SQLite,
a transaction-scoped advisory lock on PostgreSQL), reads the last record and chains to
it, so appends from many threads and processes form one chain. Given the caller's
``session``, the record commits or rolls back together with the operation it records.
The lock is held until the caller's transaction ends: append last, just before commit, so
that the trail does not serialise more than the write of one record. The primary key on
``seq`` turns any misuse (say a REPEATABLE READ snapshot taken before
the lock) into an error, never into a fork of the chain.

Hashing
-------
``record_hash = SHA-256(canonical JSON of every column except record_hash and mac)``,
including ``seq`` and ``prev_hash``; ``mac = HMAC-SHA256(key, record_hash)`` (both lower-case
hex); the first record's ``prev_hash`` is 64 zeros. Canonical JSON: sorted keys, no
whitespace, UTF-8 (``ensure_ascii=False``), no NaN/Infinity. ``time`` is hashed as
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC. Times are converted to UTC *before* they are stored
because SQLite's DateTime drops the offset (10:00+07:00 would come back as a naive
10:00); a naive value read back from SQLite is UTC, PostgreSQL's aware value is converted
to UTC, so both databases hash the same instant identically. ``detail`` is normalised
through JSON before hashing and storing (tuples become lists, keys must be strings), so
what is read back is exactly what was hashed.

Threat model
------------
An attacker with write access to the database but *without the HMAC key* cannot make a
record that verifies: changing a field breaks ``record_hash``; recomputing ``record_hash``
breaks ``mac``; moving, copying or renumbering a record breaks the hash (``seq`` is hashed)
or the chain (``prev_hash``). :meth:`AuditTrail.verify` names the first bad record and
classifies it (``edited``, ``deleted``, ``inserted``, ``reordered``, ``bad_mac``,
``broken_chain``) as well as the evidence allows; the classification is a diagnosis, the
detection is not heuristic. Out of scope: anyone holding the key can rewrite the chain
consistently after the latest checkpoint (a rewrite reaching back before it is caught: the
checkpoint's timestamped record_hash no longer matches); keep the key out of the database and
away from its administrators.

Tail truncation: deleting the *last* N records (or all of them) leaves a shorter chain that
is still valid, and nothing stored in the same database can prove otherwise. The head is
therefore anchored outside it: :mod:`registers.checkpoints` writes checkpoints of the head
(seq, record_hash, records, time), HMAC'd with the same key and timestamped by an RFC 3161
TSA, to files under the data folder, and ``CheckpointStore.judge`` compares the trail with
the latest one: a trail that no longer reaches the checkpoint's seq is ``truncated``
(naming how many records are missing), one that holds another record there is
``diverged``, a checkpoint that does not authenticate is ``checkpoint``. The facts of the
checkpoint used go into :attr:`VerifyResult.checkpoint`. A head known some other way (a
daily report, the registers' paper book) can still be passed as
``verify(expected_at_least=N)``.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any, Callable, Iterator, Mapping

from sqlalchemy import Text, func, insert, select, type_coerce
from sqlalchemy.orm import Session

from registers.db import Database
from registers.models import AuditRecord

ACTIONS = frozenset({"sign", "issue", "receive", "verify", "return", "acknowledge", "download", "login",
                     "login_failed", "forbidden", "admin_change", "prepare", "copy", "sign_attachment",
                     "void", "logout", "read_report", "read_register", "read_history", "extend", "renew", "reconcile",
                     "verify_job"})
PROBLEMS = ("edited", "deleted", "inserted", "reordered", "bad_mac", "broken_chain",
            "truncated", "diverged", "checkpoint")
GENESIS = "0" * 64
MIN_KEY_BYTES = 16
PAGE = 1000
# how far verify() searches for the seq a moved record was written with (only after a failure)
_SEQ_SEARCH_LIMIT = 2_000_000

_TABLE = AuditRecord.__table__
_HEAD = select(_TABLE.c.seq, _TABLE.c.record_hash).order_by(_TABLE.c.seq.desc()).limit(1)
_INSERT = insert(_TABLE)       # statements built once: every request appends a record
_HEX64 = re.compile(r"[0-9a-f]{64}")
_FIELDS = ("seq", "time", "actor", "role", "action", "documents", "certificate", "result", "client",
           "detail", "prev_hash", "record_hash", "mac")
_LIMITS = {"role": 32, "action": 48, "result": 32, "client": 64}


# -- canonical form ---------------------------------------------------------------------------

def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def utc(moment: datetime) -> datetime:
    """The instant in UTC (a naive value, as SQLite returns it, is taken to be UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def format_time(moment: datetime | str) -> str:
    """``2024-05-01T03:00:00.123456Z``: the form that is hashed and exported (an exported
    string is accepted too, so that exported records can be re-hashed)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hashed_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "seq": row["seq"], "time": format_time(row["time"]), "actor": row["actor"], "role": row["role"],
        "action": row["action"], "documents": row["documents"], "certificate": row["certificate"],
        "result": row["result"], "client": row["client"], "detail": row["detail"],
        "prev_hash": row["prev_hash"],
    }


def record_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of every column except ``record_hash`` and ``mac``."""
    return hashlib.sha256(canonical_json(_hashed_fields(row)).encode("utf-8")).hexdigest()


# -- what callers say happened -----------------------------------------------------------------

@dataclass(frozen=True)
class AuditEvent:
    """One operation as the caller reports it; validated and normalised on construction."""

    actor: str
    role: str
    action: str
    result: str
    documents: tuple[str, ...] = ()
    certificate: str | None = None
    client: str | None = None
    detail: Mapping | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown audit action {self.action!r}; one of {', '.join(sorted(ACTIONS))}")
        for name in ("actor", "role", "result"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"audit {name} must be a non-empty string")
        for name, limit in _LIMITS.items():
            value = getattr(self, name)
            if value is not None and len(value) > limit:
                raise ValueError(f"audit {name} longer than {limit} characters")
        if isinstance(self.documents, str):
            raise ValueError("audit documents must be a sequence of SHA-256 hex digests, not one string")
        documents = tuple(str(d).lower() for d in self.documents)
        for digest in (*documents, *((self.certificate.lower(),) if self.certificate else ())):
            if not _HEX64.fullmatch(digest):
                raise ValueError(f"not a SHA-256 hex digest: {digest!r}")
        object.__setattr__(self, "documents", documents)
        if self.certificate is not None:
            object.__setattr__(self, "certificate", self.certificate.lower())
        if self.detail is not None:
            try:   # what the database gives back must be exactly what was hashed
                object.__setattr__(self, "detail", json.loads(canonical_json(self.detail)))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"audit detail must be JSON (string keys, no NaN): {exc}") from None


# -- the verdict -------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckpointFacts:
    """The checkpoint a trail was compared with (:mod:`registers.checkpoints`): its file, the head
    it anchored and when (Vietnam's time), the TSA's time and name; or why it is not authentic."""

    file: str
    seq: int | None = None
    record_hash: str | None = None
    records: int | None = None
    time: str | None = None
    timestamp_time: str | None = None
    tsa: str | None = None
    tsa_trusted: bool | None = None
    invalid: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    """The verdict on the whole trail. ``records``: how many records the trail holds (all of
    them verified when ``ok``); ``first_bad_seq``: the first record (or missing seq) at fault.
    ``checkpoint``: the latest checkpoint the trail was compared with (None when there is none);
    ``checkpoints``: how many checkpoint files were checked."""

    ok: bool
    records: int
    first_bad_seq: int | None
    problem: str | None        # one of PROBLEMS, None when ok
    message_en: str
    message_vi: str
    last_record_hash: str | None = None   # the head of an intact chain: anchor it elsewhere
    checkpoint: CheckpointFacts | None = None
    checkpoints: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _bad(problem: str, seq: int, records: int, en: str, vi: str) -> VerifyResult:
    return VerifyResult(ok=False, records=records, first_bad_seq=seq, problem=problem, message_en=en,
                        message_vi=vi)


# -- the trail ---------------------------------------------------------------------------------

class AuditTrail:
    """Appends, verifies and exports the audit trail of one database."""

    def __init__(self, db: Database, *, key: bytes, clock: Callable[[], datetime] | None = None) -> None:
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not isinstance(key, (bytes, bytearray)) or len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the audit HMAC key must be at least {MIN_KEY_BYTES} bytes")
        self.db = db
        self._key = bytes(key)
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    @classmethod
    def from_settings(cls, db: Database, settings, *, clock=None) -> "AuditTrail":
        """The trail keyed with ``settings.audit_key`` (``KYSO_AUDIT_KEY``)."""
        key = getattr(settings, "audit_key", None)
        if not key:
            raise ValueError("the settings carry no audit key (KYSO_AUDIT_KEY)")
        return cls(db, key=key.encode("utf-8") if isinstance(key, str) else key, clock=clock)

    def _mac(self, digest: str) -> str:
        return hmac.new(self._key, digest.encode("ascii"), hashlib.sha256).hexdigest()

    def _mac_ok(self, row: Mapping[str, Any]) -> bool:
        digest, mac = row["record_hash"], row["mac"]
        if not isinstance(digest, str) or not isinstance(mac, str):
            return False
        try:
            return hmac.compare_digest(self._mac(digest), mac)
        except (UnicodeEncodeError, TypeError):
            return False

    # -- append --------------------------------------------------------------------------------

    def append(self, event: AuditEvent, *, session: Session | None = None) -> int:
        """Append ``event`` and return its seq (in ``session``'s transaction when given)."""
        if not isinstance(event, AuditEvent):
            raise TypeError("append() takes an AuditEvent")
        if session is None:
            with self.db.session() as own:
                return self._append(own, event)
        return self._append(session, event)

    def _append(self, session: Session, event: AuditEvent) -> int:
        moment = self._clock()
        if moment.tzinfo is None:
            raise ValueError("the audit clock must return timezone-aware datetimes")
        self.db.lock(session, "audit")
        last = session.execute(_HEAD).first()
        row: dict[str, Any] = {
            "seq": last.seq + 1 if last else 1,
            "time": utc(moment),   # UTC before storing: SQLite keeps no offset
            "actor": event.actor, "role": event.role, "action": event.action,
            "documents": list(event.documents), "certificate": event.certificate,
            "result": event.result, "client": event.client,
            "detail": dict(event.detail) if event.detail is not None else None,
            "prev_hash": last.record_hash if last else GENESIS,
        }
        row["record_hash"] = record_hash(row)
        row["mac"] = self._mac(row["record_hash"])
        session.execute(_INSERT, row)
        return row["seq"]

    # -- reading -------------------------------------------------------------------------------

    def _columns(self):
        if not self.db.is_sqlite:
            return [_TABLE.c[name] for name in _FIELDS]
        # SQLite stores whatever an attacker writes: read time and JSON as text and decode per
        # record, so one malformed value is reported as an edited record, not as a crash
        raw = {"time", "documents", "detail"}
        return [type_coerce(_TABLE.c[n], Text).label(n) if n in raw else _TABLE.c[n] for n in _FIELDS]

    def _decode(self, raw: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """(row, decodable): on SQLite, parse the text columns; undecodable values stay as text."""
        row = dict(raw)
        if not self.db.is_sqlite:
            return row, True
        good = True
        try:
            row["time"] = datetime.fromisoformat(row["time"]) if row["time"] is not None else None
            if row["time"] is None:
                good = False
        except (TypeError, ValueError):
            good = False
        for name in ("documents", "detail"):
            try:
                row[name] = json.loads(row[name]) if row[name] is not None else None
            except (TypeError, ValueError):
                good = False
        return row, good

    def _rows(self, *, after: int | None = None) -> Iterator[tuple[dict[str, Any], bool]]:
        """Every record in seq order, one short transaction per page."""
        cursor = after
        while True:
            query = select(*self._columns()).order_by(_TABLE.c.seq).limit(PAGE)
            if cursor is not None:
                query = query.where(_TABLE.c.seq > cursor)
            with self.db.session() as s:
                page = [dict(r._mapping) for r in s.execute(query)]
            for raw in page:
                yield self._decode(raw)
            if len(page) < PAGE:
                return
            cursor = page[-1]["seq"]

    def _query(self, query):
        with self.db.session() as s:
            return s.execute(query).all()

    def _count(self) -> int:
        return self._query(select(func.count()).select_from(_TABLE))[0][0]

    def _next_row(self, seq: int) -> dict[str, Any] | None:
        rows = self._query(select(*self._columns()).where(_TABLE.c.seq > seq).order_by(_TABLE.c.seq).limit(1))
        return self._decode(rows[0]._mapping)[0] if rows else None

    def _seqs_with_hash(self, digest: str, *, other_than: int) -> list[int]:
        return [r.seq for r in self._query(select(_TABLE.c.seq).where(_TABLE.c.record_hash == digest,
                                                                      _TABLE.c.seq != other_than)
                                           .order_by(_TABLE.c.seq).limit(2))]

    def _hash_ok(self, row: Mapping[str, Any], decodable: bool) -> bool:
        if not decodable:
            return False
        try:
            return hmac.compare_digest(record_hash(row), str(row["record_hash"]))
        except (TypeError, ValueError, AttributeError):
            return False

    def _written_as(self, row: Mapping[str, Any], decodable: bool) -> int | None:
        """The seq this record's content was hashed with, if it is not its current seq."""
        if not decodable:
            return None
        marker = "\u2063seq\u2063"
        try:
            text = canonical_json({**_hashed_fields(row), "seq": marker})
        except (TypeError, ValueError, AttributeError):
            return None
        # "seq" is the last top-level key but one ("time" follows): the last occurrence is it
        prefix, _, suffix = text.rpartition(canonical_json(marker))
        base = hashlib.sha256(prefix.encode("utf-8"))
        tail, target = suffix.encode("utf-8"), row["record_hash"]
        top = min(max(self._max_seq(), row["seq"]) + 1, _SEQ_SEARCH_LIMIT)
        candidates = range(1, top + 1)
        if row["prev_hash"] == GENESIS:
            candidates = range(1, 2)
        for candidate in candidates:
            h = base.copy()
            h.update(str(candidate).encode("ascii"))
            h.update(tail)
            if h.hexdigest() == target:
                return candidate
        return None

    def _max_seq(self) -> int:
        return self._query(select(func.max(_TABLE.c.seq)))[0][0] or 0

    # -- the head, for checkpoints ---------------------------------------------------------------

    def head(self) -> tuple[int, str, int]:
        """(seq, record_hash, records) of the last committed record; ``(0, GENESIS, 0)`` when empty.
        Not a verification: :meth:`verify` says whether the chain up to it is intact."""
        with self.db.read_session() as s:   # no writer lock: appends go on meanwhile
            last = s.execute(select(_TABLE.c.seq, _TABLE.c.record_hash)
                             .order_by(_TABLE.c.seq.desc()).limit(1)).first()
            count = s.execute(select(func.count()).select_from(_TABLE)).scalar_one()
        return (last.seq, last.record_hash, count) if last else (0, GENESIS, 0)

    def record_hash_at(self, seq: int) -> str | None:
        """The record_hash stored at ``seq`` (GENESIS for 0), None when no record has it."""
        if seq == 0:
            return GENESIS
        with self.db.read_session() as s:
            return s.execute(select(_TABLE.c.record_hash).where(_TABLE.c.seq == seq)).scalar_one_or_none()

    # -- verify --------------------------------------------------------------------------------

    def verify(self, *, expected_at_least: int | None = None) -> VerifyResult:
        """Walk the whole chain in seq order and report the first bad record (see module doc)."""
        expected, prev_hash, count = 1, GENESIS, 0
        for row, decodable in self._rows():
            if row["seq"] != expected:
                return self._gap(row, decodable, expected)
            if not (self._hash_ok(row, decodable) and self._mac_ok(row) and row["prev_hash"] == prev_hash):
                return self._diagnose(row, decodable, prev_hash)
            prev_hash, expected, count = row["record_hash"], expected + 1, count + 1
        if expected_at_least is not None and count < expected_at_least:
            first = count + 1
            return _bad("deleted", first, count,
                        f"Only {count} audit records, at least {expected_at_least} expected: the last "
                        f"records (from {first}) were deleted.",
                        f"Chỉ có {count} bản ghi nhật ký, cần ít nhất {expected_at_least}: các bản ghi "
                        f"cuối (từ số {first}) đã bị xóa.")
        return VerifyResult(ok=True, records=count, first_bad_seq=None, problem=None,
                            message_en=f"The audit trail is intact: {count} records.",
                            message_vi=f"Nhật ký kiểm toán nguyên vẹn: {count} bản ghi.",
                            last_record_hash=prev_hash if count else None)

    def _gap(self, row: dict[str, Any], decodable: bool, expected: int) -> VerifyResult:
        seq, total = row["seq"], self._count()
        if seq < expected:   # only possible before 1: seqs start at 1
            return _bad("inserted", seq, total,
                        f"Record {seq} was inserted: audit records are numbered from 1.",
                        f"Bản ghi {seq} đã bị chèn thêm: bản ghi nhật ký được đánh số từ 1.")
        if self._mac_ok(row) and self._written_as(row, decodable) == expected:
            return _bad("reordered", expected, total,
                        f"Records were renumbered: record {expected} now carries number {seq}.",
                        f"Bản ghi đã bị đánh số lại: bản ghi {expected} nay mang số {seq}.")
        missing = f"{expected}" if seq == expected + 1 else f"{expected}–{seq - 1}"
        return _bad("deleted", expected, total,
                    f"Audit record(s) {missing} are missing (deleted); the next record is {seq}.",
                    f"Thiếu bản ghi nhật ký {missing} (đã bị xóa); bản ghi tiếp theo là {seq}.")

    def _skipped(self, row: Mapping[str, Any], prev_hash: str) -> bool:
        """Whether the chain goes around ``row``: its successor links to its predecessor."""
        after = self._next_row(row["seq"])
        return after is not None and after["prev_hash"] == prev_hash

    def _diagnose(self, row: dict[str, Any], decodable: bool, prev_hash: str) -> VerifyResult:
        seq, total = row["seq"], self._count()
        hash_ok, mac_ok = self._hash_ok(row, decodable), self._mac_ok(row)

        def inserted(why_en: str, why_vi: str) -> VerifyResult:
            return _bad("inserted", seq, total, f"Record {seq} was inserted into the audit trail: {why_en}.",
                        f"Bản ghi {seq} đã bị chèn vào nhật ký kiểm toán: {why_vi}.")

        if hash_ok and mac_ok:   # an authentic record whose predecessor is not the one it was chained to
            return _bad("broken_chain", seq, total,
                        f"Record {seq} does not follow record {seq - 1}: the chain is broken "
                        f"(records were replaced or spliced in from elsewhere).",
                        f"Bản ghi {seq} không nối tiếp bản ghi {seq - 1}: chuỗi bị đứt "
                        f"(bản ghi đã bị thay thế hoặc ghép từ nơi khác).")
        if mac_ok:   # record_hash is authentic, the content no longer matches it
            copies = self._seqs_with_hash(row["record_hash"], other_than=seq)
            original = self._written_as(row, decodable)
            if copies:
                return inserted(f"it duplicates record {copies[0]}", f"trùng lặp bản ghi {copies[0]}")
            if original is not None and original > seq:
                if self._seqs_with_hash(row["prev_hash"], other_than=seq):
                    return _bad("reordered", seq, total,
                                f"Record {seq} is out of place: it was written as record {original}.",
                                f"Bản ghi {seq} bị đổi vị trí: bản gốc là bản ghi số {original}.")
                missing = f"{seq}" if original == seq + 1 else f"{seq}–{original - 1}"
                return _bad("deleted", seq, total,
                            f"Audit record(s) {missing} were deleted and the later records renumbered.",
                            f"Bản ghi nhật ký {missing} đã bị xóa và các bản ghi sau bị đánh số lại.")
            if original is not None:
                return inserted(f"it was written as record {original}, records before it were inserted",
                                f"bản gốc là bản ghi số {original}, đã có bản ghi chèn trước nó")
            if self._skipped(row, prev_hash):
                return inserted("the next record is chained to the one before it",
                                "bản ghi sau nối trực tiếp với bản ghi trước nó")
            return _bad("edited", seq, total,
                        f"Record {seq} was edited after it was written: its content no longer matches "
                        f"its hash.",
                        f"Bản ghi {seq} đã bị sửa sau khi ghi: nội dung không còn khớp với mã băm.")
        if self._skipped(row, prev_hash):
            return inserted("the next record is chained to the one before it, and it has no valid "
                            "authentication code", "bản ghi sau nối trực tiếp với bản ghi trước nó, và nó "
                            "không có mã xác thực hợp lệ")
        if not hash_ok:
            return _bad("edited", seq, total,
                        f"Record {seq} was edited after it was written: neither its hash nor its "
                        f"authentication code matches.",
                        f"Bản ghi {seq} đã bị sửa sau khi ghi: cả mã băm và mã xác thực đều không khớp.")
        hint_en = hint_vi = ""
        if seq == 1:
            hint_en = " If every record fails this way, check that KYSO_AUDIT_KEY is the key that wrote them."
            hint_vi = " Nếu mọi bản ghi đều lỗi như vậy, hãy kiểm tra KYSO_AUDIT_KEY có đúng khóa đã ghi chúng."
        return _bad("bad_mac", seq, total,
                    f"Record {seq} has an invalid authentication code: it was forged or rewritten "
                    f"without the audit key.{hint_en}",
                    f"Bản ghi {seq} có mã xác thực không hợp lệ: đã bị giả mạo hoặc ghi lại mà không "
                    f"có khóa kiểm toán.{hint_vi}")

    # -- export --------------------------------------------------------------------------------

    @staticmethod
    def _exported(row: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(row)
        if isinstance(out["time"], datetime):
            out["time"] = format_time(out["time"])
        return out

    def export_jsonl(self, out: IO[str]) -> int:
        """One JSON object per record and line, in seq order (UTF-8 text, not escaped)."""
        n = 0
        for row, _ in self._rows():
            out.write(json.dumps(self._exported(row), ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
        return n

    def export_csv(self, out: IO[str]) -> int:
        """A header and one row per record; documents joined by ';', detail as JSON.

        ``out`` should be opened with ``newline=""`` (rows end with CRLF, RFC 4180).
        """
        writer = csv.writer(out)
        writer.writerow(_FIELDS)
        n = 0
        for row, _ in self._rows():
            data = self._exported(row)
            documents = data["documents"]
            data["documents"] = ";".join(documents) if isinstance(documents, list) else documents
            if data["detail"] is not None and not isinstance(data["detail"], str):
                data["detail"] = canonical_json(data["detail"])
            writer.writerow(["" if data[name] is None else data[name] for name in _FIELDS])
            n += 1
        return n
