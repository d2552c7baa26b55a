"""Two-step signing for officials whose key stays on their own USB token.

1. :meth:`ExternalSigning.prepare` takes the document and the official's
   certificate, reserves the signature, computes the document digest and
   the CMS signed attributes, stores the pending state and returns a
   :class:`PreparedSignature`: a handle, the bytes to sign and their digest.
2. The official's device signs (a raw signature over ``to_be_signed``, i.e.
   over ``digest`` for devices that take a pre-hashed input), or produces a
   whole CMS over ``document_digest``.
3. :meth:`ExternalSigning.finish` takes the handle and the signature value
   (or the CMS), checks that it verifies against the certificate, embeds
   it, adds the timestamp (B-T), validation data (B-LT) and document
   timestamp (B-LTA), and returns the signed document.

Pending state lives in a store (:class:`PendingStore`, a folder; the office's is its database,
``registers.pending``), so that prepare and finish may run in different processes or nodes; a
handle can be finished once, and expires after ``ttl``.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import secrets
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import algos, cms, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import ExternalSigner, PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import (
    PdfTBSDocument,
    PostSignInstructions,
    PreSignValidationStatus,
)
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from kyso import aio as _loop
from kyso.clock import operation as clock_operation
from signer import errors
from signer import fileio
from signer.engine import (DSS_SETTINGS, SignedDocument, SigningEngine, _open_source, choose_field, classify_failure,
                           refuse_a_timestamp_the_field_demands)
from signer.keyholders import ExternalKeyHolder, fingerprint_sha256
from signer.preflight import open_for_signing
from signer.request import Level, SignRequest

_HANDLE_BYTES = 24


@dataclasses.dataclass(frozen=True)
class PreparedSignature:
    """What the official's device must sign."""

    handle: str
    to_be_signed: bytes          # DER of the CMS signed attributes
    digest: bytes                # hash of to_be_signed (for devices that sign a pre-hashed value)
    digest_algorithm: str        # e.g. "sha256"
    signature_algorithm: str     # e.g. "sha256_rsa", "rsassa_pss", "sha256_ecdsa"
    document_digest: bytes       # hash of the PDF byte ranges (for devices that build the CMS)
    expires_at: datetime
    pss_salt_length: int | None = None   # RSASSA-PSS: MGF1 with the same digest, this salt length

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "kyso.prepared-signature/1",
            "handle": self.handle,
            "to_be_signed": base64.b64encode(self.to_be_signed).decode(),
            "digest": base64.b64encode(self.digest).decode(),
            "digest_hex": self.digest.hex(),
            "digest_algorithm": self.digest_algorithm,
            "signature_algorithm": self.signature_algorithm,
            "document_digest": base64.b64encode(self.document_digest).decode(),
            "expires_at": self.expires_at.isoformat(),
            "pss_salt_length": self.pss_salt_length,
        }


def valid_handle(handle: str | None) -> bool:
    """A handle Kyso could have made (``secrets.token_urlsafe``): letters, digits, ``-`` and ``_``."""
    return bool(handle) and len(handle) <= 64 and all(c.isalnum() or c in "-_" for c in handle)


