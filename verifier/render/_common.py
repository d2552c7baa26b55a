"""What the renderers share: reading the report dict, bilingual labels, formatting.

The renderers take the dict form of a ``VerificationReport`` (schema
``kyso.verification/1``), so they work on stored JSON as well as on fresh
results. Nothing here judges a signature: every verdict, indication and flag
comes from the report; this module only names them for people.
"""
from __future__ import annotations

import datetime as _dt
import json
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from kyso.errors import ErrorKind, KysoError

SCHEMA = "kyso.verification/1"   # the verifier's schema (verifier.report.SCHEMA)
LANGS = ("vi", "en")
VN_TZ = _dt.timezone(_dt.timedelta(hours=7))


class ReportUnreadable(KysoError):
    """The input is not a ``kyso.verification/1`` report the renderers can read."""

    code = "report_unreadable"
    kind = ErrorKind.INVALID_INPUT
    message_en = "The verification report cannot be read (unknown schema or missing fields)."
    message_vi = "Không đọc được báo cáo kiểm tra chữ ký (sai lược đồ hoặc thiếu trường dữ liệu)."


# --------------------------------------------------------------------------------------------
# Labels: key -> (Vietnamese, English)

T: dict[str, tuple[str, str]] = {
    "title": ("Kết quả kiểm tra chữ ký số", "Digital signature verification report"),
    "document": ("Tài liệu", "Document"),
    "file": ("Tên tệp", "File name"),
    "sha256": ("Mã băm SHA-256", "SHA-256"),
    "size": ("Kích thước", "Size"),
    "revisions": ("Số phiên bản (lần lưu)", "Revisions"),
    "last_covered": ("Phiên bản cuối được chữ ký bao phủ", "Last revision covered by a signature"),
    "validation_time": ("Thời điểm kiểm tra", "Validation time"),
    "policy": ("Chính sách kiểm tra", "Validation policy"),
    "duration": ("Thời gian xử lý", "Processing time"),
    "reasons": ("Lý do", "Reasons"),
    "decree30": ("Kiểm tra theo Nghị định 30/2020/NĐ-CP", "Decree 30/2020 check"),
    "d30_personal": ("1. Chữ ký của người có thẩm quyền (cá nhân)", "1. Signature of the competent person (personal)"),
    "d30_agency": ("2. Chữ ký của cơ quan, tổ chức", "2. Signature of the issuing agency"),
    "d30_none": ("Không có", "None"),
    "timeline": ("Chuỗi chữ ký theo thứ tự phiên bản", "Signatures in revision order"),
    "no_signatures": ("Tài liệu không có chữ ký số nào.", "The document carries no digital signature."),
    "signer": ("Người ký", "Signer"),
    "organization": ("Cơ quan, tổ chức", "Organisation"),
    "job_title": ("Chức vụ", "Title"),
    "cert_type": ("Loại chứng thư số", "Certificate type"),
    "issuing_ca": ("Tổ chức cấp chứng thư (CA)", "Issuing CA"),
    "signing_time": ("Thời gian ký (do người ký khai)", "Signing time (claimed)"),
    "timestamp": ("Dấu thời gian", "Timestamp"),
    "tsa": ("Đơn vị cấp dấu thời gian (TSA)", "Time-stamping authority"),
    "no_timestamp": ("Không có dấu thời gian", "No timestamp"),
    "cert_valid_at": ("Thời hạn chứng thư lúc ký", "Certificate validity at signing time"),
    "indication": ("Kết luận ETSI", "ETSI indication"),
    "sub_indication": ("Chỉ dẫn phụ", "Sub-indication"),
    "conclusion": ("Kết luận", "Conclusion"),
    "problems": ("Vấn đề phát hiện", "Problems found"),
    "checks": ("Các kiểm tra", "Checks"),
    "intact": ("Toàn vẹn (mã băm khớp)", "Integrity (digest matches)"),
    "crypto_valid": ("Chữ ký đúng về mật mã", "Signature value verifies"),
    "trusted": ("Chứng thư tin cậy", "Trusted certificate path"),
    "coverage": ("Phạm vi ký", "Coverage"),
    "revision": ("Phiên bản", "Revision"),
    "revocation": ("Trạng thái thu hồi", "Revocation status"),
    "revocation_source": ("Nguồn", "Source"),
    "revoked_at": ("Thu hồi lúc", "Revoked at"),
    "checked_at": ("Kiểm tra tại thời điểm", "Checked at"),
    "level": ("Mức PAdES", "PAdES level"),
    "algorithms": ("Thuật toán", "Algorithms"),
    "docmdp": ("Chữ ký chứng nhận (DocMDP)", "Certification signature (DocMDP)"),
    "byte_range": ("ByteRange", "ByteRange"),
    "field": ("Trường chữ ký", "Signature field"),
    "modifications": ("Thay đổi sau khi ký", "Modifications after signing"),
    "no_modifications": ("Không có thay đổi nào sau chữ ký này.", "No modification after this signature."),
    "category": ("Loại thay đổi", "Category"),
    "description": ("Mô tả", "Description"),
    "permitted": ("Được phép?", "Permitted?"),
    "objects": ("Đối tượng", "Objects"),
    "cert_path": ("Đường dẫn chứng thư", "Certificate path"),
    "no_chain": ("Không có chứng thư nào trong báo cáo.", "No certificate in the report."),
    "subject": ("Chủ thể", "Subject"),
    "issuer": ("Tổ chức cấp", "Issuer"),
    "validity": ("Hiệu lực", "Validity"),
    "serial": ("Số hiệu", "Serial"),
    "sig_alg": ("Thuật toán ký", "Signature algorithm"),
    "key_usage": ("Mục đích sử dụng khóa", "Key usage"),
    "trust_anchor": ("Điểm tin cậy gốc", "Trust anchor"),
    "sha1_signed": ("Ký bằng SHA-1", "SHA-1 signed"),
    "signer_cert": ("Chứng thư của người ký", "Signer's certificate"),
    "yes": ("Có", "Yes"),
    "no": ("Không", "No"),
    "unknown": ("Không xác định", "Unknown"),
    "not_applicable": ("Không áp dụng", "Not applicable"),
    "generated_by": ("Báo cáo do Kyso tạo từ kết quả kiểm tra", "Report generated by Kyso from the verification result"),
    "page": ("Trang", "Page"),
    "bytes": ("byte", "bytes"),
    "to": ("đến", "to"),
}

