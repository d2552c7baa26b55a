"""The audit trail on SQLite and PostgreSQL: every record hash-chained and HMAC-authenticated;
editing, deleting, inserting or reordering records directly in the database is caught and the
first bad record named; parallel writers in threads and processes form one gapless chain;
exports in JSON Lines and CSV keep the Vietnamese names."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, insert, select, text

from registers.audit import ACTIONS, GENESIS, AuditEvent, AuditTrail, record_hash
from registers.models import AuditRecord

KEY = b"kyso-test-audit-key-0123456789abcdef"
TABLE = AuditRecord.__table__
DOC = [hashlib.sha256(f"công văn {n}".encode()).hexdigest() for n in range(4)]
CERT = hashlib.sha256(b"chung thu so").hexdigest()
PEOPLE = [("Nguyễn Văn An", "signer"), ("Trần Thị Bích Ngọc", "clerk"), ("Lê Hoàng Đức", "admin"),
          ("Phạm Thị Hường", "clerk")]
SCRIPT = [("login", "ok", ()), ("sign", "ok", (DOC[0],)), ("issue", "ok", (DOC[0],)),
          ("receive", "ok", (DOC[1],)), ("verify", "refused", (DOC[1],)), ("return", "ok", (DOC[1], DOC[2])),
          ("download", "ok", (DOC[0],)), ("login_failed", "refused", ()), ("forbidden", "refused", (DOC[3],)),
          ("admin_change", "ok", ())]


class Clock:
    """Hanoi time (+07:00), one second per call: records must come back as the same UTC instant."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 8, 30, 0, 123456, tzinfo=timezone(timedelta(hours=7)))
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            self.now += timedelta(seconds=1)
            return self.now


def event(n: int) -> AuditEvent:
    action, result, documents = SCRIPT[n % len(SCRIPT)]
    actor, role = PEOPLE[n % len(PEOPLE)]
    return AuditEvent(actor=actor, role=role, action=action, result=result, documents=documents,
                      certificate=CERT if action == "sign" else None, client=f"10.0.0.{n % 250}",
                      detail={"ghi_chú": f"thao tác {n}", "số": f"{n:02d}/UBND-VP", "n": n})


def filled(db, count: int = 12) -> AuditTrail:
    trail = AuditTrail(db, key=KEY, clock=Clock())
    assert [trail.append(event(n)) for n in range(count)] == list(range(1, count + 1))
    return trail


def rows(db) -> list[dict]:
    with db.session() as s:
        return [dict(r._mapping) for r in s.execute(select(TABLE).order_by(TABLE.c.seq))]


def run(db, sql: str, **params) -> None:
    with db.session() as s:
        s.execute(text(sql), params)


def restore(db, saved: list[dict]) -> None:
    with db.session() as s:
        s.execute(delete(TABLE))
        s.execute(insert(TABLE), saved)


def renumber_from(db, seq: int, by: int) -> None:
    """Shift seqs >= seq by ``by`` (in two steps: PostgreSQL checks the key row by row)."""
    run(db, "UPDATE audit SET seq = -seq WHERE seq >= :s", s=seq)
    run(db, "UPDATE audit SET seq = -seq + :by WHERE seq < 0", by=by)


def set_seq(db, old: int, new: int) -> None:
    run(db, "UPDATE audit SET seq = :new WHERE seq = :old", old=old, new=new)


def insert_row(db, row: dict) -> None:
    with db.session() as s:
        s.execute(insert(TABLE).values(**row))


def bad(trail, problem: str, seq: int):
    result = trail.verify()
    assert (result.ok, result.problem, result.first_bad_seq) == (False, problem, seq), result
    assert str(seq) in result.message_en and str(seq) in result.message_vi
    return result


# -- writing -----------------------------------------------------------------------------------

def test_intact_chain_verifies_and_keeps_what_happened(db):
    trail = filled(db, 12)
    saved = rows(db)
    assert [r["seq"] for r in saved] == list(range(1, 13))
    assert saved[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["record_hash"] for a, b in zip(saved, saved[1:]))
    first, signing = saved[0], saved[1]
    assert (first["actor"], first["role"], first["action"], first["result"]) == ("Nguyễn Văn An", "signer",
                                                                                 "login", "ok")
    assert signing["documents"] == [DOC[0]] and signing["certificate"] == CERT
    assert signing["detail"] == {"ghi_chú": "thao tác 1", "số": "01/UBND-VP", "n": 1}
    # 08:30:01.123456+07:00 is stored and hashed as the same instant in UTC, on both databases
    stored = first["time"] if first["time"].tzinfo else first["time"].replace(tzinfo=timezone.utc)
    assert stored == datetime(2026, 11, 21, 1, 30, 1, 123456, tzinfo=timezone.utc)

    result = trail.verify()
    assert result.ok and result.records == 12 and result.problem is None and result.first_bad_seq is None
    assert result.last_record_hash == saved[-1]["record_hash"]
    assert json.loads(json.dumps(result.to_dict(), ensure_ascii=False))["message_vi"].startswith("Nhật ký")
    assert AuditTrail(db, key=KEY).verify(expected_at_least=12).ok


