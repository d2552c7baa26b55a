"""Trust profiles: which certificates anchor a verification.

* ``dev``: the roots of ``certs_dev`` (development only);
* ``vn``: the Vietnamese government root (VGCA, "Ban Cơ yếu Chính phủ") and the
  national root for public CAs (MIC National Root CA), shipped in
  ``verifier/anchors/vn`` with their sub-CAs as known intermediates, plus the
  anchors an administrator adds to a trust folder (``TrustStore``);
* ``none``: nothing is trusted (every signature is at best indeterminate).

Expired anchors are kept: a document signed in 2019 under a CA that expired
in 2020 is validated at its signing time, with proof of existence.
"""
from __future__ import annotations

import dataclasses
import hashlib
from importlib import resources
from pathlib import Path
from typing import Iterable

from asn1crypto import pem, x509
from pyhanko_certvalidator.registry import SimpleTrustManager

from verifier import sharing

PROFILES = ("dev", "vn", "none")


def _load(data: bytes) -> list[x509.Certificate]:
    if pem.detect(data):
        return [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]
    return [x509.Certificate.load(data)]


def load_certificates(paths: Iterable[Path | str]) -> list[x509.Certificate]:
    out = []
    for path in paths:
        out.extend(_load(Path(path).read_bytes()))
    return out


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()


def _parsed(certs: Iterable[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """Each certificate as parsed from its DER: asn1crypto re-encodes a certificate that was built
    in Python (certomancer's, say) on every ``dump()``, and path validation dumps names thousands
    of times per signature; parsed completely now, since every verification thread shares them
    (:func:`verifier.sharing.certificate`)."""
    return tuple(sharing.certificate(c.dump()) for c in certs)


@dataclasses.dataclass(frozen=True)
class TrustSet:
    """Trust anchors, plus intermediates known to belong to them."""

    name: str
    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()
    #: SHA-256 digests of the anchors' and of the intermediates' encodings (what a remembered path
    #: depends on), taken once
    fingerprints: tuple[frozenset, frozenset] = dataclasses.field(init=False, repr=False, compare=False)
    #: pyHanko's trust manager for the anchors, built once and shared by every validation context
    #: (it is only read once built)
    trust_manager: SimpleTrustManager = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "anchors", _parsed(self.anchors))
        object.__setattr__(self, "intermediates", _parsed(self.intermediates))
        object.__setattr__(self, "fingerprints", (
            frozenset(hashlib.sha256(c.dump()).digest() for c in self.anchors),
            frozenset(hashlib.sha256(c.dump()).digest() for c in self.intermediates)))
        object.__setattr__(self, "trust_manager", SimpleTrustManager.build(trust_roots=self.anchors))

    def with_anchors(self, extra: Iterable[x509.Certificate]) -> "TrustSet":
        known = {fingerprint(c) for c in self.anchors}
        added = tuple(c for c in extra if fingerprint(c) not in known)
        return dataclasses.replace(self, anchors=self.anchors + added)


def vn_certificates() -> list[x509.Certificate]:
    folder = resources.files("verifier.anchors.vn")
    certs = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".pem"):
            certs.extend(_load(entry.read_bytes()))
    return certs


def profile(name: str, *, extra_anchors: Iterable[x509.Certificate] = (), dev_pki=None) -> TrustSet:
    if name == "none":
        base = TrustSet("none", ())
    elif name == "dev":
        if dev_pki is None:
            raise ValueError("the dev trust profile needs the development PKI (dev_pki=...): the "
                             "composition root passes it; production has none")
        base = TrustSet("dev", tuple(dev_pki.trust_roots()))
    elif name == "vn":
        certs = vn_certificates()
        roots = tuple(c for c in certs if c.self_signed != "no")
        subs = tuple(c for c in certs if c.self_signed == "no")
        base = TrustSet("vn", roots, subs)
    else:
        raise ValueError(f"unknown trust profile {name!r}; expected one of {', '.join(PROFILES)}")
    return base.with_anchors(extra_anchors)


class TrustStore:
    """A folder of extra anchors an administrator adds and removes (PEM files named by fingerprint)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def list(self) -> list[x509.Certificate]:
        if not self.directory.is_dir():
            return []
        return load_certificates(sorted(self.directory.glob("*.pem")))

    def add(self, cert: x509.Certificate) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{fingerprint(cert)}.pem"
        tmp = path.with_suffix(".part")
        tmp.write_bytes(pem.armor("CERTIFICATE", cert.dump()))
        tmp.replace(path)
        return path

    def remove(self, sha256: str) -> bool:
        sha256 = sha256.lower().replace(":", "")
        removed = False
        for path in self.directory.glob("*.pem"):
            for cert in _load(path.read_bytes()):
                if fingerprint(cert) == sha256:
                    path.unlink()
                    removed = True
        return removed
