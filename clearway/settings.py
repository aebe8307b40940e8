"""Typed settings, read from ``CLEARWAY_*`` environment variables."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# A list given in the environment as comma-separated words: CLEARWAY_TRUSTED_PROXIES=10.0.0.0/8,127.0.0.1/32
CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLEARWAY_", extra="ignore")

    data_dir: Path = Field(default=Path("clearway-data"), description="Where the database and files live.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in the data dir.")
    host: str = "127.0.0.1"
    port: int = 8008
    workers: int = Field(default=1, ge=1, description="Server processes sharing the port (clearway server --workers).")
    keep_alive_sec: int = Field(
        default=75,
        gt=0,
        description="How long an idle kept-alive connection stays open: longer than a load balancer's idle timeout, "
        "and than agents' polling interval.",
    )
    log_format: Literal["text", "json"] = Field(default="text", description="Log lines as text or JSON objects.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="Least log level.")
    access_log: bool = Field(default=True, description="Log one line per request (method, path, status, time).")
    metrics_token: str | None = Field(default=None, description="Bearer token that may read /metrics.")
    metrics_allow: CommaList = Field(default=[], description="CIDRs that may read /metrics without the token.")
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="SQLite's synchronous mode: FULL keeps acknowledged writes across an OS crash, NORMAL may lose "
        "the last ones (never corrupting the database) and writes faster.",
    )
    token_ttl_sec: int = Field(default=30 * 24 * 3600, description="Lifetime of tokens from auth.login.")
    acting_token_ttl_sec: int = Field(
        default=70 * 60,
        gt=0,
        description="Lifetime of a token an agent gets to act for a task's owner (the SDK renews a token an hour "
        "before it expires, so 70 minutes means a renewal, with the grant checked again, every 10 minutes).",
    )
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
    worker_timeout_sec: int = Field(
        default=600, gt=0, description="A worker silent this long is removed, and the task it ran is marked failed."
    )
    task_timeout_sec: int = Field(
        default=7200,
        gt=0,
        description="A running task not pinged or updated this long is marked failed; so is a task an agent took "
        "from a queue but never started.",
    )
    dispatch_report_stale_sec: float = Field(
        default=60.0,
        gt=0,
        description="A worker whose last status report is older than this counts as unknown: it gets only tasks "
        "that declare no needs.",
    )
    dispatch_usage_half_life_sec: float = Field(
        default=3600.0, gt=0, description="Fair share: GPU-seconds used count half as much after each half-life."
    )
    dispatch_gpu_busy_percent: float = Field(
        default=50.0, gt=0, le=100, description="A GPU reported busier than this is not offered to waiting tasks."
    )
    watchdog_interval_sec: float = Field(
        default=30.0, ge=0, description="How often the watchdog looks for dead workers and tasks; 0 turns it off."
    )
    stats_retention_days: int = Field(
        default=30, gt=0, description="How long worker machine statistics and queue metrics are kept."
    )
    trusted_proxies: CommaList = Field(
        default=[], description="CIDRs of reverse proxies whose X-Forwarded-For is believed (comma-separated)."
    )
    login_max_failures_per_key: int = Field(
        default=10,
        description="Failed logins with one key or user name from one address, within the window, before refusing it "
        "from there.",
    )
    login_max_failures_per_address: int = Field(
        default=50, description="Failed logins from one client address, within the window, before refusing it."
    )
    login_failure_window_sec: float = Field(default=300.0, description="The window over which failures count.")
    redis_url: str | None = Field(
        default=None,
        description="redis://HOST:PORT/DB: keep the counters replicas share (login throttle, rate limits) in Redis "
        "instead of the database.",
    )
    oidc_issuer: str | None = Field(
        default=None, description="OpenID Connect issuer URL (e.g. a Keycloak realm) whose access tokens we accept."
    )
    oidc_audience: str | None = Field(default=None, description="The audience OIDC tokens must carry (required).")
    oidc_username_claim: str = Field(default="preferred_username", description="Claim holding the user name.")
    oidc_roles_claim: str = Field(
        default="realm_access.roles", description="Dotted path of the claim listing the user's roles."
    )
    oidc_admin_roles: CommaList = Field(
        default=["admin"], description="Roles (comma-separated) that make an OIDC user an admin; others are users."
    )
    oidc_create_users: bool = Field(default=False, description="Create unknown OIDC users on first use.")
    oidc_organization: str = Field(default="default", description="Organisation of OIDC users.")
    oidc_retry_sec: float = Field(
        default=30.0, gt=0, description="After a failed fetch of the issuer's keys, wait this long before trying again."
    )
    oidc_client_id: str | None = Field(
        default=None, description="The web UI's OIDC client id: with it, the login page offers single sign-on."
    )
    oidc_client_secret: str | None = Field(
        default=None, description="The web UI's OIDC client secret, for a confidential client (PKCE is always used)."
    )
    web_session_ttl_sec: int = Field(
        default=12 * 3600, gt=0, description="Lifetime of a web UI session (its cookie); logout ends it at once."
    )
    delete_task_files: bool = Field(
        default=False,
        description="tasks.delete and tasks.reset with delete_external_artifacts also delete the task's files kept by "
        "this server (ClearML's async_urls_delete). Off by default: the SDK deletes them itself after tasks.delete.",
    )
    record_responses_dir: Path | None = Field(
        default=None,
        description="For tests: append every ClearML API answer to a JSON-lines file in this directory, so that a "
        "test can check them against the SDK's response schemas.",
    )
    webhook_allow_private: bool = Field(
        default=False, description="Let webhooks go to private, loopback and link-local addresses (refused: SSRF)."
    )
    webhook_timeout_sec: float = Field(default=10.0, gt=0, description="How long one webhook attempt may take.")
    webhook_concurrency: int = Field(
        default=4, ge=1, description="Most webhook requests in flight to one URL, per server process."
    )
    notify_retry_hours: float = Field(
        default=24.0, gt=0, description="How long a failing delivery is retried before it becomes a dead letter."
    )
    notify_retry_base_sec: float = Field(
        default=5.0, gt=0, description="The first retry's delay; each later one doubles it, up to an hour."
    )
    notify_retention_days: int = Field(
        default=7, gt=0, description="How long events (the live stream's history) and finished deliveries are kept."
    )
    smtp_url: str | None = Field(
        default=None, description="E-mail notifications: smtp://[user:pass@]host[:port], smtp+starttls:// or smtps://."
    )
    smtp_from: str = Field(default="clearway@localhost", description="The sender address of notification e-mails.")
    email_digest_sec: float = Field(
        default=60.0, ge=0, description="E-mails wait this long, so that a burst of events becomes one mail."
    )
    mqtt_url: str | None = Field(
        default=None, description="MQTT notifications: mqtt://[user:pass@]host[:port] or mqtts://."
    )
    queue_stall_minutes: float = Field(
        default=15.0, gt=0, description="A queue whose tasks wait this long with no live worker is announced stalled."
    )
    gateway_connect_timeout_sec: float = Field(
        default=2.0, gt=0, description="The gateway's connect timeout to a serving machine: past it, a 503."
    )
    gateway_read_timeout_sec: float = Field(
        default=30.0, gt=0, description="How long the gateway waits for a serving machine's answer: past it, a 504."
    )
    gateway_failures_before_down: int = Field(
        default=3, ge=1, description="Failed calls in a row after which a serving machine is marked down."
    )
    gateway_probe_interval_sec: float = Field(
        default=15.0, gt=0, description="How long a machine marked down is left alone before it is tried again."
    )
    gateway_max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Largest request body the gateway takes (a 413 past it)."
    )
    gateway_pool_size: int = Field(
        default=100, ge=1, description="Most connections the gateway keeps open to each serving machine."
    )
    gateway_token_rate_per_minute: int = Field(
        default=600, ge=1, description="Default calls per minute of a new gateway token."
    )
    gateway_token_daily_runs: int = Field(
        default=100, ge=0, description="Default enqueued runs per day (UTC) of a new gateway token."
    )
    gateway_log_retention_days: int = Field(default=30, gt=0, description="How long the gateway's request log is kept.")
    gateway_log_flush_sec: float = Field(
        default=0.5, gt=0, description="How often the gateway writes its buffered request log to the database."
    )

    @field_validator("trusted_proxies", "oidc_admin_roles", "metrics_allow", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [word.strip() for word in value.split(",") if word.strip()]
        return value

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
