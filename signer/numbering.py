"""The interface the issuing workflow needs to obtain document numbers (the vocabulary, numbers and
symbols, is :mod:`kyso.decree30`; the store behind it lives in ``registers/``).

Art. 15: numbers run from 01 on 1 January to 31 December; number and symbol
are unique per agency per year; numbers below 10 are written 01..09.

* a typed document: ``16/CT-UBND``, ``828/QĐ-TTg`` (type, then the agency);
* an official letter (công văn, no type name): ``125/UBND-VP`` (the agency,
  then the drafting unit);
* a copy: ``05/SY-UBND`` (sao y), ``SL`` (sao lục), ``TrS`` (trích sao).
"""
from __future__ import annotations

from typing import Protocol

from kyso.decree30 import COPY_FORMS, DOCUMENT_TYPES, DocumentNumber, document_symbol

__all__ = ["COPY_FORMS", "DOCUMENT_TYPES", "DocumentNumber", "NumberAllocator", "document_symbol"]


class NumberAllocator(Protocol):
    """Where issued numbers come from (``registers.numbering`` implements it)."""

    def allocate(self, *, agency: str, book: str, year: int, symbol: str, number: int | None = None,
                 source_sha256: str | None = None, personal_signature_sha256: str | None = None) -> DocumentNumber:
        """Reserve the next number (or ``number``, if free); raise ``NumberTaken`` if it is used, and
        ``AlreadyIssued`` if the draft (``source_sha256``) or its personal signature already has one."""

    def confirm(self, number: DocumentNumber, *, document_sha256: str, details=None) -> None:
        """The issuance succeeded: the number now belongs to that document. ``details``: the
        register columns (doc_type, summary, signer, issue_date, recipients)."""

    def void(self, number: DocumentNumber, *, reason: str) -> None:
        """The issuance failed after the number was reserved: record it as void, never reuse it."""
