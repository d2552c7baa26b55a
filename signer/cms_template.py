"""The CMS of a B-B signature as bytes: built by pyHanko once per signer, then filled.

pyHanko builds a signature's CMS ``SignedData`` with asn1crypto, object by object, at every
signature: about 1 ms of Python for a signer with a chain of three, a third of a 1 MB signature.
For a B-B signature by one certificate (no timestamp, and no signing time among the signed
attributes: PAdES puts it in the signature dictionary) only two values change from one signature to
the next, and neither changes length:

* the document digest, in the message-digest signed attribute;
* the signature value (RSA: the modulus's length, with PKCS#1 v1.5 or PSS padding).

So the first signature by a signer lets pyHanko build the whole CMS, exactly as it does for every
signature, with a random digest and its placeholder signature value (pyHanko's "dry run", the key
unused); :class:`CmsTemplate` remembers where the digest and the signature
value sit in the DER, and each later signature only signs its signed attributes (the same bytes with
its own digest) through the signer's own ``async_sign_raw`` (software key or PKCS#11 token) and puts
the two values in place. The result is the CMS pyHanko would have produced with the same digest
(``tests/test_cms_template.py`` compares them byte for byte, PKCS#1 v1.5 being deterministic).

Not templated (pyHanko builds the CMS, as before): ECDSA keys (the signature's DER length varies),
signatures with unsigned attributes (timestamps, PDF MACs) and signers whose signed attributes are
not fixed per certificate.
"""
from __future__ import annotations

import dataclasses
import os

from asn1crypto import cms

from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer

from signer.errors import SigningError

# signature mechanisms whose value has a fixed length for a given key
_FIXED_LENGTH = ("rsassa_pkcs1v15", "rsassa_pss")

__all__ = ["CmsTemplate"]


@dataclasses.dataclass(frozen=True)
class CmsTemplate:
    """A signer's CMS ``ContentInfo`` DER with the places of the digest and the signature value."""

    der: bytes = dataclasses.field(repr=False)           # the whole ContentInfo, as pyHanko built it
    attributes: bytes = dataclasses.field(repr=False)    # the signed attributes as signed (a DER SET OF)
    digest_in_attributes: int   # where the message digest sits in ``attributes``
    digest_at: int              # ... and in ``der``
    digest_size: int
    signature_at: int           # where the signature value sits in ``der``
    signature_size: int
    md_algorithm: str

    @classmethod
    async def build(cls, signer: Signer, *, md_algorithm: str) -> "CmsTemplate | None":
        """pyHanko's CMS for a random digest (dry run: the key is not used); None when it cannot be a
        template."""
        mechanism = signer.get_signature_mechanism_for_digest(md_algorithm)
        if (mechanism.signature_algo not in _FIXED_LENGTH or signer.unsigned_attr_prov_spec is not None
                or signer.signed_attr_prov_spec is None     # pyHanko's default attributes carry the time
                or signer.attribute_certs):
            return None
        size = get_pyca_cryptography_hash(md_algorithm).digest_size
        digest = os.urandom(size)
        content_info = await signer.async_sign(digest, md_algorithm, dry_run=True, use_pades=True,
                                               timestamper=None, signed_attr_settings=PdfCMSSignedAttributes())
        info = content_info["content"]["signer_infos"][0]
        if info["unsigned_attrs"].native is not None:
            return None
        der = content_info.dump()
        embedded = info["signed_attrs"].dump()          # [0] IMPLICIT, as it sits in the SignerInfo
        attributes = b"\x31" + embedded[1:]             # the same SET OF, as it is signed
        signature = info["signature"].native
        at = _unique(der, embedded)
        in_attributes = _unique(attributes, digest)
        # the signature value is the last field of the only SignerInfo, the last of the SignedData
        if at is None or in_attributes is None or embedded[:1] != b"\xa0" or not der.endswith(signature):
            return None
        template = cls(der=der, attributes=attributes, digest_in_attributes=in_attributes,
                       digest_at=at + in_attributes, digest_size=size,
                       signature_at=len(der) - len(signature), signature_size=len(signature),
                       md_algorithm=md_algorithm)
        return template if template._fills_in_place() else None

    def _fills_in_place(self) -> bool:
        """Whether a filled template reads back, through asn1crypto, with that digest and signature."""
        digest, signature = os.urandom(self.digest_size), os.urandom(self.signature_size)
        info = cms.ContentInfo.load(self.content_info(digest, signature))["content"]["signer_infos"][0]
        attributes = {a["type"].native: a["values"][0].native for a in info["signed_attrs"]}
        return (info["signature"].native == signature and attributes.get("message_digest") == digest
                and b"\x31" + info["signed_attrs"].dump(force=True)[1:] == self.signed_attributes(digest))

    def signed_attributes(self, digest: bytes) -> bytes:
        """The signed attributes (DER SET OF) that a signature over ``digest`` signs."""
        if len(digest) != self.digest_size:
            raise SigningError(f"a {self.md_algorithm} digest has {self.digest_size} bytes, not {len(digest)}")
        d = self.digest_in_attributes
        return b"".join((self.attributes[:d], digest, self.attributes[d + self.digest_size:]))

    def content_info(self, digest: bytes, signature: bytes) -> bytes:
        """The CMS ``ContentInfo`` DER for ``digest`` and the ``signature`` of its signed attributes."""
        if len(digest) != self.digest_size or len(signature) != self.signature_size:
            raise SigningError("the digest or the signature value does not fit the CMS template")
        d, s = self.digest_at, self.signature_at
        if d > s:   # never with asn1crypto's SignerInfo order; kept general
            raise SigningError("unexpected CMS layout")
        return b"".join((self.der[:d], digest, self.der[d + self.digest_size:s], signature,
                         self.der[s + self.signature_size:]))

    async def sign(self, signer: Signer, digest: bytes) -> bytes:
        """The CMS ``ContentInfo`` DER of ``signer``'s signature over the document ``digest``."""
        signature = await signer.async_sign_raw(self.signed_attributes(digest), self.md_algorithm)
        return self.content_info(digest, signature)


def _unique(haystack: bytes, needle: bytes) -> int | None:
    at = haystack.find(needle)
    if at < 0 or haystack.find(needle, at + 1) >= 0:
        return None
    return at
