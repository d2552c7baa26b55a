"""The ``kyso`` command: a thin door over :class:`office.Office` on the server's own machine.

Every command reads the same settings as the service (``KYSO_*``; the data home is the same
whatever the current folder) and acts as an account of the office: ``--as USERNAME`` (or
``$KYSO_USER``; in development the accounts are the development identities, e.g.
``--as nguyen-van-an``, ``--as agency-ubnd-hung-yen``). Errors are the API's: one JSON object
``{"error": ...}`` on standard error and exit status 1 (2 for usage errors).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from kyso.errors import ConfigurationError, KysoError

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


def settings_from_env(**overrides):
    from kyso.settings import Settings

    env = dict(os.environ)
    for var, value in overrides.items():
        if value is not None:
            env[var] = str(value)
    return Settings.from_env(env)


def fail(exc: KysoError, code: int = 1) -> None:
    click.echo(json.dumps(exc.to_dict(), ensure_ascii=False), err=True)
    sys.exit(code)


def write_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


class Local:
    """The office for one command (and, in development, its PKI served if nothing serves it)."""

    def __init__(self, settings=None) -> None:
        from office import Office
        from office.compose import serve_dev_pki_if_needed

        self.settings = settings or settings_from_env()
        self.server = serve_dev_pki_if_needed(self.settings)
        try:
            self.office = Office.from_settings(self.settings)
        except BaseException:
            self.close()
            raise

    def caller(self, username: str | None):
        if not username:
            raise click.UsageError("say which account acts: --as USERNAME (or $KYSO_USER)")
        return self.office.caller(username, client="local")

    def close(self) -> None:
        if getattr(self, "office", None) is not None:
            self.office.close()
            self.office = None
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run(body) -> None:
    """Run a command body: Kyso errors become the API's JSON on standard error, exit 1."""
    try:
        body()
    except KysoError as exc:
        fail(exc)


def _passphrase(office, caller) -> str | None:
    """The PKCS#12 passphrase, for an account whose key is a file: $KYSO_PKCS12_PASSPHRASE or a prompt."""
    if caller.key_kind != "pkcs12":
        return None
    value = os.environ.get("KYSO_PKCS12_PASSPHRASE")
    return value if value is not None else click.prompt("PKCS#12 passphrase", hide_input=True, err=True)


def as_option(fn):
    return click.option("--as", "--signer", "--clerk", "username", envvar="KYSO_USER", default=None,
                        help="The account that acts ($KYSO_USER), e.g. nguyen-van-an or agency-ubnd-hung-yen.")(fn)


def level_option(fn):
    return click.option("--level", type=click.Choice(LEVELS), default=None,
                        help="PAdES level (default $KYSO_DEFAULT_LEVEL or B-T).")(fn)


class _Commands(click.Group):
    """The ``kyso`` group; the development PKI's commands are imported only when one is run (their
    import builds on certomancer: 0.17 s that ``kyso verify`` need not pay), the administrator's and
    the job queue's too (5 ms of a command its warm helper answers in 70)."""

    LAZY = {"dev-pki": ("devpki.cli", "dev_pki"), "admin": ("commands.admin", "admin"),
            "audit": ("commands.admin", "audit"), "verify-jobs": ("commands.jobs", "jobs_group")}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.LAZY))

    def get_command(self, ctx, name):
        if name in self.LAZY and name not in self.commands:
            import importlib

            module, attribute = self.LAZY[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name=name)
        return super().get_command(ctx, name)


@click.group(cls=_Commands)
@click.version_option(package_name="kyso")
def main() -> None:
    """Kyso (ký số): sign and verify PDF documents for Vietnamese state offices."""
    import logging
    import warnings

    # pyHanko logs each validation problem it hits (with a traceback) before Kyso turns it into a
    # reason of the verdict or a refusal with a code: on a terminal that is noise over the answer;
    # so is the deprecation warning pyHanko's import raises ("DSA is deprecated": Kyso signs with RSA
    # and ECDSA only, and judges a DSA signature like any other)
    for name in ("pyhanko", "pyhanko_certvalidator", "fontTools"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="DSA is deprecated", module="pyhanko")


# -- the service ---------------------------------------------------------------------------------

