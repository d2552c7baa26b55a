"""Web sessions and failed logins, kept in the database so that every process sees the same.

A web session is a random id the browser holds (in the signed cookie); the table keeps only its
SHA-256, the account, when it began and ends, when it was last seen and when it was revoked. A
copied cookie is worth nothing once its row is revoked: at logout, or when the account's tokens are
rotated or revoked, or the account disabled (``registers.accounts`` calls :func:`end_sessions_of`).

Failed logins are counted in a fixed window per key (``address``: a client address, ``account``: a
username), one row per key, updated under the database's writer lock so that concurrent workers
count every failure. Every moment comes from the caller (``at=``): the office reads its clock once.
"""
from __future__ import annotations

import dataclasses
import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from registers.db import Database
from registers.models import LoginFailure, WebSession

KINDS = ("address", "account")
#: how stale ``last_seen_at`` may get before a request writes it again (no write on every request)
SEEN_EVERY = timedelta(minutes=5)


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC (SQLite keeps no offset: everything is stored and compared in UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def end_sessions_of(session: Session, *, username: str, at: datetime) -> int:
    """Revoke every live web session of ``username`` in the caller's transaction; how many."""
    return session.execute(update(WebSession).where(WebSession.username == username,
                                                    WebSession.revoked_at.is_(None))
                           .values(revoked_at=utc(at))).rowcount


class WebSessions:
    """The web sessions of the office's accounts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def open(self, *, username: str, at: datetime, lifetime: timedelta) -> str:
        """A new session for ``username`` ending ``lifetime`` after ``at``: its random id (given once,
        kept as its SHA-256). Sessions already over are cleared away."""
        session_id = secrets.token_urlsafe(32)
        now = utc(at)
        with self.db.session() as s:
            s.execute(delete(WebSession).where(WebSession.expires_at < now))
            s.add(WebSession(id_sha256=session_hash(session_id), username=username, created_at=now,
                             expires_at=now + lifetime, last_seen_at=now, revoked_at=None))
        return session_id

    def live(self, session_id: str | None, *, at: datetime) -> str | None:
        """The username of the session ``session_id`` if it is live at ``at`` (not revoked, begun and
        not ended), else None. Marks it seen (at most every few minutes)."""
        if not session_id or not isinstance(session_id, str) or len(session_id) > 200:
            return None
        digest, now = session_hash(session_id), utc(at)
        with self.db.read_session() as s:
            row = s.get(WebSession, digest)
            if row is None or row.revoked_at is not None:
                return None
            if not utc(row.created_at) <= now < utc(row.expires_at):
                return None
            username, seen = row.username, row.last_seen_at
        if seen is None or now - utc(seen) >= SEEN_EVERY:
            with self.db.session() as s:
                s.execute(update(WebSession).where(WebSession.id_sha256 == digest).values(last_seen_at=now))
        return username

    def revoke(self, session_id: str | None, *, at: datetime) -> bool:
        """End the session ``session_id`` (logout); whether a live one was ended."""
        if not session_id or not isinstance(session_id, str) or len(session_id) > 200:
            return False
        with self.db.session() as s:
            return s.execute(update(WebSession).where(WebSession.id_sha256 == session_hash(session_id),
                                                      WebSession.revoked_at.is_(None))
                             .values(revoked_at=utc(at))).rowcount > 0

    def revoke_all(self, *, username: str, at: datetime) -> int:
        """End every session of ``username``; how many were live."""
        with self.db.session() as s:
            return end_sessions_of(s, username=username, at=at)


@dataclasses.dataclass(frozen=True)
class Failures:
    """The failed logins of one key in its current window."""

    kind: str
    key: str
    count: int
    window_start: datetime

    def ends(self, window: timedelta) -> datetime:
        return self.window_start + window


class LoginFailures:
    """Failed logins per key in fixed windows: the first failure opens a window of ``window``; the
    failures in it are counted; once it is over, the next failure opens a new one."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def current(self, *, kind: str, key: str, at: datetime, window: timedelta) -> Failures | None:
        """The failures of the window ``at`` falls in, or None (none yet, or the window is over)."""
        with self.db.read_session() as s:
            row = s.get(LoginFailure, (_kind(kind), key[:128]))
            return _in_window(row, at=utc(at), window=window)

    def fail(self, *, kind: str, key: str, at: datetime, window: timedelta) -> Failures:
        """Count one failure of ``key`` at ``at``; the failures of its window, this one included."""
        now, key = utc(at), key[:128]
        with self.db.session() as s:
            self.db.lock(s, "login_failure")      # one writer at a time: no failure lost, no duplicate row
            s.execute(delete(LoginFailure).where(LoginFailure.window_start <= now - window))   # windows over
            row = s.get(LoginFailure, (_kind(kind), key))
            if row is None:
                row = LoginFailure(kind=kind, key=key, window_start=now, count=1)
                s.add(row)
            elif _in_window(row, at=now, window=window) is None:
                row.window_start, row.count = now, 1
            else:
                row.count += 1
            s.flush()
            return Failures(kind=kind, key=key, count=row.count, window_start=utc(row.window_start))


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"a login failure is counted per {' or '.join(KINDS)}, not {kind!r}")
    return kind


def _in_window(row: LoginFailure | None, *, at: datetime, window: timedelta) -> Failures | None:
    if row is None:
        return None
    start = utc(row.window_start)
    if not start <= at < start + window:
        return None
    return Failures(kind=row.kind, key=row.key, count=row.count, window_start=start)
