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


class SigningContext:
    """What a signing command needs: settings, the dev PKI if any, an engine and a key holder.

    Used as a context manager: it stops the in-process dev PKI server and
    closes the PKCS#11 token when the command ends.
    """

    def __init__(self, *, dev_label=None, pkcs12_file=None, pkcs11_label=None, rsa_padding=None,
                 trust_files=()) -> None:
        from signer import SigningEngine, SigningPolicy, SoftwareKeyHolder

        chosen = [x for x in (dev_label, pkcs12_file, pkcs11_label) if x]
        if len(chosen) != 1:
            raise click.UsageError("give exactly one key: a dev identity label, --pkcs12 or --pkcs11-label")
        self.server = None
        self.token = None
        self.dev_label = dev_label
        try:
            self.settings = settings = _settings(KYSO_RSA_PADDING=rsa_padding)
            self.pki = None
            if settings.uses_dev_pki:
                from devpki import DevPKI

                self.pki = DevPKI.load(settings.dev_pki_url)
                self.server = ensure_dev_pki_served(settings.dev_pki_url)
            pki = self.pki
            trust = _load_trust(trust_files) if trust_files else (pki.trust_roots() if pki else [])
            if dev_label:
                if pki is None:
                    raise click.UsageError("a development identity needs dev mode (the development PKI)")
                self.holder = SoftwareKeyHolder.from_dev_pki(pki, dev_label)
            elif pkcs12_file:
                passphrase = os.environ.get("KYSO_PKCS12_PASSPHRASE")
                if passphrase is None:
                    passphrase = click.prompt("PKCS#12 passphrase", hide_input=True, err=True)
                self.holder = SoftwareKeyHolder.from_pkcs12(pkcs12_file, passphrase=passphrase)
                del passphrase
            else:
                from kyso.services import open_token

                self.token = open_token(settings)
                known = {i.label for i in pki.identities} if pki else set()
                chain = pki.chain(pkcs11_label) if pkcs11_label in known else ()
                self.holder = self.token.key_holder(pkcs11_label, chain=chain)
            tsa_url = settings.tsa_url or (pki.tsa_url if pki else None)
            if settings.is_production:
                from devpki import is_dev_material

                policy = SigningPolicy.for_production(trust, tsa_url=tsa_url, rsa_padding=settings.rsa_padding,
                                                      refuse_certificate=is_dev_material,
                                                      revocation_max_age_seconds=settings.revocation_max_age_seconds,
                                                      tsa_auth=settings.tsa_auth)
            else:
                policy = SigningPolicy(trust_roots=tuple(trust), tsa_url=tsa_url, rsa_padding=settings.rsa_padding,
                                       answers_at_moment=pki.answers_at_moment() if pki else None,
                                       tsa_auth=settings.tsa_auth)
            self.engine = SigningEngine(policy=policy)
        except BaseException:
            self.close()
            raise

    def level(self, text: str | None):
        from signer import Level

        try:
            return Level.parse(text or self.settings.default_level)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None

    def image(self, path: Path | None, what: str) -> bytes:
        """The PNG given, or the development image of the dev identity."""
        if path is not None:
            return path.read_bytes()
        if self.dev_label:
            from certs_dev.images import load_dev_image

            try:
                return load_dev_image(self.dev_label)
            except KeyError:
                pass
        raise click.UsageError(f"give the {what} image (PNG) with --image")

    def workflow(self, register: Path | None):
        """The issuance workflow numbering in the office database (or in ``register``, a SQLite file)."""
        from registers.numbering import DatabaseNumbering, SqliteNumbering
        from signer.issuance import IssuanceWorkflow

        numbering = SqliteNumbering(register) if register else DatabaseNumbering.open(self.settings.database_url)
        return IssuanceWorkflow(engine=self.engine, numbering=numbering)

    def keep_issued(self, workflow, issued, path: Path) -> None:
        """Store the issued file (content-addressed) and its verification report in the register."""
        from kyso.verify_cli import build_policy
        from registers.blobstore import BlobStore, record
        from verifier import verify

        blob = BlobStore(Path(self.settings.data_dir) / "documents").put(path)
        with workflow.numbering.db.session() as s:
            record(s, blob, origin="issued")
        report = verify(path, policy=build_policy(self.settings, trust_profile=self.settings.trust_profile))
        workflow.numbering.attach_report(issued.number, report.to_dict())

    def audit(self, action: str, result: str, documents=(), *, detail=None) -> None:
        """One audit record for this command (actor: the local user)."""
        import getpass

        from registers.audit import AuditEvent, AuditTrail
        from registers.db import Database

        db = Database.connect(self.settings.database_url)
        try:
            db.upgrade()
            AuditTrail(db, key=self.settings.audit_key.encode()).append(AuditEvent(
                actor=getpass.getuser(), role="cli", action=action, result=result, documents=tuple(documents),
                certificate=self.holder.fingerprint, client="local", detail=detail))
        finally:
            db.dispose()

    def display_name(self) -> str:
        subject = self.holder.certificate.subject.native
        return subject.get("common_name") or subject.get("organization_name") or self.holder.label

    def close(self) -> None:
        if self.token is not None:
            self.token.close()
            self.token = None
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _run_command(fn) -> None:
    """Run a command body: Kyso errors become JSON on stderr and exit 1."""
    try:
        fn()
    except KysoError as exc:
        _fail(exc)
    except LookupError as exc:
        raise click.UsageError(str(exc)) from None


