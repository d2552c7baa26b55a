"""Raising a signed document's level and renewing an archive, without a new signature.

* ``extend(document, to=B-LT)``: the validation data (certificates, OCSP responses, CRLs) of
  every signature and document timestamp the document carries, whoever made them, in one DSS
  update;
* ``extend(document, to=B-LTA)``: the same, then a document timestamp over everything, then the
  validation data of that timestamp's own TSA (so that it can be judged offline later);
* ``renew(document)``: validation data for the newest document timestamp, a new document
  timestamp (from the TSA the policy names: one whose certificate outlives the previous one),
  and that timestamp's validation data. A chain of such renewals keeps an archive verifiable
  for as long as it is kept (ETSI EN 319 142-1, B-LTA).

pyHanko does the work (``collect_validation_info``, ``DocumentSecurityStore.add_dss``,
``PdfTimeStamper``); this module chooses what to add, at the operation's one moment, with the
engine's fetchers (the development PKI answers as of that moment).
"""
from __future__ import annotations

import dataclasses
import io
from datetime import datetime

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore, collect_validation_info
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator import errors as cv_errors

from signer import errors
from kyso import aio as _loop
from kyso.clock import operation as clock_operation
from signer.request import Level


@dataclasses.dataclass(frozen=True)
class ArchivedDocument:
    data: bytes
    level: Level                 # what the document now carries
    added_revisions: int
    moment: datetime
    timestamp_tsa: str | None    # the TSA of the document timestamp added, if any


def _reader(data: bytes) -> PdfFileReader:
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 - the document's fault
        raise errors.DocumentMalformed(detail={"reason": f"{type(exc).__name__}: {exc}"[:300]}) from None
    if reader.encrypted:
        raise errors.DocumentEncrypted()
    if not signatures:
        raise errors.NothingToExtend()
    return reader


def _context(engine, moment: datetime) -> ValidationContext:
    return ValidationContext(trust_roots=list(engine.policy.trust_roots), allow_fetching=True,
                             revocation_mode="hard-fail", moment=moment, fetchers=engine.fetchers(moment))


async def _add_validation_data(data: bytes, vc: ValidationContext, *, only_last_timestamp: bool = False) -> bytes:
    reader = _reader(data)
    signatures = list(reader.embedded_signatures)
    if only_last_timestamp:
        signatures = [s for s in signatures if s.sig_object.get("/Type") == "/DocTimeStamp"][-1:]
    paths = []
    for sig in signatures:
        try:
            paths.extend(await collect_validation_info(sig, vc))
        except cv_errors.PathBuildingError as exc:
            # a chain to no trusted root: no responder can help, the request is the problem (422)
            raise errors.SignatureChainUntrusted(
                detail={"field": sig.field_name, "reason": f"{type(exc).__name__}: {exc}"[:300]}) from None
        except Exception as exc:  # noqa: BLE001 - a responder that cannot be reached
            raise errors.ValidationDataUnavailable(
                detail={"field": sig.field_name, "reason": f"{type(exc).__name__}: {exc}"[:300]}) from None
    out = io.BytesIO(data)
    DocumentSecurityStore.add_dss(out, sig_contents=None, paths=paths, validation_context=vc, force_write=True)
    return out.getvalue()


def extend(engine, document: bytes, *, to: Level | str, at: datetime | None = None) -> ArchivedDocument:
    """Raise every signature of ``document`` to ``to`` (B-LT or B-LTA)."""
    to = Level.parse(to)
    if to not in (Level.B_LT, Level.B_LTA):
        raise errors.LevelNotExtendable(detail={"level": to.value})
    moment = at or engine.now()
    with clock_operation(moment):      # the updates' /ModDate too (hazmat.pyhanko_moddate)
        _reader(document)
        vc = _context(engine, moment)
        data = _loop.run(_add_validation_data(document, vc))
        added, tsa = 1, None
        if to is Level.B_LTA:
            data, tsa = _timestamp(engine, data, moment, vc)
            data = _loop.run(_add_validation_data(data, _context(engine, moment), only_last_timestamp=True))
            added += 2
    return ArchivedDocument(data=data, level=to, added_revisions=added, moment=moment, timestamp_tsa=tsa)


