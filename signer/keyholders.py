"""Who signs: key holders.

A key holder owns a certificate, its issuing chain and a way to produce a
raw signature. It parses or opens its key once and reuses it for every
document (pyHanko's stock ``SimpleSigner`` re-parses the key, and for RSA
``cryptography`` re-runs a full key check, at every signature).

* :class:`SoftwareKeyHolder`: a key in memory, from an encrypted PKCS#12
  file whose passphrase is given by the caller and never stored.
* :class:`Pkcs11KeyHolder`: a key that never leaves a PKCS#11 token
  (SoftHSM2 in development, an HSM or USB token in production).
* :class:`ExternalKeyHolder`: only the certificate; the key stays on the
  official's own device and the signature value arrives later
  (see :mod:`signer.external`).
"""
from __future__ import annotations

import abc
import functools
import hashlib
import threading
from pathlib import Path
from typing import Iterable, Sequence

from asn1crypto import algos, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signer.errors import KeyUnavailable, PinRefused, SigningError, WrongPassphrase

RSA_PADDINGS = ("pkcs1v15", "pss")


def _to_asn1(cert: cx509.Certificate | x509.Certificate) -> x509.Certificate:
    """A parsed asn1crypto certificate.

    Always re-parsed from DER: an object built in code (certomancer's) is
    re-encoded by asn1crypto at every ``dump()``, a parsed one is not; that
    alone made a signature ~5x slower.
    """
    if isinstance(cert, x509.Certificate):
        return x509.Certificate.load(cert.dump())
    return x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def fingerprint_sha256(cert: x509.Certificate) -> str:
    return cert.sha256.hex()     # asn1crypto hashes the DER once per certificate object


