"""gateway: serving machines, endpoints, enqueue templates, tokens, runs and the request log

Revision ID: 0003
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "gateway_records",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("parent", sa.String(length=64), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.DateTime(timezone=True), nullable=True),
        sa.Column("doc", JSON, nullable=False),
        sa.Column("health", sa.String(length=16), nullable=False),
        sa.Column("health_changed", sa.DateTime(timezone=True), nullable=True),
        sa.Column("health_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_gateway_records_org_id_organizations")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_gateway_records_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_records")),
    )
    op.create_index("ix_gateway_records_org_id_kind", "gateway_records", ["org_id", "kind"], unique=False)
    op.create_index("ix_gateway_records_parent", "gateway_records", ["parent"], unique=False)
    op.create_table(
        "gateway_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("daily_runs", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_gateway_tokens_org_id_organizations")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_gateway_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_gateway_tokens_digest")),
    )
    op.create_index("ix_gateway_tokens_org_id_user_id", "gateway_tokens", ["org_id", "user_id"], unique=False)
    op.create_table(
        "gateway_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("caller_id", sa.String(length=32), nullable=False),
        sa.Column("token_id", sa.String(length=64), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_runs")),
    )
    op.create_index("ix_gateway_runs_token_id_created", "gateway_runs", ["token_id", "created"], unique=False)
    op.create_table(
        "gateway_log",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=True),
        sa.Column("caller_id", sa.String(length=32), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=True),
        sa.Column("endpoint", sa.String(length=300), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("bytes_in", sa.BigInteger(), nullable=False),
        sa.Column("bytes_out", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_log")),
    )
    op.create_index("ix_gateway_log_org_id_at", "gateway_log", ["org_id", "at"], unique=False)
    op.create_index("ix_gateway_log_org_id_minute", "gateway_log", ["org_id", "minute"], unique=False)
    op.create_index("ix_gateway_log_at", "gateway_log", ["at"], unique=False)


def downgrade() -> None:
    op.drop_table("gateway_log")
    op.drop_table("gateway_runs")
    op.drop_table("gateway_tokens")
    op.drop_table("gateway_records")
