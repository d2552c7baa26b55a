"""The documents offices actually receive: a tagged PDF certified at DocMDP P=2 by its first signer,
then signed by later signers who each add a signature field and sign it in one revision, the widget
registered in the structure tree (/ParentTree, /ParentTreeNextKey), as the national signing tools do
(../shared/reference/decree30.md). Valid; a content change under the same certification is not."""
from __future__ import annotations

import asyncio
import io

import pikepdf
import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from attacks import SignedFactory, eaa_stamp, isa_replace_page_content, shadow_replace_text_field
from kyso.samples import make_pdf
from pdfcheck import pdfsig
from signer import Level, SignRequest, SoftwareKeyHolder
from verifier import VerificationPolicy, verify


def tagged_pdf() -> bytes:
    """A two-page tagged PDF: a structure tree whose /ParentTree maps each page to its paragraph."""
    with pikepdf.open(io.BytesIO(make_pdf(pages=2, title="Quyet dinh ve cong tac van thu"))) as pdf:
        root = pdf.Root
        struct_root = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.StructTreeRoot))
        document = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.StructElem, S=pikepdf.Name.Document,
                                                        P=struct_root, K=pikepdf.Array()))
        nums = pikepdf.Array()
        for index, page in enumerate(pdf.pages):
            paragraph = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.StructElem, S=pikepdf.Name.P,
                                                             P=document, Pg=page.obj, K=0))
            document.K.append(paragraph)
            page.obj.StructParents = index
            nums.extend([index, pdf.make_indirect(pikepdf.Array([paragraph]))])
        struct_root.K = pikepdf.Array([document])
        struct_root.ParentTree = pdf.make_indirect(pikepdf.Dictionary(Nums=nums))
        struct_root.ParentTreeNextKey = len(pdf.pages)
        root.StructTreeRoot = struct_root
        root.MarkInfo = pikepdf.Dictionary(Marked=True)
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


