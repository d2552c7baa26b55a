"""The Decree 30 vocabulary (Decree 30/2020/NĐ-CP on clerical work): document types, numbers and
symbols, dates as Appendix I writes them, Vietnam's time. Every part of Kyso speaks it; it imports
nothing else of Kyso's but the error root.

Art. 15: numbers run from 01 on 1 January to 31 December; number and symbol are unique per agency
per year; numbers below 10 are written 01..09.

* a typed document: ``16/CT-UBND``, ``828/QĐ-TTg`` (type, then the agency);
* an official letter (công văn, no type name): ``125/UBND-VP`` (the agency, then the drafting unit);
* a copy: ``05/SY-UBND`` (sao y), ``SL`` (sao lục), ``TrS`` (trích sao).
"""
from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime, timedelta, timezone

from kyso.errors import ErrorKind, KysoError

__all__ = ["AlreadyIssued", "COPY_FORMS", "DOCUMENT_TYPES", "VN_TZ", "DocumentNumber", "NumberTaken", "document_symbol",
           "format_vn_time", "number_text", "shown_time", "vn_date_text"]

#: Vietnam's time zone (Asia/Ho_Chi_Minh, UTC+07:00, no daylight saving)
VN_TZ = timezone(timedelta(hours=7), "ICT")

# Appendix III abbreviations of document types (the common ones)
DOCUMENT_TYPES = {
    "NQ": "Nghị quyết", "QĐ": "Quyết định", "CT": "Chỉ thị", "QC": "Quy chế", "QYĐ": "Quy định",
    "TC": "Thông cáo", "TB": "Thông báo", "HD": "Hướng dẫn", "CTr": "Chương trình", "KH": "Kế hoạch",
    "PA": "Phương án", "ĐA": "Đề án", "DA": "Dự án", "BC": "Báo cáo", "BB": "Biên bản", "TTr": "Tờ trình",
    "HĐ": "Hợp đồng", "CĐ": "Công điện", "BGN": "Bản ghi nhớ", "BTT": "Bản thỏa thuận", "GUQ": "Giấy ủy quyền",
    "GM": "Giấy mời", "GGT": "Giấy giới thiệu", "GNP": "Giấy nghỉ phép", "PG": "Phiếu gửi", "PC": "Phiếu chuyển",
    "PB": "Phiếu báo", "CV": "Công văn",
}
COPY_FORMS = {"SY": "SAO Y", "SL": "SAO LỤC", "TrS": "TRÍCH SAO"}

_SYMBOL_PART = re.compile(r"^[0-9A-Za-zĐđÀ-ỹ]+$")


class NumberTaken(KysoError):
    code = "number_taken"
    kind = ErrorKind.CONFLICT
    message_en = "This document number is already taken in this year's book."
    message_vi = "Số văn bản này đã được dùng trong sổ năm nay."


class AlreadyIssued(KysoError):
    """One draft, one number: the document (or its personal signature) already got one."""

    code = "already_issued"
    kind = ErrorKind.CONFLICT
    message_en = "The document already carries its number and agency signature."
    message_vi = "Văn bản đã được cấp số và ký số của cơ quan."


def document_symbol(*, doc_type: str, agency: str, unit: str | None = None) -> str:
    """``CT-UBND`` for a typed document, ``UBND-VP`` for an official letter (type ``CV``)."""
    for part in (doc_type, agency, unit):
        if part is not None and not _SYMBOL_PART.match(part):
            raise ValueError(f"invalid symbol part {part!r}")
    if doc_type == "CV":
        if not unit:
            raise ValueError("an official letter (CV) is numbered by agency and drafting unit: give the unit")
        return f"{agency}-{unit}"
    if doc_type not in DOCUMENT_TYPES and doc_type not in COPY_FORMS:
        raise ValueError(f"unknown document type {doc_type!r}")
    return f"{doc_type}-{agency}"


@dataclasses.dataclass(frozen=True)
class DocumentNumber:
    """One number of one agency's book for one year."""

    agency: str
    book: str
    year: int
    number: int
    symbol: str

    def __post_init__(self) -> None:
        if self.number < 1:
            raise ValueError("document numbers start at 1")

    @property
    def text(self) -> str:
        """As written on the document: ``16/CT-UBND``, ``05/QĐ-UBND``."""
        return f"{self.number:02d}/{self.symbol}"

    def __str__(self) -> str:
        return self.text


def vn_date_text(day: date, *, place: str | None = None) -> str:
    """``Hưng Yên, ngày 05 tháng 02 năm 2026``: days below 10 and months 1 and 2 take a leading zero
    (Decree 30, Appendix I)."""
    d = f"{day.day:02d}" if day.day < 10 else str(day.day)
    m = f"{day.month:02d}" if day.month in (1, 2) else str(day.month)
    text = f"ngày {d} tháng {m} năm {day.year}"
    return f"{place}, {text}" if place else text


def number_text(number: str) -> str:
    return f"Số: {number}"


def format_vn_time(moment: datetime) -> str:
    """``2026-11-21T09:37:36+07:00``: ISO 8601, whole seconds, Vietnam's time zone (the signature
    appearances' form)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the time must be timezone-aware")
    return moment.astimezone(VN_TZ).replace(microsecond=0).isoformat()


def vn_iso(moment: datetime | None) -> str | None:
    """A register's time for machines and people alike: ISO 8601 in Vietnam's time zone, whole
    seconds (``2026-11-30T13:10:37+07:00``). A naive value (as SQLite returns) is taken to be UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(VN_TZ).replace(microsecond=0).isoformat()


def shown_time(moment: datetime | str | None) -> str:
    """How a person reads a time anywhere in Kyso: ``30/11/2026 09:37:36 (UTC+07:00)``, in
    Asia/Ho_Chi_Minh and saying so. A naive value (as SQLite returns) is taken to be UTC."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M:%S") + " (UTC+07:00)"
