"""``kyso verify``'s warm helper: one process per user and configuration that keeps the verifier
imported, so that a command verifying one file costs a Python start, not pyHanko's import.

The command (:func:`ask`) connects to the helper's Unix socket, sends the files and options, and
prints what comes back. The helper (:func:`serve`, ``python -m commands.verify_daemon``) runs the
very verification the command would have run in its own process (:func:`commands.verify.judge`), in
the command's folder, under the command's environment: the same code, the same settings and the
same clock (the time of each request), so it never changes a verdict. When no helper answers, the
command verifies in its own process as before, then starts one for the next commands (never while
it verifies, and never when its configuration does not parse). When the helper fails part-way, the
command verifies the files it has no answer for itself.

Which helper, where:

- the socket lives in ``$XDG_RUNTIME_DIR/kyso`` when ``XDG_RUNTIME_DIR`` is set (and nowhere if that
  folder is unusable), else in ``/tmp/kyso-UID``; the folder must be the user's own, mode 0700 and not
  a link, and both sides check the other's user id on the socket (``SO_PEERCRED``);
- its name is a hash of everything that could make the helper answer differently from the command:
  the protocol, the Python, every file of Kyso's packages (size and time), the installed packages'
  folder and the environment (``KYSO_*``, proxies, CA bundles, ``LD_PRELOAD``, ``FAKETIME``...; only
  a terminal's own variables are left out). A changed setting or an upgrade finds no helper and
  starts its own; the old one leaves when unused.

It leaves after ``KYSO_VERIFY_DAEMON_SECONDS`` (600) without a request, at once when its socket is
removed or replaced, and on SIGTERM. ``KYSO_VERIFY_DAEMON_SECONDS=0`` or ``kyso verify --no-daemon``
starts none. One request at a time: a command that finds the helper busy for more than
:data:`BUSY_SECONDS` verifies in its own process.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import struct
import sys

PROTOCOL = 1
DEFAULT_IDLE = 600
BUSY_SECONDS = 5.0          # how long a command waits for a busy helper to take its request
ANSWER_SECONDS = 900.0      # how long it waits for one file's answer (online checks included)
MAX_REQUEST = 64 << 20      # bytes of one request (a list of 100,000 long paths fits)
MAX_ANSWER = 256 << 20      # bytes of one file's report

# a terminal's or a session's own variables: they say nothing about how a file is judged
_VOLATILE = frozenset({
    "PWD", "OLDPWD", "SHLVL", "_", "TERM", "COLUMNS", "LINES", "PS1", "PS2", "PS4", "PROMPT_COMMAND",
    "DISPLAY", "WINDOWID", "SSH_CLIENT", "SSH_CONNECTION", "SSH_TTY", "SSH_AUTH_SOCK", "TMUX", "TMUX_PANE",
    "STY", "WINDOW", "MAIL", "LS_COLORS", "COLORTERM", "TERM_PROGRAM", "TERM_PROGRAM_VERSION", "HISTFILE",
    "HISTSIZE", "HISTCONTROL", "PYTEST_CURRENT_TEST", "XDG_SESSION_ID", "XDG_VTNR", "LESSOPEN", "LESSCLOSE",
})
_PACKAGES = ("kyso", "hazmat", "office", "commands", "signer", "verifier", "devpki", "certs_dev", "registers")


class Unavailable(Exception):
    """No helper could answer (or it stopped answering): the command verifies in its own process."""


class Absent(Unavailable):
    """No helper listens: :meth:`start` one for the next commands (once this one has verified)."""

    def __init__(self, place: "Place", seconds: int, environ) -> None:
        super().__init__("no helper answered")
        self.place, self.seconds, self.environ = place, seconds, environ

    def start(self) -> None:
        start(self.place, self.seconds, self.environ)


class Refused(Exception):
    """The helper's answer is an error of the verification itself (a Kyso error, as its JSON)."""

    def __init__(self, error: dict) -> None:
        super().__init__(error.get("message", "error"))
        self.error = error

    def to_dict(self) -> dict:
        return self.error


# -- where -------------------------------------------------------------------------------------------

def idle_seconds(environ=os.environ) -> int:
    """``KYSO_VERIFY_DAEMON_SECONDS`` read as the settings read it; 0 (no helper) when it does not
    parse, so that the command's own settings report the error."""
    text = environ.get("KYSO_VERIFY_DAEMON_SECONDS")
    if text is None:
        return DEFAULT_IDLE
    try:
        value = int(text)
    except ValueError:
        return 0
    return value if 0 <= value <= 86400 else 0


