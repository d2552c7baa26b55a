"""Proof of existence and past signature validation (ETSI EN 319 102-1, 5.6.2 and 5.6.3).

A signature's certificate expires, is revoked years later, or its revocation data goes stale:
judged as of today it becomes "indeterminate". What keeps it valid is a proof that it existed
earlier, while its certificate was good: a trusted timestamp over it (its signature timestamp,
or a document timestamp in a later revision). This module finds that proof and validates the
signer's certificate path as of the proven time, with pyHanko's path validation and the
validation data the document carries (or fetches, when online).

Rules (see docs/verification.md, "Validation at a past time"):

* a timestamp is validated as of its own time (its TSA's path, with revocation data issued
  at or after that time); it counts as a proof when it validates, and its TSA certificate is
  still within its validity now, or a later counted document timestamp covers it (the
  B-LTA chain renews the earlier ones);
* the proof of a signature is the earliest counted timestamp over it;
* a signature indeterminate now for a reason of time (expired, revoked later, stale or
  missing revocation data) is validated again as of its proof; it passes when its path is
  valid and not revoked at that time, and fails (REVOKED) when it was revoked before it;
* a validation time before every proof of the signature cannot be judged (NO_POE): the
  signature is not known to have existed then.

pyHanko's own ``ades_lta_validation`` was measured first and is not used as the bottom line:
on a B-LT document Kyso signed a minute earlier it answers NO_POE (it runs the past validation
even when the current-time result passed, and requires a proof of existence for every
certificate of the DSS, which only a later document timestamp gives), and offline in 2036 it
answers TRY_LATER for B-LTA because it requires fresh revocation data for the newest TSA.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from pyhanko.sign.validation.generic_cms import (
    extract_tst_data_iter,
    message_imprint_checker,
    validate_tst_signed_data,
)
from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_timestamp
from pyhanko.sign.validation.status import TimestampSignatureStatus


@dataclasses.dataclass(frozen=True)
class Proof:
    """The signature (or timestamp) existed at ``time``: ``source`` says what proves it."""

    time: datetime
    source: str            # "signature_timestamp" | "document_timestamp" | "own_time"
    revision: int | None = None


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _not_after(cert) -> datetime | None:
    try:
        return _aware(cert["tbs_certificate"]["validity"]["not_after"].native)
    except Exception:  # noqa: BLE001
        return None


def _passes(status) -> bool:
    return bool(status.intact and status.valid and status.trusted)


class DocumentTimestamps:
    """The document timestamps of one document, each validated once as of its own time."""

    def __init__(self, reader, contexts, run) -> None:
        self._contexts = contexts
        self._run = run
        try:
            self._timestamps = sorted(reader.embedded_timestamp_signatures, key=lambda s: s.signed_revision)
        except Exception:  # noqa: BLE001
            self._timestamps = []
        self._counted: list[tuple[int, datetime]] | None = None

    def _own_time_status(self, ts):
        """Validate a document timestamp as of the time it states."""
        try:
            claimed = _aware(ts.signed_data["encap_content_info"]["content"].parsed["gen_time"].native)
        except Exception:  # noqa: BLE001
            return None, None
        vc = self._contexts.make(moment=claimed, fetch_as_of=claimed)

        async def go():
            try:
                return await async_validate_pdf_timestamp(ts, validation_context=vc, skip_diff=True)
            finally:
                await vc.aclose()

        try:
            return self._run(go()), claimed
        except Exception:  # noqa: BLE001 - a timestamp that cannot be validated proves nothing
            return None, claimed

    def counted(self) -> list[tuple[int, datetime]]:
        """(revision, time) of the document timestamps that count as proofs, oldest first."""
        if self._counted is None:
            moment = self._contexts.moment
            counted: list[tuple[int, datetime]] = []
            for ts in reversed(self._timestamps):       # newest first: a later one covers earlier ones
                status, claimed = self._own_time_status(ts)
                if status is None or not _passes(status):
                    continue
                expiry = _not_after(status.signing_cert) if status.signing_cert is not None else None
                covered = any(t <= expiry for _, t in counted) if expiry is not None else False
                if (expiry is not None and expiry >= moment) or covered:
                    counted.append((ts.signed_revision, claimed))
            self._counted = sorted(counted)
        return self._counted

    def proof_after(self, revision: int) -> Proof | None:
        later = [(rev, t) for rev, t in self.counted() if rev > revision]
        if not later:
            return None
        rev, t = min(later, key=lambda x: x[1])
        return Proof(time=t, source="document_timestamp", revision=rev)

    def own_proof(self, revision: int) -> Proof | None:
        """A document timestamp's own time, when it counts (validated as of then, TSA not expired now
        or covered by a later one)."""
        for rev, t in self.counted():
            if rev == revision:
                return Proof(time=t, source="own_time", revision=rev)
        return None


def signature_timestamp_proof(sig, contexts, run) -> Proof | None:
    """The signature's own timestamp, validated as of the time it states, when its TSA
    certificate is still valid now (else only a later document timestamp can vouch for it)."""
    try:
        tokens = list(extract_tst_data_iter(sig.signer_info, signed=False))
    except Exception:  # noqa: BLE001
        return None
    best: Proof | None = None
    for token in tokens:
        try:
            claimed = _aware(token["encap_content_info"]["content"].parsed["gen_time"].native)
        except Exception:  # noqa: BLE001
            continue
        vc = contexts.make(moment=claimed, fetch_as_of=claimed)

        async def go(token=token, vc=vc):
            try:
                return await validate_tst_signed_data(token, vc, message_imprint_checker(sig.signer_info))
            finally:
                await vc.aclose()

        try:
            status = TimestampSignatureStatus(**run(go()))
        except Exception:  # noqa: BLE001
            continue
        if not _passes(status):
            continue
        expiry = _not_after(status.signing_cert) if status.signing_cert is not None else None
        if expiry is None or expiry < contexts.moment:
            # the TSA's certificate has expired: the token alone no longer proves anything
            later = contexts.timestamps.proof_after(sig.signed_revision)
            if later is None or expiry is None or later.time > expiry:
                continue
        if best is None or claimed < best.time:
            best = Proof(time=claimed, source="signature_timestamp")
    return best


def best_proof(sig, contexts, run) -> Proof | None:
    """The earliest proof that ``sig`` existed."""
    candidates = [p for p in (signature_timestamp_proof(sig, contexts, run),
                              contexts.timestamps.proof_after(sig.signed_revision)) if p is not None]
    return min(candidates, key=lambda p: p.time) if candidates else None