class PendingStore:
    """Pending two-step signatures kept in a folder, one JSON and one PDF per handle (one machine;
    the office keeps them in its database, ``registers.pending``, so that any node can finish).

    The protocol :class:`ExternalSigning` uses: ``put(handle, state, pdf)``; ``peek(handle)``, the
    state and the PDF or None; ``take(handle)``, True for the one caller that claims it;
    ``purge_expired(now=...)``. Handles are checked before they reach a store; expiry is judged by
    :class:`ExternalSigning` from ``state["expires_at"]``."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _paths(self, handle: str) -> tuple[Path, Path]:
        return self.directory / f"{handle}.json", self.directory / f"{handle}.pdf"

    def put(self, handle: str, state: dict[str, Any], pdf: bytes) -> None:
        meta, body = self._paths(handle)
        for path, data in ((body, pdf), (meta, json.dumps(state).encode())):
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".part")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)

    def peek(self, handle: str) -> tuple[dict[str, Any], bytes] | None:
        """Read a pending signature without claiming it (refused or failed attempts leave it there)."""
        meta, body = self._paths(handle)
        try:
            return json.loads(meta.read_text()), body.read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    def take(self, handle: str) -> bool:
        """Claim a pending signature (once): True for the caller that claimed it."""
        meta, body = self._paths(handle)
        claimed = meta.with_suffix(".claimed")
        try:
            os.replace(meta, claimed)   # atomic: only one finisher wins
        except FileNotFoundError:
            return False
        claimed.unlink(missing_ok=True)
        body.unlink(missing_ok=True)
        return True

    def purge_expired(self, *, now: datetime) -> int:
        removed = 0
        for meta in self.directory.glob("*.json"):
            try:
                state = json.loads(meta.read_text())
                if datetime.fromisoformat(state["expires_at"]) < now:
                    meta.unlink(missing_ok=True)
                    meta.with_suffix(".pdf").unlink(missing_ok=True)
                    removed += 1
            except (OSError, ValueError, KeyError):
                continue
        return removed


class ExternalSigning:
    """Prepare / finish signing for keys outside Kyso, under the engine's policy."""

    def __init__(self, *, engine: SigningEngine, store: PendingStore,
                 ttl: timedelta = timedelta(minutes=10)) -> None:
        self.engine = engine
        self.store = store
        self.ttl = ttl

    def prepare(self, request: SignRequest, *, key_holder: ExternalKeyHolder) -> PreparedSignature:
        engine = self.engine
        policy = engine.policy
        moment = engine.now()
        with _open_source(request.document) as stream:
            writer = open_for_signing(stream)
            field = choose_field(writer, request.field, certify=request.certify is not None)
            refuse_a_timestamp_the_field_demands(writer, field, request.level)
            engine.check_certificate(key_holder, at=moment)
            mechanism = external_mechanism(key_holder.certificate, policy.md_algorithm, policy.rsa_padding)
            ext = ExternalSigner(signing_cert=key_holder.certificate, cert_registry=key_holder.cert_registry(),
                                 signature_value=key_holder.raw_signature_size, signature_mechanism=mechanism)
            meta = signers.PdfSignatureMetadata(
                field_name=field, md_algorithm=policy.md_algorithm,
                subfilter=SigSeedSubFilter.PADES,
                reason=request.reason, location=request.location, contact_info=request.contact_info)
            pdf_signer = signers.PdfSigner(meta, signer=ext)

            async def run():
                session = pdf_signer.init_signing_session(writer)
                session.system_time = moment
                tbs = session.prepare_tbs_document(
                    validation_info=None, bytes_reserved=engine.bytes_reserved(key_holder, request.level))
                digest, out = tbs.digest_tbs_document(output=io.BytesIO())
                attrs = await ext.signed_attrs(digest.document_digest, policy.md_algorithm,
                                               attr_settings=PdfCMSSignedAttributes(signing_time=moment),
                                               use_pades=True)
                return digest, out, attrs

            try:
                with clock_operation(moment):      # the update's /ModDate too (hazmat.pyhanko_moddate)
                    digest, out, attrs = _loop.run(run())
            except errors.SigningError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise classify_failure(exc) from None
        to_be_signed = attrs.dump()
        handle = secrets.token_urlsafe(_HANDLE_BYTES)
        expires = moment + self.ttl
        state = {
            "level": request.level.value,
            "field": field,
            "moment": moment.isoformat(),
            "expires_at": expires.isoformat(),
            "md_algorithm": policy.md_algorithm,
            "mechanism": base64.b64encode(mechanism.dump()).decode(),
            "signed_attrs": base64.b64encode(to_be_signed).decode(),
            "document_digest": digest.document_digest.hex(),
            "region": [digest.reserved_region_start, digest.reserved_region_end],
            "certificate": base64.b64encode(key_holder.certificate.dump()).decode(),
            "chain": [base64.b64encode(c.dump()).decode() for c in key_holder.chain],
        }
        self.store.put(handle, state, out.getvalue())
        return PreparedSignature(
            handle=handle, to_be_signed=to_be_signed, digest=hashlib.new(policy.md_algorithm, to_be_signed).digest(),
            digest_algorithm=policy.md_algorithm, signature_algorithm=mechanism["algorithm"].native,
            document_digest=digest.document_digest, expires_at=expires,
            pss_salt_length=(mechanism["parameters"]["salt_length"].native
                             if mechanism.signature_algo == "rsassa_pss" else None))

    def _pending(self, handle: str, *, now: datetime) -> tuple[dict[str, Any], bytes]:
        if not valid_handle(handle):
            raise errors.UnknownSigningHandle(detail={"handle": handle[:64] if handle else ""})
        found = self.store.peek(handle)
        if found is None:
            raise errors.UnknownSigningHandle(detail={"handle": handle})
        state, pdf = found
        if datetime.fromisoformat(state["expires_at"]) < now:
            raise errors.UnknownSigningHandle("the pending signature has expired",
                                              message_vi="Phiên ký đang chờ đã hết hạn.",
                                              detail={"handle": handle})
        return state, pdf

    def finish(self, handle: str, *, signature: bytes | None = None, cms_data: bytes | None = None,
               output: Path | str | None = None, signer_fingerprint: str | None = None) -> SignedDocument:
        """Embed the device's answer: a raw ``signature`` or a whole ``cms_data``.

        The pending signature is claimed only once the answer has been embedded: a wrong value, or a
        finish by anyone but ``signer_fingerprint`` (the certificate it was prepared for), leaves it
        pending for the right answer.
        """
        if (signature is None) == (cms_data is None):
            raise errors.ExternalSignatureInvalid("give exactly one of a signature value or a CMS",
                                                  message_vi="Cần cung cấp đúng một trong hai: giá trị chữ ký hoặc CMS.")
        engine = self.engine
        moment = engine.now()   # finishing is its own operation: the timestamp and validation data are of now
        state, pdf = self._pending(handle, now=moment)
        if signer_fingerprint is not None and fingerprint_sha256(
                x509.Certificate.load(base64.b64decode(state["certificate"]))) != signer_fingerprint:
            raise errors.SigningHandleNotYours(detail={"handle": handle})
        level = Level.parse(state["level"])
        cert = x509.Certificate.load(base64.b64decode(state["certificate"]))
        chain = [x509.Certificate.load(base64.b64decode(c)) for c in state["chain"]]
        holder = ExternalKeyHolder(certificate=cert, chain=chain)
        md_algorithm = state["md_algorithm"]
        mechanism = algos.SignedDigestAlgorithm.load(base64.b64decode(state["mechanism"]))
        signed_attrs_der = base64.b64decode(state["signed_attrs"])
        document_digest = bytes.fromhex(state["document_digest"])
        prepared = PreparedByteRangeDigest(document_digest=document_digest,
                                           reserved_region_start=state["region"][0],
                                           reserved_region_end=state["region"][1])
        timestamper = engine.timestamper(level, moment)
        context = engine.validation_context(holder, moment) if level.needs_validation_data else None

        async def run(out):
            try:
                if signature is not None:
                    verify_raw_signature(cert, mechanism, md_algorithm, signed_attrs_der, signature)
                    ext = ExternalSigner(signing_cert=cert, cert_registry=holder.cert_registry(),
                                         signature_value=signature, signature_mechanism=mechanism)
                    content = await ext.async_sign_prescribed_attributes(
                        md_algorithm, signed_attrs=cms.CMSAttributes.load(signed_attrs_der),
                        timestamper=timestamper)
                else:
                    content = await _accept_cms(cms_data, cert, document_digest, md_algorithm, timestamper)
                instructions = None
                if context is not None:
                    instructions = await _post_sign_instructions(holder, context, level, timestamper,
                                                                 md_algorithm, engine)
                await PdfTBSDocument.async_finish_signing(out, prepared, content,
                                                          post_sign_instr=instructions,
                                                          validation_context=context)
            finally:
                if context is not None:
                    await context.aclose()

        def execute(out):
            try:
                _loop.run(run(out))
            except errors.SigningError:
                raise
            except TimestampRequestError as exc:
                raise errors.TimestampUnavailable(detail={"reason": str(exc)}) from None
            except Exception as exc:  # noqa: BLE001
                raise classify_failure(exc) from None

        buffer = io.BytesIO(pdf)
        buffer.seek(0, os.SEEK_END)
        with clock_operation(moment):
            execute(buffer)
        data = buffer.getvalue()
        if not self.store.take(handle):   # claimed now, once: a concurrent finish loses here
            raise errors.UnknownSigningHandle(detail={"handle": handle})
        moment = datetime.fromisoformat(state["moment"])
        result = dict(field=state["field"], level=level, signer_subject=cert.subject.human_friendly,
                      signer_fingerprint=fingerprint_sha256(cert), signing_time=moment, size=len(data))
        if output is None:
            return SignedDocument(**result, data=data)
        target = Path(output)
        with fileio.atomic_file(target) as fd:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        return SignedDocument(**result, path=target)


