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
    """The helpers alive for this runtime folder (their lock files name them; a helper that leaves
    removes its own, so a file may go while it is read)."""
    pids = []
    for lock in (Path(env["XDG_RUNTIME_DIR"]) / "kyso").glob("verify-*.lock"):
        try:
            text = lock.read_text().strip()
            if text.isdigit() and b"verify_daemon" in Path(f"/proc/{text}/cmdline").read_bytes():
                pids.append(int(text))
        except OSError:
            continue
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
                 b'{"protocol": 99}\n', b"[1, 2" + b"3" * 100_000, b"[" * 200_000 + b"\n"):
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
    assert verify_daemon.key(env) == verify_daemon.key(dict(env, PARALLEL_SEQ="7", INVOCATION_ID="ab12")), \
        "a job runner's variables name no other helper"
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


def test_a_command_that_finds_the_helper_busy_or_stuck_verifies_itself(user, folder):
    """A helper serving someone else (here: a connection that sends nothing) is passed by at once; a
    helper that takes no request (stopped) keeps a command waiting BUSY_SECONDS only. Either way the
    command verifies in its own process, and the next one is answered by the helper again."""
    from commands import verify_daemon
    from commands.verify_daemon import BUSY_SECONDS

    kyso(user, "verify", "--offline", "da-ky.pdf", cwd=folder)
    [path] = _wait(lambda: _listening(user))
    [pid] = _helpers(user)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as hog:
        hog.connect(str(path))
        time.sleep(0.5)
        started = time.monotonic()
        out, status = kyso(user, "verify", "--offline", "--json", "chua-ky.pdf", cwd=folder)
        waited = time.monotonic() - started
    assert status == {"exit": 1, "pyhanko": True} and json.loads(out)["verdict"] == "unsigned"
    assert waited < BUSY_SECONDS, "a busy helper is not waited for"

    place = verify_daemon.Place.of_environment(user)
    _wait(lambda: not place.busy_now(), seconds=30)     # done with the connection that sent nothing
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        out, status = kyso(user, "verify", "--offline", "--json", "chua-ky.pdf", cwd=folder)
        waited = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert status == {"exit": 1, "pyhanko": True} and json.loads(out)["verdict"] == "unsigned"
    assert BUSY_SECONDS <= waited < 25, "it gave up on the helper that took no request"
    _wait(lambda: kyso(user, "verify", "--offline", "--json", "chua-ky.pdf", cwd=folder)[1]
          == {"exit": 1, "pyhanko": False}, seconds=30)


class _Proxy:
    """An HTTP proxy in front of the development PKI that counts OCSP requests and can play a
    responder that is down (503)."""

    def __init__(self) -> None:
        import threading
        import urllib.error
        import urllib.request
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        proxy = self
        self.up, self.ocsp = True, 0
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "/ocsp/" in self.path:
                    proxy.ocsp += 1
                if not proxy.up:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = urllib.request.Request(self.path, data=body if self.command == "POST" else None,
                                                 method=self.command,
                                                 headers={"Content-Type": self.headers.get("Content-Type", "")})
                try:
                    with direct.open(request, timeout=30) as answer:
                        status, kind, data = answer.status, answer.headers.get("Content-Type", ""), answer.read()
                except urllib.error.HTTPError as exc:
                    status, kind, data = exc.code, "", exc.read()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_each_command_asks_the_responders_again_as_its_own_process_would(user, folder):
    """The helper keeps no OCSP answer or validated path from one command for the next: each command
    asks the responder as many times as a command verifying alone, and a responder that went down
    since gives the same verdict as in the command's own process, not the earlier "good"."""
    proxy = _Proxy()
    try:
        env = {k: v for k, v in user.items() if k.lower() != "no_proxy"}
        env.update(http_proxy=proxy.url, HTTP_PROXY=proxy.url)
        first, status = kyso(env, "verify", "--json", "da-ky.pdf", cwd=folder)
        # valid, but not yet issued (no agency signature): exit code 1
        assert status == {"exit": 1, "pyhanko": True} and proxy.ocsp > 0
        alone = proxy.ocsp
        assert json.loads(first)["verdict"] == "valid"
        assert json.loads(first)["signatures"][0]["revocation"]["status"] == "good"
        _wait(lambda: _listening(env))
        for _ in range(2):
            proxy.ocsp = 0
            out, status = kyso(env, "verify", "--json", "da-ky.pdf", cwd=folder)
            assert status == {"exit": 1, "pyhanko": False}, "the helper answered"
            assert proxy.ocsp == alone, "asked again, as often as a command alone"
            assert _times_removed(json.loads(out)) == _times_removed(json.loads(first))

        proxy.up = False
        helped, status = kyso(env, "verify", "--json", "da-ky.pdf", cwd=folder)
        assert status["pyhanko"] is False
        by_itself, alone_status = kyso(env, "verify", "--no-daemon", "--json", "da-ky.pdf", cwd=folder)
        assert alone_status["pyhanko"] is True and status["exit"] == alone_status["exit"] == 1
        helped, by_itself = json.loads(helped), json.loads(by_itself)
        assert helped["verdict"] != "valid" and helped["signatures"][0]["revocation"]["status"] != "good"
        assert _times_removed(helped) == _times_removed(by_itself)
    finally:
        proxy.close()


