"""Malformed and hostile PDFs for robustness testing (``make stress``, tests/test_hostile.py).

``cases(sources, count=..., seed=...)`` yields deterministic :class:`Case` objects: byte-level
damage (truncation, bit flips, broken or looping cross-references), structural bombs (deep
nesting, decompression bombs, huge page counts), files that are not what they claim (empty,
not PDF, polyglots, encrypted), and signature-specific mutations of signed documents (ByteRange
and Contents edits, CMS garbage). Every mutation of a signed document must never verify as valid.
"""
from hostile.generator import HOSTILE_FIELD_NAMES, Case, Sources, cases, door_cases, families

__all__ = ["HOSTILE_FIELD_NAMES", "Case", "Sources", "cases", "door_cases", "families"]
