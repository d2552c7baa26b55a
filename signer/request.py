"""What to sign: a frozen description of one signing operation."""
from __future__ import annotations

import dataclasses
import enum
import os
from pathlib import Path
from typing import Any, Union

DocumentSource = Union[bytes, bytearray, memoryview, os.PathLike, str]
"""A PDF given as its bytes or as a path to the file."""


class Level(enum.Enum):
    """PAdES baseline levels (ETSI EN 319 142-1)."""

    B_B = "B-B"      # the signature alone
    B_T = "B-T"      # + a signature timestamp from a TSA
    B_LT = "B-LT"    # + validation data (certificates, OCSP, CRL) in the document's DSS
    B_LTA = "B-LTA"  # + a document timestamp over all of it

    @classmethod
    def parse(cls, text: "str | Level") -> "Level":
        """Accept ``B-LT``, ``b_lt``, ``BLT``, ``PAdES-B-LT``..."""
        if isinstance(text, Level):
            return text
        norm = str(text).strip().upper().replace("_", "-")
        if norm.startswith("PADES-"):
            norm = norm[len("PADES-"):]
        if "-" not in norm and norm.startswith("B") and len(norm) > 1:
            norm = "B-" + norm[1:]
        for level in cls:
            if level.value == norm:
                return level
        raise ValueError(f"unknown PAdES level {text!r}; expected one of B-B, B-T, B-LT, B-LTA")

    @property
    def needs_timestamp(self) -> bool:
        return self is not Level.B_B

    @property
    def needs_validation_data(self) -> bool:
        return self in (Level.B_LT, Level.B_LTA)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SignRequest:
    """One document to sign, and how the signature should read.

    ``document`` is the PDF's bytes or a path (a path lets a 100 MB file be
    signed file to file without holding it in memory). ``field`` names the
    signature field: an existing empty field is filled (with its own
    rectangle), otherwise a new field is created, invisible unless a
    ``placement`` gives its page and box; ``None`` picks the next free
    ``SignatureN``. ``appearance`` (see :mod:`signer.appearance`) draws a
    visible signature: a personal signature image, an agency seal, an
    attachment or copy block.
    """

    document: DocumentSource
    field: str | None = None
    reason: str | None = None
    location: str | None = None
    contact_info: str | None = None
    level: Level = Level.B_T
    appearance: Any = None       # a signer.appearance appearance; None = invisible
    placement: Any = None        # a signer.appearance.Placement for a NEW visible field
    certify: int | None = None   # a certification signature with DocMDP P=1, 2 or 3 (the first signature only)

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", Level.parse(self.level))
        if isinstance(self.document, (bytearray, memoryview)):
            object.__setattr__(self, "document", bytes(self.document))
        elif isinstance(self.document, (str, os.PathLike)):
            object.__setattr__(self, "document", Path(self.document))
        if self.field is not None and (not self.field or "." in self.field):
            raise ValueError("a signature field name must be non-empty and contain no '.'")
        if self.certify is not None and self.certify not in (1, 2, 3):
            raise ValueError("a certification's DocMDP permission is 1, 2 or 3")
        if self.placement is not None and self.appearance is None:
            raise ValueError("a placement needs an appearance to draw")

    @property
    def document_path(self) -> Path | None:
        return self.document if isinstance(self.document, Path) else None
