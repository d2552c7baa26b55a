"""HAZMAT: a certificate path whose only fault is missing revocation information is "try later",
not a broken chain, and it is judged whole before that is said.

pyhanko-certvalidator checks each certificate of a path from the anchor down: its signature, its
validity, its revocation status, then its names and extensions; the first failure ends the
validation. pyHanko maps that failure to an AdES sub-indication in
``generic_cms.handle_certvalidator_errors``. Two things were wrong for a path for which no OCSP
response or CRL could be found (``InsufficientRevinfoError``: checked offline, the responder down,
none in the document):

* it falls through to the generic ``PathValidationError`` branch: CERTIFICATE_CHAIN_GENERAL_FAILURE,
  which Kyso told a clerk as "the certificate path could not be validated" about a path that is
  fine. ETSI EN 319 102-1 (5.2.6.4) calls this case TRY_LATER, as pyHanko already does for
  revocation information that is too old (``StaleRevinfoError``) and as EU DSS reports it;
* it stops the validation at the first certificate without revocation information (an
  intermediate CA, usually), so what is wrong below it (the signer's certificate expired, not yet
  valid, a bad signature, a name or an extension) was never looked at: "try later" would then be
  false, since no later attempt can help.

:func:`install` defers a missing-revocation failure (``_check_revocation``) to the end of the path's
validation (``intl_validate_path``): the other checks of every certificate still run, any other
failure is raised as pyHanko would raise it (and mapped as pyHanko maps it), and only a path with
no other fault ends with the deferred revocation failure, which the mapping then reports as
TRY_LATER. Revocation found and saying "revoked" is not deferred. The verdict stays INDETERMINATE
for a path whose only fault is missing revocation information.

It changes internal functions of pyHanko and pyhanko-certvalidator, so it is guarded by the versions
it was checked against (:data:`SUPPORTED`, :data:`SUPPORTED_CERTVALIDATOR`); installed explicitly by
the composition root (``office.compose``).
"""
from __future__ import annotations

import contextvars
import dataclasses

from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.validation import generic_cms
from pyhanko_certvalidator import validate
from pyhanko_certvalidator.errors import InsufficientRevinfoError

from hazmat._versions import version as _version

#: pyHanko versions whose ``handle_certvalidator_errors`` (and its result class) this was checked against
SUPPORTED = ("0.38.",)
#: pyhanko-certvalidator versions whose ``intl_validate_path`` and ``_check_revocation`` this was checked against
SUPPORTED_CERTVALIDATOR = ("0.33.",)

_original = generic_cms.handle_certvalidator_errors
_original_check_revocation = validate._check_revocation
_original_validate_path = validate.intl_validate_path

# the missing-revocation failures of the path being validated (one list per validation: an OCSP
# responder's or a CRL issuer's own path, validated inside it, has its own)
_deferred: contextvars.ContextVar[list | None] = contextvars.ContextVar("kyso_deferred_revinfo", default=None)


async def _check_revocation(cert, validation_context, path, proc_state):
    try:
        return await _original_check_revocation(cert=cert, validation_context=validation_context, path=path,
                                                proc_state=proc_state)
    except InsufficientRevinfoError as exc:
        deferred = _deferred.get()
        if deferred is None:
            raise
        deferred.append(exc)


async def intl_validate_path(*args, **kwargs):
    deferred: list[InsufficientRevinfoError] = []
    token = _deferred.set(deferred)
    try:
        result = await _original_validate_path(*args, **kwargs)
    finally:
        _deferred.reset(token)
    if deferred:
        raise deferred[0]       # the first certificate from the anchor down that lacked it, as before
    return result


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


def supported(version: str | None = None, certvalidator: str | None = None) -> bool:
    return ((version or _version("pyHanko")).startswith(SUPPORTED)
            and (certvalidator or _version("pyhanko-certvalidator")).startswith(SUPPORTED_CERTVALIDATOR))


def install() -> bool:
    """Judge a path whole before saying its revocation status is unknown, and say it as TRY_LATER, in
    this process (idempotent); False (and nothing changed) on versions it was not checked against."""
    if not supported():
        return False
    validate._check_revocation = _check_revocation
    validate.intl_validate_path = intl_validate_path
    generic_cms.handle_certvalidator_errors = handle_certvalidator_errors
    return True


def installed() -> bool:
    return generic_cms.handle_certvalidator_errors is handle_certvalidator_errors


def uninstall() -> None:
    validate._check_revocation = _original_check_revocation
    validate.intl_validate_path = _original_validate_path
    generic_cms.handle_certvalidator_errors = _original
