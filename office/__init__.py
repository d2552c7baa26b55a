"""The office: every use case of a Vietnamese state office's document work, and the only way in.

    from office import Office
    office = Office.from_settings(settings)          # office.compose: engines, registers, keys
    caller = office.authenticate(api_token)
    issued = office.issue(caller, draft, doc_type="QĐ", level=Level.B_T)

Each use case checks the caller's role and agency, enforces the Decree 30 rules, and writes its
register rows, the stored file and the audit record together. The doors (``api``, ``webui``, the
``kyso`` command in ``commands``) parse input, call one use case and render its result; they never
reach the registers or the engines themselves.
"""
from office.admin import AdminUseCases
from office.archiving import Archived, ArchivingUseCases
from office.caller import READERS, ROLE_NAMES, ROLES, SIGNERS, Caller
from office.core import OfficeBase, Stored
from office.errors import (
    AgencyMismatch,
    BadInput,
    DocumentNotFound,
    FileMissing,
    Forbidden,
    IncomingNotValid,
    LevelInvalid,
    MissingImage,
    NoAgency,
    NoAgencyKey,
    NotIssued,
    TooManyAttempts,
    Unauthenticated,
    http_headers,
    http_status,
)
from office.incoming import IncomingUseCases
from office.jobs import JobUseCases
from office.outgoing import Issued, OutgoingUseCases, Prepared, Signed
from office.reading import ReadingUseCases
from office.sessions import SessionUseCases


def __getattr__(name: str):
    # the signer's value types a door passes to a use case, imported when first asked for (pyHanko is heavy)
    if name == "Placement":
        from signer.appearance import Placement

        return Placement
    raise AttributeError(f"module 'office' has no attribute {name!r}")


class Office(OutgoingUseCases, IncomingUseCases, JobUseCases, ReadingUseCases, ArchivingUseCases, AdminUseCases,
             SessionUseCases, OfficeBase):
    """One office's use cases (see the module docstring); build it with :meth:`from_settings`."""

    @staticmethod
    def local_admin() -> Caller:
        """The administrator at the server's command line (the operating-system user)."""
        import getpass

        return Caller(username=getpass.getuser(), display_name=getpass.getuser(), role="admin", agency=None,
                      client="local")

    @classmethod
    def from_settings(cls, settings, **kwargs) -> "Office":
        from office.compose import compose

        return compose(cls, settings, **kwargs)


__all__ = [
    "READERS",
    "ROLES",
    "ROLE_NAMES",
    "SIGNERS",
    "AgencyMismatch",
    "BadInput",
    "Caller",
    "DocumentNotFound",
    "FileMissing",
    "Forbidden",
    "IncomingNotValid",
    "Archived",
    "Issued",
    "LevelInvalid",
    "MissingImage",
    "NoAgency",
    "NoAgencyKey",
    "NotIssued",
    "Office",
    "Placement",
    "Prepared",
    "Signed",
    "Stored",
    "TooManyAttempts",
    "Unauthenticated",
    "http_headers",
    "http_status",
]
