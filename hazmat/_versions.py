"""The installed version of a distribution, read once per process: each patch checks it at every
:func:`office.compose.install_hazmat` (each ``kyso verify`` request its helper answers; reading
the metadata five times cost 1.5 ms of a 7 ms request). The code a process runs is the code it
imported, so the version it imported with is the one that counts."""
from __future__ import annotations

from functools import lru_cache
from importlib.metadata import version as _metadata_version

__all__ = ["version"]


@lru_cache(maxsize=None)
def version(distribution: str) -> str:
    return _metadata_version(distribution)