def key_options(fn):
    """--signer/--clerk, --pkcs12, --pkcs11-label, --rsa-padding, --trust."""
    for option in reversed([
        click.option("--pkcs12", "pkcs12_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Encrypted PKCS#12 file; passphrase from $KYSO_PKCS12_PASSPHRASE or a prompt."),
        click.option("--pkcs11-label", help="Label of the key and certificate on the PKCS#11 token "
                                            "($KYSO_PKCS11_MODULE, $KYSO_PKCS11_TOKEN, $KYSO_PKCS11_PIN)."),
        click.option("--rsa-padding", type=click.Choice(["pkcs1v15", "pss"]), default=None),
        click.option("--trust", "trust_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
                     help="Trust anchor (PEM/DER) for the certificate check; default: the dev roots in dev mode."),
        click.option("--level", default=None, help="B-B, B-T, B-LT or B-LTA (default $KYSO_DEFAULT_LEVEL or B-T)."),
    ]):
        fn = option(fn)
    return fn


def _write_json(data: dict) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


def _parse_box(text: str | None):
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise click.UsageError(f"a box is x0,y0,x1,y1 in points, not {text!r}") from None
    if len(values) != 4 or values[0] >= values[2] or values[1] >= values[3]:
        raise click.UsageError(f"a box is x0,y0,x1,y1 with x0<x1 and y0<y1, not {text!r}")
    return values


@main.command()
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--signer", "dev_label", help="Development identity label (see `kyso dev-pki list`).")
@key_options
@click.option("--field", default=None, help="Signature field name (default: the prepared personal field "
                                            "with --appearance personal, else the next free SignatureN).")
@click.option("--reason", default=None)
@click.option("--location", default=None)
@click.option("--appearance", type=click.Choice(["invisible", "personal"]), default="invisible",
              help="personal: the official's handwritten-signature image (Decree 30).")
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Signature image (PNG, transparent); default: the dev identity's image.")
@click.option("--page", type=int, default=None, help="Page for a new visible field (1-based; -1 = last).")
@click.option("--box", default=None, help="x0,y0,x1,y1 in points for a new visible field.")
def sign(input_pdf, output_pdf, dev_label, pkcs12_file, pkcs11_label, level, field, reason, location,
         rsa_padding, trust_files, appearance, image, page, box) -> None:
    """Sign INPUT_PDF into OUTPUT_PDF (PAdES)."""
    from signer import SignRequest

    box = _parse_box(box)
    if (page is None) != (box is None):
        raise click.UsageError("--page and --box go together")

    def body():
        with SigningContext(dev_label=dev_label, pkcs12_file=pkcs12_file, pkcs11_label=pkcs11_label,
                            rsa_padding=rsa_padding, trust_files=trust_files) as ctx:
            lvl = ctx.level(level)
            if appearance == "invisible":
                if box is not None:
                    raise click.UsageError("--page/--box place a visible signature: add --appearance personal")
                request = SignRequest(document=input_pdf, field=field, reason=reason, location=location, level=lvl)
                result = ctx.engine.sign(request, key_holder=ctx.holder, output=output_pdf)
                ctx.audit("sign", "ok", [result.sha256], detail={"level": lvl.value, "field": result.field})
                _write_json(result.to_dict())
                return
            from signer.appearance import Placement

            placement = None if box is None else Placement(page=page - 1 if page > 0 else page, box=box)
            result = ctx.workflow(None).sign_personal(
                input_pdf.read_bytes(), key_holder=ctx.holder, signature_image=ctx.image(image, "signature"),
                level=lvl, reason=reason, location=location, placement=placement, output=output_pdf)
            ctx.audit("sign", "ok", [result.sha256], detail={"level": lvl.value, "field": result.field})
            _write_json(result.to_dict())

    _run_command(body)


