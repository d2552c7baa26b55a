"""Who is asking: an account of the office, as every use case sees it."""
from __future__ import annotations

import dataclasses

from office.errors import Forbidden, NoAgency

__all__ = ["READERS", "ROLES", "SIGNERS", "Caller"]

ROLES = ("official", "clerk", "receiver", "auditor", "admin")
SIGNERS = ("official", "clerk")
READERS = ("official", "clerk", "receiver", "auditor")
ROLE_NAMES = {"official": ("Người ký", "Official"), "clerk": ("Văn thư", "Clerk"),
              "receiver": ("Văn thư văn bản đến", "Receiving clerk"), "auditor": ("Kiểm toán viên", "Auditor"),
              "admin": ("Quản trị", "Administrator")}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Caller:
    """An authenticated account: its name, role and agency (the abbreviation in its numbers)."""

    username: str
    display_name: str
    role: str
    agency: str | None
    key_kind: str | None = None
    certificate_sha256: str | None = None
    client: str | None = None          # the client's address (for the audit trail), set by the door

    @classmethod
    def from_account(cls, account, *, client: str | None = None) -> Caller:
        return cls(username=account.username, display_name=account.display_name, role=account.role,
                   agency=account.agency, key_kind=account.key_kind, certificate_sha256=account.certificate_sha256,
                   client=client)

    def at(self, client: str | None) -> Caller:
        return dataclasses.replace(self, client=(client or "")[:64] or None)

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden(detail={"role": self.role, "allowed": list(roles)})

    def require_agency(self) -> str:
        if not self.agency:
            raise NoAgency(detail={"account": self.username})
        return self.agency

    def to_dict(self) -> dict:
        return {"username": self.username, "display_name": self.display_name, "role": self.role,
                "agency": self.agency}
