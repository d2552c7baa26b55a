"""gunicorn settings for Kyso in production:

    gunicorn -c python:commands.gunicorn_conf -w 4 'api:create_app()'

- Before any worker forks, ``kyso doctor`` runs once in a process of its own: the database, the
  token (one PIN attempt for the whole start, under the PIN guard) and the TSA. A problem stops
  the start with one line naming the setting to fix. It also runs the crash reconciler; what that
  cannot repair is logged (WARN) and does not stop the start.
- Prometheus metrics from every worker are added up (``PROMETHEUS_MULTIPROC_DIR`` under
  ``KYSO_DATA_DIR/metrics``, emptied at each start; a dead worker's gauges are dropped).
- It listens on ``KYSO_HOST:KYSO_PORT`` unless ``-b`` says otherwise.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from kyso.settings import Settings

_settings = Settings.from_env()       # unknown or unsafe settings stop here, before anything starts
_metrics = Path(_settings.data_dir).resolve() / "metrics"
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics)   # before a worker imports prometheus_client

# imported here, once, before any worker forks: child_exit runs in the arbiter's SIGCHLD handler, and an
# import there can meet a half-imported module and crash the arbiter (seen when workers died at boot)
from prometheus_client import multiprocess  # noqa: E402

bind = [f"{_settings.host}:{_settings.port}"]
worker_class = "sync"
timeout = 120


def on_starting(server) -> None:
    if _metrics.exists():
        shutil.rmtree(_metrics)
    _metrics.mkdir(parents=True, mode=0o700)
    doctor = subprocess.run([sys.executable, "-m", "commands.main", "doctor"], capture_output=True, text=True,
                            timeout=300, check=False)
    for line in (doctor.stdout + doctor.stderr).splitlines():
        server.log.info("kyso doctor: %s", line)
    # 3: the service can start, the reconciler found rows it cannot repair (logged above as WARN lines)
    if doctor.returncode not in (0, 3):
        problems = [line[5:] for line in doctor.stderr.splitlines() if line.startswith("FAIL ")]
        raise RuntimeError("Kyso cannot start: " + ("; ".join(problems) or doctor.stderr.strip()[-500:]))


def child_exit(server, worker) -> None:
    multiprocess.mark_process_dead(worker.pid)
