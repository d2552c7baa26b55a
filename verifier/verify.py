"""``verify(document, *, policy) -> VerificationReport``.

The pipeline, per document:

1. intake: size limit, PDF header, a lenient parse (the verifier judges what
   others produced), encryption, page and revision limits;
2. revision analysis, once (:mod:`verifier.revisions`): what every later
   revision changed;
3. per signature, with pyHanko doing the cryptography: integrity (digest
   recomputed), signature value, coverage of the ByteRange, certificate path
   to the policy's anchors with revocation (embedded DSS data first, fetched
   unless offline), signature timestamp, algorithms (SHA-1 rule), key usage;
   then the changes after it, each permitted or not by DocMDP/FieldMDP and by
   the policy; mapped to an ETSI indication and a one-line reason;
4. document: the verdict, whether the whole file is covered, the Decree 30
   check (personal then agency signature).

Nothing raises out of here and nothing is valid by default: any exception
while judging a signature makes it INDETERMINATE with the reason; any
exception in the document makes the verdict indeterminate.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import mmap
import os
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from asn1crypto import core, crl, ocsp, x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate
from pyhanko.sign.validation import SignatureCoverageLevel
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.pdf_embedded import (
    EmbeddedPdfSignature,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.utils import CMSAlgorithmUsagePolicy
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import DisallowWeakAlgorithmsPolicy
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from kyso.certificates import CertificateKind, certificate_kind
from kyso.decree30 import vn_iso
from kyso.pdfbounds import PdfBounds, PdfOutOfBounds, admit_and_read
from verifier import revisions as rev
from verifier.existence import DocumentTimestamps, Proof, best_proof
from verifier import pathcache
from verifier.fetching import DEFAULT_POOL
from verifier.policy import VerificationPolicy
from verifier.decision import DocumentFacts, PathOutcome, SignatureFacts, decide, decide_document
from verifier.reasons import reason
from verifier.report import (
    Change,
    ChangeCategory,
    CertificateInfo,
    Decree30Check,
    Indication,
    Reason,
    RevocationInfo,
    SignatureReport,
    SignerInfo,
    SubIndication,
    TimestampInfo,
    Verdict,
    VerificationReport,
)

# A document signature needs digitalSignature or nonRepudiation (either suffices; see docs/verification.md)
_KEY_USAGE = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False)
_KNOWN_SUBFILTERS = {"/ETSI.CAdES.detached", "/adbe.pkcs7.detached"}
_LOG = logging.getLogger("kyso.verifier")

# a validation time this far before the verification still counts as "now" (clock skew, slow requests)
_CLOCK_TOLERANCE = timedelta(minutes=5)
_LEGACY_SUBFILTERS = {"/adbe.pkcs7.sha1": "adbe.pkcs7.sha1", "/adbe.x509.rsa_sha1": "adbe.x509.rsa_sha1"}


def _utc(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.isoformat()


class _Budget:
    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    @property
    def exceeded(self) -> bool:
        return time.monotonic() > self.deadline


def verify(document: bytes | bytearray | memoryview | Path | str, *, policy: VerificationPolicy,
           file_name: str | None = None, evidence: bool = False, now: datetime | None = None) -> VerificationReport:
    """Judge every signature of ``document`` under ``policy``. Never raises for bad input.

    A path is memory-mapped for the parser, which touches only the pages it
    reads; its SHA-256 and the signatures' digests come from one read of the
    file through a 256 KiB buffer (pread(2), on the other core when it is large):
    verifying a 100 MB file grows the worker by well under a fifth of it.

    ``evidence=True`` adds, per signature, the DER (base64) of the certificate
    path, the OCSP responses and CRLs known to the validation and the
    signature timestamp token: what the 2025 rules ask a receiver to store.

    ``now`` is the operation's reading of its clock (default: the system clock). A policy
    ``validation_time`` before it asks about the past: a signature not proven to have existed
    then is indeterminate (NO_POE).

    Work is bounded before pyHanko reads the file (``kyso.pdfbounds.admit``: pages, objects, nesting,
    inflated contents, revisions, time). A service should also install ``hazmat.pyhanko_bounds``
    (``office.compose.install_hazmat``): pyHanko's own parser then refuses a 100,000-entry array or
    64-deep nesting at once (a page tree listing one page a million times: 0.8 s and 120 MB with it,
    5 s and 300 MB without, cut by the time bound). It is not installed here because it changes
    pyHanko for the whole process.
    """
    started = time.perf_counter()
    now = now or datetime.now(timezone.utc)   # the one reading of the clock for this verification
    moment = policy.validation_time or now
    name = file_name
    mapped = opened = None
    try:
        if isinstance(document, (str, Path)):
            path = Path(document)
            name = name or str(path)
            size = os.stat(path).st_size
            if size > policy.max_bytes:
                return _document_level(name, None, size, moment, policy, started,
                                       reason("limit", f"{size} bytes > {policy.max_bytes}"))
            if size == 0:
                data = b""
            else:
                opened = open(path, "rb")
                mapped = mmap.mmap(opened.fileno(), 0, access=mmap.ACCESS_READ)
                data = mapped
        else:
            data = bytes(document)
    except (OSError, ValueError) as exc:
        if opened is not None:
            opened.close()
        return _document_level(name, None, None, moment, policy, started,
                               reason("unreadable", getattr(exc, "strerror", None) or str(exc)))
    try:
        file_hash = _FileDigest(data, fd=opened.fileno() if opened is not None else None)
        try:
            report = _verify(data, name, None, moment, policy, started, evidence, now=now, file_digest=file_hash)
        except Exception as exc:  # noqa: BLE001 - never crash, never valid by default
            report = _document_level(name, None, len(data), moment, policy, started,
                                     reason("cannot_judge", f"{type(exc).__name__}: {exc}"[:300]))
        return dataclasses.replace(report, sha256=file_hash.hexdigest(),
                                   duration_ms=(time.perf_counter() - started) * 1000)
    finally:
        if mapped is not None:
            try:
                mapped.close()
            except BufferError:   # a view still alive somewhere: the map goes with it
                pass
        if opened is not None:
            opened.close()


class _FileDigest:
    """The document's SHA-256 (the report's ``sha256``) and its signatures' ByteRange digests,
    from one read of the file.

    A SHA-256 ByteRange begins at the file's first byte, so a signature's digest state after its
    first range is a copy of the file's own state at that offset; only the short second ranges
    (what follows each /Contents) are hashed again. A file under :data:`_THRESHOLD` is hashed in
    :meth:`with_signatures` (or when its hash is asked for, without signatures). A larger one is
    hashed on another thread from the start, while the parser reads it on this one, in chunks:
    :meth:`with_signatures` asks that thread for a copy of its state at each signature's offset
    (the ranges of offsets it has already passed are hashed together in one more pass).

    A smaller file could be hashed beside the parser too, from hints of where its signatures'
    ranges end; measured on 1 MB (2 cores), that saved 0.16-0.6 ms of wall time and cost 0.4-0.6 ms
    more CPU, which bulk verification (every core busy) pays in throughput: it is hashed here."""
    _THRESHOLD = 4 * 1024 * 1024
    _CHUNK = 4 * 1024 * 1024

    def __init__(self, data, *, fd: int | None = None) -> None:
        self._data = data
        self._fd = None    # the open file behind a mapped ``data``: the thread reads it with pread(2)
        self._value: str | None = None
        self._thread = None
        if len(data) >= self._THRESHOLD:
            self._changed = threading.Condition()
            self._committed = 0                        # hashed, or being hashed, up to here
            self._wanted: set[int] = set()             # offsets whose state is asked for
            self._states: dict[int, object] = {}
            # the thread's own descriptor, closed by the thread: whatever ends the caller's verification
            # (a worker's abort included), the thread never reads a number the caller closed
            try:
                self._fd = os.dup(fd) if fd is not None else None
            except OSError:   # no descriptor left: hashed from the map, as before
                self._fd = None
            self._thread = threading.Thread(target=self._run_in_chunks, daemon=True)
            self._thread.start()

    @property
    def in_background(self) -> bool:
        return self._thread is not None

    def _run(self) -> None:
        view = memoryview(self._data)
        try:
            self._value = hashlib.sha256(view).hexdigest()
        finally:
            view.release()

    def _run_in_chunks(self) -> None:
        view = memoryview(self._data)
        md, done, size = hashlib.sha256(), 0, len(self._data)
        # through a small buffer: SHA-256 straight over 100 MB of mapped pages ran 40% slower
        # (94 ms against 66 ms read into a buffer, measured on tmpfs) than over a copy that stays in cache
        buffer = memoryview(bytearray(256 * 1024))
        try:
            while True:
                with self._changed:
                    if done in self._wanted:
                        self._wanted.discard(done)
                        self._states[done] = md.copy()
                        self._changed.notify_all()
                    if done >= size:
                        break
                    end = min([done + self._CHUNK, size] + [w for w in self._wanted if w > done])
                    self._committed = end
                for at in range(done, end, len(buffer)):
                    piece = min(len(buffer), end - at)
                    # read, not copied from the map: the pages stay out of this process (a 100 MB file
                    # hashed from its map grew the worker by 100 MB of mapped file pages)
                    if self._fd is None or self._pread(buffer[:piece], at) != piece:
                        buffer[:piece] = view[at:at + piece]   # no file, or it changed: the mapped bytes
                    md.update(buffer[:piece])
                done = end
            self._value = md.hexdigest()
        finally:
            view.release()
            buffer.release()
            if self._fd is not None:
                os.close(self._fd)
            with self._changed:
                self._committed = size + 1             # nothing more will be served
                self._changed.notify_all()

    def _pread(self, target, at: int) -> int:
        try:
            return os.preadv(self._fd, [target], at)
        except OSError:   # a file system that fails a read (EIO): the mapped bytes, as before
            return -1

    def _state_at(self, offset: int):
        """The running hash's state after ``offset`` bytes, or None when the thread passed it."""
        with self._changed:
            if offset not in self._states:
                if offset < self._committed:
                    return None
                self._wanted.add(offset)
            while offset not in self._states and self._committed <= len(self._data):
                self._changed.wait()
            state = self._states.get(offset)
            return state.copy() if state is not None else None   # two ranges may start alike

    def with_signatures(self, signatures) -> None:
        """Each signature's ByteRange digest (and, for a file hashed here, the file's own SHA-256)
        in one pass; a signature whose ranges do not start at the first byte, or whose digest is
        not SHA-256, on its own."""
        data = self._data
        forks = []
        for sig in signatures:
            try:
                algorithm = sig.external_md_algorithm
                a, la, b, lb = (int(x) for x in sig.byte_range)
            except Exception:  # noqa: BLE001 - pyHanko computes (and judges) it
                continue
            if algorithm == "sha256" and a == 0 and 0 <= la <= len(data) and b >= 0 and lb >= 0 \
                    and b + lb <= len(data):
                forks.append((la, b, lb, sig))
            else:
                _precompute_digest(sig, data)
        forks.sort(key=lambda f: f[0])
        view = memoryview(data)
        try:
            states = []
            if self._thread is None:
                states = self._prefix_states(view, forks)
                md = states[-1][0].copy() if states else hashlib.sha256()
                md.update(view[forks[-1][0] if forks else 0:])
                self._value = md.hexdigest()
            else:
                rest = []
                for la, b, lb, sig in forks:
                    state = self._state_at(la)
                    if state is None:
                        rest.append((la, b, lb, sig))
                    else:
                        states.append((state, b, lb, sig))
                # offsets the reading thread had passed: one more pass for all of them, not one per
                # signature (a file may hold hundreds)
                states += self._prefix_states(view, rest)
            for state, b, lb, sig in states:
                state.update(view[b:b + lb])
                sig.external_digests["sha256"] = state.digest()
        finally:
            view.release()

    @staticmethod
    def _prefix_states(view, forks) -> list:
        """(the hash of the bytes before ``la``, b, lb, sig) for each of ``forks`` (sorted by
        ``la``), in one pass over the file's start."""
        md, done, states = hashlib.sha256(), 0, []
        for la, b, lb, sig in forks:
            md.update(view[done:la])
            done = la
            states.append((md.copy(), b, lb, sig))
        return states

    def hexdigest(self) -> str:
        if self._thread is not None:
            self._thread.join()
        if self._value is None:   # not hashed yet, or the thread failed: here
            self._run()
        return self._value


