"""Sanity of the attack corpus (tests/attacks.py), not of Kyso's verifier.

Each attack really changes the Kyso-signed document it starts from, in the way its family
says (an incremental update keeps the signed bytes as a prefix; an in-place forgery keeps
the length); it still opens as a PDF where intended; the "pure" attacks leave the victim's
signature cryptographically intact, so that only modification analysis can catch them; pyHanko
never calls an attack a fully valid whole-file signature; the legitimate changes validate with
pyHanko. pdfsig's verdicts are only recorded (run with ``-s`` for the table): it does no
modification analysis, so many attacks pass it.
"""
from __future__ import annotations

import io
import logging

import pikepdf
import pytest
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import SignatureCoverageLevel

from attacks import ATTACK_FAMILIES, SignedFactory, attack_samples, legit_samples
from pdfcheck import pdfsig, pyhanko_statuses

INCREMENTAL = {"ISA", "shadow-hide", "shadow-replace", "shadow-hide-and-replace", "EAA", "SSA"}
IN_PLACE = {"USF", "crypto"}
ALLOWED_LATER = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES, ModificationLevel.FORM_FILLING)


@pytest.fixture(scope="module")
def factory(pki, engine, tmp_path_factory):
    return SignedFactory(pki, engine, workdir=tmp_path_factory.mktemp("attacks"))


@pytest.fixture(scope="module")
def attacks(factory):
    return attack_samples(factory)


@pytest.fixture(scope="module")
def legit(factory):
    return legit_samples(factory)


@pytest.fixture(scope="module")
def pyhanko_results(attacks, legit, pki):
    """name -> list of statuses, or the exception pyHanko raised (its log is silenced meanwhile)."""
    results = {}
    logging.disable(logging.CRITICAL)
    try:
        for sample in attacks + legit:
            try:
                results[sample.name] = pyhanko_statuses(sample.data, pki.trust_roots())
            except Exception as exc:  # noqa: BLE001 - recorded: malformed input may make pyHanko raise
                results[sample.name] = exc
    finally:
        logging.disable(logging.NOTSET)
    return results


def _fully_valid(status) -> bool:
    """pyHanko's strongest verdict: valid, trusted, whole file, nothing changed after it."""
    if not hasattr(status, "bottom_line"):   # a document timestamp
        return status.intact and status.valid and status.trusted
    return bool(status.bottom_line and status.coverage == SignatureCoverageLevel.ENTIRE_FILE
                and status.modification_level == ModificationLevel.NONE)


def _describe(result) -> str:
    if isinstance(result, Exception):
        return f"raises {type(result).__name__}"
    if not result:
        return "no signature found"
    parts = []
    for s in result:
        if hasattr(s, "bottom_line"):
            parts.append(f"{'OK' if s.bottom_line else 'no'}/{s.coverage.name if s.coverage else '-'}/"
                         f"{s.modification_level.name if s.modification_level else '-'}")
        else:
            parts.append(f"TS:{'OK' if s.valid and s.intact else 'no'}")
    return " ".join(parts)


def test_corpus_covers_every_family_with_unique_named_samples(attacks, legit):
    names = [s.name for s in attacks + legit]
    assert len(names) == len(set(names))
    by_family = {}
    for s in attacks:
        by_family.setdefault(s.family, []).append(s.name)
        assert s.expect == "not-valid" and s.note and "\n" not in s.note
    assert set(by_family) == set(ATTACK_FAMILIES)
    assert all(len(v) >= 2 for v in by_family.values()), by_family
    assert {s.family for s in legit} == {"legit"} and all(s.expect == "valid" for s in legit)
    assert {"legit-b-lt", "legit-b-lta", "legit-second-approval", "legit-decree30-issue",
            "legit-dss-only-update"} <= {s.name for s in legit}


def test_each_attack_changes_its_signed_source_the_way_its_family_says(attacks):
    for s in attacks:
        assert s.source.startswith(b"%PDF-") and s.data != s.source, s.name
        if s.family in INCREMENTAL:
            # an update appended after the signed bytes, which stay untouched
            assert s.data.startswith(s.source) and len(s.data) > len(s.source), s.name
        elif s.family in IN_PLACE or s.name != "swa-wrap-moved-signed-tail":
            # a forgery inside the file: same length, so every offset still holds
            assert len(s.data) == len(s.source), s.name
        else:
            # the wrapping: the first signed range kept, the signed tail moved to the end
            assert s.data.endswith(s.source[-200:]) and len(s.data) > len(s.source)


