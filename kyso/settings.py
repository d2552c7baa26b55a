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
KYSO_AUDIT_KEY             HMAC key of the audit trail                 a dev key (refused in production)
KYSO_AGENCY(_NAME)         the office: abbreviation and full name      ``UBND`` / ``UBND tỉnh Hưng Yên``
KYSO_KEY_DIR               PKCS#12 files bound to accounts (0700)      ``DATA_DIR/keys``
KYSO_REVOCATION_MAX_AGE    oldest OCSP/CRL answer a signature may use  60 (seconds)
KYSO_OPS_TOKEN             bearer token for /metrics, /readyz detail   none
KYSO_OPS_ALLOW             addresses that may read them without it     loopback in dev, none in production
KYSO_TRUSTED_PROXIES       reverse proxies in front (X-Forwarded-*)    0
=========================  ==========================================  =====================
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Mapping

from kyso.errors import ConfigurationError

DEV_SECRET_KEY = "kyso-dev-secret-not-for-production"
DEV_PKCS11_PIN = "1234"
DEV_PKCS11_SO_PIN = "5678"
DEV_TOKEN_LABEL = "kyso-dev"
DEV_AUDIT_KEY = "kyso-dev-audit-key-not-for-production"

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")

_KNOWN = {
    "KYSO_MODE", "KYSO_HOST", "KYSO_PORT", "KYSO_DATA_DIR", "KYSO_DEV_PKI_URL",
    "KYSO_TSA_URL", "KYSO_RSA_PADDING", "KYSO_DEFAULT_LEVEL", "KYSO_REVOCATION_CHECK",
    "KYSO_MAX_UPLOAD_MB", "KYSO_SECRET_KEY", "KYSO_PKCS11_MODULE", "KYSO_PKCS11_TOKEN",
    "KYSO_PKCS11_PIN", "KYSO_TRUST_DIR", "KYSO_TRUST_PROFILE", "KYSO_DATABASE_URL", "KYSO_AUDIT_KEY",
    "KYSO_AGENCY", "KYSO_AGENCY_NAME", "KYSO_KEY_DIR", "KYSO_REVOCATION_MAX_AGE", "KYSO_OPS_TOKEN",
    "KYSO_OPS_ALLOW", "KYSO_TRUSTED_PROXIES", "KYSO_TSA_USERNAME", "KYSO_TSA_PASSWORD",
    # read by devpki's command line, not by the service:
    "KYSO_DEV_P12_PASSPHRASE", "KYSO_SOFTHSM2_MODULE",
    # read by kyso-client:
    "KYSO_SERVER_URL", "KYSO_TOKEN",
    # read by `kyso sign --pkcs12` (never stored):
    "KYSO_PKCS12_PASSPHRASE",
}


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
    audit_key: str = DEV_AUDIT_KEY         # HMAC key of the audit trail
    agency: str = "UBND"                   # the office running Kyso: its abbreviation in numbers
    agency_name: str = "UBND tỉnh Hưng Yên"
    key_dir: Path | None = None            # PKCS#12 files bound to accounts (default: DATA_DIR/keys)
    revocation_max_age_seconds: int = 60   # a signer's certificate status is never older than this
    ops_token: str | None = None           # bearer token for /metrics and the detail of /readyz
    ops_allow: tuple[str, ...] | None = None   # addresses/networks that need no token (default: loopback in dev)
    trusted_proxies: int = 0               # reverse proxies whose X-Forwarded-For/-Proto are believed
    tsa_username: str | None = None        # HTTP Basic credentials some TSAs ask for
    tsa_password: str | None = dataclasses.field(default=None, repr=False)

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
        if self.trust_profile not in (None, "dev", "vn", "none"):
            raise ConfigurationError("KYSO_TRUST_PROFILE must be dev, vn or none")
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
        if len(self.audit_key.encode()) < 16:
            raise ConfigurationError("KYSO_AUDIT_KEY must be at least 16 bytes (32 in production)")
        if self.mode == "dev" and self.dev_pki_url is None:
            object.__setattr__(self, "dev_pki_url", f"http://{self.host}:{self.port}/dev-pki")
        if self.is_production:
            self._check_production()

    @property
    def is_production(self) -> bool:
        return self.mode == "production"

    @property
    def tsa_auth(self) -> tuple[str, str] | None:
        return (self.tsa_username, self.tsa_password) if self.tsa_username is not None else None

    @property
    def uses_dev_pki(self) -> bool:
        return self.dev_pki_url is not None

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
        if self.audit_key == DEV_AUDIT_KEY or len(self.audit_key.encode()) < 32:
            problems.append("KYSO_AUDIT_KEY: set a random key of at least 32 characters")
        if self.trust_profile == "dev":
            problems.append("KYSO_TRUST_PROFILE: the development trust profile is refused in production")
        if self.revocation_check != "require":
            problems.append("KYSO_REVOCATION_CHECK: revocation checking cannot be skipped in production")
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
        text("KYSO_AUDIT_KEY", "audit_key")
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
        text("KYSO_OPS_TOKEN", "ops_token")
        text("KYSO_TSA_USERNAME", "tsa_username")
        text("KYSO_TSA_PASSWORD", "tsa_password")
        if "KYSO_OPS_ALLOW" in env:
            kwargs["ops_allow"] = tuple(a for a in env["KYSO_OPS_ALLOW"].split(",") if a.strip())
        return cls(**kwargs)
