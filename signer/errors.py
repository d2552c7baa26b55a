"""Errors raised while producing a signature, each with its own stable code.

The codes are part of the API contract (listed in ``docs/errors.md``): a
client may switch on them. Messages come in English and Vietnamese.
"""
from __future__ import annotations

from kyso.decree30 import AlreadyIssued, NumberTaken  # noqa: F401 - Decree 30 refusals, raised by registers too
from kyso.errors import ErrorKind, KysoError


class SigningError(KysoError):
    """Root of the signer's errors."""

    code = "signing_failed"
    kind = ErrorKind.INTERNAL
    message_en = "The document could not be signed."
    message_vi = "Không thể ký văn bản."


# -- the document ------------------------------------------------------------

class NotAPdf(SigningError):
    code = "not_pdf"
    kind = ErrorKind.UNSUPPORTED_MEDIA
    message_en = "The file is not a PDF document."
    message_vi = "Tệp không phải là văn bản PDF."


class DocumentEncrypted(SigningError):
    code = "pdf_encrypted"
    kind = ErrorKind.INVALID_INPUT
    message_en = "The PDF is encrypted; remove the encryption before signing."
    message_vi = "Tệp PDF đã bị mã hóa; hãy bỏ mã hóa trước khi ký."


class DocumentMalformed(SigningError):
    code = "pdf_malformed"
    kind = ErrorKind.INVALID_INPUT
    message_en = "The PDF does not parse strictly; Kyso does not repair a document it is about to sign."
    message_vi = "Tệp PDF bị lỗi cấu trúc; Kyso không tự sửa văn bản trước khi ký."


class SignatureFieldTaken(SigningError):
    code = "signature_field_taken"
    kind = ErrorKind.CONFLICT
    message_en = "The signature field is already signed."
    message_vi = "Trường chữ ký này đã được ký."


class FieldRequiresTimestamp(SigningError):
    code = "field_requires_timestamp"
    kind = ErrorKind.INVALID_INPUT
    message_en = ("The signature field requires a timestamp (its seed value dictionary): sign at level B-T or "
                  "higher, with the service's time-stamping authority.")
    message_vi = ("Trường chữ ký yêu cầu dấu thời gian (theo từ điển giá trị gợi ý của trường): hãy ký ở mức B-T "
                  "trở lên, với máy chủ cấp dấu thời gian của hệ thống.")


class DocumentForbidsSignature(SigningError):
    code = "document_forbids_signature"
    kind = ErrorKind.CONFLICT
    message_en = ("The document does not accept this signature: its certification, a field lock or the signature "
                  "field's seed value forbids it (detail.reason says which).")
    message_vi = ("Văn bản không cho phép thêm chữ ký này: chữ ký chứng thực, khóa trường hoặc giá trị gợi ý của "
                  "trường chữ ký không cho phép (xem detail.reason).")


class CertificationNotFirst(SigningError):
    code = "certification_not_first"
    kind = ErrorKind.CONFLICT
    message_en = "A certification signature must be the document's first signature; this one is already signed."
    message_vi = "Chữ ký chứng thực (certification) phải là chữ ký đầu tiên của văn bản; văn bản này đã được ký."


class NothingToExtend(SigningError):
    code = "nothing_to_extend"
    kind = ErrorKind.INVALID_INPUT
    message_en = "The document carries no signature to extend or renew."
    message_vi = "Văn bản không có chữ ký số để bổ sung dữ liệu kiểm tra hoặc gia hạn."


class RenewalNeedsNewerTsa(SigningError):
    code = "renewal_needs_newer_tsa"
    kind = ErrorKind.CONFLICT
    message_en = ("The time-stamping authority's certificate ends no later than the archive's current protection: "
                  "renewing with it gains nothing. Configure a TSA with a newer certificate (KYSO_TSA_URL).")
    message_vi = ("Chứng thư của máy chủ cấp dấu thời gian hết hạn không muộn hơn thời hạn bảo vệ hiện tại của văn "
                  "bản: gia hạn bằng máy chủ này không có tác dụng. Hãy cấu hình máy chủ có chứng thư mới hơn.")