KIND = {
    "signature": ("Chữ ký số", "Digital signature"),
    "document_timestamp": ("Dấu thời gian tài liệu", "Document timestamp"),
}

VERDICT = {   # verdict -> (vi, en, css name, colour)
    "valid": ("HỢP LỆ", "Valid", "valid", "#1e7e34"),
    "invalid": ("KHÔNG HỢP LỆ", "Invalid", "invalid", "#c62828"),
    "indeterminate": ("KHÔNG XÁC ĐỊNH", "Indeterminate", "indeterminate", "#b26a00"),
    "unsigned": ("KHÔNG CÓ CHỮ KÝ", "Unsigned", "unsigned", "#5f6368"),
}

_OUTCOME_CSS = {"green": "valid", "amber": "indeterminate", "red": "invalid", "grey": "unsigned"}


def headline(data: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(vi, en, css name, colour) of what a person reads first: the report's outcome (the verdict
    and the Decree 30 pair together, ``verifier.report.outcome``), else the verdict alone."""
    outcome = data.get("outcome")
    if isinstance(outcome, Mapping) and outcome.get("colour") in _OUTCOME_CSS:
        css = _OUTCOME_CSS[outcome["colour"]]
        return str(outcome.get("vi", "")), str(outcome.get("en", "")), css, VERDICT[css][3]
    return VERDICT[data["verdict"]]


INDICATION = {   # ETSI main indication -> (vi, en, css name)
    "TOTAL_PASSED": ("Đạt", "Passed", "valid"),
    "TOTAL_FAILED": ("Không đạt", "Failed", "invalid"),
    "INDETERMINATE": ("Không xác định", "Indeterminate", "indeterminate"),
}

SUB_INDICATION = {   # ETSI EN 319 102-1 sub-indications
    "FORMAT_FAILURE": ("Sai định dạng chữ ký", "Signature format not conformant"),
    "HASH_FAILURE": ("Mã băm không khớp: nội dung đã bị thay đổi", "Digest mismatch: the signed content was altered"),
    "SIG_CRYPTO_FAILURE": ("Giá trị chữ ký không đúng", "Signature value does not verify"),
    "REVOKED": ("Chứng thư đã bị thu hồi", "Certificate revoked"),
    "SIG_CONSTRAINTS_FAILURE": ("Không đáp ứng ràng buộc của chính sách", "Signature constraints not met"),
    "CHAIN_CONSTRAINTS_FAILURE": ("Đường dẫn chứng thư không đáp ứng chính sách", "Chain constraints not met"),
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": ("Lỗi đường dẫn chứng thư", "Certificate chain failure"),
    "CRYPTO_CONSTRAINTS_FAILURE": ("Thuật toán không được chấp nhận", "Algorithm not acceptable"),
    "EXPIRED": ("Chứng thư đã hết hạn", "Certificate expired"),
    "NOT_YET_VALID": ("Chứng thư chưa có hiệu lực", "Certificate not yet valid"),
    "POLICY_PROCESSING_ERROR": ("Lỗi xử lý chính sách", "Policy processing error"),
    "SIGNED_DATA_NOT_FOUND": ("Không tìm thấy dữ liệu được ký", "Signed data not found"),
    "NO_SIGNING_CERTIFICATE_FOUND": ("Không tìm thấy chứng thư của người ký", "Signing certificate not found"),
    "NO_CERTIFICATE_CHAIN_FOUND": ("Không dựng được đường dẫn đến CA tin cậy", "No chain to a trusted CA"),
    "REVOKED_NO_POE": ("Đã thu hồi, không có bằng chứng ký trước đó", "Revoked, no proof of earlier signing"),
    "REVOKED_CA_NO_POE": ("CA đã bị thu hồi, không có bằng chứng thời gian", "CA revoked, no proof of existence"),
    "OUT_OF_BOUNDS_NO_POE": ("Ngoài thời hạn, không có bằng chứng thời gian", "Out of validity, no proof of existence"),
    "OUT_OF_BOUNDS_NOT_REVOKED": ("Ngoài thời hạn (chưa bị thu hồi)", "Out of validity (not revoked)"),
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": ("Thuật toán yếu, không có bằng chứng thời gian", "Weak algorithm, no proof of existence"),
    "TRY_LATER": ("Chưa có thông tin thu hồi, thử lại sau", "Revocation information not yet available, try later"),
    "TIMESTAMP_ORDER_FAILURE": ("Thứ tự dấu thời gian không hợp lệ", "Timestamp order failure"),
    "GENERIC": ("Lỗi khác", "Other failure"),
}

CERT_TYPE = {
    "personal": ("Cá nhân", "Personal"),
    "organisation": ("Tổ chức", "Organisation"),
    "organization": ("Tổ chức", "Organisation"),
    "unknown": ("Không xác định", "Unknown"),
}

COVERAGE = {
    "entire_file": ("Toàn bộ tệp", "Entire file"),
    "entire_revision": ("Toàn bộ phiên bản được ký (có cập nhật sau đó)", "Entire signed revision (updated afterwards)"),
    "partial": ("Chỉ một phần tệp", "Part of the file only"),
}

REVOCATION = {   # status -> (vi, en, css name)
    "good": ("Chưa bị thu hồi", "Not revoked", "valid"),
    "revoked": ("Đã bị thu hồi", "Revoked", "invalid"),
    "unknown": ("Không xác định được", "Unknown", "indeterminate"),
    "not_checked": ("Chưa kiểm tra", "Not checked", "indeterminate"),
}

REVOCATION_SOURCE = {
    "dss": ("dữ liệu DSS trong tệp", "DSS data in the file"),
    "cms": ("dữ liệu kèm trong chữ ký", "data embedded in the signature"),
    "fetched": ("tra cứu trực tuyến OCSP/CRL", "fetched online (OCSP/CRL)"),
}

CHANGE = {
    "validation_data": ("Dữ liệu kiểm tra (DSS, OCSP/CRL)", "Validation data (DSS, OCSP/CRL)"),
    "document_timestamp": ("Dấu thời gian tài liệu", "Document timestamp"),
    "new_signature": ("Chữ ký mới", "New signature"),
    "form_filling": ("Điền biểu mẫu", "Form filling"),
    "annotation": ("Chú thích", "Annotation"),
    "page_content": ("Nội dung trang", "Page content"),
    "structure": ("Cấu trúc tệp", "File structure"),
    "other": ("Khác", "Other"),
}

DOCMDP = {
    1: ("Không cho phép thay đổi", "No changes permitted"),
    2: ("Cho phép điền biểu mẫu và ký", "Form filling and signing permitted"),
    3: ("Cho phép điền biểu mẫu, ký và chú thích", "Form filling, signing and annotations permitted"),
}

DECREE30 = {   # status -> (vi, en, css name)
    "ok": ("Đủ chữ ký cá nhân và cơ quan, đúng thứ tự", "Personal and agency signatures, in order", "valid"),
    "agency_only": ("Chỉ có chữ ký của cơ quan", "Agency signature only", "invalid"),
    "personal_only": ("Chỉ có chữ ký của cá nhân", "Personal signature only", "indeterminate"),
    "wrong_order": ("Sai thứ tự ký (cơ quan ký trước)", "Wrong order (agency signed first)", "invalid"),
    "missing": ("Thiếu chữ ký theo quy định", "Required signatures missing", "invalid"),
    "not_applicable": ("Không áp dụng", "Not applicable", "unsigned"),
}


def pair(table: Mapping[Any, tuple[str, ...]], key: Any, fallback: str | None = None) -> tuple[str, str]:
    """(vi, en) for ``key`` in ``table``; an unknown key shows itself in both languages."""
    entry = table.get(key)
    if entry is None:
        text = fallback if fallback is not None else ("—" if key is None else str(key))
        return text, text
    return entry[0], entry[1]


def ordered(vi: str, en: str, lang: str) -> tuple[str, str]:
    """(primary, secondary) for the chosen language."""
    return (vi, en) if lang == "vi" else (en, vi)


# --------------------------------------------------------------------------------------------
# Reading the report


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
    return lang


def load(report: Mapping[str, Any]) -> dict[str, Any]:
    """Check the schema and return a normalised copy (NFC text, signatures in revision order)."""
    if not isinstance(report, Mapping):
        raise ReportUnreadable(detail={"reason": f"expected a dict, got {type(report).__name__}"})
    schema = report.get("schema")
    if schema != SCHEMA:
        raise ReportUnreadable(detail={"schema": str(schema), "expected": SCHEMA})
    if report.get("verdict") not in VERDICT:
        raise ReportUnreadable(detail={"verdict": str(report.get("verdict"))})
    data = _nfc(dict(report))
    sigs = data.get("signatures") or []
    if not isinstance(sigs, list) or not all(isinstance(s, Mapping) for s in sigs):
        raise ReportUnreadable(detail={"signatures": "expected a list of objects"})
    # The timeline: revision order; the sort is stable, so equal revisions keep the report's order.
    data["signatures"] = sorted(sigs, key=lambda s: (s.get("revision") is None, s.get("revision") or 0))
    data.setdefault("reasons", [])
    data.setdefault("policy", {})
    return data


def _nfc(value: Any) -> Any:
    """Vietnamese text in composed form: fonts have glyphs for the composed letters."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, Mapping):
        return {k: _nfc(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nfc(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# Formatting


def parse_time(value: str | None) -> _dt.datetime | None:
    if not value:
        return None
    try:
        return _dt.datetime.fromisoformat(value)   # 3.11+: accepts "Z"
    except (TypeError, ValueError):
        return None


def fmt_time(value: str | None) -> str:
    """ISO 8601 in Vietnam time with its offset (Decree 30 Appendix I): ``2024-02-19 09:37:36 +07:00``."""
    if not value:
        return "—"
    parsed = parse_time(value)
    if parsed is None:
        return str(value)
    if parsed.tzinfo is None:
        return parsed.strftime("%Y-%m-%d %H:%M:%S")
    return parsed.astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M:%S +07:00")


def fmt_size(size: Any, lang: str) -> str:
    if not isinstance(size, int):
        return "—"
    unit = T["bytes"][0] if lang == "vi" else T["bytes"][1]
    sep = "." if lang == "vi" else ","
    exact = f"{size:,}".replace(",", sep) + f" {unit}"
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB ({exact})".replace(".", "," if lang == "vi" else ".", 1)
    if size >= 1024:
        return f"{size / 1024:.1f} KB ({exact})".replace(".", "," if lang == "vi" else ".", 1)
    return exact


def fmt_value(value: Any) -> str:
    """A policy value or other free-form JSON value as one line of text."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
        return "; ".join(str(v) for v in value) or "—"    # subjects contain commas
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def fmt_lines(value: Any) -> list[str]:
    """A policy value as display lines: one per list item or per key of a flat mapping."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    if isinstance(value, Mapping) and value and all(not isinstance(v, (Mapping, list)) for v in value.values()):
        return [f"{k}: {fmt_value(v)}" for k, v in value.items()]
    return [fmt_value(value)]


def group_hex(value: str | None, size: int = 2) -> str:
    """``ab12cd..`` -> ``AB:12:CD..`` for fingerprints and serials (easier to compare by eye)."""
    if not value:
        return "—"
    text = str(value).replace(":", "").replace(" ", "")
    if not all(c in "0123456789abcdefABCDEF" for c in text):
        return str(value)
    text = text.upper()
    return ":".join(text[i:i + size] for i in range(0, len(text), size))


def flag(value: Any) -> str:
    """True/False/None -> "yes"/"no"/"unknown" (label keys), for the intact/crypto/trusted flags."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return "unknown"


def is_sha1(algorithm: str | None) -> bool:
    return bool(algorithm) and str(algorithm).lower().replace("-", "").startswith("sha1")


def best_time(sig: Mapping[str, Any]) -> str | None:
    """The time the signature is known to have existed: its timestamp if valid, else the claimed time."""
    ts = sig.get("timestamp") or {}
    if ts.get("time") and ts.get("valid"):
        return ts["time"]
    return sig.get("signing_time") or ts.get("time")


def validity_at(cert: Mapping[str, Any] | None, when: str | None) -> str | None:
    """"within" / "before" / "after" the certificate's validity period at ``when``; None if unknown."""
    if not cert or not when:
        return None
    at, nb, na = parse_time(when), parse_time(cert.get("not_before")), parse_time(cert.get("not_after"))
    if at is None or nb is None or na is None:
        return None
    try:
        if at < nb:
            return "before"
        if at > na:
            return "after"
    except TypeError:   # naive against aware
        return None
    return "within"


VALIDITY_AT = {
    "within": ("Trong thời hạn hiệu lực", "Within its validity period", "valid"),
    "before": ("Chưa đến thời hạn hiệu lực", "Before its validity period", "invalid"),
    "after": ("Đã hết hạn", "After its validity period (expired)", "invalid"),
}


def signer_cert(sig: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The signer's certificate entry in the chain (by fingerprint, else the first)."""
    chain = sig.get("chain") or []
    signer = sig.get("signer") or {}
    for cert in chain:
        if signer.get("sha256") and cert.get("sha256") == signer.get("sha256"):
            return cert
    return chain[0] if chain else None


def change_permitted(change: Mapping[str, Any]) -> bool:
    return bool(change.get("permitted_by_docmdp", True)) and bool(change.get("permitted_by_policy", True))


def signer_label(sig: Mapping[str, Any] | None) -> str:
    if not sig:
        return "—"
    signer = sig.get("signer") or {}
    return signer.get("common_name") or signer.get("organization") or signer.get("subject") or "—"


def find_field(signatures: Iterable[Mapping[str, Any]], name: str | None) -> Mapping[str, Any] | None:
    if not name:
        return None
    for sig in signatures:
        if sig.get("field") == name:
            return sig
    return None


def reason_text(reason: Mapping[str, Any] | None) -> tuple[str, str]:
    if not reason:
        return "—", "—"
    return str(reason.get("vi") or reason.get("en") or "—"), str(reason.get("en") or reason.get("vi") or "—")
