"""Validated certificate paths, remembered across verifications in one worker.

An office receives from a few hundred agencies: the same few certificate paths are validated again
for every document (building the path, checking every certificate's signature and the revocation
data of each). The verifier attaches a :class:`PathMemory` to each validation context it makes;
when the composition root has installed pyHanko's hook (``hazmat.pyhanko_paths``), a path pyHanko
validated is remembered and recalled for a later validation only when nothing it depends on can
differ:

* the same certificate, under the same setting: the trust anchors, the weak-digest rules, the
  revocation mode, the document's own revocation data (its DSS) and the same set of fetched
  answers (:meth:`FetcherPool.generation_of`: a new set of fetchers means new answers);
* the same certificates to build from, in the same order (everything the context's registry holds
  before validation: what the signature and the DSS carry, the known intermediates), so path
  building would see what it saw;
* a validation time inside the remembered window: from the moment it was validated at, up to the
  first instant at which any certificate's validity, any OCSP response's or CRL's next update (and
  this update, unless revocation data issued after the validation time is accepted) or any
  revocation date in them could change the answer (less pyHanko's time tolerance), and never more
  than :data:`MAX_AGE` later.

Only successes are remembered: a path that failed is validated again each time (with its reasons).
Remembered certificates are parsed completely before they are shared between threads.
Revocation data without a next update, and contexts with fetchers made for one document (the
development PKI answering as of a given time), are never remembered. The memory is bounded
(:data:`MAX_ENTRIES`, oldest first out) and per process; :func:`clear` empties it (after a
trust-store change it need not: the anchors are part of every key).

Beside it, :data:`ISSUANCE` remembers which certificate verified under which issuer (the check
the verifier makes on every certificate a signature or its DSS carries): a fact about two exact
encodings only, used and switched off with the path memory.
"""
from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import core, x509

from verifier.sharing import settle

__all__ = ["CERTIFICATES", "CERTIFICATE_INFO", "CLEAN_ELEMENTS", "ISSUANCE", "MAX_AGE", "MAX_ENTRIES", "CertificateMemory", "FactMemory", "IssuanceMemory", "PathMemory",
           "clear", "memory_of", "paths_remembered", "shared_certificate"]

MAX_ENTRIES = 4096
MAX_AGE = timedelta(minutes=5)


def _sha(obj) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.sha256   # the same digest, taken once per object (asn1crypto keeps it)
    return hashlib.sha256(obj.dump()).digest()


@dataclass(frozen=True)
class _Entry:
    path: object
    valid_from: datetime
    valid_until: datetime


class _Unremembered(Exception):
    """Something in the context has no bounded validity (a response without a next update)."""