def _private_folder(path: str, *, create: bool) -> str | None:
    """``path`` if it is a folder of this user's, mode 0700 and not a link (created so if asked)."""
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return path


def runtime_folder(environ=os.environ) -> str | None:
    """The user's private folder for the helper's socket, or None (then there is no helper)."""
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime is not None:
        if not runtime or _private_folder(runtime, create=False) is None:
            return None
        return _private_folder(os.path.join(runtime, "kyso"), create=True)
    return _private_folder(f"/tmp/kyso-{os.getuid()}", create=True)


def _code_state(digest) -> None:
    """Every file of Kyso's packages (path, size, time) and the installed packages' folder."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    stack = [os.path.join(root, name) for name in _PACKAGES] + [os.path.join(root, "api.py")]
    while stack:
        top = stack.pop()
        try:
            if not os.path.isdir(top):
                info = os.stat(top)
                digest.update(f"{top}\0{info.st_size}\0{info.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
                continue
            entries = sorted(os.scandir(top), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name == "__pycache__":
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            else:
                try:
                    info = entry.stat()
                except OSError:
                    continue
                digest.update(f"{entry.path}\0{info.st_size}\0{info.st_mtime_ns}\n"
                              .encode("utf-8", "surrogateescape"))
    for folder in sorted({p for p in sys.path if p.endswith("-packages")}):
        try:
            digest.update(f"{folder}\0{os.stat(folder).st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
        except OSError:
            pass


def key(environ=os.environ) -> str:
    """The name of the helper that answers exactly as this command would."""
    digest = hashlib.sha256(f"kyso-verify-daemon {PROTOCOL}\0{sys.executable}\0{sys.version}\n".encode())
    for name in sorted(environ):
        if name not in _VOLATILE:
            digest.update(f"{name}={environ[name]}\0".encode("utf-8", "surrogateescape"))
    _code_state(digest)
    return digest.hexdigest()[:24]


class Place:
    """The socket and lock of one helper."""

    def __init__(self, folder: str, name: str) -> None:
        self.socket = os.path.join(folder, f"verify-{name}.sock")
        self.lock = os.path.join(folder, f"verify-{name}.lock")
        self.log = os.path.join(folder, f"verify-{name}.log")    # the helper's standard error (its last run)

    @classmethod
    def of_environment(cls, environ=os.environ) -> "Place | None":
        folder = runtime_folder(environ)
        if folder is None:
            return None
        place = cls(folder, key(environ))
        return place if len(place.socket.encode()) < 100 else None   # sun_path holds 108 bytes

    def pid(self) -> int | None:
        """The running helper's process id (from its lock file), if one holds the lock."""
        import fcntl

        try:
            fd = os.open(self.lock, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.read(fd, 32).decode("ascii", "replace").strip()
                return int(text) if text.isdigit() else None
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)


# -- the command's side ----------------------------------------------------------------------------

def _peer_uid(sock: socket.socket) -> int:
    pid, uid, gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid


class _Lines:
    """Newline-delimited JSON over a socket, each line at most ``limit`` bytes."""

    def __init__(self, sock: socket.socket, limit: int) -> None:
        self.sock, self.limit, self.buffer = sock, limit, bytearray()

    def read(self) -> dict | None:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[:end + 1]
                return json.loads(line)
            if len(self.buffer) > self.limit:
                raise ValueError("line too long")
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return None
            self.buffer += chunk


def ask(files: list[str], options: dict, *, environ=os.environ):
    """Each file's report from the helper, in order, as it comes. Raises :class:`Unavailable` (before or
    between reports: the caller verifies the rest itself; :class:`Absent` when none listens) or
    :class:`Refused` (a Kyso error)."""
    seconds = idle_seconds(environ)
    place = Place.of_environment(environ) if seconds else None
    if place is None:
        raise Unavailable("no helper")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(BUSY_SECONDS)
        try:
            sock.connect(place.socket)
        except OSError:
            raise Absent(place, seconds, environ) from None
        try:
            if _peer_uid(sock) != os.getuid():
                raise Unavailable("the socket is not this user's")
            request = {"protocol": PROTOCOL, "cwd": os.getcwd(), "files": files, "options": options}
            sock.sendall(json.dumps(request).encode("ascii") + b"\n")
            lines = _Lines(sock, MAX_ANSWER)
            hello = lines.read()
            if not hello or hello.get("hello") != PROTOCOL:
                raise Unavailable("the helper did not take the request")
            sock.settimeout(ANSWER_SECONDS)
            while True:
                message = lines.read()
                if message is None:
                    raise Unavailable("the helper stopped answering")
                if "report" in message:
                    yield message["report"]
                elif "error" in message:
                    raise Refused(message["error"])
                elif message.get("done"):
                    return
                else:
                    raise Unavailable("the helper's answer is not understood")
        except (OSError, ValueError) as exc:     # timeouts, resets, broken JSON
            raise Unavailable(str(exc)) from None
    finally:
        sock.close()


