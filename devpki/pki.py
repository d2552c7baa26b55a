"""Loader for the KYSO development PKI declared in ``certs_dev/certomancer.yml``.

DEV ONLY. Neutral module: imported by both signing and verification code, imports neither.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Union

import yaml
from asn1crypto import pem as asn1_pem
from asn1crypto import x509
from certomancer.registry import (
    ArchLabel,
    CertLabel,
    CertomancerConfig,
    PKIArchitecture,
    ServiceLabel,
)
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from . import _crypto

__all__ = [
    "CERTS_DEV_DIR",
    "CONFIG_PATH",
    "DEFAULT_BASE_URL",
    "DEV_MARKER",
    "DEV_P12_PASSPHRASE",
    "ROLES",
    "STATES",
    "HIERARCHIES",
    "DevIdentity",
    "DevPKI",
    "DevPKIError",
    "UnknownIdentityError",
    "format_name",
    "is_dev_material",
]

CERTS_DEV_DIR = Path(__file__).resolve().parent.parent / "certs_dev"
CONFIG_PATH = CERTS_DEV_DIR / "certomancer.yml"
DEFAULT_BASE_URL = "http://127.0.0.1:8080/dev-pki"
DEV_MARKER = "KYSO DEV"
#: documented passphrase of the exported dev PKCS#12 files (override with KYSO_DEV_P12_PASSPHRASE)
DEV_P12_PASSPHRASE = b"kyso-dev"

ROLES = ("ca", "ocsp-responder", "tsa", "official", "agency", "untrusted")
STATES = ("good", "revoked", "expired", "not-yet-valid", "no-non-repudiation")
HIERARCHIES = ("gov", "public", "self")

CertLike = Union[x509.Certificate, pyca_x509.Certificate, bytes]


class DevPKIError(Exception):
    """Problem with the dev PKI configuration or its use."""


class UnknownIdentityError(DevPKIError, LookupError):
    """No identity with this label exists in the dev PKI."""

    def __init__(self, label: str, known: Iterable[str]):
        self.label = label
        self.known = tuple(known)
        super().__init__(
            f"unknown dev PKI identity {label!r}; known labels: {', '.join(self.known)}"
        )


@dataclass(frozen=True)
class DevIdentity:
    """One certificate holder of the dev PKI (CA, OCSP responder, TSA, official, agency...)."""

    label: str
    role: str  # see ROLES
    state: str  # see STATES
    display_name: str  # subject CN, Vietnamese with diacritics
    key_algorithm: str  # "rsa2048", "rsa3072", "ecdsa-p256"
    certificate: x509.Certificate = field(compare=False, repr=False)
    hierarchy: str  # "gov" | "public" | "self"
    issuer_label: Optional[str] = None  # None for self-signed certificates
    title: Optional[str] = None  # job title (chức vụ), officials only
    organization: Optional[str] = None  # subject O
    agency: Optional[str] = None  # abbreviation of the agency (officials and agencies): UBND, SNV, ...

    @property
    def subject(self) -> str:
        """Subject DN, most specific RDN first, UTF-8 (e.g. "CN=Nguyễn Văn An, T=Chủ tịch, ...")."""
        return format_name(self.certificate.subject)

    @property
    def issuer(self) -> str:
        return format_name(self.certificate.issuer)

    @property
    def sha256_fingerprint(self) -> str:
        return hashlib.sha256(self.certificate.dump()).hexdigest()

    @property
    def cert_der(self) -> bytes:
        return self.certificate.dump()

    @property
    def cert_pem(self) -> bytes:
        return asn1_pem.armor("CERTIFICATE", self.certificate.dump())

    @property
    def is_ca(self) -> bool:
        return self.role == "ca"


def _normalise_base_url(base_url: Optional[str]) -> str:
    url = (base_url or DEFAULT_BASE_URL).strip()
    if not url.startswith(("http://", "https://")):
        raise DevPKIError(f"dev PKI base URL must be http(s)://..., got {url!r}")
    return url.rstrip("/")


def _key_algorithm(cert: x509.Certificate) -> str:
    pub = cert.public_key
    algo = pub.algorithm
    if algo == "rsa":
        return f"rsa{pub.bit_size}"
    if algo == "ec":
        curve = pub.curve[1]
        return {
            "secp256r1": "ecdsa-p256",
            "secp384r1": "ecdsa-p384",
            "secp521r1": "ecdsa-p521",
        }.get(curve, f"ecdsa-{curve}")
    return algo


_SHORT_NAMES = {
    "common_name": "CN",
    "title": "T",
    "organizational_unit_name": "OU",
    "organization_name": "O",
    "locality_name": "L",
    "state_or_province_name": "ST",
    "country_name": "C",
    "email_address": "E",
    "serial_number": "SERIALNUMBER",
}


def format_name(name: x509.Name) -> str:
    """Human-readable DN, most specific RDN first: "CN=Nguyễn Văn An, T=Chủ tịch, O=..., C=VN"."""
    parts = []
    for rdn in reversed(list(name.chosen)):
        for type_val in rdn:
            attr = type_val["type"].native
            parts.append(f"{_SHORT_NAMES.get(attr, attr)}={type_val['value'].native}")
    return ", ".join(parts)


def _name_attr(name: x509.Name, attr: str) -> Optional[str]:
    values = [
        type_val["value"].native
        for rdn in name.chosen
        for type_val in rdn
        if type_val["type"].native == attr
    ]
    return values[0] if values else None


class DevPKI:
    """The dev PKI for one service base URL.

    Certificates embed the OCSP/CRL/caIssuers/TSA URLs of ``base_url``, so load it with the base
    URL where :meth:`wsgi_app` will actually be served (``devpki.server`` does this for you).
    Instances are cached per (base_url, config_path): ``DevPKI.load`` is cheap after the first call.
    """

    _instances: dict[tuple[str, str], "DevPKI"] = {}
    _instances_lock = threading.Lock()

    def __init__(self, *, base_url: str, config_path: Path):
        _crypto.install()
        self.base_url = base_url
        self.config_path = config_path
        with open(config_path, "r", encoding="utf-8") as f:
            raw = yaml.safe_load(f)
        try:
            meta = raw["kyso-dev"]
            self._arch_label = ArchLabel(meta["architecture"])
            self._tsa_service = ServiceLabel(meta["tsa-service"])
            root_labels = list(meta["trust-roots"])
            ident_meta: dict[str, dict[str, str]] = meta["identities"]
        except (KeyError, TypeError) as e:
            raise DevPKIError(f"{config_path}: missing or malformed 'kyso-dev' section: {e}") from e
        self.config = CertomancerConfig(
            raw,
            key_search_dir=str(config_path.parent),
            lazy_load_keys=True,
            config_search_dir=None,
            external_url_prefix=base_url,
        )
        self.arch: PKIArchitecture = self.config.get_pki_arch(self._arch_label)
        self._key_paths = {
            label: Path(self.arch.key_set[label].path) for label in ident_meta
        }
        self._identities = self._build_identities(ident_meta, root_labels)
        self._by_label = {i.label: i for i in self._identities}
        self._root_labels = root_labels
        self._wsgi_app = None
        self._wsgi_lock = threading.Lock()

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(
        cls, base_url: Optional[str] = None, *, config_path: Union[str, Path, None] = None
    ) -> "DevPKI":
        """Load (or return the cached) dev PKI whose service URLs start with ``base_url``.

        ``base_url`` defaults to ``DEFAULT_BASE_URL`` (``http://127.0.0.1:8080/dev-pki``).
        """
        url = _normalise_base_url(base_url)
        path = Path(config_path).resolve() if config_path else CONFIG_PATH
        key = (url, str(path))
        with cls._instances_lock:
            inst = cls._instances.get(key)
            if inst is None:
                inst = cls(base_url=url, config_path=path)
                cls._instances[key] = inst
            return inst

    def _build_identities(self, ident_meta, root_labels) -> tuple[DevIdentity, ...]:
        arch = self.arch
        declared = {str(lbl) for lbl, _ in self._all_cert_specs()}
        missing = declared - set(ident_meta)
        extra = set(ident_meta) - declared
        if missing or extra:
            raise DevPKIError(
                f"kyso-dev.identities and certs disagree: not described {sorted(missing)}, "
                f"no certificate {sorted(extra)}"
            )
        idents = []
        for label, meta in ident_meta.items():
            role, state = meta.get("role"), meta.get("state")
            if role not in ROLES or state not in STATES:
                raise DevPKIError(f"identity {label}: bad role/state {role!r}/{state!r}")
            spec = arch.get_cert_spec(CertLabel(label))
            cert = arch.get_cert(CertLabel(label))
            cert.native  # force full parse (certomancer does the same before dumping)
            if (state == "revoked") != (spec.revocation is not None):
                raise DevPKIError(f"identity {label}: state {state} disagrees with revocation")
            chain = list(arch.get_chain(CertLabel(label)))
            if spec.self_signed:
                top = label
                issuer_label = None
            else:
                top = str(chain[-1])
                issuer_label = str(chain[0])
            if top in root_labels:
                hierarchy = "gov" if top == root_labels[0] else "public"
            else:
                hierarchy = "self"
            subject = cert.subject
            idents.append(
                DevIdentity(
                    label=label,
                    role=role,
                    state=state,
                    display_name=_name_attr(subject, "common_name") or label,
                    key_algorithm=_key_algorithm(cert),
                    certificate=cert,
                    hierarchy=hierarchy,
                    issuer_label=issuer_label,
                    title=_name_attr(subject, "title"),
                    organization=_name_attr(subject, "organization_name"),
                    agency=meta.get("agency"),
                )
            )
        return tuple(idents)

    def _all_cert_specs(self):
        for _issuer, specs in self.arch.enumerate_certs_by_issuer():
            for spec in specs:
                yield spec.label, spec

    # ------------------------------------------------------------------ identities
    @property
    def identities(self) -> tuple[DevIdentity, ...]:
        return self._identities

    def identity(self, label: str) -> DevIdentity:
        try:
            return self._by_label[label]
        except KeyError:
            raise UnknownIdentityError(label, self._by_label) from None

    def select(
        self,
        *,
        role: Optional[str] = None,
        state: Optional[str] = None,
        hierarchy: Optional[str] = None,
        key_algorithm: Optional[str] = None,
    ) -> tuple[DevIdentity, ...]:
        """Identities matching all the given criteria (None = any)."""
        return tuple(
            i
            for i in self._identities
            if (role is None or i.role == role)
            and (state is None or i.state == state)
            and (hierarchy is None or i.hierarchy == hierarchy)
            and (key_algorithm is None or i.key_algorithm == key_algorithm)
        )

    def certificate(self, label: str) -> x509.Certificate:
        return self.identity(label).certificate

    def chain(self, label: str) -> list[x509.Certificate]:
        """Issuing CA certificates from the issuer up to and including the root."""
        self.identity(label)
        return [self.arch.get_cert(lbl) for lbl in self.arch.get_chain(CertLabel(label))]

    def trust_roots(self) -> list[x509.Certificate]:
        """The dev trust anchors: KYSO DEV Root CA (gov) and KYSO DEV Public Root CA."""
        return [self.certificate(lbl) for lbl in self._root_labels]

    # ------------------------------------------------------------------ keys
    def private_key_pem(self, label: str) -> bytes:
        """Unencrypted PKCS#8 PEM of the identity's private key (DEV ONLY)."""
        return self.private_key(label).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def private_key(self, label: str):
        """The identity's private key as a ``cryptography`` key object (parsed once per process)."""
        self.identity(label)
        return _crypto.load_private_key_cached(self._key_paths[label].read_bytes(), None)

    # ------------------------------------------------------------------ services
    def _svc_url(self, kind: str, for_issuer: str) -> str:
        reg = self.arch.service_registry
        infos = {
            "ocsp": reg.list_ocsp_responders,
            "crl": reg.list_crl_repos,
            "certs": reg.list_cert_repos,
        }[kind]()
        for info in infos:
            if str(info.for_issuer) == for_issuer:
                if kind == "crl":
                    return info.latest_external_url
                if kind == "certs":
                    return info.issuer_cert_url(use_pem=False)
                return info.url
        raise UnknownIdentityError(for_issuer, [str(i.for_issuer) for i in infos])

    def ocsp_url(self, ca_label: str) -> str:
        """OCSP responder URL for certificates issued by ``ca_label``."""
        return self._svc_url("ocsp", ca_label)

    def crl_url(self, ca_label: str) -> str:
        """URL of the latest CRL issued by ``ca_label`` (DER)."""
        return self._svc_url("crl", ca_label)

    def ca_cert_url(self, ca_label: str) -> str:
        """caIssuers URL of ``ca_label``'s certificate (DER)."""
        return self._svc_url("certs", ca_label)

    @property
    def tsa_url(self) -> str:
        """RFC 3161 time-stamping endpoint (POST application/timestamp-query)."""
        return self.arch.service_registry.get_tsa_info(self._tsa_service).url

    def tsa_url_for(self, service: str) -> str:
        """Another time-stamping service of this PKI: ``tsa-renewed`` signs with a certificate valid to
        2049 (the archive-renewal tests move to it before the first TSA's certificate ends in 2040)."""
        return self.arch.service_registry.get_tsa_info(service).url

    def answers_at_moment(self):
        """This PKI's services answering as of each operation's moment (``kyso.network``)."""
        from .clocked import DevAnswers

        return DevAnswers()

    def wsgi_app(self):
        """WSGI app serving OCSP (POST and RFC 6960 GET), CRLs, TSA and the cert repositories.

        Mount it at the path component of ``base_url`` (e.g. with werkzeug's
        ``DispatcherMiddleware({"/dev-pki": app})``); routing honours SCRIPT_NAME.
        """
        with self._wsgi_lock:
            if self._wsgi_app is None:
                from .wsgi import build_app

                self._wsgi_app = build_app(self)
            return self._wsgi_app

    @property
    def mount_path(self) -> str:
        """Path component of ``base_url`` ("/dev-pki" by default), "" if served at the root."""
        from urllib.parse import urlsplit

        return urlsplit(self.base_url).path.rstrip("/")

    # ------------------------------------------------------------------ export
    def pkcs12_bytes(self, label: str, passphrase: bytes) -> bytes:
        """Encrypted PKCS#12 with the identity's key, certificate and CA chain."""
        if not passphrase:
            raise DevPKIError("a non-empty passphrase is required for PKCS#12 export")
        if isinstance(passphrase, str):
            passphrase = passphrase.encode("utf-8")
        ident = self.identity(label)
        cert = pyca_x509.load_der_x509_certificate(ident.cert_der)
        cas = [pyca_x509.load_der_x509_certificate(c.dump()) for c in self.chain(label)]
        return pkcs12.serialize_key_and_certificates(
            name=label.encode("utf-8"),
            key=self.private_key(label),
            cert=cert,
            cas=cas or None,
            encryption_algorithm=serialization.BestAvailableEncryption(passphrase),
        )

    def export(self, directory: Union[str, Path], *, passphrase: bytes) -> list[Path]:
        """Write the dev PKI for use outside Python.

        Layout::

            trust-roots.pem          the two dev roots (import into NSS/OS trust stores)
            ca-bundle.pem            every CA certificate (roots and sub-CAs)
            ca/<label>.pem           each CA certificate
            certs/<label>.pem        every certificate (incl. TSA, OCSP responders, officials)
            p12/<label>.p12          key + cert + chain per official, agency and untrusted signer

        Returns the written paths.
        """
        out = Path(directory)
        written: list[Path] = []

        def _write(rel: str, data: bytes) -> None:
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            written.append(path)

        cas = self.select(role="ca")
        _write("trust-roots.pem", b"".join(self.identity(lbl).cert_pem for lbl in self._root_labels))
        _write("ca-bundle.pem", b"".join(i.cert_pem for i in cas))
        for ident in cas:
            _write(f"ca/{ident.label}.pem", ident.cert_pem)
        for ident in self._identities:
            _write(f"certs/{ident.label}.pem", ident.cert_pem)
        for ident in self._identities:
            if ident.role in ("official", "agency", "untrusted"):
                _write(f"p12/{ident.label}.p12", self.pkcs12_bytes(ident.label, passphrase))
        return written

    def __repr__(self) -> str:
        return f"DevPKI(base_url={self.base_url!r}, identities={len(self._identities)})"


# ---------------------------------------------------------------------- dev material detection
_dev_key_ids: Optional[tuple[frozenset[bytes], frozenset[bytes]]] = None
_dev_key_ids_lock = threading.Lock()


def _dev_key_fingerprints() -> tuple[frozenset[bytes], frozenset[bytes]]:
    """(SHA-256 of SPKI, SHA-1 key identifiers) of every key in certs_dev/keys."""
    global _dev_key_ids
    with _dev_key_ids_lock:
        if _dev_key_ids is None:
            spki_hashes, key_ids = set(), set()
            from asn1crypto import keys as asn1_keys

            for path in sorted((CERTS_DEV_DIR / "keys").glob("*.pem")):
                key = serialization.load_pem_private_key(
                    path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
                )
                spki = key.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                spki_hashes.add(hashlib.sha256(spki).digest())
                key_ids.add(asn1_keys.PublicKeyInfo.load(spki).sha1)
            _dev_key_ids = (frozenset(spki_hashes), frozenset(key_ids))
        return _dev_key_ids


def _as_asn1_cert(cert: CertLike) -> x509.Certificate:
    if isinstance(cert, x509.Certificate):
        return cert
    if isinstance(cert, pyca_x509.Certificate):
        return x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    if isinstance(cert, (bytes, bytearray)):
        data = bytes(cert)
        if asn1_pem.detect(data):
            _, _, data = asn1_pem.unarmor(data)
        return x509.Certificate.load(data)
    raise TypeError(f"expected a certificate, got {type(cert).__name__}")


def is_dev_material(cert: CertLike) -> bool:
    """True if ``cert`` is, or was issued by, KYSO dev PKI material (refuse it in production).

    Recognises: the marker "KYSO DEV" in any attribute of the subject or issuer; a public key
    belonging to ``certs_dev/keys``; an authority key identifier of a dev key. Independent of the
    base URL the dev PKI was loaded with. Accepts asn1crypto or cryptography certificates, or
    DER/PEM bytes.
    """
    c = _as_asn1_cert(cert)
    marker = DEV_MARKER.casefold()
    for name in (c.subject, c.issuer):
        for rdn in name.chosen:
            for type_val in rdn:
                value = type_val["value"].native
                if isinstance(value, str) and marker in value.casefold():
                    return True
    spki_hashes, key_ids = _dev_key_fingerprints()
    if hashlib.sha256(c.public_key.dump()).digest() in spki_hashes:
        return True
    aki = c.authority_key_identifier
    return aki is not None and aki in key_ids