class PathMemory:
    """The process's remembered paths (one instance, :data:`DEFAULT`), with a switch for tests and
    benchmarks (:meth:`enabled`)."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES, max_age: timedelta = MAX_AGE) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        self.enabled = True
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    # --- the hook's protocol (hazmat.pyhanko_paths.PathMemory) ----------------------------------

    def key(self, certificate, vc) -> tuple | None:
        """What a path depends on, taken before pyHanko validates: the verifier's setting for the
        context, the certificate, the registry's certificates in the order they were registered
        (path building tries issuers in that order), and the best signature time when the caller
        set it apart from the moment."""
        setting = _settings.get(vc)
        if setting is None or not self.enabled:
            return None
        best = vc.best_signature_time
        best_key = None if best == vc.moment else best
        registry = tuple(_sha(c) for c in vc.certificate_registry)
        return setting, _sha(certificate), registry, best_key

    def recall(self, key, vc):
        moment = vc.moment
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.valid_from <= moment < entry.valid_until:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry.path
            self.misses += 1
        return None

    def remember(self, key, vc, path) -> None:
        moment = vc.moment
        try:
            until = self._valid_until(path, vc, moment)
            for cert in path.iter_certs(include_root=True):
                settle(cert)
        except _Unremembered:
            return
        except Exception:  # noqa: BLE001 - what cannot be read is not remembered; pyHanko's answer stands
            return
        if until <= moment:
            return
        with self._lock:
            self._entries[key] = _Entry(path, moment, until)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    # --- what a remembered path depends on -------------------------------------------------------

    def _valid_until(self, path, vc, moment: datetime) -> datetime:
        tolerance = vc.time_tolerance
        boundaries: list[datetime] = []
        certs = list(vc.certificate_registry)
        for response in vc.ocsps:
            certs.extend(_ocsp_boundaries(response, boundaries, retroactive=vc.retroactive_revinfo))
        for crl_obj in vc.crls:
            # every revocation date: a CRL issuer's or an OCSP responder's own certificate is checked too
            _crl_boundaries(crl_obj, boundaries, retroactive=vc.retroactive_revinfo)
        anchor = path.trust_anchor.trust_qualifiers
        boundaries += [t for t in (anchor.valid_from, anchor.valid_until) if t is not None]
        for cert in certs:
            validity = cert["tbs_certificate"]["validity"]
            boundaries += [validity["not_before"].native, validity["not_after"].native]
        until = moment + self.max_age
        for boundary in boundaries:
            if boundary + tolerance >= moment:
                until = min(until, boundary - tolerance)
        return until


def _updates(item, boundaries: list, *, retroactive: bool, what: str) -> None:
    """An OCSP single response's or a CRL's next update (and this update, when revocation data
    issued after the validation time is not accepted)."""
    if item["next_update"].native is None:
        raise _Unremembered(f"{what} without a next update")
    boundaries.append(item["next_update"].native)
    if not retroactive:
        boundaries.append(item["this_update"].native)


def _ocsp_boundaries(response, boundaries: list, *, retroactive: bool) -> list:
    """The update and revocation times of an OCSP response; the certificates it carries."""
    if response["response_status"].native != "successful":
        return []
    basic = response["response_bytes"]["response"].parsed
    for single in basic["tbs_response_data"]["responses"]:
        _updates(single, boundaries, retroactive=retroactive, what="an OCSP response")
        status = single["cert_status"]
        if status.name == "revoked":
            boundaries.append(status.chosen["revocation_time"].native)
    return [] if isinstance(basic["certs"], core.Void) else list(basic["certs"])


def _crl_boundaries(crl_obj, boundaries: list, *, retroactive: bool) -> None:
    tbs = crl_obj["tbs_cert_list"]
    _updates(tbs, boundaries, retroactive=retroactive, what="a CRL")
    for entry in tbs["revoked_certificates"]:
        boundaries.append(entry["revocation_date"].native)


# the setting of each context the verifier made (trust, rules, document revinfo, fetched answers)
_settings: "weakref.WeakKeyDictionary[object, tuple]" = weakref.WeakKeyDictionary()

DEFAULT = PathMemory()


def remember_paths_of(vc, setting: tuple) -> None:
    """The verifier made ``vc`` under ``setting`` (hashable): its paths may be remembered."""
    _settings[vc] = setting


def memory_of(validation_context) -> PathMemory | None:
    """The memory consulted for ``validation_context``: the process's, for contexts the verifier
    made and marked; None for any other (stock pyHanko's are validated as before)."""
    return DEFAULT if validation_context in _settings and DEFAULT.enabled else None




#: a certificate's encoding above this is not shared (real ones are a few KiB; a hostile document's
#: may carry megabytes of extensions)
MAX_SHARED_BYTES = 64 * 1024


class CertificateMemory:
    """One parsed object per certificate encoding: an agency's certificate arrives inside every
    document it signs, and each fresh copy had its extensions, key identifiers and names worked out
    again (a fifth of a verification). The object handed out has exactly the encoding of the
    certificate it stands for, is parsed completely before it is shared between threads, and is
    never changed; bounded, oldest first out; off and cleared with the path memory."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._shared: OrderedDict[bytes, object] = OrderedDict()
        self._lock = threading.Lock()

    def share(self, cert):
        if not DEFAULT.enabled:
            return cert
        try:
            der = cert.dump()
        except Exception:  # noqa: BLE001 - validated as it is, and judged there
            return cert
        if len(der) > MAX_SHARED_BYTES:
            return cert   # no real certificate is that large: judged as it is, never kept
        key = hashlib.sha256(der).digest()
        with self._lock:
            found = self._shared.get(key)
            if found is not None:
                self._shared.move_to_end(key)
                return found
        try:
            fresh = x509.Certificate.load(der)
            settle(fresh)   # its properties (key identifiers, key usage, issuer and serial) included
            if fresh.dump() != der:
                return cert
        except Exception:  # noqa: BLE001 - a certificate that does not parse completely is not shared
            return cert
        with self._lock:
            found = self._shared.setdefault(key, fresh)
            while len(self._shared) > self.max_entries:
                self._shared.popitem(last=False)
        return found

    def clear(self) -> None:
        with self._lock:
            self._shared.clear()

    def __len__(self) -> int:
        return len(self._shared)


CERTIFICATES = CertificateMemory()


class FactMemory:
    """Facts about exact byte strings (a digest of them is the key), such as "this DER element holds
    no stray end-of-contents octets, in N elements": bounded, oldest first out; off and cleared with
    the path memory."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._facts: OrderedDict[bytes, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes):
        if not DEFAULT.enabled:
            return None
        return self._facts.get(key)

    def put(self, key: bytes, value) -> None:
        if not DEFAULT.enabled:
            return
        with self._lock:
            self._facts[key] = value
            while len(self._facts) > self.max_entries:
                self._facts.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._facts.clear()


class IssuanceMemory(FactMemory):
    """Certificates seen to verify under an issuer: a certificate's signature checked once per pair
    of exact encodings (the same agency's certificate arrives with every document it signs). A pure
    fact about two byte strings: nothing about time, trust or revocation is remembered; only
    successes."""

    def verified(self, child_sha256: bytes, issuer_sha256: bytes, check) -> None:
        """``check()`` (which raises when the child does not verify), unless this pair of
        certificates (the SHA-256 digests of their encodings) has passed."""
        key = child_sha256 + issuer_sha256
        if self.get(key) is None:
            check()
            self.put(key, True)

    def known(self, child_sha256: bytes, issuer_sha256: bytes) -> bool:
        """This pair has passed (neither certificate need be loaded to say so again)."""
        return self.get(child_sha256 + issuer_sha256) is not None


ISSUANCE = IssuanceMemory()
#: DER elements walked whole and found free of stray end-of-contents octets (verifier.verify)
CLEAN_ELEMENTS = FactMemory()
#: what a report says of a certificate on a path, by the certificate's digest (verifier.verify)
CERTIFICATE_INFO = FactMemory()


def shared_certificate(cert):
    """The process's object for ``cert``'s exact encoding (``cert`` itself with the memory off or
    when it does not parse completely); see :class:`CertificateMemory`."""
    return CERTIFICATES.share(cert)


def clear() -> None:
    DEFAULT.clear()
    ISSUANCE.clear()
    CERTIFICATES.clear()
    CLEAN_ELEMENTS.clear()
    CERTIFICATE_INFO.clear()


class paths_remembered:
    """``with paths_remembered(False):`` verifies without the memory (tests, benchmarks)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __enter__(self):
        self._before = DEFAULT.enabled
        DEFAULT.enabled = self.enabled
        return DEFAULT

    def __exit__(self, *exc) -> None:
        DEFAULT.enabled = self._before
