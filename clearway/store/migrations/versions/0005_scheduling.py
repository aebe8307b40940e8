"""scheduling: what queued tasks need, queue policies, quotas, grants and usage

Revision ID: 0005
Revises: 0003

Resource-aware dispatch, fair share and quotas (clearway/domain/scheduling). Entries already waiting are given
their task's owner and declare nothing.
"""

from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('queue_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('gpus', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('gpu_memory_gb', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('memory_gb', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('rank', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('reason', sa.String(length=500), nullable=True))
        batch_op.create_index('ix_queue_entries_queue_owner_position', ['queue', 'owner_id', 'position'], unique=False)
        batch_op.create_index(
            'ix_queue_entries_queue_owner_rank', ['queue', 'owner_id', 'rank', 'position'], unique=False
        )
    op.execute(
        "UPDATE queue_entries SET owner_id = (SELECT tasks.owner_id FROM tasks WHERE tasks.id = queue_entries.task)"
    )
    op.create_table('dispatch_policies',
    sa.Column('queue', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('policy', sa.String(length=8), nullable=False),
    sa.Column('allow_priority', sa.Boolean(), nullable=False),
    sa.Column('gpus', sa.Integer(), nullable=False),
    sa.Column('gpu_memory_gb', sa.Float(), nullable=False),
    sa.Column('memory_gb', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['queue'], ['queues.id'], name=op.f('fk_dispatch_policies_queue_queues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('queue', name=op.f('pk_dispatch_policies'))
    )
    op.create_table('dispatch_quotas',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('subject_type', sa.String(length=8), nullable=False),
    sa.Column('subject_id', sa.String(length=32), nullable=False),
    sa.Column('max_running', sa.Integer(), nullable=True),
    sa.Column('max_gpus', sa.Integer(), nullable=True),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('org_id', 'subject_type', 'subject_id', name=op.f('pk_dispatch_quotas'))
    )
    op.create_table('dispatch_grants',
    sa.Column('task', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.String(length=32), nullable=False),
    sa.Column('queue', sa.String(length=32), nullable=False),
    sa.Column('gpus', sa.Integer(), nullable=False),
    sa.Column('started', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('task', name=op.f('pk_dispatch_grants'))
    )
    op.create_index('ix_dispatch_grants_org_id_ended', 'dispatch_grants', ['org_id', 'ended'], unique=False)
    op.create_table('dispatch_usage',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.String(length=32), nullable=False),
    sa.Column('gpu_seconds', sa.Float(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('org_id', 'owner_id', name=op.f('pk_dispatch_usage'))
    )


def downgrade() -> None:
    op.drop_table('dispatch_usage')
    op.drop_index('ix_dispatch_grants_org_id_ended', table_name='dispatch_grants')
    op.drop_table('dispatch_grants')
    op.drop_table('dispatch_quotas')
    op.drop_table('dispatch_policies')
    with op.batch_alter_table('queue_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_queue_entries_queue_owner_rank')
        batch_op.drop_index('ix_queue_entries_queue_owner_position')
        batch_op.drop_column('reason')
        batch_op.drop_column('rank')
        batch_op.drop_column('memory_gb')
        batch_op.drop_column('gpu_memory_gb')
        batch_op.drop_column('gpus')
        batch_op.drop_column('owner_id')
