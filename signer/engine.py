"""How to sign: the PAdES signing engine.

    engine = SigningEngine(policy=SigningPolicy.for_dev_pki(pki))
    signed = engine.sign(SignRequest(document=pdf_bytes, level=Level.B_LT),
                         key_holder=holder)

The engine opens the document strictly, checks the certificate, reserves
the signature's space up front (no trial signature), signs with the key
holder's already-loaded key, adds the timestamp (B-T), the validation data
(B-LT) and a document timestamp (B-LTA), and writes the result to memory
or, atomically, to a file.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import hashlib
import io
import os
import stat
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from asn1crypto import tsp, x509
from pyhanko.sign import fields as pdf_fields
from pyhanko.sign.attributes import CMSAttributeProvider, SignedAttributeProviderSpec
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import DSSContentSettings, PdfTBSDocument, TimestampDSSContentSettings
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator import ValidationContext

from kyso import aio as _loop
from kyso.clock import Clock, operation as clock_operation, read as read_clock, system_clock
from signer import errors, fileio, prehash
from signer.cms_template import CmsTemplate
from signer.keyholders import KeyHolder
from signer.policy import SigningPolicy
from signer.preflight import CertificateChecker, document_fault, open_for_signing
from signer.request import Level, SignRequest

# Space for the CMS beyond the certificates and the raw signature (signed
# attributes, structure), and for a timestamp token with its TSA chain.
_CMS_OVERHEAD = 2048               # signed attributes, algorithm parameters (PSS), structure
_TIMESTAMP_BUDGET = 12 * 1024        # until the TSA's real token size has been measured
_TIMESTAMP_MARGIN = 1024             # tokens vary a little (serial numbers, time precision)

# Validation data without VRI entries (deprecated by PAdES); for B-LTA the
# document timestamp's own validation data goes in before it, so that the
# document timestamp covers the whole file.
DSS_SETTINGS = DSSContentSettings(
    include_vri=False,
    next_ts_settings=TimestampDSSContentSettings(include_vri=False, update_before_ts=True),
)


@dataclasses.dataclass(frozen=True)
class SignedDocument:
    """The result of one signature: where the PDF is and what was done."""

    field: str
    level: Level
    signer_subject: str
    signer_fingerprint: str
    signing_time: datetime
    size: int
    data: bytes | None = dataclasses.field(default=None, repr=False)
    path: Path | None = None

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()

    @functools.cached_property
    def sha256(self) -> str:
        h = hashlib.sha256()
        if self.data is not None:
            h.update(self.data)
        else:
            with open(self.path, "rb") as f:  # type: ignore[arg-type]
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        return h.hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "kyso.signed/1",
            "field": self.field,
            "level": self.level.value,
            "signer": {"subject": self.signer_subject, "sha256_fingerprint": self.signer_fingerprint},
            "signing_time": self.signing_time.isoformat(),
            "size": self.size,
            "sha256": self.sha256,
            "path": str(self.path) if self.path else None,
        }


class SigningEngine:
    """Signs PDFs as PAdES B-B, B-T, B-LT or B-LTA under a :class:`SigningPolicy`."""

    def __init__(self, *, policy: SigningPolicy, clock: Clock | None = None, renderer=None,
                 font_cache: Path | None = None) -> None:
        self.policy = policy
        self._font_cache = font_cache   # where the default renderer keeps prepared fonts (None: nowhere)
        self._clock = clock or system_clock
        self._checker = CertificateChecker(policy)
        self._attr_specs: dict[tuple[str, str], _FixedSignedAttributes] = {}
        self._templates: dict[tuple, CmsTemplate | None] = {}
        self._certificate_bytes: dict[tuple, int] = {}
        self._renderer = renderer
        self._timestamp_size: int | None = None
        self._timestamper = HTTPTimeStamper(policy.tsa_url, timeout=int(policy.http_timeout_seconds),
                                            auth=policy.tsa_auth) if policy.tsa_url else None

    @classmethod
    def for_dev_pki(cls, pki, *, clock: Clock | None = None, **policy_overrides) -> "SigningEngine":
        return cls(policy=SigningPolicy.for_dev_pki(pki, **policy_overrides), clock=clock)

    # -- public API -----------------------------------------------------

    def now(self) -> datetime:
        """The engine's clock: read it once per operation and pass the moment to every step."""
        return read_clock(self._clock)

    def check_certificate(self, key_holder: KeyHolder, *, at: datetime | None = None) -> None:
        """Raise the refusal that signing with this key holder at ``at`` (default: now) would raise."""
        moment = at or self.now()
        self._checker.check(key_holder, moment=moment, fetchers=self.fetchers(moment))

    def fetchers(self, moment: datetime):
        """OCSP/CRL/certificate fetchers for an operation at ``moment``: ones that ask the
        development PKI about that moment when the policy says so, else the policy's guarded ones
        (``fetch_guard``), else None (pyHanko's own)."""
        answers = self.policy.answers_at_moment
        if answers is None:
            guard = self.policy.fetch_guard
            return None if guard is None else guard.fetchers(timeout=self.policy.http_timeout_seconds)
        return answers.fetchers(moment, timeout=self.policy.http_timeout_seconds)

    def sign(self, request: SignRequest, *, key_holder: KeyHolder,
             output: Path | str | None = None, durable: bool = False,
             before_signing: Callable[[Any], None] | None = None, at: datetime | None = None) -> SignedDocument:
        """Sign ``request.document`` with ``key_holder``.

        With ``output`` the signed PDF is written there atomically (a
        temporary file in the same folder renamed into place; ``durable``
        also fsyncs it); otherwise it is returned as ``SignedDocument.data``.
        A document given as a path is read into memory only up to
        ``fileio.IN_MEMORY_BYTES`` (8 MiB); a larger one never is: the
        original is copied in the kernel while pyHanko appends the signature
        to an in-memory tail (see :mod:`signer.fileio`).

        ``before_signing(writer)`` may change the document in the same
        incremental update as the signature (the clerk filling the number
        and date fields, for instance); it runs after every refusal check.

        ``at`` is the operation's moment when the caller already read the clock (an issuance
        numbers, dates and signs at one moment); every step uses it: the certificate check,
        the signing time, the timestamp and the validation data.
        """
        moment = at or self.now()
        with clock_operation(moment):     # pyHanko dates the update's /ModDate by it (hazmat.pyhanko_moddate)
            if isinstance(request.document, Path):
                return self._sign_file(request, key_holder, moment, output, durable, before_signing)
            return self._sign_in_memory(request, key_holder, moment, request.document, output, durable,
                                        before_signing)

    def _sign_in_memory(self, request, key_holder, moment, original: bytes, output, durable,
                        before_signing) -> SignedDocument:
        """Sign ``original`` (the document's bytes) in memory. A large one is hashed on the other core
        while pyHanko reads the document and writes the update (:mod:`signer.prehash`); with
        ``output``, those bytes are written there on an I/O thread while the signature is made, then
        the update."""
        buffer = io.BytesIO(original)
        with prehash.hashing_ahead(original, buffer, algorithm=self.policy.md_algorithm):
            writer = open_for_signing(buffer)
            field = choose_field(writer, request.field, certify=request.certify is not None)
            self._checker.check(key_holder, moment=moment, fetchers=self.fetchers(moment))
            if before_signing is not None:
                before_signing(writer)
            if output is None:
                self._run(request, key_holder, field, moment, writer, buffer)
                data = buffer.getvalue()
                return self._result(request, key_holder, field, moment, len(data), data=data)
            target = Path(output)
            with fileio.atomic_file(target, durable=durable) as dst:
                copy = fileio.BackgroundWrite(dst, original)
                try:
                    self._run(request, key_holder, field, moment, writer, buffer)
                finally:
                    copy.join()
                with buffer.getbuffer() as view:     # pyHanko appended its update (in place): the rest is as read
                    fileio.pwrite_all(dst, view[len(original):], len(original))
                    size = len(view)
        return self._result(request, key_holder, field, moment, size, path=target)

    def _sign_file(self, request, key_holder, moment, output, durable, before_signing) -> SignedDocument:
        """A document up to ``fileio.IN_MEMORY_BYTES`` is read and signed in memory (what is written out
        is what was read and signed, even if the file changes meanwhile); a larger one is never read
        into memory: pyHanko signs it through :class:`fileio.AppendOverlay` while the original is
        copied into the output in the kernel, on the other core."""
        path = request.document
        try:
            src = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise errors.NotAPdf(f"cannot read {path}: {exc.strerror}",
                                 message_vi=f"Không đọc được tệp {path}") from None
        try:
            try:
                status = os.fstat(src)
                if not stat.S_ISREG(status.st_mode):     # a directory, a device, a pipe
                    raise OSError(errno.EINVAL, "not a regular file")
                size = status.st_size
                data = fileio.read_all(src, size) if size <= fileio.IN_MEMORY_BYTES else None
            except OSError as exc:      # a directory, an I/O error
                raise errors.NotAPdf(f"cannot read {path}: {exc.strerror}",
                                     message_vi=f"Không đọc được tệp {path}") from None
            if data is not None:
                if len(data) != size:
                    raise errors.DocumentMalformed(detail={"reason": "the file changed while it was read"})
                return self._sign_in_memory(request, key_holder, moment, data, output, durable, before_signing)
            overlay = fileio.AppendOverlay(src, size)
            stream = io.BufferedRandom(overlay, buffer_size=64 * 1024)
            writer = open_for_signing(stream, path=path)
            field = choose_field(writer, request.field, certify=request.certify is not None)
            self._checker.check(key_holder, moment=moment, fetchers=self.fetchers(moment))
            if before_signing is not None:
                before_signing(writer)
            if output is None:
                self._run(request, key_holder, field, moment, writer, stream)
                stream.flush()
                data = overlay.getvalue()
                return self._result(request, key_holder, field, moment, len(data), data=data)
            target = Path(output)
            with fileio.atomic_file(target, durable=durable) as dst:
                copy = fileio.BackgroundCopy(src, dst, size)
                try:
                    self._run(request, key_holder, field, moment, writer, stream)
                    stream.flush()
                finally:
                    copy.join()
                tail = bytes(overlay.tail)
                fileio.pwrite_all(dst, tail, size)
            return self._result(request, key_holder, field, moment, size + len(tail), path=target)
        finally:
            os.close(src)

    def bytes_reserved(self, key_holder: KeyHolder, level: Level, *, certificates=None) -> int:
        """Bytes of ``/Contents`` to reserve (hex, so twice the DER size).

        ``certificates``: what the CMS will embed (default: the holder's
        certificate and chain).
        """
        if certificates is None:
            certificates = [key_holder.certificate, *key_holder.chain]
        der = _CMS_OVERHEAD + key_holder.raw_signature_size
        key = tuple(c.sha256 for c in certificates)     # asn1crypto keeps each certificate's hash
        size = self._certificate_bytes.get(key)
        if size is None:
            if len(self._certificate_bytes) > 4096:
                self._certificate_bytes.clear()
            size = self._certificate_bytes[key] = sum(len(c.dump()) for c in certificates)
        der += size
        if level.needs_timestamp:
            der += self._timestamp_size or _TIMESTAMP_BUDGET
        return -(-2 * der // 1024) * 1024

    # -- internals ------------------------------------------------------

    def validation_context(self, key_holder: KeyHolder, moment: datetime) -> ValidationContext:
        """A validation context that fetches OCSP/CRL answers (for B-LT and B-LTA) at ``moment``."""
        return ValidationContext(
            trust_roots=list(self.policy.trust_roots), other_certs=list(key_holder.chain),
            allow_fetching=True, revocation_mode="hard-fail", moment=moment,
            fetchers=self.fetchers(moment),
        )

    def signature_metadata(self, request: SignRequest, key_holder: KeyHolder, field: str,
                           moment: datetime) -> tuple[signers.PdfSignatureMetadata, ValidationContext | None]:
        level = request.level
        context = self.validation_context(key_holder, moment) if level.needs_validation_data else None
        meta = signers.PdfSignatureMetadata(
            field_name=field,
            md_algorithm=self.policy.md_algorithm,
            subfilter=SigSeedSubFilter.PADES,
            reason=request.reason,
            location=request.location,
            contact_info=request.contact_info,
            name=None,
            embed_validation_info=level.needs_validation_data,
            validation_context=context,
            use_pades_lta=(level is Level.B_LTA),
            signer_key_usage=set(self.policy.required_key_usage) if context else {"digital_signature"},
            dss_settings=DSS_SETTINGS,
            certify=request.certify is not None,
            docmdp_permissions=MDPPerm(request.certify) if request.certify is not None else MDPPerm.FILL_FORMS,
        )
        return meta, context

    def timestamper(self, level: Level, moment: datetime) -> HTTPTimeStamper | None:
        """The TSA client for an operation at ``moment`` (None when the level needs no timestamp)."""
        if not level.needs_timestamp:
            return None
        if self._timestamper is None:
            raise errors.TimestampUnavailable(
                f"level {level.value} needs a time-stamping authority and none is configured",
                message_vi=f"Mức {level.value} cần máy chủ cấp dấu thời gian nhưng chưa được cấu hình.")
        answers = self.policy.answers_at_moment
        if answers is not None:
            return answers.timestamper(self.policy.tsa_url, moment, timeout=self.policy.http_timeout_seconds,
                                       auth=self.policy.tsa_auth)
        return self._timestamper

    def _measure_timestamp(self, moment: datetime) -> None:
        """Ask the TSA once for a token (pyHanko's dummy response) to reserve just enough space."""
        timestamper = self.timestamper(Level.B_T, moment)
        try:
            token = _loop.run(timestamper.async_dummy_response(self.policy.md_algorithm))
        except Exception as exc:  # noqa: BLE001 - the TSA is down: signing would fail the same way
            raise errors.TimestampUnavailable(detail={"reason": f"{type(exc).__name__}: {exc}"[:500]}) from None
        self._timestamp_size = len(token.dump()) + _TIMESTAMP_MARGIN

    @property
    def renderer(self):
        """The appearance renderer (fonts, images and appearance streams cached per process)."""
        if self._renderer is None:
            from signer.appearance import AppearanceRenderer

            self._renderer = AppearanceRenderer(font_cache_dir=self._font_cache)
        return self._renderer

    def warm_up(self) -> None:
        """What a process's first signature would otherwise wait for, done now (a web worker, before
        its first request): the fonts and the PNG decoder of visible signatures (about 0.3 s of CPU)
        and qpdf, the second parser every document passes before it is signed (30 ms to load)."""
        import pikepdf  # noqa: F401 - signer.preflight imports it at the first signature

        self.renderer.warm_up()

    def _appearance(self, request: SignRequest, field: str, moment: datetime):
        """(stamp style, text parameters, new field spec) for pyHanko; all None when invisible."""
        if request.appearance is None:
            return None, None, None
        extra = self.renderer.apply({}, request.appearance, moment=moment)
        field_spec = None
        if request.placement is not None:
            from pyhanko.sign.fields import SigFieldSpec

            field_spec = SigFieldSpec(sig_field_name=field, on_page=request.placement.page,
                                      box=tuple(int(round(v)) for v in request.placement.box))
        return extra.get("stamp_style"), extra.get("appearance_text_params"), field_spec

    def _signed_attributes(self, key_holder: KeyHolder):
        """signing-certificate-v2 for this certificate, built once (asn1crypto rebuilds it ~3x per use)."""
        key = (key_holder.fingerprint, self.policy.md_algorithm)
        spec = self._attr_specs.get(key)
        if spec is None:
            spec = _FixedSignedAttributes(key_holder.certificate, self.policy.md_algorithm)
            if len(self._attr_specs) > 4096:
                self._attr_specs.clear()
            self._attr_specs[key] = spec
        return spec

    async def _cms_template(self, signer) -> CmsTemplate | None:
        """The B-B CMS template of this signer (see :mod:`signer.cms_template`), built at its first use."""
        # what the CMS depends on besides the digest and the signature value: the certificates
        # embedded, the mechanism (the padding) and the digest algorithm; the signed attributes are
        # this engine's, fixed per certificate and digest algorithm (_FixedSignedAttributes)
        key = (signer.signing_cert.sha256, tuple(c.sha256 for c in signer.cert_registry), signer.embed_roots,
               type(signer), self.policy.rsa_padding, self.policy.md_algorithm)
        if key not in self._templates:
            if len(self._templates) > 4096:
                self._templates.clear()
            self._templates[key] = await CmsTemplate.build(signer, md_algorithm=self.policy.md_algorithm)
        return self._templates[key]

    def _run(self, request, key_holder, field, moment, writer, stream) -> None:
        refuse_a_timestamp_the_field_demands(writer, field, request.level)
        meta, context = self.signature_metadata(request, key_holder, field, moment)
        signer = key_holder.pyhanko_signer(rsa_padding=self.policy.rsa_padding,
                                           md_algorithm=self.policy.md_algorithm)
        signer.signed_attr_prov_spec = self._signed_attributes(key_holder)
        timestamper = self.timestamper(request.level, moment)
        if request.level.needs_timestamp and self._timestamp_size is None:
            self._measure_timestamp(moment)
        stamp_style, text_params, field_spec = self._appearance(request, field, moment)
        pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper,
                                       stamp_style=stamp_style, new_field_spec=field_spec)
        # pyHanko embeds the registry AND the signer's certificate (twice when the registry has it too)
        certificates = list(signer.cert_registry) + [key_holder.certificate]
        reserved = self.bytes_reserved(key_holder, request.level, certificates=certificates)

        async def go():
            try:
                template = None if timestamper is not None else await self._cms_template(signer)
                await sign_pdf_in_place(pdf_signer, writer, reserved=reserved, moment=moment,
                                        appearance_text_params=text_params, template=template)
            finally:
                if context is not None:
                    await context.aclose()

        try:
            _loop.run(go())
        except errors.SigningError:
            raise
        except TimestampRequestError as exc:
            raise errors.TimestampUnavailable(detail={"reason": str(exc)}) from None
        except Exception as exc:  # noqa: BLE001 - classify, never leak a bare exception
            raise classify_failure(exc) from None

    def _result(self, request, key_holder, field, moment, size, *, data=None, path=None):
        return SignedDocument(
            field=field, level=request.level,
            signer_subject=key_holder.certificate.subject.human_friendly,
            signer_fingerprint=key_holder.fingerprint, signing_time=moment,
            size=size, data=data, path=path,
        )


