"""The verification report as an ETSI TS 119 102-2 (v1.2.1) validation report in XML.

Built on pyHanko's generated xsdata models (``pyhanko.generated.etsi``, the
``etsi`` extra) and serialised with xsdata's ``XmlSerializer``.

Mapping (the report dict has no CMS bytes, so some elements are references
or digests rather than values):

* one ``SignatureValidationReport`` per entry of ``signatures`` (signatures and
  document timestamps alike), in revision order;
* ``SignatureIdentifier``: ``id`` derived from the field name and ByteRange,
  ``DAIdentifier`` = the PDF field name, ``HashOnly``/``DocHashOnly`` false;
  no ``SignatureValue``/``DigestAlgAndValue`` (not in the report);
* ``ValidationTimeInfo``: the validation time; best signature time = the
  signature timestamp if it validated, else the validation time;
* ``SignersDocument``: the file's SHA-256, only when the signature covers the
  entire file (otherwise the signed revision's digest is not in the report);
* ``SignatureAttributes``: SigningTime (claimed), SignatureTimeStamp,
  DocTimeStamp (later document timestamps), SubFilter, ByteRange;
* ``SignerInformation``: reference to the signer's certificate object + subject;
* ``SignatureValidationStatus``: ETSI main indication and sub-indication URIs,
  the certificate chain (signing certificate, intermediates, trust anchor),
  revocation time when revoked, and Kyso's own findings (reason in vi/en,
  flags, coverage, modifications, Decree 30 role) as ``AdditionalValidationReportData``;
* ``SignatureValidationObjects``: every certificate of the chains (by SHA-256
  digest) and the PDF file itself (``signedData``, by SHA-256 digest).

An unsigned document still needs one ``SignatureValidationReport`` (the schema
requires at least one): it gets ``total-failed`` (``indeterminate`` when the
file could not be read) without a sub-indication, and Kyso's verdict and
reasons in the additional data; the file is still listed as
a ``signedData`` validation object.

Not mapped (not in the report dict): signature values and DTBSR digests, the
CMS signing-certificate attribute, the certificates, CRLs, OCSP responses and
timestamp tokens themselves (objects are identified by digest only), POE per
object, signature quality (no qualification algorithm), the document-level
verdict and the Decree 30 check as such (TS 119 102-2 reports per signature;
each signature carries its Decree 30 role and the check's status as Kyso data).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Mapping
from typing import Any

from pyhanko.generated.etsi import ts_11910202 as vr
from pyhanko.generated.etsi import xades
from pyhanko.generated.w3c import xmldsig_core as ds
from xsdata.formats.dataclass.serializers import XmlSerializer
from xsdata.formats.dataclass.serializers.config import SerializerConfig
from xsdata.models.datatype import XmlDateTime

from . import _common as c

NAMESPACES = {
    "vr": "http://uri.etsi.org/19102/v1.2.1#",
    "XAdES": "http://uri.etsi.org/01903/v1.3.2#",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
SHA256_URI = "http://www.w3.org/2001/04/xmlenc#sha256"
MAIN_INDICATION = {
    "TOTAL_PASSED": "urn:etsi:019102:mainindication:total-passed",
    "TOTAL_FAILED": "urn:etsi:019102:mainindication:total-failed",
    "INDETERMINATE": "urn:etsi:019102:mainindication:indeterminate",
}
# EN 319 102-1 sub-indications; Kyso's GENERIC is not one of them and is reported only as Kyso data.
STANDARD_SUB_INDICATIONS = frozenset(c.SUB_INDICATION) - {"GENERIC"}
VO_CERTIFICATE = "urn:etsi:019102:validationObject:certificate"
VO_SIGNED_DATA = "urn:etsi:019102:validationObject:signedData"
POE_VALIDATION = "urn:etsi:019102:poetype:validation"
KYSO = "urn:kyso:verification:"      # Type URIs of Kyso's additional report data


def _time(value: str | None) -> XmlDateTime | None:
    parsed = c.parse_time(value)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.UTC)
    return XmlDateTime.from_datetime(parsed)


def _sha256(hex_digest: str | None) -> xades.DigestAlgAndValueType | None:
    try:
        raw = bytes.fromhex(str(hex_digest).replace(":", ""))
    except ValueError:
        return None
    if len(raw) != 32:
        return None
    return xades.DigestAlgAndValueType(digest_method=ds.DigestMethod(algorithm=SHA256_URI),
                                       digest_value=ds.DigestValue(raw))


def _cert_id(cert: Mapping[str, Any]) -> str:
    fp = str(cert.get("sha256") or "").replace(":", "").upper()
    if fp:
        return f"C-{fp}"
    seed = f'{cert.get("issuer")}|{cert.get("serial")}'.encode()
    return "C-" + hashlib.sha256(seed).hexdigest().upper()


def _ref(*ids: str) -> vr.VOReferenceType:
    return vr.VOReferenceType(voreference=tuple(ids))


def _data(key: str, value: Any) -> vr.TypedDataType:
    return vr.TypedDataType(type_value=KYSO + key, value=c.fmt_value(value))


class _Builder:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.objects: dict[str, vr.ValidationObjectType] = {}
        self.doc_id: str | None = None
        digest = _sha256(data.get("sha256"))
        if digest is not None:
            self.doc_id = "D-" + str(data["sha256"]).replace(":", "").upper()
            self.objects[self.doc_id] = vr.ValidationObjectType(
                id=self.doc_id, object_type=VO_SIGNED_DATA,
                validation_object_representation=vr.ValidationObjectRepresentationType(digest_alg_and_value=digest))

    def cert_object(self, cert: Mapping[str, Any]) -> str:
        vo_id = _cert_id(cert)
        if vo_id not in self.objects:
            digest = _sha256(cert.get("sha256"))
            representation = (vr.ValidationObjectRepresentationType(digest_alg_and_value=digest) if digest
                              else vr.ValidationObjectRepresentationType(uri=f"urn:kyso:certificate:serial:{cert.get('serial')}"))
            self.objects[vo_id] = vr.ValidationObjectType(
                id=vo_id, object_type=VO_CERTIFICATE, validation_object_representation=representation)
        return vo_id

    # ------------------------------------------------------------------------------------------
    def signature(self, sig: Mapping[str, Any]) -> vr.SignatureValidationReportType:
        data = self.data
        field = str(sig.get("field") or "")
        byte_range = [int(x) for x in sig.get("byte_range") or [] if isinstance(x, int)]
        seed = f"{field}|{' '.join(map(str, byte_range))}".encode()
        identifier = vr.SignatureIdentifierType(
            id="S-" + hashlib.sha256(seed).hexdigest().upper(),
            hash_only=False, doc_hash_only=False, daidentifier=field or None)

        ts = sig.get("timestamp") or {}
        validation_time = _time(data.get("validation_time"))
        ts_time = _time(ts.get("time"))
        best = ts_time if (ts_time is not None and ts.get("valid")) else validation_time
        time_info = vr.ValidationTimeInfoType(
            validation_time=validation_time,
            best_signature_time=vr.POEType(poetime=best, type_of_proof=POE_VALIDATION) if best else None)

        signers_document = None
        if sig.get("coverage") == "entire_file" and self.doc_id:
            signers_document = vr.SignersDocumentType(
                digest_alg_and_value=_sha256(data.get("sha256")),
                signers_document_representation=(_ref(self.doc_id),))

        attrs: dict[str, Any] = {}
        signing_time = _time(sig.get("signing_time"))
        if sig.get("kind") == "document_timestamp":
            signing_time = signing_time or ts_time     # the token's genTime, signed inside TSTInfo
        elif ts_time is not None:
            attrs["signature_time_stamp"] = (vr.SATimestampType(signed=False, time_stamp_value=ts_time),)
        if signing_time is not None:
            attrs["signing_time"] = (vr.SASigningTimeType(signed=True, time=signing_time),)
        doc_ts = []
        for other in data["signatures"]:
            if (other.get("kind") == "document_timestamp" and other is not sig
                    and (other.get("revision") or 0) > (sig.get("revision") or 0)):
                when = _time((other.get("timestamp") or {}).get("time") or other.get("signing_time"))
                if when is not None:
                    doc_ts.append(vr.SATimestampType(signed=False, time_stamp_value=when))
        if doc_ts:
            attrs["doc_time_stamp"] = tuple(doc_ts)
        if sig.get("subfilter"):
            attrs["sub_filter"] = (vr.SASubFilterType(signed=True, sub_filter_element=str(sig["subfilter"]).lstrip("/")),)
        if byte_range:
            attrs["byte_range"] = (tuple(byte_range),)

        chain = list(sig.get("chain") or [])
        signer = sig.get("signer") or {}
        signer_cert = c.signer_cert(sig)
        signer_information = None
        chain_data = None
        signer_id = anchor_id = None
        if signer_cert is not None:
            signer_id = self.cert_object(signer_cert)
            ids = [self.cert_object(cert) for cert in chain]
            anchors = [self.cert_object(cert) for cert in chain if cert.get("is_trust_anchor")]
            middle = [i for i, cert in zip(ids, chain) if i != signer_id and not cert.get("is_trust_anchor")]
            signer_information = vr.SignerInformationType(
                signer_certificate=_ref(signer_id),
                signer=signer.get("subject") or signer_cert.get("subject"))
            chain_data = vr.CertificateChainType(
                signing_certificate=_ref(signer_id),
                intermediate_certificate=tuple(_ref(i) for i in middle),
                trust_anchor=_ref(anchors[0]) if anchors else None)
            anchor_id = anchors[0] if anchors else None

        status = self.status(sig, chain_data, anchor_id, signer_id)
        level = str(sig.get("level") or "")
        process = {"B-LTA": "LTA", "B-LT": "LTVM", "B-T": "LTVM"}.get(level, "Basic")
        policy = data.get("policy") or {}
        policy_name = next((str(policy[k]) for k in ("uri", "id", "name") if isinstance(policy.get(k), str)), None)
        return vr.SignatureValidationReportType(
            signature_identifier=identifier,
            validation_time_info=time_info,
            signers_document=signers_document,
            signature_attributes=vr.SignatureAttributesType(**attrs) if attrs else None,
            signer_information=signer_information,
            signature_validation_process=vr.SignatureValidationProcessType(
                signature_validation_process_id=f"urn:etsi:019102:validationprocess:{process}",
                signature_validation_service_policy=policy_name),
            signature_validation_status=status,
        )

    def status(self, sig: Mapping[str, Any], chain_data: vr.CertificateChainType | None,
               anchor_id: str | None, signer_id: str | None) -> vr.ValidationStatusType:
        main = MAIN_INDICATION.get(str(sig.get("indication")), MAIN_INDICATION["INDETERMINATE"])
        sub = sig.get("sub_indication")
        subs = (f"urn:etsi:019102:subindication:{sub}",) if sub in STANDARD_SUB_INDICATIONS else ()

        revocation = None
        rev = sig.get("revocation") or {}
        if rev.get("status") == "revoked" and signer_id and _time(rev.get("revoked_at")):
            revocation = vr.RevocationStatusInformationType(
                validation_object_id=_ref(signer_id), revocation_time=_time(rev.get("revoked_at")),
                revocation_reason=rev.get("detail"))

        reason = sig.get("reason") or {}
        extra = [_data("reason:code", reason.get("code")), _data("reason:vi", reason.get("vi")),
                 _data("reason:en", reason.get("en"))]
        if sub and sub not in STANDARD_SUB_INDICATIONS:
            extra.append(_data("sub_indication", sub))
        for key in ("kind", "intact", "crypto_valid", "trusted", "coverage", "revision", "level", "docmdp"):
            if sig.get(key) is not None:
                extra.append(_data(key, sig.get(key)))
        extra.append(_data("revocation:status", rev.get("status")))
        if rev.get("source"):
            extra.append(_data("revocation:source", rev.get("source")))
        for problem in sig.get("problems") or []:
            extra.append(_data("problem", f'{problem.get("code")}: {problem.get("en")} / {problem.get("vi")}'))
        for change in sig.get("modifications_after") or []:
            extra.append(_data("modification", {k: change.get(k) for k in (
                "revision", "category", "description", "permitted_by_docmdp", "permitted_by_policy")}))
        d30 = self.data.get("decree30") or {}
        for role, key in (("personal", "personal_field"), ("agency", "agency_field")):
            if d30.get(key) and d30.get(key) == sig.get("field"):
                extra.append(_data("decree30:role", role))
                extra.append(_data("decree30:status", d30.get("status")))

        report_data = vr.ValidationReportDataType(
            trust_anchor=_ref(anchor_id) if anchor_id else None,
            certificate_chain=chain_data,
            revocation_status_information=revocation,
            additional_validation_report_data=vr.AdditionalValidationReportDataType(report_data=tuple(extra)))
        return vr.ValidationStatusType(main_indication=main, sub_indication=subs,
                                       associated_validation_report_data=(report_data,))

    def unsigned(self) -> vr.SignatureValidationReportType:
        reasons = self.data.get("reasons") or []
        extra = [_data("verdict", self.data.get("verdict"))]
        for reason in reasons:
            extra.append(_data("reason", f'{reason.get("code")}: {reason.get("en")} / {reason.get("vi")}'))
        return vr.SignatureValidationReportType(
            validation_time_info=vr.ValidationTimeInfoType(
                validation_time=_time(self.data.get("validation_time")),
                best_signature_time=vr.POEType(poetime=_time(self.data.get("validation_time")),
                                               type_of_proof=POE_VALIDATION)),
            signature_validation_status=vr.ValidationStatusType(
                main_indication=MAIN_INDICATION["INDETERMINATE" if self.data.get("verdict") == "indeterminate"
                                                else "TOTAL_FAILED"],
                associated_validation_report_data=(vr.ValidationReportDataType(
                    additional_validation_report_data=vr.AdditionalValidationReportDataType(report_data=tuple(extra))),)),
        )

    def build(self) -> vr.ValidationReport:
        sigs = self.data["signatures"]
        reports = tuple(self.signature(sig) for sig in sigs) if sigs else (self.unsigned(),)
        objects = tuple(self.objects.values())
        return vr.ValidationReport(
            signature_validation_report=reports,
            signature_validation_objects=vr.ValidationObjectListType(objects) if objects else None)


def to_etsi_xml(report: Mapping[str, Any]) -> bytes:
    """ETSI TS 119 102-2 validation report for a ``kyso.verification/1`` report dict (UTF-8 bytes)."""
    data = c.load(report)
    model = _Builder(data).build()
    text = XmlSerializer(config=SerializerConfig(indent="  ")).render(model, ns_map=NAMESPACES)
    return text.encode("utf-8")
