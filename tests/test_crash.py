"""kill -9 at every step of signing and issuing, then the reconciler (issue 14). Before: after five
kills, 6 numbers stayed ``reserved`` (voided only at a start-up, and only after 10 minutes), 3 stored
files had no row, and ``kyso audit verify`` / ``kyso doctor`` said nothing. Now ``kyso doctor`` voids
each number with its reason, quarantines each file, finds no operation without its audit record, and a
second run finds nothing left."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from kyso.samples import make_pdf
from kyso.settings import Settings
from registers.db import Database
from registers.models import AuditRecord, OutgoingEntry, StoredDocument

ROOT = Path(__file__).resolve().parents[1]
STEPS = [("sign", "stored"), ("sign", "audited"), ("issue", "reserved"), ("issue", "stored"),
         ("issue", "audited"), ("sign", "none")]


@pytest.fixture()
def drafts(engine, pki, tmp_path):
    """Three personally signed drafts (one issuance per draft: each kill needs its own)."""
    from certs_dev.images import load_dev_image
    from registers.numbering import SqliteNumbering
    from signer import SoftwareKeyHolder
    from signer.issuance import IssuanceWorkflow

    workflow = IssuanceWorkflow(engine=engine, numbering=SqliteNumbering(tmp_path / "drafts.db"))
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    return [workflow.sign_personal(workflow.prepare(make_pdf(title=f"Quyet dinh {i}")), key_holder=holder,
                                   signature_image=load_dev_image("nguyen-van-an")).data for i in range(3)]


def _env(pki_server, softhsm_token, data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYSO_")}
    env.update(softhsm_token.env, KYSO_DATA_DIR=str(data_dir), KYSO_DEV_PKI_URL=pki_server.base_url,
               KYSO_PKCS11_TOKEN=softhsm_token.token_label, KYSO_PKCS11_PIN=softhsm_token.user_pin)
    return env


def _doctor(env: dict) -> tuple[int, dict]:
    done = subprocess.run([sys.executable, "-m", "commands.main", "doctor", "--json", "--grace", "0"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_kill_at_every_step_leaves_nothing_the_reconciler_does_not_find(pki_server, softhsm_token, tmp_path,
                                                                        drafts):
    data_dir = tmp_path / "office"
    env = _env(pki_server, softhsm_token, data_dir)
    source = tmp_path / "source.pdf"
    outcomes = {}
    for index, (action, step) in enumerate(STEPS):
        source.write_bytes(drafts.pop() if action == "issue" else make_pdf(title=f"Cong van {index}"))
        done = subprocess.run([sys.executable, str(ROOT / "tests" / "crash_worker.py"), str(data_dir),
                               pki_server.base_url, step, action, str(source)],
                              env=env, capture_output=True, text=True, timeout=300, check=False)
        outcomes[(action, step)] = done.returncode
        assert (done.returncode == -9) == (step != "none"), (action, step, done.stderr[-2000:])

    db = Database.connect(Settings(data_dir=data_dir).database_url)
    try:
        with db.read_session() as s:
            reserved_before = s.scalars(select(OutgoingEntry).where(OutgoingEntry.status == "reserved")).all()
            rows_before = set(s.scalars(select(StoredDocument.sha256)))
        files_before = {p.name[:64] for p in (data_dir / "documents").rglob("*.pdf")}
        # what the kills left: one number per killed issuance, one file without a row per kill after the store
        assert len(reserved_before) == 3
        assert len(files_before - rows_before) == 4

        code, report = _doctor(env)
        assert code == 0, report
        found = report["reconciled"]
        assert len(found["voided_numbers"]) == 3
        assert len(found["quarantined_files"]) == 4 and found["missing_audit"] == [] and found["missing_files"] == []
        assert {p.name[:64] for p in (data_dir / "quarantine").glob("*.pdf")} == files_before - rows_before

        with db.read_session() as s:
            entries = s.scalars(select(OutgoingEntry)).all()
            assert {e.status for e in entries} == {"void"}
            assert all("interrupted" in e.reason and "+07:00" in e.reason for e in entries)
            rows = set(s.scalars(select(StoredDocument.sha256)))
            audited = {d for docs in s.scalars(select(AuditRecord.documents)) for d in docs}
            actions = list(s.scalars(select(AuditRecord.action)))
        assert rows == {p.name[:64] for p in (data_dir / "documents").rglob("*.pdf")}
        assert rows <= audited
        assert actions.count("reconcile") == 1
        code, again = _doctor(env)
        assert code == 0 and again["reconciled"]["voided_numbers"] == [] \
            and again["reconciled"]["quarantined_files"] == []
        # what it cannot repair (a stored file deleted behind the service's back) is named: exit 3, the
        # service still starts (gunicorn's start accepts 3 and logs the WARN line)
        gone = sorted(rows)[0]
        next((data_dir / "documents").rglob(gone + ".pdf")).unlink()
        code, broken = _doctor(env)
        assert code == 3 and broken["reconciled"]["missing_files"] == [gone] and not broken["reconciled"]["ok"]
    finally:
        db.dispose()
