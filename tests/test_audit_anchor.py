"""The audit trail's head is anchored outside the database: checkpoints (HMAC'd, timestamped by
the TSA) make `kyso audit verify` fail on a trail whose last records, or all of them, were deleted,
naming how many are missing; a forged checkpoint fails too. Each development installation has its
own audit key, and production refuses a short or low-entropy one."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from commands.main import main
from kyso.clock import fixed
from kyso.errors import ConfigurationError
from kyso.settings import Settings
from registers.audit import record_hash

# a moment of the dev certificates' validity (2025-2035), whatever day the suite runs on
T0 = datetime(2026, 12, 4, 3, 15, 0, tzinfo=timezone.utc)
T0_SHOWN = "2026-12-04T10:15:00+07:00"          # the same moment in Vietnam's time
FORMER_DEV_KEY = b"kyso-dev-audit-key-not-for-production"   # the constant every dev install shared
SAFE_PRODUCTION = {"KYSO_MODE": "production", "KYSO_SECRET_KEY": "x" * 40, "KYSO_PKCS11_TOKEN": "ubnd-hsm",
                   "KYSO_PKCS11_PIN": "8-digits-at-least", "KYSO_TSA_URL": "http://tsa.example.vn/tsa"}


class Install:
    """One development installation: the `kyso` command on its data home, and its office in this
    process at a moment the test chooses."""

    def __init__(self, home, env) -> None:
        self.home = home
        self.env = env
        self.runner = CliRunner()

    def kyso(self, *args):
        return self.runner.invoke(main, [str(a) for a in args])

    def verify(self):
        result = self.kyso("audit", "verify")
        return result, json.loads(result.stdout.splitlines()[0]) if result.stdout else None

    def settings(self) -> Settings:
        return Settings.from_env({k: v for k, v in os.environ.items() if k.startswith("KYSO_")})

    def office(self, moment: datetime):
        from office import Office

        return Office.from_settings(self.settings(), clock=fixed(moment))

    def sql(self, statement: str, **params) -> None:
        from registers.db import Database

        db = Database.connect(self.settings().database_url)
        try:
            with db.session() as s:
                s.execute(text(statement), params)
        finally:
            db.dispose()

    def checkpoints(self):
        return sorted((self.home / "audit-checkpoints").glob("*.json"))


@pytest.fixture()
def install(pki_server, softhsm, monkeypatch, tmp_path):
    for var in list(os.environ):
        if var.startswith("KYSO_"):
            monkeypatch.delenv(var)
    home = tmp_path / "var"
    monkeypatch.setenv("KYSO_DATA_DIR", str(home))
    monkeypatch.setenv("KYSO_DEV_PKI_URL", pki_server.base_url)
    monkeypatch.setenv("KYSO_PKCS11_MODULE", softhsm.module_path)
    monkeypatch.setenv("KYSO_PKCS11_TOKEN", softhsm.token_label)
    monkeypatch.setenv("KYSO_PKCS11_PIN", softhsm.user_pin)
    return Install(home, os.environ)


def work(office, users: range) -> None:
    """Audited administration: one record per account created."""
    admin = office.local_admin()
    for n in users:
        office.create_user(admin, f"can-bo-{n}", display_name=f"Nguyễn Thị Hương {n}", role="official",
                           agency="UBND")


def checkpointed(install, records: int = 6):
    """A trail of ``records`` records with a checkpoint of its head, written at T0."""
    office = install.office(T0)
    try:
        work(office, range(records))
        written = office.audit_checkpoint(office.local_admin())
    finally:
        office.close()
    assert (written.seq, written.records) == (records, records)
    return written


def test_an_intact_trail_holds_its_checkpoint(install):
    written = checkpointed(install)
    files = install.checkpoints()
    assert files == [written.path] and written.path.with_suffix(".tsr").exists()
    stored = json.loads(written.path.read_text(encoding="utf-8"))
    assert (stored["seq"], stored["records"], stored["time"]) == (6, 6, "2026-12-04T03:15:00.000000Z")

    office = install.office(T0 + timedelta(hours=2))   # the trail goes on after the checkpoint
    try:
        work(office, range(6, 9))
    finally:
        office.close()
    result, outcome = install.verify()
    assert result.exit_code == 0, result.output
    assert outcome["ok"] and outcome["records"] == 9 and outcome["checkpoints"] == 1
    anchor = outcome["checkpoint"]
    assert (anchor["seq"], anchor["record_hash"], anchor["time"]) == (6, written.record_hash, T0_SHOWN)
    assert anchor["timestamp_time"] == T0_SHOWN, "the TSA dated the checkpoint at the office's moment"
    assert anchor["tsa_trusted"] and anchor["tsa"]
    assert T0_SHOWN in outcome["message_en"] and "điểm kiểm tra" in outcome["message_vi"]

    # the operator's timer: `kyso audit checkpoint` writes one of the head and says where
    made = install.kyso("audit", "checkpoint")
    assert made.exit_code == 0, made.output
    facts = json.loads(made.stdout)
    assert (facts["seq"], facts["records"]) == (9, 9) and os.path.exists(facts["file"])
    assert facts["file"] in made.stderr and os.path.exists(facts["timestamp_token"])
    result, outcome = install.verify()
    assert result.exit_code == 0 and outcome["checkpoint"]["seq"] == 9 and outcome["checkpoints"] == 2


def test_deleting_the_last_records_fails_naming_how_many(install):
    checkpointed(install)
    install.sql("DELETE FROM audit WHERE seq > 2")
    result, outcome = install.verify()
    assert result.exit_code == 1
    assert (outcome["ok"], outcome["problem"], outcome["records"]) == (False, "truncated", 2)
    assert "4 records missing after seq 2" in outcome["message_en"] and T0_SHOWN in outcome["message_en"]
    assert "thiếu 4 bản ghi sau số 2" in outcome["message_vi"]
    assert "BỊ SỬA ĐỔI" in result.stderr


def test_deleting_every_record_fails_naming_how_many(install):
    checkpointed(install)
    install.sql("DELETE FROM audit")
    result, outcome = install.verify()
    assert result.exit_code == 1
    assert (outcome["problem"], outcome["records"]) == ("truncated", 0)
    assert "6 records missing after seq 0" in outcome["message_en"]
    assert "thiếu 6 bản ghi sau số 0" in outcome["message_vi"]


def test_a_forged_checkpoint_fails(install):
    written = checkpointed(install)
    original = written.path.read_text(encoding="utf-8")
    stored = json.loads(original)

    install.sql("DELETE FROM audit WHERE seq > 2")           # cut the tail, then lower the checkpoint
    written.path.write_text(json.dumps({**stored, "seq": 2, "records": 2}), encoding="utf-8")
    result, outcome = install.verify()
    assert result.exit_code == 1 and outcome["problem"] == "checkpoint"
    assert written.path.name in outcome["message_en"] and "authentication code" in outcome["message_en"]
    assert "không xác thực" in outcome["message_vi"]

    # a statement whose HMAC holds but whose timestamp token is another one's
    written.path.write_text(original, encoding="utf-8")
    token = written.path.with_suffix(".tsr")
    assert written.digest() in token.read_bytes()
    token.write_bytes(token.read_bytes().replace(written.digest(), hashlib.sha256(b"another statement").digest()))
    result, outcome = install.verify()
    assert result.exit_code == 1 and outcome["problem"] == "checkpoint"
    token.unlink()
    result, outcome = install.verify()
    assert result.exit_code == 1 and outcome["problem"] == "checkpoint" and ".tsr" in outcome["message_en"]


def test_a_trail_rewritten_with_the_key_before_its_checkpoint_fails(install):
    """Whoever holds the key can re-chain edited records, but not re-date the checkpoint."""
    checkpointed(install)
    key = install.settings().audit_key.encode()
    from registers.db import Database

    db = Database.connect(install.settings().database_url)
    try:
        with db.session() as s:
            rows = [dict(r) for r in s.execute(text("SELECT * FROM audit ORDER BY seq")).mappings()]
            prev = rows[2]["prev_hash"]
            for row in rows[2:]:                        # record 3 edited, 3..6 re-chained and re-MAC'd
                row["documents"], row["detail"] = json.loads(row["documents"]), json.loads(row["detail"])
                if row["seq"] == 3:
                    row["detail"]["user"] = "ke-gia-mao"
                row["prev_hash"] = prev
                row["record_hash"] = prev = record_hash(row)
                s.execute(text("UPDATE audit SET detail = :d, prev_hash = :p, record_hash = :h, mac = :m "
                               "WHERE seq = :seq"),
                          {"d": json.dumps(row["detail"], ensure_ascii=False), "p": row["prev_hash"], "h": prev,
                           "m": hmac.new(key, prev.encode("ascii"), hashlib.sha256).hexdigest(), "seq": row["seq"]})
    finally:
        db.dispose()
    result, outcome = install.verify()
    assert result.exit_code == 1
    assert (outcome["problem"], outcome["first_bad_seq"], outcome["records"]) == ("diverged", 6, 6)
    assert T0_SHOWN in outcome["message_en"] and "viết lại" in outcome["message_vi"]


def test_each_dev_installation_has_its_own_audit_key(install, tmp_path):
    first = Settings.from_env({"KYSO_DATA_DIR": str(tmp_path / "a")})
    second = Settings.from_env({"KYSO_DATA_DIR": str(tmp_path / "b")})
    assert first.audit_key != second.audit_key
    assert len(bytes.fromhex(first.audit_key)) == 32 and FORMER_DEV_KEY.decode() not in (first.audit_key,
                                                                                         second.audit_key)
    key_file = tmp_path / "a" / "audit.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert Settings.from_env({"KYSO_DATA_DIR": str(tmp_path / "a")}).audit_key == first.audit_key   # kept

    # a record rewritten with the constant every installation used to share no longer verifies
    office = install.office(T0)
    try:
        work(office, range(3))
    finally:
        office.close()
    assert install.verify()[0].exit_code == 0
    from registers.db import Database

    db = Database.connect(install.settings().database_url)
    try:
        with db.session() as s:
            row = dict(s.execute(text("SELECT * FROM audit WHERE seq = 3")).mappings().one())
        row["documents"], row["detail"] = json.loads(row["documents"]), json.loads(row["detail"])
        row["detail"]["user"] = "ke-gia-mao"
        digest = record_hash(row)
        mac = hmac.new(FORMER_DEV_KEY, digest.encode("ascii"), hashlib.sha256).hexdigest()
        with db.session() as s:
            s.execute(text("UPDATE audit SET detail = :detail, record_hash = :h, mac = :m WHERE seq = 3"),
                      {"detail": json.dumps(row["detail"], ensure_ascii=False), "h": digest, "m": mac})
    finally:
        db.dispose()
    result, outcome = install.verify()
    assert result.exit_code == 1 and (outcome["problem"], outcome["first_bad_seq"]) == ("bad_mac", 3)


def test_production_wants_32_bytes_of_entropy_in_the_audit_key():
    refused = [
        secrets.token_hex(8),                             # 16 bytes
        "a" * 40,                                         # long, one character
        "ab" * 24,                                        # long, a pattern
        secrets.token_hex(20),                            # 40 characters, but 20 random bytes in hex
        base64.b64encode(bytes(range(8)) * 4).decode(),   # base64 of 32 bytes with only 8 values
        None,                                             # none at all
    ]
    for key in refused:
        env = {**SAFE_PRODUCTION, **({"KYSO_AUDIT_KEY": key} if key else {})}
        with pytest.raises(ConfigurationError) as info:
            Settings.from_env(env)
        assert "KYSO_AUDIT_KEY" in str(info.value) and "32 bytes" in str(info.value), key
    for key in (secrets.token_hex(32), base64.b64encode(secrets.token_bytes(32)).decode(),
                secrets.token_urlsafe(32)):
        assert Settings.from_env({**SAFE_PRODUCTION, "KYSO_AUDIT_KEY": key}).audit_key == key


def test_the_service_checkpoints_its_head_every_100_records_at_most_every_10_minutes(install):
    from office import auditing

    clock = {"now": T0}
    from office import Office

    office = Office.from_settings(install.settings(), clock=lambda: clock["now"])

    def settled():
        deadline = time.monotonic() + 60
        while any(t.name == "kyso-audit-checkpoint" for t in threading.enumerate()):
            assert time.monotonic() < deadline, "the checkpoint thread did not finish"
            time.sleep(0.05)

    try:
        work(office, range(auditing.EVERY - 1))
        settled()
        assert install.checkpoints() == []
        work(office, range(auditing.EVERY - 1, auditing.EVERY))      # record 100
        settled()
        assert [p.name for p in install.checkpoints()] == ["000000000100-20261204T031500000000Z.json"]
        work(office, range(auditing.EVERY, 2 * auditing.EVERY + 5))   # 105 more, within 10 minutes
        settled()
        assert len(install.checkpoints()) == 1
        clock["now"] = T0 + timedelta(minutes=10)
        work(office, range(2 * auditing.EVERY + 5, 2 * auditing.EVERY + 6))
        settled()
        assert [p.name[:12] for p in install.checkpoints()] == ["000000000100", "000000000206"]
    finally:
        office.close()
    result, outcome = install.verify()
    assert result.exit_code == 0 and outcome["checkpoint"]["seq"] == 206
