"""``kyso admin`` (users, roles, keys, images, tokens) and ``kyso audit`` (check and export the
audit trail), for the administrator at the server's command line. Every change is audited."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from kyso.errors import KysoError


def admin_office(body, *, code: int = 1) -> None:
    """Run ``body(local, admin_caller)`` with the office of the environment's settings."""
    from commands.main import Local, fail
    from office import Office

    try:
        with Local() as local:
            body(local, Office.local_admin())
    except KysoError as exc:
        fail(exc, code)


def _json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


@click.group("admin")
def admin() -> None:
    """Manage users, roles, keys, signature images, seals and API tokens."""


@admin.command("create-user")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Full name, e.g. 'Nguyễn Văn An'.")
@click.option("--role", type=click.Choice(["official", "clerk", "receiver", "auditor", "admin"]), required=True)
@click.option("--agency", default=None, help="The agency's abbreviation in its numbers, e.g. UBND or SNV.")
def create_user(username, display_name, role, agency) -> None:
    """Create a user and print their first API token (shown once)."""
    def body(local, me):
        account, token = local.office.create_user(me, username, display_name=display_name, role=role, agency=agency)
        _json({"user": account, "token": token})
    admin_office(body)


@admin.command("bind-key")
@click.argument("username")
@click.option("--pkcs11-label", default=None, help="Label of the key and certificate on the service's token.")
@click.option("--pkcs12", "pkcs12_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="An encrypted PKCS#12 file (kept encrypted; its passphrase comes with each signing request).")
def bind_key(username, pkcs11_label, pkcs12_file) -> None:
    """Bind the one key this user signs with."""
    if (pkcs11_label is None) == (pkcs12_file is None):
        raise click.UsageError("give exactly one of --pkcs11-label, --pkcs12")

    def body(local, me):
        if pkcs11_label:
            _json(local.office.bind_token_key(me, username, label=pkcs11_label))
            return
        passphrase = os.environ.get("KYSO_PKCS12_PASSPHRASE")
        if passphrase is None:
            passphrase = click.prompt("PKCS#12 passphrase (checked now, never stored)", hide_input=True, err=True)
        _json(local.office.bind_pkcs12(me, username, data=pkcs12_file.read_bytes(), passphrase=passphrase))
    admin_office(body)


@admin.command("set-image")
@click.argument("username")
@click.argument("png", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def set_image(username, png) -> None:
    """Set an official's signature image or a clerk's agency seal (PNG with transparency)."""
    admin_office(lambda local, me: _json(local.office.set_image(me, username, png=png.read_bytes())))


@admin.command("rotate-token")
@click.argument("username")
def rotate_token(username) -> None:
    """Revoke the user's tokens and print a new one (shown once)."""
    admin_office(lambda local, me: _json({"user": username, "token": local.office.rotate_token(me, username)}))


@admin.command("disable")
@click.argument("username")
def disable(username) -> None:
    """Disable a user and revoke their tokens."""
    def body(local, me):
        local.office.disable_user(me, username)
        _json({"user": username, "disabled": True})
    admin_office(body)


@admin.command("list-users")
def list_users() -> None:
    def body(local, me):
        for account in local.office.users(me):
            _json(account)
    admin_office(body)


@click.group("audit")
def audit() -> None:
    """The audit trail: check its hash chain and HMACs, export it, checkpoint its head (nhật ký kiểm toán)."""


@audit.command("verify")
@click.option("--expect-at-least", type=click.IntRange(min=0), default=None,
              help="Records known to exist (from an earlier report): fewer means the last ones were deleted.")
def audit_verify(expect_at_least: int | None) -> None:
    """Check every record, then the latest checkpoint of the head (a truncated or emptied trail
    fails); exit 0 when intact, 1 naming what was tampered with (2: cannot read)."""
    result = {}

    def body(local, me):
        result["r"] = local.office.audit_verify(me, expected_at_least=expect_at_least)
    admin_office(body, code=2)
    outcome = result["r"]
    _json(outcome.to_dict())
    label = "NGUYÊN VẸN / intact" if outcome.ok else "BỊ SỬA ĐỔI / tampered"
    click.secho(f"{label}: {outcome.message_vi} / {outcome.message_en}", err=True, fg="green" if outcome.ok else "red")
    sys.exit(0 if outcome.ok else 1)


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file (default: standard output).")
def audit_export(fmt: str, out: Path | None) -> None:
    """Write every record in seq order as JSON Lines or CSV (UTF-8)."""
    def body(local, me):
        if out is None:
            count = local.office.audit_export(me, sys.stdout, fmt=fmt)
        else:
            encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
            with open(out, "w", encoding=encoding, newline="") as handle:
                count = local.office.audit_export(me, handle, fmt=fmt)
        click.echo(f"{count} bản ghi / records", err=True)
    admin_office(body, code=2)


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Write a checkpoint of the trail's head (HMAC'd, timestamped by the TSA) under
    KYSO_DATA_DIR/audit-checkpoints; run it from a timer (e.g. every 10 minutes)."""
    def body(local, me):
        written = local.office.audit_checkpoint(me).to_dict()
        _json(written)
        click.echo(f"điểm kiểm tra / checkpoint: {written['file']} (bản ghi / record {written['seq']})", err=True)
    admin_office(body)
