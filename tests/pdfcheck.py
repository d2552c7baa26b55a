"""Independent checks of signed PDFs for the tests: poppler's pdfsig and pyHanko's validator.

(Kyso's own verifier arrives with its issue; until then the tests judge
Kyso's output with these two, which Kyso does not control.)
"""
from __future__ import annotations

import dataclasses
import io
import re
import subprocess
import tempfile
from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext


@dataclasses.dataclass
class PdfsigSignature:
    valid: bool
    total_document: bool
    lines: list[str]


def pdfsig(data: bytes, nssdb: Path) -> list[PdfsigSignature]:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        proc = subprocess.run(["pdfsig", "-nssdir", f"sql:{nssdb}", f.name],
                              capture_output=True, text=True, timeout=120)
    out = proc.stdout
    blocks = re.split(r"^Signature #\d+:\s*$", out, flags=re.M)[1:]
    result = []
    for block in blocks:
        lines = [line.strip() for line in block.strip().splitlines()]
        result.append(PdfsigSignature(
            valid="- Signature Validation: Signature is Valid." in lines,
            total_document="- Total document signed" in lines,
            lines=lines))
    return result


def pyhanko_statuses(data: bytes, roots, *, offline_dss: bool = False):
    """Validate every embedded signature and document timestamp with pyHanko."""
    reader = PdfFileReader(io.BytesIO(data))
    if offline_dss:
        dss = DocumentSecurityStore.read_dss(reader)
        context_factory = lambda: dss.as_validation_context(  # noqa: E731
            {"trust_roots": list(roots), "allow_fetching": False, "revocation_mode": "hard-fail"})
    else:
        context_factory = lambda: ValidationContext(trust_roots=list(roots), allow_fetching=True)  # noqa: E731
    statuses = []
    for sig in reader.embedded_signatures:
        if sig.sig_object.get("/Type") == "/DocTimeStamp":
            statuses.append(validate_pdf_timestamp(sig, validation_context=context_factory()))
        else:
            statuses.append(validate_pdf_signature(sig, context_factory(), ts_validation_context=context_factory()))
    return statuses