# a stand-in for the helper, at the socket the command asks: it greets, then answers from REPORTS as
# told, then keeps the connection open until the command leaves
FAKE = """
import json, os, socket, sys
from commands.verify_daemon import PROTOCOL, _Lines
where, how, reports = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
if how == "other rights":
    import ctypes
    assert ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0) == 0   # PR_SET_NO_NEW_PRIVS
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(where + ".fake")
server.listen(1)
os.rename(where + ".fake", where)
print("ready", flush=True)
conn, _ = server.accept()
_Lines(conn, 1 << 26).read()
def send(message):
    conn.sendall(json.dumps(message).encode() + b"\\n")
send(["hello"] if how == "a list for a greeting" else {"hello": PROTOCOL})
if how == "stops after one":
    send({"report": reports[0]})
    conn.close()
elif how == "done after one":
    send({"report": reports[0]}); send({"done": True})
elif how == "one too many":
    for r in reports + reports[:1]:
        send({"report": r})
    send({"done": True})
elif how == "not a report":
    send({"report": reports[0]}); send({"report": ["valid"]})
elif how == "another file's report":
    send({"report": reports[1]}); send({"report": reports[0]})
else:
    for r in reports:
        send({"report": r})
    send({"done": True})
while conn.recv(1 << 16):
    pass
"""


@pytest.mark.parametrize("how", ["a list for a greeting", "stops after one", "done after one", "one too many",
                                 "not a report", "another file's report", "other rights"])
def test_a_helper_that_answers_wrongly_is_not_believed(user, folder, tmp_path, how):
    """Whatever listens at the helper's socket, the command prints what it would have printed alone:
    files left unanswered, answers out of order, of the wrong shape or too many, and a listener
    running with other rights than the command's (here: no new privileges) are verified by the
    command itself."""
    from commands import verify_daemon

    files = ["da-ky.pdf", "bi-sua.pdf", "chua-ky.pdf"]
    alone, status = kyso(user, "verify", "--no-daemon", "--offline", "--json", *files, cwd=folder)
    assert status == {"exit": 1, "pyhanko": True}
    reports = [json.loads(line) for line in alone.splitlines()]
    (tmp_path / "reports.json").write_text(json.dumps(reports))
    place = verify_daemon.Place.of_environment(user)
    with subprocess.Popen([sys.executable, "-c", FAKE, place.socket, how, str(tmp_path / "reports.json")],
                          cwd=ROOT, stdout=subprocess.PIPE, text=True) as fake:
        try:
            assert fake.stdout.readline().strip() == "ready"
            out, status = kyso(user, "verify", "--offline", "--json", *files, cwd=folder)
        finally:
            fake.kill()
    assert status == {"exit": 1, "pyhanko": True}, "the command verified (the rest) itself"
    assert _times_removed([json.loads(line) for line in out.splitlines()]) == _times_removed(reports)


