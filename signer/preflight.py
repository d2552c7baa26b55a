"""Refusals before signing: the document and the signer's certificate.

Nothing is signed unless the document parses strictly (Kyso never repairs a
document someone is about to sign), is not encrypted, and the certificate is
within its validity period, carries the needed key usage, chains to a trusted
root and is not revoked (asked of OCSP or the CRL over HTTP).
"""
from __future__ import annotations

import asyncio
import io
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from asn1crypto import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors

from kyso import aio as _loop
from signer import errors
from signer.keyholders import KeyHolder
from signer.policy import SigningPolicy

_HEADER_WINDOW = 1024


def open_for_signing(stream: IO[bytes], *, path: Path | None = None) -> IncrementalPdfFileWriter:
    """Open ``stream`` for an incremental update, refusing what must not be signed.

    ``path``, when the stream is that file, lets qpdf read it directly.
    """
    stream.seek(0)
    head = stream.read(_HEADER_WINDOW)
    if b"%PDF-" not in head:
        raise errors.NotAPdf()
    stream.seek(0)
    try:
        writer = IncrementalPdfFileWriter(stream, strict=True)
        reader = writer.prev
        encrypted = reader.encrypted
        if not encrypted:
            # touch the structure a signature depends on: catalog and page tree
            root = reader.root
            pages = root["/Pages"]
            int(pages["/Count"])
    except errors.SigningError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure refuses the document
        text = str(exc)
        if "encrypt" in text.lower():
            raise errors.DocumentEncrypted() from None
        raise errors.DocumentMalformed(detail={"reason": f"{type(exc).__name__}: {text}"[:500]}) from None
    if encrypted:
        raise errors.DocumentEncrypted()
    _check_strict_structure(stream, path)
    return writer


def _check_strict_structure(stream: IO[bytes], path: Path | None = None) -> None:
    """Second, independent parse with qpdf (pikepdf), recovery disabled.

    pyHanko's reader is lenient about a few things qpdf notices (for
    example xref offsets that point at the wrong object); qpdf with
    recovery off refuses them instead of silently repairing.
    """
    import pikepdf

    stream.seek(0)
    try:
        with pikepdf.open(path if path is not None else stream, attempt_recovery=False) as pdf:
            len(pdf.pages)
    except pikepdf.PasswordError:
        raise errors.DocumentEncrypted() from None
    except Exception as exc:  # noqa: BLE001
        raise errors.DocumentMalformed(detail={"reason": f"qpdf: {exc}"[:500]}) from None
    finally:
        stream.seek(0)


_STRUCTURE_ERRORS = (KeyError, TypeError, IndexError, AttributeError, ValueError)


def document_fault(exc: BaseException) -> errors.DocumentMalformed | None:
    """The refusal to give when ``exc`` came from reading the uploaded document, else None.

    The preflight reads only the objects a signature depends on (pyHanko and qpdf both load
    lazily); a damaged object further in surfaces while pyHanko signs: as one of its read errors,
    or as a lookup/type error raised inside its PDF object layer. Either is the document's fault
    (422 ``pdf_malformed``), not the service's.
    """
    from pyhanko.pdf_utils import misc

    reason = {"reason": f"{type(exc).__name__}: {exc}"[:500]}
    if isinstance(exc, misc.PdfError) and not isinstance(exc, misc.PdfWriteError):
        return errors.DocumentMalformed(detail=reason)
    if isinstance(exc, _STRUCTURE_ERRORS):
        tb = exc.__traceback__
        innermost = None
        while tb is not None:
            innermost = tb.tb_frame.f_code.co_filename
            tb = tb.tb_next
        if innermost and "/pyhanko/pdf_utils/" in innermost.replace("\\", "/"):
            return errors.DocumentMalformed(detail=reason)
    return None


