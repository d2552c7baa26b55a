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
- both sides also check that the other runs as the same process identity: user and group ids,
  supplementary groups, capabilities, seccomp, security label and the mount, network and user
  namespaces, of the very process at the other end (a pidfd, ``SO_PEERPIDFD``: Linux 6.5 or later;
  on an older kernel no helper is believed and every command verifies in its own process);
- a path goes to the helper only if it opens there the file it opens in the command (device and
  inode), and never one into the command's own descriptors (``/dev/stdin``, ``/dev/fd/N``, ``/proc``;
  ``/dev/shm`` holds files like any folder);
- its name is a hash of everything that could make the helper answer differently from the command:
  the protocol, the Python, every file of Kyso's packages (size and time), the installed packages'
  folder, that process identity and the environment variables that can change a verification
  (:func:`counts`: ``KYSO_*``, proxies, CA bundles, ``TZ``, the locale, ``PYTHON*``, ``LD_*``,
  ``FAKETIME*``, ``HOME``, ``PATH``, the XDG folders). The helper runs with those variables only. A
  changed setting or an upgrade finds no helper and starts its own; the old one leaves when unused;
  at most :data:`MAX_HELPERS` live per user (a command that would start one more verifies without;
  a helper counts the others under the folder's start lock, so that several starting at once never
  pass the cap).

