"""The composition root: an :class:`office.Office` from :class:`kyso.settings.Settings`.

Production: the HSM named by the settings, accounts and keys from the database (bound with
``kyso admin``), the ``vn`` trust profile plus the anchors an administrator added, nothing from the
development PKI (its detector refuses it). Development: ``certs_dev`` served for the configured
base URL, its keys on a SoftHSM2 token under the data folder, one account per development
identity. Either way one clock for the engine, the registers and the audit trail, and the pyHanko
hazmat patch installed explicitly.
"""
from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from kyso.clock import Clock
from kyso.settings import DEV_PKCS11_SO_PIN, Settings

log = logging.getLogger("kyso.office")

#: the development accounts besides one per development identity: (username, name, role, agency)
DEV_EXTRA_USERS = (
    ("auditor", "Kiểm toán viên (dev)", "auditor", None),
    ("receiver", "Văn thư văn bản đến (dev)", "receiver", "UBND"),
    ("admin", "Quản trị hệ thống (dev)", "admin", None),
)
#: the receiving clerk signs return notices with the agency's key
DEV_RECEIVER_KEY = "agency-ubnd-hung-yen"


def dev_token(username: str) -> str:
    """The development API token of a development account (printed by ``make run``)."""
    return f"kyso-dev-{username}"


@contextlib.contextmanager
def _file_lock(path: Path):
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_token(settings: Settings):
    """The service's PKCS#11 token under the installation's PIN guard (a refused PIN costs one try)."""
    from signer import Pkcs11Token
    from signer.keyholders import PinGuard

    guard = PinGuard(Path(settings.data_dir) / "pkcs11-pin-refused.json", secret=settings.secret_key)
    return Pkcs11Token.open(module=settings.pkcs11_module, token_label=settings.pkcs11_token,
                            pin=settings.pkcs11_pin, pin_guard=guard)


def verification_policy(settings: Settings, *, dev_pki=None, trust_profile: str | None = None, trust_files=(),
                        at=None, offline: bool = False, require_decree30: bool = False):
    """The verification policy of the settings' trust profile (plus the administrator's anchors)."""
    from verifier import VerificationPolicy
    from verifier.trust import TrustStore, load_certificates

    name = trust_profile or settings.trust_profile
    extra = load_certificates(trust_files) + (TrustStore(settings.trust_dir).list() if name == "vn" else [])
    if name == "dev" and dev_pki is None:
        from devpki.roots import DevTrust   # the roots only: no PKI built (devpki.roots)

        dev_pki = DevTrust()
    return VerificationPolicy.for_profile(name, extra_anchors=extra, dev_pki=dev_pki, validation_time=at,
                                          offline=offline, require_decree30=require_decree30,
                                          fetch_guard=settings.fetch_guard)


def serve_dev_pki_if_needed(settings: Settings):
    """In development, serve the dev PKI (OCSP, CRL, TSA) in this process when nothing answers at
    ``settings.dev_pki_url``; the server to stop afterwards, or None."""
    from urllib.parse import urlsplit

    import requests

    if not settings.uses_dev_pki:
        return None
    from devpki.server import DevPKIServer

    try:
        requests.get(settings.dev_pki_url.rstrip("/") + "/", timeout=1.5)
        return None
    except requests.RequestException:
        pass
    parts = urlsplit(settings.dev_pki_url)
    return DevPKIServer.start(host=parts.hostname or "127.0.0.1", port=parts.port or 80, mount=parts.path or "/")


