"""SQL for the fields of a document table: mirrored columns where the table has them, JSON paths into ``doc``
otherwise. The conditions of :mod:`clearway.domain.query` and the order of ``order_by`` are built here.

SQLite and PostgreSQL reach into JSON differently; each difference is one explicit branch below. A path part
``*`` means "each item of the list there": conditions on such a path hold when they hold for one item.
Timestamps in documents all have one fixed-width shape (:mod:`clearway.timeutil`), so they compare as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Float,
    String,
    Table,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from clearway.domain.query import (
    AllOf,
    AnyOf,
    Condition,
    Equals,
    InList,
    InRange,
    Matches,
    Path,
    TagFilter,
    TagTerm,
    TextSearch,
)
from clearway.errors import ValidationFailed
from clearway.timeutil import iso

# A number written as text ("0.001", "-4", "1e-3"): hyperparameter values are text, and sort as numbers. Its digits
# are bounded so that it always fits a double (PostgreSQL refuses to cast "1e400").
NUMBER = r"^\s*[-+]?([0-9]{1,200}(\.[0-9]{0,200})?|\.[0-9]{1,200})([eE][-+]?[0-9]{1,2})?\s*$"
ARRAY_COLUMNS = frozenset({"tags", "system_tags"})  # JSON lists mirrored beside the document
Predicate = Callable[["Value"], ColumnElement[bool]]


class Value:
    """The JSON value at ``parts`` under ``source`` (the ``doc`` column, or one item of a list in it)."""

    def __init__(self, source: Any, parts: tuple[str, ...], is_sqlite: bool) -> None:
        self.source = source
        self.parts = parts
        self.is_sqlite = is_sqlite

    def _sqlite_path(self) -> str:
        return "$" + "".join(f'."{part}"' for part in self.parts)

    @property
    def json_type(self) -> ColumnElement[Any]:
        """SQLite's names (``integer``, ``real``, ``text``...) or PostgreSQL's (``number``, ``string``...)."""
        if self.is_sqlite:
            return func.json_type(self.source, self._sqlite_path())
        return func.jsonb_typeof(self.jsonb)

    @property
    def _pg_path(self) -> ColumnElement[Any]:
        return literal(list(self.parts), ARRAY(String))

    @property
    def jsonb(self) -> ColumnElement[Any]:
        return type_coerce(type_coerce(self.source, JSONB).op("#>")(self._pg_path), JSONB)

    @property
    def raw(self) -> ColumnElement[Any]:
        """SQLite: the value as SQL (text, number, JSON text of a list or object)."""
        return func.json_extract(self.source, self._sqlite_path())

    @property
    def text(self) -> ColumnElement[Any]:
        """The value as text: a string as is, anything else as its JSON."""
        if self.is_sqlite:
            return cast(self.raw, String)
        return type_coerce(type_coerce(self.source, JSONB).op("#>>")(self._pg_path), String)

    @property
    def is_number(self) -> ColumnElement[bool]:
        return self.json_type.in_(["integer", "real"]) if self.is_sqlite else self.json_type == "number"

    @property
    def is_text(self) -> ColumnElement[bool]:
        return self.json_type == ("text" if self.is_sqlite else "string")

    @property
    def number(self) -> ColumnElement[Any]:
        """The value when it is a JSON number, else NULL."""
        return case((self.is_number, cast(self.raw if self.is_sqlite else self.text, Float)), else_=None)

    def sort_keys(self) -> list[ColumnElement[Any]]:
        """Keys that sort values as MongoDB (so ClearML) does: missing or null first, then numbers by value (text
        that reads as a number too, as ClearML's numeric collation makes hyperparameters sort), then the rest as
        text."""
        if self.is_sqlite:
            # SQLite already orders NULL, then numbers, then text: only numbers written as text need reading.
            value = self.raw
            numeric_text = and_(func.typeof(value) == "text", value.regexp_match(NUMBER))
            return [case((numeric_text, cast(value, Float)), else_=value)]
        kind = self.json_type  # PostgreSQL evaluates a CASE's branches in order: the pattern only for text
        number = case(
            (kind == "number", cast(self.text, Float)),
            (and_(kind == "string", self.text.regexp_match(NUMBER)), cast(self.text, Float)),
            else_=None,
        )
        rank = case((number.is_not(None), 1), (func.coalesce(kind, "null") == "null", 0), else_=2)
        return [rank, number, self.text]

    @property
    def is_empty(self) -> ColumnElement[bool]:
        """Missing, null, or an empty list (ClearML's ``null`` term of a list filter)."""
        kind = func.coalesce(self.json_type, "null")
        if self.is_sqlite:
            empty_list = func.json_array_length(self.source, self._sqlite_path()) == 0
            return or_(kind == "null", and_(kind == "array", empty_list))
        return or_(kind == "null", self.jsonb == type_coerce([], JSONB))

    def has(self, value: Any) -> ColumnElement[bool]:
        """The value equals ``value``, or is a list holding it."""
        if self.is_sqlite:
            each = func.json_each(self.source, self._sqlite_path()).table_valued("value", "type")
            return exists(select(literal(1)).select_from(each).where(each.c.value == _sqlite_scalar(value)))
        return self.jsonb.contains(type_coerce(value, JSONB))

    def equals(self, value: Any) -> ColumnElement[bool]:
        if value is None:
            return func.coalesce(self.json_type, "null") == "null"
        if self.is_sqlite:
            if isinstance(value, dict | list):
                return self.raw == func.json(type_coerce(value, JSON))
            return and_(self.json_type.is_not(None), self.raw == _sqlite_scalar(value))
        return self.jsonb == type_coerce(value, JSONB)


def _sqlite_scalar(value: Any) -> Any:
    """How SQLite's JSON functions give a scalar back: true/false as 1/0."""
    return int(value) if isinstance(value, bool) else value


class Fields:
    """Conditions and order on the fields of one document table."""

    def __init__(self, table: Table, is_sqlite: bool) -> None:
        self.table = table
        self.is_sqlite = is_sqlite

    # conditions
    def condition(self, condition: Condition) -> ColumnElement[bool]:
        if isinstance(condition, AnyOf):
            return or_(false(), *(self.condition(c) for c in condition.conditions))
        if isinstance(condition, AllOf):
            return and_(true(), *(self.condition(c) for c in condition.conditions))
        if isinstance(condition, InList):
            return self._in_list(condition.path, condition.terms)
        if isinstance(condition, Equals):
            return self._equals(condition.path, condition.value)
        if isinstance(condition, InRange):
            return self._in_range(condition)
        if isinstance(condition, Matches):
            return self._matches(condition)
        raise TypeError(f"unknown condition {condition!r}")

    def _matches(self, condition: Matches) -> ColumnElement[bool]:
        pattern, flags = condition.pattern, None
        if condition.ignore_case:
            # SQLite's REGEXP is Python's re.search, which takes no flags argument: the flag goes inline.
            pattern, flags = (f"(?i){pattern}", None) if self.is_sqlite else (pattern, "i")
        column = self._column(condition.path)
        if column is not None:
            return cast(column, String).regexp_match(pattern, flags=flags)
        return self._each(condition.path, lambda v: v.text.regexp_match(pattern, flags=flags))

    def text_search(self, search: TextSearch) -> ColumnElement[bool]:
        def found(needle: str) -> ColumnElement[bool]:
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", needle.lower()) + "%"
            return or_(false(), *(self._text_contains(path, pattern) for path in search.paths))

        conditions = [or_(*(found(w) for w in search.words))] if search.words else []
        conditions += [found(p) for p in search.phrases]
        conditions += [not_(found(w)) for w in search.excluded]
        return and_(true(), *conditions)

    def _text_contains(self, path: Path, pattern: str) -> ColumnElement[bool]:
        def contains(text: Any) -> ColumnElement[bool]:  # never NULL: "-word" negates it
            return func.lower(func.coalesce(text, "")).like(pattern, escape="\\")

        column = self._column(path)
        return contains(cast(column, String)) if column is not None else self._each(path, lambda v: contains(v.text))

    def tag_filter(self, path: Path, tag_filter: TagFilter) -> ColumnElement[bool]:
        return self._in_list(path, tag_filter)

    def _in_list(self, path: Path, tag_filter: TagFilter) -> ColumnElement[bool]:
        groups = []
        for group in tag_filter.groups:
            terms = [self._term(path, term) for term in group.terms]
            if terms:
                groups.append(and_(*terms) if group.mode == "all" else or_(*terms))
        if not groups:
            return true()
        return and_(*groups) if tag_filter.mode == "all" else or_(*groups)

    def _term(self, path: Path, term: TagTerm) -> ColumnElement[bool]:
        column = self._column(path)
        if term.tag is None:
            if column is None:
                condition = self._each(path, lambda v: v.is_empty, empty_list=True)
            elif path[0] in ARRAY_COLUMNS:
                length = func.json_array_length if self.is_sqlite else func.jsonb_array_length
                condition = length(column) == 0
            else:
                condition = or_(column.is_(None), column == "")
        elif column is not None and path[0] in ARRAY_COLUMNS:
            condition = self.array_column_has(column, term.tag)
        elif column is not None:
            condition = column == term.tag
        else:
            tag = term.tag
            condition = self._each(path, lambda v: v.has(tag))
        return not_(condition) if term.negated else condition

    def array_column_has(self, column: Any, value: str) -> ColumnElement[bool]:
        # PostgreSQL has JSONB containment (indexable); SQLite walks the array with json_each.
        if self.is_sqlite:
            each = func.json_each(column).table_valued("value")
            return exists(select(literal(1)).select_from(each).where(each.c.value == value))
        return type_coerce(column, JSONB).contains([value])

    def _equals(self, path: Path, value: Any) -> ColumnElement[bool]:
        column = self._column(path)
        if column is not None:
            return column.is_(None) if value is None else column == value
        return self._each(path, lambda v: v.equals(value))

    def _in_range(self, condition: InRange) -> ColumnElement[bool]:
        column = self._column(condition.path)
        bounds = [b for b in (condition.low, condition.high) if b is not None]
        if not bounds:
            raise ValidationFailed("a range needs a low or a high bound", field=".".join(condition.path))

        def within(expr: Any) -> ColumnElement[bool]:
            checks = []
            if condition.low is not None:
                checks.append(expr >= condition.low)
            if condition.high is not None:
                checks.append(expr <= condition.high)
            inside = and_(*checks)
            return or_(inside, expr.is_(None)) if condition.missing else inside

        if column is not None:
            if isinstance(column.type, DateTime) and not all(isinstance(b, datetime) for b in bounds):
                raise ValidationFailed("this range takes dates", field=condition.path[0])
            return within(column)
        if all(isinstance(b, datetime) for b in bounds):
            low, high = (iso(b) if b is not None else None for b in (condition.low, condition.high))
            return self._each(condition.path, lambda v: _within(v, low, high, missing=condition.missing))
        if all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds):
            return self._each(condition.path, lambda v: within(v.number))
        return self._each(condition.path, lambda v: within(v.text))

    def _each(self, path: Path, predicate: Predicate, *, empty_list: bool = False) -> ColumnElement[bool]:
        """``predicate`` on the JSON value at ``path``; on one item of the list at a ``*``."""
        doc = self.table.c.doc
        if "*" not in path:
            return predicate(Value(doc, _checked(path), self.is_sqlite))
        star = path.index("*")
        prefix, suffix = _checked(path[:star]), _checked(path[star + 1 :])
        if "*" in suffix:
            raise ValidationFailed("a field path may hold one '*'", field=".".join(path))
        if self.is_sqlite:
            list_path = Value(doc, prefix, True)._sqlite_path()
            each = func.json_each(doc, list_path).table_valued("fullkey", "type")
            # Read each item through its full path in the document: never json_extract on a non-JSON item.
            item = _ItemValue(doc, each.c.fullkey, suffix)
            where = and_(each.c.type == "object", predicate(item)) if suffix else predicate(item)
            found = exists(select(literal(1)).select_from(each).where(where))
        else:
            listed = Value(doc, prefix, False)
            items = func.jsonb_array_elements(
                case((listed.json_type == "array", listed.jsonb), else_=type_coerce([], JSONB))
            ).table_valued("value")
            found = exists(select(literal(1)).select_from(items).where(predicate(Value(items.c.value, suffix, False))))
        return found if not empty_list else or_(found, Value(doc, prefix, self.is_sqlite).is_empty)

    # order
    def order(self, order_by: list[str]) -> list[ColumnElement[Any]]:
        """Clauses for ``order_by`` (field paths, ``-`` first for descending): a mirrored column's values, or a
        JSON path's (:meth:`Value.sort_keys`)."""
        clauses: list[ColumnElement[Any]] = []
        for entry in order_by:
            if not isinstance(entry, str) or not entry.strip("-"):
                raise ValidationFailed(f"invalid order_by field: {entry!r}")
            descending = entry.startswith("-")
            path = tuple(entry.lstrip("-").split("."))
            column = self._column(path)
            if column is not None and path[0] not in ARRAY_COLUMNS:
                keys: list[ColumnElement[Any]] = [column]
            else:
                if "*" in path:
                    raise ValidationFailed(f"cannot order by a list's items: {entry!r}")
                keys = Value(self.table.c.doc, _checked(path), self.is_sqlite).sort_keys()
            clauses += [key.desc() if descending else key.asc() for key in keys]
        return clauses

    def _column(self, path: Path) -> Any:
        if len(path) == 1 and path[0] in self.table.c and path[0] != "doc":
            return self.table.c[path[0]]
        return None


class _ItemValue(Value):
    """SQLite: the value at ``suffix`` of the list item whose full path in ``doc`` is ``fullkey``."""

    def __init__(self, doc: Any, fullkey: Any, suffix: tuple[str, ...]) -> None:
        super().__init__(doc, suffix, True)
        self.fullkey = fullkey

    def _sqlite_path(self) -> Any:  # type: ignore[override]
        return cast(self.fullkey, String).concat("".join(f'."{part}"' for part in self.parts))


def _within(value: Value, low: str | None, high: str | None, *, missing: bool) -> ColumnElement[bool]:
    """A timestamp (fixed-width text) within the bounds."""
    checks = [value.text >= low] if low is not None else []
    checks += [value.text <= high] if high is not None else []
    inside = and_(value.is_text, *checks)
    return or_(inside, func.coalesce(value.json_type, "null") == "null") if missing else inside


def _checked(path: tuple[str, ...]) -> tuple[str, ...]:
    for part in path:
        if not part or '"' in part or "\\" in part:
            raise ValidationFailed(f"invalid field path {'.'.join(path)!r}")
    return path
