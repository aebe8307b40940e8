"""Typed settings, read from ``CLEARWAY_*`` environment variables."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLEARWAY_", extra="ignore")

    data_dir: Path = Field(default=Path("clearway-data"), description="Where the database and files live.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in the data dir.")
    host: str = "127.0.0.1"
    port: int = 8008
    token_ttl_sec: int = Field(default=30 * 24 * 3600, description="Lifetime of tokens from auth.login.")
    max_request_bytes: int = Field(default=32 * 1024 * 1024, description="Largest API request body.")
    max_events_per_batch: int = Field(default=100_000, description="Most events in one events.add_batch.")
    max_page_size: int = Field(default=10_000, description="Largest page a get_all may ask for.")
    max_upload_bytes: int = Field(default=10 * 1024**3, description="Largest single file upload.")
    blob_url: str | None = Field(
        default=None,
        description="Where uploaded files are kept: s3://bucket/prefix, or a directory. Default: <data dir>/files.",
    )
    s3_endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (MinIO, Ceph...).")
    s3_region: str | None = Field(default=None, description="S3 region.")
    s3_access_key_id: str | None = Field(default=None, description="S3 access key; default: boto3's usual lookup.")
    s3_secret_access_key: str | None = Field(default=None, description="S3 secret key.")
    token_secret: str | None = Field(
        default=None,
        description="JWT signing secret; set the same value on every replica. Default: kept in the data dir.",
    )
    key_cache_sec: float = Field(
        default=2.0, description="How long a verified key stays cached; a revoked key's tokens stop within this."
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'clearway.db').resolve()}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @cached_property
    def signing_secret(self) -> str:
        """The JWT signing secret: the setting, or one created once per data dir and kept beside the database."""
        if self.token_secret:
            return self.token_secret
        path = self.data_dir / "token-secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