def test_record_commits_or_rolls_back_with_the_operation(db):
    trail = filled(db, 2)
    with pytest.raises(RuntimeError):
        with db.session() as s:
            trail.append(AuditEvent(actor="Nguyễn Văn An", role="signer", action="sign", result="ok",
                                    documents=(DOC[2],)), session=s)
            raise RuntimeError("signing failed after the record was written")
    with db.session() as s:
        assert trail.append(AuditEvent(actor="Nguyễn Văn An", role="signer", action="void", result="ok"),
                            session=s) == 3
    assert [r["action"] for r in rows(db)] == ["login", "sign", "void"]
    assert trail.verify().ok


def test_events_and_keys_are_checked():
    with pytest.raises(ValueError):
        AuditEvent(actor="Nguyễn Văn An", role="signer", action="delete_everything", result="ok")
    with pytest.raises(ValueError):
        AuditEvent(actor="Nguyễn Văn An", role="signer", action="sign", result="ok", documents=("abc",))
    with pytest.raises(ValueError):
        AuditEvent(actor="", role="signer", action="login", result="ok")
    with pytest.raises(ValueError):
        AuditEvent(actor="x", role="signer", action="login", result="ok", detail={"bad": float("nan")})
    assert AuditEvent(actor="x", role="r", action="sign", result="ok", documents=[DOC[0].upper()]).documents \
        == (DOC[0],)
    assert "login_failed" in ACTIONS and "admin_change" in ACTIONS
    with pytest.raises(ValueError):
        AuditTrail(None, key=b"too short")


# -- tampering, each done to the database directly ---------------------------------------------

def test_edited_fields_are_caught_at_their_record(db):
    trail = filled(db, 12)
    saved = rows(db)
    assert saved[4]["result"] == "refused"
    for sql in ("UPDATE audit SET result = 'ok' WHERE seq = 5",
                "UPDATE audit SET actor = 'Trần Văn Bình' WHERE seq = 5",
                "UPDATE audit SET client = '192.168.1.1' WHERE seq = 5",
                "UPDATE audit SET documents = '[]' WHERE seq = 5",
                "UPDATE audit SET detail = NULL WHERE seq = 5"):
        run(db, sql)
        result = bad(trail, "edited", 5)
        assert "Bản ghi 5 đã bị sửa" in result.message_vi
        restore(db, saved)
        assert trail.verify().ok
    with db.session() as s:
        s.execute(TABLE.update().where(TABLE.c.seq == 9).values(time=saved[8]["time"] + timedelta(hours=1)))
    bad(trail, "edited", 9)
    if db.is_sqlite:   # SQLite takes any text: a malformed value is an edited record, not a crash
        run(db, "UPDATE audit SET time = 'hôm qua', documents = '[not json' WHERE seq = 3")
        bad(trail, "edited", 3)
        out = io.StringIO()
        assert trail.export_jsonl(out) == 12 and '"time":"hôm qua"' in out.getvalue()


def test_rehash_without_the_key_is_caught_as_bad_mac(db):
    trail = filled(db, 12)
    row = rows(db)[6]
    row.update(actor="Kẻ Giả Mạo", result="ok")
    forged_hash = record_hash(row)   # the algorithm is public; the key is not
    run(db, "UPDATE audit SET actor = :a, result = 'ok', record_hash = :h WHERE seq = 7", a="Kẻ Giả Mạo",
        h=forged_hash)
    bad(trail, "bad_mac", 7)
    # a wrong key makes every record fail: the message says where to look
    result = AuditTrail(db, key=b"another-key-of-enough-length").verify()
    assert (result.problem, result.first_bad_seq) == ("bad_mac", 1) and "KYSO_AUDIT_KEY" in result.message_en