def renew(engine, document: bytes, *, at: datetime | None = None) -> ArchivedDocument:
    """A new document timestamp over the archive, with the validation data of the one before it and
    of itself."""
    moment = at or engine.now()
    with clock_operation(moment):      # the updates' /ModDate too (hazmat.pyhanko_moddate)
        reader = _reader(document)
        vc = _context(engine, moment)
        timestamper = engine.timestamper(Level.B_T, moment)
        out = io.BytesIO()
        try:
            _loop.run(PdfTimeStamper(timestamper).async_update_archival_timestamp_chain(
                reader, vc, in_place=False, output=out, default_md_algorithm=engine.policy.md_algorithm))
        except errors.SigningError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise _archive_fault(exc) from None
        before, after = protection_expiry(document), protection_expiry(out.getvalue())
        if before is not None and (after is None or after <= before):
            # the configured TSA's certificate ends no later than the archive's protection: a renewal with
            # it would be due again at once; the administrator must name a TSA with a newer certificate
            raise errors.RenewalNeedsNewerTsa(detail={"protected_until": before.isoformat(),
                                                      "tsa_until": after.isoformat() if after else None})
        data = _loop.run(_add_validation_data(out.getvalue(), _context(engine, moment), only_last_timestamp=True))
    return ArchivedDocument(data=data, level=Level.B_LTA, added_revisions=3, moment=moment,
                            timestamp_tsa=_last_tsa(data))


def _timestamp(engine, data: bytes, moment: datetime, vc: ValidationContext) -> tuple[bytes, str | None]:
    timestamper = engine.timestamper(Level.B_T, moment)
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    out = io.BytesIO()
    try:
        _loop.run(PdfTimeStamper(timestamper).async_timestamp_pdf(
            writer, md_algorithm=engine.policy.md_algorithm, validation_context=vc, output=out))
    except Exception as exc:  # noqa: BLE001
        raise _archive_fault(exc) from None
    stamped = out.getvalue()
    return stamped, _last_tsa(stamped)


def _last_tsa(data: bytes) -> str | None:
    try:
        last = PdfFileReader(io.BytesIO(data)).embedded_timestamp_signatures[-1]
        return last.signer_cert.subject.human_friendly
    except Exception:  # noqa: BLE001
        return None


def _archive_fault(exc: Exception) -> errors.SigningError:
    text = f"{type(exc).__name__}: {exc}"[:300]
    if "timestamp" in text.lower() or "tsa" in text.lower():
        return errors.TimestampUnavailable(detail={"reason": text})
    return errors.ValidationDataUnavailable(detail={"reason": text})


def protection_expiry(document: bytes) -> datetime | None:
    """Until when the document's signatures can be proven: the end of the certificate of the TSA that
    made its newest document timestamp; without one, the earliest end among its signature timestamps'
    TSAs and, for a signature without a timestamp, its signer's certificate. None: nothing signed."""
    try:
        reader = PdfFileReader(io.BytesIO(document), strict=False)
        timestamps = list(reader.embedded_timestamp_signatures)
        if timestamps:
            return _not_after(timestamps[-1].signer_cert)
        ends = []
        for sig in reader.embedded_regular_signatures:
            tokens = list(_signature_timestamps(sig))
            if tokens:
                ends.extend(_not_after(_tst_signer(token)) for token in tokens)
            else:
                ends.append(_not_after(sig.signer_cert))
        ends = [e for e in ends if e is not None]
        return min(ends) if ends else None
    except Exception:  # noqa: BLE001 - a document Kyso cannot read has no known protection
        return None


def _signature_timestamps(sig):
    from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

    return extract_tst_data_iter(sig.signer_info, signed=False)


def _tst_signer(token):
    from pyhanko.sign.validation.generic_cms import extract_certs_for_validation

    return extract_certs_for_validation(token).signer_cert


def _not_after(cert):
    from datetime import timezone

    if cert is None:
        return None
    value = cert["tbs_certificate"]["validity"]["not_after"].native
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
