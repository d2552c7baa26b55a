"""``kyso verify``'s warm helper (commands.verify_daemon), as a user meets it: real commands in fresh
processes, a real helper process and socket, the run's development PKI over HTTP."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kyso.samples import make_pdf

ROOT = Path(__file__).resolve().parent.parent

# runs `kyso` as its console script does, then says on standard error whether this process imported
# pyHanko (it did not if the helper answered)
PROBE = ("import sys, json\n"
         "from commands.main import main\n"
         "try:\n"
         "    main(sys.argv[1:])\n"
         "except SystemExit as exc:\n"
         "    print(json.dumps({'exit': exc.code, 'pyhanko': 'pyhanko' in sys.modules}), file=sys.stderr)\n")


def _times_removed(value):
    """A report without the moments it was made at (each verification has its own)."""
    if isinstance(value, dict):
        return {k: _times_removed(v) for k, v in value.items()
                if k not in ("validation_time", "validated_at", "checked_at", "duration_ms")}
    if isinstance(value, list):
        return [_times_removed(v) for v in value]
    return value


@pytest.fixture()
def user(tmp_path, pki_server):
    """A user's environment with a private runtime folder (a short path, as /run/user/UID is: a
    socket's path holds 108 bytes); every helper it started is gone after."""
    import shutil
    import tempfile

    runtime = Path(tempfile.mkdtemp(prefix="kyso-run-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYSO_")}
    env.update(XDG_RUNTIME_DIR=str(runtime), KYSO_DATA_DIR=str(tmp_path / "home"),
               KYSO_DEV_PKI_URL=pki_server.base_url, KYSO_VERIFY_DAEMON_SECONDS="120")
    yield env
    for pid in _helpers(env):
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(runtime, ignore_errors=True)


def _helpers(env) -> list[int]:
    """The helpers alive for this runtime folder (their lock files name them)."""
    pids = []
    for lock in (Path(env["XDG_RUNTIME_DIR"]) / "kyso").glob("verify-*.lock"):
        text = lock.read_text().strip()
        if text.isdigit() and Path(f"/proc/{text}").exists() and b"verify_daemon" in Path(
                f"/proc/{text}/cmdline").read_bytes():
            pids.append(int(text))
    return pids