def _document_level(name, digest, size, moment, policy, started, why: Reason,
                    verdict: Verdict = Verdict.INDETERMINATE) -> VerificationReport:
    return VerificationReport(
        file=name, sha256=digest, size=size, verdict=verdict, reasons=(why,), signatures=(), decree30=None,
        revisions=0, last_revision_covered=False, validation_time=_utc(moment), policy=policy.describe(),
        duration_ms=(time.perf_counter() - started) * 1000)


def _verify(data: bytes, name, digest, moment, policy: VerificationPolicy, started,
            want_evidence: bool = False, *, now: datetime | None = None,
            file_digest: _FileDigest) -> VerificationReport:
    budget = _Budget(policy.time_budget_seconds)
    if len(data) > policy.max_bytes:
        return _document_level(name, digest, len(data), moment, policy, started,
                               reason("limit", f"{len(data)} bytes > {policy.max_bytes}"))
    if b"%PDF-" not in data[:1024]:
        return _document_level(name, digest, len(data), moment, policy, started, reason("not_pdf"))
    try:
        # bounded work: pages (as listed), objects, nesting, inflated contents, revisions, time
        _, reader = admit_and_read(data, bounds=PdfBounds(
            max_bytes=policy.max_bytes, max_pages=policy.max_pages, max_revisions=policy.max_revisions,
            seconds=max(1.0, min(10.0, policy.time_budget_seconds / 2))))
    except PdfOutOfBounds as exc:
        return _document_level(name, digest, len(data), moment, policy, started, reason("limit", exc.message))
    try:
        if reader is None:   # unreadable or encrypted: read (and open) here, reasons and all
            stream = data if isinstance(data, mmap.mmap) else io.BytesIO(data)
            reader = PdfFileReader(stream, strict=False)
        encrypted = reader.encrypted
        total_revisions = reader.xrefs.total_revisions
    except Exception as exc:  # noqa: BLE001
        return _document_level(name, digest, len(data), moment, policy, started,
                               reason("unreadable", f"{type(exc).__name__}: {exc}"[:300]))
    try:
        return _verify_read(reader, data, name, digest, moment, policy, started, want_evidence, now=now,
                            budget=budget, encrypted=encrypted, total_revisions=total_revisions,
                            file_digest=file_digest)
    finally:
        _release(reader)


def _release(reader: PdfFileReader) -> None:
    """Empty the reader's object caches. Every object pyHanko parsed refers back to its reader, so
    a finished verification leaves a cycle of tens of thousands of objects (45,000 for 1,000 pages)
    that only Python's full garbage collection frees, at unpredictable moments and cost (it made
    verifying a 1,000-page document take 230 to 550 ms); emptied, they go at once."""
    try:
        reader.resolved_objects.clear()
        for resolver in reader._historical_resolver_cache.values():
            resolver.cache.clear()
        reader._historical_resolver_cache.clear()
        reader._embedded_signatures = None
    except AttributeError:   # another pyHanko's internals: the garbage collector frees them later
        pass


def _verify_read(reader: PdfFileReader, data, name, digest, moment, policy: VerificationPolicy, started,
                 want_evidence: bool, *, now, budget: "_Budget", encrypted: bool,
                 total_revisions: int, file_digest: _FileDigest) -> VerificationReport:
    if encrypted and not _open_encrypted(reader):
        return _document_level(name, digest, len(data), moment, policy, started, reason("encrypted"))
    if total_revisions > policy.max_revisions:
        return _document_level(name, digest, len(data), moment, policy, started,
                               reason("limit", f"{total_revisions} revisions > {policy.max_revisions}"))
    try:
        pages = int(reader.root["/Pages"]["/Count"])
    except Exception as exc:  # noqa: BLE001
        return _document_level(name, digest, len(data), moment, policy, started,
                               reason("unreadable", f"no page tree: {exc}"[:300]))
    if pages > policy.max_pages:
        return _document_level(name, digest, len(data), moment, policy, started,
                               reason("limit", f"{pages} pages > {policy.max_pages}"))

    signature_fields = _signature_fields(reader)
    # each signature is read on its own: one that cannot be read fails alone, the others are judged
    embedded, reports = _read_signatures(reader)
    listed = {s.field_name for s in embedded} | {r.field for r in reports}
    # signature fields with a value pyHanko does not list (malformed dictionaries): judged broken
    for field in signature_fields:
        if field not in listed:
            reports.append(_broken_signature(field, reason("format_failure"), "unreadable signature dictionary"))
    if not embedded and not reports:
        return _finish(name, digest, data, reader, moment, policy, started, [])
    if len(embedded) > policy.max_signatures:
        return _document_level(name, digest, len(data), moment, policy, started,
                               reason("limit", f"{len(embedded)} signatures > {policy.max_signatures}"))

    first_signed = min((s.signed_revision for s in embedded), default=total_revisions)
    try:
        changes = rev.analyse(reader, first=max(first_signed + 1, 1))
    except Exception as exc:  # noqa: BLE001 - cannot analyse updates: nothing after a signature can be trusted
        changes = None
        analysis_error = f"{type(exc).__name__}: {exc}"[:300]
    else:
        analysis_error = None
    # a file's own hash and its signatures' ByteRange digests come from one read of it; for a large
    # file, the read runs on another thread while the rest is parsed and checked
    if file_digest.in_background:
        digests = threading.Thread(target=file_digest.with_signatures, args=(embedded,), daemon=True)
        digests.start()
    else:
        digests = None
        file_digest.with_signatures(embedded)
    context = _Contexts(reader, policy, moment, now)
    context.collect = {} if want_evidence else None
    if digests is not None:
        digests.join()
    for sig in embedded:
        if budget.exceeded:
            _LOG.warning("%s: time budget of %s s spent before signature %s", name, policy.time_budget_seconds,
                         sig.field_name)
            reports.append(_broken_signature(sig.field_name, reason("limit", "time budget"), "time budget",
                                             indication=Indication.INDETERMINATE))
            continue
        try:
            reports.append(_judge(sig, reader, data, changes, analysis_error, context, policy))
        except Exception as exc:  # noqa: BLE001
            # indeterminate for the reader, and a bug to fix for us: the traceback goes to the log
            _LOG.exception("%s: signature %s could not be judged", name, sig.field_name)
            reports.append(_broken_signature(sig.field_name, reason("cannot_judge", f"{type(exc).__name__}: {exc}"[:300]),
                                             "exception", indication=Indication.INDETERMINATE))
    reports.sort(key=lambda r: (r.revision, r.field))
    if any(r.sub_indication in (SubIndication.TRY_LATER, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE)
           for r in reports) and not policy.offline:
        DEFAULT_POOL.reset()   # a responder failed: the next verification asks again
    result = _finish(name, digest, data, reader, moment, policy, started, reports)
    if want_evidence:
        result = dataclasses.replace(result, evidence={"validation_time": _utc(moment),
                                                       "signatures": context.collect})
    return result


def _plain(value):
    """A value of an encrypted document's signature dictionary, decrypted (pyHanko leaves those
    wrapped: the signature's /Contents is never encrypted)."""
    seen = 0
    while isinstance(value, generic.DecryptedObjectProxy) and seen < 8:
        value, seen = value.decrypted, seen + 1
    return value


def _raw_contents(sig_obj) -> bytes:
    """The signature's /Contents as written (never decrypted: ISO 32000-2, 7.6.2)."""
    return bytes(sig_obj.raw_get("/Contents", decrypt=generic.EncryptedObjAccess.RAW))


def _open_encrypted(reader: PdfFileReader) -> bool:
    """Open a document encrypted with an empty user password (the usual case for a published document
    that allows signing: it opens in any viewer without a password). A document that needs a password
    cannot be judged here."""
    from pyhanko.pdf_utils.crypt.api import AuthStatus

    try:
        return reader.decrypt("").status is not AuthStatus.FAILED
    except Exception:  # noqa: BLE001 - public-key encryption, unknown handler, damaged dictionary
        return False