Each request asks the responders as the command's own process would: the helper drops the answers
it fetched (OCSP, CRLs, certificates) for the requests before, and the paths validated with them, so
a certificate revoked or a responder down since the last command is seen as the command would see it.
It keeps what the imports and the warm-up built, and what only the files and the trust store decide
(parsed certificates, paths validated from a document's own revocation data), under the same rules
as between the files of one command (:mod:`verifier.pathcache`: at most 5 minutes).

It leaves after ``KYSO_VERIFY_DAEMON_SECONDS`` (600) without a request, at once when its socket is
removed or replaced, on SIGTERM, and (``os._exit``) when one file's answer takes longer than
:data:`ANSWER_SECONDS`. ``KYSO_VERIFY_DAEMON_SECONDS=0`` or ``kyso verify --no-daemon`` starts none.
One request at a time: a command that finds the helper busy (its busy file locked) verifies in its
own process at once, and one that connects but gets no greeting within :data:`BUSY_SECONDS` too.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import struct
import sys

PROTOCOL = 2
DEFAULT_IDLE = 600
MAX_HELPERS = 3             # live helpers per user (one per configuration in use)
BUSY_SECONDS = 5.0          # how long a command waits for a busy helper to take its request
ANSWER_SECONDS = 900.0      # how long it waits for one file's answer (online checks included)
WATCHDOG_TICK = 5.0         # how often the helper's watchdog looks at the answer in hand
MAX_REQUEST = 64 << 20      # bytes of one request (a list of 100,000 long paths fits)
MAX_ANSWER = 256 << 20      # bytes of one file's report

# the environment variables that can change how a file is judged (Kyso's settings, how OCSP and CRLs
# are fetched, the clock and time zone, the locale, Python and the dynamic loader); the others (a
# terminal's, a job runner's: PARALLEL_SEQ, INVOCATION_ID...) name no other helper
_COUNTED_PREFIXES = ("KYSO_", "PYTHON", "LD_", "FAKETIME", "LC_", "SSL_", "OPENSSL_")
_COUNTED = frozenset({
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC",
    "TZ", "LANG", "LANGUAGE", "HOME", "PATH", "TMPDIR", "DONT_FAKE_MONOTONIC", "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_DIRS", "XDG_DATA_DIRS",
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


def counts(name: str) -> bool:
    """Whether the environment variable ``name`` can change a verification (and so names a helper)."""
    upper = name.upper()
    return upper in _COUNTED or upper.startswith(_COUNTED_PREFIXES)


def counted_environment(environ=os.environ) -> dict[str, str]:
    """The variables the helper is keyed by and runs with."""
    return {name: value for name, value in environ.items() if counts(name)}


_IDENTITY_FIELDS = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
                    "Seccomp", "Seccomp_filters")


def identity(pid: int | str = "self") -> tuple | None:
    """What a process may do and see besides its user id: its user and group ids, supplementary
    groups, capabilities, seccomp state and filters, security label (AppArmor, SELinux) and mount,
    network and user namespaces (None when it cannot be read: then no helper answers)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            fields = dict(line.partition(":")[::2] for line in f)
        kept = tuple((name, " ".join(fields.get(name, "").split())) for name in _IDENTITY_FIELDS)
        spaces = tuple(os.readlink(f"/proc/{pid}/ns/{ns}") for ns in ("mnt", "net", "user"))
    except (OSError, ValueError):
        return None
    try:
        with open(f"/proc/{pid}/attr/current", "rb") as f:
            label = f.read(4096).decode("utf-8", "replace").strip()
    except OSError:
        label = ""                                # no security module: the same for every process
    return kept + spaces + (label,)


def key(environ=os.environ) -> str:
    """The name of the helper that answers exactly as this command would."""
    digest = hashlib.sha256(f"kyso-verify-daemon {PROTOCOL}\0{sys.executable}\0{sys.version}\n".encode())
    digest.update(repr(identity()).encode("utf-8", "surrogateescape"))
    for name, value in sorted(counted_environment(environ).items()):
        digest.update(f"{name}={value}\0".encode("utf-8", "surrogateescape"))
    _code_state(digest)
    return digest.hexdigest()[:24]


class Place:
    """The socket and lock of one helper."""

    def __init__(self, folder: str, name: str) -> None:
        self.socket = os.path.join(folder, f"verify-{name}.sock")
        self.lock = os.path.join(folder, f"verify-{name}.lock")
        self.busy = os.path.join(folder, f"verify-{name}.busy")  # locked while the helper answers
        self.log = os.path.join(folder, f"verify-{name}.log")    # the helper's standard error (its last run)

    @classmethod
    def of_environment(cls, environ=os.environ) -> "Place | None":
        folder = runtime_folder(environ)
        if folder is None:
            return None
        place = cls(folder, key(environ))
        return place if len(place.socket.encode()) < 100 else None   # sun_path holds 108 bytes

    def busy_now(self) -> bool:
        """Whether the helper is answering another command (it holds its busy file's lock)."""
        return _locked(self.busy)


def _locked(path: str) -> bool:
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _holder(lock: str) -> int | None:
    """The process id written in ``lock`` if a process holds it."""
    if not _locked(lock):
        return None
    try:
        with open(lock, "rb") as f:
            text = f.read(32).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


_START_LOCK = "starting.lck"     # held by a helper while it counts the others (not a helper's lock)
_START_LOCK_SECONDS = 5.0        # a helper that cannot count within this long does not serve


def _lock_names(folder: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(folder) if n.startswith("verify-") and n.endswith(".lock"))
    except OSError:
        return []


def live_helpers(folder: str) -> list[int]:
    """The process ids of the helpers that hold their lock in ``folder``, in name order."""
    return [pid for pid in (_holder(os.path.join(folder, n)) for n in _lock_names(folder)) if pid is not None]


# where a path names the command's own descriptors or terminal, which in the helper are its own
# (files in /dev/shm are files)
_OWN_DESCRIPTORS = ("/proc/", "/dev/fd/", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/tty")


def _own_descriptors(path: str) -> bool:
    return any(form.startswith(_OWN_DESCRIPTORS) or form in ("/proc", "/dev/fd")
               for form in (os.path.abspath(path), os.path.realpath(path)))


# -- the command's side ----------------------------------------------------------------------------

SO_PEERPIDFD = getattr(socket, "SO_PEERPIDFD", 77)     # Linux 6.5: a pidfd of the peer process


def _pidfd_pid(pidfd: int) -> int:
    """The process id a pidfd stands for now; -1 (or 0) once that process has exited."""
    with open(f"/proc/self/fdinfo/{pidfd}", encoding="ascii") as f:
        for line in f:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    return -1


def _same_peer(sock: socket.socket) -> bool:
    """Whether the other end of ``sock`` runs as this process: the same user id (``SO_PEERCRED``)
    and the same :func:`identity` (groups, capabilities, namespaces, security label).

    The process is named by a pidfd (``SO_PEERPIDFD``), read before and after its identity: a
    process id alone can be recycled (a listener that exited, its number steered onto another
    process, this command's own among them), a pidfd cannot. Without ``SO_PEERPIDFD`` (Linux before
    6.5) no peer is believed: the command verifies in its own process."""
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                          struct.calcsize("3i")))
    if uid != os.getuid():
        return False
    try:
        pidfd = sock.getsockopt(socket.SOL_SOCKET, SO_PEERPIDFD)
    except OSError:
        return False
    try:
        pid = _pidfd_pid(pidfd)
        if pid <= 0 or pid == os.getpid():
            return False
        mine, theirs = identity(), identity(pid)
        return mine is not None and theirs == mine and _pidfd_pid(pidfd) == pid
    except (OSError, ValueError):
        return False
    finally:
        os.close(pidfd)


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
    if any(_own_descriptors(f) for f in files):
        raise Unavailable("a path into this process's own descriptors (/dev/stdin, /dev/fd/N, /proc)")
    if place.busy_now():
        raise Unavailable("the helper is answering another command")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(BUSY_SECONDS)
        try:
            sock.connect(place.socket)
        except OSError:
            raise Absent(place, seconds, environ) from None
        try:
            if not _same_peer(sock):
                raise Unavailable("the socket is not this user's, or runs with other rights")
            request = {"protocol": PROTOCOL, "cwd": os.getcwd(), "files": files, "options": options,
                       "ids": [file_id(f) for f in files]}
            sock.sendall(json.dumps(request).encode("ascii") + b"\n")
            lines = _Lines(sock, MAX_ANSWER)
            hello = lines.read()
            if not isinstance(hello, dict) or hello.get("hello") != PROTOCOL:
                raise Unavailable("the helper did not take the request")
            sock.settimeout(ANSWER_SECONDS)
            answered = 0
            while True:
                message = lines.read()
                if message is None:
                    raise Unavailable("the helper stopped answering")
                if not isinstance(message, dict):
                    raise Unavailable("the helper's answer is not understood")
                if "report" in message:
                    # the report of the next file, and of that file: anything else is not the helper's
                    report = message["report"]
                    if (answered >= len(files) or not isinstance(report, dict)
                            or report.get("file") != files[answered] or not _printable(report)):
                        raise Unavailable("the helper's answer is not for the file asked")
                    answered += 1
                    yield report
                elif "error" in message and isinstance(message["error"], dict):
                    raise Refused(message["error"])
                elif message.get("done") is True and answered == len(files):
                    return
                else:
                    raise Unavailable("the helper's answer is not understood")
        except (OSError, ValueError, RecursionError) as exc:     # timeouts, resets, broken JSON
            raise Unavailable(str(exc)) from None
    finally:
        sock.close()


def file_id(path: str) -> list[int] | None:
    """Which file ``path`` opens in this process (device and inode), None if none: the helper
    verifies a path only if it opens the same one there (a link through this process's own
    descriptors, another mount namespace or a file replaced in between would not)."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return [info.st_dev, info.st_ino]


def _printable(report: dict) -> bool:
    """Whether ``report`` has what ``kyso verify`` prints, of the types it prints."""
    outcome, reasons, signatures = report.get("outcome"), report.get("reasons"), report.get("signatures")
    return (isinstance(outcome, dict) and all(isinstance(outcome.get(k), str) for k in ("code", "vi", "en", "colour"))
            and isinstance(reasons, list) and all(isinstance(r, dict) and isinstance(r.get("code"), str)
                                                  and isinstance(r.get("vi"), str) and isinstance(r.get("en"), str)
                                                  for r in reasons)
            and isinstance(signatures, list)
            and all(isinstance(x, dict) and all(isinstance(x.get(k), str) for k in ("field", "indication", "level",
                                                                                   "coverage"))
                    and isinstance(x.get("sub_indication"), (str, type(None)))
                    and isinstance(x.get("signer"), (dict, type(None))) for x in signatures)
            and isinstance(report.get("decree30"), (dict, type(None)))
            and isinstance(report.get("verdict"), str))


def _counted_in(folder: str, lock_path: str, lock: int) -> bool:
    """Whether this helper may serve: under the folder's start lock (helpers starting at the same
    moment count one after the other), fewer than :data:`MAX_HELPERS` other helpers live, and then
    its process id goes into its lock file, where the next ones count it."""
    import fcntl
    import time

    try:
        start_lock = os.open(os.path.join(folder, _START_LOCK), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        return False
    try:
        deadline = time.monotonic() + _START_LOCK_SECONDS
        while True:                               # never waits for ever on a stopped helper
            try:
                fcntl.flock(start_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)
        mine = os.path.basename(lock_path)
        others = [n for n in _lock_names(folder) if n != mine and _holder(os.path.join(folder, n)) is not None]
        if len(others) >= MAX_HELPERS:
            return False
        os.ftruncate(lock, 0)
        os.write(lock, str(os.getpid()).encode())
        return True
    finally:
        os.close(start_lock)                      # releases the start lock


def start(place: Place, seconds: int, environ=os.environ) -> None:
    """Start a helper in the background (it gives up at once if another holds the lock), unless
    :data:`MAX_HELPERS` already live for this user."""
    import subprocess

    if len(live_helpers(os.path.dirname(place.lock))) >= MAX_HELPERS:
        return
    try:
        log = os.open(place.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        log = subprocess.DEVNULL
    try:
        subprocess.Popen([sys.executable, "-m", "commands.verify_daemon", place.socket, place.lock, str(seconds)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                         close_fds=True, start_new_session=True, cwd="/", env=counted_environment(environ))
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
    import threading
    import time

    try:
        lock = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        for attempt in range(5):
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == 4:
                    raise
                time.sleep(0.01)                  # perhaps another helper only counting (a moment's LOCK_SH)
        if os.fstat(lock).st_ino != os.stat(lock_path).st_ino:
            return 0                              # an exiting helper removed this lock file: not ours
        os.ftruncate(lock, 0)                     # a killed helper's pid must not count as this one
    except OSError:
        return 0                                  # another helper has it (or the folder went away)
    folder = os.path.dirname(lock_path)
    place = Place(folder, os.path.basename(lock_path)[len("verify-"):-len(".lock")])
    try:
        busy = os.open(place.busy, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        return 0
    if not _counted_in(folder, lock_path, lock):
        for path in (place.busy, lock_path):      # MAX_HELPERS others live already: leave nothing behind
            try:
                os.unlink(path)
            except OSError:
                pass
        return 0
    try:
        os.ftruncate(2, 0)                        # its log holds this run only (an earlier one's is gone)
    except OSError:
        pass
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    import warnings

    from commands.verify import warm_up

    warnings.filterwarnings("ignore", message="DSA is deprecated", module="pyhanko")   # as `kyso` does
    warm_up()
    progress: list[float | None] = [None]        # when the request in hand last moved (None: idle)

    def watchdog() -> None:
        # a verification that hangs (a responder that trickles, a bug) must not keep the helper
        # busy for ever: every command would verify without it until its idle time ran out
        while True:
            time.sleep(WATCHDOG_TICK)
            moved = progress[0]
            if moved is not None and time.monotonic() - moved > ANSWER_SECONDS:
                os._exit(3)

    threading.Thread(target=watchdog, name="watchdog", daemon=True).start()
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
            progress[0] = time.monotonic()
            # busy while answering: never waited for (a command's look at it holds it a moment; a
            # process holding it longer only makes the next commands wait BUSY_SECONDS, not this one)
            for _ in range(20):
                try:
                    fcntl.flock(busy, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.001)
            try:
                with conn:
                    _answer(conn, progress)
            finally:
                progress[0] = None
                fcntl.flock(busy, fcntl.LOCK_UN)
            last = time.monotonic()
    finally:
        try:
            if os.stat(socket_path).st_ino == ours:
                os.unlink(socket_path)
        except (OSError, UnboundLocalError):
            pass
        try:
            if os.fstat(2).st_size == 0:
                os.unlink(place.log)              # (before the lock: a helper started after would own it)
        except OSError:
            pass
        for leftover in (temporary, place.busy, lock_path):   # the lock last, while still held
            try:
                os.unlink(leftover)
            except OSError:
                pass
        listener.close()


_OPTIONS = frozenset({"trust_files", "trust_profile", "at", "offline", "require_decree30"})


def _answer(conn: socket.socket, progress: list) -> None:
    """One request: the same judgement as the command's own, in the command's folder (nothing
    fetched for an earlier request is used)."""
    import time
    import traceback

    from commands.verify import forget_between_commands, judge
    from kyso.errors import KysoError

    try:
        conn.settimeout(30.0)
        if not _same_peer(conn):
            return
        request = _Lines(conn, MAX_REQUEST).read()
        if not isinstance(request, dict) or request.get("protocol") != PROTOCOL:
            return
        files, options, cwd, ids = (request.get("files"), request.get("options"), request.get("cwd"),
                                    request.get("ids"))
        if not (isinstance(files, list) and all(isinstance(f, str) for f in files) and isinstance(options, dict)
                and set(options) <= _OPTIONS and isinstance(cwd, str) and isinstance(ids, list)
                and len(ids) == len(files)):
            return
        os.chdir(cwd)
        if [file_id(f) for f in files] != ids:
            return                                # a path that opens another file here: the command verifies
        forget_between_commands()
        conn.sendall(json.dumps({"hello": PROTOCOL}).encode() + b"\n")
        try:
            for _path, data in judge(files, settle=False, **options):
                conn.sendall(json.dumps({"report": data}).encode() + b"\n")
                progress[0] = time.monotonic()
        except KysoError as exc:
            conn.sendall(json.dumps({"error": exc.to_dict()}).encode() + b"\n")
            return
        conn.sendall(b'{"done": true}\n')
    except (OSError, ValueError, RecursionError):
        return                                    # the command left, or sent nonsense: it verifies itself
    except Exception:  # noqa: BLE001 - a bug: the command verifies the rest itself (and meets it there)
        traceback.print_exc()
        return
    finally:
        try:
            os.chdir("/")
        except OSError:
            pass


if __name__ == "__main__":
    if len(sys.argv) != 4 or not sys.argv[3].isdigit():
        sys.exit("usage: python -m commands.verify_daemon SOCKET LOCK IDLE_SECONDS")
    sys.exit(serve(sys.argv[1], sys.argv[2], int(sys.argv[3])))
