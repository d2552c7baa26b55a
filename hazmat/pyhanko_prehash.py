"""HAZMAT: pyHanko's byte-range digest may start from a hash of the document's original bytes.

pyHanko's ``PdfByteRangeDigest.fill`` writes the update, fills in ``/ByteRange`` and then hashes the
whole byte range, on the thread that signs: for 1 MB, 0.5 ms of a 2 ms signature. The signing
engine already has the original bytes, which stay the first bytes of the range, and hashes them on
the other core while pyHanko works (``signer.prehash``).

:func:`install` replaces ``fill`` with a copy of pyHanko 0.38's in which the digest comes first from
``digest_of(output, md_algorithm, sig_start, sig_end, eof)`` (``signer.prehash.digest_for``,
injected by the composition root ``office.compose``); when that answers None (always, outside a
signature the engine offered), the digest is pyHanko's own code, unchanged. Everything else in the
function is pyHanko's, line for line. Guarded by the pyHanko versions it was checked against
(:data:`SUPPORTED`); ``tests/test_prehash.py`` signs through it and checks the digest against the
file's own /ByteRange and the signature's message digest, and that the signature verifies.
"""
from __future__ import annotations

from io import BytesIO
from typing import Callable

from cryptography.hazmat.primitives import hashes
from pyhanko.pdf_utils import misc
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.signers import pdf_byterange
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from hazmat._versions import version as _version

#: pyHanko versions whose ``PdfByteRangeDigest.fill`` this copies
SUPPORTED = ("0.38.",)

_original_fill = pdf_byterange.PdfByteRangeDigest.fill
_digest_of: Callable[..., bytes | None] | None = None


def _fill(self, writer, md_algorithm, in_place=False, output=None, chunk_size=misc.DEFAULT_CHUNK_SIZE):
    # pyHanko 0.38.0, pyhanko/sign/signers/pdf_byterange.py, PdfByteRangeDigest.fill; only the
    # "digest_value = _digest_of(...)" lookup is ours
    writer.digest_aware_write = True
    if in_place:
        if not isinstance(writer, IncrementalPdfFileWriter):
            raise TypeError("in_place is only meaningful for incremental writers.")  # pragma: nocover
        output = writer.prev.stream
        writer.write_in_place()
    else:
        output = misc.prepare_rw_output_stream(output)
        writer.write(output)

    eof = output.tell()
    sig_start, sig_end = self.contents.offsets
    self.byte_range.fill_offsets(output, sig_start, sig_end, eof)

    digest_value = None
    if _digest_of is not None and isinstance(output, BytesIO):
        digest_value = _digest_of(output, md_algorithm, sig_start, sig_end, eof)
    if digest_value is None:
        md_spec = get_pyca_cryptography_hash(md_algorithm)
        md = hashes.Hash(md_spec)
        output_buffer = None
        if isinstance(output, BytesIO):
            output_buffer = output.getbuffer()
        else:
            try:
                output_buffer = memoryview(output)
            except (OSError, TypeError):
                pass
        if output_buffer is not None:
            md.update(output_buffer[:sig_start])
            md.update(output_buffer[sig_end:eof])
            output_buffer.release()
        else:
            temp_buffer = bytearray(chunk_size)
            output.seek(0)
            misc.chunked_digest(temp_buffer, output, md, max_read=sig_start)
            output.seek(sig_end)
            misc.chunked_digest(temp_buffer, output, md, max_read=eof - sig_end)
        digest_value = md.finalize()

    prepared_br_digest = pdf_byterange.PreparedByteRangeDigest(
        document_digest=digest_value, reserved_region_start=sig_start, reserved_region_end=sig_end)
    cms_data = yield prepared_br_digest, output
    yield prepared_br_digest.fill_with_cms(output, cms_data)


def supported(version: str | None = None) -> bool:
    return (version or _version("pyHanko")).startswith(SUPPORTED)


def install(digest_of: Callable[..., bytes | None]) -> bool:
    """Let ``digest_of`` give the byte-range digest first; False (and nothing changed) on a pyHanko
    version this was not checked against."""
    global _digest_of
    if not supported():
        return False
    _digest_of = digest_of
    pdf_byterange.PdfByteRangeDigest.fill = _fill
    return True


def installed() -> bool:
    return pdf_byterange.PdfByteRangeDigest.fill is _fill


def uninstall() -> None:
    pdf_byterange.PdfByteRangeDigest.fill = _original_fill
