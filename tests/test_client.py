"""kyso-client against the service over real HTTP: sign, verify, verify a folder, download a report."""
from __future__ import annotations

import json
import threading

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from commands.client import main
from kyso.samples import make_pdf
from office.compose import dev_token


@pytest.fixture(scope="module")
def server(app):
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()


def run(server, user, *args):
    env = {"KYSO_SERVER_URL": server, "KYSO_TOKEN": dev_token(user)}
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def test_sign_then_verify_through_the_server(server, tmp_path):
    source, signed = tmp_path / "tờ trình.pdf", tmp_path / "tờ trình - đã ký.pdf"
    source.write_bytes(make_pdf())
    result = run(server, "tran-thi-bich-ngoc", "sign", source, signed, "--level", "B-T")
    assert result.exit_code == 0, result.output
    assert "tờ trình - đã ký.pdf" in result.stdout      # the file's name as a person writes it, not \u escapes
    sha = json.loads(result.stdout)["sha256"]
    result = run(server, "receiver", "verify", signed)
    assert result.exit_code == 0 and "HỢP LỆ" in result.stdout
    result = run(server, "receiver", "verify", "--json", signed, source)
    assert result.exit_code == 1
    assert [json.loads(line)["verdict"] for line in result.stdout.splitlines()] == ["valid", "unsigned"]
    out = tmp_path / "report.html"
    result = run(server, "auditor", "report", sha, "--format", "html", "--out", out)
    assert result.exit_code == 0 and "Trần Thị Bích Ngọc" in out.read_text(encoding="utf-8")


def test_verify_a_folder_with_a_summary(server, tmp_path):
    folder = tmp_path / "van-ban-den"
    (folder / "thang-11").mkdir(parents=True)
    signed = tmp_path / "s.pdf"
    assert run(server, "nguyen-van-an", "sign", _write(tmp_path / "a.pdf"), signed, "--level", "B-B").exit_code == 0
    (folder / "mot.pdf").write_bytes(signed.read_bytes())
    (folder / "thang-11" / "hai.pdf").write_bytes(make_pdf())
    tampered = bytearray(signed.read_bytes())
    tampered[500] ^= 1
    (folder / "thang-11" / "ba.pdf").write_bytes(bytes(tampered))
    results = tmp_path / "results.jsonl"
    result = run(server, "receiver", "verify-folder", folder, "--json-out", results)
    assert result.exit_code == 1
    assert "HỢP LỆ / valid" in result.stdout and "Tổng / Total" in result.stdout
    verdicts = sorted(json.loads(line)["verdict"] for line in results.read_text().splitlines())
    assert verdicts == ["invalid", "unsigned", "valid"]


def test_client_reports_server_errors_readably(server, tmp_path):
    result = run(server, "receiver", "sign", _write(tmp_path / "a.pdf"), tmp_path / "o.pdf")
    assert result.exit_code == 1 and "forbidden" in result.output
    result = CliRunner().invoke(main, ["verify", str(_write(tmp_path / "b.pdf"))], env={"KYSO_SERVER_URL": "",
                                                                                       "KYSO_TOKEN": ""})
    assert result.exit_code == 2


def _write(path):
    path.write_bytes(make_pdf())
    return path


def device_client(server, user, *args, pin):
    """``kyso-client`` as an official runs it on her own machine, in its own process, with her token."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "KYSO_SERVER_URL": server, "KYSO_TOKEN": dev_token(user), "KYSO_DEVICE_PIN": pin}
    return subprocess.run([sys.executable, "-m", "commands.client", *[str(a) for a in args]], env=env,
                          capture_output=True, text=True, timeout=120)


def test_sign_with_the_officials_own_token_in_two_steps(server, tmp_path, softhsm, pki, kyso_office):
    from verifier import verify

    source, signed = tmp_path / "tờ-trình.pdf", tmp_path / "tờ-trình-đã-ký.pdf"
    source.write_bytes(make_pdf(title="To trinh"))
    token = ("--pkcs11-lib", softhsm.module_path, "--token-label", softhsm.token_label)
    done = device_client(server, "tran-thi-bich-ngoc", "sign-device", source, signed, *token,
                         "--key-label", "tran-thi-bich-ngoc", "--level", "B-T", pin=softhsm.user_pin)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["level"] == "B-T"
    report = verify(signed.read_bytes(), policy=kyso_office.verification)
    assert report.verdict.value == "valid" and report.signatures[0].signer.common_name == "Trần Thị Bích Ngọc"

    # another official's key on the token: the server refuses the answer, nothing is written
    wrong = tmp_path / "sai.pdf"
    refused = device_client(server, "tran-thi-bich-ngoc", "sign-device", source, wrong, *token,
                            "--key-label", "pham-thu-ha", pin=softhsm.user_pin)
    assert refused.returncode == 1 and not wrong.exists()
    assert "signature" in refused.stderr, refused.stderr
    # a wrong PIN is said plainly
    bad_pin = device_client(server, "tran-thi-bich-ngoc", "sign-device", source, wrong, *token,
                            "--key-label", "tran-thi-bich-ngoc", pin="0000")
    assert bad_pin.returncode == 1 and "PIN" in bad_pin.stderr and not wrong.exists()


def test_sign_with_the_officials_key_file_in_two_steps(server, tmp_path, pki, kyso_office):
    from verifier import verify

    p12 = tmp_path / "khoa.p12"
    p12.write_bytes(pki.pkcs12_bytes("tran-thi-bich-ngoc", "mật-khẩu".encode()))
    source, signed = _write(tmp_path / "a.pdf"), tmp_path / "a-signed.pdf"
    result = CliRunner().invoke(main, ["sign-device", str(source), str(signed), "--pkcs12", str(p12)],
                                env={"KYSO_SERVER_URL": server, "KYSO_TOKEN": dev_token("tran-thi-bich-ngoc"),
                                     "KYSO_DEVICE_PIN": "mật-khẩu"})
    assert result.exit_code == 0, result.output
    assert verify(signed.read_bytes(), policy=kyso_office.verification).verdict.value == "valid"
    wrong = CliRunner().invoke(main, ["sign-device", str(source), str(tmp_path / "x.pdf"), "--pkcs12", str(p12)],
                               env={"KYSO_SERVER_URL": server, "KYSO_TOKEN": dev_token("tran-thi-bich-ngoc")},
                               input="sai\n")
    assert wrong.exit_code == 1 and "passphrase" in wrong.output and "sai" not in wrong.stdout


def test_certify_then_verify_strictly_and_at_a_time(server, tmp_path):
    source, certified = tmp_path / "quyet-dinh.pdf", tmp_path / "quyet-dinh-chung-thuc.pdf"
    source.write_bytes(make_pdf())
    result = run(server, "nguyen-van-an", "sign", source, certified, "--level", "B-T", "--certify", "2")
    assert result.exit_code == 0, result.output
    plain = run(server, "receiver", "verify", "--json", certified)
    report = json.loads(plain.stdout)
    assert report["verdict"] == "valid" and report["signatures"][0]["docmdp"] == 2
    strict = json.loads(run(server, "receiver", "verify", "--json", "--decree30", certified).stdout)
    assert strict["verdict"] == "invalid" and strict["reasons"][0]["code"] == "decree30_required"
    earlier = json.loads(run(server, "receiver", "verify", "--json", "--at", "2025-06-01T08:00:00+07:00",
                             certified).stdout)
    assert earlier["signatures"][0]["sub_indication"] == "NO_POE"
