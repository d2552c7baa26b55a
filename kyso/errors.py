"""The one error root of Kyso.

Every error Kyso raises on purpose is a :class:`KysoError`: it carries a
stable machine-readable ``code``, an English and a Vietnamese message, a
:class:`ErrorKind` that the HTTP edge maps to a status code in one place,
and optional ``detail`` (diagnostics, JSON-serialisable).

Subclasses declare their code, kind and messages as class attributes::

    class CertificateExpired(SigningRefused):
        code = "certificate_expired"
        message_en = "The signer's certificate has expired."
        message_vi = "Chứng thư số của người ký đã hết hạn."
"""
from __future__ import annotations

import enum
from typing import Any, Mapping


class ErrorKind(enum.Enum):
    """What kind of failure an error is; the HTTP edge maps each to a status."""

    INVALID_INPUT = "invalid_input"        # the request or the document is wrong
    UNSUPPORTED_MEDIA = "unsupported_media"  # not a PDF at all
    TOO_LARGE = "too_large"
    REFUSED = "refused"                    # well-formed, but policy says no
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    RATE_LIMITED = "rate_limited"          # too many attempts: wait, then try again
    UNAVAILABLE = "unavailable"            # a dependency (TSA, OCSP, token) is down
    CONFIGURATION = "configuration"        # settings are unknown or unsafe
    INTERNAL = "internal"


class KysoError(Exception):
    """Root of every error Kyso raises on purpose."""

    code: str = "kyso_error"
    kind: ErrorKind = ErrorKind.INTERNAL
    message_en: str = "Kyso could not complete the operation."
    message_vi: str = "Kyso không thể hoàn tất thao tác."

    def __init__(
        self,
        message: str | None = None,
        *,
        message_vi: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = message or type(self).message_en
        self.message_vi_text = message_vi or type(self).message_vi
        self.detail = dict(detail or {})
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """The error as the JSON body the service returns (``{"error": ...}``)."""
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "message_vi": self.message_vi_text,
        }
        if self.detail:
            body["detail"] = self.detail
        return {"error": body}

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class ConfigurationError(KysoError):
    """Settings are unknown, malformed or unsafe for the chosen mode."""

    code = "configuration_invalid"
    kind = ErrorKind.CONFIGURATION
    message_en = "The configuration is invalid."
    message_vi = "Cấu hình không hợp lệ."