def test_deleted_records_are_caught_and_named(db):
    trail = filled(db, 12)
    saved = rows(db)
    run(db, "DELETE FROM audit WHERE seq = 6")
    result = bad(trail, "deleted", 6)
    assert "Thiếu bản ghi nhật ký 6" in result.message_vi and result.records == 11
    restore(db, saved)
    run(db, "DELETE FROM audit WHERE seq IN (6, 7, 8)")
    assert "6–8" in bad(trail, "deleted", 6).message_en
    restore(db, saved)
    run(db, "DELETE FROM audit WHERE seq = 6")   # ... and the records after it renumbered
    renumber_from(db, 7, -1)
    assert [r["seq"] for r in rows(db)] == list(range(1, 12))
    bad(trail, "deleted", 6)
    restore(db, saved)
    run(db, "DELETE FROM audit WHERE seq = 1")
    bad(trail, "deleted", 1)


def test_deleting_the_last_records_needs_the_expected_count(db):
    trail = filled(db, 12)
    anchor = trail.verify()   # e.g. printed in yesterday's report
    run(db, "DELETE FROM audit WHERE seq > 9")
    assert trail.verify().ok   # a shorter chain is still a chain: documented limitation
    assert trail.verify().last_record_hash != anchor.last_record_hash
    result = trail.verify(expected_at_least=anchor.records)
    assert (result.ok, result.problem, result.first_bad_seq, result.records) == (False, "deleted", 10, 9)


def test_inserted_records_are_caught(db):
    trail = filled(db, 12)
    saved = rows(db)
    forged = dict(saved[4], actor="Kẻ Giả Mạo", action="sign", result="ok", documents=[DOC[3]], seq=5,
                  prev_hash=saved[3]["record_hash"])
    forged["record_hash"] = record_hash(forged)
    forged["mac"] = hashlib.sha256(b"no key").hexdigest()

    renumber_from(db, 5, 1)   # make room in the middle, then insert a consistent-looking forgery
    insert_row(db, forged)
    assert [r["seq"] for r in rows(db)] == list(range(1, 14))
    assert "Kẻ Giả Mạo" not in bad(trail, "inserted", 5).message_en

    restore(db, saved)        # the forgery borrows another record's hash and MAC
    renumber_from(db, 5, 1)
    insert_row(db, dict(forged, record_hash=saved[2]["record_hash"], mac=saved[2]["mac"]))
    bad(trail, "inserted", 5)

    restore(db, saved)        # a copy of a genuine record, at the end
    insert_row(db, dict(saved[2], seq=13))
    assert "3" in bad(trail, "inserted", 13).message_en

    restore(db, saved)        # a copy of a genuine record, in the middle
    renumber_from(db, 8, 1)
    insert_row(db, dict(saved[2], seq=8))
    bad(trail, "inserted", 8)

    restore(db, saved)        # a forgery appended at the end cannot be told from a rewrite: no valid MAC
    insert_row(db, dict(forged, seq=13, prev_hash=saved[11]["record_hash"],
                        record_hash=record_hash(dict(forged, seq=13, prev_hash=saved[11]["record_hash"]))))
    bad(trail, "bad_mac", 13)


def test_reordered_records_are_caught(db):
    trail = filled(db, 12)
    saved = rows(db)
    set_seq(db, 4, 100)       # swap the seqs of records 4 and 9
    set_seq(db, 9, 4)
    set_seq(db, 100, 9)
    assert "9" in bad(trail, "reordered", 4).message_en

    restore(db, saved)        # swap the contents of neighbours 6 and 7, seqs staying put
    with db.session() as s:
        for seq, source in ((6, saved[6]), (7, saved[5])):
            s.execute(TABLE.update().where(TABLE.c.seq == seq)
                      .values(**{k: v for k, v in source.items() if k != "seq"}))
    bad(trail, "reordered", 6)

    restore(db, saved)        # move record 3 to the end, renumbering the rest down
    set_seq(db, 3, 100)
    renumber_from(db, 4, -1)
    set_seq(db, 100, 12)
    bad(trail, "reordered", 3)


# -- many writers --------------------------------------------------------------------------------

def test_parallel_threads_form_one_gapless_chain(db):
    trail = AuditTrail(db, key=KEY)
    seqs: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def clerk(k: int) -> None:
        try:
            for n in range(50):
                seq = trail.append(event(k * 50 + n))
                with lock:
                    seqs.append(seq)
        except BaseException as exc:   # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=clerk, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(seqs) == list(range(1, 401))
    assert [r["seq"] for r in rows(db)] == list(range(1, 401))
    result = trail.verify()
    assert result.ok and result.records == 400


