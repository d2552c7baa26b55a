"""The verifier's results: immutable, serialisable, independent of pyHanko's objects.

Schema ``kyso.verification/1`` (documented in docs/verification.md). Every
type has ``to_dict()``; :func:`VerificationReport.from_dict` reads it back.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Any

SCHEMA = "kyso.verification/1"


class Verdict(str, enum.Enum):
    VALID = "valid"
    INVALID = "invalid"
    INDETERMINATE = "indeterminate"
    UNSIGNED = "unsigned"


class Indication(str, enum.Enum):
    """ETSI EN 319 102-1 main indications."""

    TOTAL_PASSED = "TOTAL_PASSED"
    TOTAL_FAILED = "TOTAL_FAILED"
    INDETERMINATE = "INDETERMINATE"


class SubIndication(str, enum.Enum):
    """ETSI EN 319 102-1 sub-indications used by Kyso."""

    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    POLICY_PROCESSING_ERROR = "POLICY_PROCESSING_ERROR"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    TRY_LATER = "TRY_LATER"
    NO_POE = "NO_POE"
    TIMESTAMP_ORDER_FAILURE = "TIMESTAMP_ORDER_FAILURE"
    GENERIC = "GENERIC"


class ChangeCategory(str, enum.Enum):
    """What a later revision did, object by object."""

    VALIDATION_DATA = "validation_data"        # DSS, VRI, OCSP/CRL/certificate streams
    DOCUMENT_TIMESTAMP = "document_timestamp"
    NEW_SIGNATURE = "new_signature"
    FORM_FILLING = "form_filling"              # value/appearance of a field that existed before
    ANNOTATION = "annotation"
    PAGE_CONTENT = "page_content"
    STRUCTURE = "structure"                    # xref/object streams, metadata, harmless bookkeeping
    OTHER = "other"


@dataclasses.dataclass(frozen=True)
class Reason:
    """One reason, readable by a clerk in Vietnamese and English, with a stable code."""

    code: str
    en: str
    vi: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "en": self.en, "vi": self.vi}


@dataclasses.dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    serial: str                  # hex
    not_before: str              # ISO 8601
    not_after: str
    sha256: str                  # fingerprint, hex
    signature_algorithm: str     # e.g. "sha256_rsa", "sha1_rsa"
    is_trust_anchor: bool = False
    subject_fields: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class SignerInfo:
    common_name: str | None
    organization: str | None
    title: str | None
    subject: str
    subject_fields: dict[str, str]
    serial: str
    issuer: str
    certificate_type: str        # "personal" | "organisation" | "unknown"
    key_usage: tuple[str, ...]
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["key_usage"] = list(self.key_usage)
        return d


@dataclasses.dataclass(frozen=True)
class TimestampInfo:
    time: str                    # ISO 8601
    tsa: str | None              # TSA certificate subject
    intact: bool
    valid: bool
    trusted: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class RevocationInfo:
    status: str                  # "good" | "revoked" | "unknown" | "not_checked"
    source: str | None           # "dss" | "cms" | "fetched" | None
    checked_at: str | None       # validation time used
    revoked_at: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Change:
    """What one later revision changed, as seen from a signature."""

    revision: int
    category: ChangeCategory
    description: str
    objects: tuple[str, ...] = ()
    permitted_by_docmdp: bool = True
    permitted_by_policy: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"revision": self.revision, "category": self.category.value, "description": self.description,
                "objects": list(self.objects), "permitted_by_docmdp": self.permitted_by_docmdp,
                "permitted_by_policy": self.permitted_by_policy}


@dataclasses.dataclass(frozen=True)
class SignatureReport:
    field: str
    kind: str                    # "signature" | "document_timestamp"
    indication: Indication
    sub_indication: SubIndication | None
    reason: Reason               # the one-line bottom line
    intact: bool | None          # digest recomputed and equal
    crypto_valid: bool | None    # signature value verifies
    trusted: bool | None         # path to a trust anchor under the policy
    coverage: str                # "entire_file" | "entire_revision" | "partial"
    revision: int                # 0-based revision the signature covers
    modifications_after: tuple[Change, ...]
    signer: SignerInfo | None
    chain: tuple[CertificateInfo, ...]
    signing_time: str | None     # claimed (/M or CMS signing-time)
    timestamp: TimestampInfo | None
    revocation: RevocationInfo
    level: str                   # "B-B" | "B-T" | "B-LT" | "B-LTA" | "adbe.pkcs7.detached" | ...
    subfilter: str | None
    digest_algorithm: str | None
    signature_algorithm: str | None
    docmdp: int | None           # 1, 2, 3 when this is a certification signature
    byte_range: tuple[int, ...]
    problems: tuple[Reason, ...] = ()
    proof_of_existence: str | None = None   # earliest time a trusted timestamp proves (ISO 8601)
    proof_source: str | None = None         # "signature_timestamp" | "document_timestamp" | "own_time"
    validated_at: str | None = None         # the time the certificate path was judged as of
    warnings: tuple[Reason, ...] = ()       # odd but not less valid (signing time off, BER, order...)

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field, "kind": self.kind, "indication": self.indication.value,
            "sub_indication": self.sub_indication.value if self.sub_indication else None,
            "reason": self.reason.to_dict(), "intact": self.intact, "crypto_valid": self.crypto_valid,
            "trusted": self.trusted, "coverage": self.coverage, "revision": self.revision,
            "modifications_after": [c.to_dict() for c in self.modifications_after],
            "signer": self.signer.to_dict() if self.signer else None,
            "chain": [c.to_dict() for c in self.chain], "signing_time": self.signing_time,
            "timestamp": self.timestamp.to_dict() if self.timestamp else None,
            "revocation": self.revocation.to_dict(), "level": self.level, "subfilter": self.subfilter,
            "digest_algorithm": self.digest_algorithm, "signature_algorithm": self.signature_algorithm,
            "docmdp": self.docmdp, "byte_range": list(self.byte_range),
            "problems": [p.to_dict() for p in self.problems],
            "proof_of_existence": self.proof_of_existence, "proof_source": self.proof_source,
            "validated_at": self.validated_at, "warnings": [w.to_dict() for w in self.warnings],
        }


@dataclasses.dataclass(frozen=True)
class Decree30Check:
    status: str   # "ok" | "personal_only" | "agency_only" | "wrong_order" | "missing" | "not_valid" | "not_applicable"
    personal_field: str | None
    agency_field: str | None
    reason: Reason

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "personal_field": self.personal_field, "agency_field": self.agency_field,
                "reason": self.reason.to_dict()}


@dataclasses.dataclass(frozen=True)
class VerificationReport:
    file: str | None
    sha256: str | None
    size: int | None
    verdict: Verdict
    reasons: tuple[Reason, ...]
    signatures: tuple[SignatureReport, ...]
    decree30: Decree30Check | None
    revisions: int
    last_revision_covered: bool   # a signature or document timestamp covers the whole file
    validation_time: str
    policy: dict[str, Any]
    duration_ms: float = 0.0
    evidence: dict[str, Any] | None = None   # with verify(..., evidence=True): DER of what the verdict rests on

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "file": self.file, "sha256": self.sha256, "size": self.size,
            "verdict": self.verdict.value, "reasons": [r.to_dict() for r in self.reasons],
            "signatures": [s.to_dict() for s in self.signatures],
            "decree30": self.decree30.to_dict() if self.decree30 else None,
            "revisions": self.revisions, "last_revision_covered": self.last_revision_covered,
            "validation_time": self.validation_time, "policy": self.policy, "duration_ms": round(self.duration_ms, 1),
            "outcome": self.outcome,
            **({"evidence": self.evidence} if self.evidence is not None else {}),
        }

    @property
    def outcome(self) -> dict[str, str]:
        """What a person is told first (see :func:`outcome`)."""
        return outcome(self.verdict.value, self.decree30.status if self.decree30 else None)


# The headline a person reads, from the two facts: the signatures' verdict and the Decree 30 pair.
# One table, read top to bottom; a document is shown green only when its signatures are valid AND,
# where it carries signatures at all, the competent person's and the agency's are both there.
_OUTCOMES: tuple[tuple[str, frozenset[str] | None, str, str, str, str], ...] = (
    # verdict,         decree30 statuses (None: any), code,             colour,  Vietnamese, English
    ("invalid", None, "invalid", "red", "KHÔNG HỢP LỆ", "NOT VALID"),
    ("indeterminate", None, "indeterminate", "amber", "CHƯA XÁC ĐỊNH", "INDETERMINATE"),
    ("unsigned", None, "unsigned", "grey", "KHÔNG CÓ CHỮ KÝ", "UNSIGNED"),
    ("valid", frozenset({"ok", "not_applicable", "agency_only", "missing"}), "valid", "green", "HỢP LỆ", "VALID"),
    ("valid", frozenset({"personal_only"}), "not_issued", "amber", "CHƯA BAN HÀNH (thiếu chữ ký số của cơ quan)",
     "NOT YET ISSUED (the agency's signature is missing)"),
    ("valid", None, "decree30_incomplete", "amber", "CHƯA ĐỦ THỂ THỨC (Nghị định 30)",
     "INCOMPLETE UNDER DECREE 30"),
)


def outcome(verdict: str, decree30_status: str | None) -> dict[str, str]:
    for rule_verdict, statuses, code, colour, vi, en in _OUTCOMES:
        if rule_verdict == verdict and (statuses is None or (decree30_status or "not_applicable") in statuses):
            return {"code": code, "colour": colour, "vi": vi, "en": en}
    raise ValueError(f"no outcome for verdict {verdict!r}")
