"""One SQL implementation of :class:`DocumentStore`, configured per table."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    delete,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)

from clearway.domain.access import Scope
from clearway.domain.query import ListQuery
from clearway.errors import ValidationFailed
from clearway.store.base import Doc, DocumentStore, Mutation
from clearway.store.sql.database import Database
from clearway.store.sql.fields import Fields
from clearway.store.sql.schema import projects
from clearway.timeutil import parse_iso

Extractor = Callable[[Doc], Any]
_IDS_PER_STATEMENT = 5000  # well under SQLite's 32,766 bound parameters
Condition = Callable[[], ColumnElement[bool]]


def _timestamp(key: str) -> Extractor:
    return lambda doc: parse_iso(doc.get(key))


class SqlDocumentStore(DocumentStore):
    """Keeps each document whole in ``doc`` and mirrors ``columns`` beside it for filtering and ordering.

    ``via_queue`` is the condition for this table's records that went through a queue (``Scope.via_queue``);
    tables without one give such scopes only their own owners' records.
    """

    def __init__(
        self,
        db: Database,
        table: Table,
        columns: dict[str, Extractor] | None = None,
        via_queue: Condition | None = None,
    ) -> None:
        self.db = db
        self.table = table
        self.fields = Fields(table, db.is_sqlite)
        self.via_queue = via_queue
        self.columns: dict[str, Extractor] = {
            "name": lambda doc: doc.get("name") or "",
            "created": _timestamp("created"),
            "last_update": _timestamp("last_update"),
            "tags": lambda doc: list(doc.get("tags") or []),
            "system_tags": lambda doc: list(doc.get("system_tags") or []),
            **(columns or {}),
        }

    # reads
    def get(self, scope: Scope, doc_id: str, *, for_update: bool = False) -> Doc | None:
        stmt = select(self.table.c.doc).where(self.table.c.id == doc_id, *self._scope(scope))
        if for_update and not self.db.is_sqlite:
            stmt = stmt.with_for_update()
        with self.db.read() as conn:
            return conn.execute(stmt).scalar_one_or_none()

    def get_many(self, scope: Scope, doc_ids: Iterable[str]) -> dict[str, Doc]:
        wanted = sorted(set(doc_ids))
        found: dict[str, Doc] = {}
        with self.db.read() as conn:
            for start in range(0, len(wanted), _IDS_PER_STATEMENT):
                chunk = wanted[start : start + _IDS_PER_STATEMENT]
                stmt = select(self.table.c.id, self.table.c.doc).where(self.table.c.id.in_(chunk), *self._scope(scope))
                found.update((row.id, row.doc) for row in conn.execute(stmt))
        return found

    def query(self, scope: Scope, query: ListQuery) -> list[Doc]:
        stmt = self._filtered(select(self.table.c.doc), scope, query)
        stmt = stmt.order_by(*self.fields.order(query.order_by), self.table.c.id)
        if query.page_size is not None:
            stmt = stmt.limit(query.page_size).offset((query.page or 0) * query.page_size)
        with self.db.read() as conn:
            return list(conn.execute(stmt).scalars())

    def visible_ids(self, scope: Scope) -> Select:
        """The ids of the documents in the scope, as a subquery for other tables' access rules."""
        return select(self.table.c.id).where(*self._scope(scope))

    def count(self, scope: Scope, query: ListQuery) -> int:
        stmt = self._filtered(select(func.count()).select_from(self.table), scope, query)
        with self.db.read() as conn:
            return int(conn.execute(stmt).scalar_one())

    # writes
    def insert(self, org_id: str, owner_id: str, doc: Doc) -> Doc:
        with self.db.transaction() as conn:
            conn.execute(
                insert(self.table).values(id=doc["id"], org_id=org_id, owner_id=owner_id, doc=doc, **self._derive(doc))
            )
        return doc

    def update(self, scope: Scope, doc_id: str, mutate: Mutation) -> Doc | None:
        with self.db.transaction():
            current = self.get(scope, doc_id, for_update=True)
            if current is None:
                return None
            new = mutate(current)
            self._write(doc_id, new, current)
            return new

    def delete(self, scope: Scope, doc_id: str) -> bool:
        with self.db.transaction() as conn:
            result = conn.execute(delete(self.table).where(self.table.c.id == doc_id, *self._scope(scope)))
            return result.rowcount > 0

    def _write(self, doc_id: str, doc: Doc, before: Doc) -> None:
        # Only the derived columns whose value changed: the database rewrites the index entries of every column
        # set, changed or not (a quarter of the cost of a small events.add_batch, which updates its task).
        old = self._derive(before)
        changed = {column: value for column, value in self._derive(doc).items() if old[column] != value}
        with self.db.transaction() as conn:
            conn.execute(update(self.table).where(self.table.c.id == doc_id).values(doc=doc, **changed))

    def _derive(self, doc: Doc) -> dict[str, Any]:
        return {column: extract(doc) for column, extract in self.columns.items()}

    # query building
    def _scope(self, scope: Scope) -> list[ColumnElement[bool]]:
        conditions = [self.table.c.org_id == scope.org_id]
        if scope.owner_ids is not None:
            owned = self.table.c.owner_id.in_(sorted(scope.owner_ids))
            if scope.via_queue and self.via_queue is not None:
                owned = or_(owned, self.via_queue())
            in_projects = self._in_projects(scope)
            if in_projects is not None:
                owned = or_(owned, in_projects)
            conditions.append(owned)
        return conditions

    def _in_projects(self, scope: Scope) -> ColumnElement[bool] | None:
        """Records in the scope's shared projects (``Scope.project_ids``) or in projects its owners own."""
        if self.table is projects:
            return self.table.c.id.in_(sorted(scope.project_ids)) if scope.project_ids else None
        if "project" not in self.table.c:
            return None
        assert scope.owner_ids is not None
        owned_projects = select(projects.c.id).where(
            projects.c.org_id == scope.org_id, projects.c.owner_id.in_(sorted(scope.owner_ids))
        )
        condition = self.table.c.project.in_(owned_projects)
        if scope.project_ids:
            condition = or_(condition, self.table.c.project.in_(sorted(scope.project_ids)))
        return condition

    def _filtered(self, stmt: Select, scope: Scope, query: ListQuery) -> Select:
        c = self.table.c
        stmt = stmt.where(*self._scope(scope))
        if query.ids is not None:
            stmt = stmt.where(c.id.in_(query.ids))
        elif not query.search_hidden:
            stmt = stmt.where(not_(self.fields.array_column_has(c.system_tags, "hidden")))
        if query.name is not None:
            stmt = stmt.where(c.name.regexp_match(query.name))
        for column, values in query.equals.items():
            if column not in c:
                raise ValidationFailed(f"unsupported filter field: {column}")
            non_null = [v for v in values if v is not None]
            condition = c[column].in_(non_null)
            if len(non_null) < len(values):
                condition = or_(condition, c[column].is_(None))
            stmt = stmt.where(condition)
        if query.tags is not None:
            stmt = stmt.where(self.fields.tag_filter(("tags",), query.tags))
        if query.system_tags is not None:
            stmt = stmt.where(self.fields.tag_filter(("system_tags",), query.system_tags))
        for condition in query.where:
            stmt = stmt.where(self.fields.condition(condition))
        if query.text is not None:
            stmt = stmt.where(self.fields.text_search(query.text))
        return stmt
