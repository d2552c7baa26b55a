"""What the signer saw: the exact revision a signature covers, as a PDF of its own.

A signature's ByteRange covers the file from its first byte up to the end of
the revision it was made in; those bytes are a complete PDF, the document as
it was when signed, before any later update.
"""
from __future__ import annotations

import io

from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader


class RevisionNotFound(LookupError):
    pass


def signed_revision(document: bytes, field: str) -> bytes:
    """The bytes of the revision signed in ``field`` (raises :class:`RevisionNotFound`, also when
    the file cannot be read as a PDF or the signature's ByteRange is not four numbers)."""
    try:
        reader = PdfFileReader(io.BytesIO(document), strict=False)
        signatures = [(sig.field_name, sig.sig_object.get("/ByteRange")) for sig in reader.embedded_signatures]
    except (PdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise RevisionNotFound(f"the file cannot be read as a PDF: {type(exc).__name__}") from None
    for name, byte_range in signatures:
        if name == field:
            try:
                start, length1, offset2, length2 = (int(x) for x in byte_range)
            except (TypeError, ValueError):
                raise RevisionNotFound(f"the ByteRange of {field!r} is not four numbers") from None
            end = offset2 + length2
            if start != 0 or end > len(document) or end <= 0:
                raise RevisionNotFound(f"the ByteRange of {field!r} does not delimit a revision")
            return document[:end]
    raise RevisionNotFound(f"no signature in field {field!r}")
