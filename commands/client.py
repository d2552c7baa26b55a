"""``kyso-client``: Kyso's HTTP API for officials and receiving agencies, from the command line.

    export KYSO_SERVER_URL=http://127.0.0.1:8080 KYSO_TOKEN=...
    kyso-client sign IN.pdf OUT.pdf [--level B-LT] [--appearance personal]
    kyso-client verify FILE... [--json]
    kyso-client verify-folder DIR [--json-out results.jsonl]     (progress bar, summary table)
    kyso-client report SHA256 --format html|pdf|json|etsi-xml --out FILE
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
import requests

VERDICT_LABELS = {"valid": "HỢP LỆ", "invalid": "KHÔNG HỢP LỆ", "indeterminate": "KHÔNG XÁC ĐỊNH",
                  "unsigned": "KHÔNG CÓ CHỮ KÝ"}


class Client:
    def __init__(self, url: str, token: str, *, timeout: float = 120) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def _post(self, path: str, *, files, data=None, stream=False):
        response = self.session.post(self.url + path, files=files, data=data or {}, timeout=self.timeout,
                                     stream=stream)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError):
                error = {"code": f"http_{response.status_code}", "message": response.text[:200], "message_vi": ""}
            raise click.ClickException(f"{error['code']}: {error.get('message_vi') or ''} / {error['message']}")
        return response

    def sign(self, path: Path, **form) -> requests.Response:
        with open(path, "rb") as f:
            return self._post("/api/v1/sign", files={"file": (path.name, f, "application/pdf")}, data=form)

    def verify(self, path: Path) -> dict:
        with open(path, "rb") as f:
            return self._post("/api/v1/verify", files={"file": (path.name, f, "application/pdf")}).json()

    def report(self, sha256: str, fmt: str) -> bytes:
        response = self.session.get(f"{self.url}/api/v1/documents/{sha256}/report", params={"format": fmt},
                                    timeout=self.timeout)
        if response.status_code >= 400:
            raise click.ClickException(f"HTTP {response.status_code}: {response.text[:200]}")
        return response.content


def _client(url, token) -> Client:
    if not url or not token:
        raise click.UsageError("set KYSO_SERVER_URL and KYSO_TOKEN (or --server/--token)")
    return Client(url, token)


@click.group()
@click.option("--server", envvar="KYSO_SERVER_URL", default=None, help="Kyso server URL ($KYSO_SERVER_URL).")
@click.option("--token", envvar="KYSO_TOKEN", default=None, help="API token ($KYSO_TOKEN).")
@click.pass_context
def main(ctx, server, token) -> None:
    """Kyso client: sign and verify through a Kyso server."""
    ctx.obj = (server, token)


@main.command()
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--level", default=None)
@click.option("--appearance", type=click.Choice(["invisible", "personal"]), default="invisible")
@click.option("--reason", default=None)
@click.option("--location", default=None)
@click.pass_obj
def sign(obj, input_pdf, output_pdf, level, appearance, reason, location) -> None:
    """Sign with your own key on the server."""
    client = _client(*obj)
    form = {k: v for k, v in {"level": level, "appearance": appearance, "reason": reason,
                              "location": location}.items() if v}
    passphrase = os.environ.get("KYSO_PKCS12_PASSPHRASE")
    if passphrase:
        form["passphrase"] = passphrase
    response = client.sign(input_pdf, **form)
    output_pdf.write_bytes(response.content)
    click.echo(json.dumps({"output": str(output_pdf), "level": response.headers.get("X-Kyso-Level"),
                           "sha256": response.headers.get("X-Kyso-Sha256")}))


def _line(path, report) -> str:
    return f"{VERDICT_LABELS.get(report['verdict'], report['verdict']):<16} {report['verdict']:<13} {path}"


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def verify(obj, files, as_json) -> None:
    """Verify documents; exit 0 if all are valid, 1 otherwise."""
    client = _client(*obj)
    worst = 0
    for path in files:
        report = client.verify(path)
        worst = max(worst, 0 if report["verdict"] == "valid" else 1)
        click.echo(json.dumps(report, ensure_ascii=False) if as_json else _line(path, report))
        if not as_json and report["verdict"] != "valid":
            for reason in report["reasons"][:3]:
                click.echo(f"    {reason['vi']} / {reason['en']}")
    sys.exit(worst)


@main.command("verify-folder")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write every report as JSON lines here.")
@click.pass_obj
def verify_folder(obj, folder, json_out) -> None:
    """Verify every PDF under FOLDER with a progress bar, then print a summary table."""
    client = _client(*obj)
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf")
    counts: dict[str, int] = {}
    failures: list[tuple[Path, dict]] = []
    out = open(json_out, "w", encoding="utf-8") if json_out else None
    try:
        with click.progressbar(paths, label="Đang kiểm tra / Verifying", file=sys.stderr) as bar:
            for path in bar:
                report = client.verify(path)
                counts[report["verdict"]] = counts.get(report["verdict"], 0) + 1
                if report["verdict"] != "valid":
                    failures.append((path, report))
                if out:
                    out.write(json.dumps(report, ensure_ascii=False) + "\n")
    finally:
        if out:
            out.close()
    click.echo(f"{'Kết quả / Verdict':<34} Số tệp / Files")
    for verdict in ("valid", "invalid", "indeterminate", "unsigned"):
        click.echo(f"{VERDICT_LABELS[verdict] + ' / ' + verdict:<34} {counts.get(verdict, 0)}")
    click.echo(f"{'Tổng / Total':<34} {len(paths)}")
    for path, report in failures:
        click.echo(f"  {path}: {report['reasons'][-1]['vi'] if report['reasons'] else ''}")
    sys.exit(0 if not failures else 1)


@main.command()
@click.argument("sha256")
@click.option("--format", "fmt", type=click.Choice(["json", "html", "pdf", "etsi-xml"]), default="html")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_obj
def report(obj, sha256, fmt, out) -> None:
    """Download the report of a document stored on the server."""
    out.write_bytes(_client(*obj).report(sha256, fmt))
    click.echo(str(out))
