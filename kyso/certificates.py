"""What kind of certificate is this: a person's or an organisation's?

Decree 30 needs both signatures on an outgoing document: the competent
person's (a personal certificate) and the agency's (an organisation
certificate). Both the signer (which refuses the wrong kind) and the
verifier (which reports it) ask this neutral module.

Rule (documented in docs/decree30.md): a certificate is *personal* when its
subject names a person: a ``title``, ``given_name``/``surname``,
``pseudonym``, or a UID carrying a citizen or passport number (``CMND:``,
``CCCD:``, ``HC:`` as Vietnamese CAs write them); it is an *organisation*
certificate when none of these is present and its common name is the
organisation's name (CN equal to O, or no CN). Anything else is
``unknown`` and both kinds of rule refuse it.
"""
from __future__ import annotations

import enum

from asn1crypto import x509

_PERSON_ATTRIBUTES = ("title", "given_name", "surname", "pseudonym", "generation_qualifier", "initials")
_PERSON_UID_PREFIXES = ("CMND:", "CCCD:", "HC:", "PASSPORT:", "MST-CN:")
_ORG_UID_PREFIXES = ("MST:", "MNS:", "MĐDQHNS:", "MQHNS:")


class CertificateKind(enum.Enum):
    PERSONAL = "personal"
    ORGANISATION = "organisation"
    UNKNOWN = "unknown"


def certificate_kind(cert: x509.Certificate) -> CertificateKind:
    subject = cert.subject.native
    uid = subject.get("user_id") or ""
    uids = uid if isinstance(uid, list) else [uid]
    if any(subject.get(attr) for attr in _PERSON_ATTRIBUTES) or any(
            str(u).upper().startswith(_PERSON_UID_PREFIXES) for u in uids):
        return CertificateKind.PERSONAL
    common = subject.get("common_name")
    orgs = subject.get("organization_name") or []
    orgs = orgs if isinstance(orgs, list) else [orgs]
    if any(str(u).upper().startswith(_ORG_UID_PREFIXES) for u in uids):
        return CertificateKind.ORGANISATION
    if orgs and (common is None or common in orgs):
        return CertificateKind.ORGANISATION
    return CertificateKind.UNKNOWN