def test_a_process_with_other_rights_gets_no_answer_from_the_helper(user, folder):
    """The helper answers only a process of its own user that runs with its rights: a command that
    set no-new-privileges has its own helper, and the first helper greets it not."""
    from commands.verify_daemon import PROTOCOL

    kyso(user, "verify", "--offline", "chua-ky.pdf", cwd=folder)
    [path] = _wait(lambda: _listening(user))
    ask = ("import ctypes, json, socket, sys\n"
           "assert ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0) == 0\n"
           "import os; i = os.stat(os.path.join(sys.argv[2], 'chua-ky.pdf'))\n"
           "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(30); s.connect(sys.argv[1])\n"
           "try:\n"     # the helper may close before the request is even sent: refused either way
           "    s.sendall(json.dumps({'protocol': %d, 'cwd': sys.argv[2], 'files': ['chua-ky.pdf'],"
           " 'options': {'offline': True}, 'ids': [[i.st_dev, i.st_ino]]}).encode() + b'\\n')\n"
           "    print(repr(s.recv(1000)))\n"
           "except (ConnectionResetError, BrokenPipeError):\n"
           "    print(repr(b''))\n" % PROTOCOL)
    done = subprocess.run([sys.executable, "-c", ask, str(path), str(folder)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "b''", "closed without a greeting"
    out, status = kyso(user, "verify", "--offline", "--json", "chua-ky.pdf", cwd=folder)
    assert status == {"exit": 1, "pyhanko": False}, "the helper still answers its own"


def test_at_most_a_few_helpers_per_user(user, folder):
    """Each configuration in use has its helper, up to MAX_HELPERS; a command of one more
    configuration verifies in its own process and starts none."""
    from commands.verify_daemon import MAX_HELPERS

    assert MAX_HELPERS == 3
    for n, profile in enumerate(["dev", "none", "vn"], start=1):
        kyso(dict(user, KYSO_TRUST_PROFILE=profile), "verify", "--offline", "chua-ky.pdf", cwd=folder)
        _wait(lambda n=n: len(_listening(user)) == n and len(_helpers(user)) == n)
    extra = dict(user, KYSO_VERIFY_DAEMON_SECONDS="121")
    for _ in range(2):
        out, status = kyso(extra, "verify", "--offline", "chua-ky.pdf", cwd=folder)
        assert status == {"exit": 1, "pyhanko": True} and "UNSIGNED" in out.upper()
        time.sleep(1.5)
        assert len(_helpers(user)) == 3


def test_helpers_starting_at_the_same_moment_never_pass_the_cap(user):
    """Six helpers of six configurations start at once (six commands at the same moment, each having
    counted fewer than MAX_HELPERS): each counts the others under the folder's start lock, so three
    serve and three leave at once."""
    from commands import verify_daemon

    runtime = verify_daemon.runtime_folder(user)
    places = [verify_daemon.Place(runtime, f"race{i}") for i in range(6)]
    helpers = [subprocess.Popen([sys.executable, "-m", "commands.verify_daemon", p.socket, p.lock, "60"],
                                cwd=ROOT, env=user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for p in places]
    try:
        _wait(lambda: sum(h.poll() is not None for h in helpers) >= 3)
        _wait(lambda: len(_listening(user)) >= 3)
        time.sleep(1.0)
        assert len(_listening(user)) == 3
        assert len(verify_daemon.live_helpers(runtime)) == 3
        assert sum(h.poll() is None for h in helpers) == 3
        # those that left removed their files; every lock file left names a helper that serves
        locks = sorted(Path(runtime).glob("verify-race*.lock"))
        assert len(locks) == 3 and sorted(int(p.read_text()) for p in locks) == sorted(
            h.pid for h in helpers if h.poll() is None)
        assert len(list(Path(runtime).glob("verify-race*.busy"))) == 3
    finally:
        for h in helpers:
            if h.poll() is None:
                h.kill()
            h.wait()


STUCK = """
import sys, time
import commands.verify as verify
import commands.verify_daemon as daemon
daemon.ANSWER_SECONDS, daemon.WATCHDOG_TICK = 2.0, 0.2
def judge(files, **options):      # a verification that never ends (a responder that trickles, a bug)
    time.sleep(3600)
    yield from ()
verify.judge = judge
sys.exit(daemon.serve(sys.argv[1], sys.argv[2], 60))
"""


def test_a_helper_stuck_on_one_file_leaves_and_the_command_verifies_itself(user, folder):
    """The helper's watchdog: an answer that takes longer than ANSWER_SECONDS (here 2 s) ends the
    helper (exit 3); the command waiting for it then verifies on its own and prints what it would
    have printed alone."""
    from commands import verify_daemon

    alone, status = kyso(user, "verify", "--no-daemon", "--offline", "--json", "chua-ky.pdf", cwd=folder)
    assert status == {"exit": 1, "pyhanko": True}
    place = verify_daemon.Place.of_environment(user)
    helper = subprocess.Popen([sys.executable, "-c", STUCK, place.socket, place.lock], cwd=ROOT,
                              env=verify_daemon.counted_environment(user))
    try:
        _wait(lambda: len(_listening(user)) == 1)
        started = time.monotonic()
        out, status = kyso(user, "verify", "--offline", "--json", "chua-ky.pdf", cwd=folder)
        assert helper.wait(timeout=60) == 3
        assert time.monotonic() - started < 30
        assert status == {"exit": 1, "pyhanko": True}
        assert _times_removed(json.loads(out)) == _times_removed(json.loads(alone))
    finally:
        if helper.poll() is None:
            helper.kill()
        helper.wait()


def test_a_listener_whose_process_id_went_to_the_command_is_not_believed(user, folder):
    """A process of the user listens at the helper's socket, leaves the socket to a child that forges
    answers, exits, and its process id is handed to the next command (``ns_last_pid``; an
    unprivileged process steers it by forking). The command, asking who listens, would find itself:
    it must see that the listener is gone (a pidfd of it, not its number) and verify alone."""
    from commands import verify_daemon

    alone, status = kyso(user, "verify", "--no-daemon", "--offline", "--json", "chua-ky.pdf", cwd=folder)
    genuine = json.loads(alone)
    assert status["exit"] == 1 and genuine["verdict"] == "unsigned"
    forged = dict(genuine, verdict="valid", reasons=[], outcome=dict(genuine["outcome"], code="valid", en="VALID"))
    place = verify_daemon.Place.of_environment(user)
    got_its_pid = 0
    for _ in range(5):
        ready_r, ready_w = os.pipe()
        listener = os.fork()
        if listener == 0:                                 # the listener, then its child with the socket
            try:
                os.close(ready_r)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.bind(place.socket + ".x")
                s.listen(4)
                os.rename(place.socket + ".x", place.socket)
                if os.fork() == 0:
                    os.write(ready_w, b"1")
                    s.settimeout(60)
                    conn, _ = s.accept()
                    request = verify_daemon._Lines(conn, 1 << 26).read()
                    conn.sendall(json.dumps({"hello": verify_daemon.PROTOCOL}).encode() + b"\n")
                    for f in request["files"]:
                        conn.sendall(json.dumps({"report": dict(forged, file=f)}).encode() + b"\n")
                    conn.sendall(b'{"done": true}\n')
                    time.sleep(2)
            finally:
                os._exit(0)
        os.close(ready_w)
        os.read(ready_r, 1)
        os.close(ready_r)
        os.waitpid(listener, 0)
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(listener - 1))
        victim = subprocess.Popen([sys.executable, "-c", PROBE, "verify", "--offline", "--json", "chua-ky.pdf"],
                                  cwd=folder, env=user, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = victim.communicate(timeout=120)
        if victim.pid != listener:
            continue                                     # another process took the number first: again
        got_its_pid += 1
        status = json.loads(err.strip().splitlines()[-1])
        assert status == {"exit": 1, "pyhanko": True}, "verified alone"
        assert _times_removed(json.loads(out)) == _times_removed(genuine)
    assert got_its_pid, "the command got the listener's process id at least once"


def test_paths_into_the_commands_own_descriptors_are_not_sent_to_the_helper(user, folder):
    """``/dev/stdin`` and ``<(...)``'s ``/dev/fd/N`` name this command's descriptors: in the helper
    they would be its own. Such a command verifies in its own process, with the same report as
    ``--no-daemon``."""
    kyso(user, "verify", "--offline", "chua-ky.pdf", cwd=folder)
    _wait(lambda: _listening(user))
    (folder / "dau-vao.pdf").symlink_to("/dev/stdin")     # a link to it: the helper finds another file there
    for name in ("/dev/stdin", "dau-vao.pdf"):
        runs = []
        for extra in ([], ["--no-daemon"]):
            with open(folder / "da-ky.pdf", "rb") as stdin:
                done = subprocess.run([sys.executable, "-c", PROBE, "verify", *extra, "--offline", "--json", name],
                                      stdin=stdin, capture_output=True, text=True, cwd=folder, env=user, timeout=300)
            runs.append((json.loads(done.stdout), json.loads(done.stderr.strip().splitlines()[-1])))
        (helped, status), (alone, _) = runs
        assert status == {"exit": 1, "pyhanko": True}, name
        assert helped["signatures"][0]["signer"]["common_name"] == "Phạm Thu Hà"
        assert _times_removed(helped) == _times_removed(alone)
    out, status = kyso(user, "verify", "--offline", "--json", "chua-ky.pdf", cwd=folder)
    assert status == {"exit": 1, "pyhanko": False}, "the helper still answers"
    # a file in /dev/shm is a file like any other (make bench keeps its inputs there)
    import shutil
    import tempfile

    shm = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        shutil.copy(folder / "da-ky.pdf", shm / "da-ky.pdf")
        out, status = kyso(user, "verify", "--offline", "--json", shm / "da-ky.pdf", cwd=folder)
        assert status == {"exit": 1, "pyhanko": False} and json.loads(out)["file"] == str(shm / "da-ky.pdf")
    finally:
        shutil.rmtree(shm)


def test_a_process_holding_the_busy_file_does_not_wedge_the_helper(user, folder):
    """Any process of the user may lock the helper's busy file (a command looks at it that way): the
    helper answers anyway and stays able to leave."""
    import fcntl

    from commands import verify_daemon

    kyso(user, "verify", "--offline", "chua-ky.pdf", cwd=folder)
    [path] = _wait(lambda: _listening(user))
    place = verify_daemon.Place.of_environment(user)
    with open(place.busy, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_SH)
        out, status = kyso(user, "verify", "--offline", "--json", "chua-ky.pdf", cwd=folder)
        assert status == {"exit": 1, "pyhanko": False} and json.loads(out)["verdict"] == "unsigned"
        path.unlink()
        _wait(lambda: not _helpers(user), seconds=30)
