"""The accounts' private material: PKCS#12 files and signature/seal images, outside the document store.

Key material never enters the document store (whose files the service hands out to readers), and
no route serves what is kept here: a PKCS#12 file is read only to sign with the passphrase its owner
sends, an image only to draw the owner's signature or the agency's seal. The folder is 0700 and
every file 0600, written atomically (temporary file, fsync, rename, fsync of the folder), named by
the SHA-256 of its content so that a binding never changes under an account's feet.

    store = AccountStore(settings.key_dir)
    ref = store.put(p12_bytes, kind="pkcs12")        # the account's key_ref
    data = store.read(ref, kind="pkcs12")
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

from kyso.errors import ErrorKind, KysoError

__all__ = ["AccountStore", "AccountStoreError", "FILE_MODE", "DIR_MODE"]

FILE_MODE = 0o600
DIR_MODE = 0o700
_SUFFIX = {"pkcs12": ".p12", "image": ".png"}
_SHA = re.compile(r"^[0-9a-f]{64}$")


class AccountStoreError(KysoError):
    code = "account_material_missing"
    kind = ErrorKind.UNAVAILABLE
    message_en = "The key or image bound to this account is missing from the key store; ask an administrator."
    message_vi = "Không tìm thấy khóa hoặc ảnh gắn với tài khoản trong kho khóa; hãy liên hệ quản trị viên."


class AccountStore:
    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def _ensure(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        if self.directory.stat().st_mode & 0o077:
            os.chmod(self.directory, DIR_MODE)

    def path(self, ref: str, *, kind: str) -> Path:
        if kind not in _SUFFIX or not _SHA.match(ref or ""):
            raise AccountStoreError(detail={"ref": str(ref)[:80], "kind": kind})
        return self.directory / f"{ref}{_SUFFIX[kind]}"

    def put(self, data: bytes, *, kind: str) -> str:
        """Keep ``data`` (0600) and return its reference (the SHA-256 of the content)."""
        ref = hashlib.sha256(data).hexdigest()
        final = self.path(ref, kind=kind)
        self._ensure()
        temp = self.directory / f".{secrets.token_hex(8)}.part"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, final)
        dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return ref

    def exists(self, ref: str | None, *, kind: str) -> bool:
        try:
            return ref is not None and self.path(ref, kind=kind).is_file()
        except AccountStoreError:
            return False

    def read(self, ref: str, *, kind: str) -> bytes:
        path = self.path(ref, kind=kind)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise AccountStoreError(detail={"ref": ref, "kind": kind}) from None
        if hashlib.sha256(data).hexdigest() != ref:
            raise AccountStoreError("the key store's copy is damaged", detail={"ref": ref, "kind": kind})
        return data
