"""A B-B signature's CMS filled into the signer's template is the CMS pyHanko builds itself.

The engine lets pyHanko build a signer's CMS once and afterwards only puts each signature's digest
and signature value in place (signer.cms_template). These tests hold the template to pyHanko's own
output for the same digest: byte for byte with RSA PKCS#1 v1.5 (deterministic), from a key in memory
and from the SoftHSM2 token; with RSA-PSS (randomised) everything but the signature value, and the
value verifies. A signer whose signature length varies (ECDSA) gets no template.
"""
from __future__ import annotations

import asyncio
import os

import pytest
from asn1crypto import cms
from pyhanko_certvalidator.util import process_pss_params

from signer import Level, SignRequest, SigningEngine, SigningPolicy, SoftwareKeyHolder
from signer.cms_template import CmsTemplate

from pdfcheck import pyhanko_statuses


def _signer(engine, holder):
    signer = holder.pyhanko_signer(rsa_padding=engine.policy.rsa_padding, md_algorithm="sha256")
    signer.signed_attr_prov_spec = engine._signed_attributes(holder)
    return signer


def _parts(der: bytes) -> dict:
    """A CMS ContentInfo's parts; the certificates as a sorted list (pyHanko keeps them in a set)."""
    signed = cms.ContentInfo.load(der)["content"]
    return {
        "version": signed["version"].native,
        "digest_algorithms": signed["digest_algorithms"].dump(),
        "encap_content_info": signed["encap_content_info"].dump(),
        "certificates": sorted(c.dump() for c in signed["certificates"]),
        "signer_infos": signed["signer_infos"].dump(),
        "length": len(der),
    }


def _pyhanko_cms(signer, digest: bytes) -> bytes:
    return asyncio.run(signer.async_sign(digest, "sha256", use_pades=True)).dump()


def test_pkcs1v15_from_a_key_in_memory_is_pyhankos_cms_byte_for_byte(pki):
    engine = SigningEngine.for_dev_pki(pki)
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    signer = _signer(engine, holder)
    template = asyncio.run(CmsTemplate.build(signer, md_algorithm="sha256"))
    assert template is not None
    for _ in range(5):
        digest = os.urandom(32)
        ours = asyncio.run(template.sign(signer, digest))
        theirs = _pyhanko_cms(signer, digest)
        assert _parts(ours) == _parts(theirs)


def test_pkcs1v15_from_the_token_is_pyhankos_cms(pki, pkcs11_token):
    engine = SigningEngine.for_dev_pki(pki)
    holder = pkcs11_token.key_holder("nguyen-van-an", chain=pki.chain("nguyen-van-an"))
    signer = _signer(engine, holder)
    template = asyncio.run(CmsTemplate.build(signer, md_algorithm="sha256"))
    assert template is not None
    digest = os.urandom(32)
    assert _parts(asyncio.run(template.sign(signer, digest))) == _parts(_pyhanko_cms(signer, digest))


def test_pss_is_pyhankos_cms_but_for_the_random_signature_value_which_verifies(pki):
    engine = SigningEngine(policy=SigningPolicy.for_dev_pki(pki, rsa_padding="pss"))
    holder = SoftwareKeyHolder.from_dev_pki(pki, "le-hoang-phuc")
    signer = _signer(engine, holder)
    template = asyncio.run(CmsTemplate.build(signer, md_algorithm="sha256"))
    assert template is not None
    digest = os.urandom(32)
    ours = cms.ContentInfo.load(asyncio.run(template.sign(signer, digest)))["content"]
    theirs = cms.ContentInfo.load(_pyhanko_cms(signer, digest))["content"]
    ours_info, theirs_info = ours["signer_infos"][0], theirs["signer_infos"][0]
    for part in ("version", "sid", "digest_algorithm", "signed_attrs", "signature_algorithm"):
        assert ours_info[part].dump() == theirs_info[part].dump(), part
    assert sorted(c.dump() for c in ours["certificates"]) == sorted(c.dump() for c in theirs["certificates"])
    assert ours_info["signature"].native != theirs_info["signature"].native     # PSS is randomised
    signed_attributes = ours_info["signed_attrs"].untag().dump()
    assert signed_attributes == template.signed_attributes(digest)
    public = pki.private_key("le-hoang-phuc").public_key()
    pss, pss_hash = process_pss_params(ours_info["signature_algorithm"]["parameters"])   # as the CMS says
    public.verify(ours_info["signature"].native, signed_attributes, pss, pss_hash)


def test_ecdsa_gets_no_template_and_signs_as_before(pki, sample_pdf):
    engine = SigningEngine.for_dev_pki(pki)
    holder = SoftwareKeyHolder.from_dev_pki(pki, "tran-thi-bich-ngoc")
    assert asyncio.run(CmsTemplate.build(_signer(engine, holder), md_algorithm="sha256")) is None
    signed = engine.sign(SignRequest(document=sample_pdf, level=Level.B_B), key_holder=holder).data
    status = pyhanko_statuses(signed, pki.trust_roots())[0]
    assert status.bottom_line and status.pkcs7_signature_mechanism == "sha256_ecdsa"


def test_a_template_refuses_values_of_another_length(pki):
    engine = SigningEngine.for_dev_pki(pki)
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    template = asyncio.run(CmsTemplate.build(_signer(engine, holder), md_algorithm="sha256"))
    from signer.errors import SigningError

    with pytest.raises(SigningError):
        template.signed_attributes(os.urandom(48))
    with pytest.raises(SigningError):
        template.content_info(os.urandom(32), os.urandom(255))


def test_the_engine_signs_b_b_through_the_template_and_others_verify_it(pki, sample_pdf, nssdb):
    from pdfcheck import pdfsig

    engine = SigningEngine.for_dev_pki(pki)
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    first = engine.sign(SignRequest(document=sample_pdf, level=Level.B_B), key_holder=holder).data
    assert [t for t in engine._templates.values() if t is not None], "the engine built a template"
    second = engine.sign(SignRequest(document=first, level=Level.B_B), key_holder=holder).data
    statuses = pyhanko_statuses(second, pki.trust_roots())
    assert len(statuses) == 2 and all(s.bottom_line for s in statuses), [s.pretty_print_details() for s in statuses]
    assert all(r.valid for r in pdfsig(second, nssdb))
