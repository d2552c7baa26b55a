"""Run pyHanko's coroutines from synchronous code on a per-thread event loop.

``asyncio.run`` builds and tears down an event loop each call (~0.3 ms, a
noticeable share of signing a 1 MB document); one loop per thread, kept,
does the same job. Each call still awaits to completion before returning.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Awaitable, TypeVar

T = TypeVar("T")
_local = threading.local()


def run(coro: Awaitable[T]) -> T:
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
    return loop.run_until_complete(coro)
