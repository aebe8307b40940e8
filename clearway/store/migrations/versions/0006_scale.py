"""scale-out: counters shared by replicas (login throttle, rate limits)

Revision ID: 0006
Revises: 0008
"""

from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('expires', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_events'))
    )
    op.create_index('ix_rate_events_key_at', 'rate_events', ['key', 'at'], unique=False)
    op.create_index('ix_rate_events_expires', 'rate_events', ['expires'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_rate_events_expires', table_name='rate_events')
    op.drop_index('ix_rate_events_key_at', table_name='rate_events')
    op.drop_table('rate_events')