@main.command()
@click.option("--host", default=None, help="Listen address (default $KYSO_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default $KYSO_PORT or 8080).")
def serve(host: str | None, port: int | None) -> None:
    """Run the service. In dev mode: SoftHSM2 token, dev PKI with OCSP/CRL/TSA under /dev-pki/."""
    from werkzeug.serving import run_simple

    from api import create_app

    try:
        settings = settings_from_env(KYSO_HOST=host, KYSO_PORT=port)
        app = create_app(settings)
    except KysoError as exc:
        fail(exc)
        return
    office = app.extensions["kyso"]
    base = f"http://{settings.host}:{settings.port}"
    click.echo(f"Kyso ({settings.mode}) on {base}/")
    click.echo(f"web pages: {base}/web/   API: {base}/api/v1/openapi.json   data: {settings.data_dir}")
    if office.dev_pki is not None:
        click.echo(f"dev PKI (OCSP, CRL, TSA): {settings.dev_pki_url}/")
        click.echo("development logins (paste the token on the login page, or Authorization: Bearer <token>):")
        for username, name, role, token in office.dev_users:
            click.echo(f"  {role:<9} {token:<44} {name}")
        click.echo(f"try: curl -H 'Authorization: Bearer kyso-dev-nguyen-van-an' -F file=@document.pdf "
                   f"-F level=B-LT {base}/api/v1/sign -o signed.pdf")
    run_simple(settings.host, settings.port, app, threaded=True, use_reloader=False)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the findings and what was reconciled.")
@click.option("--grace", type=click.FloatRange(0, 86400), default=None,
              help="Leave alone what is younger than this many seconds (default 300; 0 when nothing else runs).")
def doctor(as_json: bool, grace: float | None) -> None:
    """Check that the service can start (database, token with one PIN attempt, TSA) and reconcile after a
    crash (numbers left reserved, stored files without a row, operations without an audit record).
    Exit 1 when the service cannot start (one line per problem, naming the setting), 3 when it can but
    the reconciler found what it cannot repair (rows without their file or audit record), else 0."""
    import json

    from office.doctor import check

    try:
        settings = settings_from_env()
    except KysoError as exc:
        click.echo(f"FAIL settings: {exc.message}", err=True)
        sys.exit(1)
    findings, reconciled = check(settings, reconcile=True, grace_seconds=grace)
    ok = all(f.ok for f in findings)
    code = 1 if any(not f.ok and f.blocking for f in findings) else 0 if ok else 3
    if as_json:
        click.echo(json.dumps({"ok": ok, "findings": [f.to_dict() for f in findings],
                               "reconciled": reconciled.to_dict() if reconciled is not None else None},
                              ensure_ascii=False))
    else:
        for finding in findings:
            click.echo(finding.line(), err=not finding.ok)
    sys.exit(code)


@main.command()
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Items done at once (1: one process; more: forked processes).")
@click.option("--name", default=None, help="This worker's name (default: celery@HOST).")
def worker(concurrency: int, name: str | None) -> None:
    """Do the documents of bulk verification jobs (KYSO_BROKER_URL), on any node, until stopped.
    A worker that dies leaves its document to another: each is recorded once."""
    from office import Office
    from office.jobqueue import run_worker

    try:
        settings = settings_from_env()
        if not settings.broker_url:
            raise ConfigurationError("kyso worker needs KYSO_BROKER_URL (amqp://... or redis://...)",
                                     message_vi="kyso worker cần KYSO_BROKER_URL (amqp://... hoặc redis://...).")
        office = Office.from_settings(settings)
    except KysoError as exc:
        fail(exc)
        return
    run_worker(office, concurrency=concurrency, hostname=name)


# -- outgoing ------------------------------------------------------------------------------------

def _parse_box(text: str | None):
    if text is None:
        return None
    from webui.schemas import parse_box

    try:
        return parse_box(text)
    except KysoError as exc:
        raise click.UsageError(exc.message) from None


@main.command()
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@as_option
@click.option("--signer-name", default=None, help="The signer's printed name (the signature goes above it).")
@click.option("--number-box", default=None, help="Move the number field: PAGE:x0,y0,x1,y1 (points).")
@click.option("--date-box", default=None, help="Move the date field: PAGE:x0,y0,x1,y1.")
@click.option("--signature-box", default=None, help="Move the signature field: PAGE:x0,y0,x1,y1.")
def prepare(input_pdf, output_pdf, username, signer_name, number_box, date_box, signature_box) -> None:
    """Put the empty number, date and signature fields on the draft's own blanks."""
    boxes = {k: _parse_box(v) for k, v in (("number", number_box), ("date", date_box), ("signature", signature_box))}

    def body():
        with Local() as local:
            prepared = local.office.prepare(local.caller(username), input_pdf.read_bytes(),
                                            boxes={k: v for k, v in boxes.items() if v}, signer_name=signer_name)
            output_pdf.write_bytes(prepared.stored.data)
            write_json({**prepared.to_dict(), "path": str(output_pdf)})

    run(body)


@main.command()
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@as_option
@level_option
@click.option("--appearance", type=click.Choice(["invisible", "personal"]), default="invisible",
              help="personal: the official's signature image, in the draft's prepared field (Decree 30).")