@main.command()
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--personal-page", type=int, default=-1, help="Page of the signature block (1-based; -1 = last).")
@click.option("--personal-box", default=None, help="x0,y0,x1,y1 of the personal signature image (points).")
@click.option("--number-box", default=None, help="x0,y0,x1,y1 of the number field on page 1.")
@click.option("--date-box", default=None, help="x0,y0,x1,y1 of the place-and-date field on page 1.")
@click.option("--anchor", default=None, help="Put the personal signature just above this printed text "
                                             "(the official's name) on the signature page.")
def prepare(input_pdf, output_pdf, personal_page, personal_box, number_box, date_box, anchor) -> None:
    """Add the empty number, date and signature fields to a draft (before anyone signs)."""
    from signer.formfields import DraftLayout
    from signer.issuance import IssuanceWorkflow

    overrides = {}
    if personal_box:
        overrides["personal_box"] = _parse_box(personal_box)
    if number_box:
        overrides["number_box"] = _parse_box(number_box)
    if date_box:
        overrides["date_box"] = _parse_box(date_box)
    overrides["personal_page"] = personal_page - 1 if personal_page > 0 else personal_page

    def body():
        from signer import SigningEngine, SigningPolicy

        from signer.formfields import anchored_layout

        workflow = IssuanceWorkflow(engine=SigningEngine(policy=SigningPolicy()), numbering=None)
        draft = input_pdf.read_bytes()
        layout = DraftLayout(**overrides)
        if anchor:
            if personal_box:
                raise click.UsageError("--anchor and --personal-box both place the signature: give one")
            layout = anchored_layout(draft, anchor, page=layout.personal_page, base=layout)
        prepared = workflow.prepare(draft, layout=layout)
        output_pdf.write_bytes(prepared)
        _write_json({"schema": "kyso.prepared/1", "path": str(output_pdf), "size": len(prepared)})

    _run_command(body)


