"""The office's refusals, each with its stable code (``docs/errors.md``); every door maps them the
same way (``office.http_status``)."""
from __future__ import annotations

from kyso.errors import ErrorKind, KysoError

__all__ = [
    "AgencyMismatch",
    "BadInput",
    "DocumentNotFound",
    "EarlierSignatureBroken",
    "FileMissing",
    "Forbidden",
    "IncomingNotValid",
    "JobQueueUnavailable",
    "LevelInvalid",
    "MissingImage",
    "NoAgency",
    "NoAgencyKey",
    "NotIssued",
    "TooManyAttempts",
    "Unauthenticated",
]


class Unauthenticated(KysoError):
    code = "unauthenticated"
    kind = ErrorKind.UNAUTHENTICATED
    message_en = "A valid API token or web session is required."
    message_vi = "Cần mã truy cập hoặc phiên đăng nhập hợp lệ."


class TooManyAttempts(KysoError):
    """Too many failed logins from one address (or with one account's revoked tokens) within the
    window: every login from there is refused until the window ends (``retry_after`` seconds)."""

    code = "too_many_attempts"
    kind = ErrorKind.RATE_LIMITED
    message_en = "Too many failed logins: wait a few minutes, then try again."
    message_vi = "Đăng nhập sai quá nhiều lần: hãy chờ vài phút rồi thử lại."

    @classmethod
    def for_seconds(cls, seconds: int) -> "TooManyAttempts":
        """The refusal, saying when to try again (whole minutes, rounded up; at least one second)."""
        seconds = max(1, int(seconds))
        minutes = -(-seconds // 60)
        return cls(f"Too many failed logins: try again in {minutes} minute(s).",
                   message_vi=f"Đăng nhập sai quá nhiều lần: hãy thử lại sau {minutes} phút.",
                   detail={"retry_after": seconds})

    @property
    def retry_after(self) -> int:
        return int(self.detail.get("retry_after") or 60)


class Forbidden(KysoError):
    code = "forbidden"
    kind = ErrorKind.FORBIDDEN
    message_en = "Your role does not allow this."
    message_vi = "Vai trò của bạn không được phép thực hiện thao tác này."


class BadInput(KysoError):
    code = "bad_request"
    kind = ErrorKind.INVALID_INPUT
    message_en = "The request is malformed."
    message_vi = "Yêu cầu không hợp lệ."


class ArchiveTooLarge(KysoError):
    code = "zip_too_large"
    kind = ErrorKind.TOO_LARGE
    message_en = "The zip holds too many files or too many bytes once unpacked."
    message_vi = "Tệp zip chứa quá nhiều tệp hoặc quá nhiều dữ liệu khi giải nén."


class ArchiveBomb(KysoError):
    code = "zip_bomb"
    kind = ErrorKind.INVALID_INPUT
    message_en = "A file in the zip unpacks to far more than it takes (a decompression bomb?)."
    message_vi = "Một tệp trong zip giải nén ra lớn bất thường so với kích thước nén (nghi là bom nén)."


class FileMissing(BadInput):
    code = "file_missing"
    message_en = "Upload the PDF in the multipart field 'file'."
    message_vi = "Hãy tải tệp PDF lên trong trường 'file' (multipart)."


class LevelInvalid(BadInput):
    code = "level_invalid"
    message_en = "Unknown PAdES level; use B-B, B-T, B-LT or B-LTA."
    message_vi = "Mức PAdES không hợp lệ; hãy dùng B-B, B-T, B-LT hoặc B-LTA."


class DocumentNotFound(KysoError):
    """No such document, or not one this caller may read (the same answer: existence is not leaked)."""

    code = "not_found"
    kind = ErrorKind.NOT_FOUND
    message_en = "No such document."
    message_vi = "Không tìm thấy văn bản."


class NoAgency(KysoError):
    code = "account_without_agency"
    kind = ErrorKind.REFUSED
    message_en = "This account belongs to no agency; an administrator must set it (kyso admin create-user --agency)."
    message_vi = "Tài khoản chưa thuộc cơ quan nào; quản trị viên cần gán cơ quan cho tài khoản."


class AgencyMismatch(KysoError):
    """A clerk acts for their own agency only."""

    code = "agency_mismatch"
    kind = ErrorKind.FORBIDDEN
    message_en = "This document belongs to another agency: a clerk issues only her or his own agency's documents."
    message_vi = "Văn bản thuộc cơ quan khác: văn thư chỉ ban hành văn bản của cơ quan mình."


class NotIssued(KysoError):
    """The Decree 30 precondition of an agency signature is missing."""

    code = "not_issued"
    kind = ErrorKind.REFUSED
    message_en = "The document this depends on has not been issued by your agency."
    message_vi = "Văn bản liên quan chưa được cơ quan ban hành."


class EarlierSignatureBroken(KysoError):
    """A signature already on the upload does not hold (its digest, its value or its format fails, or
    the document was changed after it in a way it does not permit): signing over it would seal a
    changed or damaged document under the caller's name."""

    code = "earlier_signature_broken"
    kind = ErrorKind.INVALID_INPUT
    message_en = ("A signature already on this document is broken (the document was changed after it was signed, "
                  "or the signature is damaged): it cannot be signed again. Ask its sender for the original.")
    message_vi = ("Văn bản có chữ ký số trước đó không còn nguyên vẹn (văn bản đã bị sửa sau khi ký hoặc chữ ký "
                  "bị hỏng): không thể ký tiếp. Hãy đề nghị nơi gửi cung cấp bản gốc.")


class IncomingNotValid(KysoError):
    code = "incoming_not_valid"
    kind = ErrorKind.REFUSED
    message_en = "This document is not valid: it cannot be registered; return it to its sender."
    message_vi = "Văn bản không hợp lệ: không thể vào sổ; hãy trả lại nơi gửi."


class JobQueueUnavailable(KysoError):
    code = "job_queue_unavailable"
    kind = ErrorKind.UNAVAILABLE
    message_en = ("The job queue (the broker) cannot be reached: the job is recorded and its documents will be "
                  "verified once the queue is back (detail.job follows it).")
    message_vi = ("Không kết nối được hàng đợi (broker): yêu cầu đã được ghi nhận, các văn bản sẽ được kiểm tra "
                  "khi hàng đợi hoạt động trở lại (theo dõi bằng detail.job).")


class NoAgencyKey(KysoError):
    code = "agency_key_missing"
    kind = ErrorKind.REFUSED
    message_en = "A return notice is signed with the agency's key, and none is bound to this account."
    message_vi = "Phiếu trả lại được ký bằng khóa của cơ quan, nhưng tài khoản này chưa được gán khóa cơ quan."


class MissingImage(KysoError):
    code = "image_missing"
    kind = ErrorKind.INVALID_INPUT
    message_en = "No signature image or seal is set for this user."
    message_vi = "Người dùng chưa có ảnh chữ ký hoặc con dấu."


STATUS_BY_KIND = {
    ErrorKind.INVALID_INPUT: 422, ErrorKind.UNSUPPORTED_MEDIA: 415, ErrorKind.TOO_LARGE: 413,
    ErrorKind.REFUSED: 422, ErrorKind.UNAUTHENTICATED: 401, ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404, ErrorKind.CONFLICT: 409, ErrorKind.RATE_LIMITED: 429, ErrorKind.UNAVAILABLE: 503,
    ErrorKind.CONFIGURATION: 500, ErrorKind.INTERNAL: 500,
}


def http_status(error: KysoError) -> int:
    """The one mapping of an error to an HTTP status, for the API and the web pages alike."""
    return STATUS_BY_KIND.get(error.kind, 500)


def http_headers(error: KysoError) -> dict[str, str]:
    """The headers that go with the error's status, for every door (``Retry-After`` with a 429)."""
    if isinstance(error, TooManyAttempts):
        return {"Retry-After": str(error.retry_after)}
    return {}