class _FixedSignedAttributes(SignedAttributeProviderSpec):
    """The PAdES signed attribute besides content-type and message-digest (which
    pyHanko always adds): signing-certificate-v2, computed once per certificate."""

    def __init__(self, cert: x509.Certificate, md_algorithm: str) -> None:
        value = tsp.SigningCertificateV2.load(as_signing_certificate_v2(cert, md_algorithm).dump())
        self._provider = _ConstantAttribute("signing_certificate_v2", value)

    def signed_attr_providers(self, data_digest: bytes, digest_algorithm: str):
        yield self._provider


class _ConstantAttribute(CMSAttributeProvider):
    def __init__(self, attribute_type: str, value) -> None:
        self.attribute_type = attribute_type
        self._value = value

    async def build_attr_value(self, dry_run=False):
        return self._value


async def sign_pdf_in_place(pdf_signer: signers.PdfSigner, writer, *, reserved: int, moment: datetime,
                            appearance_text_params: dict | None = None,
                            template: CmsTemplate | None = None) -> None:
    """pyHanko's ``async_sign_pdf``, step by step: the signing time comes from our clock and
    the update is appended to the writer's own stream, hashed in 1 MiB reads. With ``template``
    (a B-B signature, see :mod:`signer.cms_template`) the CMS is the signer's template filled in,
    handed to pyHanko as an externally made CMS (``PdfTBSDocument.resume_signing``)."""
    session = pdf_signer.init_signing_session(writer)
    session.system_time = moment
    validation_info = await session.perform_presign_validation(writer)
    tbs = session.prepare_tbs_document(validation_info=validation_info, bytes_reserved=reserved,
                                       appearance_text_params=appearance_text_params)
    digest, out = tbs.digest_tbs_document(in_place=True, chunk_size=fileio.CHUNK)
    signer = pdf_signer.signer
    # the template holds no unsigned attribute: not when pyHanko's session asks for a timestamp (a
    # field's seed value may require one even at B-B), a PDF MAC or validation data
    if (template is not None and tbs.timestamper is None and validation_info is None and tbs.use_pades
            and tbs.md_algorithm == template.md_algorithm and signer.unsigned_attr_prov_spec is None):
        cms = await template.sign(signer, digest.document_digest)
        post = PdfTBSDocument.resume_signing(out, digest, cms, post_sign_instr=tbs.post_sign_instructions,
                                             validation_context=tbs.validation_context)
        await post.post_signature_processing(out, chunk_size=fileio.CHUNK)
        return
    post = await tbs.perform_signature(
        document_digest=digest.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(
            signing_time=moment,
            adobe_revinfo_attr=None if validation_info is None else validation_info.adobe_revinfo_attr,
            cades_signed_attrs=pdf_signer.signature_meta.cades_signed_attr_spec,
        ),
    )
    await post.post_signature_processing(out, chunk_size=fileio.CHUNK)


