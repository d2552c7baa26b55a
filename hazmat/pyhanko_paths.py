"""HAZMAT: a place in pyHanko's signature validation where a validated certificate path can be
remembered and recalled.

pyHanko validates the signer's (and a timestamp authority's) certificate path in
``pyhanko.sign.validation.generic_cms.validate_cert_usage`` by calling ``find_valid_path``, an
internal import of that module: path building, the signature on every certificate, and the
revocation check of each (an OCSP response's own signature and its responder's path). An office
receives from a few hundred agencies, so the same few paths are validated again for every
document.

:func:`install` replaces ``generic_cms.find_valid_path`` with a function that asks the
validation context's path memory first. A context has one only when its owner attached one
(Kyso's verifier does, in ``verifier.pathcache``); every other context, stock
pyHanko's included, is validated exactly as before. :func:`install` takes the function that finds a
context's memory (the composition root passes ``verifier.pathcache.memory_of``), so neither package
imports the other. What may be recalled, and for how long, is the memory's business: this module
only offers the place, and tells the memory what pyHanko found.

The replaced name is internal to pyHanko, so the patch is guarded by the versions it was checked
against (:data:`SUPPORTED`); on another version :func:`install` leaves pyHanko alone and returns
False. Install it explicitly (``office.compose.install_hazmat``), never by importing.
"""
from __future__ import annotations

from hazmat._versions import version as _version
from typing import Callable, Protocol

from pyhanko.sign.validation import generic_cms

__all__ = ["SUPPORTED", "PathMemory", "install", "installed", "supported", "uninstall"]

#: pyHanko versions whose ``generic_cms.find_valid_path`` call this hook was checked against
SUPPORTED = ("0.38.",)

_original = generic_cms.find_valid_path


class PathMemory(Protocol):
    def key(self, certificate, validation_context):
        """What a path for ``certificate`` under this context depends on, taken before pyHanko
        validates (validation adds certificates to the context), or None: not to be remembered."""

    def recall(self, key, validation_context):
        """A path validated earlier under ``key`` that holds at this context's moment, or None."""

    def remember(self, key, validation_context, path) -> None:
        """pyHanko validated ``path`` under ``key``, in this context."""


def _no_memory(validation_context) -> PathMemory | None:
    return None


_memory_of: Callable[[object], PathMemory | None] = _no_memory


async def find_valid_path(certificate, paths, validation_context, pkix_validation_params=None):
    memory = _memory_of(validation_context)
    if memory is None or pkix_validation_params is not None:
        return await _original(certificate, paths, validation_context=validation_context,
                               pkix_validation_params=pkix_validation_params)
    key = memory.key(certificate, validation_context)
    path = memory.recall(key, validation_context) if key is not None else None
    if path is not None:
        await paths.cancel()
        validation_context.record_validation(certificate, path)
        return path
    path = await _original(certificate, paths, validation_context=validation_context,
                           pkix_validation_params=pkix_validation_params)
    if key is not None:
        memory.remember(key, validation_context, path)
    return path


def supported(version: str | None = None) -> bool:
    return (version or _version("pyHanko")).startswith(SUPPORTED)


def install(memory_of: Callable[[object], PathMemory | None]) -> bool:
    """Consult the memory ``memory_of(context)`` finds for each validation context in this process
    (idempotent); False (and nothing changed) on a pyHanko version it was not checked against."""
    global _memory_of
    if not supported():
        return False
    _memory_of = memory_of
    generic_cms.find_valid_path = find_valid_path
    return True


def installed() -> bool:
    return generic_cms.find_valid_path is find_valid_path


def uninstall() -> None:
    global _memory_of
    generic_cms.find_valid_path = _original
    _memory_of = _no_memory
