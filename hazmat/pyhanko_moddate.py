"""HAZMAT: the modification date pyHanko's writer stamps, from the operation's clock.

pyHanko's writer dates every update it writes: the info dictionary's ``/ModDate`` and, in a document
with XMP metadata (PDF/A), ``xmp:ModifyDate``. It sets them to "now" and reads the wall clock
(``datetime.now`` in ``_write_meta_date`` of ``pdf_utils.metadata.info`` and of ``xmp_xml``). So a
document signed on a moved clock (a replay, a test, a document dated in advance) said one date in its
signature and another in its metadata.

:func:`install` wraps both functions: inside an operation (``kyso.clock.operation``, which the
signing engine opens for each signature) "now" is that operation's moment, in the zone pyHanko uses
(the machine's); outside one, pyHanko reads the wall clock as before. Guarded by the pyHanko versions
it was checked against (:data:`SUPPORTED`); installed explicitly by the composition root
(``office.compose``); ``tests/test_sign_levels.py`` signs on a fixed clock and reads the dates back.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

import tzlocal
from pyhanko.pdf_utils.metadata import info, xmp_xml

from hazmat._versions import version as _version

#: pyHanko versions whose ``_write_meta_date`` functions this was checked against
SUPPORTED = ("0.38.",)

_original_info = info._write_meta_date
_original_xmp = xmp_xml._write_meta_date
_moment_of: Callable[[], datetime | None] | None = None


def _now_of(meta_date):
    """``meta_date``, with "now" replaced by the current operation's moment (if there is one)."""
    if isinstance(meta_date, str) and meta_date == "now" and _moment_of is not None:
        moment = _moment_of()
        if moment is not None:
            return moment.astimezone(tzlocal.get_localzone())
    return meta_date


def _write_info_date(dictionary, key, meta_date, existing_only):
    return _original_info(dictionary, key, _now_of(meta_date), existing_only)


def _write_xmp_date(fields, key, meta_date):
    return _original_xmp(fields, key, _now_of(meta_date))


def supported(version: str | None = None) -> bool:
    return (version or _version("pyHanko")).startswith(SUPPORTED)


def install(moment_of: Callable[[], datetime | None]) -> bool:
    """Date pyHanko's updates by ``moment_of()`` (the current operation's moment, or None: the wall
    clock); False (and nothing changed) on a pyHanko version it was not checked against."""
    global _moment_of
    if not supported():
        return False
    _moment_of = moment_of
    info._write_meta_date = _write_info_date
    xmp_xml._write_meta_date = _write_xmp_date
    return True


def installed() -> bool:
    return info._write_meta_date is _write_info_date and xmp_xml._write_meta_date is _write_xmp_date


def uninstall() -> None:
    info._write_meta_date = _original_info
    xmp_xml._write_meta_date = _original_xmp