class LevelNotExtendable(SigningError):
    code = "level_not_extendable"
    kind = ErrorKind.INVALID_INPUT
    message_en = "A document can be extended to B-LT or B-LTA only."
    message_vi = "Chỉ có thể nâng văn bản lên mức B-LT hoặc B-LTA."


# -- the certificate ---------------------------------------------------------

class CertificateRefused(SigningError):
    """The signer's certificate may not be used to sign now."""

    code = "certificate_refused"
    kind = ErrorKind.REFUSED
    message_en = "The signer's certificate cannot be used for signing."
    message_vi = "Chứng thư số của người ký không được phép dùng để ký."


class CertificateExpired(CertificateRefused):
    code = "certificate_expired"
    message_en = "The signer's certificate has expired."
    message_vi = "Chứng thư số của người ký đã hết hạn."


class CertificateNotYetValid(CertificateRefused):
    code = "certificate_not_yet_valid"
    message_en = "The signer's certificate is not yet valid."
    message_vi = "Chứng thư số của người ký chưa đến thời hạn có hiệu lực."


class CertificateRevoked(CertificateRefused):
    code = "certificate_revoked"
    message_en = "The signer's certificate has been revoked."
    message_vi = "Chứng thư số của người ký đã bị thu hồi."


class CertificateKeyUsage(CertificateRefused):
    code = "certificate_key_usage"
    message_en = "The signer's certificate lacks the key usage needed for signing (digitalSignature and nonRepudiation)."
    message_vi = "Chứng thư số của người ký thiếu mục đích sử dụng khóa cần cho việc ký (digitalSignature và nonRepudiation)."


class CertificateUntrusted(CertificateRefused):
    code = "certificate_untrusted"
    message_en = "The signer's certificate does not chain to a trusted root."
    message_vi = "Chứng thư số của người ký không dẫn tới chứng thư gốc tin cậy."


class CertificateIsDevMaterial(CertificateRefused):
    code = "certificate_dev_material"
    message_en = "This certificate belongs to the development PKI (certs_dev); production refuses it."
    message_vi = "Chứng thư số này thuộc hạ tầng khóa thử nghiệm (certs_dev); môi trường vận hành không chấp nhận."


class RevocationUnavailable(SigningError):
    code = "revocation_unavailable"
    kind = ErrorKind.UNAVAILABLE
    message_en = "The revocation status of the signer's certificate could not be checked (OCSP/CRL unreachable)."
    message_vi = "Không kiểm tra được trạng thái thu hồi của chứng thư số (không kết nối được OCSP/CRL)."


# -- the key and the services -----------------------------------------------

class KeyUnavailable(SigningError):
    code = "key_unavailable"
    kind = ErrorKind.UNAVAILABLE
    message_en = "The signing key is not available (token absent, locked or unreachable)."
    message_vi = "Không truy cập được khóa ký (thiết bị ký không có, bị khóa hoặc không kết nối được)."


class WrongPassphrase(SigningError):
    code = "key_passphrase_invalid"
    kind = ErrorKind.INVALID_INPUT
    message_en = "The PKCS#12 file could not be opened with this passphrase."
    message_vi = "Không mở được tệp PKCS#12 với mật khẩu này."


class PassphraseRequired(SigningError):
    code = "key_passphrase_required"
    kind = ErrorKind.INVALID_INPUT
    message_en = "This key is a PKCS#12 file: send its passphrase in 'passphrase'."
    message_vi = "Khóa là tệp PKCS#12: hãy gửi mật khẩu của khóa trong trường 'passphrase'."


class KeyBindingMismatch(SigningError):
    """The key found under the account's binding is not the one an administrator bound."""

    code = "key_binding_mismatch"
    kind = ErrorKind.CONFLICT
    message_en = ("The certificate under this account's key is not the one bound to the account (the key was "
                  "replaced); nothing was signed. An administrator must bind the key again.")
    message_vi = ("Chứng thư số của khóa không phải chứng thư đã gắn với tài khoản (khóa đã bị thay); "
                  "văn bản chưa được ký. Quản trị viên cần gắn lại khóa.")


class PinRefused(KeyUnavailable):
    """The token refused the configured PIN: never tried again by this installation until the PIN changes."""

    code = "key_pin_refused"
    message_en = "The PKCS#11 token refused the PIN (KYSO_PKCS11_PIN); no further attempt is made until it is changed."
    message_vi = "Thiết bị ký từ chối mã PIN (KYSO_PKCS11_PIN); hệ thống không thử lại cho đến khi mã PIN được đổi."


