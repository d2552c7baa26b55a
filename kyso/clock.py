"""Time, injected: one clock per operation.

A clock is any callable returning a timezone-aware ``datetime``. An operation (a signature, an
issuance, a verification, a receipt) reads its clock once and hands that moment to every step:
the certificate check, the signing time, the timestamp, the validation data, the number's year,
the date shown on the page and the register rows. Nothing in an operation reads the wall clock on
its own; the development PKI answers as of the same moment (``devpki.clocked``).

    from kyso.clock import fixed, system_clock
    engine = SigningEngine(policy=policy, clock=fixed(datetime(2026, 11, 21, 2, 37, tzinfo=timezone.utc)))
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Callable, Iterator

__all__ = ["Clock", "fixed", "operation", "operation_moment", "read", "system_clock"]

_operation: ContextVar[datetime | None] = ContextVar("kyso_operation_moment", default=None)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The wall clock, in UTC (the default of every component)."""
    return datetime.now(timezone.utc)


def fixed(moment: datetime) -> Clock:
    """A clock that always answers ``moment`` (tests, replays, documents dated in advance)."""
    if moment.tzinfo is None:
        raise ValueError("a clock's moment must be timezone-aware")
    return lambda: moment


def read(clock: Clock | None) -> datetime:
    """Read ``clock`` (the wall clock when None), refusing a naive answer."""
    moment = (clock or system_clock)()
    if moment.tzinfo is None:
        raise ValueError("the clock must return timezone-aware datetimes")
    return moment


@contextlib.contextmanager
def operation(moment: datetime) -> Iterator[datetime]:
    """``with operation(moment):`` the steps run inside belong to the operation of ``moment``.

    For the libraries that stamp a time of their own (pyHanko's writer dates every update it writes,
    the info dictionary's ``/ModDate`` and XMP's ``ModifyDate``): ``hazmat.pyhanko_moddate`` gives
    them this moment instead of the wall clock."""
    if moment.tzinfo is None:
        raise ValueError("an operation's moment must be timezone-aware")
    token = _operation.set(moment)
    try:
        yield moment
    finally:
        _operation.reset(token)


def operation_moment() -> datetime | None:
    """The moment of the operation this code runs in (None outside one)."""
    return _operation.get()
