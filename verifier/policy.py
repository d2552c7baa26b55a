"""How a verification judges: trust, time, algorithms, limits and permitted changes."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Iterable

from asn1crypto import x509

from kyso.fetchguard import FetchGuard
from kyso.network import AnswersAtMoment
from verifier.report import ChangeCategory
from verifier.trust import TrustSet, profile

# Changes after a signature that keep it valid: validation data and document timestamps
# (PAdES LTV), further signatures, filling fields that existed when it was signed (the
# Decree 30 clerk step), and structural bookkeeping. Annotations are NOT permitted by
# default: an annotation can cover signed content (certification attacks work the same on
# approval signatures); a policy may allow them explicitly.
DEFAULT_PERMITTED = frozenset({
    ChangeCategory.VALIDATION_DATA, ChangeCategory.DOCUMENT_TIMESTAMP, ChangeCategory.NEW_SIGNATURE,
    ChangeCategory.FORM_FILLING, ChangeCategory.STRUCTURE,
})

# SHA-1 is accepted in CA certificates issued before this date (every real Vietnamese CA
# certificate is SHA-1-signed), never in end-entity certificates, never as the digest of
# a signature. See docs/verification.md.
DEFAULT_SHA1_CA_CUTOFF = datetime(2020, 1, 1, tzinfo=timezone.utc)


@dataclasses.dataclass(frozen=True, kw_only=True)
class VerificationPolicy:
    trust: TrustSet
    validation_time: datetime | None = None     # None: now
    offline: bool = False                      # never fetch OCSP/CRL/certificates
    permitted_changes: frozenset[ChangeCategory] = DEFAULT_PERMITTED
    sha1_ca_cutoff: datetime | None = None     # None: SHA-1 refused everywhere
    weak_digests: frozenset[str] = frozenset({"md2", "md5", "sha1"})
    require_decree30: bool = False             # make a missing personal/agency pair fail the verdict
    max_bytes: int = 200 * 1024 * 1024
    max_pages: int = 10_000
    max_revisions: int = 500
    max_signatures: int = 200
    time_budget_seconds: float = 60.0
    http_timeout_seconds: float = 10.0
    # services answering as of the validation time (kyso.network; the dev profile's: the development PKI)
    answers_at_moment: AnswersAtMoment | None = dataclasses.field(default=None, repr=False, compare=False)
    # where the fetches a document's certificates ask for may go (kyso.fetchguard); None: anywhere, for
    # a caller that judges only documents it trusts. The service always sets it (office.compose).
    fetch_guard: FetchGuard | None = None

    @classmethod
    def for_profile(cls, name: str, *, extra_anchors: Iterable[x509.Certificate] = (), dev_pki=None,
                    **overrides) -> "VerificationPolicy":
        trust = profile(name, extra_anchors=extra_anchors, dev_pki=dev_pki)
        if name == "vn":
            overrides.setdefault("sha1_ca_cutoff", DEFAULT_SHA1_CA_CUTOFF)
        if name == "dev" and dev_pki is not None:
            overrides.setdefault("answers_at_moment", dev_pki.answers_at_moment())
        return cls(trust=trust, **overrides)

    def describe(self) -> dict:
        return {
            "trust_profile": self.trust.name,
            "trust_anchors": [c.subject.human_friendly for c in self.trust.anchors],
            "validation_time": self.validation_time.isoformat() if self.validation_time else None,
            "offline": self.offline,
            "fetch_allowed": None if self.fetch_guard is None else ["public addresses", *self.fetch_guard.allow],
            "permitted_changes": sorted(c.value for c in self.permitted_changes),
            "sha1_ca_cutoff": self.sha1_ca_cutoff.isoformat() if self.sha1_ca_cutoff else None,
            "require_decree30": self.require_decree30,
            "limits": {"max_bytes": self.max_bytes, "max_pages": self.max_pages,
                       "max_revisions": self.max_revisions, "time_budget_seconds": self.time_budget_seconds},
        }