def _listening(env) -> list[Path]:
    found = []
    for path in (Path(env["XDG_RUNTIME_DIR"]) / "kyso").glob("verify-*.sock"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(str(path))
            except OSError:
                continue
        found.append(path)
    return found


def _wait(condition, seconds: float = 90.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("waited in vain")


def kyso(env, *args, cwd):
    done = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)
    status = json.loads(done.stderr.strip().splitlines()[-1])
    return done.stdout, status


@pytest.fixture()
def folder(tmp_path, engine, pki):
    """What a receiving clerk has on disk: a signed document, a copy altered after signing, an
    unsigned one, a file that is not a PDF, and a folder of two more."""
    from signer import Level, SignRequest, SoftwareKeyHolder

    here = tmp_path / "den"
    (here / "lo").mkdir(parents=True)
    signed = engine.sign(SignRequest(document=make_pdf(pages=2), level=Level.B_B),
                         key_holder=SoftwareKeyHolder.from_dev_pki(pki, "pham-thu-ha")).data
    (here / "da-ky.pdf").write_bytes(signed)
    altered = bytearray(signed)
    altered[200] ^= 0x01
    (here / "bi-sua.pdf").write_bytes(bytes(altered))
    (here / "chua-ky.pdf").write_bytes(make_pdf())
    (here / "khong-phai-pdf.pdf").write_bytes(b"Quyet dinh, ban giay")
    (here / "lo" / "1.pdf").write_bytes(signed)
    (here / "lo" / "2.pdf").write_bytes(make_pdf())
    return here


FILES = ("da-ky.pdf", "bi-sua.pdf", "chua-ky.pdf", "khong-phai-pdf.pdf", "khong-co.pdf", "lo")


def test_the_next_command_is_answered_by_the_warm_helper_with_the_same_reports(user, folder):
    """The first command verifies in its own process, then starts the helper; the next one (relative
    paths, a folder, a missing file, online revocation checks against the dev PKI) gets the same
    reports and exit code from it without importing pyHanko; the human output is the same too."""
    first, status = kyso(user, "verify", "--json", *FILES, cwd=folder)
    assert status == {"exit": 2, "pyhanko": True}, "unreadable input: 2; verified in this process"
    _wait(lambda: _listening(user))
    second, status = kyso(user, "verify", "--json", *FILES, cwd=folder)
    assert status == {"exit": 2, "pyhanko": False}, "the helper answered"
    reports = [json.loads(line) for line in second.splitlines()]
    assert [r["file"] for r in reports] == ["da-ky.pdf", "bi-sua.pdf", "chua-ky.pdf", "khong-phai-pdf.pdf",
                                            "khong-co.pdf", "lo/1.pdf", "lo/2.pdf"]
    assert [r["verdict"] for r in reports][:3] == ["valid", "invalid", "unsigned"]
    assert reports[0]["signatures"][0]["signer"]["common_name"] == "Phạm Thu Hà"
    assert reports[0]["signatures"][0]["revocation"]["status"] == "good", "OCSP asked of the dev PKI"
    assert _times_removed(reports) == _times_removed([json.loads(line) for line in first.splitlines()])

    helped, status = kyso(user, "verify", "da-ky.pdf", "bi-sua.pdf", cwd=folder)
    assert status == {"exit": 1, "pyhanko": False}
    alone, status = kyso(user, "verify", "--no-daemon", "da-ky.pdf", "bi-sua.pdf", cwd=folder)
    assert status == {"exit": 1, "pyhanko": True}
    assert helped == alone and "Phạm Thu Hà" in helped and "KHÔNG HỢP LỆ" in helped
    assert len(_helpers(user)) == 1, "one helper for one user and configuration"


def test_a_command_whose_helper_died_verifies_itself_and_starts_another(user, folder):
    kyso(user, "verify", "--offline", "da-ky.pdf", cwd=folder)
    [old] = _wait(lambda: _listening(user) and _helpers(user))
    os.kill(old, signal.SIGKILL)
    _wait(lambda: not Path(f"/proc/{old}").exists() or b"Z" in Path(f"/proc/{old}/stat").read_bytes().split()[2])
    out, status = kyso(user, "verify", "--offline", "--json", "da-ky.pdf", cwd=folder)
    assert status == {"exit": 1, "pyhanko": True}, "nobody answered on the dead helper's socket"
    assert json.loads(out)["signatures"][0]["signer"]["common_name"] == "Phạm Thu Hà"
    [new] = _wait(lambda: _listening(user) and _helpers(user))
    assert new != old
    out, status = kyso(user, "verify", "--offline", "--json", "da-ky.pdf", cwd=folder)
    assert status == {"exit": 1, "pyhanko": False} and json.loads(out)["file"] == "da-ky.pdf"


def test_the_helper_survives_nonsense_on_its_socket(user, folder):
    kyso(user, "verify", "--offline", "da-ky.pdf", cwd=folder)
    [path] = _wait(lambda: _listening(user))
    for junk in (b"not json\n", b'{"protocol": 1, "cwd": 5, "files": "x", "options": []}\n',
                 b'{"protocol": 1, "cwd": "/", "files": ["a.pdf"], "options": {"delete": true}}\n',
                 b'{"protocol": 99}\n', b"[1, 2" + b"3" * 100_000):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(str(path))
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
    out, status = kyso(user, "verify", "--offline", "--json", "chua-ky.pdf", cwd=folder)
    assert status == {"exit": 1, "pyhanko": False} and json.loads(out)["verdict"] == "unsigned"


def test_the_helper_leaves_when_unused_and_when_its_socket_is_removed(user, folder):
    quick = dict(user, KYSO_VERIFY_DAEMON_SECONDS="2")
    kyso(quick, "verify", "--offline", "chua-ky.pdf", cwd=folder)
    [pid] = _wait(lambda: _listening(quick) and _helpers(quick))
    _wait(lambda: not _helpers(quick), seconds=30)
    assert not list((Path(user["XDG_RUNTIME_DIR"]) / "kyso").glob("*.sock")), "it took its socket away"

    kyso(user, "verify", "--offline", "chua-ky.pdf", cwd=folder)
    [path] = _wait(lambda: _listening(user))
    path.unlink()
    _wait(lambda: not _helpers(user), seconds=30)


def test_a_changed_configuration_is_never_answered_by_an_older_helper(user, folder):
    """Another setting is another helper; a setting that does not parse is reported by the command
    itself and starts none; code that changed on disk is another helper's too."""
    from commands import verify_daemon

    kyso(user, "verify", "--offline", "chua-ky.pdf", cwd=folder)
    _wait(lambda: _listening(user))
    out, status = kyso(dict(user, KYSO_TRUST_PROFILE="none"), "verify", "--offline", "--json", "da-ky.pdf",
                       cwd=folder)
    assert status["pyhanko"], "not the dev profile's helper"
    _wait(lambda: len(_listening(user)) == 2)
    out, status = kyso(dict(user, KYSO_MODE="bogus"), "verify", "--offline", "da-ky.pdf", cwd=folder)
    assert status == {"exit": 2, "pyhanko": False}
    time.sleep(1)
    assert len(_helpers(user)) == 2, "a configuration that does not parse started no helper"

    env = {"KYSO_DATA_DIR": "/srv/a", "PWD": "/x", "TERM": "xterm"}
    assert verify_daemon.key(env) == verify_daemon.key(dict(env, PWD="/y", TERM="vt100", SHLVL="3"))
    assert verify_daemon.key(env) != verify_daemon.key(dict(env, KYSO_DATA_DIR="/srv/b"))
    assert verify_daemon.key(env) != verify_daemon.key(dict(env, https_proxy="http://proxy:3128"))
    source = ROOT / "verifier" / "__init__.py"
    before = source.stat()
    try:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        changed = verify_daemon.key(env)
    finally:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert changed != verify_daemon.key(env)


@pytest.mark.parametrize("how", ["shared runtime folder", "runtime folder too deep for a socket", "helper off",
                                 "--no-daemon"])
def test_no_helper_where_it_could_be_reached_by_others_or_is_not_wanted(user, folder, how):
    env, args = dict(user), ["verify", "--offline", "chua-ky.pdf"]
    if how == "shared runtime folder":
        os.chmod(user["XDG_RUNTIME_DIR"], 0o755)
    elif how == "runtime folder too deep for a socket":
        deep = Path(user["XDG_RUNTIME_DIR"]) / ("d" * 90)
        deep.mkdir(mode=0o700)
        env["XDG_RUNTIME_DIR"] = str(deep)
    elif how == "helper off":
        env["KYSO_VERIFY_DAEMON_SECONDS"] = "0"
    else:
        args.insert(1, "--no-daemon")
    for _ in range(2):
        out, status = kyso(env, *args, cwd=folder)
        assert status == {"exit": 1, "pyhanko": True}
        assert "chua-ky.pdf" in out and "UNSIGNED" in out.upper()
    time.sleep(1)
    assert not list(Path(user["XDG_RUNTIME_DIR"]).rglob("*.sock")) and _helpers(env) == [], "no socket, no helper"


def test_a_command_that_finds_the_helper_busy_verifies_itself(user, folder):
    """A helper serving someone else (here: a connection that sends nothing) keeps a command waiting
    only BUSY_SECONDS; then the command verifies in its own process, and the next one is answered
    again by the helper."""
    from commands.verify_daemon import BUSY_SECONDS

    kyso(user, "verify", "--offline", "da-ky.pdf", cwd=folder)
    [path] = _wait(lambda: _listening(user))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as hog:
        hog.connect(str(path))
        time.sleep(0.5)
        started = time.monotonic()
        out, status = kyso(user, "verify", "--offline", "--json", "chua-ky.pdf", cwd=folder)
        waited = time.monotonic() - started
    assert status == {"exit": 1, "pyhanko": True} and json.loads(out)["verdict"] == "unsigned"
    assert BUSY_SECONDS <= waited < 25, "it gave up on the busy helper, long before the helper's 30 s"
    out, status = kyso(user, "verify", "--offline", "--json", "chua-ky.pdf", cwd=folder)
    assert status == {"exit": 1, "pyhanko": False} and json.loads(out)["verdict"] == "unsigned"