def external_mechanism(cert: x509.Certificate, md_algorithm: str, rsa_padding: str) -> algos.SignedDigestAlgorithm:
    """The signature mechanism asked of an external device.

    For RSASSA-PSS the salt is as long as the digest (what USB tokens and
    most libraries do by default), with MGF1 over the same digest.
    """
    algo = cert.public_key.algorithm
    if algo == "rsa" and rsa_padding == "pss":
        size = hashlib.new(md_algorithm).digest_size
        params = algos.RSASSAPSSParams({
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": md_algorithm}),
            "mask_gen_algorithm": algos.MaskGenAlgorithm({
                "algorithm": "mgf1",
                "parameters": algos.DigestAlgorithm({"algorithm": md_algorithm})}),
            "salt_length": size,
        })
        return algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": params})
    if algo == "rsa":
        return algos.SignedDigestAlgorithm({"algorithm": f"{md_algorithm}_rsa"})
    if algo == "ec":
        return algos.SignedDigestAlgorithm({"algorithm": f"{md_algorithm}_ecdsa"})
    raise errors.SigningError(f"unsupported key algorithm {algo} for external signing")


def verify_raw_signature(cert: x509.Certificate, mechanism: algos.SignedDigestAlgorithm,
                         md_algorithm: str, data: bytes, signature: bytes) -> None:
    """Check a raw signature over ``data`` with the certificate's public key."""
    key = serialization.load_der_public_key(cert.public_key.dump())
    algo = mechanism.signature_algo
    hash_algo = get_pyca_cryptography_hash(md_algorithm)
    try:
        if isinstance(key, rsa.RSAPublicKey) and algo == "rsassa_pkcs1v15":
            key.verify(signature, data, PKCS1v15(), hash_algo)
        elif isinstance(key, rsa.RSAPublicKey) and algo == "rsassa_pss":
            padding, pss_hash = process_pss_params(mechanism["parameters"])
            key.verify(signature, data, padding, pss_hash)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algo == "ecdsa":
            key.verify(signature, data, ec.ECDSA(hash_algo))
        else:
            raise errors.ExternalSignatureInvalid(f"unsupported key/mechanism pair: {algo}")
    except (InvalidSignature, ValueError):
        raise errors.ExternalSignatureInvalid() from None


