"""The composition root: builds the signer (and later the verifier and the
registers) from :class:`~kyso.settings.Settings`.

``api.py`` and ``kyso.cli`` ask this module for ready objects and never
assemble them themselves. In dev mode it loads ``certs_dev`` for the
configured base URL, provisions a SoftHSM2 token under ``data_dir`` with the
officials' and agencies' keys, and opens them through PKCS#11 exactly as a
production HSM would be used.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path

from kyso.errors import ConfigurationError, ErrorKind, KysoError
from kyso.settings import DEV_PKCS11_SO_PIN, Settings
from signer import KeyHolder, Pkcs11Token, SigningEngine, SigningPolicy

log = logging.getLogger(__name__)


class Unauthenticated(KysoError):
    code = "unauthenticated"
    kind = ErrorKind.UNAUTHENTICATED
    message_en = "A valid API token is required (Authorization: Bearer <token>)."
    message_vi = "Cần mã truy cập hợp lệ (Authorization: Bearer <token>)."


@dataclasses.dataclass(frozen=True)
class Official:
    """A user: an official or agency key holder signs with exactly one key, their own; an auditor
    reads and signs nothing."""

    label: str
    display_name: str
    role: str            # "official", "agency" or "auditor"
    token: str           # development API token (the service issue brings real accounts)
    key_holder: KeyHolder | None = dataclasses.field(default=None, repr=False)


class Forbidden(KysoError):
    code = "forbidden"
    kind = ErrorKind.FORBIDDEN
    message_en = "Your role does not allow this."
    message_vi = "Vai trò của bạn không được phép thực hiện thao tác này."


def dev_token(label: str) -> str:
    """The development API token of a dev identity (printed by ``make run``)."""
    return f"kyso-dev-{label}"


class Services:
    """Long-lived objects of one Kyso process."""

    def __init__(self, *, settings: Settings, engine: SigningEngine, officials: dict[str, Official],
                 pki=None, token: Pkcs11Token | None = None, office=None) -> None:
        self.settings = settings
        self.engine = engine
        self.pki = pki
        self.office = office
        self._officials_by_token = {o.token: o for o in officials.values()}
        self.officials = officials
        self._token = token
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "Services":
        if settings.is_production:
            raise ConfigurationError(
                "production key binding arrives with the service issue; run in dev mode",
                message_vi="Chế độ production chưa hỗ trợ gán khóa; hãy chạy ở chế độ dev.")
        return cls.for_dev(settings)

    @classmethod
    def for_dev(cls, settings: Settings, *, token: Pkcs11Token | None = None) -> "Services":
        """Dev services; ``token`` reuses an open SoftHSM2 session (tests share one per process)."""
        from devpki import DevPKI
        from devpki.softhsm import provision_token

        pki = DevPKI.load(settings.dev_pki_url)
        identities = [i for i in pki.identities if i.role in ("official", "agency")]
        if token is None:
            soft = provision_token(pki, Path(settings.data_dir) / "softhsm", label=settings.pkcs11_token,
                                   user_pin=settings.pkcs11_pin, so_pin=DEV_PKCS11_SO_PIN,
                                   identities=identities)
            soft.activate()
            token = Pkcs11Token.open(module=settings.pkcs11_module, token_label=settings.pkcs11_token,
                                     pin=settings.pkcs11_pin)
        officials = {}
        for ident in identities:
            holder = token.key_holder(ident.label, chain=pki.chain(ident.label))
            officials[ident.label] = Official(label=ident.label, display_name=ident.display_name,
                                              role=ident.role, token=dev_token(ident.label),
                                              key_holder=holder)
        officials["auditor"] = Official(label="auditor", display_name="Kiểm toán viên (dev)", role="auditor",
                                        token=dev_token("auditor"))
        policy = SigningPolicy.for_dev_pki(
            pki, rsa_padding=settings.rsa_padding,
            **({"check_chain_and_revocation": False} if settings.revocation_check == "dangerous-skip" else {}))
        from kyso.office import Office
        from verifier import VerificationPolicy

        office = Office.from_settings(settings, policy=VerificationPolicy.for_profile("dev", dev_pki=pki))
        return cls(settings=settings, engine=SigningEngine(policy=policy), officials=officials,
                   pki=pki, token=token, office=office)

    def official_for_token(self, token: str | None, *, roles: tuple[str, ...] | None = None) -> Official:
        official = self._officials_by_token.get(token or "")
        if official is None:
            raise Unauthenticated()
        if roles is not None and official.role not in roles:
            raise Forbidden(detail={"role": official.role, "allowed": list(roles)})
        return official

    def close(self) -> None:
        if self._token is not None:
            self._token.close()
            self._token = None
