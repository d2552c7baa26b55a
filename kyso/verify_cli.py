"""``kyso verify`` and ``kyso trust``: the verifier on the command line.

    kyso verify FILE... [--json] [--trust PEM]... [--trust-profile dev|vn|none]
                [--at ISO-8601-TIME] [--offline] [--report html|pdf|etsi-xml --out PATH]

Exit code 0 when every file is valid, 1 when any is invalid, indeterminate or
unsigned, 2 on usage errors or unreadable input (each file still gets its JSON
object with ``--json``, one per line).
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from kyso.errors import KysoError

UNREADABLE = {"not_pdf", "unreadable"}
COLOURS = {"valid": "green", "invalid": "red", "indeterminate": "yellow", "unsigned": "white"}
LABELS = {"valid": "HỢP LỆ / valid", "invalid": "KHÔNG HỢP LỆ / invalid",
          "indeterminate": "KHÔNG XÁC ĐỊNH / indeterminate", "unsigned": "KHÔNG CÓ CHỮ KÝ / unsigned"}


def _quiet_libraries() -> None:
    # pyHanko logs every validation problem with a traceback; the report carries them
    for name in ("pyhanko", "pyhanko_certvalidator", "fontTools"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def build_policy(settings, *, trust_profile=None, trust_files=(), at=None, offline=False):
    from verifier import VerificationPolicy
    from verifier.trust import TrustStore, load_certificates

    name = trust_profile or settings.trust_profile
    extra = load_certificates(trust_files) + (TrustStore(settings.trust_dir).list() if name == "vn" else [])
    dev_pki = None
    if name == "dev":
        from devpki import DevPKI

        dev_pki = DevPKI.load(settings.dev_pki_url) if settings.dev_pki_url else DevPKI.load()
    return VerificationPolicy.for_profile(name, extra_anchors=extra, dev_pki=dev_pki, validation_time=at,
                                          offline=offline)


@click.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file, one per line.")
@click.option("--trust", "trust_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Extra trust anchor (PEM/DER); repeatable.")
@click.option("--trust-profile", type=click.Choice(["dev", "vn", "none"]), default=None,
              help="Trust profile (default $KYSO_TRUST_PROFILE: dev in dev mode, vn in production).")
@click.option("--at", "at_text", default=None, help="Validate at this time (ISO 8601), e.g. 2024-05-01T10:00:00+07:00.")
@click.option("--offline", is_flag=True, help="Never fetch OCSP, CRLs or certificates.")
@click.option("--report", "report_format", type=click.Choice(["html", "pdf", "etsi-xml"]), default=None)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Report file (one input) or folder (several inputs).")
@click.option("--extract-signed", "extract_field", default=None, metavar="FIELD",
              help="Also write the revision signed in FIELD ('what the signer saw') to --out as a PDF.")
def verify_command(files, as_json, trust_files, trust_profile, at_text, offline, report_format, out,
                   extract_field) -> None:
    """Verify signed PDFs: a verdict with reasons (Vietnamese and English) per file."""
    from kyso.cli import _settings, ensure_dev_pki_served
    from verifier import verify

    _quiet_libraries()
    if (report_format or extract_field) and out is None:
        raise click.UsageError("--report and --extract-signed need --out")
    if report_format and extract_field:
        raise click.UsageError("give --report or --extract-signed, not both")
    at = None
    if at_text:
        try:
            at = datetime.fromisoformat(at_text)
        except ValueError:
            raise click.UsageError(f"--at takes an ISO 8601 time, not {at_text!r}") from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
    try:
        settings = _settings()
        policy = build_policy(settings, trust_profile=trust_profile, trust_files=trust_files, at=at, offline=offline)
    except KysoError as exc:
        click.echo(json.dumps(exc.to_dict(), ensure_ascii=False), err=True)
        sys.exit(2)
    server = None
    if settings.uses_dev_pki and not offline and policy.trust.name == "dev":
        server = ensure_dev_pki_served(settings.dev_pki_url)
    worst = 0
    try:
        for path in files:
            report = verify(path, policy=policy, file_name=str(path))
            data = report.to_dict()
            codes = {r["code"] for r in data["reasons"]}
            code = 0 if report.verdict.value == "valid" else (2 if codes & UNREADABLE else 1)
            worst = max(worst, code)
            _audit_verification(settings, data)
            if as_json:
                click.echo(json.dumps(data, ensure_ascii=False))
            else:
                _print_human(data)
            if report_format:
                _write_report(data, report_format, out, path, many=len(files) > 1)
            if extract_field:
                from verifier.extract import RevisionNotFound, signed_revision

                try:
                    revision = signed_revision(path.read_bytes(), extract_field)
                except (RevisionNotFound, OSError, Exception) as exc:  # noqa: BLE001
                    click.echo(f"{path}: cannot extract {extract_field!r}: {exc}", err=True)
                    worst = max(worst, 2)
                else:
                    target = out / f"{path.stem}-{extract_field}.pdf" if len(files) > 1 or out.is_dir() else out
                    target.write_bytes(revision)
    finally:
        if server is not None:
            server.stop()
    sys.exit(worst)


def _audit_verification(settings, data: dict) -> None:
    """One audit record per verified file (best effort: verification does not depend on the database)."""
    import getpass

    try:
        from registers.audit import AuditEvent, AuditTrail
        from registers.db import Database

        db = Database.connect(settings.database_url)
        try:
            db.upgrade()
            AuditTrail(db, key=settings.audit_key.encode()).append(AuditEvent(
                actor=getpass.getuser(), role="cli", action="verify", result=data["verdict"],
                documents=(data["sha256"],) if data.get("sha256") else (), client="local",
                detail={"file": (data.get("file") or "")[-200:]}))
        finally:
            db.dispose()
    except Exception as exc:  # noqa: BLE001
        click.echo(f"(audit record not written: {type(exc).__name__}: {exc})", err=True)


def _print_human(data: dict) -> None:
    verdict = data["verdict"]
    click.secho(f"{LABELS[verdict]:<32} {data['file']}", fg=COLOURS[verdict], bold=True)
    for r in data["reasons"]:
        click.echo(f"    {r['vi']}")
        click.echo(f"    {r['en']}")
    for s in data["signatures"]:
        signer = (s.get("signer") or {}).get("common_name") or "?"
        click.echo(f"  - {s['field']}: {s['indication']}{'/' + s['sub_indication'] if s['sub_indication'] else ''}"
                   f"  {signer}  {s['level']}  {s['coverage']}")
    if data.get("decree30"):
        click.echo(f"  Nghị định 30: {data['decree30']['reason']['vi']}")


def _write_report(data: dict, fmt: str, out: Path, source: Path, *, many: bool) -> None:
    from verifier import render

    suffix = {"html": ".html", "pdf": ".pdf", "etsi-xml": ".xml"}[fmt]
    target = out / (source.stem + suffix) if many or out.is_dir() else out
    target.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        target.write_text(render.to_html(data), encoding="utf-8")
    elif fmt == "pdf":
        target.write_bytes(render.to_pdf(data))
    else:
        target.write_bytes(render.to_etsi_xml(data))


@click.group("trust")
def trust_group() -> None:
    """Trust anchors an administrator adds to the vn profile (kept in $KYSO_TRUST_DIR)."""


@trust_group.command("list")
def trust_list() -> None:
    from kyso.cli import _settings
    from verifier.trust import TrustStore, fingerprint, vn_certificates

    settings = _settings()
    for cert in vn_certificates():
        click.echo(f"built-in  {fingerprint(cert)}  {cert.subject.human_friendly}")
    for cert in TrustStore(settings.trust_dir).list():
        click.echo(f"added     {fingerprint(cert)}  {cert.subject.human_friendly}")


@trust_group.command("add")
@click.argument("pem", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def trust_add(pem: Path) -> None:
    from kyso.admin_cli import _Admin
    from verifier.trust import TrustStore, fingerprint, load_certificates

    admin = _Admin()   # the audit trail first: no trust change goes unrecorded
    try:
        store = TrustStore(admin.settings.trust_dir)
        for cert in load_certificates([pem]):
            click.echo(f"added {store.add(cert).name}  {cert.subject.human_friendly}")
            admin.record("trust_add", None, certificate=fingerprint(cert), subject=cert.subject.human_friendly)
    finally:
        admin.close()


@trust_group.command("remove")
@click.argument("sha256")
def trust_remove(sha256: str) -> None:
    from kyso.admin_cli import _Admin
    from verifier.trust import TrustStore

    admin = _Admin()
    try:
        if not TrustStore(admin.settings.trust_dir).remove(sha256):
            raise click.UsageError(f"no added anchor with SHA-256 {sha256}")
        admin.record("trust_remove", None, certificate=sha256.lower().replace(":", ""))
        click.echo(f"removed {sha256}")
    finally:
        admin.close()
