"""Put dev PKI keys and certificates on a SoftHSM2 token (a real PKCS#11 device for tests).

    token = provision_token(pki, token_dir=tmp_path / "hsm")
    token.activate()                     # sets SOFTHSM2_CONF in os.environ (see note)
    with token.open_session() as session:
        signer = PKCS11Signer(session, **token.pkcs11_signer_kwargs("nguyen-van-an"))

Layout of ``token_dir``: ``softhsm2.conf`` and ``tokens/`` (SoftHSM's ``directories.tokendir``;
a sub-folder so the config file is not mistaken for a token). Re-provisioning the same directory
deletes ``tokens/`` and creates the token again from scratch.

Object labels are the identity labels; object IDs are ``sha256(label)[:8]`` (hex in
:attr:`SoftHSMToken.object_ids`), the same for the key and its certificate. CA certificates are
written too (certificate objects only, no keys), so pyHanko's ``PKCS11Signer`` finds the chain
on the token like on a real Ban Cơ yếu USB token.

.. note::
    SoftHSM reads ``SOFTHSM2_CONF`` when the library is initialised (``C_Initialize``), and
    python-pkcs11 loads and initialises a module once per process. Set the variable *before* the
    first ``pkcs11.lib(...)`` / ``open_pkcs11_session(...)`` call: :meth:`SoftHSMToken.activate`
    does that, and if the module is already loaded in this process it re-initialises it
    (``C_Finalize`` + ``C_Initialize``), which invalidates every open session of that module.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence, Union

from .pki import DevIdentity, DevPKI, DevPKIError

__all__ = [
    "SoftHSMError",
    "SoftHSMToken",
    "active_token",
    "find_softhsm_module",
    "object_id",
    "provision_token",
    "DEFAULT_TOKEN_LABEL",
    "DEFAULT_USER_PIN",
    "DEFAULT_SO_PIN",
]

DEFAULT_TOKEN_LABEL = "kyso-dev"
DEFAULT_USER_PIN = "1234"
DEFAULT_SO_PIN = "5678"

_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/lib64/softhsm/libsofthsm2.so",
    "/usr/lib/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
    "/usr/local/opt/softhsm/lib/softhsm/libsofthsm2.so",
)


class SoftHSMError(DevPKIError):
    """SoftHSM2 / OpenSC tooling missing or a provisioning step failed."""


def find_softhsm_module() -> str:
    """Path of libsofthsm2.so: ``$KYSO_SOFTHSM2_MODULE`` if set, else the usual install places."""
    override = os.environ.get("KYSO_SOFTHSM2_MODULE")
    if override:
        if not Path(override).is_file():
            raise SoftHSMError(f"KYSO_SOFTHSM2_MODULE={override} does not exist")
        return override
    for cand in _MODULE_CANDIDATES:
        if Path(cand).is_file():
            return cand
    for pattern in ("/usr/lib*/**/libsofthsm2.so", "/usr/local/lib*/**/libsofthsm2.so"):
        for hit in sorted(Path("/").glob(pattern.lstrip("/"))):
            return str(hit)
    raise SoftHSMError(
        "libsofthsm2.so not found; install SoftHSM2 (apt-get install softhsm2 opensc) "
        "or set KYSO_SOFTHSM2_MODULE"
    )


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SoftHSMError(f"{name} not found on PATH (apt-get install softhsm2 opensc)")
    return path


def object_id(label: str) -> str:
    """Hex CKA_ID used for an identity's key and certificate objects."""
    return hashlib.sha256(label.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class SoftHSMToken:
    module_path: str
    conf_path: Path
    token_dir: Path
    token_label: str
    user_pin: str
    so_pin: str
    object_ids: Mapping[str, str] = field(default_factory=dict)  # label -> hex id (keys+certs)
    ca_cert_ids: Mapping[str, str] = field(default_factory=dict)  # label -> hex id (certs only)
    chain_labels: Mapping[str, tuple] = field(default_factory=dict)  # label -> issuing CA labels
    key_algorithms: Mapping[str, str] = field(default_factory=dict)  # label -> "rsa2048", ...
    pki_base_url: str = ""  # base URL of the DevPKI whose certificates are on the token

    def pkcs11_signer_kwargs(self, label: str) -> dict:
        """Keyword arguments for pyHanko's ``PKCS11Signer(session, **kwargs)`` for ``label``.

        - the CA chain is pulled from the token (``other_certs_to_pull``; pyHanko pulls none by
          default, and NSS/pdfsig cannot build the chain without it);
        - ECDSA keys need ``use_raw_mechanism=True``: SoftHSM 2.6 has CKM_ECDSA but not
          CKM_ECDSA_SHA256 (pyHanko's default -> ``MechanismInvalid``).
        """
        if label not in self.object_ids:
            raise SoftHSMError(f"{label!r} is not on token {self.token_label!r}")
        chain = tuple(c for c in self.chain_labels.get(label, ()) if c in self.ca_cert_ids)
        return {
            "cert_label": label,
            "key_label": label,
            "other_certs_to_pull": chain,
            "use_raw_mechanism": self.key_algorithms.get(label, "").startswith("ecdsa"),
        }

    @property
    def env(self) -> dict[str, str]:
        """Environment for processes using this token: ``{"SOFTHSM2_CONF": ...}``."""
        return {"SOFTHSM2_CONF": str(self.conf_path)}

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels of the identities whose private keys are on the token."""
        return tuple(self.object_ids)

    def activate(self, *, force: bool = False) -> None:
        """Point this process's SoftHSM at this token (see the module note).

        No-op if SOFTHSM2_CONF already names this token's config (``force=True``: re-initialise
        anyway, needed after re-provisioning the same directory in a process that already uses
        it). Otherwise, if python-pkcs11 has already initialised the SoftHSM module in this
        process, it is re-initialised so the new config is read: every open session of that
        module (other tokens) becomes invalid.
        """
        global _ACTIVE
        previous = os.environ.get("SOFTHSM2_CONF")
        os.environ["SOFTHSM2_CONF"] = str(self.conf_path)
        _ACTIVE = self
        if previous == str(self.conf_path) and not force:
            return
        try:
            import pkcs11
        except ImportError:  # pragma: no cover - python-pkcs11 is a dependency of pyhanko[pkcs11]
            return
        loaded = getattr(pkcs11, "_loaded", {}).get(self.module_path)
        if loaded is not None and loaded.initialized:
            loaded.reinitialize()

    def open_session(self):
        """Activate and open a logged-in python-pkcs11 session on the token (via pyHanko).

        Works while other sessions of this process are open on the token (PKCS#11 rejects a
        second C_Login with CKR_USER_ALREADY_LOGGED_IN; the new session shares the login).
        Close it (``with token.open_session() as s:``).
        """
        from pyhanko.sign.pkcs11 import open_pkcs11_session
        from pyhanko.config.pkcs11 import TokenCriteria

        from pkcs11.exceptions import UserAlreadyLoggedIn

        self.activate()
        criteria = TokenCriteria(label=self.token_label)
        try:
            return open_pkcs11_session(self.module_path, token_criteria=criteria,
                                       user_pin=self.user_pin)
        except UserAlreadyLoggedIn:
            # PKCS#11 login state is per token and per process: another session of this process
            # is logged in already, so a new session is too (without C_Login)
            return open_pkcs11_session(self.module_path, token_criteria=criteria, user_pin=None)


_ACTIVE: Optional[SoftHSMToken] = None


def active_token() -> Optional[SoftHSMToken]:
    """The token last activated in this process (share it: one SoftHSM config per process)."""
    return _ACTIVE


def _run(args: Sequence[str], env: Mapping[str, str], what: str) -> None:
    proc = subprocess.run(
        list(args), env=dict(env), capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        # never echo PINs back
        raise SoftHSMError(
            f"{what} failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()}"
        )


def _resolve_identities(
    pki: DevPKI, identities: Optional[Iterable[Union[str, DevIdentity]]]
) -> list[DevIdentity]:
    if identities is None:
        return [i for i in pki.identities if i.role in ("official", "agency", "untrusted")]
    return [pki.identity(i.label if isinstance(i, DevIdentity) else i) for i in identities]


def provision_token(
    pki: DevPKI,
    token_dir: Union[str, Path],
    *,
    label: str = DEFAULT_TOKEN_LABEL,
    user_pin: str = DEFAULT_USER_PIN,
    so_pin: str = DEFAULT_SO_PIN,
    identities: Optional[Iterable[Union[str, DevIdentity]]] = None,
    include_ca_certs: bool = True,
) -> SoftHSMToken:
    """Create (or recreate) a SoftHSM2 token holding dev identities' keys and certificates.

    ``identities``: labels or DevIdentity objects; ``None`` = every official, agency and the
    untrusted self-signed signer. Uses ``softhsm2-util`` and OpenSC's ``pkcs11-tool`` in
    subprocesses (so this process's PKCS#11 state is untouched).
    """
    module = find_softhsm_module()
    softhsm_util = _tool("softhsm2-util")
    pkcs11_tool = _tool("pkcs11-tool")
    chosen = _resolve_identities(pki, identities)

    root = Path(token_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    tokens = root / "tokens"
    if tokens.exists():
        shutil.rmtree(tokens)
    tokens.mkdir(mode=0o700)
    conf = root / "softhsm2.conf"
    conf.write_text(
        "# written by devpki.softhsm (KYSO DEV)\n"
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n",
        encoding="utf-8",
    )
    env = dict(os.environ)
    env["SOFTHSM2_CONF"] = str(conf)

    _run(
        [softhsm_util, "--init-token", "--free", "--label", label,
         "--pin", user_pin, "--so-pin", so_pin],
        env, "softhsm2-util --init-token",
    )

    def _write_cert(tmp: Path, ident: DevIdentity, hex_id: str) -> None:
        der = tmp / f"{hex_id}.der"
        der.write_bytes(ident.cert_der)
        _run(
            [pkcs11_tool, "--module", module, "--token-label", label, "--login",
             "--pin", user_pin, "--write-object", str(der), "--type", "cert",
             "--label", ident.label, "--id", hex_id],
            env, f"pkcs11-tool --write-object (certificate {ident.label})",
        )
        der.unlink()

    object_ids: dict[str, str] = {}
    ca_ids: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="kyso-softhsm-") as tmpdir:
        tmp = Path(tmpdir)
        os.chmod(tmp, 0o700)
        for ident in chosen:
            hex_id = object_id(ident.label)
            key_pem = tmp / f"{hex_id}.key.pem"
            fd = os.open(key_pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pki.private_key_pem(ident.label))
            try:
                _run(
                    [softhsm_util, "--import", str(key_pem), "--token", label,
                     "--label", ident.label, "--id", hex_id, "--pin", user_pin],
                    env, f"softhsm2-util --import (key {ident.label})",
                )
            finally:
                key_pem.unlink()
            _write_cert(tmp, ident, hex_id)
            object_ids[ident.label] = hex_id
        if include_ca_certs:
            for ca in pki.select(role="ca"):
                hex_id = object_id(ca.label)
                _write_cert(tmp, ca, hex_id)
                ca_ids[ca.label] = hex_id

    return SoftHSMToken(
        module_path=module,
        conf_path=conf,
        token_dir=root,
        token_label=label,
        user_pin=user_pin,
        so_pin=so_pin,
        object_ids=object_ids,
        ca_cert_ids=ca_ids,
        chain_labels={
            i.label: tuple(str(c) for c in pki.arch.get_chain(i.label)) for i in chosen
        },
        key_algorithms={i.label: i.key_algorithm for i in chosen},
        pki_base_url=pki.base_url,
    )


def put_key(token: SoftHSMToken, pki: DevPKI, identity: str, *, object_label: Optional[str] = None) -> None:
    """Put ``identity``'s key and certificate on ``token`` under ``object_label`` (default: the
    identity's label), first deleting whatever that label held: what an administrator does when a
    key is replaced on an HSM. Subprocesses only (this process's PKCS#11 state is untouched)."""
    module = find_softhsm_module()
    ident = pki.identity(identity)
    label = object_label or ident.label
    hex_id = object_id(label)
    env = {**os.environ, "SOFTHSM2_CONF": str(token.conf_path)}
    base = [_tool("pkcs11-tool"), "--module", module, "--token-label", token.token_label, "--login",
            "--pin", token.user_pin]
    for kind in ("privkey", "pubkey", "cert"):
        subprocess.run([*base, "--delete-object", "--type", kind, "--label", label], env=env,
                       capture_output=True, timeout=60, check=False)   # absent is fine
    with tempfile.TemporaryDirectory(prefix="kyso-softhsm-") as tmpdir:
        tmp = Path(tmpdir)
        key_pem = tmp / "key.pem"
        fd = os.open(key_pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pki.private_key_pem(ident.label))
        _run([_tool("softhsm2-util"), "--import", str(key_pem), "--token", token.token_label, "--label", label,
              "--id", hex_id, "--pin", token.user_pin], env, f"softhsm2-util --import (key {label})")
        der = tmp / "cert.der"
        der.write_bytes(ident.cert_der)
        _run([*base, "--write-object", str(der), "--type", "cert", "--label", label, "--id", hex_id],
             env, f"pkcs11-tool --write-object (certificate {label})")
