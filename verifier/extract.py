"""What the signer saw: the exact revision a signature covers, as a PDF of its own.

A signature's ByteRange covers the file from its first byte up to the end of
the revision it was made in; those bytes are a complete PDF, the document as
it was when signed, before any later update.
"""
from __future__ import annotations

import io

from pyhanko.pdf_utils.reader import PdfFileReader


class RevisionNotFound(LookupError):
    pass


def signed_revision(document: bytes, field: str) -> bytes:
    """The bytes of the revision signed in ``field`` (raises :class:`RevisionNotFound`)."""
    reader = PdfFileReader(io.BytesIO(document), strict=False)
    for sig in reader.embedded_signatures:
        if sig.field_name == field:
            start, length1, offset2, length2 = (int(x) for x in sig.sig_object["/ByteRange"])
            end = offset2 + length2
            if start != 0 or end > len(document) or end <= 0:
                raise RevisionNotFound(f"the ByteRange of {field!r} does not delimit a revision")
            return document[:end]
    raise RevisionNotFound(f"no signature in field {field!r}")