class CertificateChecker:
    """Checks the signer's certificate before each signature, with a cache.

    Validity and key usage are checked every time (they cost nothing). The
    chain and revocation check goes to OCSP/CRL; a success at moment ``t`` is
    reused for operations whose moment lies in ``[t, t + policy.revocation_max_age_seconds]``
    and before the earliest nextUpdate of the OCSP responses and CRLs it relied on.
    The window is on the operations' own clock (the moment each one was given),
    never on the wall clock: an answer about one moment is never taken for another.
    """

    def __init__(self, policy: SigningPolicy) -> None:
        self._policy = policy
        self._good: dict[str, tuple[datetime, datetime]] = {}   # fingerprint -> (checked at, reusable until)
        self._lock = threading.Lock()

    def check(self, holder: KeyHolder, *, moment: datetime, fetchers=None) -> None:
        """Refuse the certificate if it cannot sign at ``moment``; ``fetchers`` (optional) fetch
        the OCSP/CRL answers (see ``SigningEngine.fetchers``)."""
        policy = self._policy
        cert = holder.certificate
        if policy.refuse_certificate is not None:
            if policy.refuse_certificate(cert):
                raise errors.CertificateIsDevMaterial(detail={"subject": cert.subject.human_friendly})
        if policy.check_validity:
            check_validity(cert, moment)
        if policy.check_key_usage:
            check_key_usage(cert, policy.required_key_usage)
        if policy.check_chain_and_revocation:
            key = holder.fingerprint
            with self._lock:
                good = self._good.get(key)
            if good is None or not good[0] <= moment <= good[1]:
                until = self._check_chain_and_revocation(holder, moment, fetchers)
                with self._lock:
                    if len(self._good) > 4096:
                        self._good.clear()
                    self._good[key] = (moment, until)

    def forget(self) -> None:
        with self._lock:
            self._good.clear()

    def _check_chain_and_revocation(self, holder: KeyHolder, moment: datetime, fetchers=None) -> datetime:
        """Validate the chain and the revocation status at ``moment``; return until when this
        good answer may be reused (never past a nextUpdate of what it relied on)."""
        policy = self._policy
        context = ValidationContext(
            trust_roots=list(policy.trust_roots), other_certs=list(holder.chain),
            moment=moment, allow_fetching=True, revocation_mode="hard-fail", fetchers=fetchers,
        )
        validator = CertificateValidator(holder.certificate, intermediate_certs=list(holder.chain),
                                         validation_context=context)

        async def run():
            try:
                return await asyncio.wait_for(validator.async_validate_usage(set()),
                                              timeout=policy.http_timeout_seconds * 2)
            finally:
                await context.aclose()

        try:
            _loop.run(run())
            return _reusable_until(context, moment, policy.revocation_max_age_seconds)
        except cv_errors.RevokedError as exc:
            raise errors.CertificateRevoked(detail={"reason": str(exc)}) from None
        except cv_errors.ExpiredError as exc:
            raise errors.CertificateExpired(detail={"reason": str(exc)}) from None
        except cv_errors.NotYetValidError as exc:
            raise errors.CertificateNotYetValid(detail={"reason": str(exc)}) from None
        except cv_errors.InsufficientRevinfoError as exc:
            raise errors.RevocationUnavailable(detail={"reason": str(exc)}) from None
        except cv_errors.PathBuildingError as exc:
            raise errors.CertificateUntrusted(detail={"reason": str(exc)}) from None
        except (cv_errors.PathValidationError, cv_errors.InvalidCertificateError) as exc:
            if "self-signed" in str(exc) or "not trusted" in str(exc).lower():
                raise errors.CertificateUntrusted(detail={"reason": str(exc)}) from None
            raise errors.CertificateRefused(detail={"reason": str(exc)}) from None
        except (asyncio.TimeoutError, OSError) as exc:
            raise errors.RevocationUnavailable(detail={"reason": f"{type(exc).__name__}: {exc}"}) from None


def _reusable_until(context: ValidationContext, moment: datetime, max_age_seconds: float) -> datetime:
    until = moment + timedelta(seconds=max_age_seconds)
    for response in context.ocsps:
        try:
            for single in response.basic_ocsp_response["tbs_response_data"]["responses"]:
                next_update = single["next_update"].native
                if next_update is not None:
                    until = min(until, next_update)
        except (KeyError, TypeError, ValueError):
            return moment   # cannot tell: do not reuse
    for crl in context.crls:
        try:
            next_update = crl["tbs_cert_list"]["next_update"].native
        except (KeyError, TypeError, ValueError):
            return moment
        if next_update is not None:
            until = min(until, next_update)
    return until


def check_validity(cert: x509.Certificate, moment: datetime) -> None:
    validity = cert["tbs_certificate"]["validity"]
    not_before = validity["not_before"].native
    not_after = validity["not_after"].native
    detail = {"not_before": not_before.isoformat(), "not_after": not_after.isoformat(),
              "at": moment.isoformat()}
    if moment < not_before:
        raise errors.CertificateNotYetValid(detail=detail)
    if moment > not_after:
        raise errors.CertificateExpired(detail=detail)


def check_key_usage(cert: x509.Certificate, required: frozenset[str]) -> None:
    usage = cert.key_usage_value
    present = set(usage.native) if usage is not None else set()
    missing = sorted(required - present)
    if missing:
        raise errors.CertificateKeyUsage(detail={"missing": missing, "present": sorted(present)})


def as_stream(data: bytes) -> IO[bytes]:
    return io.BytesIO(data)
