"""Checking files at the command line (``kyso verify``): read-only, no account, no database;
nothing is written unless the caller asks for a record (then through the office)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kyso.settings import Settings


def check_files(settings: Settings, paths: list[Path], *, trust_profile: str | None = None, trust_files=(),
                at=None, offline: bool = False, require_decree30: bool = False,
                settle_setup: bool = True) -> Iterator[tuple[Path, dict]]:
    """Each file's verification report under the settings' trust (or ``trust_profile``).
    ``settle_setup``: before many files, freeze what the set-up built (a one-off process; a
    long-lived one settles once, at its warm-up, and not what each request builds)."""
    from kyso.process import settle
    from office.compose import install_hazmat, verification_policy
    from verifier import verify

    install_hazmat()
    policy = verification_policy(settings, trust_profile=trust_profile, trust_files=trust_files, at=at,
                                 offline=offline, require_decree30=require_decree30)
    if settle_setup and len(paths) > 1:
        settle()
    for path in paths:
        yield path, verify(path, policy=policy, file_name=str(path)).to_dict()


def forget_fetched() -> None:
    """Drop the OCSP responses, CRLs and certificates this process fetched for earlier verifications:
    the next one asks the responders again, as a fresh process would (``kyso verify``'s helper, before
    each command's request). Certificate paths validated with those answers go with them (they are
    remembered per set of fetched answers); what stays is what only the files and the trust store
    decide (paths validated from a document's own revocation data, parsed certificates), remembered
    under the rules of :mod:`verifier.pathcache` exactly as between the files of one command."""
    from verifier.fetching import DEFAULT_POOL

    DEFAULT_POOL.reset()


def policy_trust_name(settings: Settings, trust_profile: str | None) -> str:
    return trust_profile or settings.trust_profile


def signed_revision(data: bytes, field: str) -> bytes:
    """What the signer of ``field`` saw: the revision that signature covers (DocumentNotFound if no
    such signature)."""
    from office.errors import DocumentNotFound
    from verifier.extract import RevisionNotFound
    from verifier.extract import signed_revision as extract

    try:
        return extract(data, field)
    except RevisionNotFound as exc:
        raise DocumentNotFound(str(exc)[:300], detail={"field": field[:100]}) from None


def trust_anchors(settings: Settings) -> list[dict]:
    """The vn profile's anchors: the built-in Vietnamese roots and those an administrator added."""
    from verifier.trust import TrustStore, fingerprint, vn_certificates

    return ([{"origin": "built-in", "sha256": fingerprint(c), "subject": c.subject.human_friendly}
             for c in vn_certificates()] +
            [{"origin": "added", "sha256": fingerprint(c), "subject": c.subject.human_friendly}
             for c in TrustStore(settings.trust_dir).list()])