def signed_fields(document: bytes) -> list[str]:
    """The names of the signature fields of ``document`` that carry a signature, readable or not: a
    cheap question (the form only, no page, no signature checked) to ask before a full verification.
    A file whose form cannot be read answers ``["?"]``: only a verification can tell."""
    try:
        reader = PdfFileReader(io.BytesIO(bytes(document)), strict=False)
        if reader.encrypted and not _open_encrypted(reader):
            return ["?"]
        return _signature_fields(reader)
    except Exception:  # noqa: BLE001 - unreadable: let the verification say why
        return ["?"]


def _read_signatures(reader: PdfFileReader) -> tuple[list[EmbeddedPdfSignature], list[SignatureReport]]:
    """The signatures pyHanko can read, in signing order, and a ``format_failure`` report for each
    filled signature field it cannot (pyHanko's own ``embedded_signatures`` fails as a whole when one
    dictionary or CMS blob is damaged, which would hide every other signature of the document)."""
    from pyhanko.sign.fields import enumerate_sig_fields

    readable: list[tuple[int, EmbeddedPdfSignature]] = []
    broken: list[SignatureReport] = []
    try:
        for fq_name, _value, sig_field in enumerate_sig_fields(reader, filled_status=True):
            try:
                sig = EmbeddedPdfSignature(reader, sig_field, fq_name)
                readable.append((sig.signed_revision, sig))
            except Exception as exc:  # noqa: BLE001 - this signature alone cannot be read
                broken.append(_broken_signature(fq_name, reason("format_failure"),
                                                f"{type(exc).__name__}: {exc}"[:300]))
    except Exception:  # noqa: BLE001 - the field tree itself is damaged: _signature_fields names the rest
        pass
    readable.sort(key=lambda pair: pair[0])
    embedded = [sig for _, sig in readable]
    # the reader's own list is these objects (pyHanko caches it here): what ``existence`` reads of
    # the document timestamps is then what ``_judge`` validated, not a second, unvalidated copy
    reader._embedded_signatures = embedded
    return embedded, broken


def _signature_fields(reader: PdfFileReader) -> list[str]:
    """Names of signature fields that carry a value (a signature), valid or not."""
    out = []
    try:
        fields = reader.root["/AcroForm"]["/Fields"]
    except Exception:  # noqa: BLE001
        return out
    stack = list(fields)
    seen = 0
    while stack and seen < 10_000:
        seen += 1
        try:
            field = stack.pop().get_object()
            if "/Kids" in field:
                stack.extend(field["/Kids"])
            if field.get("/FT") == "/Sig" and "/V" in field:
                out.append(str(_plain(field.get("/T", "?"))))
        except Exception:  # noqa: BLE001
            continue
    return out


class _Contexts:
    """Validation contexts built once per document, with its embedded validation data."""

    def __init__(self, reader: PdfFileReader, policy: VerificationPolicy, moment: datetime,
                 now: datetime | None = None) -> None:
        self.policy = policy
        self.moment = moment
        self.dss_ocsps = []
        self.dss_crls = []
        self.dss_certs = []
        self.dss_error: str | None = None
        try:
            has_dss = "/DSS" in reader.root
        except Exception:  # noqa: BLE001
            has_dss = False
        if has_dss:
            try:
                schema_problem = _dss_schema_problem(reader.root["/DSS"])
                if schema_problem:
                    raise _DssSchemaError(schema_problem)
                dss = DocumentSecurityStore.read_dss(reader)
                self.dss_ocsps = [ocsp.OCSPResponse.load(_stream_data(o)) for o in dss.ocsps]
                self.dss_crls = [crl.CertificateList.load(_stream_data(c)) for c in dss.crls]
                self.dss_certs = list(dss.load_certs())
                for item in self.dss_ocsps + self.dss_crls + self.dss_certs:
                    item.native  # noqa: B018 - parse everything now: damage shows here, not later
            except Exception as exc:  # noqa: BLE001
                self.dss_ocsps, self.dss_crls, self.dss_certs = [], [], []
                detail = str(exc) if isinstance(exc, _DssSchemaError) else type(exc).__name__
                self.dss_error = f"the document's validation data (DSS) is damaged: {detail}"
        self._contexts: list[ValidationContext] = []
        self._fetchers = None
        self._fetchers_at: dict[datetime, Any] = {}
        self._timestamps: DocumentTimestamps | None = None
        self.reader = reader
        self.now = now or datetime.now(timezone.utc)
        self.collect: dict | None = None
        self._setting: tuple | None = None

    def fetchers(self):
        """Fetchers for this document: the shared, short-lived pool when judging as of now; when
        the policy names a validation time and the development PKI follows it, fetchers that ask
        the development PKI about that time (one set per document, never pooled)."""
        policy = self.policy
        if policy.offline:
            return None
        if policy.answers_at_moment is not None and policy.validation_time is not None:
            if self._fetchers is None:
                self._fetchers = policy.answers_at_moment.fetchers(policy.validation_time,
                                                                   timeout=policy.http_timeout_seconds)
            return self._fetchers
        return DEFAULT_POOL.current(policy.fetch_guard)

    def fetchers_as_of(self, when: datetime):
        """Fetchers for a validation as of ``when`` (a proof of existence): the development PKI
        answers as of that time; real responders answer as of now, which pyHanko accepts for a past
        time (revocation data issued after the time it is about)."""
        policy = self.policy
        if policy.offline or policy.answers_at_moment is None:
            return self.fetchers()
        if when not in self._fetchers_at:
            self._fetchers_at[when] = policy.answers_at_moment.fetchers(when, timeout=policy.http_timeout_seconds)
        return self._fetchers_at[when]

    @property
    def timestamps(self) -> DocumentTimestamps:
        if self._timestamps is None:
            self._timestamps = DocumentTimestamps(self.reader, self, _run)
        return self._timestamps

    @property
    def past_request(self) -> bool:
        """The policy asks for a validation time before this verification: the signature must be
        proven to have existed then."""
        return self.policy.validation_time is not None and self.moment < self.now - _CLOCK_TOLERANCE

    def make(self, *, moment: datetime | None = None, fetch_as_of: datetime | None = None) -> ValidationContext:
        policy = self.policy
        weak = set() if policy.sha1_ca_cutoff else set(policy.weak_digests)
        fetchers = self.fetchers_as_of(fetch_as_of) if fetch_as_of is not None else self.fetchers()
        vc = ValidationContext(
            trust_manager=policy.trust.trust_manager,
            other_certs=list(policy.trust.intermediates) + self.dss_certs,
            moment=moment or self.moment,
            allow_fetching=not policy.offline,
            fetchers=fetchers,
            ocsps=self.dss_ocsps, crls=self.dss_crls,
            revocation_mode="hard-fail",
            weak_hash_algos=weak,
            retroactive_revinfo=True,
        )
        self._contexts.append(vc)
        generation = "offline" if policy.offline else DEFAULT_POOL.generation_of(fetchers)
        if generation is not None:
            pathcache.remember_paths_of(vc, (self.setting, generation))
        return vc

    @property
    def setting(self) -> tuple:
        """What every validation context of this document shares and a remembered path depends on:
        the trust anchors and known intermediates, the weak-digest rules, the revocation mode, and
        the document's own validation data."""
        if self._setting is None:
            policy = self.policy
            fingerprints = lambda items: frozenset(hashlib.sha256(i.dump()).digest() for i in items)  # noqa: E731
            self._setting = (*policy.trust.fingerprints,
                             frozenset(policy.weak_digests), policy.sha1_ca_cutoff is not None, policy.offline,
                             fingerprints(self.dss_certs), fingerprints(self.dss_ocsps), fingerprints(self.dss_crls))
        return self._setting

    def cms_policy(self) -> CMSAlgorithmUsagePolicy:
        """The document signature's own digest: SHA-1 and weaker never accepted as valid."""
        # every digest is checked for what it is (intact or not); a weak one is then a fact of its own
        # (decision row 7: indeterminate, never proof of forgery)
        return CMSAlgorithmUsagePolicy.lift_policy(DisallowWeakAlgorithmsPolicy(weak_hash_algos=set()))



class _DssSchemaError(ValueError):
    pass


_DSS_KEYS = {"/Type", "/Certs", "/OCSPs", "/CRLs", "/VRI"}
_VRI_KEYS = {"/Type", "/Cert", "/OCSP", "/CRL", "/TU", "/TS"}


def _dss_schema_problem(dss) -> str | None:
    """ISO 32000-2 12.8.4.3 / ETSI EN 319 142-1: what a DSS may hold. Nothing signs it, so an
    entry outside the schema (a renamed /OCSPs, say) is an edit, not validation data."""
    if not isinstance(dss, generic.DictionaryObject):
        return "not a dictionary"
    unknown = sorted(str(k) for k in dss.keys() if k not in _DSS_KEYS)
    if unknown:
        return f"unknown entries {', '.join(unknown)[:60]}"
    if dss.get("/Type", "/DSS") != "/DSS":
        return "its /Type is not /DSS"
    for key in ("/Certs", "/OCSPs", "/CRLs"):
        if key in dss:
            raw = dss.raw_get(key)
            items = raw.get_object() if isinstance(raw, generic.IndirectObject) else raw   # indirect arrays: allowed
            if not isinstance(items, generic.ArrayObject) or not all(
                    isinstance(x, generic.IndirectObject) and isinstance(x.get_object(), generic.StreamObject)
                    for x in (items.raw_get(i) for i in range(len(items)))):
                return f"{key} is not an array of streams"
    if "/VRI" in dss:
        vri = dss["/VRI"]
        if not isinstance(vri, generic.DictionaryObject):
            return "/VRI is not a dictionary"
        for name, entry in vri.items():
            if not re.fullmatch(r"/[0-9A-Fa-f]{40}", str(name)):
                return "a /VRI key is not a SHA-1 hash"
            entry = entry.get_object() if isinstance(entry, generic.IndirectObject) else entry
            if not isinstance(entry, generic.DictionaryObject) or any(k not in _VRI_KEYS for k in entry.keys()):
                return "a /VRI entry is not well formed"
    return None


def _stream_data(obj) -> bytes:
    return obj.get_object().data if isinstance(obj, generic.IndirectObject) else obj.data


def _run(coro):
    from kyso.aio import run

    return run(coro)


