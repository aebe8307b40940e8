"""security hardening: user names unique across the server, the agent holding each task, files per owner

Revision ID: 0002
Revises: 0006
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0006'
branch_labels = None
depends_on = None

_users = sa.table("users", sa.column("id"), sa.column("org_id"), sa.column("name"), sa.column("created"))
_orgs = sa.table("organizations", sa.column("id"), sa.column("name"))


def upgrade() -> None:
    _rename_duplicate_user_names()
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('uq_users_org_id_name', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_users_name'), ['name'])
    # Tasks taken before the upgrade are held by nobody: their agents act for their owners again only once they
    # take a task anew.
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_by', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('held_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('held_worker', sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f('ix_tasks_held_by'), ['held_by'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_tasks_held_by_users'), 'users', ['held_by'], ['id'])
    _files_per_owner()


def _files_per_owner() -> None:
    """Every file becomes one user's (its namespace); files stored before keep their bytes where they are: their
    storage key is their old path, which no new key can be (new keys start with ".clearway-owners/")."""
    with op.batch_alter_table('blobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('storage_key', sa.String(length=1100), nullable=True))
        batch_op.add_column(sa.Column('namespace', sa.String(length=32), nullable=True))
    op.execute("UPDATE blobs SET storage_key = path, namespace = owner_id")
    with op.batch_alter_table('blobs', schema=None) as batch_op:
        batch_op.alter_column('storage_key', existing_type=sa.String(length=1100), nullable=False)
        batch_op.alter_column('namespace', existing_type=sa.String(length=32), nullable=False)
        batch_op.drop_constraint('pk_blobs', type_='primary')
        batch_op.create_primary_key('pk_blobs', ['storage_key'])
        batch_op.create_unique_constraint(batch_op.f('uq_blobs_org_id_namespace_path'), ['org_id', 'namespace', 'path'])
        batch_op.create_foreign_key(batch_op.f('fk_blobs_namespace_users'), 'users', ['namespace'], ['id'])
        batch_op.create_index('ix_blobs_org_path', ['org_id', 'path'], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM blobs WHERE storage_key <> path")  # only files stored before 0002 fit the old table
    with op.batch_alter_table('blobs', schema=None) as batch_op:
        batch_op.drop_index('ix_blobs_org_path')
        batch_op.drop_constraint(batch_op.f('fk_blobs_namespace_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_blobs_org_id_namespace_path'), type_='unique')
        batch_op.drop_constraint('pk_blobs', type_='primary')
        batch_op.create_primary_key('pk_blobs', ['path'])
        batch_op.drop_column('namespace')
        batch_op.drop_column('storage_key')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tasks_held_by_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_tasks_held_by'))
        batch_op.drop_column('held_worker')
        batch_op.drop_column('held_since')
        batch_op.drop_column('held_by')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_name'), type_='unique')
        batch_op.create_unique_constraint('uq_users_org_id_name', ['org_id', 'name'])


def _rename_duplicate_user_names() -> None:
    """Names become unique across the server: the oldest user keeps a shared name, later ones become
    ``name@organisation`` (or ``name@organisation-2``...)."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_users.c.id, _users.c.name, _orgs.c.name.label("org"))
        .join(_orgs, _orgs.c.id == _users.c.org_id)
        .order_by(_users.c.created, _users.c.id)
    ).all()
    taken = {row.name for row in rows}
    kept: set[str] = set()
    for row in rows:
        if row.name not in kept:
            kept.add(row.name)
            continue
        base = f"{row.name}@{row.org}"[:190]
        new, n = base, 2
        while new in taken:
            new, n = f"{base}-{n}", n + 1
        taken.add(new)
        conn.execute(sa.update(_users).where(_users.c.id == row.id).values(name=new))