def sign_in_a_new_field_with_structure(data: bytes, signer: signers.Signer, name: str, box) -> bytes:
    """What a later signer's tool does in ONE revision: a new signature field and widget on page 1,
    a /Form element for it in the structure tree (parent tree entry, next key), and the signature."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    fields.append_signature_field(writer, fields.SigFieldSpec(name, on_page=0, box=box))
    widget_ref = next(ref for ref in writer.root["/AcroForm"]["/Fields"] if ref.get_object().get("/T") == name)
    widget = widget_ref.get_object()
    struct_root = writer.root["/StructTreeRoot"]
    document_ref = struct_root["/K"].raw_get(0)
    document = document_ref.get_object()
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    key = int(struct_root["/ParentTreeNextKey"])
    element = writer.add_object(generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/StructElem"), pdf_name("/S"): pdf_name("/Form"),
        pdf_name("/P"): document_ref, pdf_name("/Pg"): page_ref,
        pdf_name("/K"): generic.DictionaryObject({pdf_name("/Type"): pdf_name("/OBJR"), pdf_name("/Obj"): widget_ref,
                                                  pdf_name("/Pg"): page_ref})}))
    widget[pdf_name("/StructParent")] = generic.NumberObject(key)
    document["/K"].append(element)
    parent_tree_ref = struct_root.raw_get("/ParentTree")
    parent_tree_ref.get_object()["/Nums"].extend([generic.NumberObject(key), element])
    struct_root[pdf_name("/ParentTreeNextKey")] = generic.NumberObject(key + 1)
    for ref in (widget_ref, document_ref, parent_tree_ref, writer.root.raw_get("/StructTreeRoot")):
        writer.mark_update(ref)
    meta = signers.PdfSignatureMetadata(field_name=name, subfilter=fields.SigSeedSubFilter.PADES,
                                        md_algorithm="sha256")
    out = io.BytesIO()
    asyncio.run(signers.PdfSigner(meta, signer=signer).async_sign_pdf(writer, output=out))
    return out.getvalue()


@pytest.fixture(scope="module")
def factory(pki):
    return SignedFactory.for_dev_pki(pki)


@pytest.fixture(scope="module")
def policy(pki):
    return VerificationPolicy.for_profile("dev", dev_pki=pki)


@pytest.fixture(scope="module")
def government_document(engine, pki, factory) -> bytes:
    """Certified (P=2) by Kyso, then three more signers with another tool, each in a new field."""
    certified = engine.sign(SignRequest(document=tagged_pdf(), level=Level.B_T, certify=2),
                            key_holder=SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")).data
    data = certified
    for index, label in enumerate((factory.other, factory.attacker, factory.agency)):
        x0 = 60 + index * 160
        data = sign_in_a_new_field_with_structure(data, factory.pyhanko_signer(label), f"KySo{index + 2}",
                                                  (x0, 60, x0 + 150, 130))
    return data


def test_the_government_pattern_is_valid(government_document, policy, nssdb):
    report = verify(government_document, policy=policy)
    assert report.verdict.value == "valid", [(s.field, s.reason.en) for s in report.signatures]
    assert [s.docmdp for s in report.signatures] == [2, None, None, None]
    certification = report.signatures[0]
    later = {c.category.value for c in certification.modifications_after}
    assert later == {"new_signature", "structure"}, certification.modifications_after
    assert all(c.permitted_by_docmdp and c.permitted_by_policy for c in certification.modifications_after)
    # the second opinion on integrity: pdfsig finds every signature intact
    assert [sig.valid for sig in pdfsig(government_document, nssdb)] == [True] * 4


def test_content_changed_under_the_same_certification_is_invalid(government_document, policy):
    for name, changed in (("page content", isa_replace_page_content(government_document)),
                          ("stamp annotation", eaa_stamp(government_document))):
        report = verify(changed, policy=policy)
        assert report.verdict.value == "invalid", name
        assert report.signatures[0].reason.code == "modified_after_signing", name


def test_an_empty_new_field_after_the_certification_is_not_signing(engine, pki, policy):
    """A widget nobody signs is not "signing": P=2 does not permit it (the sneaky signature attack)."""
    certified = engine.sign(SignRequest(document=tagged_pdf(), level=Level.B_B, certify=2),
                            key_holder=SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")).data
    writer = IncrementalPdfFileWriter(io.BytesIO(certified))
    fields.append_signature_field(writer, fields.SigFieldSpec("Trong", on_page=0, box=(60, 300, 540, 700)))
    out = io.BytesIO()
    writer.write(out)
    report = verify(out.getvalue(), policy=policy)
    assert report.verdict.value == "invalid"
    assert "P=2" in report.signatures[0].reason.en


def test_structure_tree_edits_beyond_growth_are_not_bookkeeping(government_document, policy):
    """Replacing a structure element's alternate text changes what a screen reader says: not permitted."""
    writer = IncrementalPdfFileWriter(io.BytesIO(government_document))
    document = writer.root["/StructTreeRoot"]["/K"].raw_get(0)
    paragraph_ref = document.get_object()["/K"].raw_get(0)
    paragraph_ref.get_object()[pdf_name("/ActualText")] = generic.TextStringObject("Văn bản đã bị thu hồi")
    writer.mark_update(paragraph_ref)
    out = io.BytesIO()
    writer.write(out)
    report = verify(out.getvalue(), policy=policy)
    assert report.verdict.value == "invalid"
    assert any("structure tree" in c.description for c in report.signatures[-1].modifications_after)


def test_the_structure_tree_grew_in_each_signers_revision(government_document, policy):
    report = verify(government_document, policy=policy)
    descriptions = {(c.revision, c.description) for c in report.signatures[0].modifications_after}
    for revision in (2, 3, 4):
        assert (revision, "structure tree: entries added") in descriptions, sorted(descriptions)
