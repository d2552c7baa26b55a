"""``kyso-client``: Kyso's HTTP API for officials and receiving agencies, from the command line.

    export KYSO_SERVER_URL=http://127.0.0.1:8080 KYSO_TOKEN=...
    kyso-client sign IN.pdf OUT.pdf [--level B-LT] [--appearance personal]
    kyso-client sign-device IN.pdf OUT.pdf --pkcs11-lib LIB --token-label T --key-label K   (your own USB token)
    kyso-client sign-device IN.pdf OUT.pdf --pkcs12 FILE                                  (or a key file)
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

    def sign_prepare(self, path: Path, **form) -> dict:
        with open(path, "rb") as f:
            return self._post("/api/v1/sign/prepare", files={"file": (path.name, f, "application/pdf")},
                              data=form).json()

    def sign_finish(self, handle: str, signature: bytes) -> requests.Response:
        import base64

        return self._post("/api/v1/sign/finish", files=None,
                          data={"handle": handle, "signature": base64.b64encode(signature).decode()})

    def verify(self, path: Path, **form) -> dict:
        with open(path, "rb") as f:
            return self._post("/api/v1/verify", files={"file": (path.name, f, "application/pdf")},
                              data=form or None).json()

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
@click.option("--certify", type=click.IntRange(1, 3), default=None,
              help="A certification signature with this DocMDP permission (2: issuance can follow).")
@click.pass_obj
def sign(obj, input_pdf, output_pdf, level, appearance, reason, location, certify) -> None:
    """Sign with your own key on the server."""
    client = _client(*obj)
    form = {k: v for k, v in {"level": level, "appearance": appearance, "reason": reason,
                              "location": location, "certify": certify}.items() if v}
    passphrase = os.environ.get("KYSO_PKCS12_PASSPHRASE")
    if passphrase:
        form["passphrase"] = passphrase
    response = client.sign(input_pdf, **form)
    output_pdf.write_bytes(response.content)
    click.echo(json.dumps({"output": str(output_pdf), "level": response.headers.get("X-Kyso-Level"),
                           "sha256": response.headers.get("X-Kyso-Sha256")}, ensure_ascii=False))


class DeviceKey:
    """The official's own key, on the official's machine: a PKCS#11 token (a USB token's library) or a
    PKCS#12 file. It signs what the server prepared (``to_be_signed``) with the algorithm it names."""

    def __init__(self, *, pkcs11_lib: str | None = None, token_label: str | None = None,
                 key_label: str | None = None, pkcs12: Path | None = None, secret: str | None = None) -> None:
        self.pkcs11_lib, self.token_label, self.key_label = pkcs11_lib, token_label, key_label
        self.pkcs12, self.secret = pkcs12, secret

    def sign(self, prepared: dict) -> bytes:
        import base64

        data = base64.b64decode(prepared["to_be_signed"])
        algorithm = prepared["signature_algorithm"]
        digest = prepared["digest_algorithm"]
        if self.pkcs12 is not None:
            return self._sign_pkcs12(data, algorithm, digest, prepared.get("pss_salt_length"))
        return self._sign_pkcs11(data, algorithm, digest, prepared.get("pss_salt_length"))

    def _sign_pkcs12(self, data: bytes, algorithm: str, digest: str, salt: int | None) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
        from cryptography.hazmat.primitives.serialization import pkcs12

        try:
            key, _, _ = pkcs12.load_key_and_certificates(self.pkcs12.read_bytes(), (self.secret or "").encode())
        except ValueError:
            raise click.ClickException("the PKCS#12 passphrase is wrong (or the file is damaged)") from None
        hash_ = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[digest]
        if isinstance(key, rsa.RSAPrivateKey):
            pad = padding.PSS(mgf=padding.MGF1(hash_), salt_length=salt if salt is not None else hash_.digest_size) \
                if algorithm == "rsassa_pss" else padding.PKCS1v15()
            return key.sign(data, pad, hash_)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(hash_))
        raise click.ClickException(f"this key type cannot sign {algorithm}")

    def _sign_pkcs11(self, data: bytes, algorithm: str, digest: str, salt: int | None) -> bytes:
        import pkcs11

        try:
            lib = pkcs11.lib(self.pkcs11_lib)
            token = lib.get_token(token_label=self.token_label)
        except (pkcs11.PKCS11Error, RuntimeError, OSError) as exc:
            raise click.ClickException(f"cannot open the token {self.token_label!r} with {self.pkcs11_lib}: "
                                       f"{type(exc).__name__} {exc}") from None
        try:
            session = token.open(user_pin=self.secret)
        except pkcs11.PinIncorrect:
            raise click.ClickException("the token's PIN is wrong (the token counts wrong attempts)") from None
        with session:
            try:
                return self._sign_in_session(session, data, algorithm, digest, salt)
            except pkcs11.PKCS11Error as exc:
                raise click.ClickException(f"the token refused to sign: {type(exc).__name__} {exc}") from None

    def _sign_in_session(self, session, data: bytes, algorithm: str, digest: str, salt: int | None) -> bytes:
        import pkcs11
        from pkcs11 import KeyType, Mechanism, ObjectClass

        try:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=self.key_label)
        except (pkcs11.NoSuchKey, pkcs11.MultipleObjectsReturned):
            raise click.ClickException(f"no single private key labelled {self.key_label!r} on the token") from None
        upper = digest.upper()
        if key.key_type == KeyType.EC:
            import hashlib

            from cryptography.hazmat.primitives.asymmetric.utils import (
                encode_dss_signature,
            )

            # plain CKM_ECDSA over the digest made here: what every token offers (SoftHSM2 and most
            # USB tokens have no hashing ECDSA mechanism)
            raw = key.sign(hashlib.new(digest, data).digest(), mechanism=Mechanism.ECDSA)
            half = len(raw) // 2
            return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
        if algorithm == "rsassa_pss":
            from pkcs11 import MGF

            size = {"sha256": 32, "sha384": 48, "sha512": 64}[digest]
            return key.sign(data, mechanism=getattr(Mechanism, f"{upper}_RSA_PKCS_PSS"),
                            mechanism_param=(getattr(Mechanism, upper), getattr(MGF, upper),
                                             salt if salt is not None else size))
        return key.sign(data, mechanism=getattr(Mechanism, f"{upper}_RSA_PKCS"))


