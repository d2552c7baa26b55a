"""``kyso receive`` and ``kyso register``: the incoming mail desk and the printable registers."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kyso.errors import KysoError


def _office():
    from kyso.cli import _settings
    from kyso.office import Office
    from kyso.verify_cli import _quiet_libraries

    _quiet_libraries()
    return Office.from_settings(_settings())


@click.command("receive")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sender", required=True, help="The sending agency, e.g. 'Sở Nội vụ tỉnh Nghệ An'.")
@click.option("--reference", default=None, help="The sender's number and symbol, e.g. 125/SNV-VP.")
@click.option("--summary", default=None, help="Trích yếu.")
@click.option("--actor", default="van-thu", help="Who receives (recorded in the audit trail).")
def receive_command(files, sender, reference, summary, actor) -> None:
    """Verify and register incoming documents (invalid ones are returned with a notice)."""
    from kyso.cli import ensure_dev_pki_served

    try:
        office = _office()
    except KysoError as exc:
        click.echo(json.dumps(exc.to_dict(), ensure_ascii=False), err=True)
        sys.exit(2)
    server = ensure_dev_pki_served(office.settings.dev_pki_url) if office.settings.uses_dev_pki else None
    worst = 0
    try:
        for path in files:
            entry = office.receive(path, sender=sender, actor=actor, sender_reference=reference, summary=summary)
            entry = {k: v for k, v in entry.items() if k != "report"}
            click.echo(json.dumps(entry, ensure_ascii=False))
            if entry["status"] != "received":
                worst = 1
    finally:
        if server is not None:
            server.stop()
    sys.exit(worst)


@click.command("register")
@click.argument("which", type=click.Choice(["outgoing", "incoming"]))
@click.option("--year", type=int, default=None)
@click.option("--status", default=None, help="outgoing: issued|void|reserved; incoming: received|returned.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "pdf"]), default="json")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def register_command(which, year, status, fmt, out) -> None:
    """The outgoing or incoming register, as JSON lines, CSV or a printable PDF (Decree 30 layout)."""
    from registers import printing

    office = _office()
    if which == "outgoing":
        entries = office.numbering.entries(agency=office.settings.agency, year=year, status=status)
        columns, title = printing.OUTGOING_COLUMNS, "SỔ ĐĂNG KÝ VĂN BẢN ĐI"
    else:
        entries = office.incoming.entries(year=year, status=status)
        columns, title = printing.INCOMING_COLUMNS, "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN"
    subtitle = f"{office.settings.agency_name}" + (f" — năm {year}" if year else "")
    if fmt == "json":
        text = "".join(json.dumps({k: v for k, v in e.items() if k != "report"}, ensure_ascii=False) + "\n"
                       for e in entries)
        data = text.encode("utf-8")
    elif fmt == "csv":
        data = printing.to_csv(entries, columns).encode("utf-8-sig")
    else:
        data = printing.to_pdf(entries, columns, title=title, subtitle=subtitle)
    if out is None:
        if fmt == "pdf":
            raise click.UsageError("--format pdf needs --out")
        click.echo(data.decode("utf-8-sig"), nl=False)
    else:
        out.write_bytes(data)
