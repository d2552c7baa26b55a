"""Document numbers as Decree 30 writes them, and the interface the issuing
workflow needs to obtain them. The store behind it lives in ``registers/``.

Art. 15: numbers run from 01 on 1 January to 31 December; number and symbol
are unique per agency per year; numbers below 10 are written 01..09.

* a typed document: ``16/CT-UBND``, ``828/QĐ-TTg`` (type, then the agency);
* an official letter (công văn, no type name): ``125/UBND-VP`` (the agency,
  then the drafting unit);
* a copy: ``05/SY-UBND`` (sao y), ``SL`` (sao lục), ``TrS`` (trích sao).
"""
from __future__ import annotations

import dataclasses
import re
from typing import Protocol

# Appendix III abbreviations of document types (the common ones; the list is configurable by passing others)
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


class NumberAllocator(Protocol):
    """Where issued numbers come from (``registers.numbering`` implements it)."""

    def allocate(self, *, agency: str, book: str, year: int, symbol: str,
                 number: int | None = None) -> DocumentNumber:
        """Reserve the next number (or ``number``, if free); raise ``NumberTaken`` if it is used."""

    def confirm(self, number: DocumentNumber, *, document_sha256: str, details=None) -> None:
        """The issuance succeeded: the number now belongs to that document. ``details``: the
        register columns (doc_type, summary, signer, issue_date, recipients)."""

    def void(self, number: DocumentNumber, *, reason: str) -> None:
        """The issuance failed after the number was reserved: record it as void, never reuse it."""
