"""timestamps in the clearml SDK's shape

Earlier versions wrote document timestamps as ``2024-05-01T10:00:00.123Z``; the ``clearml`` SDK's parser
raises on the ``Z``. Rewrite the timestamps the server wrote (never user data such as hyperparameter values) as
``2024-05-01T10:00:00.123000+00:00``, the shape the server writes now. Nothing to undo on downgrade.

Revision ID: 0008
Revises: 0001
"""

import re
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0001'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ZULU = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
# Top-level keys holding server-written timestamps, per table.
_KEYS = {
    "projects": ("created", "last_update"),
    "tasks": ("created", "last_update", "last_change", "status_changed", "started", "completed", "published"),
    "models": ("created", "last_update"),
    "queues": ("created", "last_update"),
    "workers": ("register_time", "last_activity_time", "last_report_time", "expires"),
}
_BATCH = 500


def _fixed(value):
    if isinstance(value, str) and _ZULU.match(value):
        return datetime.fromisoformat(value).astimezone(UTC).isoformat(timespec="microseconds")
    return value


def _rewrite(table: str, doc: dict) -> dict:
    new = {**doc, **{key: _fixed(doc[key]) for key in _KEYS[table] if key in doc}}
    if table == "tasks" and isinstance(doc.get("models"), dict):
        new["models"] = {
            kind: [{**m, "updated": _fixed(m.get("updated"))} if isinstance(m, dict) and "updated" in m else m
                   for m in entries] if isinstance(entries, list) else entries
            for kind, entries in doc["models"].items()
        }
    return new


def upgrade() -> None:
    conn = op.get_bind()
    for name in _KEYS:
        keys = [sa.column("org_id"), sa.column("id")] if name == "workers" else [sa.column("id")]
        table = sa.table(name, *keys, sa.column("doc", _JSON))
        after = None
        while True:
            stmt = sa.select(*keys, table.c.doc).order_by(*keys).limit(_BATCH)
            if after is not None:
                stmt = stmt.where(sa.tuple_(*keys) > sa.tuple_(*after))
            rows = conn.execute(stmt).all()
            if not rows:
                break
            for row in rows:
                doc = row.doc
                if isinstance(doc, dict):
                    new = _rewrite(name, doc)
                    if new != doc:
                        where = [key == value for key, value in zip(keys, row[: len(keys)], strict=True)]
                        conn.execute(sa.update(table).where(*where).values(doc=new))
            after = tuple(rows[-1][: len(keys)])


def downgrade() -> None:
    pass