# pyHanko's functions that refuse a signature because of what the document says (its certification,
# field locks, the field's seed value, a field that is not a signature field)
_DOCUMENT_RULES = frozenset({"_enforce_certification_constraints", "_enforce_seed_value_constraints",
                             "_apply_locking_rules", "_get_or_create_sigfield", "_retrieve_seed_value_spec"})


def _refused_by_the_document(exc: BaseException) -> bool:
    """A pyHanko form or signing error raised inside one of :data:`_DOCUMENT_RULES`."""
    from pyhanko.pdf_utils.misc import FormFillingError

    if not isinstance(exc, FormFillingError):
        return False
    trace = exc.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_name in _DOCUMENT_RULES:
            return True
        trace = trace.tb_next
    return False


def classify_failure(exc: BaseException) -> errors.SigningError:
    """Turn a failure inside pyHanko into one of our errors with its reason."""
    from pyhanko_certvalidator import errors as cv_errors

    malformed = document_fault(exc)
    if malformed is not None:
        return malformed
    if _refused_by_the_document(exc):
        return errors.DocumentForbidsSignature(detail={"reason": f"{exc}"[:500]})
    # pyHanko wraps the validator's verdict ("The signer's certificate could not be validated"):
    # judge by the first cause that says what happened
    chain, seen = [], set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen and len(chain) < 10:
        seen.add(id(cause))
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    reason = "; ".join(f"{type(c).__name__}: {c}" for c in chain)[:1000]
    text = str(exc).lower()
    for cause in chain:
        if isinstance(cause, cv_errors.RevokedError):
            return errors.CertificateRevoked(detail={"reason": reason})
        if isinstance(cause, cv_errors.ExpiredError):
            return errors.CertificateExpired(detail={"reason": reason})
        if isinstance(cause, cv_errors.NotYetValidError):
            return errors.CertificateNotYetValid(detail={"reason": reason})
        if isinstance(cause, (cv_errors.InsufficientRevinfoError, cv_errors.OCSPFetchError,
                              cv_errors.CRLFetchError)):
            return errors.ValidationDataUnavailable(detail={"reason": reason})
        if isinstance(cause, cv_errors.PathBuildingError):
            return errors.CertificateUntrusted(detail={"reason": reason})
    if "timestamp" in text or "time stamp" in text or "tsa" in text:
        return errors.TimestampUnavailable(detail={"reason": reason})
    if isinstance(exc, OSError) or "revocation" in text or "ocsp" in text or "crl" in text:
        return errors.ValidationDataUnavailable(detail={"reason": reason})
    return errors.SigningError(detail={"reason": reason})