def start(place: Place, seconds: int, environ=os.environ) -> None:
    """Start a helper in the background (it gives up at once if another holds the lock)."""
    import subprocess

    try:
        log = os.open(place.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        log = subprocess.DEVNULL
    try:
        subprocess.Popen([sys.executable, "-m", "commands.verify_daemon", place.socket, place.lock, str(seconds)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                         close_fds=True, start_new_session=True, cwd="/", env=dict(environ))
    except OSError:
        pass
    finally:
        if log != subprocess.DEVNULL:
            os.close(log)


# -- the helper's side -----------------------------------------------------------------------------

def serve(socket_path: str, lock_path: str, idle: int) -> int:
    """Answer ``kyso verify`` requests on ``socket_path`` until ``idle`` seconds pass without one."""
    import fcntl
    import signal
    import time

    try:
        lock = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0                                  # another helper has it (or the folder went away)
    os.ftruncate(lock, 0)
    os.write(lock, str(os.getpid()).encode())
    try:
        os.ftruncate(2, 0)                        # its log holds this run only (an earlier one's is gone)
    except OSError:
        pass
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    from commands.verify import warm_up

    warm_up()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    temporary = f"{socket_path}.{os.getpid()}"
    try:
        listener.bind(temporary)
        os.chmod(temporary, 0o600)
        listener.listen(16)
        os.rename(temporary, socket_path)         # replaces a dead helper's socket, atomically
        ours = os.stat(socket_path).st_ino
        last = time.monotonic()
        listener.settimeout(min(idle, 2.0))
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                try:
                    if os.stat(socket_path).st_ino != ours:
                        return 0                  # replaced: another helper serves
                except OSError:
                    return 0                      # removed: nobody will find this one
                if time.monotonic() - last >= idle:
                    return 0
                continue
            with conn:
                _answer(conn)
            last = time.monotonic()
    finally:
        try:
            if os.stat(socket_path).st_ino == ours:
                os.unlink(socket_path)
        except (OSError, UnboundLocalError):
            pass
        try:
            os.unlink(temporary)
        except OSError:
            pass
        listener.close()


def _answer(conn: socket.socket) -> None:
    """One request: the same judgement as the command's own, in the command's folder."""
    from commands.verify import judge
    from kyso.errors import KysoError

    try:
        conn.settimeout(30.0)
        if _peer_uid(conn) != os.getuid():
            return
        request = _Lines(conn, MAX_REQUEST).read()
        if not isinstance(request, dict) or request.get("protocol") != PROTOCOL:
            return
        files, options, cwd = request["files"], request["options"], request["cwd"]
        if not (isinstance(files, list) and all(isinstance(f, str) for f in files) and isinstance(options, dict)
                and isinstance(cwd, str)):
            return
        os.chdir(cwd)
        conn.sendall(json.dumps({"hello": PROTOCOL}).encode() + b"\n")
        try:
            for _path, data in judge(files, **options):
                conn.sendall(json.dumps({"report": data}).encode() + b"\n")
        except KysoError as exc:
            conn.sendall(json.dumps({"error": exc.to_dict()}).encode() + b"\n")
            return
        conn.sendall(b'{"done": true}\n')
    except (OSError, ValueError, KeyError, TypeError):
        return                                    # the command left, or sent nonsense: it verifies itself
    finally:
        try:
            os.chdir("/")
        except OSError:
            pass


if __name__ == "__main__":
    if len(sys.argv) != 4 or not sys.argv[3].isdigit():
        sys.exit("usage: python -m commands.verify_daemon SOCKET LOCK IDLE_SECONDS")
    sys.exit(serve(sys.argv[1], sys.argv[2], int(sys.argv[3])))
