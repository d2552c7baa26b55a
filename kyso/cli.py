"""The ``kyso`` command line.

    kyso serve                                   run the service (embedded default)
    kyso sign IN.pdf OUT.pdf --signer LABEL      sign with a development identity
    kyso sign IN.pdf OUT.pdf --pkcs12 FILE       sign with a PKCS#12 file (passphrase from
                                                 $KYSO_PKCS12_PASSPHRASE or a prompt)
    kyso sign IN.pdf OUT.pdf --pkcs11-label L    sign with a key on the PKCS#11 token
    kyso dev-pki list|export|softhsm-import|serve

Errors print ``{"error": {"code", "message", "message_vi"}}`` on stderr and
exit with 1; usage errors exit with 2.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click

from kyso.errors import KysoError
from kyso.settings import Settings


def _settings(**overrides: str | None) -> Settings:
    env = dict(os.environ)
    for var, value in overrides.items():
        if value is not None:
            env[var] = str(value)
    return Settings.from_env(env)


def _fail(exc: KysoError) -> None:
    click.echo(json.dumps(exc.to_dict(), ensure_ascii=False), err=True)
    sys.exit(1)


@click.group()
@click.version_option(package_name="kyso")
def main() -> None:
    """Kyso (ký số): sign and verify PDF documents for Vietnamese state offices."""


@main.command()
@click.option("--host", default=None, help="Listen address (default $KYSO_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default $KYSO_PORT or 8080).")
def serve(host: str | None, port: int | None) -> None:
    """Run the service. In dev mode: SoftHSM2 token, dev PKI with OCSP/CRL/TSA under /dev-pki/."""
    from werkzeug.serving import run_simple

    from api import create_app

    try:
        settings = _settings(KYSO_HOST=host, KYSO_PORT=port)
        app = create_app(settings)
    except KysoError as exc:
        _fail(exc)
        return
    services = app.extensions["kyso"]
    click.echo(f"Kyso ({settings.mode}) on http://{settings.host}:{settings.port}/")
    if services.pki is not None:
        click.echo(f"dev PKI (OCSP, CRL, TSA): {settings.dev_pki_url}/")
        click.echo("development tokens (Authorization: Bearer <token>):")
        for official in services.officials.values():
            click.echo(f"  {official.token:<44} {official.role:<8} {official.display_name}")
        click.echo(f"try: curl -H 'Authorization: Bearer {next(iter(services.officials.values())).token}' "
                   f"-F file=@document.pdf -F level=B-LT http://{settings.host}:{settings.port}/api/v1/sign "
                   "-o signed.pdf")
    run_simple(settings.host, settings.port, app, threaded=True, use_reloader=False)


def ensure_dev_pki_served(base_url: str):
    """Start the dev PKI in this process if nothing answers at ``base_url``; return the server or None."""
    import requests

    from devpki.server import DevPKIServer

    try:
        requests.get(base_url.rstrip("/") + "/", timeout=1.5)
        return None
    except requests.RequestException:
        pass
    parts = urlsplit(base_url)
    return DevPKIServer.start(host=parts.hostname or "127.0.0.1", port=parts.port or 80,
                              mount=parts.path or "/")


@main.command()
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--signer", "dev_label", help="Development identity label (see `kyso dev-pki list`).")
@click.option("--pkcs12", "pkcs12_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Encrypted PKCS#12 file; passphrase from $KYSO_PKCS12_PASSPHRASE or a prompt.")
@click.option("--pkcs11-label", help="Label of the key and certificate on the PKCS#11 token "
                                     "($KYSO_PKCS11_MODULE, $KYSO_PKCS11_TOKEN, $KYSO_PKCS11_PIN).")
@click.option("--level", default=None, help="B-B, B-T, B-LT or B-LTA (default $KYSO_DEFAULT_LEVEL or B-T).")
@click.option("--field", default=None, help="Signature field name (default: next free SignatureN).")
@click.option("--reason", default=None)
@click.option("--location", default=None)
@click.option("--rsa-padding", type=click.Choice(["pkcs1v15", "pss"]), default=None)
@click.option("--trust", "trust_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Trust anchor (PEM/DER) for the certificate check; default: the dev roots in dev mode.")
def sign(input_pdf, output_pdf, dev_label, pkcs12_file, pkcs11_label, level, field, reason, location,
         rsa_padding, trust_files) -> None:
    """Sign INPUT_PDF into OUTPUT_PDF (PAdES)."""
    from signer import Level, Pkcs11Token, SigningEngine, SigningPolicy, SignRequest, SoftwareKeyHolder

    chosen = [x for x in (dev_label, pkcs12_file, pkcs11_label) if x]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --signer, --pkcs12, --pkcs11-label")
    server = None
    token = None
    try:
        settings = _settings(KYSO_RSA_PADDING=rsa_padding)
        try:
            lvl = Level.parse(level or settings.default_level)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        pki = None
        if settings.uses_dev_pki:
            from devpki import DevPKI

            pki = DevPKI.load(settings.dev_pki_url)
            server = ensure_dev_pki_served(settings.dev_pki_url)
        trust = _load_trust(trust_files) if trust_files else (pki.trust_roots() if pki else [])
        if dev_label:
            if pki is None:
                raise click.UsageError("--signer needs dev mode (the development PKI)")
            holder = SoftwareKeyHolder.from_dev_pki(pki, dev_label)
        elif pkcs12_file:
            passphrase = os.environ.get("KYSO_PKCS12_PASSPHRASE")
            if passphrase is None:
                passphrase = click.prompt("PKCS#12 passphrase", hide_input=True, err=True)
            holder = SoftwareKeyHolder.from_pkcs12(pkcs12_file, passphrase=passphrase)
            del passphrase
        else:
            token = Pkcs11Token.open(module=settings.pkcs11_module, token_label=settings.pkcs11_token,
                                     pin=settings.pkcs11_pin)
            chain = pki.chain(pkcs11_label) if pki and pkcs11_label in {i.label for i in pki.identities} else ()
            holder = token.key_holder(pkcs11_label, chain=chain)
        tsa_url = settings.tsa_url or (pki.tsa_url if pki else None)
        if settings.is_production:
            policy = SigningPolicy.for_production(trust, tsa_url=tsa_url, rsa_padding=settings.rsa_padding)
        else:
            policy = SigningPolicy(trust_roots=tuple(trust), tsa_url=tsa_url, rsa_padding=settings.rsa_padding)
        engine = SigningEngine(policy=policy)
        result = engine.sign(SignRequest(document=input_pdf, field=field, reason=reason, location=location,
                                         level=lvl), key_holder=holder, output=output_pdf)
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    except KysoError as exc:
        _fail(exc)
    except LookupError as exc:
        raise click.UsageError(str(exc)) from None
    finally:
        if token is not None:
            token.close()
        if server is not None:
            server.stop()


def _load_trust(paths) -> list:
    from pyhanko.keys import load_certs_from_pemder

    return list(load_certs_from_pemder(list(paths)))


def _register_dev_pki() -> None:
    try:
        from devpki.cli import dev_pki
    except ImportError:  # pragma: no cover - devpki ships with Kyso
        return
    main.add_command(dev_pki, name="dev-pki")


_register_dev_pki()

if __name__ == "__main__":  # pragma: no cover
    main()