def _judge(sig: EmbeddedPdfSignature, reader: PdfFileReader, data: bytes, changes, analysis_error,
           contexts: _Contexts, policy: VerificationPolicy) -> SignatureReport:
    sig_obj = sig.sig_object
    kind = "document_timestamp" if _plain(sig_obj.get("/Type")) == "/DocTimeStamp" else "signature"
    subfilter = str(_plain(sig_obj.get("/SubFilter"))) if "/SubFilter" in sig_obj else None
    byte_range = tuple(int(_plain(x)) for x in _plain(sig_obj.get("/ByteRange", [])))
    revision = sig.signed_revision
    problems: list[Reason] = []

    if kind == "signature" and subfilter in _LEGACY_SUBFILTERS:
        return _unsupported(sig, kind, subfilter, _LEGACY_SUBFILTERS[subfilter],
                            "SHA-1 based legacy format (" + _LEGACY_SUBFILTERS[subfilter] + ")", byte_range,
                            SubIndication.CRYPTO_CONSTRAINTS_FAILURE)
    if kind == "signature" and subfilter not in _KNOWN_SUBFILTERS:
        return _unsupported(sig, kind, subfilter, "unknown", f"unknown SubFilter {subfilter}", byte_range,
                            SubIndication.FORMAT_FAILURE, indication=Indication.TOTAL_FAILED)

    padding_problem = _contents_padding_problem(sig_obj)
    if padding_problem:
        return _unsupported(sig, kind, subfilter, "unknown", padding_problem, byte_range,
                            SubIndication.FORMAT_FAILURE, indication=Indication.TOTAL_FAILED)
    vc = contexts.make()
    status = _validate(sig, kind, vc, contexts)
    if contexts.collect is not None:
        contexts.collect[sig.field_name] = _evidence(status, vc, sig)
    coverage = status.coverage
    coverage_text = {SignatureCoverageLevel.ENTIRE_FILE: "entire_file",
                     SignatureCoverageLevel.ENTIRE_REVISION: "entire_revision"}.get(coverage, "partial")

    # -- changes after this signature -----------------------------------------------------
    docmdp = sig.docmdp_level
    locked = _fieldmdp_locks(sig_obj)
    after: list[Change] = []
    changes_unknown = None
    if changes is None:
        if revision + 1 < reader.xrefs.total_revisions:
            # Kyso could not read the updates: it cannot say they are harmless, nor that they are not
            changes_unknown = "the updates after this signature could not be analysed"
            _LOG.warning("revision analysis failed after %s: %s", sig.field_name, analysis_error)
    else:
        for rc in changes:
            if rc.revision <= revision:
                continue
            after.extend(_judge_changes(rc, docmdp, locked, sig.field_name, policy,
                                        signed_revision=revision, reader=reader))
    tail = _unaccounted_tail(reader, data)
    if tail:
        after.append(Change(revision=reader.xrefs.total_revisions, category=ChangeCategory.OTHER,
                            description=f"{tail} bytes appended after the last revision (no cross-reference)",
                            permitted_by_docmdp=False, permitted_by_policy=False))
    not_permitted = [c for c in after if not (c.permitted_by_docmdp and c.permitted_by_policy)]

    # -- the certificate path, now or as of the signature's proof of existence ----------------
    path = _path_outcome(status, _timestamp_info(status, kind))
    proof: Proof | None = None
    validated_at = contexts.moment
    time_related = path.indication is Indication.INDETERMINATE and path.sub in _TIME_RELATED
    if time_related or contexts.past_request:
        proof = _proof(sig, kind, contexts)
    before_proof = None
    if contexts.past_request and (proof is None or proof.time > contexts.moment):
        # (requested time, earliest proof or None), in Vietnam's zone
        before_proof = (vn_iso(contexts.moment), vn_iso(proof.time) if proof is not None else None)
    elif time_related and proof is not None and proof.time <= contexts.moment:
        past_vc = contexts.make(moment=proof.time, fetch_as_of=proof.time)
        past_status = _validate(sig, kind, past_vc, contexts)
        past = _path_outcome(past_status, _timestamp_info(past_status, kind))
        if past.indication is None or (past.indication is Indication.TOTAL_FAILED
                                       and past.sub is SubIndication.REVOKED):
            status, path, validated_at = past_status, past, proof.time
            if contexts.collect is not None:
                contexts.collect[sig.field_name] = _evidence(status, past_vc, sig)

    signer_cert = status.signing_cert
    chain = _chain(status, sig, policy)
    signer = _signer_info(signer_cert) if signer_cert is not None else None
    ts_info = _timestamp_info(status, kind)
    revocation = _revocation(status, contexts, checked_at=validated_at)

    # -- the facts, then the one decision ---------------------------------------------------
    crypto_problem = _path_algorithm_problem(status, policy)
    altered = _altered_embedded_certificates(status, sig)
    damaged = contexts.dss_error or _damaged_carried_data(status, sig, contexts)
    weak_digest = None
    if kind == "signature" and status.md_algorithm in policy.weak_digests:
        weak_digest = f"the signature's digest is {status.md_algorithm}"
    facts = SignatureFacts(
        kind=kind, intact=bool(status.intact), crypto_valid=bool(status.valid), coverage=coverage_text,
        not_permitted=tuple(not_permitted), altered=altered, weak_signature_digest=weak_digest,
        before_proof=before_proof, path=path, path_algorithm_problem=crypto_problem, changes_unknown=changes_unknown,
        timestamp_problem=(ts_info is not None and kind == "signature"
                           and not (ts_info.intact and ts_info.valid and ts_info.trusted)),
        damaged=damaged)
    indication, sub, bottom = decide(facts)
    warnings = _warnings(sig, status, ts_info, reader)
    if indication is Indication.TOTAL_PASSED and proof is not None and validated_at != contexts.moment:
        bottom = reason("valid_at_proof", vn_iso(proof.time))
    if altered:
        problems.append(reason("format_failure"))
    if damaged:
        problems.append(reason("cannot_judge", damaged))
    if weak_digest:
        problems.append(reason("crypto_constraints", weak_digest))
    if crypto_problem:
        problems.append(reason("crypto_constraints", crypto_problem))
    for change in not_permitted:
        problems.append(reason("modified_after_signing", f"{change.category.value}: {change.description}"))
    return SignatureReport(
        field=sig.field_name, kind=kind, indication=indication, sub_indication=sub, reason=bottom,
        intact=bool(status.intact), crypto_valid=bool(status.valid), trusted=bool(status.trusted),
        coverage=coverage_text, revision=revision, modifications_after=tuple(after), signer=signer,
        chain=chain, signing_time=_utc(getattr(status, "signer_reported_dt", None)), timestamp=ts_info,
        revocation=revocation, level=_level(sig, kind, subfilter, ts_info, contexts, reader, revision),
        subfilter=subfilter.lstrip("/") if subfilter else None, digest_algorithm=status.md_algorithm,
        signature_algorithm=_mechanism_name(status), docmdp=int(docmdp.value) if docmdp else None,
        byte_range=byte_range, problems=tuple(problems),
        proof_of_existence=_utc(proof.time) if proof is not None else None,
        proof_source=proof.source if proof is not None else None, validated_at=_utc(validated_at),
        warnings=tuple(warnings))


# the signing-time attribute is the signer's computer's claim; more than this away from a trusted
# timestamp, it is reported (a common cause: local time written with a UTC label)
_SIGNING_TIME_SLACK = timedelta(hours=1)


def _warnings(sig: EmbeddedPdfSignature, status, ts_info: TimestampInfo | None, reader) -> list[Reason]:
    """What is odd about a signature without making it less valid (facts of form, not of integrity)."""
    out: list[Reason] = []
    claimed = getattr(status, "signer_reported_dt", None)
    if claimed is not None and ts_info is not None and ts_info.intact and ts_info.valid:
        stamped = datetime.fromisoformat(ts_info.time)
        claimed = claimed if claimed.tzinfo else claimed.replace(tzinfo=timezone.utc)
        gap = claimed - stamped
        if abs(gap) > _SIGNING_TIME_SLACK:
            hours = gap.total_seconds() / 3600
            out.append(reason("signing_time_disagrees", f"{_utc(claimed)} vs {ts_info.time}, {hours:+.1f} h"))
    try:
        if _ber_headers(_raw_contents(sig.sig_object)):
            out.append(reason("ber_encoded"))
    except Exception:  # noqa: BLE001 - a container that does not parse is judged elsewhere
        pass
    if getattr(reader, "encrypted", False):
        out.append(reason("encrypted_document"))
    return out


def _ber_headers(data: bytes, *, depth: int = 4) -> bool:
    """Whether the outer layers of a DER-expected structure use BER lengths (indefinite, or longer than
    needed): the headers only, a few levels deep (re-encoding a whole CMS costs hundreds of ms)."""
    from asn1crypto import parser

    budget = [200]

    def walk(chunk: bytes, level: int) -> bool:
        pos = 0
        while pos < len(chunk) and budget[0] > 0:
            budget[0] -= 1
            _, method, _, header, content, trailer = parser.parse(chunk[pos:], strict=False)
            if _ber_length(header):
                return True
            if method == 1 and level < depth and walk(content, level + 1):
                return True
            pos += len(header) + len(content) + len(trailer)
            if level == 0:
                break            # the padding after the container is not part of it
        return False

    return walk(data, 0)


def _ber_length(header: bytes) -> bool:
    i = 1
    if header[0] & 0x1F == 0x1F:
        while header[i] & 0x80:
            i += 1
        i += 1
    first = header[i]
    if first == 0x80:
        return True                                   # indefinite length
    if first & 0x80:
        octets = header[i + 1:i + 1 + (first & 0x7F)]
        return octets[:1] == b"\x00" or (len(octets) == 1 and octets[0] < 0x80)   # not the shortest form
    return False


def _timestamp_info(status, kind: str) -> TimestampInfo | None:
    if kind == "signature" and getattr(status, "timestamp_validity", None) is not None:
        ts = status.timestamp_validity
        return TimestampInfo(time=_utc(ts.timestamp), tsa=ts.signing_cert.subject.human_friendly
                             if ts.signing_cert else None, intact=bool(ts.intact), valid=bool(ts.valid),
                             trusted=bool(ts.trusted))
    if kind == "document_timestamp":
        signer_cert = status.signing_cert
        return TimestampInfo(time=_utc(status.timestamp), tsa=signer_cert.subject.human_friendly
                             if signer_cert else None, intact=bool(status.intact), valid=bool(status.valid),
                             trusted=bool(status.trusted))
    return None