@click.option("--field", default=None, help="Signature field name (invisible signatures).")
@click.option("--reason", default=None)
@click.option("--location", default=None)
@click.option("--certify", is_flag=True, help="A certification signature (the document's first): see --docmdp.")
@click.option("--docmdp", type=click.IntRange(1, 3), default=2, show_default=True,
              help="With --certify: 1 no change, 2 form filling and signing (what issuance needs), 3 also comments.")
def sign(input_pdf, output_pdf, username, level, appearance, field, reason, location, certify, docmdp) -> None:
    """Sign INPUT_PDF into OUTPUT_PDF with the account's own personal key."""
    def body():
        with Local() as local:
            office = local.office
            caller = local.caller(username)
            signed = office.sign(caller, input_pdf.read_bytes(), level=level,
                                 appearance=appearance, field=field, reason=reason, location=location,
                                 passphrase=_passphrase(office, caller), certify=docmdp if certify else None)
            output_pdf.write_bytes(signed.stored.data)
            write_json({**signed.to_dict(), "path": str(output_pdf)})

    run(body)


@main.command()
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@as_option
@level_option
@click.option("--type", "doc_type", required=True, help="Document type: QĐ, CT, NQ, TB, KH, BC, TTr, GM... or CV.")
@click.option("--unit", default=None, help="Drafting unit of an official letter (CV), e.g. VP.")
@click.option("--place", default=None, help="Place before the date (default: the draft's own), e.g. 'Hưng Yên'.")
@click.option("--summary", default=None, help="Trích yếu: the summary written in the outgoing register.")
@click.option("--recipient", "recipients", multiple=True, help="Nơi nhận (repeatable).")
def issue(input_pdf, output_pdf, username, level, doc_type, unit, place, summary, recipients) -> None:
    """The clerk's step: the next number of the agency's book, the date and the agency's signature."""
    def body():
        with Local() as local:
            office = local.office
            caller = local.caller(username)
            issued = office.issue(caller, input_pdf.read_bytes(), doc_type=doc_type, unit=unit, place=place,
                                  summary=summary, recipients=list(recipients) or None,
                                  level=level,
                                  passphrase=_passphrase(office, caller))
            output_pdf.write_bytes(issued.stored.data)
            write_json({**issued.to_dict(), "path": str(output_pdf)})

    run(body)


@main.command("sign-attachment")
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@as_option
@level_option
@click.option("--main-number", required=True, help="Number and symbol of the issued main document, e.g. 16/CT-UBND.")
def sign_attachment(input_pdf, output_pdf, username, level, main_number) -> None:
    """The agency's signature on an attachment of an issued document (top right of page 1)."""
    def body():
        with Local() as local:
            office = local.office
            caller = local.caller(username)
            signed = office.sign_attachment(caller, input_pdf.read_bytes(), main_number=main_number,
                                            level=level,
                                            passphrase=_passphrase(office, caller))
            output_pdf.write_bytes(signed.stored.data)
            write_json({**signed.to_dict(), "path": str(output_pdf)})

    run(body)


@main.command("extend")
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@as_option
@click.option("--to", "to_level", type=click.Choice(["B-LT", "B-LTA"]), default="B-LTA", show_default=True,
              help="B-LT: the validation data of every signature; B-LTA: also a document timestamp over it.")
def extend_command(input_pdf, output_pdf, username, to_level) -> None:
    """Raise INPUT_PDF's signatures (any tool's) to B-LT or B-LTA, without a new signature."""
    def body():
        with Local() as local:
            archived = local.office.extend(local.caller(username), input_pdf.read_bytes(), to=to_level)
            output_pdf.write_bytes(archived.stored.data)
            write_json({**archived.to_dict(), "path": str(output_pdf)})

    run(body)


@main.command("renew")
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@as_option
def renew_command(input_pdf, output_pdf, username) -> None:
    """A new document timestamp over an archive (the TSA of $KYSO_TSA_URL), with its validation data."""
    def body():
        with Local() as local:
            archived = local.office.renew(local.caller(username), input_pdf.read_bytes())
            output_pdf.write_bytes(archived.stored.data)
            write_json({**archived.to_dict(), "path": str(output_pdf)})

    run(body)


@main.command("renew-due")
@click.option("--days", type=click.IntRange(0, 36500), default=180, show_default=True,
              help="Renew what stays protected fewer than this many days.")
@click.option("--dry-run", is_flag=True, help="Only list what is due.")
@click.option("--as", "username", envvar="KYSO_USER", default=None,
              help="A clerk's account (default: the local administrator, as a daily job runs).")
def renew_due_command(days, dry_run, username) -> None:
    """List (and renew) the stored documents whose protection ends within --days days: a daily job."""
    from office import Office

    def body():
        with Local() as local:
            caller = local.caller(username) if username else Office.local_admin()
            office = local.office
            items = office.due_for_renewal(caller, days=days) if dry_run else office.renew_due(caller, days=days)
            for item in items:
                write_json(item)

    run(body)


