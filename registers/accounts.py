"""Users, roles and API tokens.

Roles: ``official`` (signs with their own certificate only), ``clerk`` (văn thư:
numbers and issues, holds the agency key), ``receiver`` (verifies and registers
incoming documents), ``auditor`` (reads everything, changes nothing), ``admin``
(manages users and keys). A token is random (32 bytes), shown once, stored as
its SHA-256; rotating revokes the old ones, and revoking an account's tokens (or
disabling it) also ends its web sessions (``registers.sessions``). The key a user
signs with is bound here, by an administrator, and is never taken from a request.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import bindparam, select, update

from kyso.errors import ErrorKind, KysoError
from registers.db import Database
from registers.models import ApiToken, User
from registers.sessions import end_sessions_of

ROLES = ("official", "clerk", "receiver", "auditor", "admin")
KEY_KINDS = ("pkcs11", "pkcs12", "dev")


class AccountError(KysoError):
    code = "account_invalid"
    kind = ErrorKind.INVALID_INPUT
    message_en = "The account request is not valid."
    message_vi = "Yêu cầu về tài khoản không hợp lệ."


class UnknownUser(AccountError):
    code = "user_not_found"
    kind = ErrorKind.NOT_FOUND
    message_en = "No such user."
    message_vi = "Không có người dùng này."


@dataclasses.dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    role: str
    key_kind: str | None
    key_ref: str | None
    certificate_sha256: str | None
    image_sha256: str | None
    agency: str | None
    disabled: bool

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _account(u: User) -> Account:
    return Account(username=u.username, display_name=u.display_name, role=u.role, key_kind=u.key_kind,
                   key_ref=u.key_ref, certificate_sha256=u.certificate_sha256, image_sha256=u.image_sha256,
                   agency=u.agency, disabled=bool(u.disabled))


# the active account holding a token (by its SHA-256): not revoked, not disabled
_ACTIVE_HOLDER = (
    select(ApiToken.token_hash, User.username, User.display_name, User.role, User.key_kind, User.key_ref,
           User.certificate_sha256, User.image_sha256, User.agency)
    .join(User, User.username == ApiToken.username)
    .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None),
           User.disabled.is_not(True))
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self._clock = clock or _now

    def create(self, username: str, *, display_name: str, role: str, agency: str | None = None) -> Account:
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}", detail={"role": role})
        if not username or len(username) > 64 or not all(c.isalnum() or c in "-_.@" for c in username):
            raise AccountError("a username is 1-64 letters, digits, '-', '_', '.', '@'")
        with self.db.session() as s:
            if s.get(User, username) is not None:
                raise AccountError(f"user {username!r} exists", message_vi=f"Người dùng {username!r} đã tồn tại.")
            user = User(username=username, display_name=display_name, role=role, agency=agency,
                        disabled=False, created_at=self._clock())
            s.add(user)
            s.flush()
            return _account(user)

    def get(self, username: str) -> Account:
        with self.db.read_session() as s:
            user = s.get(User, username)
            if user is None:
                raise UnknownUser(detail={"username": username})
            return _account(user)

    def list(self) -> list[Account]:
        with self.db.read_session() as s:
            return [_account(u) for u in s.scalars(select(User).order_by(User.username))]

    def bind_key(self, username: str, *, kind: str, ref: str, certificate_sha256: str | None = None) -> Account:
        if kind not in KEY_KINDS:
            raise AccountError(f"key kind must be one of {', '.join(KEY_KINDS)}")
        return self._update(username, key_kind=kind, key_ref=ref, certificate_sha256=certificate_sha256)

    def set_agency(self, username: str, agency: str | None) -> Account:
        return self._update(username, agency=agency)

    def set_image(self, username: str, sha256: str) -> Account:
        return self._update(username, image_sha256=sha256)

    def disable(self, username: str) -> Account:
        account = self._update(username, disabled=True)
        self.revoke_tokens(username)
        return account

    def _update(self, username: str, **values) -> Account:
        with self.db.session() as s:
            user = s.get(User, username)
            if user is None:
                raise UnknownUser(detail={"username": username})
            for key, value in values.items():
                setattr(user, key, value)
            s.flush()
            return _account(user)

    def issue_token(self, username: str, *, token: str | None = None) -> str:
        """A new token for the user (the old ones stay valid: see :meth:`rotate_token`)."""
        token = token or "kyso_" + secrets.token_urlsafe(32)
        with self.db.session() as s:
            if s.get(User, username) is None:
                raise UnknownUser(detail={"username": username})
            s.merge(ApiToken(token_hash=token_hash(token), username=username, created_at=self._clock(), revoked_at=None))
        return token

    def rotate_token(self, username: str) -> str:
        """Revoke every token of the user and issue a new one (shown once)."""
        self.revoke_tokens(username)
        return self.issue_token(username)

    def revoke_tokens(self, username: str) -> int:
        """Revoke every token of the user and end its web sessions, together; how many tokens."""
        at = self._clock()
        with self.db.session() as s:
            end_sessions_of(s, username=username, at=at)
            return s.execute(update(ApiToken).where(ApiToken.username == username, ApiToken.revoked_at.is_(None))
                             .values(revoked_at=at)).rowcount

    def holder_of(self, token: str | None) -> str | None:
        """The username a token was issued to, revoked or not (a failed login it can be counted
        against), or None for a token never issued."""
        if not token or len(token) > 200:
            return None
        with self.db.read_session() as s:
            row = s.get(ApiToken, token_hash(token))
            return row.username if row is not None else None

    def authenticate(self, token: str | None) -> Account | None:
        """The active account holding this token, or None."""
        if not token or len(token) > 200:
            return None
        digest = token_hash(token)
        with self.db.read_session() as s:
            # one query, columns only: every API request asks this (two ORM loads cost ~0.5 ms)
            row = s.execute(_ACTIVE_HOLDER, {"digest": digest}).first()
            if row is None or not hmac.compare_digest(row.token_hash, digest):
                return None
            return Account(username=row.username, display_name=row.display_name, role=row.role,
                           key_kind=row.key_kind, key_ref=row.key_ref, certificate_sha256=row.certificate_sha256,
                           image_sha256=row.image_sha256, agency=row.agency, disabled=False)
