"""The composition root: builds the signer (and later the verifier and the
registers) from :class:`~kyso.settings.Settings`.

``api.py`` and ``kyso.cli`` ask this module for ready objects and never
assemble them themselves. In dev mode it loads ``certs_dev`` for the
configured base URL, provisions a SoftHSM2 token under ``data_dir`` with the
officials' and agencies' keys, and opens them through PKCS#11 exactly as a
production HSM would be used.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from pathlib import Path

from kyso.clock import Clock
from kyso.errors import ErrorKind, KysoError
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


@contextlib.contextmanager
def _file_lock(path: Path):
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class MissingImage(KysoError):
    code = "image_missing"
    kind = ErrorKind.INVALID_INPUT
    message_en = "No signature image or seal is set for this user."
    message_vi = "Người dùng chưa có ảnh chữ ký hoặc con dấu."


def open_token(settings: Settings) -> Pkcs11Token:
    """The service's PKCS#11 token, logged in with ``KYSO_PKCS11_PIN`` under the installation's PIN
    guard: a PIN the token refuses costs one attempt, whatever the number of workers or restarts."""
    from signer.keyholders import PinGuard

    guard = PinGuard(Path(settings.data_dir) / "pkcs11-pin-refused.json", secret=settings.secret_key)
    return Pkcs11Token.open(module=settings.pkcs11_module, token_label=settings.pkcs11_token,
                            pin=settings.pkcs11_pin, pin_guard=guard)


def dev_token(label: str) -> str:
    """The development API token of a dev identity (printed by ``make run``)."""
    return f"kyso-dev-{label}"


DEV_EXTRA_USERS = (
    ("auditor", "Kiểm toán viên (dev)", "auditor"),
    ("receiver", "Văn thư văn bản đến (dev)", "receiver"),
    ("admin", "Quản trị hệ thống (dev)", "admin"),
)


class Services:
    """Long-lived objects of one Kyso process: the signing engine, the key store, the office
    (registers, documents, audit) and the accounts."""

    def __init__(self, *, settings: Settings, engine: SigningEngine, officials: dict[str, Official],
                 pki=None, token: Pkcs11Token | None = None, office=None, accounts=None) -> None:
        self.settings = settings
        self.engine = engine
        self.pki = pki
        self.office = office
        self.accounts = accounts
        self.officials = officials          # the dev users, for the start-up listing
        self._token = token
        self._holders: dict[str, KeyHolder] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None) -> "Services":
        """The services of ``settings``. ``clock`` (default: the wall clock) is the one clock of this
        process: the signing engine, the registers and the audit trail all read it."""
        if settings.is_production:
            return cls.for_production(settings, clock=clock)
        return cls.for_dev(settings, clock=clock)

    @classmethod
    def for_production(cls, settings: Settings, *, clock: Clock | None = None) -> "Services":
        """Production: the HSM/token from settings, users and keys from the database (bound with
        ``kyso admin``), the vn trust profile (plus administrator anchors), no development material."""
        from kyso.office import Office
        from kyso.verify_cli import build_policy
        from registers.accounts import Accounts
        from verifier.trust import TrustStore

        verification = build_policy(settings)
        office = Office.from_settings(settings, policy=verification, clock=clock)
        token = open_token(settings)
        anchors = list(verification.trust.anchors) + list(TrustStore(settings.trust_dir).list())
        from devpki import is_dev_material   # production refuses development material: it must know it

        policy = SigningPolicy.for_production(anchors, tsa_url=settings.tsa_url, rsa_padding=settings.rsa_padding,
                                              refuse_certificate=is_dev_material,
                                              revocation_max_age_seconds=settings.revocation_max_age_seconds,
                                              tsa_auth=settings.tsa_auth)
        services = cls(settings=settings, engine=SigningEngine(policy=policy, clock=clock), officials={}, pki=None,
                       token=token, office=office, accounts=Accounts(office.db, clock=clock))
        services._chains = {}
        return services

    @classmethod
    def for_dev(cls, settings: Settings, *, token: Pkcs11Token | None = None,
                clock: Clock | None = None) -> "Services":
        """Dev services; ``token`` reuses an open SoftHSM2 session (tests share one per process);
        ``clock`` (default: the wall clock) is read by the engine, the registers and the audit trail,
        and the dev PKI's OCSP, CRL and TSA answer as of the moment each operation read from it.

        Every dev identity becomes a user (officials: role official; agencies: role clerk, holding
        the agency key), plus an auditor, a receiver and an admin; their tokens are
        ``kyso-dev-<username>`` (stored hashed like any other).
        """
        from devpki import DevPKI
        from devpki.softhsm import provision_token
        from kyso.office import Office
        from registers.accounts import Accounts
        from verifier import VerificationPolicy

        pki = DevPKI.load(settings.dev_pki_url)
        identities = [i for i in pki.identities if i.role in ("official", "agency")]
        data_dir = Path(settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        # several gunicorn workers start at once: provision and create the dev users once, under a lock
        with _file_lock(data_dir / ".dev-setup.lock"):
            if token is None:
                token_dir = data_dir / "softhsm"
                marker = token_dir / "provisioned-for"
                wanted = f"{settings.dev_pki_url} {settings.pkcs11_token}"
                if not marker.exists() or marker.read_text() != wanted:
                    provision_token(pki, token_dir, label=settings.pkcs11_token, user_pin=settings.pkcs11_pin,
                                    so_pin=DEV_PKCS11_SO_PIN, identities=identities)
                    marker.write_text(wanted)
                os.environ["SOFTHSM2_CONF"] = str((token_dir / "softhsm2.conf").resolve())
                token = open_token(settings)
            office = Office.from_settings(settings, policy=VerificationPolicy.for_profile("dev", dev_pki=pki),
                                          clock=clock)
            accounts = Accounts(office.db, clock=clock)
            known = {a.username for a in accounts.list()}
            cls._create_dev_users(settings, accounts, identities, known)
        officials: dict[str, Official] = {}
        for ident in identities:
            role = "official" if ident.role == "official" else "clerk"
            officials[ident.label] = Official(label=ident.label, display_name=ident.display_name, role=role,
                                              token=dev_token(ident.label))
        for username, name, role in DEV_EXTRA_USERS:
            officials[username] = Official(label=username, display_name=name, role=role, token=dev_token(username))
        policy = SigningPolicy.for_dev_pki(
            pki, rsa_padding=settings.rsa_padding, tsa_url=settings.tsa_url or pki.tsa_url,
            revocation_max_age_seconds=settings.revocation_max_age_seconds, tsa_auth=settings.tsa_auth,
            **({"check_chain_and_revocation": False} if settings.revocation_check == "dangerous-skip" else {}))
        services = cls(settings=settings, engine=SigningEngine(policy=policy, clock=clock), officials=officials,
                       pki=pki, token=token, office=office, accounts=accounts)
        services._chains = {i.label: pki.chain(i.label) for i in identities}
        return services

    @staticmethod
    def _create_dev_users(settings, accounts, identities, known) -> None:
        for ident in identities:
            role = "official" if ident.role == "official" else "clerk"
            if ident.label not in known:
                accounts.create(ident.label, display_name=ident.display_name, role=role, agency=settings.agency)
                accounts.bind_key(ident.label, kind="pkcs11", ref=ident.label,
                                  certificate_sha256=ident.sha256_fingerprint)
            accounts.issue_token(ident.label, token=dev_token(ident.label))
        for username, name, role in DEV_EXTRA_USERS:
            if username not in known:
                accounts.create(username, display_name=name, role=role, agency=settings.agency)
            accounts.issue_token(username, token=dev_token(username))

    def key_holder(self, account) -> KeyHolder:
        """The token key bound to the account by an administrator (never one named in a request),
        checked against the binding: see :meth:`signing_key`."""
        from signer.errors import KeyUnavailable

        if account.key_kind != "pkcs11" or not account.key_ref or self._token is None:
            raise KeyUnavailable("no signing key is bound to this user",
                                 message_vi="Người dùng chưa được gán khóa ký.")
        current = self._token.certificate(account.key_ref)   # read from the token at every signature
        with self._lock:
            holder = self._holders.get(account.key_ref)
        if holder is None or current is None or holder.certificate.dump() != current.dump():
            # first use, or the key under this label was replaced on the HSM: open it again
            chain = getattr(self, "_chains", {}).get(account.key_ref)
            if chain is None and current is not None:   # production: intermediates kept on the token
                from signer.keyholders import issuing_chain

                chain = issuing_chain(current, self._token.ca_certificates() + list(self.engine.policy.trust_roots))
            holder = self._token.key_holder(account.key_ref, chain=chain or ())
            with self._lock:
                self._holders[account.key_ref] = holder
        self._check_binding(account, holder)
        return holder

    def signing_key(self, account, *, passphrase: str | None = None) -> KeyHolder:
        """The key an account signs with, for one signature: the token key under its label, or its
        PKCS#12 file (kept in the key store) opened with ``passphrase``, sent with this request and
        never stored. Either way the certificate must be the one an administrator bound."""
        from signer import SoftwareKeyHolder
        from signer.errors import KeyUnavailable, PassphraseRequired

        if account.key_kind == "pkcs12" and account.key_ref:
            if not passphrase:
                raise PassphraseRequired()
            holder = SoftwareKeyHolder.from_pkcs12(self._pkcs12_bytes(account), passphrase=passphrase)
            self._check_binding(account, holder)
            return holder
        if account.key_kind == "pkcs11":
            return self.key_holder(account)
        raise KeyUnavailable("no signing key is bound to this user", message_vi="Người dùng chưa được gán khóa ký.")

    def _pkcs12_bytes(self, account) -> bytes:
        keys = self.office.keys
        if keys.exists(account.key_ref, kind="pkcs12"):
            return keys.read(account.key_ref, kind="pkcs12")
        if self.office.blobs.exists(account.key_ref):   # bound before the key store existed
            return self.office.blobs.read(account.key_ref)
        return keys.read(account.key_ref, kind="pkcs12")   # raises account_material_missing

    def _check_binding(self, account, holder: KeyHolder) -> None:
        """Refuse (and audit) a key whose certificate is not the one bound to the account."""
        from signer.errors import KeyBindingMismatch

        bound = account.certificate_sha256
        if bound is None or holder.fingerprint == bound:
            return
        error = KeyBindingMismatch(detail={"account": account.username, "bound": bound, "found": holder.fingerprint})
        from registers.audit import AuditEvent

        self.office.audit.append(AuditEvent(
            actor=account.username, role=account.role, action="sign", result=error.code,
            certificate=holder.fingerprint, detail={"bound_certificate": bound, "key_ref": account.key_ref}))
        raise error

    def image_for(self, username: str, what: str) -> bytes:
        """The user's signature image or agency seal: set by an administrator (kept in the key store,
        never served), else the dev image."""
        account = self.accounts.get(username)
        if account.image_sha256 and self.office.keys.exists(account.image_sha256, kind="image"):
            return self.office.keys.read(account.image_sha256, kind="image")
        if account.image_sha256 and self.office.blobs.exists(account.image_sha256):   # set before the key store
            return self.office.blobs.read(account.image_sha256)
        try:
            from certs_dev.images import load_dev_image

            return load_dev_image(account.key_ref or username)
        except KeyError:
            raise MissingImage(f"no {what} image is set for this user") from None

    def workflow(self):
        """The Decree 30 workflow on this service's engine and the office's numbering."""
        from signer.issuance import IssuanceWorkflow

        return IssuanceWorkflow(engine=self.engine, numbering=self.office.numbering)

    def official_for_token(self, token: str | None, *, roles: tuple[str, ...] | None = None) -> Official:
        account = self.accounts.authenticate(token) if self.accounts is not None else None
        if account is None:
            raise Unauthenticated()
        if roles is not None and account.role not in roles:
            raise Forbidden(detail={"role": account.role, "allowed": list(roles)})
        # the key is resolved (and checked against its binding) by the signing use cases only
        return Official(label=account.username, display_name=account.display_name, role=account.role, token="")

    def close(self) -> None:
        if self._token is not None:
            self._token.close()
            self._token = None
