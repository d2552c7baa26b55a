"""Checking files at the command line (``kyso verify``): read-only, no account, no database;
nothing is written unless the caller asks for a record (then through the office)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from kyso.settings import Settings


def check_files(settings: Settings, paths: list[Path], *, trust_profile: str | None = None, trust_files=(),
                at=None, offline: bool = False) -> Iterator[tuple[Path, dict]]:
    """Each file's verification report under the settings' trust (or ``trust_profile``)."""
    from office.compose import install_hazmat, verification_policy
    from verifier import verify

    install_hazmat()
    policy = verification_policy(settings, trust_profile=trust_profile, trust_files=trust_files, at=at,
                                 offline=offline)
    for path in paths:
        yield path, verify(path, policy=policy, file_name=str(path)).to_dict()


def policy_trust_name(settings: Settings, trust_profile: str | None) -> str:
    return trust_profile or settings.trust_profile