def install_hazmat() -> None:
    from hazmat import (asn1crypto_names, pyhanko_bounds, pyhanko_certinfo, pyhanko_hexreader, pyhanko_moddate,
                        pyhanko_objects, pyhanko_paths, pyhanko_prehash, pyhanko_revinfo, pyhanko_tokens,
                        pyhanko_xref)
    from kyso.clock import operation_moment
    from signer import prehash
    from verifier import pathcache

    if not pyhanko_hexreader.install():
        log.warning("pyHanko's hex reader patch does not fit this pyHanko version; running without it")
    if not pyhanko_tokens.install():
        log.warning("pyHanko's token reader patch does not fit this pyHanko version; running without it")
    if not asn1crypto_names.install():
        log.warning("asn1crypto's name comparison memory does not fit this asn1crypto version; running without it")
    if not pyhanko_paths.install(pathcache.memory_of):
        log.warning("pyHanko's path validation hook does not fit this pyHanko version; every path is validated anew")
    if not pyhanko_certinfo.install(pathcache.shared_certificate):
        log.warning("pyHanko's certificate extraction memory does not fit this pyHanko version; running without it")
    if not pyhanko_revinfo.install():
        log.warning("pyHanko's revocation-missing indication patch does not fit this pyHanko version; a path without "
                    "revocation information is reported as CERTIFICATE_CHAIN_GENERAL_FAILURE")
    if not pyhanko_moddate.install(operation_moment):
        log.warning("pyHanko's modification date patch does not fit this pyHanko version; signed documents' /ModDate "
                    "is read from the wall clock, not the operation's clock")
    if not pyhanko_bounds.install():
        log.warning("pyHanko's parser bounds do not fit this pyHanko version; only kyso.pdfbounds' own checks apply")
    if not pyhanko_objects.install():   # in front of the bounded reader
        log.warning("pyHanko's dictionary reader patch does not fit this pyHanko version; running without it")
    if not pyhanko_xref.install():
        log.warning("pyHanko's cross-reference reader patch does not fit this pyHanko version; running without it")
    if not pyhanko_prehash.install(prehash.digest_for):
        log.warning("pyHanko's byte-range digest patch does not fit this pyHanko version; signing hashes the whole "
                    "document after writing the update")


def compose(office_class, settings: Settings, *, clock: Clock | None = None, token=None):
    """Build the office of ``settings`` (``token``: an open PKCS#11 token to share, for tests)."""
    install_hazmat()
    if settings.is_production:
        return _production(office_class, settings, clock=clock, token=token)
    return _development(office_class, settings, clock=clock, token=token)


def document_store(settings: Settings):
    """The document store the settings name: the local folder ``DATA_DIR/documents`` (the embedded
    default) or an S3 bucket (``KYSO_STORE_URL=s3://BUCKET[/PREFIX]``), shared by every node."""
    if settings.store is None:
        from registers.blobstore import BlobStore

        return BlobStore(Path(settings.data_dir) / "documents")
    from registers.s3store import S3BlobStore

    bucket, prefix = settings.store
    return S3BlobStore(bucket=bucket, prefix=prefix, endpoint_url=settings.s3_endpoint_url,
                       access_key_id=settings.s3_access_key_id, secret_access_key=settings.s3_secret_access_key,
                       region=settings.s3_region)


def _registers(settings: Settings, clock: Clock | None):
    from registers.access import DocumentAccessRegister
    from registers.accounts import Accounts
    from registers.audit import AuditTrail
    from registers.db import Database
    from registers.incoming import IncomingRegister
    from registers.keystore import AccountStore
    from registers.numbering import DatabaseNumbering

    db = Database.connect(settings.database_url)
    db.upgrade()
    blobs = document_store(settings)
    blobs.sweep()
    numbering = DatabaseNumbering(db, clock=clock)
    numbering.void_stale()   # numbers a killed worker left reserved
    return dict(db=db, blobs=blobs, keys=AccountStore(settings.key_dir), numbering=numbering,
                incoming=IncomingRegister(db, blobs, agency=settings.agency, clock=clock),
                audit=AuditTrail(db, key=settings.audit_key.encode(), clock=clock),
                accounts=Accounts(db, clock=clock), access=DocumentAccessRegister(db))


def font_cache(settings: Settings) -> Path:
    """Where the fonts prepared for visible signatures are kept: the data folder the service's
    workers and the ``kyso`` commands share (a font is subset once there, not in every process)."""
    return Path(settings.data_dir) / "cache" / "fonts"