def _validate(sig: EmbeddedPdfSignature, kind: str, vc: ValidationContext, contexts: _Contexts):
    """pyHanko's validation of one signature or document timestamp under ``vc`` (its moment)."""
    async def validate():
        try:
            if kind == "signature":
                return await async_validate_pdf_signature(sig, vc, vc, skip_diff=True,
                                                          algorithm_policy=contexts.cms_policy(),
                                                          key_usage_settings=_KEY_USAGE)
            return await async_validate_pdf_timestamp(sig, validation_context=vc, skip_diff=True)
        finally:
            await vc.aclose()

    return _run(validate())


# Indeterminate now for a reason of time: a proof that the signature existed earlier can settle it.
_TIME_RELATED = frozenset({
    SubIndication.OUT_OF_BOUNDS_NO_POE, SubIndication.OUT_OF_BOUNDS_NOT_REVOKED, SubIndication.EXPIRED,
    SubIndication.REVOKED_NO_POE, SubIndication.REVOKED_CA_NO_POE, SubIndication.TRY_LATER,
    SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
})


def _proof(sig, kind: str, contexts: _Contexts) -> Proof | None:
    if kind == "document_timestamp":
        return contexts.timestamps.own_proof(sig.signed_revision) or contexts.timestamps.proof_after(
            sig.signed_revision)
    return best_proof(sig, contexts, _run)


def _altered_embedded_certificates(status, sig: EmbeddedPdfSignature) -> str | None:
    """A certificate carried in the signature that claims to be one of the validation path's
    certificates (same issuer and serial) but differs from it: the container was tampered with."""
    path = status.validation_path
    if path is None:
        return None
    try:
        on_path = list(path.iter_certs(include_root=True))
        genuine = {(c.issuer.sha256, c.serial_number): c for c in on_path}
        issuers = {c.subject.sha256: c for c in on_path}
        for choice in sig.signed_data["certificates"]:
            if choice.name != "certificate":
                continue
            cert = pathcache.shared_certificate(choice.chosen)   # the same bytes, parsed once per process
            key = (cert.issuer.sha256, cert.serial_number)
            if key in genuine and genuine[key].sha256 != cert.sha256 and not _same_certificate(
                    genuine[key].dump(), cert, issuers.get(cert.issuer.sha256)):
                return f"an altered copy of the certificate of {cert.subject.human_friendly} is in the signature"
    except Exception as exc:  # noqa: BLE001
        return f"the certificates in the signature cannot be read: {type(exc).__name__}"
    return None


def _same_certificate(genuine_der: bytes, carried, issuer) -> bool:
    """The same certificate written differently: the same content, and the carried copy is itself
    authentic (its issuer's signature verifies over its own to-be-signed bytes). A re-encoded outer
    wrapper passes; any change inside what the issuer signed (a string's type, a value) does not."""
    from cryptography import x509 as cx509

    if issuer is None:
        return False
    try:
        genuine = x509.Certificate.load(genuine_der)
        if not (genuine["tbs_certificate"].native == carried["tbs_certificate"].native
                and genuine["signature_value"].native == carried["signature_value"].native):
            return False
        issuer_key = cx509.load_der_x509_certificate(issuer.dump()).public_key()
        _verify_with(issuer_key, carried["signature_value"].native, carried["tbs_certificate"].dump(),
                     carried["signature_algorithm"])
        return True
    except Exception:  # noqa: BLE001 - does not verify, or cannot be read: not the same certificate
        return False


def _damaged_carried_data(status, sig: EmbeddedPdfSignature, contexts: "_Contexts") -> str | None:
    """Certificates carried in the signature or the DSS must verify under an issuer that is
    available (carried, on the path, or an anchor); OCSP responses and CRLs in the DSS must be
    signed by their issuer. Damaged data there means someone altered the file."""
    from cryptography import x509 as cx509
    from cryptography.exceptions import InvalidSignature

    try:
        carried = [pathcache.shared_certificate(c.chosen) for c in sig.signed_data["certificates"]
                   if c.name == "certificate"]
        signer_md = sig.signer_info["digest_algorithm"]["algorithm"].native
        version_problem = (_stray_end_of_contents(_raw_contents(sig.sig_object))
                           or _cms_version_problem(sig.signed_data)
                           or _signer_id_problem(sig.signer_info["sid"], status.signing_cert))
        if version_problem:
            return version_problem
        listed = {a["algorithm"].native for a in sig.signed_data["digest_algorithms"]}
        if signer_md not in listed:
            return "the signature's digest algorithm is not among those its container declares"
        # the signature timestamp token carries certificates of its own
        for attr in sig.signer_info["unsigned_attrs"] or []:
            if attr["type"].dotted not in KNOWN_UNSIGNED_ATTRIBUTES:
                # nothing covers an unsigned attribute; one we cannot interpret may claim anything
                # (an altered timestamp attribute looks exactly like this)
                return f"the signature carries an unsigned attribute Kyso cannot interpret ({attr['type'].dotted})"
            if attr["type"].native == "signature_time_stamp_token":
                for token in attr["values"]:
                    version_problem = _cms_version_problem(token["content"])
                    if version_problem:
                        return "timestamp: " + version_problem
                    carried += [pathcache.shared_certificate(c.chosen) for c in token["content"]["certificates"]
                                if c.name == "certificate"]
    except Exception as exc:  # noqa: BLE001
        return f"the signature container cannot be read completely: {type(exc).__name__}"
    pool = list(carried) + list(contexts.dss_certs) + list(contexts.policy.trust.anchors) + list(
        contexts.policy.trust.intermediates)
    if status.validation_path is not None:
        pool += list(status.validation_path.iter_certs(include_root=True))
    by_subject: dict[bytes, list] = {}
    for cert in pool:
        by_subject.setdefault(cert.subject.sha256, []).append(cert)   # a name's digest: its exact encoding
    loaded: dict[bytes, object] = {}

    def load(cert):
        key = cert.sha256
        if key not in loaded:
            der = cert.dump()
            try:
                loaded[key] = cx509.load_der_x509_certificate(der)
            except ValueError:
                # the outer wrapper written in BER (a longer length form): rebuilt around the same
                # to-be-signed bytes, which are never re-encoded (a change there must not verify)
                parsed = x509.Certificate.load(der)
                rebuilt = x509.Certificate({"tbs_certificate": parsed["tbs_certificate"],
                                            "signature_algorithm": parsed["signature_algorithm"],
                                            "signature_value": parsed["signature_value"]}).dump()
                loaded[key] = cx509.load_der_x509_certificate(rebuilt)
        return loaded[key]

    trusted = status.validation_path is not None
    for cert in carried + list(contexts.dss_certs):
        issuers = by_subject.get(cert.issuer.sha256, [])
        if not issuers:
            if trusted:
                # the signer's path is known, yet this certificate's issuer is nowhere: altered or foreign
                return f"a carried certificate has an unknown issuer ({cert.subject.human_friendly})"
            continue   # an untrusted signature is indeterminate anyway
        if any(pathcache.ISSUANCE.known(cert.sha256, issuer.sha256) for issuer in issuers):
            continue   # these exact encodings verified before: nothing to load or check again
        try:
            child = load(cert)
        except Exception:  # noqa: BLE001
            return f"an unreadable certificate is carried ({cert.subject.human_friendly})"
        ok = False
        for issuer in issuers:
            try:
                parent = load(issuer)
                pathcache.ISSUANCE.verified(cert.sha256, issuer.sha256,
                                            lambda: child.verify_directly_issued_by(parent))
                ok = True
                break
            except (InvalidSignature, ValueError, TypeError, Exception):  # noqa: BLE001
                continue
        if not ok:
            return f"a carried certificate does not verify under its issuer ({cert.subject.human_friendly})"
    for response in contexts.dss_ocsps:
        problem = _ocsp_problem(response, by_subject, load, trusted=trusted)
        if problem:
            return problem
    for crl in contexts.dss_crls:
        problem = _crl_problem(crl, by_subject, load, trusted=trusted)
        if problem:
            return problem
    return None


def _stray_end_of_contents(data: bytes) -> str | None:
    """X.690 8.1.5: end-of-contents octets (``00 00``) end an indefinite length and nothing else.
    Inside a definite-length structure they are bytes slipped into the unsigned container (a length
    raised by hand swallows the zero padding after it: the parser skips them, the signature still
    verifies). Every constructed element of definite length is walked, at most 64 deep and 20,000
    elements, by offsets into ``data`` (no copies); an indefinite one is measured by asn1crypto and
    not entered (its end-of-contents octets are its own)."""
    from asn1crypto import parser

    budget = [20_000]
    data = bytes(data)

    def walk(pos: int, end: int, level: int) -> str | None:
        while pos < end and budget[0] > 0:
            budget[0] -= 1
            first, content, after = _tlv(data, pos, end, parser)
            if first == 0 and content == after:
                return "the signature container holds end-of-contents octets inside a definite length"
            if first & 0x20 and level < 64 and content is not None:
                found = enter(pos, content, after, level)
                if found:
                    return found
            pos = after
            if level == 0:
                break            # the padding after the container is not part of it
        return None

    def enter(pos: int, content: int, after: int, level: int) -> str | None:
        # a certificate arrives in every document its holder signs: an element of that size walked
        # whole before at the same depth and found clean is not walked again (the elements it took
        # still count against the budget, so the walk ends where it would have)
        key = None
        if _CLEAN_MIN <= after - pos <= _CLEAN_MAX:
            key = hashlib.sha256(data[pos:after]).digest() + level.to_bytes(1, "big")
            walked = pathcache.CLEAN_ELEMENTS.get(key)
            if walked is not None and walked <= budget[0]:
                budget[0] -= walked
                return None
        before = budget[0]
        found = walk(content, after, level + 1)
        if key is not None and not found and budget[0] > 0:
            pathcache.CLEAN_ELEMENTS.put(key, before - budget[0])
        return found

    try:
        return walk(0, len(data), 0)
    except Exception:  # noqa: BLE001 - a container that does not parse is judged elsewhere
        return None


_CLEAN_MIN, _CLEAN_MAX = 512, 64 * 1024


