"""Typed settings read from ``KYSO_*`` environment variables.

:meth:`Settings.from_env` fails fast: an unknown ``KYSO_*`` variable, a value
that does not parse, or an unsafe value in production mode raises
:class:`~kyso.errors.ConfigurationError` naming the variable.

=========================  ==========================================  =====================
variable                   meaning                                     default
=========================  ==========================================  =====================
KYSO_MODE                  ``dev`` (embedded default) or ``production``  ``dev``
KYSO_HOST / KYSO_PORT      where the service listens                   ``127.0.0.1`` / 8080
KYSO_DATA_DIR              the one data home (database, documents)     ``~/.local/share/kyso`` (dev), ``/var/lib/kyso``
KYSO_DEV_PKI_URL           base URL of the dev PKI's OCSP/CRL/TSA      ``http://HOST:PORT/dev-pki``
KYSO_TSA_URL               RFC 3161 time-stamping authority            the dev PKI's TSA in dev mode
KYSO_TSA_USERNAME/PASSWORD HTTP Basic credentials for the TSA          none
KYSO_RSA_PADDING           ``pkcs1v15`` or ``pss`` for RSA keys        ``pkcs1v15``
KYSO_DEFAULT_LEVEL         PAdES level when a request names none       ``B-T``
KYSO_REVOCATION_CHECK      ``require`` or ``dangerous-skip``           ``require``
KYSO_MAX_UPLOAD_MB         upload size limit                           100
KYSO_SECRET_KEY            secret for sessions and HMACs               a dev value (refused in production)
KYSO_PKCS11_MODULE         PKCS#11 library                             SoftHSM2's library
KYSO_PKCS11_TOKEN          token label                                 ``kyso-dev``
KYSO_PKCS11_PIN            user PIN                                    dev PIN (refused in production)
KYSO_TRUST_PROFILE         verifier trust: dev, vn or none             dev (dev mode), vn
KYSO_TRUST_DIR             anchors an administrator added              ``DATA_DIR/trust``
KYSO_DATABASE_URL          registers and audit (also ``DATABASE_URL``)  ``sqlite:///DATA_DIR/kyso.sqlite``
KYSO_AUDIT_KEY             HMAC key of the audit trail                 dev: ``DATA_DIR/audit.key`` (see below)
KYSO_AGENCY(_NAME)         the office: abbreviation and full name      ``UBND`` / ``UBND tỉnh Hưng Yên``
KYSO_KEY_DIR               PKCS#12 files bound to accounts (0700)      ``DATA_DIR/keys``
KYSO_REVOCATION_MAX_AGE    oldest OCSP/CRL answer a signature may use  60 (seconds)
KYSO_OPS_TOKEN             bearer token for /metrics, /readyz detail   none
KYSO_OPS_ALLOW             addresses that may read them without it     loopback in dev, none in production
KYSO_TRUSTED_PROXIES       reverse proxies in front (X-Forwarded-*)    0
KYSO_LOGIN_MAX_FAILURES    failed logins per address in a window       10 (then 429 until it ends)
KYSO_LOGIN_WINDOW_SECONDS  that window                                 900 (15 minutes)
KYSO_MAX_PAGES             pages a PDF may have (each listing counts)  10000
KYSO_MAX_INFLATED_MB       the pages' contents, inflated               128
KYSO_RECONCILE_MINUTES     the crash reconciler's period in a worker   10 (0: only at start-up)
KYSO_VERIFY_DAEMON_SECONDS how long ``kyso verify``'s helper process    600 (0: no helper)
                           stays after its last file
=========================  ==========================================  =====================

The audit key (``KYSO_AUDIT_KEY``) authenticates every audit record and checkpoint
(``registers/audit.py``, ``registers/checkpoints.py``). In production it must be at least 32 bytes
of entropy: the hex (64 digits) or base64 of 32 random bytes (``openssl rand -hex 32``), or a random
text of 32 bytes or more. A key that reads as hex or base64 is judged by the bytes it decodes to
(40 hex digits are 20 bytes); one with fewer than 16 distinct bytes (``"a" * 40``) or made of a
repeated pattern is refused. In development, when it is not set, each installation generates its
own random key at its first use and keeps it in ``DATA_DIR/audit.key`` (0600, created atomically,
read on later starts): two installations never share one, and nobody can forge a record with a key
printed in the source. A development trail written before ``audit.key`` existed (with the former
public key ``DEV_AUDIT_KEY``) verifies only with ``KYSO_AUDIT_KEY`` set to that value.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
import secrets
from pathlib import Path
from typing import Mapping

from kyso.errors import ConfigurationError
from kyso.fetchguard import FetchGuard

DEV_SECRET_KEY = "kyso-dev-secret-not-for-production"
DEV_PKCS11_PIN = "1234"
DEV_PKCS11_SO_PIN = "5678"
DEV_TOKEN_LABEL = "kyso-dev"
#: the development audit key of earlier versions: public, so refused in production (a dev
#: installation now has its own random key in ``DATA_DIR/audit.key``)
DEV_AUDIT_KEY = "kyso-dev-audit-key-not-for-production"
AUDIT_KEY_FILE = "audit.key"
AUDIT_KEY_MIN_BYTES = 16              # any key (development)
AUDIT_KEY_PRODUCTION_BYTES = 32       # of entropy, in production
_AUDIT_KEY_MIN_DISTINCT = 16

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")

_KNOWN = {
    "KYSO_MODE", "KYSO_HOST", "KYSO_PORT", "KYSO_DATA_DIR", "KYSO_DEV_PKI_URL",
    "KYSO_TSA_URL", "KYSO_RSA_PADDING", "KYSO_DEFAULT_LEVEL", "KYSO_REVOCATION_CHECK",
    "KYSO_MAX_UPLOAD_MB", "KYSO_SECRET_KEY", "KYSO_PKCS11_MODULE", "KYSO_PKCS11_TOKEN",
    "KYSO_PKCS11_PIN", "KYSO_TRUST_DIR", "KYSO_TRUST_PROFILE", "KYSO_DATABASE_URL", "KYSO_AUDIT_KEY",
    "KYSO_AGENCY", "KYSO_AGENCY_NAME", "KYSO_KEY_DIR", "KYSO_REVOCATION_MAX_AGE", "KYSO_OPS_TOKEN",
    "KYSO_OPS_ALLOW", "KYSO_TRUSTED_PROXIES", "KYSO_FETCH_ALLOW", "KYSO_TSA_USERNAME", "KYSO_TSA_PASSWORD",
    "KYSO_LOGIN_MAX_FAILURES", "KYSO_LOGIN_WINDOW_SECONDS", "KYSO_MAX_PAGES", "KYSO_MAX_INFLATED_MB",
    "KYSO_RECONCILE_MINUTES", "KYSO_STORE_URL", "KYSO_S3_ENDPOINT_URL", "KYSO_S3_ACCESS_KEY_ID",
    "KYSO_S3_SECRET_ACCESS_KEY", "KYSO_S3_REGION", "KYSO_BROKER_URL", "KYSO_VERIFY_DAEMON_SECONDS",
    # read by devpki's command line, not by the service:
    "KYSO_DEV_P12_PASSPHRASE", "KYSO_SOFTHSM2_MODULE",
    # read by kyso-client:
    "KYSO_SERVER_URL", "KYSO_TOKEN",
    # read by `kyso sign --pkcs12` (never stored):
    "KYSO_PKCS12_PASSPHRASE",
}


def _loopback(url: str) -> bool:
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_STORE_URL = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[A-Za-z0-9._/-]*)?")


def _is_http_url(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _softhsm_module() -> str:
    for candidate in (
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    ):
        if Path(candidate).exists():
            return candidate
    return "/usr/lib/softhsm/libsofthsm2.so"


def _key_material(key: str) -> bytes:
    """What ``key`` stands for: the bytes it decodes to when it is hex or base64 (its entropy is
    theirs, whatever the length of the text), else its own UTF-8 bytes."""
    text = key.strip()
    if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", text):
        return bytes.fromhex(text)
    if re.fullmatch(r"[A-Za-z0-9+/_-]+={0,2}", text):
        padded = text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4)
        try:
            return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            pass
    return key.encode("utf-8")


def strong_audit_key(key: str) -> bool:
    """Whether ``key`` carries 32 bytes of entropy, as far as can be told: what it stands for
    (hex and base64 decoded) is 32 bytes or more, with at least 16 distinct byte values, and is not
    one short pattern repeated (32 random bytes have ~30 distinct values; ``"a" * 40`` has one)."""
    material = _key_material(key)
    if len(material) < AUDIT_KEY_PRODUCTION_BYTES or len(set(material)) < _AUDIT_KEY_MIN_DISTINCT:
        return False
    return not any(len(material) % n == 0 and material == material[:n] * (len(material) // n)
                   for n in range(1, len(material) // 2 + 1))


def installation_audit_key(data_dir: Path) -> str:
    """This development installation's audit key: ``DATA_DIR/audit.key``, 32 random bytes in hex,
    made once (mode 0600; written beside, then linked into place, so that two processes starting
    at once agree on one key) and read on later starts."""
    path = data_dir / AUDIT_KEY_FILE
    try:
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            temp = data_dir / f".{AUDIT_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_hex(32) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                try:
                    os.link(temp, path)          # never replaces a key another process made first
                except FileExistsError:
                    pass
            finally:
                temp.unlink(missing_ok=True)
            dir_fd = os.open(data_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"cannot read or create the development audit key {path} ({type(exc).__name__}: {exc}); "
            f"set KYSO_AUDIT_KEY or KYSO_DATA_DIR",
            message_vi=f"Không đọc hoặc tạo được khóa kiểm toán {path}; hãy đặt KYSO_AUDIT_KEY hoặc KYSO_DATA_DIR.",
        ) from None
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        raise ConfigurationError(
            f"{path} is not an audit key (64 hexadecimal digits); restore it from a backup or set KYSO_AUDIT_KEY",
            message_vi=f"{path} không phải khóa kiểm toán (64 chữ số thập lục phân); hãy khôi phục từ bản sao lưu "
                       f"hoặc đặt KYSO_AUDIT_KEY.")
    return key


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the service and the command line are configured with."""

    mode: str = "dev"
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path | None = None           # default: ~/.local/share/kyso in dev, /var/lib/kyso in production
    dev_pki_url: str | None = None
    tsa_url: str | None = None
    rsa_padding: str = "pkcs1v15"
    default_level: str = "B-T"
    revocation_check: str = "require"
    max_upload_bytes: int = 100 * 1024 * 1024
    secret_key: str = DEV_SECRET_KEY
    pkcs11_module: str = dataclasses.field(default_factory=_softhsm_module)
    pkcs11_token: str = DEV_TOKEN_LABEL
    pkcs11_pin: str = DEV_PKCS11_PIN
    trust_dir: Path | None = None          # extra anchors an administrator adds (default: DATA_DIR/trust)
    trust_profile: str | None = None       # dev | vn | none (default: dev in dev mode, vn in production)
    database_url: str | None = None        # default: sqlite:///DATA_DIR/kyso.sqlite
    audit_key_setting: str | None = dataclasses.field(default=None, repr=False)   # KYSO_AUDIT_KEY (see audit_key)
    agency: str = "UBND"                   # the office running Kyso: its abbreviation in numbers
    agency_name: str = "UBND tỉnh Hưng Yên"
    key_dir: Path | None = None            # PKCS#12 files bound to accounts (default: DATA_DIR/keys)
    revocation_max_age_seconds: int = 60   # a signer's certificate status is never older than this
    ops_token: str | None = None           # bearer token for /metrics and the detail of /readyz
    ops_allow: tuple[str, ...] | None = None   # addresses/networks that need no token (default: loopback in dev)
    trusted_proxies: int = 0               # reverse proxies whose X-Forwarded-For/-Proto are believed
    fetch_allow: str | None = None         # KYSO_FETCH_ALLOW: private hosts/networks PKI fetches may reach
    tsa_username: str | None = None        # HTTP Basic credentials some TSAs ask for
    tsa_password: str | None = dataclasses.field(default=None, repr=False)
    login_max_failures: int = 10           # failed logins from one address within the window, then 429
    login_window_seconds: int = 900        # the window of failed logins (and how long a 429 lasts at most)
    max_pages: int = 10_000                # PDF bounds (kyso.pdfbounds): pages, counted as the page tree lists them
    max_inflated_mb: int = 128             # and the pages' content streams, inflated
    reconcile_minutes: int = 10            # office.reconcile in each worker (0: only at start-up and by hand)
    store_url: str | None = None           # s3://BUCKET[/PREFIX]: documents in an object store (default: DATA_DIR/documents)
    s3_endpoint_url: str | None = None     # the object store's S3 endpoint (default: AWS)
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = dataclasses.field(default=None, repr=False)
    s3_region: str = "us-east-1"
    broker_url: str | None = None          # amqp://... or redis://...: bulk verification jobs done by `kyso worker`
    verify_daemon_seconds: int = 600       # `kyso verify`'s warm helper process lives this long unused (0: none)

    def __post_init__(self) -> None:
        if self.mode not in ("dev", "production"):
            raise ConfigurationError(
                f"KYSO_MODE must be 'dev' or 'production', not {self.mode!r}",
                message_vi=f"KYSO_MODE phải là 'dev' hoặc 'production', không phải {self.mode!r}",
            )
        if self.rsa_padding not in ("pkcs1v15", "pss"):
            raise ConfigurationError(f"KYSO_RSA_PADDING must be 'pkcs1v15' or 'pss', not {self.rsa_padding!r}")
        if self.default_level not in LEVELS:
            raise ConfigurationError(f"KYSO_DEFAULT_LEVEL must be one of {', '.join(LEVELS)}")
        if self.revocation_check not in ("require", "dangerous-skip"):
            raise ConfigurationError("KYSO_REVOCATION_CHECK must be 'require' or 'dangerous-skip'")
        if not (0 < self.port < 65536):
            raise ConfigurationError(f"KYSO_PORT out of range: {self.port}")
        if self.max_upload_bytes <= 0:
            raise ConfigurationError("KYSO_MAX_UPLOAD_MB must be positive")
        if not 1 <= self.max_pages <= 1_000_000:
            raise ConfigurationError("KYSO_MAX_PAGES must be between 1 and 1000000")
        if not 1 <= self.max_inflated_mb <= 65536:
            raise ConfigurationError("KYSO_MAX_INFLATED_MB must be between 1 and 65536")
        if not 0 <= self.reconcile_minutes <= 1440:
            raise ConfigurationError("KYSO_RECONCILE_MINUTES must be between 0 and 1440")
        if not 0 <= self.verify_daemon_seconds <= 86400:
            raise ConfigurationError("KYSO_VERIFY_DAEMON_SECONDS must be between 0 and 86400",
                                     message_vi="KYSO_VERIFY_DAEMON_SECONDS phải từ 0 đến 86400 giây.")
        if self.trust_profile not in (None, "dev", "vn", "none"):
            raise ConfigurationError("KYSO_TRUST_PROFILE must be dev, vn or none")
        try:
            FetchGuard.parse(self.fetch_allow)
        except ValueError as exc:
            raise ConfigurationError(f"KYSO_FETCH_ALLOW: {exc}",
                                     message_vi=f"KYSO_FETCH_ALLOW không hợp lệ: {exc}") from None
        if self.trust_profile is None:
            object.__setattr__(self, "trust_profile", "dev" if self.mode == "dev" else "vn")
        if self.data_dir is None:
            # one data home whatever the current folder: the service and every `kyso` command share it
            if self.mode == "production":
                home = Path("/var/lib/kyso")
            else:
                home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "kyso"
            object.__setattr__(self, "data_dir", home)
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser().absolute())
        if self.trust_dir is None:
            object.__setattr__(self, "trust_dir", Path(self.data_dir) / "trust")
        if self.key_dir is None:
            object.__setattr__(self, "key_dir", Path(self.data_dir) / "keys")
        if self.tsa_url is not None and not _is_http_url(self.tsa_url):
            raise ConfigurationError(f"KYSO_TSA_URL must be an http:// or https:// URL with a host, not {self.tsa_url!r}",
                                     message_vi="KYSO_TSA_URL phải là địa chỉ http:// hoặc https:// có tên máy chủ.")
        if (self.tsa_username is None) != (self.tsa_password is None):
            raise ConfigurationError("KYSO_TSA_USERNAME and KYSO_TSA_PASSWORD go together")
        if not 0 <= self.revocation_max_age_seconds <= 3600:
            raise ConfigurationError("KYSO_REVOCATION_MAX_AGE must be between 0 and 3600 seconds")
        if not 0 <= self.trusted_proxies <= 5:
            raise ConfigurationError("KYSO_TRUSTED_PROXIES must be between 0 and 5")
        if not 1 <= self.login_max_failures <= 1000:
            raise ConfigurationError("KYSO_LOGIN_MAX_FAILURES must be between 1 and 1000",
                                     message_vi="KYSO_LOGIN_MAX_FAILURES phải từ 1 đến 1000.")
        if not 60 <= self.login_window_seconds <= 86400:
            raise ConfigurationError("KYSO_LOGIN_WINDOW_SECONDS must be between 60 and 86400 seconds",
                                     message_vi="KYSO_LOGIN_WINDOW_SECONDS phải từ 60 đến 86400 giây.")
        if self.ops_token is not None and len(self.ops_token) < 24:
            raise ConfigurationError("KYSO_OPS_TOKEN must be at least 24 characters")
        if self.ops_allow is None:
            object.__setattr__(self, "ops_allow", () if self.mode == "production" else ("127.0.0.1/32", "::1/128"))
        try:
            import ipaddress

            object.__setattr__(self, "ops_allow", tuple(str(ipaddress.ip_network(a.strip(), strict=False))
                                                        for a in self.ops_allow if a.strip()))
        except ValueError as exc:
            raise ConfigurationError(f"KYSO_OPS_ALLOW: {exc}") from None
        if self.database_url is None:
            object.__setattr__(self, "database_url", f"sqlite:///{Path(self.data_dir) / 'kyso.sqlite'}")
        self._check_store()
        if self.broker_url is not None and not re.fullmatch(r"(amqps?|redis|rediss)://\S+", self.broker_url):
            raise ConfigurationError("KYSO_BROKER_URL must be an amqp://, amqps://, redis:// or rediss:// URL",
                                     message_vi="KYSO_BROKER_URL phải là địa chỉ amqp://, amqps://, redis:// hoặc "
                                                "rediss://.")
        key = self.audit_key_setting
        if key is not None and len(key.encode()) < AUDIT_KEY_MIN_BYTES:
            raise ConfigurationError("KYSO_AUDIT_KEY must be at least 16 bytes (32 bytes of entropy in production)",
                                     message_vi="KYSO_AUDIT_KEY phải dài ít nhất 16 byte (32 byte ngẫu nhiên ở chế độ "
                                                "production).")
        if self.mode == "dev" and self.dev_pki_url is None:
            object.__setattr__(self, "dev_pki_url", f"http://{self.host}:{self.port}/dev-pki")
        if self.is_production:
            self._check_production()

    def _check_store(self) -> None:
        s3_settings = [name for name, value in (("KYSO_S3_ENDPOINT_URL", self.s3_endpoint_url),
                                                ("KYSO_S3_ACCESS_KEY_ID", self.s3_access_key_id),
                                                ("KYSO_S3_SECRET_ACCESS_KEY", self.s3_secret_access_key))
                       if value is not None]
        if self.store_url is None:
            if s3_settings:
                raise ConfigurationError(f"{', '.join(s3_settings)} set, but KYSO_STORE_URL is not: set "
                                         "KYSO_STORE_URL=s3://BUCKET[/PREFIX] to keep documents in the object store",
                                         message_vi="Đã đặt cấu hình S3 nhưng chưa đặt KYSO_STORE_URL=s3://BUCKET.")
            return
        if not _STORE_URL.fullmatch(self.store_url):
            raise ConfigurationError(f"KYSO_STORE_URL must be s3://BUCKET[/PREFIX] (a bucket name of 3-63 lowercase "
                                     f"letters, digits, dots and hyphens), not {self.store_url!r}",
                                     message_vi="KYSO_STORE_URL phải có dạng s3://BUCKET[/PREFIX].")
        if self.s3_endpoint_url is not None and not _is_http_url(self.s3_endpoint_url):
            raise ConfigurationError(f"KYSO_S3_ENDPOINT_URL must be an http:// or https:// URL with a host, not "
                                     f"{self.s3_endpoint_url!r}")
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ConfigurationError("KYSO_S3_ACCESS_KEY_ID and KYSO_S3_SECRET_ACCESS_KEY go together")

    @property
    def store(self) -> tuple[str, str] | None:
        """(bucket, prefix) of the object store, or None for the local folder."""
        if self.store_url is None:
            return None
        match = _STORE_URL.fullmatch(self.store_url)
        return match.group(1), (match.group(2) or "").strip("/")

    @property
    def is_production(self) -> bool:
        return self.mode == "production"

    @property
    def audit_key(self) -> str:
        """The audit trail's HMAC key: ``KYSO_AUDIT_KEY``, else (development only) this installation's
        own random key, ``DATA_DIR/audit.key``, made at the first use (a command that reads nothing of
        the registers creates nothing)."""
        if self.audit_key_setting is not None:
            return self.audit_key_setting
        if self.is_production:   # not reached: production settings without the key are refused
            raise ConfigurationError("KYSO_AUDIT_KEY is required in production (32 bytes of entropy)")
        key = self.__dict__.get("_installation_audit_key")
        if key is None:
            key = installation_audit_key(Path(self.data_dir))
            object.__setattr__(self, "_installation_audit_key", key)
        return key

    @property
    def tsa_auth(self) -> tuple[str, str] | None:
        return (self.tsa_username, self.tsa_password) if self.tsa_username is not None else None

    @property
    def uses_dev_pki(self) -> bool:
        return self.dev_pki_url is not None

    @property
    def fetch_guard(self) -> FetchGuard:
        """Where the OCSP, CRL and certificate fetches a document's certificates ask for may go:
        public addresses, the development PKI when it is used, and what KYSO_FETCH_ALLOW names."""
        also = (FetchGuard.allowance_for(self.dev_pki_url),) if self.dev_pki_url is not None else ()
        return FetchGuard.parse(self.fetch_allow, also=also)

    def _check_production(self) -> None:
        problems = []
        if self.dev_pki_url is not None:
            problems.append("KYSO_DEV_PKI_URL: the development PKI (certs_dev) is refused in production")
        if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
            problems.append("KYSO_SECRET_KEY: set a random secret of at least 32 characters")
        if self.pkcs11_pin == DEV_PKCS11_PIN:
            problems.append("KYSO_PKCS11_PIN: the development PIN is refused in production")
        if self.pkcs11_token == DEV_TOKEN_LABEL:
            problems.append("KYSO_PKCS11_TOKEN: the development token is refused in production")
        if self.tsa_url is None:
            problems.append("KYSO_TSA_URL: production needs a time-stamping authority")
        key = self.audit_key_setting
        if key is None or key == DEV_AUDIT_KEY or not strong_audit_key(key):
            problems.append("KYSO_AUDIT_KEY: set a random key of at least 32 bytes of entropy (e.g. "
                            "`openssl rand -hex 32`); short, repeated or low-entropy keys are refused")
        if self.trust_profile == "dev":
            problems.append("KYSO_TRUST_PROFILE: the development trust profile is refused in production")
        if self.revocation_check != "require":
            problems.append("KYSO_REVOCATION_CHECK: revocation checking cannot be skipped in production")
        if self.s3_endpoint_url is not None and self.s3_endpoint_url.startswith("http://") and not _loopback(
                self.s3_endpoint_url):
            problems.append("KYSO_S3_ENDPOINT_URL: documents and credentials would cross the network in clear; "
                            "use https:// (or an endpoint on this machine)")
        if self.broker_url is not None and re.match(r"(amqp|redis)://", self.broker_url) and not _loopback(
                self.broker_url):
            problems.append("KYSO_BROKER_URL: the broker's password and every job's messages would cross the "
                            "network in clear; use amqps:// or rediss:// (or a broker on this machine)")
        if problems:
            raise ConfigurationError(
                "unsafe production settings: " + "; ".join(problems),
                message_vi="Cấu hình chế độ production không an toàn: " + "; ".join(problems),
                detail={"problems": problems},
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read settings from ``KYSO_*`` variables; unknown ones are an error."""
        env = os.environ if environ is None else environ
        unknown = sorted(k for k in env if k.startswith("KYSO_") and k not in _KNOWN)
        if unknown:
            raise ConfigurationError(
                f"unknown setting(s): {', '.join(unknown)}",
                message_vi=f"Biến cấu hình không xác định: {', '.join(unknown)}",
                detail={"unknown": unknown},
            )
        kwargs: dict = {}

        def text(var: str, field: str) -> None:
            if var in env:
                value = env[var].strip()
                if not value:
                    raise ConfigurationError(f"{var} is set but empty")
                kwargs[field] = value

        def integer(var: str, field: str, scale: int = 1) -> None:
            if var in env:
                try:
                    kwargs[field] = int(env[var]) * scale
                except ValueError:
                    raise ConfigurationError(f"{var} must be an integer, not {env[var]!r}") from None

        text("KYSO_MODE", "mode")
        text("KYSO_HOST", "host")
        integer("KYSO_PORT", "port")
        if "KYSO_DATA_DIR" in env:
            kwargs["data_dir"] = Path(env["KYSO_DATA_DIR"])
        text("KYSO_DEV_PKI_URL", "dev_pki_url")
        text("KYSO_TSA_URL", "tsa_url")
        text("KYSO_RSA_PADDING", "rsa_padding")
        text("KYSO_DEFAULT_LEVEL", "default_level")
        text("KYSO_REVOCATION_CHECK", "revocation_check")
        integer("KYSO_MAX_UPLOAD_MB", "max_upload_bytes", 1024 * 1024)
        text("KYSO_SECRET_KEY", "secret_key")
        text("KYSO_PKCS11_MODULE", "pkcs11_module")
        text("KYSO_PKCS11_TOKEN", "pkcs11_token")
        text("KYSO_PKCS11_PIN", "pkcs11_pin")
        text("KYSO_TRUST_PROFILE", "trust_profile")
        text("KYSO_AUDIT_KEY", "audit_key_setting")
        text("KYSO_AGENCY", "agency")
        text("KYSO_AGENCY_NAME", "agency_name")
        if "KYSO_DATABASE_URL" in env or "DATABASE_URL" in env:
            kwargs["database_url"] = (env.get("KYSO_DATABASE_URL") or env["DATABASE_URL"]).strip()
        if "KYSO_TRUST_DIR" in env:
            kwargs["trust_dir"] = Path(env["KYSO_TRUST_DIR"])
        if "KYSO_KEY_DIR" in env:
            kwargs["key_dir"] = Path(env["KYSO_KEY_DIR"])
        integer("KYSO_REVOCATION_MAX_AGE", "revocation_max_age_seconds")
        integer("KYSO_TRUSTED_PROXIES", "trusted_proxies")
        text("KYSO_FETCH_ALLOW", "fetch_allow")
        integer("KYSO_LOGIN_MAX_FAILURES", "login_max_failures")
        integer("KYSO_LOGIN_WINDOW_SECONDS", "login_window_seconds")
        integer("KYSO_MAX_PAGES", "max_pages")
        integer("KYSO_MAX_INFLATED_MB", "max_inflated_mb")
        integer("KYSO_RECONCILE_MINUTES", "reconcile_minutes")
        integer("KYSO_VERIFY_DAEMON_SECONDS", "verify_daemon_seconds")
        text("KYSO_OPS_TOKEN", "ops_token")
        text("KYSO_BROKER_URL", "broker_url")
        text("KYSO_STORE_URL", "store_url")
        text("KYSO_S3_ENDPOINT_URL", "s3_endpoint_url")
        text("KYSO_S3_ACCESS_KEY_ID", "s3_access_key_id")
        text("KYSO_S3_SECRET_ACCESS_KEY", "s3_secret_access_key")
        text("KYSO_S3_REGION", "s3_region")
        text("KYSO_TSA_USERNAME", "tsa_username")
        text("KYSO_TSA_PASSWORD", "tsa_password")
        if "KYSO_OPS_ALLOW" in env:
            kwargs["ops_allow"] = tuple(a for a in env["KYSO_OPS_ALLOW"].split(",") if a.strip())
        return cls(**kwargs)