@main.command("copy")
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@as_option
@level_option
@click.option("--form", type=click.Choice(["SY", "SL", "TrS"]), required=True,
              help="SY: sao y, SL: sao lục, TrS: trích sao (with --pages).")
@click.option("--pages", default=None, help="Pages of an excerpt (TrS), e.g. 1,3.")
def copy_command(input_pdf, output_pdf, username, level, form, pages) -> None:
    """An electronic copy of a document the agency issued or registered: SAO Y / SAO LỤC / TRÍCH SAO."""
    try:
        page_list = [int(p) for p in pages.split(",")] if pages else None
    except ValueError:
        raise click.UsageError("--pages is a comma-separated list of page numbers") from None

    def body():
        with Local() as local:
            office = local.office
            caller = local.caller(username)
            copy = office.make_copy(caller, input_pdf.read_bytes(), form=form, pages=page_list,
                                    level=level,
                                    passphrase=_passphrase(office, caller))
            output_pdf.write_bytes(copy.stored.data)
            write_json({**copy.to_dict(), "path": str(output_pdf)})

    run(body)


# -- incoming ------------------------------------------------------------------------------------

def _entry_line(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k not in ("report", "evidence")}


@main.command("receive")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@as_option
@click.option("--sender", required=True, help="The sending agency, e.g. 'Sở Nội vụ tỉnh Nghệ An'.")
@click.option("--reference", default=None, help="The sender's number and symbol, e.g. 125/SNV-VP.")
@click.option("--summary", default=None, help="Trích yếu.")
@click.option("--return-invalid", is_flag=True, help="Return a document that is not valid (signed notice) "
                                                     "instead of stopping at it.")
def receive_command(files, username, sender, reference, summary, return_invalid) -> None:
    """Verify and register incoming documents; exit 1 if any was not valid (returned or refused)."""
    worst = 0
    try:
        with Local() as local:
            office = local.office
            caller = local.caller(username)
            for path in files:
                data = path.read_bytes()
                try:
                    entry = office.receive(caller, data, sender=sender, reference=reference, summary=summary)
                except KysoError as exc:
                    if exc.code != "incoming_not_valid" or not return_invalid:
                        click.echo(json.dumps({"file": str(path), **exc.to_dict()}, ensure_ascii=False), err=True)
                        worst = 1
                        continue
                    entry = office.return_to_sender(caller, data, sender=sender, reference=reference, summary=summary,
                                                    passphrase=_passphrase(office, caller))
                    worst = 1
                write_json({"file": str(path), **_entry_line(entry)})
    except KysoError as exc:
        fail(exc, 2)
    sys.exit(worst)


@main.command("return")
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@as_option
@click.option("--sender", required=True)
@click.option("--reference", default=None)
@click.option("--summary", default=None)
@click.option("--reason", "reason_vi", default=None, help="Lý do trả lại (default: the verification's).")
@click.option("--notice-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the signed return notice here.")
def return_command(input_pdf, username, sender, reference, summary, reason_vi, notice_out) -> None:
    """Return an incoming document to its sender, with a notice signed by the agency."""
    def body():
        with Local() as local:
            office = local.office
            caller = local.caller(username)
            entry = office.return_to_sender(caller, input_pdf.read_bytes(), sender=sender, reference=reference,
                                            summary=summary, reason_vi=reason_vi, reason_en=reason_vi,
                                            passphrase=_passphrase(office, caller))
            if notice_out is not None:
                notice_out.write_bytes(office.document(caller, entry["notice_sha256"]))
            write_json(_entry_line(entry))

    run(body)


@main.command("register")
@click.argument("which", type=click.Choice(["outgoing", "incoming"]))
@as_option
@click.option("--year", type=int, default=None)
@click.option("--status", default=None, help="outgoing: issued|void|reserved; incoming: received|returned.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "pdf"]), default="json")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def register_command(which, username, year, status, fmt, out) -> None:
    """The outgoing or incoming register, as JSON lines, CSV or a printable PDF (Decree 30 layout)."""
    from office.forms import register_form

    if fmt == "pdf" and out is None:
        raise click.UsageError("--format pdf needs --out")

    def body():
        with Local() as local:
            caller = local.caller(username)
            entries = local.office.registers(caller, which, year=year, status=status)
            data = register_form(entries, which, fmt, agency=caller.agency, year=year).data
            if out is None:
                click.echo(data.decode("utf-8-sig"), nl=False)
            else:
                out.write_bytes(data)

    run(body)


def _register_groups() -> None:
    from commands.verify import trust_group, verify_command

    main.add_command(verify_command, name="verify")
    main.add_command(trust_group, name="trust")


_register_groups()

if __name__ == "__main__":  # pragma: no cover
    main()
