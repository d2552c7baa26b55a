"""Logging in: web sessions kept on the server and the limit on failed logins.

A web session is a row of ``registers.sessions`` (the browser holds a random id in its signed cookie,
the database its SHA-256): every request checks the row is live and the account enabled, logout
revokes it, and rotating or revoking an account's tokens or disabling it ends all of its sessions. A
copied cookie is worth nothing once its session is over.

Failed logins (a wrong API token at the API or on the login page) are counted in the database, so
every worker and every instance on it shares the counts: per client address always (an IPv6
address per /64), and per account when the token is one of its revoked tokens (someone replaying
an old token). Past ``KYSO_LOGIN_MAX_FAILURES`` in ``KYSO_LOGIN_WINDOW_SECONDS``, every login from
that address (or with that account's revoked tokens) is refused with ``too_many_attempts`` (429)
until the window ends. A success erases nothing: the address is shared (an office behind one
router), and a token that works proves nothing about the others tried from there. The account's
valid token is never refused for its revoked tokens' failures: whoever holds an old token could
otherwise lock its owner out.
"""
from __future__ import annotations

import dataclasses
import functools
import ipaddress
import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from office.caller import READERS, Caller
from office.errors import Forbidden, TooManyAttempts, Unauthenticated

if TYPE_CHECKING:
    from registers.sessions import LoginFailures, WebSessions


def address_key(client: str | None) -> str:
    """The key a client address's failures are counted under: an IPv4 address as it is, an IPv6
    address's /64 (one household or server holds a whole /64), ``unknown`` when there is none."""
    if not client:
        return "unknown"
    try:
        address = ipaddress.ip_address(client.strip())
    except ValueError:
        return client.strip()[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclasses.dataclass(frozen=True)
class LoginThrottle:
    """The failed-login limit of an office: at most ``max_failures`` per key within ``window``."""

    failures: LoginFailures = dataclasses.field(repr=False)
    max_failures: int = 10
    window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings, *, db) -> "LoginThrottle":
        from registers.sessions import LoginFailures

        return cls(failures=LoginFailures(db), max_failures=settings.login_max_failures,
                   window=timedelta(seconds=settings.login_window_seconds))

    def check(self, *, kind: str, key: str, at: datetime) -> None:
        """Raise :class:`TooManyAttempts` while ``key`` is over the limit."""
        failures = self.failures.current(kind=kind, key=key, at=at, window=self.window)
        if failures is not None and failures.count >= self.max_failures:
            wait = failures.ends(self.window) - at
            raise TooManyAttempts.for_seconds(math.ceil(wait.total_seconds()))

    def fail(self, *, kind: str, key: str, at: datetime) -> datetime | None:
        """Count one failure of ``key``; when this one reaches the limit, the end of the refusals."""
        failures = self.failures.fail(kind=kind, key=key, at=at, window=self.window)
        return failures.ends(self.window) if failures.count == self.max_failures else None


class SessionUseCases:
    """Logging in to and out of the web pages (the failed-login limit is ``OfficeBase.authenticate``'s)."""

    @functools.cached_property
    def web_sessions(self) -> WebSessions:
        from registers.sessions import WebSessions

        return WebSessions(self.db)

    def web_login(self, token: str | None, *, client: str | None, lifetime: timedelta) -> tuple[Caller, str]:
        """Log in to the web pages with an API token: the caller and the id of a new session lasting
        ``lifetime`` (the door keeps it in the browser's cookie; only its hash is stored)."""
        at = self.now()
        caller = self.authenticate(token, client=client, at=at)
        if caller.role not in READERS:
            raise self.refused(caller, "forbidden", Forbidden(detail={"role": caller.role}), via="web")
        session_id = self.web_sessions.open(username=caller.username, at=at, lifetime=lifetime)
        self._audit(caller, "login", "ok", detail={"via": "web"})
        return caller, session_id

    def web_session_caller(self, session_id: str | None, *, client: str | None = None) -> Caller:
        """The caller of a live web session (resolved again from the account: disabled or gone, the
        session is over); :class:`Unauthenticated` otherwise."""
        username = self.web_sessions.live(session_id, at=self.now())
        if username is None:
            raise Unauthenticated("Your session has ended: log in again.",
                                  message_vi="Phiên làm việc đã hết: hãy đăng nhập lại.")
        return self.caller(username, client=client)

    def end_web_session(self, session_id: str | None, *, caller: Caller | None = None) -> None:
        """Log out: the session is revoked on the server (a copy of its cookie no longer works)."""
        self.web_sessions.revoke(session_id, at=self.now())
        if caller is not None:
            self._audit(caller, "logout", "ok", detail={"via": "web"})
