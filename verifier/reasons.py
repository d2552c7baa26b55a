"""The verifier's reasons, one line each, in Vietnamese and English, with stable codes."""
from __future__ import annotations

from verifier.report import Reason

_TEXT = {
    "valid": ("The signature is valid and the signed content is unchanged.",
              "Chữ ký số hợp lệ, nội dung đã ký không bị thay đổi."),
    "timestamp_valid": ("The document timestamp is valid.", "Dấu thời gian tài liệu hợp lệ."),
    "hash_failure": ("The document was altered after signing: its digest does not match the signature.",
                     "Văn bản đã bị thay đổi sau khi ký: giá trị băm không khớp với chữ ký."),
    "sig_crypto_failure": ("The signature value does not verify with the signer's public key.",
                           "Giá trị chữ ký không được xác thực bằng khóa công khai của người ký."),
    "format_failure": ("The signature is malformed or does not cover the document correctly.",
                       "Chữ ký sai định dạng hoặc không bao phủ đúng văn bản."),
    "modified_after_signing": ("The document was changed after signing in a way that is not permitted: {detail}.",
                               "Văn bản đã bị sửa đổi sau khi ký theo cách không được phép: {detail}."),
    "revoked": ("The signer's certificate was revoked before the signature was made.",
                "Chứng thư số của người ký đã bị thu hồi trước thời điểm ký."),
    "no_chain": ("The signer's certificate does not lead to a trusted root certificate.",
                 "Chứng thư số của người ký không dẫn tới chứng thư gốc tin cậy."),
    "chain_failure": ("The certificate path could not be validated: {detail}.",
                      "Không xác thực được đường dẫn chứng thư: {detail}."),
    "revocation_unknown": ("The revocation status of a certificate could not be established.",
                           "Không xác định được tình trạng thu hồi của chứng thư số."),
    "expired_no_poe": ("The signer's certificate has expired and nothing proves the signature existed before.",
                       "Chứng thư số đã hết hạn và không có bằng chứng chữ ký tồn tại trước thời điểm đó."),
    "before_proof": ("Nothing proves the signature existed at the requested validation time (requested < earliest "
                     "proof: {detail}).",
                     "Không có bằng chứng chữ ký đã tồn tại tại thời điểm kiểm tra được yêu cầu (thời điểm yêu cầu < "
                     "bằng chứng sớm nhất: {detail})."),
    "no_proof": ("The signature carries no timestamp: nothing proves it existed at the requested validation time "
                 "({detail}), which is in the past.",
                 "Chữ ký không có dấu thời gian: không có bằng chứng chữ ký đã tồn tại tại thời điểm kiểm tra được yêu "
                 "cầu ({detail}) trong quá khứ."),
    "valid_at_proof": ("The signature is valid: its certificate was valid when a trusted timestamp proves it "
                       "existed ({detail}).",
                       "Chữ ký số hợp lệ: chứng thư số còn hiệu lực tại thời điểm dấu thời gian tin cậy chứng minh "
                       "chữ ký đã tồn tại ({detail})."),
    "signing_time_disagrees": ("The signing time written by the signer's software disagrees with the trusted "
                               "timestamp ({detail}); often local time labelled as UTC. The timestamp counts.",
                               "Thời điểm ký do phần mềm của người ký ghi khác với dấu thời gian tin cậy ({detail}); "
                               "thường do ghi giờ địa phương nhưng đánh dấu là UTC. Dấu thời gian là căn cứ."),
    "ber_encoded": ("The signature container is BER-encoded, not DER (accepted; some signing tools write it so).",
                    "Cấu trúc chữ ký được mã hóa BER thay vì DER (vẫn chấp nhận; một số phần mềm ký tạo ra như vậy)."),
    "encrypted_document": ("The document is encrypted with an empty user password; it was opened without one.",
                           "Văn bản được mã hóa với mật khẩu người dùng rỗng; đã mở mà không cần mật khẩu."),
    "timestamp_order": ("This signature's timestamp is earlier than the time of a signature in an earlier revision "
                        "({detail}).",
                        "Dấu thời gian của chữ ký này sớm hơn thời điểm của một chữ ký ở phiên bản trước ({detail})."),
    "not_yet_valid": ("The signer's certificate was not yet valid when signing.",
                      "Chứng thư số của người ký chưa có hiệu lực tại thời điểm ký."),
    "crypto_constraints": ("An algorithm is too weak for this policy: {detail}.",
                           "Thuật toán không đạt yêu cầu an toàn: {detail}."),
    "key_usage": ("The signer's certificate is not meant for signing documents (key usage).",
                  "Chứng thư số của người ký không dùng để ký văn bản (mục đích sử dụng khóa)."),
    "unsupported": ("This kind of signature cannot be judged: {detail}.",
                    "Không thể đánh giá loại chữ ký này: {detail}."),
    "cannot_judge": ("The signature could not be judged: {detail}.", "Không thể đánh giá chữ ký: {detail}."),
    "limit": ("Verification stopped at a limit: {detail}.", "Dừng kiểm tra do vượt giới hạn: {detail}."),
    "not_pdf": ("The file is not a PDF document.", "Tệp không phải là văn bản PDF."),
    "unreadable": ("The PDF cannot be read: {detail}.", "Không đọc được tệp PDF: {detail}."),
    "encrypted": ("The PDF is encrypted and needs a password to open; its signatures cannot be checked.",
                  "Tệp PDF đã bị mã hóa và cần mật khẩu để mở; không thể kiểm tra chữ ký."),
    "unsigned": ("The document carries no signature.", "Văn bản không có chữ ký số."),
    "hidden_signature": ("The file contains a signature that is not part of the document as displayed: a later "
                         "update detached it.",
                         "Tệp có chữ ký số không thuộc văn bản đang hiển thị: một lần cập nhật sau đã tách nó ra."),
    "unsigned_tail": ("Bytes were added after the last signed revision and no signature covers them.",
                      "Có dữ liệu được thêm vào sau phiên bản đã ký cuối cùng mà không có chữ ký nào bao phủ."),
    "doc_valid": ("All signatures are valid and cover the document.",
                  "Tất cả chữ ký số hợp lệ và bao phủ toàn bộ văn bản."),
    "doc_invalid": ("At least one signature is invalid: return the document to its sender.",
                    "Có chữ ký số không hợp lệ: trả lại văn bản cho nơi gửi."),
    "doc_indeterminate": ("At least one signature cannot be confirmed valid.",
                          "Có chữ ký số chưa thể xác nhận là hợp lệ."),
    "decree30_required": ("This verification requires the Decree 30 pair (the competent person, then the "
                          "agency) and the document does not carry it.",
                          "Lần kiểm tra này yêu cầu đủ cặp chữ ký theo Nghị định 30 (người có thẩm quyền, sau đó "
                          "cơ quan) nhưng văn bản không đáp ứng."),
    "decree30_ok": ("Signed by the competent person, then by the agency (Decree 30).",
                    "Có chữ ký số của người có thẩm quyền, sau đó là chữ ký số của cơ quan (Nghị định 30)."),
    "decree30_agency_only": ("Only the agency signed; the competent person's signature is missing (Decree 30).",
                             "Chỉ có chữ ký số của cơ quan, thiếu chữ ký số của người có thẩm quyền (Nghị định 30)."),
    "decree30_personal_only": ("Only the competent person signed; the agency's signature is missing (Decree 30).",
                               "Chỉ có chữ ký số của người có thẩm quyền, thiếu chữ ký số của cơ quan (Nghị định 30)."),
    "decree30_wrong_order": ("The agency signed before the competent person (Decree 30 requires the reverse).",
                             "Cơ quan ký trước người có thẩm quyền (Nghị định 30 yêu cầu ngược lại)."),
    "decree30_missing": ("No valid personal and agency signature pair was found (Decree 30).",
                         "Không tìm thấy cặp chữ ký hợp lệ của người có thẩm quyền và của cơ quan (Nghị định 30)."),
    "decree30_na": ("No signature to check against Decree 30.", "Không có chữ ký để đối chiếu Nghị định 30."),
    "decree30_not_valid": ("A signature of the competent person or of the agency is not valid, or cannot be "
                           "confirmed: the document does not meet Decree 30.",
                           "Chữ ký số của người có thẩm quyền hoặc của cơ quan không hợp lệ hoặc chưa xác nhận "
                           "được: văn bản chưa đáp ứng Nghị định 30."),
}


def reason(code: str, detail: str | None = None) -> Reason:
    en, vi = _TEXT[code]
    detail = detail or ""
    return Reason(code=code, en=en.format(detail=detail), vi=vi.format(detail=detail))
