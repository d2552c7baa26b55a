"""The content-addressed document store on an S3-compatible object store (SeaweedFS, MinIO, Ceph,
AWS S3), for several nodes that must serve what any of them stored.

    store = S3BlobStore(bucket="kyso", prefix="ubnd/", endpoint_url="http://127.0.0.1:8333",
                        access_key_id=..., secret_access_key=...)
    blob = store.put(upload)          # whole and checked in the bucket before anything refers to it
    with db.session() as s:
        record(s, blob, origin="received")

Keys: ``<prefix>ab/cd/<sha256>.pdf``, as the local folder's layout (``registers.blobstore``).

The local store's crash rules hold here too:

1. the document is read once (spooled to a temporary file above 8 MiB) and hashed;
2. one PUT sends it with its SHA-256 (``x-amz-checksum-sha256``): the server computes the digest
   of what it received and refuses the object when they differ, so an object never exists with
   content other than its name says; a single PUT is atomic (the object appears whole or not at
   all: nothing is left behind by a writer that dies, so :meth:`sweep` has nothing to do);
3. the object's size is read back (HEAD) before ``put`` returns; only then may a row refer to it.

Content addressing makes a repeated put a no-op (the object exists with its size: nothing is
sent again). Errors of the object store (unreachable, refused, wrong credentials) are
:class:`~registers.blobstore.StorageError` with the S3 error code.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tempfile
from typing import IO, BinaryIO, Iterator

from registers.blobstore import (
    CHUNK, SUFFIX, BlobNotFound, StorageError, StoredBlob, _storage_error, check_sha256,
)

SPOOL_IN_MEMORY = 8 * 1024 * 1024
QUARANTINE = "quarantine/"
_KEY = re.compile(r"([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})" + re.escape(SUFFIX))   # after the prefix


class S3BlobStore:
    """PDFs by SHA-256 in one bucket (under ``prefix``); every write checked before it returns."""

    kind = "s3"

    def __init__(self, *, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None,
                 region: str = "us-east-1", client=None, timeout: float = 15.0) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3", endpoint_url=endpoint_url, aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key, region_name=region,
                # at most 2 attempts of 5 + 15 s per call: a put's three calls end within a worker's
                # 120 s, as storage_unavailable rather than a killed worker
                config=Config(connect_timeout=5, read_timeout=timeout, retries={"max_attempts": 2},
                              s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                              response_checksum_validation="when_required"))
        self._s3 = client

    # -- names --------------------------------------------------------------------------------

    def key(self, sha256: str) -> str:
        sha256 = check_sha256(sha256)
        return f"{self.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}{SUFFIX}"

    def _head(self, key: str) -> dict | None:
        try:
            return self._call("look up a document", self._s3.head_object, Bucket=self.bucket, Key=key)
        except _Missing:
            return None

    def exists(self, sha256: str) -> bool:
        return self._head(self.key(sha256)) is not None

    def scan(self) -> Iterator[str]:
        """Every stored SHA-256 (by key; :meth:`verify` checks the content)."""
        paginator = self._s3.get_paginator("list_objects_v2")
        pages = self._call("list the documents", lambda: list(paginator.paginate(
            Bucket=self.bucket, Prefix=self.prefix)))
        for page in pages:
            for item in page.get("Contents", []):
                match = _KEY.fullmatch(item["Key"][len(self.prefix):])
                if match:
                    first, second, sha256 = match.groups()
                    if sha256[:2] == first and sha256[2:4] == second:
                        yield sha256

    # -- reading ------------------------------------------------------------------------------

    def open(self, sha256: str) -> BinaryIO:
        response = self._get(sha256)
        return response["Body"]

    def read(self, sha256: str) -> bytes:
        body = self._get(sha256)["Body"]
        try:
            return self._call("read a document", body.read)
        finally:
            body.close()

    def verifiable(self, sha256: str) -> bytes:
        """What ``verifier.verify`` reads the document from: its bytes (an object store has no file
        to map)."""
        return self.read(sha256)

    def verify(self, sha256: str) -> bool:
        """Whether the object exists and its content still hashes to its name."""
        try:
            body = self._get(sha256)["Body"]
        except BlobNotFound:
            return False
        digest = hashlib.sha256()
        try:
            self._call("read a document", lambda: [digest.update(chunk) for chunk in body.iter_chunks(CHUNK)])
        finally:
            body.close()
        return digest.hexdigest() == sha256

    def _get(self, sha256: str) -> dict:
        try:
            return self._call("read a document", self._s3.get_object, Bucket=self.bucket, Key=self.key(sha256))
        except _Missing:
            raise BlobNotFound(detail={"sha256": sha256}) from None

    # -- writing ------------------------------------------------------------------------------

    def put(self, data: bytes | bytearray | memoryview | os.PathLike | str | IO[bytes]) -> StoredBlob:
        """Store ``data`` (bytes, a path, or a binary file object read in chunks); idempotent.
        Returns once the object is in the bucket with the size sent and a content the server
        checked against its SHA-256."""
        if isinstance(data, (str, os.PathLike)):
            with open(data, "rb") as source:
                return self._put_stream(source)
        if isinstance(data, (bytes, bytearray, memoryview)):
            return self._put_stream(io.BytesIO(bytes(data)))
        if hasattr(data, "read"):
            return self._put_stream(data)
        raise TypeError(f"S3BlobStore.put takes bytes, a path or a binary file, not {type(data).__name__}")

    def _put_stream(self, source: IO[bytes]) -> StoredBlob:
        try:
            return self._spool_and_send(source)
        except OSError as exc:   # the spool file (a full /tmp): the document could not be stored
            raise _storage_error(exc, action="store a document") from exc

    def _spool_and_send(self, source: IO[bytes]) -> StoredBlob:
        digest = hashlib.sha256()
        size = 0
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            while chunk := source.read(CHUNK):
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    raise TypeError("S3BlobStore.put needs a binary file (read() returned text)")
                digest.update(chunk)
                spool.write(chunk)
                size += len(chunk)
            sha256 = digest.hexdigest()
            key = self.key(sha256)
            known = self._head(key)
            if known is not None and known.get("ContentLength") == size:
                # stored before, perhaps an orphan: its time made new, so that no reconciler takes it
                # for an old one while the row that will refer to it commits
                self._call("store a document", self._s3.copy_object, Bucket=self.bucket, Key=key,
                           CopySource={"Bucket": self.bucket, "Key": key}, MetadataDirective="REPLACE",
                           ContentType="application/pdf")
            else:
                spool.seek(0)
                self._call("store a document", self._s3.put_object, Bucket=self.bucket, Key=key, Body=spool,
                           ContentLength=size, ContentType="application/pdf",
                           ChecksumSHA256=base64.b64encode(digest.digest()).decode("ascii"))
                stored = self._head(key)
                if stored is None or stored.get("ContentLength") != size:
                    raise StorageError("The object store did not keep the document whole.",
                                       message_vi="Kho lưu trữ đối tượng không lưu trọn vẹn văn bản.",
                                       detail={"sha256": sha256, "size": size,
                                               "stored": None if stored is None else stored.get("ContentLength")})
        return StoredBlob(sha256=sha256, size=size, path=None)

    # -- recovery -----------------------------------------------------------------------------

    def sweep(self) -> int:
        """Nothing to remove: a single PUT leaves no partial object behind."""
        return 0

    def set_aside(self, sha256: str, *, grace_seconds: float) -> bool:
        """Move an object written more than ``grace_seconds`` ago under ``<prefix>quarantine/``;
        False when it is younger or gone. Its age is judged by the object store's own clock (its
        answer's Date against the object's Last-Modified), so a node whose clock is off cannot take
        an object that is still being recorded."""
        key = self.key(sha256)
        head = self._head(key)
        if head is None:
            return False
        from email.utils import parsedate_to_datetime

        served = head.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        if not served or (parsedate_to_datetime(served) - head["LastModified"]).total_seconds() < grace_seconds:
            return False
        aside = f"{self.prefix}{QUARANTINE}{sha256}{SUFFIX}"
        try:
            self._call("set a document aside", self._s3.copy_object, Bucket=self.bucket, Key=aside,
                       CopySource={"Bucket": self.bucket, "Key": key})
        except _Missing:
            return False                  # another node's reconciler took it first
        self._call("set a document aside", self._s3.delete_object, Bucket=self.bucket, Key=key)
        return True

    def put_back(self, sha256: str) -> None:
        """Undo :meth:`set_aside` (a row referring to the object committed meanwhile)."""
        aside = f"{self.prefix}{QUARANTINE}{sha256}{SUFFIX}"
        try:
            self._call("put a document back", self._s3.copy_object, Bucket=self.bucket, Key=self.key(sha256),
                       CopySource={"Bucket": self.bucket, "Key": aside})
        except _Missing:
            return                        # another reconciler put it back already
        self._call("put a document back", self._s3.delete_object, Bucket=self.bucket, Key=aside)

    # -- errors -------------------------------------------------------------------------------

    def _call(self, action: str, fn, *args, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "")) or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise _Missing() from None
            raise StorageError(detail={"action": action, "s3_error": code,
                                       "reason": str(error.get("Message", ""))[:300]}) from None
        except BotoCoreError as exc:
            raise StorageError(detail={"action": action, "reason": f"{type(exc).__name__}: {exc}"[:300]}) from None


class _Missing(Exception):
    """The object store says the key does not exist."""
