"""Renderers for verification reports: a clerk's HTML page, a printable PDF, an ETSI XML report.

All three take the dict form of a :class:`verifier.report.VerificationReport`
(``report.to_dict()``, schema ``kyso.verification/1``), so they work on stored
JSON as well::

    from verifier.render import to_html, to_pdf, to_etsi_xml
    page = to_html(report.to_dict(), lang="vi")     # str, standalone HTML5
    pdf = to_pdf(report.to_dict(), lang="vi")       # bytes, fonts embedded
    xml = to_etsi_xml(report.to_dict())             # bytes, ETSI TS 119 102-2

A dict with another schema raises :class:`ReportUnreadable` (a ``KysoError``,
code ``report_unreadable``). The PDF and XML back ends are imported on first use.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._common import ReportUnreadable
from .html import to_html

__all__ = ["ReportUnreadable", "to_etsi_xml", "to_html", "to_pdf"]


def to_pdf(report: Mapping[str, Any], *, lang: str = "vi") -> bytes:
    """The report as a printable PDF (A4, Vietnamese fonts embedded)."""
    from .pdf import to_pdf as _to_pdf

    return _to_pdf(report, lang=lang)


def to_etsi_xml(report: Mapping[str, Any]) -> bytes:
    """The report as an ETSI TS 119 102-2 validation report (UTF-8 XML)."""
    from .etsi import to_etsi_xml as _to_etsi_xml

    return _to_etsi_xml(report)
