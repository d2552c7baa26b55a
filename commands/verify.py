"""``kyso verify`` and ``kyso trust``.

    kyso verify FILE|FOLDER... [--files-from LIST|-] [--json] [--trust PEM]... [--trust-profile dev|vn|none]
                [--at ISO-8601-TIME] [--offline] [--decree30] [--report html|pdf|etsi-xml --out PATH] [--record --as USER]
                [--no-daemon]

A folder stands for every PDF in it and below (``*.pdf``, any case, in name order); ``--files-from``
reads more paths, one per line (``-``: standard input). All are verified in one process: the
imports, the trust store and the remembered certificate paths are paid for once.
Read-only: nothing is written unless ``--record`` asks for an audit record per file (as an account).
A warm helper process (``commands.verify_daemon``) answers the next commands of the same user and
configuration without paying the imports again: the first command starts it, it leaves after
``$KYSO_VERIFY_DAEMON_SECONDS`` (600) unused; ``--no-daemon`` or that variable at 0 does without.
Exit code 0 when every file is valid, 1 when any is not, 2 on usage errors or unreadable input.
"""
from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from kyso.errors import KysoError

UNREADABLE = {"not_pdf", "unreadable"}
COLOURS = {"green": "green", "red": "red", "amber": "yellow", "grey": "white"}


@click.command("verify")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--files-from", "files_from", type=click.File("r", encoding="utf-8"), default=None, metavar="LIST",
              help="Also verify the paths listed in LIST, one per line ('-': standard input).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file, one per line.")
@click.option("--trust", "trust_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Extra trust anchor (PEM/DER); repeatable.")
@click.option("--trust-profile", type=click.Choice(["dev", "vn", "none"]), default=None,
              help="Trust profile (default $KYSO_TRUST_PROFILE: dev in dev mode, vn in production).")
@click.option("--at", "at_text", default=None, help="Validate at this time (ISO 8601), e.g. 2024-05-01T10:00:00+07:00.")
@click.option("--offline", is_flag=True, help="Never fetch OCSP, CRLs or certificates.")
@click.option("--decree30", "require_decree30", is_flag=True,
              help="Require the Decree 30 pair (the competent person, then the agency): a document without it is "
                   "not valid.")
@click.option("--report", "report_format", type=click.Choice(["html", "pdf", "etsi-xml"]), default=None)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Report file (one input) or folder (several inputs).")
@click.option("--extract-signed", "extract_field", default=None, metavar="FIELD",
              help="Also write the revision signed in FIELD ('what the signer saw') to --out as a PDF.")
@click.option("--record", is_flag=True, help="Leave an audit record per file, as the account --as names.")
@click.option("--as", "username", envvar="KYSO_USER", default=None, help="The account that records (with --record).")
@click.option("--no-daemon", is_flag=True,
              help="Verify in this process only: neither ask nor start the warm helper ($KYSO_VERIFY_DAEMON_SECONDS).")
def verify_command(files, files_from, as_json, trust_files, trust_profile, at_text, offline, require_decree30, report_format,
                   out, extract_field, record, username, no_daemon) -> None:
    """Verify signed PDFs: a verdict with reasons (Vietnamese and English) per file."""
    files = _expand(files, files_from)
    if not files:
        raise click.UsageError("give the files or folders to verify (or --files-from LIST)")
    if (report_format or extract_field) and out is None:
        raise click.UsageError("--report and --extract-signed need --out")
    if report_format and extract_field:
        raise click.UsageError("give --report or --extract-signed, not both")
    if record and not username:
        raise click.UsageError("--record needs the account that records: --as USERNAME")
    if at_text:
        try:
            _validation_time(at_text)
        except ValueError:
            raise click.UsageError(f"--at takes an ISO 8601 time, not {at_text!r}") from None
    options = {"trust_files": [str(f) for f in trust_files], "trust_profile": trust_profile, "at": at_text,
               "offline": offline, "require_decree30": require_decree30}
    # the warm helper answers plain verifications; reports, extracts and audit records are written here
    helped = not (no_daemon or record or report_format or extract_field)
    worst = 0
    recorder = caller = None
    try:
        if record:
            from commands.main import Local

            recorder = Local()
            caller = recorder.caller(username)
        for path, data in _judged(files, options, helped=helped):
            codes = {r["code"] for r in data["reasons"]}
            code = 0 if data["outcome"]["code"] == "valid" else (2 if codes & UNREADABLE else 1)
            worst = max(worst, code)
            if recorder is not None:
                recorder.office._audit(caller, "verify", data["verdict"],
                                       documents=(data["sha256"],) if data.get("sha256") else (),
                                       detail={"file": str(path)[-200:]})
            if as_json:
                click.echo(json.dumps(data, ensure_ascii=False))
            else:
                _print_human(data)
            if report_format:
                _write_report(data, report_format, out, path, many=len(files) > 1)
            if extract_field:
                from office.checking import signed_revision

                try:
                    revision = signed_revision(path.read_bytes(), extract_field)
                except (KysoError, OSError) as exc:
                    click.echo(f"{path}: cannot extract {extract_field!r}: {exc}", err=True)
                    worst = max(worst, 2)
                else:
                    target = out / f"{path.stem}-{extract_field}.pdf" if len(files) > 1 or out.is_dir() else out
                    target.write_bytes(revision)
    except KysoError as exc:
        click.echo(json.dumps(exc.to_dict(), ensure_ascii=False), err=True)
        worst = 2
    finally:
        if recorder is not None:
            recorder.close()
    sys.exit(worst)