def test_attacks_still_open_as_pdf_where_intended(attacks, legit):
    for s in attacks + legit:
        with pikepdf.open(io.BytesIO(s.data)) as pdf:       # qpdf with recovery, as a lenient viewer
            assert len(pdf.pages) >= 1, s.name
        if s.strict:
            with pikepdf.open(io.BytesIO(s.data), attempt_recovery=False) as pdf:
                assert len(pdf.pages) >= 1, s.name
        else:
            with pytest.raises(pikepdf.PdfError):
                pikepdf.open(io.BytesIO(s.data), attempt_recovery=False)


def test_generators_are_deterministic(factory, attacks):
    again = {s.name: s.data for s in attack_samples(factory)}   # same (cached) signed inputs
    assert {s.name: s.data for s in attacks} == again


def test_pure_attacks_leave_the_victim_signature_cryptographically_intact(attacks, pyhanko_results):
    """Well-formed updates and the real wrapping keep the digest right: only the modification
    analysis (or the coverage) can tell. Attacks that hide the signature from the xref chain or
    the catalog show no signature at all."""
    checked = 0
    for s in attacks:
        pure = (s.family in INCREMENTAL and s.strict) or s.name == "swa-wrap-moved-signed-tail"
        result = pyhanko_results[s.name]
        if not pure or isinstance(result, Exception) or not result:
            continue
        victim = result[0]
        assert victim.intact and victim.valid and victim.trusted, s.name
        checked += 1
    assert checked >= 20


def test_crypto_forgeries_really_break_the_signature(attacks, pyhanko_results, nssdb):
    for s in attacks:
        if s.family != "crypto":
            continue
        result = pyhanko_results[s.name]
        assert isinstance(result, Exception) or not (result[0].intact and result[0].valid), s.name
        assert not any(sig.valid for sig in pdfsig(s.data, nssdb)), s.name


def test_pyhanko_never_calls_an_attack_fully_valid(attacks, pyhanko_results):
    for s in attacks:
        result = pyhanko_results[s.name]
        if isinstance(result, Exception) or not result:
            continue     # pyHanko refused it, or sees no signature: not "valid"
        assert not all(_fully_valid(st) for st in result), (s.name, _describe(result))


# Where stock pyHanko is stricter than ISO 32000-2 and Kyso (docs/verification.md, "Second opinions"):
# it refuses any rewrite of a page dictionary after a certification signature, including the one
# that adds a signature widget to the page's /Annots, which every later signer of a certified
# government document makes. Kyso checks that the rewrite only appends signature widgets.
PYHANKO_STRICTER = {"legit-new-signed-field-certified-p2"}


def test_legit_samples_validate_with_pyhanko(legit, pyhanko_results):
    for s in legit:
        result = pyhanko_results[s.name]
        if s.name in PYHANKO_STRICTER:
            certification = result[0]
            assert certification.intact and certification.valid and certification.trusted, s.name
            assert certification.modification_level == ModificationLevel.OTHER, (
                "pyHanko now accepts it: drop it from PYHANKO_STRICTER", s.name)
            assert _fully_valid(result[-1]), s.name
            continue
        assert not isinstance(result, Exception), (s.name, result)
        assert result, s.name
        for status in result:
            if hasattr(status, "bottom_line"):
                assert status.bottom_line, (s.name, _describe(result))
                assert status.modification_level in ALLOWED_LATER, (s.name, _describe(result))
            else:
                assert status.intact and status.valid and status.trusted, s.name
        # samples whose last revision is an unsigned update (validation data, form filling)
        assert _fully_valid(result[-1]) or s.name in ("legit-b-lt", "legit-dss-only-update",
                                                      "legit-fill-field-certified-p2",
                                                      "legit-refill-field-filled-after-signing"), s.name


def test_pdfsig_summary(attacks, legit, pyhanko_results, nssdb):
    """Recorded, not asserted per attack: what pdfsig says (it checks digests and certificates,
    not what changed after a signature). Asserted: it finds the legit signatures valid."""
    rows = []
    for s in attacks + legit:
        report = pdfsig(s.data, nssdb)
        verdict = " ".join(("VALID" if r.valid else "no") + ("*" if r.total_document else "") for r in report)
        rows.append((s.family, s.name, s.expect, verdict or "-", _describe(pyhanko_results[s.name])))
        if s.expect == "valid":
            assert any(r.valid for r in report), s.name
    width = max(len(r[1]) for r in rows)
    print("\n\nfamily                   sample" + " " * (width - 6)
          + " expect     pdfsig (*=total doc)     pyHanko (bottom/coverage/modification)")
    for family, name, expect, verdict, hanko in rows:
        print(f"{family:24s} {name:{width}s} {expect:10s} {verdict:24s} {hanko}")
    fooled = [name for family, name, expect, verdict, _ in rows if expect == "not-valid" and "VALID" in verdict]
    print(f"\npdfsig reports 'Signature is Valid.' for some signature in {len(fooled)} of "
          f"{len(attacks)} attacks")
