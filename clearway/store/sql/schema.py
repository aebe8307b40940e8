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
    text,
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
    # Names are unique across the server: one name is one user at password login, on the command line and for
    # single sign-on, whatever the organisation.
    UniqueConstraint("name"),
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
    # The agent that took the task from a queue, when, and the worker that reported running it (written by the
    # queue and the workers, never derived from ``doc``). The agent holds the task while the task is queued or in
    # progress and that worker (or, before any reported it, one of the agent's workers) is alive.
    Column("held_by", Id, ForeignKey("users.id"), nullable=True, index=True),
    Column("held_since", Timestamp, nullable=True),
    Column("held_worker", String(255), nullable=True),
    Index("ix_tasks_org_project_last_update", "org_id", "project", "last_update"),
    Index("ix_tasks_org_project_name", "org_id", "project", "name"),  # a project's tasks by name: 40 ms -> 3 ms
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

# Every stored file: the path clients use is one user's (the namespace: the owner of the task whose folder it is
# in, else its uploader), so that paths never collide across users or organisations; the file server's access
# rules read this, never the store's listing.
blobs = Table(
    "blobs",
    metadata,
    Column("storage_key", String(1100), primary_key=True),  # where the bytes are in the file store
    Column("org_id", Id, ForeignKey("organizations.id"), nullable=False),
    Column("namespace", Id, ForeignKey("users.id"), nullable=False),
    Column("path", String(1024), nullable=False),
    Column("owner_id", Id, ForeignKey("users.id"), nullable=False),  # who uploaded it last
    Column("size", BigInteger, nullable=True),  # None while the first upload is in flight
    Column("content_type", String(255), nullable=True),
    Column("task", Id, nullable=True),  # the task the file belongs to (from its path): readers of the task read it
    Column("created", Timestamp, nullable=False),
    Column("updated", Timestamp, nullable=False),
    UniqueConstraint("org_id", "namespace", "path"),
    Index("ix_blobs_org_owner", "org_id", "owner_id"),
    Index("ix_blobs_org_path", "org_id", "path"),
    Index("ix_blobs_task", "task"),
)

# Queues are shared by the organisation, so names are unique per organisation.
queues = Table(
    "queues",
    metadata,
    *_document_columns(),
    UniqueConstraint("org_id", "name"),
)

