"""The file store: local directory or S3-compatible bucket, chosen by ``CLEARWAY_BLOB_URL``."""

from __future__ import annotations

from pathlib import Path

from clearway.blobs.base import BlobStore
from clearway.settings import Settings


def open_blob_store(settings: Settings) -> BlobStore:
    """``s3://bucket/prefix`` → S3; a path or ``file://`` URL → that directory; unset → ``<data dir>/files``."""
    url = settings.blob_url
    if url and url.startswith("s3://"):
        from clearway.blobs.s3 import S3BlobStore, S3Location

        return S3BlobStore(
            S3Location.parse(
                url,
                endpoint_url=settings.s3_endpoint_url,
                region=settings.s3_region,
                access_key_id=settings.s3_access_key_id,
                secret_access_key=settings.s3_secret_access_key,
            )
        )
    from clearway.blobs.local import LocalBlobStore

    return LocalBlobStore(Path(url.removeprefix("file://")) if url else settings.files_dir)