@main.command()
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--clerk", "dev_label", help="Development agency identity the clerk holds (e.g. agency-ubnd-hung-yen).")
@key_options
@click.option("--type", "doc_type", required=True, help="Document type: CT, QĐ, NQ, TB, KH, BC, TTr, GM... or CV.")
@click.option("--agency", required=True, help="Agency abbreviation in the symbol, e.g. UBND.")
@click.option("--unit", default=None, help="Drafting unit for an official letter (CV), e.g. VP.")
@click.option("--agency-name", default=None, help="Name shown with the seal (default: the certificate's).")
@click.option("--place", default=None, help="Place before the date, e.g. 'Hưng Yên'.")
@click.option("--number", type=int, default=None, help="Take this number (must be the next one) instead.")
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Seal image (PNG, red, transparent); default: the dev agency's seal.")
@click.option("--seal-mm", type=float, default=36.0, help="Real diameter of the seal in millimetres.")
@click.option("--register", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A separate numbering store (SQLite file); default: the office database ($KYSO_DATABASE_URL).")
@click.option("--summary", default=None, help="Trích yếu: the summary written in the outgoing register.")
@click.option("--recipient", "recipients", multiple=True, help="Nơi nhận (repeatable).")
def issue(input_pdf, output_pdf, dev_label, pkcs12_file, pkcs11_label, rsa_padding, trust_files, level,
          doc_type, agency, unit, agency_name, place, number, image, seal_mm, register, summary, recipients) -> None:
    """The clerk's step: next number, date and the agency signature, in one update."""
    def body():
        with SigningContext(dev_label=dev_label, pkcs12_file=pkcs12_file, pkcs11_label=pkcs11_label,
                            rsa_padding=rsa_padding, trust_files=trust_files) as ctx:
            try:
                from signer.numbering import document_symbol

                document_symbol(doc_type=doc_type, agency=agency, unit=unit)
            except ValueError as exc:
                raise click.UsageError(str(exc)) from None
            workflow = ctx.workflow(register)
            issued = workflow.issue(
                input_pdf.read_bytes(), key_holder=ctx.holder, agency=agency, doc_type=doc_type, unit=unit,
                place=place, number=number, seal_image=ctx.image(image, "seal"), seal_diameter_mm=seal_mm,
                agency_name=agency_name or ctx.display_name(), level=ctx.level(level), output=output_pdf,
                summary=summary, recipients=list(recipients) or None)
            ctx.keep_issued(workflow, issued, output_pdf)
            ctx.audit("issue", "ok", [issued.signed.sha256], detail={"number": issued.number.text})
            _write_json(issued.to_dict())

    _run_command(body)


@main.command("sign-attachment")
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--clerk", "dev_label", help="Development agency identity the clerk holds.")
@key_options
@click.option("--main-number", required=True, help="Number and symbol of the main document, e.g. 16/CT-UBND.")
@click.option("--agency-name", default=None)
def sign_attachment(input_pdf, output_pdf, dev_label, pkcs12_file, pkcs11_label, rsa_padding, trust_files,
                    level, main_number, agency_name) -> None:
    """Agency signature on an attachment file (top right of page 1, no image)."""
    def body():
        with SigningContext(dev_label=dev_label, pkcs12_file=pkcs12_file, pkcs11_label=pkcs11_label,
                            rsa_padding=rsa_padding, trust_files=trust_files) as ctx:
            signed = ctx.workflow(None).sign_attachment(
                input_pdf.read_bytes(), key_holder=ctx.holder, main_document_number=main_number,
                agency_name=agency_name or ctx.display_name(), level=ctx.level(level), output=output_pdf)
            ctx.audit("sign_attachment", "ok", [signed.sha256], detail={"main_number": main_number})
            _write_json(signed.to_dict())

    _run_command(body)


@main.command("copy")
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--clerk", "dev_label", help="Development agency identity the clerk holds.")
@key_options
@click.option("--form", type=click.Choice(["SY", "SL", "TrS"]), required=True,
              help="SY: sao y, SL: sao lục, TrS: trích sao (with --pages).")
@click.option("--agency", required=True, help="Agency abbreviation in the copy's symbol, e.g. UBND.")
@click.option("--agency-name", default=None)
@click.option("--pages", default=None, help="Pages of an excerpt (TrS), e.g. 1,3.")
@click.option("--register", type=click.Path(dir_okay=False, path_type=Path), default=None)
def copy_command(input_pdf, output_pdf, dev_label, pkcs12_file, pkcs11_label, rsa_padding, trust_files, level,
                 form, agency, agency_name, pages, register) -> None:
    """An electronic copy of an issued original: SAO Y / SAO LỤC / TRÍCH SAO."""
    try:
        page_list = [int(p) for p in pages.split(",")] if pages else None
    except ValueError:
        raise click.UsageError("--pages is a comma-separated list of page numbers") from None

    def body():
        with SigningContext(dev_label=dev_label, pkcs12_file=pkcs12_file, pkcs11_label=pkcs11_label,
                            rsa_padding=rsa_padding, trust_files=trust_files) as ctx:
            issued = ctx.workflow(register).make_copy(
                input_pdf.read_bytes(), key_holder=ctx.holder, form=form, agency=agency,
                agency_name=agency_name or ctx.display_name(), pages=page_list, level=ctx.level(level),
                output=output_pdf)
            ctx.audit("copy", "ok", [issued.signed.sha256], detail={"number": issued.number.text})
            _write_json(issued.to_dict())

    _run_command(body)


@main.command()
def doctor() -> None:
    """Check that the service can start: database, token (one PIN attempt), TSA. Exit 1 with one
    line per problem, each naming the setting to fix."""
    from kyso.startup import check

    try:
        settings = _settings()
    except KysoError as exc:
        click.echo(f"FAIL settings: {exc.message}", err=True)
        sys.exit(1)
    findings = check(settings)
    for finding in findings:
        click.echo(finding.line(), err=not finding.ok)
    sys.exit(0 if all(f.ok for f in findings) else 1)


def _load_trust(paths) -> list:
    from pyhanko.keys import load_certs_from_pemder

    return list(load_certs_from_pemder(list(paths)))


def _register_verifier() -> None:
    from kyso.verify_cli import trust_group, verify_command

    main.add_command(verify_command, name="verify")
    main.add_command(trust_group, name="trust")
    from kyso.registers_cli import receive_command, register_command

    main.add_command(receive_command, name="receive")
    main.add_command(register_command, name="register")
    from kyso.admin_cli import admin

    main.add_command(admin, name="admin")
    try:
        from kyso.audit_cli import audit
    except ImportError:  # pragma: no cover
        return
    main.add_command(audit, name="audit")


_register_verifier()


def _register_dev_pki() -> None:
    try:
        from devpki.cli import dev_pki
    except ImportError:  # pragma: no cover - devpki ships with Kyso
        return
    main.add_command(dev_pki, name="dev-pki")


_register_dev_pki()

if __name__ == "__main__":  # pragma: no cover
    main()