# The tasks waiting in each queue, in the order agents take them. One row per task: a task waits in at most one
# queue. Taking the next task is a row lock and a delete (FOR UPDATE SKIP LOCKED on PostgreSQL).
queue_entries = Table(
    "queue_entries",
    metadata,
    Column("task", Id, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("queue", Id, ForeignKey("queues.id", ondelete="CASCADE"), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("added", Timestamp, nullable=False),
    # What the task needs (copied from its user properties and the queue's defaults when it is enqueued), whose it
    # is, and why it waits when the scheduler says so (see clearway/domain/scheduling).
    Column("owner_id", Id, nullable=True),
    Column("gpus", Integer, nullable=False, server_default="0"),
    Column("gpu_memory_gb", Float, nullable=False, server_default="0"),
    Column("memory_gb", Float, nullable=False, server_default="0"),
    Column("rank", Integer, nullable=False, server_default="0"),  # minus the task's priority: ascending order
    Column("reason", String(500), nullable=True),
    Index("ix_queue_entries_queue_position", "queue", "position"),
    Index("ix_queue_entries_queue_owner_position", "queue", "owner_id", "position"),
    Index("ix_queue_entries_queue_owner_rank", "queue", "owner_id", "rank", "position"),
)

# A queue's scheduling policy (``fifo`` or ``fair``), whether priorities count, and the needs of tasks that declare
# none. A queue without a row is fair, without priorities or defaults.
dispatch_policies = Table(
    "dispatch_policies",
    metadata,
    Column("queue", Id, ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", Id, nullable=False),
    Column("policy", String(8), nullable=False),
    Column("allow_priority", Boolean, nullable=False),
    Column("gpus", Integer, nullable=False),
    Column("gpu_memory_gb", Float, nullable=False),
    Column("memory_gb", Float, nullable=False),
)

# Quotas and fair-share weights of users and groups. Taking a task for a user locks the rows of the user and of
# their groups that have one, so concurrent agents cannot both pass the same quota.
dispatch_quotas = Table(
    "dispatch_quotas",
    metadata,
    Column("org_id", Id, primary_key=True),
    Column("subject_type", String(8), primary_key=True),  # "user" or "group"
    Column("subject_id", Id, primary_key=True),
    Column("max_running", Integer, nullable=True),
    Column("max_gpus", Integer, nullable=True),
    Column("weight", Float, nullable=False),
)

# What each dispatched task holds: open (``ended`` null) while the task is taken or running; closed when the
# scheduler sees it ended, and then folded into its owner's decayed usage (dispatch_usage) and kept a while for
# the mean run time that ``explain`` estimates start times with.
dispatch_grants = Table(
    "dispatch_grants",
    metadata,
    Column("task", Id, primary_key=True),
    Column("org_id", Id, nullable=False),
    Column("owner_id", Id, nullable=False),
    Column("queue", Id, nullable=False),
    Column("gpus", Integer, nullable=False),
    Column("started", Timestamp, nullable=False),
    Column("ended", Timestamp, nullable=True),
    Index("ix_dispatch_grants_org_id_ended", "org_id", "ended"),
)

# Each owner's recent usage: GPU-seconds of ended tasks, halved every half-life, as of ``at``.
dispatch_usage = Table(
    "dispatch_usage",
    metadata,
    Column("org_id", Id, primary_key=True),
    Column("owner_id", Id, primary_key=True),
    Column("gpu_seconds", Float, nullable=False),
    Column("at", Timestamp, nullable=False),
)

# A queue's length and mean waiting time, written whenever its entries change (for charts).
queue_metrics = Table(
    "queue_metrics",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("queue", Id, ForeignKey("queues.id", ondelete="CASCADE"), nullable=False),
    Column("timestamp", Timestamp, nullable=False),
    Column("length", Integer, nullable=False),
    Column("avg_wait_sec", Float, nullable=False),
    Index("ix_queue_metrics_queue_timestamp", "queue", "timestamp"),
)

# Agents' worker processes, by the worker id they chose (unique in an organisation).
workers = Table(
    "workers",
    metadata,
    Column("org_id", Id, ForeignKey("organizations.id"), primary_key=True),
    Column("id", String(255), primary_key=True),
    Column("owner_id", Id, ForeignKey("users.id"), nullable=False),
    Column("last_seen", Timestamp, nullable=False),
    Column("expires", Timestamp, nullable=False),
    Column("task", Id, nullable=True),  # the task it reported running
    Column("doc", Json, nullable=False),
    Index("ix_workers_expires", "expires"),
)

# One row per machine-statistics report: the numbers a chart needs, and every device's readings in ``devices``.
worker_stats = Table(
    "worker_stats",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("org_id", Id, ForeignKey("organizations.id"), nullable=False),
    Column("worker", String(255), nullable=False),
    Column("timestamp", Timestamp, nullable=False),
    Column("task", Id, nullable=True),
    Column("cpu_usage", Float, nullable=True),  # percent, mean over cores
    Column("memory_used", Float, nullable=True),  # MB
    Column("memory_free", Float, nullable=True),  # MB
    Column("gpu_usage", Float, nullable=True),  # percent, mean over GPUs
    Column("gpu_memory_used", Float, nullable=True),  # MB, summed over GPUs
    Column("gpu_memory_free", Float, nullable=True),  # MB, summed over GPUs
    Column("devices", Json, nullable=False),  # {metric: [per core or per GPU values]} and the other scalars
    Index("ix_worker_stats_org_worker_timestamp", "org_id", "worker", "timestamp"),
    Index("ix_worker_stats_timestamp", "timestamp"),
)

# Groups of users in an organisation: projects and queues are shared with a group as with each member.
groups = Table(
    "groups",
    metadata,
    Column("id", Id, primary_key=True),
    Column("org_id", Id, ForeignKey("organizations.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created", Timestamp, nullable=False),
    UniqueConstraint("org_id", "name"),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_group_members_user_id", "user_id"),
)

# A project shared with a user or a group (``grantee_type``), read-only or read-write; it covers the subprojects.
project_shares = Table(
    "project_shares",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("grantee_type", String(8), primary_key=True),  # "user" or "group"
    Column("grantee_id", Id, primary_key=True),
    Column("mode", String(8), nullable=False),  # "read" or "write"
    Column("created", Timestamp, nullable=False),
    Column("created_by", Id, nullable=True),
    Index("ix_project_shares_grantee", "grantee_type", "grantee_id"),
)

# Client address allowlists: per organisation (subject ""), per role (the role) and per user (the user id).
ip_allowlists = Table(
    "ip_allowlists",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("org_id", Id, ForeignKey("organizations.id"), nullable=False),
    Column("level", String(8), nullable=False),  # "org", "role" or "user"
    Column("subject", String(64), nullable=False),
    Column("cidr", String(64), nullable=False),
    UniqueConstraint("org_id", "level", "subject", "cidr"),
)

# Who did what, when, from where: logins and their failures, denials, changes to users, keys, groups and shares.
# ``org_id`` is None when the organisation is unknown (a login with a key that does not exist).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("at", Timestamp, nullable=False),
    Column("org_id", Id, nullable=True),
    Column("actor_id", Id, nullable=True),
    Column("actor_name", String(200), nullable=True),
    Column("client_ip", String(64), nullable=True),
    Column("action", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("target", String(500), nullable=True),
    Column("detail", Json, nullable=False),
    Index("ix_audit_log_org_id_at", "org_id", "at"),
    Index("ix_audit_log_org_id_action_at", "org_id", "action", "at"),
    Index("ix_audit_log_org_id_actor_id_at", "org_id", "actor_id", "at"),
)

# The watchdog looks for running tasks that stopped updating, in every organisation.
Index("ix_tasks_status_last_update", tasks.c.status, tasks.c.last_update)

# Notifications (clearway/notify). The outbox: one row per domain event, written in the transaction of the change
# it describes. ``position`` is set when the event is fanned out, in commit order (see store/sql/outbox.py): the
# live stream reads events by position, and resumes from one (Last-Event-ID).
notify_outbox = Table(
    "notify_outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", Id, nullable=False, unique=True),  # the public id every message carries
    Column("position", BigInteger, nullable=True, unique=True),
    Column("org_id", Id, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("subject_type", String(16), nullable=False),  # task, worker, queue, machine, security
    Column("subject_id", String(255), nullable=True),
    Column("owner_id", Id, nullable=True),  # the task's owner
    Column("project_id", Id, nullable=True),  # the task's project
    Column("at", Timestamp, nullable=False),
    Column("data", Json, nullable=False),
    Index(
        "ix_notify_outbox_unsequenced",
        "id",
        sqlite_where=text("position IS NULL"),
        postgresql_where=text("position IS NULL"),
    ),
    Index("ix_notify_outbox_at", "at"),
)

# The last position given out: one row, locked by whoever sequences events, so positions commit in order.
notify_sequence = Table(
    "notify_sequence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last", BigInteger, nullable=False),
)

# A user's rule: which events (``kinds``, and for task events ``scope``, ``projects`` or ``tasks``) go to which
# channel (webhook, email, mqtt) and ``target`` (URL, address).
notify_subscriptions = Table(
    "notify_subscriptions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("org_id", Id, ForeignKey("organizations.id"), nullable=False),
    Column("owner_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("doc", Json, nullable=False),  # kinds, scope, projects, tasks, channel, target, description, created
    Column("secret", String(128), nullable=True),  # a webhook's signing secret
    Column("enabled", Boolean, nullable=False),
    Index("ix_notify_subscriptions_org_id_enabled", "org_id", "enabled"),
    Index("ix_notify_subscriptions_owner_id", "owner_id"),
)

# One event for one subscription's channel and target: pending until delivered, or dead after the retry period.
notify_deliveries = Table(
    "notify_deliveries",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("event", BigInteger, ForeignKey("notify_outbox.id", ondelete="CASCADE"), nullable=False),
    Column("subscription_id", Id, ForeignKey("notify_subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("org_id", Id, nullable=False),
    Column("owner_id", Id, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("target", String(2048), nullable=False),
    Column("state", String(16), nullable=False),  # pending, delivered, dead
    Column("attempts", Integer, nullable=False),
    Column("created", Timestamp, nullable=False),
    Column("next_attempt", Timestamp, nullable=False),
    Column("give_up_at", Timestamp, nullable=False),
    Column("lease_until", Timestamp, nullable=True),  # being delivered by some process until then
    Column("finished", Timestamp, nullable=True),
    Column("last_error", String(1000), nullable=True),
    UniqueConstraint("event", "subscription_id"),
    Index("ix_notify_deliveries_state_next_attempt", "state", "next_attempt"),
    Index("ix_notify_deliveries_owner_id_state", "owner_id", "state"),
    Index("ix_notify_deliveries_subscription_id", "subscription_id"),
)

# Conditions that are announced once when they begin (a queue waiting with no live worker): one row while it lasts.
notify_conditions = Table(
    "notify_conditions",
    metadata,
    Column("org_id", Id, primary_key=True),
    Column("key", String(300), primary_key=True),
    Column("since", Timestamp, nullable=False),
)

# Counted events (failed logins, rate-limited calls) shared by every replica: one row per event, kept until
# ``expires`` (its window's end), so a count over a sliding window is a range scan of one key.
rate_events = Table(
    "rate_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),
    Column("at", Float, nullable=False),  # seconds since the epoch
    Column("expires", Float, nullable=False),
    Index("ix_rate_events_key_at", "key", "at"),
    Index("ix_rate_events_expires", "expires"),
)

# Web UI sessions (clearway/web): the cookie carries a random token, the row only its SHA-256; a row ends at
# ``expires`` or when revoked (logout), whichever comes first.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("password", String(16), nullable=True),  # the user's password fingerprint at login: a change ends it
    Column("created", Timestamp, nullable=False),
    Column("expires", Timestamp, nullable=False),
    Column("revoked", Boolean, nullable=False, server_default=text("false")),
    Index("ix_web_sessions_user_id", "user_id"),
    Index("ix_web_sessions_expires", "expires"),
)

# The gateway (clearway/gateway). Its records: serving machines, endpoints on them and enqueue templates, each with
# a random public id (never derived from a task id) and revocable; ``doc`` holds what the kind needs (name, url,
# serving task, endpoint name, task, queue, params, callers). A machine's health is kept beside it, shared by every
# replica. Endpoints name their machine in ``parent``.
gateway_records = Table(
    "gateway_records",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # machine, endpoint, template
    Column("org_id", Id, ForeignKey("organizations.id"), nullable=False),
    Column("owner_id", Id, ForeignKey("users.id"), nullable=False),
    Column("parent", String(64), nullable=True),
    Column("created", Timestamp, nullable=False),
    Column("revoked", Timestamp, nullable=True),
    Column("doc", Json, nullable=False),
    Column("health", String(16), nullable=False),  # up, down, unknown (machines)
    Column("health_changed", Timestamp, nullable=True),
    Column("health_reason", String(500), nullable=True),
    Index("ix_gateway_records_org_id_kind", "org_id", "kind"),
    Index("ix_gateway_records_parent", "parent"),
)

# Tokens applications call the gateway with: only a digest of each is kept. A token acts as its user, on the
# gateway's routes only, within ``rate_per_minute`` calls and ``daily_runs`` enqueued runs.
gateway_tokens = Table(
    "gateway_tokens",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("org_id", Id, ForeignKey("organizations.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("rate_per_minute", Integer, nullable=False),
    Column("daily_runs", Integer, nullable=False),
    Column("created", Timestamp, nullable=False),
    Column("expires", Timestamp, nullable=True),
    Column("revoked", Timestamp, nullable=True),
    Index("ix_gateway_tokens_org_id_user_id", "org_id", "user_id"),
)

# A run: one clone of a template's task, enqueued for a caller. Its public id is opaque (not the task id).
gateway_runs = Table(
    "gateway_runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", Id, nullable=False),
    Column("template_id", String(64), nullable=False),
    Column("task_id", Id, nullable=False),
    Column("owner_id", Id, nullable=False),  # the template's owner, who owns the clone
    Column("caller_id", Id, nullable=False),
    Column("token_id", String(64), nullable=True),  # the gateway token it was asked with (its daily quota)
    Column("created", Timestamp, nullable=False),
    Index("ix_gateway_runs_token_id_created", "token_id", "created"),
)

# Every call through the gateway: never a token nor a parameter value. ``minute`` (epoch minutes) is what the
# trends group by on every database.
gateway_log = Table(
    "gateway_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("at", Timestamp, nullable=False),
    Column("minute", BigInteger, nullable=False),
    Column("org_id", Id, nullable=True),  # None: the caller was not identified
    Column("caller_id", Id, nullable=True),
    Column("client_ip", String(64), nullable=True),
    Column("kind", String(16), nullable=False),  # ondemand, enqueue
    Column("record_id", String(64), nullable=True),
    Column("endpoint", String(300), nullable=True),
    Column("status", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("bytes_in", BigInteger, nullable=False),
    Column("bytes_out", BigInteger, nullable=False),
    Column("error", String(500), nullable=True),
    Index("ix_gateway_log_org_id_at", "org_id", "at"),
    Index("ix_gateway_log_org_id_minute", "org_id", "minute"),
    Index("ix_gateway_log_at", "at"),
)
