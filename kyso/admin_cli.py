"""``kyso admin``: users, roles, keys, images and tokens. Every change is audited ("admin_change")."""
from __future__ import annotations

import getpass
import json
import os
from pathlib import Path

import click

from kyso.errors import KysoError


class _Admin:
    def __init__(self) -> None:
        from kyso.cli import _settings
        from registers.accounts import Accounts
        from registers.audit import AuditTrail
        from registers.keystore import AccountStore
        from registers.db import Database

        self.settings = _settings()
        self.db = Database.connect(self.settings.database_url)
        self.db.upgrade()
        self.accounts = Accounts(self.db)
        self.keys = AccountStore(self.settings.key_dir)
        self.audit = AuditTrail(self.db, key=self.settings.audit_key.encode())

    def record(self, what: str, username: str | None, **detail) -> None:
        from registers.audit import AuditEvent

        about = {"user": username} if username is not None else {}
        self.audit.append(AuditEvent(actor=getpass.getuser(), role="admin", action="admin_change", result="ok",
                                     client="local", detail={"change": what, **about, **detail}))

    def close(self) -> None:
        self.db.dispose()


def _run(fn):
    try:
        fn(_Admin())
    except KysoError as exc:
        click.echo(json.dumps(exc.to_dict(), ensure_ascii=False), err=True)
        raise SystemExit(1)


@click.group("admin")
def admin() -> None:
    """Manage users, roles, keys, signature images, seals and API tokens."""


@admin.command("create-user")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Full name, e.g. 'Nguyễn Văn An'.")
@click.option("--role", type=click.Choice(["official", "clerk", "receiver", "auditor", "admin"]), required=True)
@click.option("--agency", default=None)
def create_user(username, display_name, role, agency) -> None:
    """Create a user and print their first API token (shown once)."""
    def body(a: _Admin):
        account = a.accounts.create(username, display_name=display_name, role=role, agency=agency)
        token = a.accounts.issue_token(username)
        a.record("create_user", username, role=role)
        click.echo(json.dumps({"user": account.to_dict(), "token": token}, ensure_ascii=False))
    _run(body)


@admin.command("bind-key")
@click.argument("username")
@click.option("--pkcs11-label", default=None, help="Label of the key and certificate on the service's token.")
@click.option("--pkcs12", "pkcs12_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="An encrypted PKCS#12 file (kept encrypted; its passphrase comes with each signing request).")
def bind_key(username, pkcs11_label, pkcs12_file) -> None:
    """Bind the one key this user signs with."""
    if (pkcs11_label is None) == (pkcs12_file is None):
        raise click.UsageError("give exactly one of --pkcs11-label, --pkcs12")

    def body(a: _Admin):
        if pkcs11_label:
            from kyso.services import open_token

            with open_token(a.settings) as token:
                holder = token.key_holder(pkcs11_label)
            account = a.accounts.bind_key(username, kind="pkcs11", ref=pkcs11_label,
                                          certificate_sha256=holder.fingerprint)
        else:
            # opened once here, with the owner's passphrase, to check it and read the certificate;
            # kept encrypted in the key store (0600), never in the document store
            from signer import SoftwareKeyHolder

            data = pkcs12_file.read_bytes()
            passphrase = os.environ.get("KYSO_PKCS12_PASSPHRASE")
            if passphrase is None:
                passphrase = click.prompt("PKCS#12 passphrase (checked now, never stored)", hide_input=True, err=True)
            holder = SoftwareKeyHolder.from_pkcs12(data, passphrase=passphrase)
            del passphrase
            ref = a.keys.put(data, kind="pkcs12")
            account = a.accounts.bind_key(username, kind="pkcs12", ref=ref, certificate_sha256=holder.fingerprint)
        a.record("bind_key", username, kind=account.key_kind, ref=account.key_ref,
                 certificate=account.certificate_sha256)
        click.echo(json.dumps(account.to_dict(), ensure_ascii=False))
    _run(body)


@admin.command("set-image")
@click.argument("username")
@click.argument("png", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def set_image(username, png) -> None:
    """Set an official's signature image or a clerk's agency seal (PNG with transparency)."""
    def body(a: _Admin):
        data = png.read_bytes()
        if not data.startswith(b"\x89PNG"):
            raise click.UsageError("the image must be a PNG")
        ref = a.keys.put(data, kind="image")     # drawn by the signing use cases only, never served
        account = a.accounts.set_image(username, ref)
        a.record("set_image", username, image=ref)
        click.echo(json.dumps(account.to_dict(), ensure_ascii=False))
    _run(body)


@admin.command("rotate-token")
@click.argument("username")
def rotate_token(username) -> None:
    """Revoke the user's tokens and print a new one (shown once)."""
    def body(a: _Admin):
        token = a.accounts.rotate_token(username)
        a.record("rotate_token", username)
        click.echo(json.dumps({"user": username, "token": token}))
    _run(body)


@admin.command("disable")
@click.argument("username")
def disable(username) -> None:
    """Disable a user and revoke their tokens."""
    def body(a: _Admin):
        a.accounts.disable(username)
        a.record("disable", username)
        click.echo(json.dumps({"user": username, "disabled": True}))
    _run(body)


@admin.command("list-users")
def list_users() -> None:
    def body(a: _Admin):
        for account in a.accounts.list():
            click.echo(json.dumps(account.to_dict(), ensure_ascii=False))
    _run(body)