def _raw_signature_size(cert: x509.Certificate) -> int:
    """Upper bound of the raw signature's DER size for this certificate's key."""
    pub = cert.public_key
    if pub.algorithm == "rsa":
        return (pub.bit_size + 7) // 8
    if pub.algorithm == "ec":
        return 2 * ((pub.bit_size + 7) // 8) + 9
    return 256


class KeyHolder(abc.ABC):
    """A signer's certificate, its chain, and the means to sign with its key."""

    def __init__(self, *, label: str, certificate: x509.Certificate,
                 chain: Iterable[x509.Certificate] = ()) -> None:
        self.label = label
        self.certificate = _to_asn1(certificate)
        self.chain: tuple[x509.Certificate, ...] = tuple(_to_asn1(c) for c in chain)

    @property
    def fingerprint(self) -> str:
        """SHA-256 fingerprint of the signer's certificate (hex)."""
        return fingerprint_sha256(self.certificate)

    @property
    def key_algorithm(self) -> str:
        return self.certificate.public_key.algorithm

    @property
    def raw_signature_size(self) -> int:
        return _raw_signature_size(self.certificate)

    def cert_registry(self) -> SimpleCertificateStore:
        """The CA certificates to embed (pyHanko always adds the signer's own certificate)."""
        return SimpleCertificateStore.from_certs(list(self.chain))

    @abc.abstractmethod
    def pyhanko_signer(self, *, rsa_padding: str = "pkcs1v15", md_algorithm: str = "sha256") -> Signer:
        """A pyHanko signer for one signing operation (cheap: the key is already loaded)."""

    def close(self) -> None:
        """Release the key (sessions, memory). Idempotent."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label!r} {self.certificate.subject.human_friendly!r}>"


class _KeyObjectSigner(Signer):
    """pyHanko signer around an already-parsed ``cryptography`` private key.

    The signature mechanism (with its PSS parameters) and the raw signing
    function are prepared once per key holder and padding, not per signature.
    """

    def __init__(self, *, signing_cert: x509.Certificate, cert_registry: SimpleCertificateStore,
                 mechanism: algos.SignedDigestAlgorithm, sign_fn, md_algorithm: str) -> None:
        super().__init__(signing_cert=signing_cert, cert_registry=cert_registry, embed_roots=True,
                         signature_mechanism=mechanism)
        self._sign_fn = sign_fn
        self._md_algorithm = md_algorithm

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run=False) -> bytes:
        if dry_run:
            return bytes(_raw_signature_size(self.signing_cert))
        if digest_algorithm != self._md_algorithm:
            raise SigningError(f"signer prepared for {self._md_algorithm}, asked for {digest_algorithm}")
        return self._sign_fn(data)


def _prepared_mechanism(key, cert: x509.Certificate, md_algorithm: str, rsa_padding: str):
    """(mechanism, sign function) for this key, digest and padding, built once."""
    probe = Signer(prefer_pss=(rsa_padding == "pss"), signing_cert=cert)
    # a DER round trip: asn1crypto then re-emits the cached encoding instead of rebuilding it
    mechanism = algos.SignedDigestAlgorithm.load(probe.get_signature_mechanism_for_digest(md_algorithm).dump())
    algo = mechanism.signature_algo
    hash_algo = get_pyca_cryptography_hash(md_algorithm)
    if algo == "rsassa_pkcs1v15":
        pad = PKCS1v15()
        return mechanism, lambda data: key.sign(data, pad, hash_algo)
    if algo == "rsassa_pss":
        pad, pss_hash = process_pss_params(mechanism["parameters"])
        return mechanism, lambda data: key.sign(data, pad, pss_hash)
    if algo == "ecdsa":
        ecdsa = ECDSA(hash_algo)
        return mechanism, lambda data: key.sign(data, ecdsa)
    raise SigningError(f"unsupported signature mechanism {algo}")


class SoftwareKeyHolder(KeyHolder):
    """A private key held in memory, parsed once."""

    def __init__(self, *, label: str, private_key, certificate, chain=()) -> None:
        if not isinstance(private_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise SigningError("only RSA and ECDSA keys are supported")
        super().__init__(label=label, certificate=certificate, chain=chain)
        self._key = private_key
        self._prepared: dict[tuple[str, str], tuple] = {}
        self._registry = self.cert_registry()
        pub = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if pub != self.certificate.public_key.dump():
            raise SigningError("the private key does not match the certificate",
                               message_vi="Khóa bí mật không khớp với chứng thư số.")

    @classmethod
    def from_pkcs12(cls, data: bytes | Path, *, passphrase: bytes | str,
                    label: str | None = None) -> "SoftwareKeyHolder":
        """Open an encrypted PKCS#12 file. The passphrase is used and forgotten."""
        if isinstance(data, Path):
            data = data.read_bytes()
        if isinstance(passphrase, str):
            passphrase = passphrase.encode("utf-8")
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, passphrase)
        except ValueError as exc:
            raise WrongPassphrase(detail={"reason": str(exc)}) from None
        if key is None or cert is None:
            raise WrongPassphrase("the PKCS#12 file holds no private key and certificate",
                                  message_vi="Tệp PKCS#12 không chứa khóa bí mật và chứng thư số.")
        chain = [c for c in (extra or []) if c != cert]
        asn_cert = _to_asn1(cert)
        return cls(label=label or asn_cert.subject.native.get("common_name", "pkcs12"),
                   private_key=key, certificate=asn_cert, chain=_order_chain(asn_cert, chain))

    @classmethod
    def from_dev_pki(cls, pki, label: str) -> "SoftwareKeyHolder":
        """A development identity from ``certs_dev`` (see :mod:`devpki`)."""
        ident = pki.identity(label)
        return cls(label=label, private_key=pki.private_key(label),
                   certificate=ident.certificate, chain=pki.chain(label))

    def pyhanko_signer(self, *, rsa_padding: str = "pkcs1v15", md_algorithm: str = "sha256") -> Signer:
        if self._key is None:
            raise KeyUnavailable("the key holder is closed")
        prepared = self._prepared.get((rsa_padding, md_algorithm))
        if prepared is None:
            prepared = _prepared_mechanism(self._key, self.certificate, md_algorithm, rsa_padding)
            self._prepared[(rsa_padding, md_algorithm)] = prepared
        mechanism, sign_fn = prepared
        return _KeyObjectSigner(signing_cert=self.certificate, cert_registry=self._registry,
                                mechanism=mechanism, sign_fn=sign_fn, md_algorithm=md_algorithm)

    def close(self) -> None:
        self._key = None
        self._prepared.clear()


