"""Many processes starting at once on an empty database (several gunicorn workers, nodes, the
`kyso` command) all come up: the migrations run once, under a lock; the others wait and find the
schema ready."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from conftest import _drop_postgres, _fresh_postgres_url

ROOT = Path(__file__).resolve().parent.parent
UPGRADE = "import sys; from registers.db import Database; Database.connect(sys.argv[1]).upgrade(); print('up')"


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_eight_processes_migrate_an_empty_database_at_once(backend, tmp_path):
    url = _fresh_postgres_url() if backend == "postgresql" else f"sqlite:///{tmp_path / 'kyso.sqlite'}"
    try:
        procs = [subprocess.Popen([sys.executable, "-c", UPGRADE, url], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(8)]
        results = [(p.wait(timeout=180), p.stdout.read(), p.stderr.read()) for p in procs]
        failed = [err[-1500:] for code, _, err in results if code != 0]
        assert not failed, failed[0]
        engine = create_engine(url)
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        engine.dispose()
        heads = sorted(p.name.split("_")[0] for p in (ROOT / "registers/migrations/versions").glob("0*.py"))
        assert versions == [heads[-1]]
    finally:
        if backend == "postgresql":
            _drop_postgres(url)


def test_two_nodes_of_three_workers_start_at_once_on_an_empty_database_and_bucket(pki_server, s3_server, tmp_path):
    """What a two-node deployment does on its first start: six processes (three gunicorn workers
    per node, each node its own data folder) build the whole service at once on one empty
    PostgreSQL database and one empty bucket prefix; every one comes up (the development accounts
    were created twice at once and one start crashed with "user exists" before they were set up
    under a database lock)."""
    import os

    url = _fresh_postgres_url()
    code = ("from api import create_app; from kyso.settings import Settings; "
            "create_app(Settings.from_env()); print('up')")
    try:
        procs = []
        for i in range(6):
            env = {k: v for k, v in os.environ.items() if not k.startswith("KYSO_") and k != "SOFTHSM2_CONF"}
            env.update(KYSO_DATA_DIR=str(tmp_path / f"node-{i % 2}"), KYSO_DATABASE_URL=url,
                       KYSO_DEV_PKI_URL=pki_server.base_url, KYSO_AUDIT_KEY="c3" * 32,
                       KYSO_STORE_URL=f"s3://kyso-tests/start-{tmp_path.name}", KYSO_S3_ENDPOINT_URL=s3_server.endpoint,
                       KYSO_S3_ACCESS_KEY_ID="kyso", KYSO_S3_SECRET_ACCESS_KEY="kyso")
            procs.append(subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
        results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]
        failed = [err[-1500:] for code, _, err in results if code != 0]
        assert not failed, failed[0]
        assert all(out.strip().endswith("up") for _, out, _ in results)
    finally:
        _drop_postgres(url)
