"""HAZMAT: pyHanko's extraction of a signature's certificates, done once per signature.

To validate one embedded signature, pyHanko extracts the signer's certificate from the CMS
container twice (``generic_cms.extract_certs_for_validation``: from ``cms_basic_validation``, then
again for ``EmbeddedPdfSignature.embedded_attr_certs``), each time matching the signer identifier
against every carried certificate and checking the signing-certificate attribute. The result is a
function of the container alone, which nothing changes during a validation: :func:`install`
remembers it per container object (weakly: it goes with the container) and hands the same
result to the second caller. A container whose extraction fails is extracted (and fails) again.
Each X.509 certificate extracted (``extract_certificate_info``) may be the shared object of its
encoding (:func:`install`'s ``share``) where pyHanko deep-copied it (``untag()``): only when its
outer header is already DER, since ``untag()`` writes that header anew (a certificate wrapped in a
BER length becomes other bytes, which pyHanko then validates and Kyso reports).

pyHanko also matches the signer's certificate against the signing-certificate attribute twice per
signature (``check_ess_certid``: a digest of the certificate, its issuer and serial); a match is
remembered per pair of exact encodings (bounded), a mismatch is checked (and reported) every time.

It replaces an internal function, so it is guarded by the pyHanko versions it was checked against
(:data:`SUPPORTED`); installed explicitly by the composition root (``office.compose``).
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
import weakref
from hazmat._versions import version as _version

from pyhanko.sign import general
from pyhanko.sign.validation import generic_cms

#: pyHanko versions whose ``extract_certs_for_validation`` (and its two callers) this was checked against
SUPPORTED = ("0.38.",)

_original = generic_cms.extract_certs_for_validation
_original_check = generic_cms.check_ess_certid
_original_info = generic_cms.extract_certificate_info
_checked: "OrderedDict[bytes, None]" = OrderedDict()
_MAX_CHECKED = 4096
_extracted: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_share = None


def extract_certs_for_validation(signed_data):
    with _lock:
        found = _extracted.get(signed_data)
    if found is not None:
        return found
    found = _original(signed_data)
    with _lock:
        _extracted[signed_data] = found
    return found


def extract_certificate_info(signed_data):
    """pyHanko's ``extract_certificate_info``, each X.509 certificate being the shared object of its
    encoding (``share``) where pyHanko deep-copies it (``untag()``, a no-op on the tags of a plain
    certificate); without ``share``, pyHanko's own."""
    share = _share
    if share is None:
        return _original_info(signed_data)
    certs, attribute_certs = [], []
    for choice in signed_data["certificates"]:
        if choice.name == "certificate":
            cert = choice.chosen
            # untag() writes the outer header anew in DER: a certificate whose outer length was
            # written otherwise (BER) becomes other bytes, and pyHanko validates those; only a
            # certificate whose header is already DER is the same bytes either way
            shared = share(cert) if _der_header(cert) else cert
            certs.append(shared if shared is not cert else cert.untag())
        elif choice.name == "v2_attr_cert":
            attribute_certs.append(choice.chosen.untag())
    signer_info = general.extract_signer_info(signed_data)
    signer_cert, other_certs = general._partition_certs(certs, signer_info)
    return general.SignedDataCerts(signer_cert=signer_cert, other_certs=other_certs,
                                   attribute_certs=attribute_certs)


def _der_header(value) -> bool:
    """``value`` (a parsed SEQUENCE) starts with the DER header of its contents."""
    header, length = getattr(value, "_header", None), len(value.contents or b"")
    if length < 0x80:
        return header == bytes((0x30, length))
    size = (length.bit_length() + 7) // 8
    return header == bytes((0x30, 0x80 | size)) + length.to_bytes(size, "big")


def check_ess_certid(cert, certid) -> bool:
    """pyHanko's match of a certificate against a signing-certificate attribute's ESSCertID (a
    digest of the certificate and its issuer and serial), remembered per pair of exact encodings
    when it matched (pyHanko makes it twice per signature, the agency's attribute is the same in
    every document it signs)."""
    try:
        key = hashlib.sha256(cert.sha256 + certid.dump()).digest()
    except Exception:  # noqa: BLE001 - pyHanko's own check says what is wrong
        return _original_check(cert, certid)
    with _lock:
        if key in _checked:
            return True
    matched = _original_check(cert, certid)
    if matched:
        with _lock:
            _checked[key] = None
            while len(_checked) > _MAX_CHECKED:
                _checked.popitem(last=False)
    return matched


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
    generic_cms.check_ess_certid = check_ess_certid
    generic_cms.extract_certificate_info = extract_certificate_info
    return True


def installed() -> bool:
    return generic_cms.extract_certs_for_validation is extract_certs_for_validation


def uninstall() -> None:
    generic_cms.extract_certs_for_validation = _original
    generic_cms.check_ess_certid = _original_check
    generic_cms.extract_certificate_info = _original_info