class TimestampUnavailable(SigningError):
    code = "tsa_unavailable"
    kind = ErrorKind.UNAVAILABLE
    message_en = "The time-stamping authority could not be reached."
    message_vi = "Không kết nối được máy chủ cấp dấu thời gian."


class ValidationDataUnavailable(SigningError):
    code = "validation_data_unavailable"
    kind = ErrorKind.UNAVAILABLE
    message_en = "Validation data (OCSP responses, CRLs) for the long-term level could not be collected."
    message_vi = "Không thu thập được dữ liệu xác thực (OCSP, CRL) cho mức lưu trữ dài hạn."


class SignatureChainUntrusted(SigningError):
    code = "signature_chain_untrusted"
    kind = ErrorKind.REFUSED
    message_en = ("A signature's certificate does not chain to a root this service trusts: its validation data "
                  "cannot be collected (add the root with `kyso trust add`, or keep the document as it is).")
    message_vi = ("Chứng thư số của một chữ ký không dẫn tới chứng thư gốc tin cậy: không thể thu thập dữ liệu "
                  "xác thực (thêm chứng thư gốc bằng `kyso trust add`, hoặc giữ nguyên văn bản).")


# -- two-step (external) signing -------------------------------------------

class UnknownSigningHandle(SigningError):
    code = "signing_handle_unknown"
    kind = ErrorKind.NOT_FOUND
    message_en = "No pending signature has this handle (it may have expired or been finished)."
    message_vi = "Không có phiên ký đang chờ với mã này (có thể đã hết hạn hoặc đã hoàn tất)."


class SigningHandleNotYours(SigningError):
    code = "signing_handle_not_yours"
    kind = ErrorKind.FORBIDDEN
    message_en = "This pending signature was prepared for another signer; it stays pending for them."
    message_vi = "Phiên ký đang chờ này thuộc về người ký khác; phiên vẫn được giữ cho người đó."


class ExternalSignatureInvalid(SigningError):
    code = "external_signature_invalid"
    kind = ErrorKind.INVALID_INPUT
    message_en = "The signature value does not verify against the signer's certificate and the prepared digest."
    message_vi = "Giá trị chữ ký không khớp với chứng thư số của người ký và giá trị băm đã chuẩn bị."


# -- Decree 30 issuance ------------------------------------------------------

class IssuanceRefused(SigningError):
    """The Decree 30 workflow does not allow this step now."""

    code = "issuance_refused"
    kind = ErrorKind.REFUSED
    message_en = "This issuance step is not allowed."
    message_vi = "Không được phép thực hiện bước ban hành này."


class PersonalSignatureMissing(IssuanceRefused):
    code = "personal_signature_missing"
    message_en = "The agency signature needs a valid signature of the competent person first (Decree 30, Art. 32.2)."
    message_vi = "Chỉ ký số của cơ quan khi văn bản đã có chữ ký số hợp lệ của người có thẩm quyền (Nghị định 30, Điều 32.2)."


class DocumentModifiedAfterSigning(IssuanceRefused):
    code = "document_modified_after_signature"
    message_en = "The document was changed after the competent person signed it."
    message_vi = "Văn bản đã bị thay đổi sau khi người có thẩm quyền ký."


class CertificateNotOrganisation(IssuanceRefused):
    code = "certificate_not_organisation"
    message_en = "The agency signature must be made with the agency's (organisation) certificate."
    message_vi = "Chữ ký số của cơ quan phải dùng chứng thư số của cơ quan, tổ chức."


class CertificateNotPersonal(IssuanceRefused):
    code = "certificate_not_personal"
    message_en = "The competent person's signature must be made with a personal certificate."
    message_vi = "Chữ ký số của người có thẩm quyền phải dùng chứng thư số cá nhân."


class DraftNotPrepared(IssuanceRefused):
    code = "draft_not_prepared"
    kind = ErrorKind.INVALID_INPUT
    message_en = "The document has no number, date or signature fields; prepare the draft first."
    message_vi = "Văn bản chưa có ô số, ngày hoặc ô chữ ký; hãy chuẩn bị dự thảo trước."
