"""Files handed to a person's browser or an API client: the name travels as RFC 6266/8187
``filename*=UTF-8''...`` and, for old clients, an ASCII name folded from the Vietnamese
(``Quyết định số 01/QĐ-UBND`` → ``Quyet dinh so 01-QD-UBND``), never raw UTF-8 in a header."""
from __future__ import annotations

import io
import re
import unicodedata
from urllib.parse import quote

from flask import Response, send_file


def ascii_name(filename: str) -> str:
    """The Vietnamese letters without their marks (Đ and đ, which do not decompose, as D and d)."""
    folded = unicodedata.normalize("NFKD", filename.replace("Đ", "D").replace("đ", "d"))
    text = folded.encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9._ ()+-]", "_", text).strip() or "document"


def attachment(data: bytes, *, filename: str, mimetype: str) -> Response:
    """``data`` as a download named ``filename`` (a slash becomes a hyphen: 01/QĐ-UBND)."""
    name = filename.replace("/", "-").replace("\\", "-") or "document"
    response = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=name)
    response.headers["Content-Disposition"] = \
        f"attachment; filename=\"{ascii_name(name)}\"; filename*=UTF-8''{quote(name, safe='')}"
    return response