def _production(office_class, settings: Settings, *, clock, token):
    from devpki import (
        is_dev_material,  # production refuses development material: it must know it
    )
    from signer import SigningEngine, SigningPolicy
    from verifier.trust import TrustStore

    verification = verification_policy(settings)
    parts = _registers(settings, clock)
    anchors = list(verification.trust.anchors) + list(TrustStore(settings.trust_dir).list())
    policy = SigningPolicy.for_production(anchors, tsa_url=settings.tsa_url, rsa_padding=settings.rsa_padding,
                                          refuse_certificate=is_dev_material,
                                          revocation_max_age_seconds=settings.revocation_max_age_seconds,
                                          tsa_auth=settings.tsa_auth, fetch_guard=settings.fetch_guard)
    engine = SigningEngine(policy=policy, clock=clock, font_cache=font_cache(settings))
    return office_class(settings=settings, clock=clock, engine=engine,
                        verification=verification, token=token, token_factory=lambda: open_token(settings), **parts)


def _development(office_class, settings: Settings, *, clock, token):
    from devpki import DevPKI
    from devpki.softhsm import provision_token
    from signer import SigningEngine, SigningPolicy

    pki = DevPKI.load(settings.dev_pki_url)
    identities = [i for i in pki.identities if i.role in ("official", "agency")]
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    # several gunicorn workers start at once: provision the token and the accounts once, under a lock
    with _file_lock(data_dir / ".dev-setup.lock"):
        if token is None and os.environ.get("SOFTHSM2_CONF"):
            # a token the environment chose (a developer's own, the tests' one): used as it is
            token = open_token(settings)
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
        parts = _registers(settings, clock)
        # and nodes of other data folders on the same database: the accounts once, under its lock
        with parts["db"].exclusive("dev-accounts"):
            users = _dev_accounts(settings, parts["accounts"], identities, pki)
    verification = verification_policy(settings, dev_pki=pki)
    policy = SigningPolicy.for_dev_pki(
        pki, rsa_padding=settings.rsa_padding, tsa_url=settings.tsa_url or pki.tsa_url,
        revocation_max_age_seconds=settings.revocation_max_age_seconds, tsa_auth=settings.tsa_auth,
        **({"check_chain_and_revocation": False} if settings.revocation_check == "dangerous-skip" else {}))
    chains = {i.label: pki.chain(i.label) for i in identities}
    engine = SigningEngine(policy=policy, clock=clock, font_cache=font_cache(settings))
    return office_class(settings=settings, clock=clock, engine=engine,
                        verification=verification, token=token, dev_pki=pki, chains=chains, dev_users=users, **parts)


def _dev_accounts(settings: Settings, accounts, identities, pki) -> list[tuple[str, str, str, str]]:
    """One account per development identity (officials sign; an agency's key belongs to its clerk),
    plus an auditor, a receiving clerk and an administrator; tokens ``kyso-dev-<username>``."""
    known = {a.username: a for a in accounts.list()}
    users = []
    for ident in identities:
        role = "official" if ident.role == "official" else "clerk"
        agency = ident.agency or settings.agency
        if ident.label not in known:
            accounts.create(ident.label, display_name=ident.display_name, role=role, agency=agency)
        elif known[ident.label].agency != agency:
            accounts.set_agency(ident.label, agency)
        if ident.label not in known or known[ident.label].certificate_sha256 != ident.sha256_fingerprint:
            accounts.bind_key(ident.label, kind="pkcs11", ref=ident.label, certificate_sha256=ident.sha256_fingerprint)
        accounts.issue_token(ident.label, token=dev_token(ident.label))
        users.append((ident.label, ident.display_name, role, dev_token(ident.label)))
    for username, name, role, agency in DEV_EXTRA_USERS:
        if username not in known:
            accounts.create(username, display_name=name, role=role, agency=agency)
        if username == "receiver":
            key = pki.identity(DEV_RECEIVER_KEY)
            accounts.bind_key(username, kind="pkcs11", ref=key.label, certificate_sha256=key.sha256_fingerprint)
        accounts.issue_token(username, token=dev_token(username))
        users.append((username, name, role, dev_token(username)))
    return users
