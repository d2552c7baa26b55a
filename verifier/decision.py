"""The bottom line of one signature, derived from its facts in one table.

The verifier first collects what it found out about a signature (:class:`SignatureFacts`):
integrity, the signature value, coverage, what changed after it, the state of its container
and carried data, the algorithms, and the outcome of its certificate path as of the best
time (now, or the time a proof of existence establishes). :func:`decide` reads the table
top to bottom; the first row whose condition holds gives the ETSI indication, the
sub-indication and the one-line reason. Nothing changes the result afterwards.

The rows, in order (tests/test_decision.py exercises each):

==  ==========================================  ===============  ==========================
#   condition                                   indication       sub-indication
==  ==========================================  ===============  ==========================
1   digest does not match                       TOTAL_FAILED     HASH_FAILURE
2   signature value does not verify             TOTAL_FAILED     SIG_CRYPTO_FAILURE
3   byte range leaves part of its revision      TOTAL_FAILED     FORMAT_FAILURE
4   a later change is not permitted             TOTAL_FAILED     FORMAT_FAILURE
5   path failed (revoked before the proof...)   TOTAL_FAILED     REVOKED / from the path
6   container altered (certificate swapped)     TOTAL_FAILED     FORMAT_FAILURE
7   later updates cannot be read                INDETERMINATE    GENERIC
8   signature digest is weak (SHA-1...)         INDETERMINATE    CRYPTO_CONSTRAINTS_FAILURE
9   validation time before every proof          INDETERMINATE    NO_POE
10  path indeterminate (no chain, expired...)   INDETERMINATE    from the path
11  weak algorithm on the path                  INDETERMINATE    CRYPTO_CONSTRAINTS_FAILURE
12  signature timestamp does not validate       INDETERMINATE    GENERIC
13  carried validation data damaged             INDETERMINATE    GENERIC
14  otherwise                                   TOTAL_PASSED     -
==  ==========================================  ===============  ==========================
"""
from __future__ import annotations

import dataclasses

from verifier import revisions as rev
from verifier.reasons import reason
from verifier.report import Change, Indication, Reason, SubIndication, Verdict


@dataclasses.dataclass(frozen=True)
class PathOutcome:
    """The certificate path as judged at the time that counts: ``indication`` None when it passed."""

    indication: Indication | None
    sub: SubIndication | None = None
    reason: Reason | None = None

    PASSED: "PathOutcome" = None  # type: ignore[assignment]  # set below