def _validation_time(text: str | None) -> datetime | None:
    if not text:
        return None
    at = datetime.fromisoformat(text)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _judged(files: list[Path], options: dict, *, helped: bool):
    """Each file's report: from the warm helper when one answers (commands.verify_daemon), else, and for
    whatever it left unanswered, from this process. Kyso errors (bad settings) raise, either way."""
    done, absent = 0, None
    if helped:
        from commands import verify_daemon

        try:
            for data in verify_daemon.ask([str(f) for f in files], options):
                yield files[done], data
                done += 1
            return
        except verify_daemon.Absent as exc:
            absent = exc
        except verify_daemon.Unavailable:
            pass
        except verify_daemon.Refused as exc:
            raise _HelperError(exc.to_dict()) from None
    yield from judge(files[done:], **options)
    if absent is not None:
        absent.start()      # for the next commands, now that this one is done


class _HelperError(KysoError):
    """A Kyso error the helper met, shown exactly as this process would have shown it."""

    def __init__(self, error: dict) -> None:
        super().__init__(str(error.get("message", "")))
        self.error = error

    def to_dict(self) -> dict:
        return self.error


def judge(files, *, trust_files=(), trust_profile=None, at=None, offline=False, require_decree30=False,
          settle=True):
    """What ``kyso verify`` does for each file, here or in its helper: the settings of the environment,
    the development PKI served if the dev profile is checked online and nothing serves it, then each
    file's report. ``at``: an ISO 8601 time (default: now, per file). ``settle``: freeze the set-up
    before many files (not in the helper, which settled at its warm-up)."""
    from commands.main import settings_from_env
    from office.checking import check_files
    from office.compose import serve_dev_pki_if_needed

    settings = settings_from_env()
    profile = trust_profile or settings.trust_profile
    server = serve_dev_pki_if_needed(settings) if not offline and profile == "dev" else None
    try:
        yield from check_files(settings, [Path(f) for f in files], trust_profile=trust_profile,
                               trust_files=tuple(trust_files), at=_validation_time(at), offline=offline,
                               require_decree30=require_decree30, settle_setup=settle)
    finally:
        if server is not None:
            server.stop()


def forget_between_commands() -> None:
    """The helper, before each request: no OCSP response, CRL or certificate fetched for an earlier
    command is used (nor any path validated with them)."""
    from office.checking import forget_fetched

    forget_fetched()


def warm_up() -> None:
    """What the helper loads before its first request: the verifier, Kyso's patches and the trust
    profile of its settings (a configuration error is left for the requests to report)."""
    import logging

    from kyso.errors import KysoError
    from kyso.process import settle
    from office.compose import install_hazmat, verification_policy

    for name in ("pyhanko", "pyhanko_certvalidator", "fontTools"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    install_hazmat()
    try:
        from commands.main import settings_from_env

        verification_policy(settings_from_env(), offline=True)
    except KysoError:
        pass
    settle()


def _expand(files, files_from) -> list[Path]:
    """The files to verify: each FILE as given, each FOLDER's PDFs (recursively, in name order, case ignored), then
    the paths listed in ``files_from``."""
    paths = list(files)
    if files_from is not None:
        paths += [Path(line.strip()) for line in files_from if line.strip()]
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = (p for p in path.rglob("*") if p.suffix.lower() == ".pdf" and p.is_file())
            out += sorted(found, key=lambda p, top=path: [part.casefold() for part in p.relative_to(top).parts])
        else:
            out.append(path)
    return out


def _print_human(data: dict) -> None:
    outcome = data["outcome"]
    click.secho(f"{outcome['vi'] + ' / ' + outcome['en']:<40} {data['file']}", fg=COLOURS.get(outcome["colour"]),
                bold=True)
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
    from office.forms import report_form

    form = report_form(data, fmt)
    target = out / (source.stem + form.suffix) if many or out.is_dir() else out
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(form.data)


@click.group("trust")
def trust_group() -> None:
    """Trust anchors an administrator adds to the vn profile (kept in $KYSO_TRUST_DIR; audited)."""


@trust_group.command("list")
def trust_list() -> None:
    from commands.main import settings_from_env
    from office.checking import trust_anchors

    for anchor in trust_anchors(settings_from_env()):
        click.echo(f"{anchor['origin']:<9} {anchor['sha256']}  {anchor['subject']}")


@trust_group.command("add")
@click.argument("pem", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def trust_add(pem: Path) -> None:
    from commands.admin import admin_office

    def body(local, admin):
        for sha, subject in local.office.trust_add(admin, [pem]):
            click.echo(f"added {sha}.pem  {subject}")

    admin_office(body)


@trust_group.command("remove")
@click.argument("sha256")
def trust_remove(sha256: str) -> None:
    from commands.admin import admin_office

    def body(local, admin):
        if not local.office.trust_remove(admin, sha256):
            raise click.UsageError(f"no added anchor with SHA-256 {sha256}")
        click.echo(f"removed {sha256}")

    admin_office(body)
