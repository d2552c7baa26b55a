"""The HTTP API's request schemas (apiflask/marshmallow): they validate each request and generate
the OpenAPI document (``/api/v1/openapi.json``); nothing else describes the API."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import AwareDateTime, Boolean, File, Integer, List, String
from apiflask.validators import Length, OneOf, Range, Regexp

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
SHA256 = Regexp(r"^[0-9a-f]{64}$", error="a SHA-256 in lowercase hexadecimal")
BOX = Regexp(r"^-?\d+:\d+(\.\d+)?,\d+(\.\d+)?,\d+(\.\d+)?,\d+(\.\d+)?$", error="PAGE:x0,y0,x1,y1 in points")
TEXT = Length(max=500)


class _Keyed(Schema):
    level = String(validate=OneOf(LEVELS), metadata={"description": "PAdES level (default: the service's)"})
    passphrase = String(validate=Length(max=500), load_only=True,
                        metadata={"description": "The PKCS#12 key's passphrase (this request only; never stored)"})


class PrepareForm(Schema):
    file = File(required=True, metadata={"description": "The unsigned draft (PDF)"})
    signer_name = String(validate=Length(max=200), metadata={"description": "The signer's printed name, to place "
                                                                           "the signature above it"})
    number_box = String(validate=BOX, metadata={"description": "Move the number field: PAGE:x0,y0,x1,y1"})
    date_box = String(validate=BOX)
    signature_box = String(validate=BOX)


class SignForm(_Keyed):
    file = File(required=True, metadata={"description": "The PDF to sign"})
    appearance = String(validate=OneOf(("invisible", "personal")),
                        metadata={"description": "personal: the official's signature image (Decree 30)"})
    reason = String(validate=TEXT)
    location = String(validate=TEXT)
    field = String(validate=Length(min=1, max=100))
    page = Integer(validate=Range(min=-1000, max=100000))
    box = String(validate=Regexp(r"^\d+(\.\d+)?,\d+(\.\d+)?,\d+(\.\d+)?,\d+(\.\d+)?$"),
                 metadata={"description": "x0,y0,x1,y1 of a new visible signature (points)"})
    certify = Integer(validate=OneOf((1, 2, 3)),
                      metadata={"description": "A certification signature with DocMDP P=1 (no change), 2 (form "
                                               "filling and signing: what a Decree 30 issuance needs) or 3 (also "
                                               "annotations); the document's first signature only"})


class IssueForm(_Keyed):
    file = File(metadata={"description": "The personally signed draft (or name a stored one with sha256)"})
    sha256 = String(validate=SHA256)
    type = String(required=True, validate=Length(min=1, max=8), metadata={"description": "QĐ, CT, TB, ... or CV"})
    unit = String(validate=Length(max=16), metadata={"description": "Drafting unit of an official letter (CV)"})
    place = String(validate=Length(max=100))
    summary = String(validate=Length(max=2000))
    recipient = List(String(validate=Length(max=300)), validate=Length(max=200))


class AttachmentForm(_Keyed):
    file = File(required=True)
    main_number = String(required=True, validate=Regexp(r"^\d{2,}/[0-9A-Za-zĐđÀ-ỹ-]+$"),
                         metadata={"description": "The main document's number and symbol, e.g. 16/CT-UBND"})


class CopyForm(_Keyed):
    file = File()
    sha256 = String(validate=SHA256)
    form = String(required=True, validate=OneOf(("SY", "SL", "TrS")))
    pages = String(validate=Regexp(r"^\d+(,\d+)*$"), metadata={"description": "Pages of an excerpt (TrS), e.g. 1,3"})


class TwoStepPrepareForm(Schema):
    file = File(required=True)
    level = String(validate=OneOf(LEVELS))
    reason = String(validate=TEXT)


class TwoStepFinishForm(Schema):
    handle = String(required=True, validate=Length(min=1, max=64))
    signature = String(validate=Length(max=20000), metadata={"description": "The raw signature (base64)"})
    cms = String(validate=Length(max=200000), metadata={"description": "Or a whole CMS SignedData (base64)"})


class VerifyForm(Schema):
    file = File(required=True)
    format = String(validate=OneOf(("json", "html", "pdf")))
    at = AwareDateTime(metadata={"description": "Judge as of this time (ISO 8601 with its zone); never before "
                                                "the signature's proof of existence"})
    decree30 = Boolean(metadata={"description": "Require the Decree 30 pair: the competent person, then the agency"})


class BatchForm(Schema):
    files = List(File())
    zip = File()


class JobForm(Schema):
    files = List(File())
    zip = File()
    documents = String(validate=Length(max=700_000),
                       metadata={"description": "SHA-256 of stored documents, separated by commas or spaces"})


class ReverifyForm(Schema):
    year = Integer(validate=Range(min=1990, max=2200),
                   metadata={"description": "Only the documents received that year (default: all)"})


class JobQuery(Schema):
    reports = Boolean(load_default=False, metadata={"description": "Include each finished document's report"})


class ExtendForm(Schema):
    file = File(metadata={"description": "A signed PDF (any tool's), or name a stored one with sha256"})
    sha256 = String(validate=SHA256)
    to = String(validate=OneOf(("B-LT", "B-LTA")), load_default="B-LTA",
                metadata={"description": "B-LT: validation data; B-LTA: also a document timestamp"})


class RenewForm(Schema):
    file = File(metadata={"description": "An archive (B-LTA), or name a stored one with sha256"})
    sha256 = String(validate=SHA256)


class DueQuery(Schema):
    days = Integer(load_default=180, validate=Range(min=0, max=36500),
                   metadata={"description": "Protection ending within this many days"})


class ReceiveForm(Schema):
    file = File()
    sha256 = String(validate=SHA256)
    sender = String(required=True, validate=Length(min=1, max=300))
    reference = String(validate=Length(max=100), metadata={"description": "The sender's number and symbol"})
    summary = String(validate=Length(max=2000))


class ReturnForm(ReceiveForm):
    reason_vi = String(validate=TEXT)
    reason_en = String(validate=TEXT)
    passphrase = String(validate=Length(max=500), load_only=True)


class ReportQuery(Schema):
    format = String(validate=OneOf(("json", "html", "pdf", "etsi-xml")))


class RegisterQuery(Schema):
    year = Integer(validate=Range(min=1990, max=2200))
    status = String(validate=OneOf(("issued", "void", "reserved", "received", "returned")))


def parse_box(text: str | None):
    """``PAGE:x0,y0,x1,y1`` (page 1-based, -1 the last; points) as ``(page 0-based, box)``, or None."""
    from office.errors import BadInput

    if not text:
        return None
    try:
        page_text, _, box_text = text.partition(":")
        values = tuple(float(v) for v in box_text.split(","))
        if len(values) != 4 or values[0] >= values[2] or values[1] >= values[3]:
            raise ValueError
        page = int(page_text)
        return page - 1 if page > 0 else page, values
    except ValueError:
        raise BadInput("a box is PAGE:x0,y0,x1,y1 in points (page 1-based, -1 the last)",
                       message_vi="Vị trí có dạng TRANG:x0,y0,x1,y1 (đơn vị điểm).") from None