def _tlv(data: bytes, pos: int, end: int, parser) -> tuple[int, int | None, int]:
    """(first identifier octet, where the contents start or None for an indefinite length, where the
    element ends) of the BER element at ``data[pos:end]``; ValueError when it does not fit."""
    first = data[pos]
    at = pos + 1
    if first & 0x1F == 0x1F:               # high tag number: base-128 octets, the last without bit 8
        while True:
            if at >= end:
                raise ValueError("truncated tag")
            at += 1
            if not data[at - 1] & 0x80:
                break
    if at >= end:
        raise ValueError("truncated length")
    length = data[at]
    at += 1
    if length == 0x80:
        if not first & 0x20:
            raise ValueError("indefinite length on a primitive element")
        return first, None, pos + parser.peek(data[pos:end])
    if length & 0x80:
        count = length & 0x7F
        if at + count > end:
            raise ValueError("truncated length")
        length = int.from_bytes(data[at:at + count], "big")
        at += count
    if at + length > end:
        raise ValueError("contents beyond the enclosing element")
    return first, at, at + length


def _expected_signed_data_version(signed_data) -> str:
    """RFC 5652 5.1: the SignedData version follows from what it holds."""
    # an absent optional field is a Void; what is present is parsed whole (damage raises here, and the
    # caller reports an unreadable container), except plain certificates: converting each to Python
    # costs more than the rest of a verification, and each is verified under its issuer anyway
    certificates = signed_data["certificates"] if not isinstance(signed_data["certificates"], core.Void) else []
    crls = signed_data["crls"] if not isinstance(signed_data["crls"], core.Void) else []
    for item in list(crls) + [c for c in certificates if c.name != "certificate"]:
        item.native  # noqa: B018
    cert_kinds = {c.name for c in certificates}
    if "other" in cert_kinds or any(c.name == "other" for c in crls):
        return "v5"
    if "v2_attr_cert" in cert_kinds:
        return "v4"
    if ("v1_attr_cert" in cert_kinds or any(i["version"].native == "v3" for i in signed_data["signer_infos"])
            or signed_data["encap_content_info"]["content_type"].native != "data"):
        return "v3"
    return "v1"


def _cms_version_problem(signed_data) -> str | None:
    """RFC 5652 5.1 and 5.3: the version numbers follow from the structure; a version that does
    not was changed by hand (nothing signs them)."""
    if signed_data["version"].native not in ("v1", "v3", "v4", "v5"):
        return "the signature container has an impossible version number"
    if signed_data["version"].native != _expected_signed_data_version(signed_data):
        return (f"the signature container's version ({signed_data['version'].native}) is not the one its "
                f"contents call for ({_expected_signed_data_version(signed_data)})")
    for info in signed_data["signer_infos"]:
        expected = "v1" if info["sid"].name == "issuer_and_serial_number" else "v3"
        if info["version"].native != expected:
            return "a signer's version number does not match how the signer is identified"
    return None


def _signer_id_problem(sid, cert) -> str | None:
    """The signer identifier (unsigned) must name exactly the certificate that verified."""
    if cert is None:
        return None
    if sid.name == "issuer_and_serial_number":
        ok = (sid.chosen["issuer"].dump() == cert.issuer.dump()
              and sid.chosen["serial_number"].native == cert.serial_number)
    else:
        ok = cert.key_identifier is not None and sid.chosen.native == cert.key_identifier
    return None if ok else "the signer identifier does not name the signing certificate"


# Unsigned attributes a CMS/CAdES/PAdES signature may carry (RFC 5652, RFC 5126, ETSI EN 319 122-1,
# Microsoft Authenticode); anything else is data no one can judge.
KNOWN_UNSIGNED_ATTRIBUTES = frozenset({
    "1.2.840.113549.1.9.6",            # countersignature
    "1.2.840.113549.1.9.16.2.14",      # signature-time-stamp-token
    "1.2.840.113549.1.9.16.2.21",      # complete-certificate-references
    "1.2.840.113549.1.9.16.2.22",      # complete-revocation-references
    "1.2.840.113549.1.9.16.2.23",      # certificate-values
    "1.2.840.113549.1.9.16.2.24",      # revocation-values
    "1.2.840.113549.1.9.16.2.25",      # CAdES-C-time-stamp (escTimeStamp)
    "1.2.840.113549.1.9.16.2.26",      # time-stamped-certs-crls-references
    "1.2.840.113549.1.9.16.2.27",      # archive-time-stamp (v1)
    "1.2.840.113549.1.9.16.2.44",      # attribute-certificate-references
    "1.2.840.113549.1.9.16.2.45",      # attribute-revocation-references
    "1.2.840.113549.1.9.16.2.48",      # archive-time-stamp-v2
    "0.4.0.1733.2.4",                  # archive-time-stamp-v3
    "0.4.0.1733.2.5",                  # ATSHashIndex
    "0.4.0.19122.1.1",                 # ATSHashIndex-v3
    "0.4.0.19122.1.3",                 # signature-policy-store
    "0.4.0.19122.1.5",                 # ATSHashIndex-v3 (EN 319 122-1 v1.3)
    "1.2.840.113583.1.1.8",            # Adobe revocation information (normally signed)
    "1.3.6.1.4.1.311.2.4.1",           # Microsoft nested signature
    "1.3.6.1.4.1.311.3.3.1",           # Microsoft RFC 3161 counter-signature timestamp
})


def _issued_by(load, cert, issuer) -> bool:
    try:
        pathcache.ISSUANCE.verified(cert.sha256, issuer.sha256,
                                    lambda: load(cert).verify_directly_issued_by(load(issuer)))
        return True
    except Exception:  # noqa: BLE001
        return False


def _verify_with(public_key, signature: bytes, data: bytes, algo) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    hash_algo = get_pyca_cryptography_hash(algo.hash_algo)
    if isinstance(public_key, rsa.RSAPublicKey):
        if algo.signature_algo == "rsassa_pss":
            pad, pss_hash = process_pss_params(algo["parameters"])
            public_key.verify(signature, data, pad, pss_hash)
        else:
            public_key.verify(signature, data, padding.PKCS1v15(), hash_algo)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(hash_algo))
    else:
        raise ValueError("unsupported key")


def _ocsp_problem(response, by_subject, load, *, trusted: bool) -> str | None:
    """``trusted``: the signer's path is known, so every issuer of the validation data should be too."""
    try:
        basic = response["response_bytes"]["response"].parsed
        tbs = basic["tbs_response_data"]
        signature = basic["signature"].native
        algo = basic["signature_algorithm"]
        candidates = [c.chosen if hasattr(c, "chosen") else c for c in (basic["certs"] or [])]
        own = {c.subject.sha256: c for c in candidates}
        for cert in candidates:   # a responder certificate carried in the response must be intact too
            issuers = by_subject.get(cert.issuer.sha256, []) or ([own[cert.issuer.sha256]]
                                                                 if cert.issuer.sha256 in own else [])
            if not issuers and trusted:
                return "a certificate inside an OCSP response has an unknown issuer"
            if issuers and not any(_issued_by(load, cert, issuer) for issuer in issuers):
                return "a certificate inside an OCSP response does not verify under its issuer"
        responder = tbs["responder_id"]
        if responder.name == "by_name":
            candidates += by_subject.get(responder.chosen.sha256, [])
        for cert in candidates:
            try:
                _verify_with(load(cert).public_key(), signature, tbs.dump(), algo)
                return None
            except Exception:  # noqa: BLE001
                continue
        if not candidates:
            return None   # responder unknown here: certvalidator judges it when used
    except Exception:  # noqa: BLE001
        return "an unreadable OCSP response is in the document's validation data"
    return "an OCSP response in the document's validation data does not verify"


def _crl_problem(crl_obj, by_subject, load, *, trusted: bool) -> str | None:
    try:
        tbs = crl_obj["tbs_cert_list"]
        issuers = by_subject.get(tbs["issuer"].sha256, [])
        if not issuers:
            return "a CRL in the document's validation data has an unknown issuer" if trusted else None
        for issuer in issuers:
            try:
                _verify_with(load(issuer).public_key(), crl_obj["signature"].native, tbs.dump(),
                             crl_obj["signature_algorithm"])
                return None
            except Exception:  # noqa: BLE001
                continue
    except Exception:  # noqa: BLE001
        return "an unreadable CRL is in the document's validation data"
    return "a CRL in the document's validation data does not verify"


def _contents_padding_problem(sig_obj) -> str | None:
    """The /Contents string holds one DER object followed by zero bytes only (the reserved space);
    anything else there is data no signature covers."""
    from asn1crypto import parser

    try:
        contents = _raw_contents(sig_obj)
        _, _, _, header, content, trailer = parser.parse(contents, strict=False)
        used = len(header) + len(content) + len(trailer)
    except Exception as exc:  # noqa: BLE001
        return f"the signature container does not parse: {type(exc).__name__}"
    extra = contents[used:].strip(b"\x00")
    if extra:
        return f"{len(extra)} bytes of unsigned data after the signature container in /Contents"
    return None


def _precompute_digest(sig: EmbeddedPdfSignature, data) -> None:
    """Hash the ByteRange from memory (no 4 KiB reads through the parser); pyHanko uses the
    cached value (``external_digests``), and checks the ranges themselves for coverage."""
    try:
        algorithm = sig.external_md_algorithm
        a, la, b, lb = (int(x) for x in sig.byte_range)
        if a < 0 or la < 0 or b < 0 or lb < 0 or a + la > len(data) or b + lb > len(data):
            return
        md = hashlib.new(algorithm.replace("sha3_", "sha3_"))
    except Exception:  # noqa: BLE001 - let pyHanko compute (and judge) it
        return
    view = memoryview(data)
    try:
        md.update(view[a:a + la])
        md.update(view[b:b + lb])
    finally:
        view.release()
    sig.external_digests[algorithm] = md.digest()


def _evidence(status, vc: ValidationContext, sig: EmbeddedPdfSignature) -> dict:
    import base64

    def b64(obj) -> str:
        return base64.b64encode(obj.dump()).decode("ascii")

    certs = []
    path = status.validation_path
    if path is not None:
        try:
            certs = [b64(c) for c in path.iter_certs(include_root=True)]
        except Exception:  # noqa: BLE001
            certs = []
    elif status.signing_cert is not None:
        certs = [b64(status.signing_cert)]
    tokens = []
    try:
        for attr in sig.signer_info["unsigned_attrs"]:
            if attr["type"].native == "signature_time_stamp_token":
                tokens.extend(b64(v) for v in attr["values"])
    except Exception:  # noqa: BLE001
        pass
    return {"certificates": certs, "ocsp_responses": [b64(o) for o in vc.ocsps],
            "crls": [b64(c) for c in vc.crls], "timestamp_tokens": tokens}