WRITER = """
import sys, threading
from registers.audit import AuditEvent, AuditTrail
from registers.db import Database
trail = AuditTrail(Database.connect(sys.argv[1]), key=sys.argv[2].encode())
seqs = []
def clerk(k):
    for n in range(50):
        seqs.append(trail.append(AuditEvent(actor="Nguyễn Văn An", role="clerk", action="download", result="ok",
                                            detail={"tiến trình": sys.argv[3], "luồng": k, "n": n})))
threads = [threading.Thread(target=clerk, args=(k,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(" ".join(map(str, seqs)))
sys.exit(0 if len(seqs) == 400 else 1)   # a thread that died would not change the exit code
"""


def test_parallel_processes_form_one_gapless_chain(db, db_url):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, db_url, KEY.decode(), str(p)],
                              stdout=subprocess.PIPE, text=True) for p in range(2)]
    seqs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        seqs += [int(x) for x in out.split()]
    assert sorted(seqs) == list(range(1, 801))
    result = AuditTrail(db, key=KEY).verify()
    assert result.ok and result.records == 800


# -- export and the command line ---------------------------------------------------------------

def test_exports_round_trip_with_vietnamese_intact(db):
    trail = filled(db, 10)
    saved = rows(db)
    out = io.StringIO()
    assert trail.export_jsonl(out) == 10
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and "Trần Thị Bích Ngọc" in lines[1]
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(1, 11))
    assert records[0]["time"] == "2026-11-21T01:30:01.123456Z"
    for exported, row in zip(records, saved):
        assert {k: v for k, v in exported.items() if k != "time"} == {k: v for k, v in row.items() if k != "time"}
        assert record_hash(exported) == exported["record_hash"]   # an exported record re-hashes as stored

    out = io.StringIO(newline="")
    assert trail.export_csv(out) == 10
    table = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert len(table) == 10 and out.getvalue().count("\r\n") == 11
    assert [r["actor"] for r in table] == [r["actor"] for r in saved]
    assert table[5]["documents"] == f"{DOC[1]};{DOC[2]}" and table[0]["certificate"] == ""
    assert json.loads(table[1]["detail"]) == {"ghi_chú": "thao tác 1", "n": 1, "số": "01/UBND-VP"}
    assert [r["record_hash"] for r in table] == [r["record_hash"] for r in saved]


def test_command_line_verify_and_export(db, db_url, tmp_path, monkeypatch):
    from commands.admin import audit

    filled(db, 6)
    monkeypatch.setenv("KYSO_DATABASE_URL", db_url)
    monkeypatch.setenv("KYSO_AUDIT_KEY", KEY.decode())
    monkeypatch.setenv("KYSO_DATA_DIR", str(tmp_path))
    runner = CliRunner()

    ok = runner.invoke(audit, ["verify"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout.splitlines()[0])["records"] == 6
    assert "NGUYÊN VẸN" in ok.stderr and "intact" in ok.stderr

    short = runner.invoke(audit, ["verify", "--expect-at-least", "7"])
    assert short.exit_code == 1 and json.loads(short.stdout)["problem"] == "deleted"

    target = tmp_path / "audit.csv"
    exported = runner.invoke(audit, ["export", "--format", "csv", "--out", str(target)])
    assert exported.exit_code == 0, exported.output
    assert len(list(csv.DictReader(target.read_text(encoding="utf-8-sig").splitlines()))) == 6
    lines = runner.invoke(audit, ["export", "--format", "jsonl"]).stdout.splitlines()
    assert [json.loads(line)["actor"] for line in lines][:2] == ["Nguyễn Văn An", "Trần Thị Bích Ngọc"]

    run(db, "UPDATE audit SET actor = 'Nguyễn Văn Ân' WHERE seq = 2")
    tampered = runner.invoke(audit, ["verify"])
    assert tampered.exit_code == 1
    assert json.loads(tampered.stdout)["first_bad_seq"] == 2 and "BỊ SỬA ĐỔI" in tampered.stderr

    monkeypatch.setenv("KYSO_AUDIT_KEY", "another-key-of-enough-length")
    assert runner.invoke(audit, ["verify"]).exit_code == 1
    monkeypatch.setenv("KYSO_AUDIT_KEY", "short")
    refused = runner.invoke(audit, ["verify"])
    assert refused.exit_code == 2 and "KYSO_AUDIT_KEY" in refused.stderr
