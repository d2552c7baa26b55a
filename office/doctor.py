"""Start-up checks: is every dependency the settings name there and right? One line per problem,
naming the setting to fix.

    kyso doctor            # exit 0 when the service can start, 1 with one line per problem

``commands/gunicorn_conf.py`` runs ``kyso doctor`` once, in its own process, before gunicorn forks a
worker: a wrong PIN costs one attempt, not one per worker, and a dead database or TSA stops the
start with a sentence, not a traceback per worker.
"""
from __future__ import annotations

import dataclasses

from kyso.errors import KysoError
from kyso.settings import Settings

__all__ = ["Finding", "check"]


@dataclasses.dataclass(frozen=True)
class Finding:
    name: str          # database, token, tsa, consistency
    ok: bool
    text: str          # one line; on failure it names the setting
    blocking: bool = True   # a failure stops the start (consistency: the service runs, an administrator looks)

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL' if self.blocking else 'WARN'} {self.name}: {self.text}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def check(settings: Settings, *, timeout: float = 10.0, reconcile: bool = False, grace_seconds: float | None = None):
    """The findings; with ``reconcile``, ``(findings, Reconciled or None)``: the crash reconciler run
    on the registers and the store (``office.reconcile``) once the database is there."""
    findings = [_database(settings)]
    if settings.is_production:
        findings.append(_token(settings))
        findings.append(_tsa(settings, timeout=timeout))
    if not reconcile:
        return findings
    reconciled = None
    if findings[0].ok:
        reconciled = _reconcile(settings, grace_seconds)
        findings.append(Finding("consistency", reconciled.ok, reconciled.line(), blocking=False))
    return findings, reconciled


def _reconcile(settings: Settings, grace_seconds: float | None):
    """The office (its key token opens only at a first signature: none here) and its reconciler."""
    from office import Office

    office = Office.from_settings(settings)
    try:
        return office.reconcile(grace_seconds=grace_seconds)
    finally:
        office.db.dispose()


def _database(settings: Settings) -> Finding:
    from registers.db import Database

    db = Database.connect(settings.database_url)
    try:
        db.check()
        db.upgrade()
        return Finding("database", True, db.engine.url.render_as_string(hide_password=True))
    except KysoError as exc:
        return Finding("database", False, exc.message)
    except Exception as exc:  # noqa: BLE001 - a migration that fails is a start-up failure too
        return Finding("database", False, f"KYSO_DATABASE_URL: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        db.dispose()


def _token(settings: Settings) -> Finding:
    from office.compose import open_token

    try:
        token = open_token(settings)
    except KysoError as exc:
        return Finding("token", False, exc.message)
    try:
        labels = token.labels()
    finally:
        token.close()
    return Finding("token", True, f"{settings.pkcs11_token!r}: logged in; {len(labels)} certificate(s)")


def _tsa(settings: Settings, *, timeout: float) -> Finding:
    """The TSA answers a time-stamp request, and its certificate chains to a trusted root."""
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    from kyso import aio
    from office.compose import verification_policy as build_policy
    from verifier.trust import TrustStore

    url = settings.tsa_url
    if not url:
        return Finding("tsa", False, "KYSO_TSA_URL is not set")
    try:
        token = aio.run(HTTPTimeStamper(url, timeout=int(timeout), auth=settings.tsa_auth)
                        .async_dummy_response("sha256"))
    except Exception as exc:  # noqa: BLE001 - any failure means no timestamps
        return Finding("tsa", False, f"KYSO_TSA_URL={url} does not answer time-stamp requests: "
                                     f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300])
    try:
        from asn1crypto import x509

        certs = [c.chosen for c in token["content"]["certificates"] if isinstance(c.chosen, x509.Certificate)]
        leaf = next(c for c in certs if c.extended_key_usage_value is not None
                    and "time_stamping" in c.extended_key_usage_value.native)
        anchors = list(build_policy(settings).trust.anchors) + list(TrustStore(settings.trust_dir).list())
        context = ValidationContext(trust_roots=anchors, other_certs=certs, allow_fetching=True,
                                    revocation_mode="soft-fail")
        async def validate():
            try:
                await CertificateValidator(leaf, intermediate_certs=certs, validation_context=context) \
                    .async_validate_usage(set(), extended_key_usage={"time_stamping"})
            finally:
                await context.aclose()

        aio.run(validate())
    except StopIteration:
        return Finding("tsa", False, f"KYSO_TSA_URL={url}: the token does not carry the TSA's certificate")
    except Exception as exc:  # noqa: BLE001
        return Finding("tsa", False, f"KYSO_TSA_URL={url}: the TSA's certificate does not chain to a trusted root "
                                     f"(KYSO_TRUST_PROFILE, kyso trust add): {type(exc).__name__}"[:300])
    return Finding("tsa", True, f"{url}: answers; its certificate ({leaf.subject.human_friendly}) is trusted")
