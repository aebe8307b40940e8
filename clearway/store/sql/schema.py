"""The tables. Documents keep the full ClearML shape in ``doc``; the columns beside it are what we filter,
order and join on, and are always derived from the document when it is written."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Json = JSON().with_variant(JSONB(), "postgresql")
Id = String(32)
Timestamp = DateTime(timezone=True)

organizations = Table(
    "organizations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created", Timestamp, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("org_id", Id, ForeignKey("organizations.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=True),
    Column("created", Timestamp, nullable=False),
    UniqueConstraint("org_id", "name"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("access_key", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False, index=True),
    Column("secret_hash", Text, nullable=False),
    Column("created", Timestamp, nullable=False),
    Column("revoked", Timestamp, nullable=True),
)


def _document_columns() -> list[Column]:
    """Columns every document table has."""
    return [
        Column("id", Id, primary_key=True),
        Column("org_id", Id, ForeignKey("organizations.id"), nullable=False),
        Column("owner_id", Id, ForeignKey("users.id"), nullable=False),
        Column("name", String(500), nullable=False),
        Column("created", Timestamp, nullable=False),
        Column("last_update", Timestamp, nullable=False),
        Column("tags", Json, nullable=False),
        Column("system_tags", Json, nullable=False),
        Column("doc", Json, nullable=False),
    ]


projects = Table(
    "projects",
    metadata,
    *_document_columns(),
    # Names are unique per owner, so that one user's private project never blocks another's.
    UniqueConstraint("org_id", "owner_id", "name"),
)

tasks = Table(
    "tasks",
    metadata,
    *_document_columns(),
    Column("project", Id, ForeignKey("projects.id", ondelete="SET NULL"), nullable=True),
    Column("type", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("parent", Id, nullable=True),
    Column("started", Timestamp, nullable=True),
    Column("completed", Timestamp, nullable=True),
    Column("last_iteration", BigInteger, nullable=True),
    Index("ix_tasks_org_project_last_update", "org_id", "project", "last_update"),
    Index("ix_tasks_org_last_update", "org_id", "last_update"),
    Index("ix_tasks_org_created", "org_id", "created"),
    Index("ix_tasks_org_status", "org_id", "status"),
)

scalar_events = Table(
    "scalar_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("task", Id, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("metric", String(255), nullable=False),
    Column("variant", String(255), nullable=False),
    Column("iter", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_scalar_events_task_metric_variant_iter", "task", "metric", "variant", "iter"),
)

log_events = Table(
    "log_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("task", Id, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("level", String(32), nullable=False),
    Column("worker", String(255), nullable=False),
    Column("msg", Text, nullable=False),
    Index("ix_log_events_task_timestamp_id", "task", "timestamp", "id"),
)

# Plots, debug images and any other event type: kept whole in ``doc``.
other_events = Table(
    "other_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("task", Id, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("metric", String(255), nullable=False),
    Column("variant", String(255), nullable=False),
    Column("iter", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("doc", Json, nullable=False),
    Index("ix_other_events_task_type_metric_variant_iter", "task", "type", "metric", "variant", "iter"),
)

models = Table(
    "models",
    metadata,
    *_document_columns(),
    Column("project", Id, ForeignKey("projects.id", ondelete="SET NULL"), nullable=True),
    Column("task", Id, nullable=True),  # lineage survives the task's deletion
    Column("framework", String(128), nullable=True),
    Column("ready", Boolean, nullable=False),
    Column("uri", Text, nullable=True),
    Index("ix_models_org_project_created", "org_id", "project", "created"),
    Index("ix_models_org_task", "org_id", "task"),
)

# Who owns each stored file: the file server's access rules read this, never the store's listing.
blobs = Table(
    "blobs",
    metadata,
    Column("path", String(1024), primary_key=True),
    Column("org_id", Id, ForeignKey("organizations.id"), nullable=False),
    Column("owner_id", Id, ForeignKey("users.id"), nullable=False),
    Column("size", BigInteger, nullable=True),  # None while the first upload is in flight
    Column("content_type", String(255), nullable=True),
    Column("created", Timestamp, nullable=False),
    Column("updated", Timestamp, nullable=False),
    Index("ix_blobs_org_owner", "org_id", "owner_id"),
)