def _mechanism_name(status) -> str | None:
    mech = getattr(status, "pkcs7_signature_mechanism", None)
    return str(mech) if mech else None


def _path_outcome(status, ts_info: TimestampInfo | None) -> PathOutcome:
    """The certificate path's part of the facts: passed, failed or indeterminate, with why."""
    indic = status.trust_problem_indic
    signer_cert = status.signing_cert
    if indic is not None and signer_cert is not None and signer_cert.self_signed != "no" and not status.trusted:
        return PathOutcome(Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, reason("no_chain"))
    if indic is AdESIndeterminate.REVOKED_NO_POE and ts_info is not None and ts_info.valid and ts_info.trusted:
        revoked_at = status.revocation_details.revocation_date if status.revocation_details else None
        if revoked_at is not None and datetime.fromisoformat(ts_info.time) >= revoked_at:
            # the signature timestamp proves the signature was made after the revocation
            return PathOutcome(Indication.TOTAL_FAILED, SubIndication.REVOKED, reason("revoked"))
    if indic is not None:
        sub = SubIndication.__members__.get(indic.name, SubIndication.GENERIC)
        if isinstance(indic, AdESFailure):
            if indic is AdESFailure.REVOKED:
                return PathOutcome(Indication.TOTAL_FAILED, SubIndication.REVOKED, reason("revoked"))
            return PathOutcome(Indication.TOTAL_FAILED, sub, reason("chain_failure", indic.name))
        if indic is AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND:
            return PathOutcome(Indication.INDETERMINATE, sub, reason("no_chain"))
        if indic in (AdESIndeterminate.OUT_OF_BOUNDS_NO_POE, AdESIndeterminate.EXPIRED):
            return PathOutcome(Indication.INDETERMINATE, sub, reason("expired_no_poe"))
        if indic in (AdESIndeterminate.NOT_YET_VALID,):
            return PathOutcome(Indication.INDETERMINATE, sub, reason("not_yet_valid"))
        if indic in (AdESIndeterminate.TRY_LATER, AdESIndeterminate.REVOCATION_OUT_OF_BOUNDS_NO_POE):
            return PathOutcome(Indication.INDETERMINATE, SubIndication.TRY_LATER, reason("revocation_unknown"))
        if indic in (AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
                     AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE):
            return PathOutcome(Indication.INDETERMINATE, sub, reason("crypto_constraints", indic.name))
        if indic is AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE:
            return PathOutcome(Indication.INDETERMINATE, sub,
                               reason("chain_failure", "path constraints (key usage, policies)"))
        return PathOutcome(Indication.INDETERMINATE, sub, reason("chain_failure", indic.name))
    if not status.trusted:
        return PathOutcome(Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, reason("no_chain"))
    return PathOutcome.PASSED


def _judge_changes(rc: rev.RevisionChanges, docmdp, locked, field_name, policy: VerificationPolicy, *,
                   signed_revision: int = 0, reader=None) -> list[Change]:
    """One entry per (category, description, permission) of a revision, with the objects concerned."""
    grouped: dict[tuple, list[str]] = {}
    for change in _judge_each(rc, docmdp, locked, policy, signed_revision=signed_revision, reader=reader):
        key = (change.category, change.description, change.permitted_by_docmdp, change.permitted_by_policy)
        grouped.setdefault(key, []).extend(change.objects)
    return [Change(revision=rc.revision, category=k[0], description=k[1], objects=tuple(v),
                   permitted_by_docmdp=k[2], permitted_by_policy=k[3]) for k, v in grouped.items()]


def _judge_each(rc: rev.RevisionChanges, docmdp, locked, policy: VerificationPolicy, *,
                signed_revision: int = 0, reader=None) -> list[Change]:
    out = []
    for change in rc.changes:
        category = change.category
        by_docmdp = True
        if docmdp is not None:
            level = int(docmdp.value)
            allowed = {ChangeCategory.VALIDATION_DATA, ChangeCategory.DOCUMENT_TIMESTAMP, ChangeCategory.STRUCTURE}
            if level >= 2:
                allowed |= {ChangeCategory.FORM_FILLING, ChangeCategory.NEW_SIGNATURE}
            if level >= 3:
                allowed |= {ChangeCategory.ANNOTATION}
            by_docmdp = category in allowed
            if category is ChangeCategory.NEW_SIGNATURE and change.new_field and not change.new_field_signed:
                # P=2 permits signing (ISO 32000-2, 12.8.2.2), in the fields the document has or in
                # fields added to be signed in the same revision (each later signer of a certified
                # government document does this); an EMPTY new field is a widget nobody signs,
                # which is how the "sneaky signature" attack covers content
                by_docmdp = False
        if category is ChangeCategory.FORM_FILLING and change.field and _is_locked(change.field, locked):
            by_docmdp = False
        by_policy = category in policy.permitted_changes
        description = change.description
        if change.refilled and reader is not None and rev.field_has_value_at(reader, change.ref, signed_revision):
            # filling a field that was empty when this signature was made is legitimate; replacing
            # a value the signer saw is not (a shadow "replace")
            by_policy = False
            description += " (it had a value when this signature was made)"
        if not by_docmdp and docmdp is not None:
            description += f" (not allowed by the certification, P={int(docmdp.value)})"
        out.append(Change(revision=rc.revision, category=category, description=description,
                          objects=(change.ref,), permitted_by_docmdp=by_docmdp, permitted_by_policy=by_policy))
    return out


def _fieldmdp_locks(sig_obj) -> tuple[str, tuple[str, ...]] | None:
    """(action, fields) of a FieldMDP transform in the signature's /Reference, if any."""
    try:
        for ref in _plain(sig_obj.get("/Reference", [])):
            ref = ref.get_object() if isinstance(ref, generic.IndirectObject) else ref
            if ref.get("/TransformMethod") == "/FieldMDP":
                params = ref["/TransformParams"]
                action = str(params.get("/Action", "/All"))
                fields = tuple(str(f) for f in params.get("/Fields", []))
                return action, fields
    except Exception:  # noqa: BLE001
        return ("/All", ())
    return None


def _is_locked(field: str, locked) -> bool:
    if locked is None:
        return False
    action, fields = locked
    if action == "/All":
        return True
    if action == "/Include":
        return field in fields
    if action == "/Exclude":
        return field not in fields
    return True


def _unaccounted_tail(reader: PdfFileReader, data: bytes) -> int:
    """Bytes after the end of the last revision (its ``startxref N %%EOF``), other than white space."""
    linearized = _linearized_tail(reader, data)
    if linearized is not None:
        return linearized
    try:
        info = reader.xrefs.get_xref_container_info(reader.xrefs.total_revisions - 1)
        start = data.find(b"startxref", info.end_location)
        eof = data.find(b"%%EOF", start) if start >= 0 else -1
    except Exception:  # noqa: BLE001
        return 0
    if start < 0 or eof < 0:
        return len(data) - info.end_location
    tail = data[eof + 5:]
    return len(tail) if tail.strip(b" \r\n\t\x00\x0c") else 0


def _linearized_tail(reader: PdfFileReader, data: bytes) -> int | None:
    """A linearized file written in one piece ends with the main cross-reference table while its
    final ``startxref`` points at the first-page table near the start: its last revision, as
    parsed, ends early although nothing follows the file's own end. There, the tail is what follows
    the %%EOF of the file's last ``startxref``, when that names a section the reader parsed."""
    try:
        if b"/Linearized" not in data[:2048]:
            return None
        last = data.rfind(b"startxref")
        match = re.match(rb"startxref\s+(\d+)\s+%%EOF", data[last:last + 64])
        if last < 0 or match is None:
            return None
        offset = int(match.group(1))
        starts = [reader.xrefs.get_xref_container_info(i).start_location
                  for i in range(reader.xrefs.total_revisions)]
        if not any(abs(offset - start) <= 16 for start in starts):
            return None
        tail = data[last + match.end():]
        return len(tail) if tail.strip(b" \r\n\t\x00\x0c") else 0
    except Exception:  # noqa: BLE001 - not a shape we recognise: the general rule applies
        return None


def _path_algorithm_problem(status, policy: VerificationPolicy) -> str | None:
    path = status.validation_path
    if path is None:
        return None
    try:
        certs = list(path.iter_certs(include_root=False))
    except Exception:  # noqa: BLE001
        return None
    return weak_certificate(certs, policy)


def weak_certificate(certs, policy: VerificationPolicy) -> str | None:
    """The SHA-1 rule: a weak digest is accepted only in a CA certificate issued before
    ``policy.sha1_ca_cutoff``; returns what breaks the rule, or None."""
    for cert in certs:
        try:
            algo = cert.hash_algo
        except Exception:  # noqa: BLE001
            continue
        if algo in policy.weak_digests:
            not_before = cert["tbs_certificate"]["validity"]["not_before"].native
            if policy.sha1_ca_cutoff and algo == "sha1" and cert.ca and not_before < policy.sha1_ca_cutoff:
                continue
            return (f"{algo} in the certificate of {cert.subject.human_friendly} "
                    f"(issued {not_before.date().isoformat()})")
    return None


def _signer_info(cert: x509.Certificate) -> SignerInfo:
    """What the report says of the signer's certificate (remembered like :func:`_cert_info`)."""
    key = cert.sha256 + b"\x02"
    found = pathcache.CERTIFICATE_INFO.get(key)
    if found is None:
        found = _describe_signer(cert)
        pathcache.CERTIFICATE_INFO.put(key, found)
    return found


def _describe_signer(cert: x509.Certificate) -> SignerInfo:
    native = cert.subject.native
    fields = {k: (", ".join(v) if isinstance(v, list) else str(v)) for k, v in native.items()}
    usage = cert.key_usage_value
    return SignerInfo(
        common_name=fields.get("common_name"), organization=fields.get("organization_name"),
        title=fields.get("title"), subject=cert.subject.human_friendly, subject_fields=fields,
        serial=format(cert.serial_number, "x"), issuer=cert.issuer.human_friendly,
        certificate_type=certificate_kind(cert).value,
        key_usage=tuple(sorted(usage.native)) if usage is not None else (),
        sha256=cert.sha256.hex())