PathOutcome.PASSED = PathOutcome(None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SignatureFacts:
    kind: str                                  # "signature" | "document_timestamp"
    intact: bool
    crypto_valid: bool
    coverage: str                              # "entire_file" | "entire_revision" | "partial"
    not_permitted: tuple[Change, ...] = ()
    altered: str | None = None                 # the container was tampered with
    weak_signature_digest: str | None = None   # the signature's own digest algorithm is weak
    before_proof: tuple[str, str | None] | None = None   # (validation time, earliest proof or None) when the
                                                         # validation time precedes every proof of existence
    path: PathOutcome = PathOutcome.PASSED
    path_algorithm_problem: str | None = None
    timestamp_problem: bool = False            # a signature timestamp is present and does not validate
    damaged: str | None = None                 # carried certificates/OCSP/CRL/DSS damaged
    changes_unknown: str | None = None         # the later updates could not be read


def _modified(f: SignatureFacts):
    worst = max(f.not_permitted, key=lambda c: rev.severity(c.category))
    return (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
            reason("modified_after_signing", f"{worst.category.value}: {worst.description}"))


def _path(f: SignatureFacts):
    return f.path.indication, f.path.sub, f.path.reason


def _passed(f: SignatureFacts):
    if f.kind == "document_timestamp":
        return Indication.TOTAL_PASSED, None, reason("timestamp_valid")
    return Indication.TOTAL_PASSED, None, reason("valid")


# (row, condition, outcome): read top to bottom, the first that holds decides
TABLE = (
    (1, lambda f: not f.intact,
     lambda f: (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE, reason("hash_failure"))),
    (2, lambda f: not f.crypto_valid,
     lambda f: (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE, reason("sig_crypto_failure"))),
    (3, lambda f: f.coverage == "partial",
     lambda f: (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, reason("format_failure"))),
    (4, lambda f: bool(f.not_permitted), _modified),
    (5, lambda f: f.path.indication is Indication.TOTAL_FAILED, _path),
    (6, lambda f: f.altered is not None,
     lambda f: (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, reason("cannot_judge", f.altered))),
    (7, lambda f: f.changes_unknown is not None,
     lambda f: (Indication.INDETERMINATE, SubIndication.GENERIC, reason("cannot_judge", f.changes_unknown))),
    (8, lambda f: f.weak_signature_digest is not None,
     lambda f: (Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                reason("crypto_constraints", f.weak_signature_digest))),
    (9, lambda f: f.before_proof is not None, lambda f: (Indication.INDETERMINATE, SubIndication.NO_POE, (
        reason("before_proof", f"{f.before_proof[0]} < {f.before_proof[1]}") if f.before_proof[1]
        else reason("no_proof", f.before_proof[0])))),
    (10, lambda f: f.path.indication is Indication.INDETERMINATE, _path),
    (11, lambda f: f.path_algorithm_problem is not None,
     lambda f: (Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                reason("crypto_constraints", f.path_algorithm_problem))),
    (12, lambda f: f.timestamp_problem,
     lambda f: (Indication.INDETERMINATE, SubIndication.GENERIC, reason("chain_failure", "signature timestamp"))),
    (13, lambda f: f.damaged is not None,
     lambda f: (Indication.INDETERMINATE, SubIndication.GENERIC, reason("cannot_judge", f.damaged))),
    (14, lambda f: True, _passed),
)


def decide(facts: SignatureFacts) -> tuple[Indication, SubIndication | None, Reason]:
    return decide_row(facts)[1:]


def decide_row(facts: SignatureFacts) -> tuple[int, Indication, SubIndication | None, Reason]:
    """The row that decides, with its outcome (for tests and the report's trace)."""
    for row, condition, outcome in TABLE:
        if condition(facts):
            indication, sub, why = outcome(facts)
            return row, indication, sub, why
    raise AssertionError("the last row always holds")


# -- the document ---------------------------------------------------------------------------------

DECREE30_NOT_ISSUED = frozenset({"personal_only", "wrong_order", "not_valid"})


@dataclasses.dataclass(frozen=True, kw_only=True)
class DocumentFacts:
    signatures: int                  # signatures and document timestamps judged
    hidden_signature: bool = False   # signature bytes in the file that no field of the document uses
    failed: int = 0                  # TOTAL_FAILED among them
    indeterminate: int = 0           # INDETERMINATE among them
    uncovered_change: bool = False   # a change after the last signature that nothing permits
    decree30_status: str = "not_applicable"
    require_decree30: bool = False   # the policy makes an unissued Decree 30 pair fail


# (row, condition, verdict, reason code): the document's verdict, first row that holds
DOCUMENT_TABLE = (
    (1, lambda d: d.signatures == 0 and d.hidden_signature, Verdict.INDETERMINATE, "hidden_signature"),
    (2, lambda d: d.signatures == 0, Verdict.UNSIGNED, "unsigned"),
    (3, lambda d: d.failed > 0, Verdict.INVALID, "doc_invalid"),
    (4, lambda d: d.indeterminate > 0, Verdict.INDETERMINATE, "doc_indeterminate"),
    (5, lambda d: d.uncovered_change, Verdict.INVALID, "unsigned_tail"),
    (6, lambda d: d.require_decree30 and d.decree30_status in DECREE30_NOT_ISSUED, Verdict.INVALID,
     "decree30_required"),
    (7, lambda d: True, Verdict.VALID, "doc_valid"),
)


def decide_document(facts: DocumentFacts) -> tuple[int, Verdict, Reason]:
    for row, condition, verdict, code in DOCUMENT_TABLE:
        if condition(facts):
            return row, verdict, reason(code)
    raise AssertionError("the last row always holds")
