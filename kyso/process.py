"""What a long-lived Kyso process does once it is set up (a web worker, ``kyso verify`` over many
files)."""
from __future__ import annotations

import gc
import os

__all__ = ["cores", "idle_core", "settle"]


def settle() -> None:
    """Collect what setting up left behind, then freeze the rest: the modules, the application and
    the trust store live as long as the process, so Python's full garbage collections need not
    scan them again. Measured on a 1,000-page document with 5 signatures: every verification
    230-240 ms with it, 230-550 ms without (a full collection over a few hundred thousand set-up
    objects, at a moment no one chooses)."""
    gc.collect()
    gc.freeze()


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def idle_core() -> bool:
    """Whether another core stands idle now: more than one core, and nothing runnable on the
    machine but the caller (the kernel's count in /proc/loadavg; 5-10 us to read; False where there
    is none). Work moved to another thread shortens an operation when a core is idle, and costs
    throughput when every core is busy (signing 1 MB on a second core: 9% faster alone, 5% slower
    with both cores signing)."""
    if cores() < 2:
        return False
    try:
        fd = os.open("/proc/loadavg", os.O_RDONLY)
        try:
            running = int(os.read(fd, 128).split()[3].split(b"/")[0])
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return False
    return running < cores()
