"""HAZMAT: a certificate path without revocation information is "try later", not a broken chain.

pyHanko maps the errors of certificate path validation to AdES sub-indications in
``generic_cms.handle_certvalidator_errors``. A path that could be built and whose certificates
verify, but for which no OCSP response or CRL could be found (``InsufficientRevinfoError``: the
responder is down, the check is offline, the document carries none), falls through to the generic
``PathValidationError`` branch and comes out as ``CERTIFICATE_CHAIN_GENERAL_FAILURE``; Kyso then
told a clerk "the certificate path could not be validated" about a certificate whose path is fine.
ETSI EN 319 102-1 (5.2.6.4) calls this case ``TRY_LATER`` (revocation information not available,
possibly later), as pyHanko already does for revocation information that is too old
(``StaleRevinfoError``), and as EU DSS reports a missing revocation status. :func:`install` wraps
the mapping: when the validation failed with ``InsufficientRevinfoError`` and pyHanko chose the
generic indication, the result says ``TRY_LATER`` instead; nothing else of it changes (the path,
the time horizon), and every other error keeps pyHanko's indication. The verdict stays
INDETERMINATE either way: only its sub-indication and reason become the true ones.

It replaces an internal function, so it is guarded by the pyHanko versions it was checked against
(:data:`SUPPORTED`); installed explicitly by the composition root (``office.compose``).
"""
from __future__ import annotations

import dataclasses

from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.validation import generic_cms
from pyhanko_certvalidator.errors import InsufficientRevinfoError

from hazmat._versions import version as _version

#: pyHanko versions whose ``handle_certvalidator_errors`` (and its result class) this was checked against
SUPPORTED = ("0.38.",)

_original = generic_cms.handle_certvalidator_errors


async def handle_certvalidator_errors(cert, coro):
    missing: list[InsufficientRevinfoError] = []

    async def watched():
        try:
            return await coro
        except InsufficientRevinfoError as exc:
            missing.append(exc)
            raise

    result = await _original(cert=cert, coro=watched())
    if missing and result.error_subindic is AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE:
        result = dataclasses.replace(result, error_subindic=AdESIndeterminate.TRY_LATER)
    return result


def supported(version: str | None = None) -> bool:
    return (version or _version("pyHanko")).startswith(SUPPORTED)


def install() -> bool:
    """Report a path without revocation information as TRY_LATER in this process (idempotent); False
    (and nothing changed) on a pyHanko version it was not checked against."""
    if not supported():
        return False
    generic_cms.handle_certvalidator_errors = handle_certvalidator_errors
    return True


def installed() -> bool:
    return generic_cms.handle_certvalidator_errors is handle_certvalidator_errors


def uninstall() -> None:
    generic_cms.handle_certvalidator_errors = _original