def _cert_info(cert: x509.Certificate, *, anchor: bool) -> CertificateInfo:
    """What the report says of a certificate on the path (the same for every document its holder
    signs: remembered by the certificate's digest while the path memory is on)."""
    key = cert.sha256 + (b"\x01" if anchor else b"\x00")
    found = pathcache.CERTIFICATE_INFO.get(key)
    if found is None:
        found = _describe_certificate(cert, anchor=anchor)
        pathcache.CERTIFICATE_INFO.put(key, found)
    return found


def _describe_certificate(cert: x509.Certificate, *, anchor: bool) -> CertificateInfo:
    validity = cert["tbs_certificate"]["validity"]
    native = cert.subject.native
    return CertificateInfo(
        subject=cert.subject.human_friendly, issuer=cert.issuer.human_friendly,
        serial=format(cert.serial_number, "x"), not_before=_utc(validity["not_before"].native),
        not_after=_utc(validity["not_after"].native), sha256=cert.sha256.hex(),
        signature_algorithm=cert["signature_algorithm"].signature_algo + "/" + (cert.hash_algo or "?"),
        is_trust_anchor=anchor,
        subject_fields={k: (", ".join(v) if isinstance(v, list) else str(v)) for k, v in native.items()})


def _chain(status, sig: EmbeddedPdfSignature, policy: VerificationPolicy) -> tuple[CertificateInfo, ...]:
    path = status.validation_path
    if path is not None:
        try:
            certs = list(path.iter_certs(include_root=True))
            anchor = certs[0]
            return tuple(_cert_info(c, anchor=(c is anchor)) for c in reversed(certs))
        except Exception:  # noqa: BLE001
            pass
    # no path to an anchor: show what the signature carries, leaf first
    leaf = status.signing_cert
    if leaf is None:
        return ()
    pool = {c.subject.dump(): c for c in sig.other_embedded_certs} if hasattr(sig, "other_embedded_certs") else {}
    chain = [leaf]
    while len(chain) < 10:
        issuer = pool.get(chain[-1].issuer.dump())
        if issuer is None or issuer in chain:
            break
        chain.append(issuer)
    return tuple(_cert_info(c, anchor=False) for c in chain)


def _revocation(status, contexts: _Contexts, *, checked_at: datetime) -> RevocationInfo:
    details = status.revocation_details
    if details is not None:
        return RevocationInfo(status="revoked", source=None, checked_at=_utc(checked_at),
                              revoked_at=_utc(details.revocation_date),
                              detail=str(details.revocation_reason.native) if details.revocation_reason else None)
    source = "dss" if (contexts.dss_ocsps or contexts.dss_crls) else ("fetched" if not contexts.policy.offline
                                                                       else None)
    if status.trusted:
        return RevocationInfo(status="good", source=source, checked_at=_utc(checked_at))
    if status.trust_problem_indic in (AdESIndeterminate.TRY_LATER, AdESIndeterminate.REVOCATION_OUT_OF_BOUNDS_NO_POE):
        return RevocationInfo(status="unknown", source=source, checked_at=_utc(checked_at),
                              detail="no usable OCSP response or CRL")
    return RevocationInfo(status="not_checked", source=None, checked_at=_utc(checked_at))


def _level(sig, kind, subfilter, ts_info, contexts: _Contexts, reader, revision) -> str:
    if kind == "document_timestamp":
        return "document-timestamp"
    if subfilter == "/adbe.pkcs7.detached":
        return "adbe.pkcs7.detached"
    level = "B-B"
    if ts_info is not None and ts_info.intact and ts_info.valid:
        level = "B-T"
        if contexts.dss_ocsps or contexts.dss_crls:
            level = "B-LT"
            try:
                later_ts = [s for s in reader.embedded_timestamp_signatures if s.signed_revision > revision]
            except Exception:  # noqa: BLE001
                later_ts = []
            if later_ts:
                level = "B-LTA"
    return level


def _unsupported(sig, kind, subfilter, level, detail, byte_range, sub: SubIndication,
                 indication: Indication = Indication.INDETERMINATE) -> SignatureReport:
    why = reason("unsupported", detail)
    return SignatureReport(
        field=sig.field_name, kind=kind, indication=indication, sub_indication=sub, reason=why, intact=None,
        crypto_valid=None, trusted=None, coverage="partial", revision=getattr(sig, "signed_revision", 0),
        modifications_after=(), signer=None, chain=(), signing_time=None, timestamp=None,
        revocation=RevocationInfo(status="not_checked", source=None, checked_at=None), level=level,
        subfilter=subfilter.lstrip("/") if subfilter else None, digest_algorithm=None, signature_algorithm=None,
        docmdp=None, byte_range=byte_range, problems=(why,))


def _broken_signature(field: str, why: Reason, detail: str, *,
                      indication: Indication = Indication.TOTAL_FAILED) -> SignatureReport:
    sub = SubIndication.FORMAT_FAILURE if indication is Indication.TOTAL_FAILED else SubIndication.GENERIC
    return SignatureReport(
        field=field, kind="signature", indication=indication, sub_indication=sub, reason=why, intact=None,
        crypto_valid=None, trusted=None, coverage="partial", revision=0, modifications_after=(), signer=None,
        chain=(), signing_time=None, timestamp=None,
        revocation=RevocationInfo(status="not_checked", source=None, checked_at=None, detail=detail),
        level="unknown", subfilter=None, digest_algorithm=None, signature_algorithm=None, docmdp=None,
        byte_range=(), problems=(why,))




def _decree30(reports: list[SignatureReport]) -> Decree30Check:
    """Which of the Decree 30 pair the document carries. Only signatures that passed count: a pair
    with a failed or unconfirmed member is ``not_valid``, never ``ok``."""
    sigs = [r for r in reports if r.kind == "signature" and r.signer is not None]
    if not sigs:
        return Decree30Check(status="not_applicable", personal_field=None, agency_field=None,
                             reason=reason("decree30_na"))
    personal = [r for r in sigs if r.signer.certificate_type == CertificateKind.PERSONAL.value]
    agency = [r for r in sigs if r.signer.certificate_type == CertificateKind.ORGANISATION.value]
    failed = [r for r in personal + agency if r.indication is not Indication.TOTAL_PASSED]
    if failed:
        first = min(failed, key=lambda r: r.revision)
        return Decree30Check(status="not_valid",
                             personal_field=first.field if first in personal else None,
                             agency_field=first.field if first in agency else None,
                             reason=reason("decree30_not_valid"))
    if personal and agency:
        first_agency = min(agency, key=lambda r: r.revision)
        before = [p for p in personal if p.revision < first_agency.revision]
        if before:
            return Decree30Check(status="ok", personal_field=before[-1].field, agency_field=first_agency.field,
                                 reason=reason("decree30_ok"))
        return Decree30Check(status="wrong_order", personal_field=personal[0].field, agency_field=first_agency.field,
                             reason=reason("decree30_wrong_order"))
    if agency:
        return Decree30Check(status="agency_only", personal_field=None, agency_field=agency[0].field,
                             reason=reason("decree30_agency_only"))
    if personal:
        return Decree30Check(status="personal_only", personal_field=personal[-1].field, agency_field=None,
                             reason=reason("decree30_personal_only"))
    return Decree30Check(status="missing", personal_field=None, agency_field=None, reason=reason("decree30_missing"))


def _finish(name, digest, data, reader, moment, policy: VerificationPolicy, started,
            reports: list[SignatureReport]) -> VerificationReport:
    total = reader.xrefs.total_revisions
    covered = any(r.coverage == "entire_file" and r.intact for r in reports)
    reports = _order_warnings(reports)
    decree = _decree30(reports)
    last = max(reports, key=lambda r: r.revision) if reports else None
    facts = DocumentFacts(
        signatures=len(reports), hidden_signature=not reports and _has_signature_bytes(data),
        failed=sum(r.indication is Indication.TOTAL_FAILED for r in reports),
        indeterminate=sum(r.indication is Indication.INDETERMINATE for r in reports),
        uncovered_change=(last is not None and not covered and any(
            not (c.permitted_by_docmdp and c.permitted_by_policy) for c in last.modifications_after)),
        decree30_status=decree.status, require_decree30=policy.require_decree30)
    _, verdict, headline = decide_document(facts)
    reasons: list[Reason] = [headline]
    reasons.extend(r.reason for r in reports if r.indication is not Indication.TOTAL_PASSED)
    if reports and decree.status not in ("ok", "not_applicable"):
        reasons.append(decree.reason)
    return VerificationReport(
        file=name, sha256=digest, size=len(data), verdict=verdict, reasons=tuple(_dedupe(reasons)),
        signatures=tuple(reports), decree30=decree, revisions=total, last_revision_covered=covered,
        validation_time=_utc(moment), policy=policy.describe(), duration_ms=(time.perf_counter() - started) * 1000)


def _order_warnings(reports: list[SignatureReport]) -> list[SignatureReport]:
    """A timestamp earlier than a time an earlier revision's signature carries: reported, not failed
    (seen on genuine documents whose signers' clocks disagree)."""
    out: list[SignatureReport] = []
    latest: tuple[str, str] | None = None      # (time, field) of the latest time seen in earlier revisions
    for report in sorted(reports, key=lambda r: r.revision):
        own = report.timestamp.time if report.timestamp is not None and report.timestamp.intact else None
        if own is not None and latest is not None and datetime.fromisoformat(own) < datetime.fromisoformat(latest[0]):
            report = dataclasses.replace(report, warnings=report.warnings + (
                reason("timestamp_order", f"{own} < {latest[0]} ({latest[1]})"),))
        for candidate in (own, report.signing_time):
            if candidate and (latest is None or datetime.fromisoformat(candidate) > datetime.fromisoformat(latest[0])):
                latest = (candidate, report.field)
        out.append(report)
    return out


def _has_signature_bytes(data: bytes) -> bool:
    return b"/ByteRange" in data and (b"/Contents" in data)


def _dedupe(reasons):
    seen = set()
    for r in reasons:
        key = (r.code, r.en)
        if key not in seen:
            seen.add(key)
            yield r


def report_json(report: VerificationReport) -> dict[str, Any]:
    return report.to_dict()