async def _accept_cms(data: bytes, cert: x509.Certificate, document_digest: bytes,
                      md_algorithm: str, timestamper) -> cms.ContentInfo:
    """Check a CMS produced by the device and add a signature timestamp if the level needs one."""
    try:
        content = cms.ContentInfo.load(data)
        signed = content["content"]
        if content["content_type"].native != "signed_data" or len(signed["signer_infos"]) != 1:
            raise ValueError("not a CMS SignedData with one signer")
        info = signed["signer_infos"][0]
        attrs = info["signed_attrs"]
        digest_attr = next(a for a in attrs if a["type"].native == "message_digest")
        claimed = digest_attr["values"][0].native
        mechanism = info["signature_algorithm"]
        info_md = info["digest_algorithm"]["algorithm"].native
    except errors.SigningError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise errors.ExternalSignatureInvalid(f"the CMS does not parse: {exc}",
                                              message_vi="Không đọc được cấu trúc CMS.") from None
    if claimed != document_digest:
        raise errors.ExternalSignatureInvalid("the CMS signs a different document digest",
                                              message_vi="CMS ký một giá trị băm khác của văn bản.")
    if info_md != md_algorithm:
        raise errors.ExternalSignatureInvalid(f"the CMS uses {info_md}, expected {md_algorithm}")
    verify_raw_signature(cert, mechanism, md_algorithm, _der_set(attrs),
                         info["signature"].native)
    has_ts = info["unsigned_attrs"].native and any(
        a["type"].native == "signature_time_stamp_token" for a in info["unsigned_attrs"])
    if timestamper is not None and not has_ts:
        sig_digest = hashlib.new(md_algorithm, info["signature"].native).digest()
        token = await timestamper.async_timestamp(sig_digest, md_algorithm)
        info["unsigned_attrs"] = cms.CMSAttributes(
            [cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]})])
        content = cms.ContentInfo.load(content.dump(force=True))
    return content


def _der_set(attrs: cms.CMSAttributes) -> bytes:
    """The DER of the signed attributes as a SET OF (the bytes the signature covers)."""
    der = attrs.dump()
    return b"\x31" + der[1:]


async def _post_sign_instructions(holder, context, level: Level, timestamper, md_algorithm: str,
                                  engine: SigningEngine) -> PostSignInstructions:
    validator = CertificateValidator(holder.certificate, intermediate_certs=list(holder.chain),
                                     validation_context=context)
    signer_path = await validator.async_validate_usage(set(engine.policy.required_key_usage))
    ts_paths = []
    if timestamper is not None:
        async for path in timestamper.validation_paths(context):
            ts_paths.append(path)
    info = PreSignValidationStatus(
        signer_path=signer_path, validation_paths=[signer_path, *ts_paths], ts_validation_paths=ts_paths,
        ocsps_to_embed=context.ocsps, crls_to_embed=context.crls)
    return PostSignInstructions(
        validation_info=info, timestamper=timestamper if level is Level.B_LTA else None,
        timestamp_md_algorithm=md_algorithm, dss_settings=DSS_SETTINGS)
