"""Shared helpers of the benchmark scripts: medians of wall time, memory readings."""
from __future__ import annotations

import statistics
import time
from pathlib import Path


def median_ms(fn, repeat: int, cleanup=None) -> float:
    """Median wall time of ``fn`` in ms after one warm-up call; ``cleanup(result)`` runs untimed."""
    cleanup = cleanup or (lambda result: None)
    cleanup(fn())
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
        cleanup(result)
    return statistics.median(times)


def status_kib(field: str) -> int:
    """A memory figure of this process from /proc (ru_maxrss survives exec: useless in a child)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    """Reset VmHWM to the current RSS."""
    Path("/proc/self/clear_refs").write_text("5")
