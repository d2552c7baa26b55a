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