@main.command("sign-device")
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output_pdf", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--level", default=None)
@click.option("--reason", default=None)
@click.option("--pkcs11-lib", default=None, help="Your USB token's PKCS#11 library (.so).")
@click.option("--token-label", default=None, help="The token's label.")
@click.option("--key-label", default=None, help="The label of your private key on the token.")
@click.option("--pkcs12", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Or your key as a PKCS#12 file.")
@click.pass_obj
def sign_device(obj, input_pdf, output_pdf, level, reason, pkcs11_lib, token_label, key_label, pkcs12) -> None:
    """Sign with your own device (two steps): the server prepares the document for the certificate
    bound to your account, your token signs here, the server embeds the signature. The PIN (or the
    PKCS#12 passphrase) is read from $KYSO_DEVICE_PIN or asked, and never leaves this machine."""
    if (pkcs12 is None) == (pkcs11_lib is None):
        raise click.UsageError("use a token (--pkcs11-lib, --token-label, --key-label) or --pkcs12 FILE")
    if pkcs11_lib is not None and not (token_label and key_label):
        raise click.UsageError("a token needs --token-label and --key-label")
    client = _client(*obj)
    secret = os.environ.get("KYSO_DEVICE_PIN")
    if secret is None:
        secret = click.prompt("PIN" if pkcs12 is None else "PKCS#12 passphrase", hide_input=True, err=True)
    device = DeviceKey(pkcs11_lib=pkcs11_lib, token_label=token_label, key_label=key_label, pkcs12=pkcs12,
                       secret=secret)
    prepared = client.sign_prepare(input_pdf, **{k: v for k, v in {"level": level, "reason": reason}.items() if v})
    response = client.sign_finish(prepared["handle"], device.sign(prepared))
    output_pdf.write_bytes(response.content)
    click.echo(json.dumps({"output": str(output_pdf), "level": response.headers.get("X-Kyso-Level"),
                           "sha256": response.headers.get("X-Kyso-Sha256")}, ensure_ascii=False))


def _line(path, report) -> str:
    return f"{VERDICT_LABELS.get(report['verdict'], report['verdict']):<16} {report['verdict']:<13} {path}"


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.option("--at", default=None, help="Judge as of this time (ISO 8601 with its zone).")
@click.option("--decree30", is_flag=True, help="Require the Decree 30 pair (the competent person, then the agency).")
@click.pass_obj
def verify(obj, files, as_json, at, decree30) -> None:
    """Verify documents; exit 0 if all are valid, 1 otherwise."""
    client = _client(*obj)
    worst = 0
    form = {k: v for k, v in {"at": at, "decree30": "true" if decree30 else None}.items() if v}
    for path in files:
        report = client.verify(path, **form)
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


if __name__ == "__main__":
    main()
