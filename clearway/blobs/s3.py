"""Objects in an S3-compatible bucket (AWS, MinIO, Ceph...), streamed through multipart uploads.

``boto3`` is imported on first use only: it costs a noticeable part of a second, and servers that keep files
on local disk never need it (``pip install clearway[s3]``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from clearway.blobs.base import CHUNK, BlobStore, BlobWriter, OpenBlob

PART_SIZE = 8 * 1024 * 1024  # S3 wants parts of at least 5 MiB (except the last); this bounds memory per upload
_MISSING = ("404", "NoSuchKey", "NotFound")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None

    @classmethod
    def parse(cls, url: str, **options: Any) -> S3Location:
        """``s3://bucket`` or ``s3://bucket/some/prefix``."""
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {url!r}; expected s3://bucket/prefix")
        return cls(bucket=bucket, prefix=prefix.strip("/"), **options)


class S3BlobStore(BlobStore):
    def __init__(self, location: S3Location) -> None:
        self.location = location
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        import boto3
        from botocore.config import Config

        where = self.location
        config = Config(
            signature_version="s3v4",
            retries={"max_attempts": 3, "mode": "standard"},
            # Path-style addressing for self-hosted endpoints, whose buckets rarely have DNS names.
            s3={"addressing_style": "path" if where.endpoint_url else "auto"},
        )
        return boto3.client(
            "s3",
            endpoint_url=where.endpoint_url,
            region_name=where.region,
            aws_access_key_id=where.access_key_id,
            aws_secret_access_key=where.secret_access_key,
            config=config,
        )

    def object_key(self, key: str) -> str:
        return f"{self.location.prefix}/{key}" if self.location.prefix else key

    def writer(self, key: str) -> BlobWriter:
        return _S3Writer(self, self.object_key(key))

    def open(self, key: str) -> OpenBlob | None:
        head = self._head(key)
        if head is None:
            return None
        return _S3Blob(self, self.object_key(key), head["ContentLength"], head["ETag"])

    def size(self, key: str) -> int | None:
        head = self._head(key)
        return None if head is None else int(head["ContentLength"])

    def delete(self, key: str) -> bool:
        if self._head(key) is None:
            return False
        self.client.delete_object(Bucket=self.location.bucket, Key=self.object_key(key))
        return True

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.location.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise


class _S3Blob(OpenBlob):
    def __init__(self, store: S3BlobStore, object_key: str, size: int, etag: str) -> None:
        self._store = store
        self._key = object_key
        self._etag = etag
        self.size = int(size)

    def chunks(self, start: int, stop: int) -> Iterator[bytes]:
        if stop <= start:
            return
        response = self._store.client.get_object(
            Bucket=self._store.location.bucket,
            Key=self._key,
            Range=f"bytes={start}-{stop - 1}",
            IfMatch=self._etag,  # the version that was opened, not one written since
        )
        body = response["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def close(self) -> None:
        pass


class _S3Writer(BlobWriter):
    """Buffers up to one part; small objects are a single PUT, larger ones a multipart upload."""

    def __init__(self, store: S3BlobStore, object_key: str) -> None:
        self._store = store
        self._key = object_key
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._size = 0

    def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        self._size += len(chunk)
        while len(self._buffer) >= PART_SIZE:
            self._send_part(bytes(self._buffer[:PART_SIZE]))
            del self._buffer[:PART_SIZE]

    def commit(self) -> int:
        client, bucket = self._store.client, self._store.location.bucket
        if self._upload_id is None:
            client.put_object(Bucket=bucket, Key=self._key, Body=bytes(self._buffer))
        else:
            if self._buffer:
                self._send_part(bytes(self._buffer))
            client.complete_multipart_upload(
                Bucket=bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )
            self._upload_id = None
        self._buffer.clear()
        return self._size

    def abort(self) -> None:
        self._buffer.clear()
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            self._store.client.abort_multipart_upload(
                Bucket=self._store.location.bucket, Key=self._key, UploadId=upload_id
            )

    def _send_part(self, data: bytes) -> None:
        client, bucket = self._store.client, self._store.location.bucket
        if self._upload_id is None:
            self._upload_id = client.create_multipart_upload(Bucket=bucket, Key=self._key)["UploadId"]
        number = len(self._parts) + 1
        response = client.upload_part(
            Bucket=bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=data
        )
        self._parts.append({"ETag": response["ETag"], "PartNumber": number})
