"""``kyso dev-pki ...``: the development PKI from the command line (DEV ONLY).

Mount in the main CLI with ``kyso_cli.add_command(devpki.cli.dev_pki)``; standalone:
``python -m devpki.cli --help``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from .pki import DEFAULT_BASE_URL, DEV_P12_PASSPHRASE, DevPKI

__all__ = ["dev_pki", "main"]

BASE_URL_ENV = "KYSO_DEV_PKI_URL"
P12_PASSPHRASE_ENV = "KYSO_DEV_P12_PASSPHRASE"


def _base_url_option(f):
    return click.option(
        "--base-url",
        envvar=BASE_URL_ENV,
        default=DEFAULT_BASE_URL,
        show_default=True,
        help=f"Service base URL embedded in the certificates (env {BASE_URL_ENV}).",
    )(f)


@click.group(name="dev-pki")
def dev_pki():
    """Development PKI (certs_dev/): list, export, SoftHSM import, serve. DEV ONLY."""


@dev_pki.command(name="list")
@_base_url_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(base_url: str, as_json: bool):
    """List every identity: label, role, state, key algorithm, name, subject."""
    pki = DevPKI.load(base_url)
    rows = [
        {
            "label": i.label,
            "role": i.role,
            "state": i.state,
            "key_algorithm": i.key_algorithm,
            "hierarchy": i.hierarchy,
            "display_name": i.display_name,
            "title": i.title,
            "subject": i.subject,
            "issuer": i.issuer_label,
            "sha256": i.sha256_fingerprint,
        }
        for i in pki.identities
    ]
    if as_json:
        click.echo(json.dumps({"base_url": pki.base_url, "identities": rows},
                              ensure_ascii=False, indent=2))
        return
    cols = ("label", "role", "state", "key_algorithm", "display_name", "subject")
    heads = ("LABEL", "ROLE", "STATE", "KEY", "NAME", "SUBJECT")
    widths = [max(len(h), *(len(str(r[c])) for r in rows)) for c, h in zip(cols[:-1], heads)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    click.echo(fmt.format(*heads))
    for r in rows:
        click.echo(fmt.format(*(str(r[c]) for c in cols)))


@dev_pki.command(name="export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@_base_url_option
@click.option(
    "--passphrase-env",
    default=P12_PASSPHRASE_ENV,
    show_default=True,
    help="Environment variable holding the PKCS#12 passphrase "
    f"(unset: the documented dev passphrase {DEV_P12_PASSPHRASE.decode()!r}).",
)
def export_cmd(directory: Path, base_url: str, passphrase_env: str):
    """Write CA certificates (PEM, bundles) and one encrypted .p12 per signer to DIRECTORY."""
    value = os.environ.get(passphrase_env)
    passphrase = value.encode("utf-8") if value else DEV_P12_PASSPHRASE
    pki = DevPKI.load(base_url)
    for path in pki.export(directory, passphrase=passphrase):
        click.echo(str(path))
    if not value:
        click.echo(f"PKCS#12 passphrase: {DEV_P12_PASSPHRASE.decode()} (dev default)", err=True)


@dev_pki.command(name="softhsm-import")
@click.option("--token-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for softhsm2.conf and the token (recreated if it exists).")
@click.option("--label", default="kyso-dev", show_default=True, help="Token label.")
@click.option("--pin", default="1234", show_default=True, help="User PIN.")
@click.option("--so-pin", default="5678", show_default=True, help="Security officer PIN.")
@click.option("--identity", "identities", multiple=True,
              help="Only these labels (repeatable). Default: officials, agencies, untrusted.")
@_base_url_option
def softhsm_import_cmd(token_dir: Path, label: str, pin: str, so_pin: str, identities, base_url):
    """Create a SoftHSM2 token with the dev signers' keys and certificates."""
    from .softhsm import provision_token

    pki = DevPKI.load(base_url)
    token = provision_token(pki, token_dir, label=label, user_pin=pin, so_pin=so_pin,
                            identities=list(identities) or None)
    click.echo(f"token {token.token_label!r}: {len(token.object_ids)} keys "
               f"({', '.join(token.object_ids)}) + {len(token.ca_cert_ids)} CA certificates", err=True)
    click.echo(f"module: {token.module_path}", err=True)
    click.echo(f"export SOFTHSM2_CONF={token.conf_path}")


@dev_pki.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9780, show_default=True, type=int)
@click.option("--mount", default="/dev-pki", show_default=True, help="URL path prefix.")
def serve_cmd(host: str, port: int, mount: str):
    """Serve OCSP, CRLs, TSA and certificates (base URL derived from host/port/mount)."""
    from .server import serve_forever

    serve_forever(host=host, port=port, mount=mount)


def main(argv=None) -> int:
    try:
        dev_pki.main(args=argv, prog_name="dev-pki", standalone_mode=True)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
