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

from datetime import datetime, timezone
from typing import Callable

__all__ = ["Clock", "fixed", "read", "system_clock"]

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
