"""The suite again, in a process whose clock is a year ahead (libfaketime), started at the beginning
of the session so that it runs on the second core while this one runs the rest; the test
``test_clock.py::test_the_suite_passes_with_the_clock_a_year_ahead`` waits for it and judges it."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

TEST_NAME = "test_the_suite_passes_with_the_clock_a_year_ahead"
# set in the rerun's environment (not a KYSO_ name: the settings refuse unknown ones)
CHILD_MARK = "MOVED_CLOCK_RERUN_OF_KYSO_TESTS"
ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass
class MovedRun:
    target: datetime
    process: subprocess.Popen
    output: Path
    clock_read: float

    def wait(self, timeout: float = 1800) -> tuple[int, str]:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = -9
        return code, self.output.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


_running: MovedRun | None = None


def start() -> MovedRun:
    """Start (once per session) the fast tests under a clock a year after this process's now: an
    absolute start, right even when this run is itself moved."""
    global _running
    if _running is not None:
        return _running
    if os.environ.get(CHILD_MARK):
        raise RuntimeError("the moved-clock rerun does not start a rerun of its own")
    env = {k: v for k, v in os.environ.items() if k not in ("SOFTHSM2_CONF", "PYTEST_ADDOPTS", "XDG_DATA_HOME")}
    target = datetime.now(timezone.utc) + timedelta(days=365)
    ahead = ["faketime", "-f", f"@{target:%Y-%m-%d %H:%M:%S}"]
    env["TZ"] = "UTC"
    env[CHILD_MARK] = "1"
    moved = subprocess.run([*ahead, sys.executable, "-c", "import time; print(time.time())"],
                           capture_output=True, text=True, check=True, env=env)
    work = Path(tempfile.mkdtemp(prefix="kyso-moved-clock-"))
    output = work / "output.txt"
    with open(output, "wb") as sink:
        process = subprocess.Popen([*ahead, sys.executable, "-m", "pytest", "-m", "not slow", "-q",
                                    "-p", "no:cacheprovider", "--basetemp", str(work / "run")],
                                   cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    _running = MovedRun(target=target, process=process, output=output, clock_read=float(moved.stdout))
    return _running


def running() -> MovedRun | None:
    return _running
