"""How strictly to sign: the signing policy, an explicit object."""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterable

from asn1crypto import x509

from kyso.fetchguard import FetchGuard
from kyso.network import AnswersAtMoment
from signer.keyholders import RSA_PADDINGS

REQUIRED_KEY_USAGE = frozenset({"digital_signature", "non_repudiation"})


@dataclasses.dataclass(frozen=True, kw_only=True)
class SigningPolicy:
    """What the engine checks and uses when it signs.

    * ``trust_roots``: anchors the signer's certificate must chain to (and
      that the OCSP/CRL answers are checked against).
    * ``tsa_url``: RFC 3161 time-stamping authority for B-T and above.
    * ``rsa_padding``: ``"pkcs1v15"`` or ``"pss"`` (RSASSA-PSS, preferred by
      the 2025 Vietnamese rules) for RSA keys; ECDSA keys ignore it.
    * ``check_revocation``: refuse a revoked certificate, asking OCSP or the
      CRL (hard fail: an unreachable responder refuses the signature).
    * ``revocation_max_age_seconds``: a good answer about the signer's
      certificate (chain and OCSP/CRL status) is reused for later signatures
      only while it is younger than this (default 60 s) and its OCSP response
      or CRL is still before its own nextUpdate; 0 asks for every signature.
    * ``refuse_certificate``: a test that refuses signer certificates (and
      trust anchors) it recognises, with the reason it gives; the composition
      root passes the development-material detector in production.
    * ``answers_at_moment``: services that answer OCSP, CRL and TSA questions
      as of the operation's moment (``kyso.network``; the development PKI's,
      set by :meth:`for_dev_pki`). None: the real services, each as of its now.

    Use :meth:`dangerous_skip_certificate_checks` only to produce test
    fixtures (for example a document signed by a revoked certificate).
    """

    trust_roots: tuple[x509.Certificate, ...] = ()
    tsa_url: str | None = None
    rsa_padding: str = "pkcs1v15"
    md_algorithm: str = "sha256"
    required_key_usage: frozenset[str] = REQUIRED_KEY_USAGE
    check_validity: bool = True
    check_key_usage: bool = True
    check_chain_and_revocation: bool = True
    revocation_max_age_seconds: float = 60.0
    http_timeout_seconds: float = 10.0
    refuse_certificate: Callable[[x509.Certificate], bool] | None = dataclasses.field(default=None, repr=False)
    answers_at_moment: AnswersAtMoment | None = dataclasses.field(default=None, repr=False)
    tsa_auth: tuple[str, str] | None = dataclasses.field(default=None, repr=False)   # HTTP Basic for the TSA
    # where OCSP, CRL and issuer-certificate fetches may go (kyso.fetchguard): an uploaded document's
    # certificates name their own addresses (extend, renew); None: anywhere (answers_at_moment aside)
    fetch_guard: FetchGuard | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "trust_roots", tuple(self.trust_roots))
        if self.refuse_certificate is not None and self.answers_at_moment is not None:
            raise ValueError("a production policy (refusing development material) asks the real services")
        if self.rsa_padding not in RSA_PADDINGS:
            raise ValueError(f"rsa_padding must be one of {RSA_PADDINGS}")
        if not 0 <= self.revocation_max_age_seconds <= 3600:
            raise ValueError("revocation_max_age_seconds must be between 0 and 3600")
        if self.md_algorithm not in ("sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512"):
            raise ValueError(f"digest algorithm {self.md_algorithm!r} is not allowed for new signatures")

    @classmethod
    def for_dev_pki(cls, pki, **overrides) -> "SigningPolicy":
        """Policy for the development PKI (``pki``: a ``devpki.DevPKI``): its roots, its TSA, its
        services answering as of the operation's moment."""
        values = dict(trust_roots=tuple(pki.trust_roots()), tsa_url=pki.tsa_url,
                      answers_at_moment=pki.answers_at_moment())
        values.update(overrides)
        return cls(**values)

    @classmethod
    def for_production(cls, trust_roots: Iterable[x509.Certificate], *, tsa_url: str | None,
                       refuse_certificate: Callable[[x509.Certificate], bool],
                       rsa_padding: str = "pkcs1v15", revocation_max_age_seconds: float = 60.0,
                       tsa_auth: tuple[str, str] | None = None,
                       fetch_guard: FetchGuard | None = None) -> "SigningPolicy":
        """Production policy: every check on, and no certificate ``refuse_certificate`` recognises
        (the composition root passes the development-material detector) as anchor or signer."""
        roots = tuple(trust_roots)
        dev = [r.subject.human_friendly for r in roots if refuse_certificate(r)]
        if dev:
            from kyso.errors import ConfigurationError

            raise ConfigurationError("development trust anchors are refused in production: " + "; ".join(dev),
                                     message_vi="Môi trường vận hành không chấp nhận chứng thư gốc thử nghiệm.")
        return cls(trust_roots=roots, tsa_url=tsa_url, rsa_padding=rsa_padding, refuse_certificate=refuse_certificate,
                   revocation_max_age_seconds=revocation_max_age_seconds, tsa_auth=tsa_auth,
                   fetch_guard=fetch_guard)

    @classmethod
    def with_trust(cls, trust_roots: Iterable[x509.Certificate], *, tsa_url: str | None,
                   rsa_padding: str = "pkcs1v15") -> "SigningPolicy":
        return cls(trust_roots=tuple(trust_roots), tsa_url=tsa_url, rsa_padding=rsa_padding)

    def dangerous_skip_certificate_checks(self) -> "SigningPolicy":
        """A copy that signs with ANY certificate: expired, revoked, untrusted.

        Only for producing test documents; never use it to serve users.
        """
        return dataclasses.replace(self, check_validity=False, check_key_usage=False,
                                   check_chain_and_revocation=False)
