"""The office's shared machinery: its parts, who is calling, keys and images, storing a document
with its register rows and audit record in one transaction. The use cases are in
``office.outgoing``, ``office.incoming`` and ``office.reading``; :class:`office.Office` joins them."""
from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kyso.clock import Clock
from kyso.clock import read as read_clock
from kyso.errors import KysoError
from office.caller import Caller
from office.errors import DocumentNotFound, EarlierSignatureBroken, MissingImage, TooManyAttempts, Unauthenticated
from office.sessions import LoginThrottle, address_key

log = logging.getLogger("kyso.office")


@dataclasses.dataclass(frozen=True)
class Stored:
    """A document the office keeps: its hash, its bytes and how it got there."""

    sha256: str
    data: bytes = dataclasses.field(repr=False)
    origin: str


class OfficeBase:
    """The parts of one office (built by ``office.compose``) and what every use case shares."""

    def __init__(self, *, settings, clock: Clock | None, db, blobs, keys, numbering, incoming, audit, accounts,
                 access, engine, verification, token=None, token_factory=None, dev_pki=None, chains=None,
                 dev_users=()) -> None:
        self.settings = settings
        self.clock = clock
        self.db = db
        self.blobs = blobs
        self.keys = keys
        self.numbering = numbering
        self.incoming = incoming
        self.audit = audit
        self.accounts = accounts
        self.access = access
        self.engine = engine
        self.verification = verification
        self.dev_pki = dev_pki
        self.dev_users = tuple(dev_users)      # (username, display name, role, token) of the dev accounts
        self._token_value = token
        self._token_factory = token_factory   # opened at the first use (a command that signs nothing needs no PIN)
        self._chains = dict(chains or {})
        self._holders: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def _token(self):
        if self._token_value is None and self._token_factory is not None:
            with self._lock:
                if self._token_value is None:
                    self._token_value = self._token_factory()
        return self._token_value

    # -- time ------------------------------------------------------------------------------------

    def level(self, value=None):
        """A PAdES level from its name (``B-LT``, ``b_lt``...), the settings' default when none is given."""
        from office.errors import LevelInvalid
        from signer import Level

        try:
            return Level.parse(value or self.settings.default_level)
        except ValueError:
            raise LevelInvalid(detail={"level": str(value)[:20]}) from None

    @functools.cached_property
    def pdf_bounds(self):
        from kyso.pdfbounds import PdfBounds

        return PdfBounds(max_bytes=max(self.settings.max_upload_bytes, 1), max_pages=self.settings.max_pages,
                         max_inflated_bytes=self.settings.max_inflated_mb * 1024 * 1024)

    def admit(self, caller: Caller, action: str, data: bytes) -> None:
        """Bounded work: a document over the PDF bounds (pages, objects, nesting, inflated size,
        revisions, time) is refused, and the refusal audited, before any engine reads it."""
        from kyso.pdfbounds import PdfOutOfBounds, admit

        try:
            admit(data, bounds=self.pdf_bounds)
        except PdfOutOfBounds as exc:
            raise self.refused(caller, action, exc) from None

    def require_earlier_signatures_intact(self, caller: Caller, action: str, data: bytes) -> None:
        """Signing over a broken signature would seal a changed or damaged document: a signature
        already on the upload whose digest, value or format fails, after which the document was
        changed in a way it does not permit, or which cannot be judged because its container, its
        carried data or the document's DSS is damaged, refuses the signing (``earlier_signature_broken``).
        Judged offline: whether the earlier signer is trusted or revoked is the verdict's business, not a
        reason to refuse a co-signature."""
        from verifier import signed_fields, verify
        from verifier.report import Indication, SubIndication

        if not signed_fields(data):   # (not a search for "/ByteRange": a damaged signature may lack it)
            return
        policy = dataclasses.replace(self.verification_policy(), offline=True)
        report = verify(data, policy=policy, now=self.now() if self.clock is not None else None)
        integrity = (SubIndication.HASH_FAILURE, SubIndication.SIG_CRYPTO_FAILURE, SubIndication.FORMAT_FAILURE)
        broken = [s for s in report.signatures
                  if (s.indication is Indication.TOTAL_FAILED and s.sub_indication in integrity)
                  # damaged, not merely unconfirmed: its container, carried certificates or the DSS were
                  # altered, or the later updates cannot be read (a new signature over them is judged
                  # the same way, so the stored document could never be valid)
                  # (a fact of the file: listed among the problems even when, offline, the
                  # missing revocation data is the bottom line)
                  or (s.indication is not Indication.TOTAL_PASSED
                      and "cannot_judge" in {p.code for p in (s.reason, *s.problems) if p is not None})]
        if broken:
            first = broken[0]
            # the damage is the reason given, not the verdict's bottom line (offline, that is often the
            # revocation status nobody asked for)
            damage = [p for p in (first.reason, *first.problems) if p is not None and p.code == "cannot_judge"]
            failed = first.indication is Indication.TOTAL_FAILED and first.sub_indication in integrity
            why = (first.reason if failed else None) or (damage[0] if damage else None) or first.reason or \
                (first.problems[0] if first.problems else None)
            raise self.refused(caller, action, EarlierSignatureBroken(detail={
                "field": first.field[:100], "reason": why.code if why else first.sub_indication.value,
                "reason_en": (why.en if why else "")[:300], "reason_vi": (why.vi if why else "")[:300],
                "broken": len(broken), "signatures": len(report.signatures)}))

    def warm_up(self) -> None:
        """Prepare now what the first signature of this process would otherwise wait for: the two
        fonts, subset to the Vietnamese repertoire (about 0.3-0.6 s of CPU), the PNG decoder and qpdf
        (:meth:`signer.SigningEngine.warm_up`). A web worker calls
        it once it is set up, before its first request. A font that cannot be read (whatever
        fontTools raises) is logged, not raised: verification and invisible signatures need none,
        and the first visible signature reports it as before."""
        try:
            self.engine.warm_up()
        except Exception as exc:  # noqa: BLE001 - a damaged font may raise anything from fontTools
            log.warning("not prepared at start-up (fonts, images, qpdf): %s: %s", type(exc).__name__, exc)

    def reconcile(self, *, grace_seconds: float | None = None):
        """After a crash: void numbers left reserved, quarantine stored files without a row, name
        operations without an audit record (``office.reconcile``)."""
        from office.reconcile import DEFAULT_GRACE_SECONDS, reconcile

        return reconcile(self, grace_seconds=DEFAULT_GRACE_SECONDS if grace_seconds is None else grace_seconds)

    def start_housekeeping(self):
        """The reconciler every ``KYSO_RECONCILE_MINUTES`` in this process (0: never)."""
        from office.reconcile import Housekeeper

        minutes = self.settings.reconcile_minutes
        return Housekeeper(self, minutes=minutes).start() if minutes > 0 else None

    def now(self) -> datetime:
        """The office's clock, read once per use case."""
        return read_clock(self.clock)

    # -- who is calling --------------------------------------------------------------------------

    def authenticate(self, token: str | None, *, client: str | None = None, at: datetime | None = None) -> Caller:
        """The account holding this API token. A failed login is audited and counted against the
        client's address (and the account, for one of its revoked tokens); past the limit, every wrong
        token from there is refused with ``too_many_attempts`` until the window ends (``office.sessions``).
        A right token always works: a 256-bit token cannot be guessed, so the limit only stops the
        guessing, and an office behind one address is never locked out by someone else's typos.
        No token at all is refused without counting: nothing was tried."""
        if not token:
            self._audit(None, "login_failed", "unauthenticated", client=client)
            raise Unauthenticated()
        account = self.accounts.authenticate(token)
        if account is None:
            at = at or self.now()
            self._login_allowed(client=client, at=at)
            self._login_failed(client=client, holder=self.accounts.holder_of(token), at=at)
            raise Unauthenticated()
        return Caller.from_account(account, client=client)

    @functools.cached_property
    def login_throttle(self) -> LoginThrottle:
        return LoginThrottle.from_settings(self.settings, db=self.db)

    def _login_allowed(self, *, client: str | None, at: datetime) -> None:
        """Raise :class:`TooManyAttempts` while the client's address is over the limit."""
        self.login_throttle.check(kind="address", key=address_key(client), at=at)

    def _login_failed(self, *, client: str | None, holder: str | None, at: datetime) -> None:
        """Audit a failed login and count it against the client's address and, for a token issued to
        an account (revoked since), against that account; the start of a refusal is audited as a
        failed login with the result ``too_many_attempts``."""
        throttle = self.login_throttle
        self._audit(None, "login_failed", "unauthenticated", client=client,
                    detail={"token_of": holder} if holder else None)
        until = throttle.fail(kind="address", key=address_key(client), at=at)
        if until is not None:
            self._audit(None, "login_failed", TooManyAttempts.code, client=client,
                        detail={"address": address_key(client), "until": until.isoformat()})
        if holder is not None:
            throttle.check(kind="account", key=holder, at=at)
            until = throttle.fail(kind="account", key=holder, at=at)
            if until is not None:
                self._audit(None, "login_failed", TooManyAttempts.code, client=client,
                            detail={"user": holder, "until": until.isoformat()})

    def caller(self, username: str, *, client: str | None = None) -> Caller:
        """The account ``username`` (a web session or the local command line acts for it)."""
        from registers.accounts import UnknownUser

        try:
            account = self.accounts.get(username)
        except UnknownUser:
            raise Unauthenticated() from None
        if account.disabled:
            raise Unauthenticated()
        return Caller.from_account(account, client=client)

    def refused(self, caller: Caller | None, action: str, error: KysoError, **detail) -> KysoError:
        """Audit a refusal of ``action`` and give the error back to raise (the certificate: the one the
        refusal is about, e.g. a replaced key's, else the one bound to the caller)."""
        if getattr(error, "_kyso_audited", False):
            return error        # refused (and audited) further in: one refusal, one record
        found = (error.detail or {}).get("found") if isinstance(error.detail, dict) else None
        self._audit(caller, action, error.code, certificate=found or (caller.certificate_sha256 if caller else None),
                    detail={k: v for k, v in detail.items() if v is not None} or None)
        error._kyso_audited = True
        return error

    # -- the audit trail -------------------------------------------------------------------------

    def _audit(self, caller: Caller | None, action: str, result: str, *, documents: Iterable[str] = (),
               certificate: str | None = None, detail: dict | None = None, session=None,
               client: str | None = None) -> None:
        from office import auditing
        from registers.audit import AuditEvent

        seq = self.audit.append(AuditEvent(
            actor=caller.username if caller else "anonymous", role=caller.role if caller else "none",
            action=action, result=result, documents=tuple(documents), certificate=certificate,
            client=(client or (caller.client if caller else None) or None), detail=detail), session=session)
        auditing.appended(self, seq)   # a checkpoint of the head, now and then (office.auditing)

    # -- storing ---------------------------------------------------------------------------------

    def _put(self, data: bytes):
        """The file first, durable, before any row refers to it."""
        return self.blobs.put(data)

    def _record(self, session, blob, *, origin: str, caller: Caller | None, reason: str, at: datetime,
                agencies: Iterable[str | None] = ()) -> None:
        """The document's row and who may read it, in the caller's transaction."""
        from registers.blobstore import record

        record(session, blob, origin=origin, clock=lambda: at)
        for agency in {a for a in (*agencies, caller.agency if caller else None) if a}:
            self.access.grant(session, sha256=blob.sha256, agency=agency, reason=reason,
                              username=caller.username if caller else None, at=at)
        if caller is not None and not caller.agency:
            self.access.grant(session, sha256=blob.sha256, agency=f"user:{caller.username}", reason=reason,
                              username=caller.username, at=at)

    def keep(self, caller: Caller, data: bytes, *, origin: str, action: str, result: str = "ok",
             certificate: str | None = None, detail: dict | None = None, at: datetime | None = None) -> Stored:
        """Store ``data`` (readable by the caller's agency) with its audit record, in one transaction."""
        blob = self._put(data)
        moment = at or self.now()
        with self.db.session() as s:
            self._record(s, blob, origin=origin, caller=caller, reason=origin, at=moment)
            self._audit(caller, action, result, documents=(blob.sha256,), certificate=certificate,
                        detail=detail, session=s)
        return Stored(sha256=blob.sha256, data=data, origin=origin)

    # -- reading what the caller may read --------------------------------------------------------

    def may_read(self, caller: Caller, sha256: str) -> bool:
        if not self.is_document(sha256):
            return False
        if caller.role == "auditor":
            return True
        if caller.agency:
            return self.access.may_read(sha256=sha256, agency=caller.agency, username=caller.username)
        return self.access.may_read(sha256=sha256, agency=f"user:{caller.username}", username=caller.username)

    def is_document(self, sha256: str) -> bool:
        """A document of this office's registers that is in the store (keys and images never are)."""
        import re

        from registers.models import StoredDocument

        if not re.fullmatch(r"[0-9a-f]{64}", sha256 or "") or not self.blobs.exists(sha256):
            return False
        with self.db.read_session() as s:
            return s.get(StoredDocument, sha256) is not None

    def _readable(self, caller: Caller, sha256: str) -> bytes:
        if not self.may_read(caller, sha256):
            raise DocumentNotFound(detail={"sha256": (sha256 or "")[:64]})
        return self.blobs.read(sha256)

    # -- keys and images -------------------------------------------------------------------------

    def signing_key(self, caller: Caller, *, passphrase: str | None = None):
        """The key bound to the caller's account, for one signature: the token's key under its label
        (read again at each signature) or its PKCS#12 file opened with ``passphrase`` (sent with this
        request, never stored). Its certificate must be the one an administrator bound."""
        from signer import SoftwareKeyHolder
        from signer.errors import KeyUnavailable, PassphraseRequired

        account = self.accounts.get(caller.username)
        if account.key_kind == "pkcs12" and account.key_ref:
            if not passphrase:
                raise PassphraseRequired()
            holder = SoftwareKeyHolder.from_pkcs12(self._pkcs12_bytes(account), passphrase=passphrase)
        elif account.key_kind == "pkcs11" and account.key_ref and self._token is not None:
            holder = self._token_holder(account.key_ref)
        else:
            raise KeyUnavailable("no signing key is bound to this user", message_vi="Người dùng chưa được gán khóa ký.")
        self._check_binding(caller, account, holder)
        return holder

    def bound_certificate(self, caller: Caller):
        """The certificate bound to the caller (the token's; for two-step signing), checked."""
        account = self.accounts.get(caller.username)
        from signer.errors import KeyUnavailable

        if account.key_kind != "pkcs11" or not account.key_ref or self._token is None:
            raise KeyUnavailable("no certificate on the service's token is bound to this user",
                                 message_vi="Người dùng chưa được gán chứng thư số trên thiết bị ký của hệ thống.")
        holder = self._token_holder(account.key_ref)
        self._check_binding(caller, account, holder)
        return holder

    def _token_holder(self, label: str):
        current = self._token.certificate(label)          # read from the token at every signature
        with self._lock:
            holder = self._holders.get(label)
        if holder is None or current is None or holder.certificate.dump() != current.dump():
            chain = self._chains.get(label)
            if chain is None and current is not None:    # production: the intermediates kept on the token
                from signer.keyholders import issuing_chain

                chain = issuing_chain(current, self._token.ca_certificates() + list(self.engine.policy.trust_roots))
            holder = self._token.key_holder(label, chain=chain or ())
            with self._lock:
                self._holders[label] = holder
        return holder

    def _pkcs12_bytes(self, account) -> bytes:
        if self.keys.exists(account.key_ref, kind="pkcs12"):
            return self.keys.read(account.key_ref, kind="pkcs12")
        if self.blobs.exists(account.key_ref):   # bound before the key store existed
            return self.blobs.read(account.key_ref)
        return self.keys.read(account.key_ref, kind="pkcs12")   # raises account_material_missing

    def _check_binding(self, caller: Caller, account, holder) -> None:
        from signer.errors import KeyBindingMismatch

        bound = account.certificate_sha256
        if bound is None or holder.fingerprint == bound:
            return
        raise KeyBindingMismatch(detail={"account": account.username, "bound": bound, "found": holder.fingerprint,
                                         "key_ref": account.key_ref})   # audited by the use case that refuses

    def image(self, caller: Caller, what: str) -> bytes:
        """The caller's signature image or agency seal (kept in the key store, drawn, never served)."""
        account = self.accounts.get(caller.username)
        if account.image_sha256 and self.keys.exists(account.image_sha256, kind="image"):
            return self.keys.read(account.image_sha256, kind="image")
        if account.image_sha256 and self.blobs.exists(account.image_sha256):   # set before the key store
            return self.blobs.read(account.image_sha256)
        if self.dev_pki is not None:
            try:
                from certs_dev.images import load_dev_image

                return load_dev_image(account.key_ref or account.username)
            except KeyError:
                pass
        raise MissingImage(f"no {what} image is set for this user")

    # -- the engines -----------------------------------------------------------------------------

    def workflow(self):
        from signer.issuance import IssuanceWorkflow

        return IssuanceWorkflow(engine=self.engine, numbering=self.numbering)

    def verification_policy(self, *, at: datetime | None = None, decree30: bool = False):
        """The office's verification policy judging as of ``at`` (default: its clock's now);
        ``decree30`` makes a document without both Decree 30 signatures not valid (receiving)."""
        changes: dict[str, Any] = {}
        if at is not None or self.clock is not None:
            changes["validation_time"] = at or self.now()
        if decree30:
            changes["require_decree30"] = True
        return dataclasses.replace(self.verification, **changes) if changes else self.verification

    def _verify(self, data, *, at: datetime | None = None, decree30: bool = False, evidence: bool = False,
                file_name: str | None = None) -> dict:
        from verifier import verify

        return verify(data, policy=self.verification_policy(at=at, decree30=decree30), evidence=evidence,
                      file_name=file_name, now=self.now() if self.clock is not None else None).to_dict()

    # -- life --------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._token_value is not None:
            self._token_value.close()
            self._token_value = None
        self.db.dispose()