def refuse_a_timestamp_the_field_demands(writer, field: str, level: Level) -> None:
    """A signature field may demand a timestamp in its seed value dictionary (``/SV`` ``/TimeStamp``
    with ``/Ff 1``). Without a timestamper of its own, pyHanko then asks the time-stamping server
    the document names: a server Kyso must never contact on a document's word. So a level without a
    timestamp (B-B) is refused for such a field (:class:`errors.FieldRequiresTimestamp`); at B-T and
    above the service's own TSA stamps it, as the field asks."""
    try:
        for name, _value, ref in pdf_fields.enumerate_sig_fields(writer.prev):
            if name != field:
                continue
            seed = ref.get_object().get("/SV")
            # parsed at every level: a damaged seed value is the document's fault, B-B or B-LTA
            spec = pdf_fields.SigSeedValueSpec.from_pdf_object(seed.get_object()) if seed is not None else None
            if spec is not None and spec.timestamp_required and not level.needs_timestamp:
                raise errors.FieldRequiresTimestamp(detail={"field": field})
            return
    except errors.SigningError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged form is the document's fault
        raise document_fault(exc) or errors.DocumentMalformed(
            detail={"reason": f"{type(exc).__name__}: {exc}"[:500]}) from None


def choose_field(writer, requested: str | None, *, certify: bool = False) -> str:
    """The field to sign: the requested one (refused if already signed) or the next free name.
    A certification must be the document's first signature (ISO 32000-2, 12.8.2.2)."""
    names = {}
    try:
        for name, value, _ref in pdf_fields.enumerate_sig_fields(writer.prev):
            names[name] = value is not None
    except Exception as exc:  # noqa: BLE001 - a damaged form is the document's fault
        raise document_fault(exc) or errors.DocumentMalformed(
            detail={"reason": f"{type(exc).__name__}: {exc}"[:500]}) from None
    if certify and any(names.values()):
        raise errors.CertificationNotFirst(detail={"signed_fields": sorted(n for n, v in names.items() if v)})
    if requested is not None:
        if names.get(requested):
            raise errors.SignatureFieldTaken(detail={"field": requested})
        return requested
    n = len(names) + 1
    while f"Signature{n}" in names:
        n += 1
    return f"Signature{n}"


@contextlib.contextmanager
def _open_source(document) -> Iterator[IO[bytes]]:
    if isinstance(document, Path):
        try:
            f = open(document, "rb")
        except OSError as exc:
            raise errors.NotAPdf(f"cannot read {document}: {exc.strerror}",
                                 message_vi=f"Không đọc được tệp {document}") from None
        with f:
            yield f
    else:
        yield io.BytesIO(document)