def issuing_chain(leaf: x509.Certificate, candidates: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The issuers of ``leaf`` found among ``candidates``, from its issuer up to a self-signed root
    (or as far as they go); candidates that are not on the path are left out."""
    path: list[x509.Certificate] = []
    current = _to_asn1(leaf)
    pool = [_to_asn1(c) for c in candidates]
    while len(path) < 10:
        issuer = next((c for c in pool if c.subject == current.issuer and c not in path
                       and (current.authority_key_identifier is None
                            or c.key_identifier in (None, current.authority_key_identifier))), None)
        if issuer is None or issuer.dump() == current.dump():
            break
        path.append(issuer)
        if issuer.self_signed != "no":
            break
        current = issuer
    return path


def _order_chain(leaf: x509.Certificate, certs: Sequence) -> list[x509.Certificate]:
    """Order loose CA certificates from the leaf's issuer upwards."""
    pool = [_to_asn1(c) for c in certs]
    ordered: list[x509.Certificate] = []
    current = leaf
    while pool:
        nxt = next((c for c in pool if c.subject == current.issuer), None)
        if nxt is None:
            break
        ordered.append(nxt)
        pool.remove(nxt)
        if nxt.self_signed == "maybe" or nxt.subject == nxt.issuer:
            break
        current = nxt
    return ordered + pool


def _login(module: str, token_label: str, pin: str):
    import pkcs11
    from pkcs11 import TokenFlag
    from pkcs11 import exceptions as pk

    try:
        lib = pkcs11.lib(module)
    except Exception as exc:  # noqa: BLE001 - a missing or broken library
        raise KeyUnavailable(f"cannot load the PKCS#11 library {module!r} (KYSO_PKCS11_MODULE): {exc}",
                             message_vi=f"Không nạp được thư viện PKCS#11 {module!r} (KYSO_PKCS11_MODULE).",
                             detail={"setting": "KYSO_PKCS11_MODULE", "module": module}) from None
    try:
        tokens = list(lib.get_tokens(token_label=token_label))
        if not tokens:
            present = sorted({t.label for t in lib.get_tokens()})
            raise KeyUnavailable(
                f"no PKCS#11 token labelled {token_label!r} (KYSO_PKCS11_TOKEN); tokens present: "
                + (", ".join(repr(p) for p in present) or "none"),
                message_vi=f"Không có thiết bị ký mang nhãn {token_label!r} (KYSO_PKCS11_TOKEN).",
                detail={"setting": "KYSO_PKCS11_TOKEN", "token": token_label, "present": present})
        token = tokens[0]
        if TokenFlag.USER_PIN_LOCKED in token.flags:
            raise PinRefused(f"the user PIN of token {token_label!r} is locked; not trying KYSO_PKCS11_PIN",
                             detail={"setting": "KYSO_PKCS11_PIN", "token": token_label, "attempts": "locked"})
        return token.open(user_pin=pin)
    except (KeyUnavailable, SigningError):
        raise
    except (pk.PinIncorrect, pk.PinLocked, pk.PinExpired, pk.PinLenRange, pk.PinInvalid) as exc:
        attempts = "unknown"
        try:
            flags = next(iter(lib.get_tokens(token_label=token_label))).flags
            if TokenFlag.USER_PIN_LOCKED in flags:
                attempts = "locked"
            elif TokenFlag.USER_PIN_FINAL_TRY in flags:
                attempts = "1 (final try)"
            elif TokenFlag.USER_PIN_COUNT_LOW in flags:
                attempts = "few (count low)"
        except Exception:  # noqa: BLE001 - the token does not say
            pass
        raise PinRefused(
            f"token {token_label!r} refused KYSO_PKCS11_PIN ({type(exc).__name__}); attempts left: {attempts}",
            message_vi=f"Thiết bị ký {token_label!r} từ chối mã PIN (KYSO_PKCS11_PIN); số lần thử còn lại: {attempts}",
            detail={"setting": "KYSO_PKCS11_PIN", "token": token_label, "attempts": attempts,
                    "reason": type(exc).__name__}) from None
    except Exception as exc:  # noqa: BLE001 - any other token failure means no key
        raise KeyUnavailable(f"cannot open PKCS#11 token {token_label!r}: {type(exc).__name__}: {exc}",
                             detail={"token": token_label, "reason": f"{type(exc).__name__}: {exc}"}) from None


class PinGuard:
    """Spends at most one PIN attempt per wrong PIN, across every process of an installation.

    Real tokens lock after 3 to 10 wrong PINs. Logins on one token are serialised with a file
    lock; a refusal is written down (with an HMAC of the token label and PIN under the service's
    secret, never the PIN) and every later login with the same PIN, in any worker and after any
    restart, is refused without asking the token, until the PIN setting changes or an
    administrator deletes the file.
    """

    def __init__(self, path: Path | str, *, secret: bytes | str) -> None:
        self.path = Path(path)
        self._secret = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)

    def _digest(self, token_label: str, pin: str) -> str:
        import hmac

        return hmac.new(self._secret, f"{token_label}\0{pin}".encode("utf-8"), hashlib.sha256).hexdigest()

    def locked(self):
        import contextlib
        import fcntl

        @contextlib.contextmanager
        def hold():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with open(self.path.with_suffix(".lock"), "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        return hold()

    def refuse_if_refused(self, token_label: str, pin: str) -> None:
        import json

        try:
            record = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        if record.get("digest") == self._digest(token_label, pin):
            raise PinRefused(
                f"token {token_label!r} refused this KYSO_PKCS11_PIN at {record.get('at')}; not trying it again "
                f"(change KYSO_PKCS11_PIN, or delete {self.path} once the token is unlocked)",
                detail={"setting": "KYSO_PKCS11_PIN", "token": token_label, "refused_at": record.get("at"),
                        "attempts": record.get("attempts"), "not_tried": True})

    def remember_refusal(self, token_label: str, pin: str, detail) -> None:
        import json
        import os
        from datetime import datetime, timezone

        record = {"token": token_label, "digest": self._digest(token_label, pin),
                  "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "attempts": (detail or {}).get("attempts")}
        temp = self.path.with_suffix(".part")
        temp.write_text(json.dumps(record))
        os.chmod(temp, 0o600)
        os.replace(temp, self.path)

    def forget_refusal(self) -> None:
        self.path.unlink(missing_ok=True)


class _SharedSession:
    """One logged-in PKCS#11 session per (module, token) in this process.

    PKCS#11 login state belongs to the application, not to a session: a
    second login fails with "user already logged in". So every
    :class:`Pkcs11Token` handle on the same token shares one session
    (reference-counted) and one lock.
    """

    registry: dict[tuple[str, str], "_SharedSession"] = {}
    registry_lock = threading.Lock()

    def __init__(self, key: tuple[str, str], session, pin: str, guard: "PinGuard | None" = None) -> None:
        self.key = key
        self.session = session
        self._pin = pin   # kept to log in again if another user of the library logs out
        self._guard = guard
        self.pin_digest = hashlib.sha256(pin.encode("utf-8")).digest()
        self.lock = threading.RLock()
        self.refs = 0

    @staticmethod
    def login(module: str, token_label: str, pin: str, guard: "PinGuard | None" = None):
        """Open a logged-in session; every failure says which setting to look at.

        With a ``guard``, logins on this token are serialised across processes and a PIN the
        token refused is never sent again (see :class:`PinGuard`).
        """
        if guard is None:
            return _login(module, token_label, pin)
        with guard.locked():
            guard.refuse_if_refused(token_label, pin)
            try:
                session = _login(module, token_label, pin)
            except PinRefused as exc:
                guard.remember_refusal(token_label, pin, exc.detail)
                raise
            guard.forget_refusal()
            return session

    def renew(self) -> None:
        """Open a fresh logged-in session (the old one lost its login or died)."""
        with self.lock:
            old = self.session
            self.session = self.login(self.key[0], self.key[1], self._pin, self._guard)
            try:
                old.close()
            except Exception:  # noqa: BLE001 - the old session is already unusable
                pass


class Pkcs11Token:
    """A handle on a logged-in PKCS#11 token, shared by its key holders.

    A PKCS#11 session is not safe for concurrent use, so signatures through
    it are serialised with a lock. If the token is missing or the PIN is
    wrong, :class:`KeyUnavailable` is raised: there is never a fallback to
    a software key. A closed handle refuses to sign (fails closed).
    """

    def __init__(self, *, shared: _SharedSession, module: str, token_label: str) -> None:
        self._shared = shared
        self._closed = False
        self.module = module
        self.token_label = token_label

    @classmethod
    def open(cls, *, module: str, token_label: str, pin: str, pin_guard: PinGuard | None = None) -> "Pkcs11Token":
        """Log in to the token (once per process: handles share one session).

        ``pin_guard`` makes a refused PIN cost one attempt for the whole installation.
        """
        import hmac

        key = (module, token_label)
        digest = hashlib.sha256(pin.encode("utf-8")).digest()
        with _SharedSession.registry_lock:
            shared = _SharedSession.registry.get(key)
            if shared is not None:
                if not hmac.compare_digest(shared.pin_digest, digest):
                    raise KeyUnavailable("wrong PIN for the PKCS#11 token",
                                         message_vi="Sai mã PIN của thiết bị ký.",
                                         detail={"token": token_label})
            else:
                shared = _SharedSession(key, _SharedSession.login(module, token_label, pin, pin_guard), pin,
                                        pin_guard)
                _SharedSession.registry[key] = shared
            shared.refs += 1
        return cls(shared=shared, module=module, token_label=token_label)

    @property
    def session(self):
        if self._closed:
            raise KeyUnavailable("the PKCS#11 token handle is closed",
                                 message_vi="Phiên làm việc với thiết bị ký đã đóng.")
        return self._shared.session

    @property
    def lock(self) -> threading.RLock:
        return self._shared.lock

    def renew(self) -> None:
        """Log in again on a fresh session (after another library user logged the token out)."""
        self.session  # noqa: B018 - refuses on a closed handle
        self._shared.renew()

    def _objects(self, object_class, key_label: str | None = None) -> list:
        from pkcs11 import Attribute

        template = {Attribute.CLASS: object_class}
        if key_label is not None:
            template[Attribute.LABEL] = key_label
        with self.lock:
            return list(self.session.get_objects(template))

    def _lookup(self, fn):
        """Run a lookup; if the session died or lost its login (another library user logged out),
        log in once more and retry. A lookup that finds nothing is not a session problem."""
        from pkcs11 import exceptions as pk

        try:
            return fn()
        except (pk.SessionHandleInvalid, pk.SessionClosed, pk.UserNotLoggedIn, pk.DeviceRemoved,
                pk.TokenNotPresent, pk.DeviceError):
            self.renew()
            return fn()

    def certificate(self, key_label: str) -> x509.Certificate | None:
        """The certificate stored under ``key_label`` now (None if there is none): read from the
        token at each call, so a key replaced under the same label is seen at once."""
        from pkcs11 import Attribute, ObjectClass

        try:
            found = self._lookup(lambda: self._objects(ObjectClass.CERTIFICATE, key_label))
        except KeyUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - any token failure means no key
            raise KeyUnavailable(f"cannot read token {self.token_label!r}: {type(exc).__name__}: {exc}",
                                 detail={"token": self.token_label}) from None
        if not found:
            return None
        return x509.Certificate.load(bytes(found[0][Attribute.VALUE]))

    def ca_certificates(self) -> list[x509.Certificate]:
        """The CA certificates kept on the token (issuers of the signers' certificates, as Vietnamese
        USB tokens carry them): the chain embedded in every signature is built from these."""
        from pkcs11 import Attribute, ObjectClass

        out = []
        try:
            objects = self._lookup(lambda: self._objects(ObjectClass.CERTIFICATE))
        except Exception:  # noqa: BLE001 - no chain from the token: the validator fetches it (AIA)
            return []
        for obj in objects:
            try:
                cert = x509.Certificate.load(bytes(obj[Attribute.VALUE]))
                if cert.ca:
                    out.append(cert)
            except Exception:  # noqa: BLE001 - an unreadable object is not a CA certificate
                continue
        return out

    def labels(self) -> list[str]:
        """The labels of the certificates on the token (for error messages and ``kyso admin``)."""
        from pkcs11 import Attribute, ObjectClass

        try:
            return sorted({str(o[Attribute.LABEL]) for o in self._lookup(lambda: self._objects(ObjectClass.CERTIFICATE))})
        except Exception:  # noqa: BLE001
            return []

    def key_holder(self, key_label: str, *, chain: Iterable[x509.Certificate] = ()) -> "Pkcs11KeyHolder":
        """The key and certificate stored under ``key_label`` on this token (the same label for both)."""
        from pkcs11 import ObjectClass

        cert = self.certificate(key_label)
        if cert is None:
            present = self.labels()
            raise KeyUnavailable(
                f"no certificate labelled {key_label!r} on token {self.token_label!r}; labels present: "
                + (", ".join(repr(p) for p in present) or "none"),
                message_vi=f"Không có chứng thư số mang nhãn {key_label!r} trên thiết bị ký {self.token_label!r}.",
                detail={"label": key_label, "token": self.token_label, "present": present})
        try:
            keys = self._lookup(lambda: self._objects(ObjectClass.PRIVATE_KEY, key_label))
        except Exception as exc:  # noqa: BLE001
            raise KeyUnavailable(f"cannot read token {self.token_label!r}: {type(exc).__name__}: {exc}",
                                 detail={"token": self.token_label}) from None
        if not keys:
            raise KeyUnavailable(
                f"token {self.token_label!r} holds a certificate labelled {key_label!r} but no private key with that "
                "label (key and certificate must carry the same label)",
                message_vi=f"Thiết bị ký có chứng thư số nhãn {key_label!r} nhưng không có khóa bí mật cùng nhãn.",
                detail={"label": key_label, "token": self.token_label})
        return Pkcs11KeyHolder(token=self, key_label=key_label, certificate=cert, chain=chain)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with _SharedSession.registry_lock:
            shared = self._shared
            shared.refs -= 1
            if shared.refs == 0:
                _SharedSession.registry.pop(shared.key, None)
                try:
                    shared.session.close()
                except Exception:  # noqa: BLE001 - closing a dead session
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Pkcs11KeyHolder(KeyHolder):
    """A key that never leaves a PKCS#11 token (see :class:`Pkcs11Token`)."""

    def __init__(self, *, token: Pkcs11Token, key_label: str, certificate, chain=()) -> None:
        super().__init__(label=key_label, certificate=certificate, chain=chain)
        self._token = token
        self._key_label = key_label
        self._signers: dict[str, Signer] = {}

    def pyhanko_signer(self, *, rsa_padding: str = "pkcs1v15", md_algorithm: str = "sha256") -> Signer:
        if self._token.closed:
            raise KeyUnavailable("the PKCS#11 token handle is closed",
                                 message_vi="Phiên làm việc với thiết bị ký đã đóng.")
        session = self._token.session
        signer = self._signers.get(rsa_padding)
        if signer is not None and signer.pkcs11_session is not session:
            signer = None   # the token logged in again on a new session
        if signer is None:
            signer = _locked_pkcs11_signer_class()(
                self._token, session, key_label=self._key_label,
                cert_label=self._key_label, signing_cert=self.certificate,
                ca_chain=list(self.chain), other_certs_to_pull=(),
                prefer_pss=(rsa_padding == "pss"),
                # tokens (SoftHSM2 among them) often lack CKM_ECDSA_SHA256: hash here, sign raw
                use_raw_mechanism=(self.key_algorithm == "ec"))
            self._signers[rsa_padding] = signer
        return signer


@functools.cache
def _locked_pkcs11_signer_class():
    from pyhanko.sign.pkcs11 import PKCS11Signer

    class LockedPkcs11Signer(PKCS11Signer):
        def __init__(self, token, *args, **kwargs):
            self._kyso_token = token
            super().__init__(*args, **kwargs)

        async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run=False) -> bytes:
            if dry_run:
                return bytes(_raw_signature_size(self.signing_cert))
            token = self._kyso_token
            try:
                with token.lock:
                    self.pkcs11_session = token.session
                    try:
                        return await super().async_sign_raw(data, digest_algorithm, dry_run=False)
                    except SigningError:
                        raise
                    except Exception:  # noqa: BLE001 - the key object replaced on the token (a stale handle)?
                        self._loaded = False
                        self._key_handle = None
                    try:
                        return await super().async_sign_raw(data, digest_algorithm, dry_run=False)
                    except SigningError:
                        raise
                    except Exception:  # noqa: BLE001 - logged out by someone else? log in once more
                        token.renew()
                        self.pkcs11_session = token.session
                        self._loaded = False
                        self._key_handle = None
                        return await super().async_sign_raw(data, digest_algorithm, dry_run=False)
            except SigningError:
                raise
            except Exception as exc:  # noqa: BLE001 - token errors: fail closed
                raise KeyUnavailable(detail={"reason": f"{type(exc).__name__}: {exc}"}) from None

    return LockedPkcs11Signer


class ExternalKeyHolder(KeyHolder):
    """Only the certificate: the key stays on the official's own device.

    Use it with :class:`signer.external.ExternalSigning`; it cannot sign by itself.
    """

    def __init__(self, *, certificate, chain=(), label: str | None = None) -> None:
        cert = _to_asn1(certificate)
        super().__init__(label=label or cert.subject.native.get("common_name", "external"),
                         certificate=cert, chain=chain)

    def pyhanko_signer(self, *, rsa_padding: str = "pkcs1v15", md_algorithm: str = "sha256") -> Signer:
        raise SigningError("an external key holder signs through signer.external (prepare/finish)")
