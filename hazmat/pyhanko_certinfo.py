"""HAZMAT: pyHanko's extraction of a signature's certificates, done once per signature.

To validate one embedded signature, pyHanko extracts the signer's certificate from the CMS
container twice (``generic_cms.extract_certs_for_validation``: from ``cms_basic_validation``, then
again for ``EmbeddedPdfSignature.embedded_attr_certs``), each time matching the signer identifier
against every carried certificate and checking the signing-certificate attribute. The result is a
function of the container alone, which nothing changes during a validation: :func:`install`
remembers it per container object (weakly: it goes with the container) and hands the same
result to the second caller. A container whose extraction fails is extracted (and fails) again.
The certificates extracted may be exchanged for shared objects of the same encoding (:func:`install`).

It replaces an internal function, so it is guarded by the pyHanko versions it was checked against
(:data:`SUPPORTED`); installed explicitly by the composition root (``office.compose``).
"""
from __future__ import annotations

import dataclasses
import threading
import weakref
from importlib.metadata import version as _version

from pyhanko.sign.validation import generic_cms

#: pyHanko versions whose ``extract_certs_for_validation`` (and its two callers) this was checked against
SUPPORTED = ("0.38.",)

_original = generic_cms.extract_certs_for_validation
_extracted: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_share = None


def extract_certs_for_validation(signed_data):
    with _lock:
        found = _extracted.get(signed_data)
    if found is not None:
        return found
    found = _original(signed_data)
    share = _share
    if share is not None:
        found = dataclasses.replace(found, signer_cert=share(found.signer_cert),
                                    other_certs=[share(c) for c in found.other_certs])
    with _lock:
        _extracted[signed_data] = found
    return found


def supported(version: str | None = None) -> bool:
    return (version or _version("pyHanko")).startswith(SUPPORTED)


def install(share=None) -> bool:
    """Extract once per container in this process (idempotent); False (and nothing changed) on a
    pyHanko version it was not checked against.

    ``share(certificate)``, when given, returns the certificate to validate with in place of each
    one extracted: an object with exactly the same encoding (``verifier.pathcache.shared_certificate``
    hands out one parsed object per encoding, so that what asn1crypto and pyHanko work out about a
    certificate on first use, its extensions, key identifiers and names, is worked out once)."""
    global _share
    if not supported():
        return False
    _share = share
    generic_cms.extract_certs_for_validation = extract_certs_for_validation
    return True


def installed() -> bool:
    return generic_cms.extract_certs_for_validation is extract_certs_for_validation


def uninstall() -> None:
    generic_cms.extract_certs_for_validation = _original
