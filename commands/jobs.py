"""``kyso verify-jobs``: bulk verification as jobs, from the command line.

    kyso verify-jobs submit FILE|FOLDER... --as USER [--files-from LIST] [--wait] [--json]
    kyso verify-jobs reverify-incoming --as USER [--year YYYY] [--wait] [--json]
    kyso verify-jobs show JOB_ID --as USER [--json]

With ``KYSO_BROKER_URL`` the documents are done by ``kyso worker`` processes; without it, by this
command's own process, which then waits for them before it exits.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click

VERDICTS = ("valid", "invalid", "indeterminate", "unsigned")
LABELS = {"valid": "HỢP LỆ", "invalid": "KHÔNG HỢP LỆ", "indeterminate": "KHÔNG XÁC ĐỊNH", "unsigned": "KHÔNG CÓ CHỮ KÝ"}


@dataclass
class _Upload:
    filename: str
    path: Path

    def read(self, *_):
        return self.path.read_bytes()


@click.group("verify-jobs")
def jobs_group() -> None:
    """Verify many documents as a job, done by workers (KYSO_BROKER_URL) or by this process."""


def _follow(office, caller, job: dict, *, wait: bool, as_json: bool) -> None:
    broker = bool(office.settings.broker_url)
    if wait or not broker:
        with click.progressbar(length=job["total"], label="Đang kiểm tra / Verifying", file=sys.stderr) as bar:
            shown = 0
            while True:
                job = office.verify_job(caller, job["id"])
                bar.update(job["done"] - shown)
                shown = job["done"]
                if job["finished"]:
                    break
                time.sleep(0.2)
    _print(job, as_json=as_json)
    if job["finished"]:
        sys.exit(0 if set(job["verdicts"]) <= {"valid"} else 1)


def _print(job: dict, *, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(job, ensure_ascii=False))
        return
    click.echo(f"job {job['id']}: {job['done']}/{job['total']} {'done' if job['finished'] else 'so far'}")
    for verdict in VERDICTS:
        click.echo(f"  {LABELS[verdict] + ' / ' + verdict:<34} {job['verdicts'].get(verdict, 0)}")
    for result in job["results"]:
        if result["status"] == "done" and result["verdict"] != "valid":
            if result.get("error"):
                reason = result["error"].get("message_vi") or result["error"].get("message", "")
            else:
                reason = ((result.get("reasons") or [{}])[-1]).get("vi", "")
            click.echo(f"  {result['index']:>4} {result['verdict']:<13} {result['file']}  {reason}")


@jobs_group.command("submit")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--files-from", "files_from", type=click.File("r", encoding="utf-8"), default=None, metavar="LIST",
              help="Also the paths listed in LIST, one per line ('-': standard input).")
@click.option("--as", "username", envvar="KYSO_USER", default=None, help="The account that asks ($KYSO_USER).")
@click.option("--wait", is_flag=True, help="Show the progress and wait for the last document.")
@click.option("--json", "as_json", is_flag=True)
def submit(files, files_from, username, wait, as_json) -> None:
    """Submit files and folders (their PDFs) as one job."""
    from commands.main import Local, run
    from commands.verify import _expand

    paths = _expand(files, files_from)
    if not paths:
        raise click.UsageError("give the files or folders to verify (or --files-from LIST)")

    def body():
        with Local() as local:
            caller = local.caller(username)
            job = local.office.submit_verify_job(caller, files=[_Upload(p.name, p) for p in paths])
            _follow(local.office, caller, job, wait=wait, as_json=as_json)

    run(body)


@jobs_group.command("reverify-incoming")
@click.option("--year", type=click.IntRange(1990, 2200), default=None, help="Only the documents received that year.")
@click.option("--as", "username", envvar="KYSO_USER", default=None, help="The receiving clerk ($KYSO_USER).")
@click.option("--wait", is_flag=True, help="Show the progress and wait for the last document.")
@click.option("--json", "as_json", is_flag=True)
def reverify_incoming(year, username, wait, as_json) -> None:
    """Verify again every document the agency received (after a trust-store change)."""
    from commands.main import Local, run

    def body():
        with Local() as local:
            caller = local.caller(username)
            job = local.office.reverify_incoming(caller, year=year)
            _follow(local.office, caller, job, wait=wait, as_json=as_json)

    run(body)


@jobs_group.command("show")
@click.argument("job_id")
@click.option("--as", "username", envvar="KYSO_USER", default=None, help="The account that asks ($KYSO_USER).")
@click.option("--json", "as_json", is_flag=True)
def show(job_id, username, as_json) -> None:
    """A job's progress and the documents that did not pass."""
    from commands.main import Local, run

    def body():
        with Local() as local:
            _print(local.office.verify_job(local.caller(username), job_id), as_json=as_json)

    run(body)
