"""The filter, order and paging fields of every ``get_all``, and their translation to a :class:`ListQuery`.

The rule for filter fields is ClearML's, per kind of document (:class:`FilterRules`): a field filters in the way
its rules name (a regular expression, a list of values with tag operators, a ``[min, max]`` range, a date
comparison, an equality); ``_any_``/``_or_`` and ``_all_``/``_and_`` combine a pattern or a date condition over
several fields; ``search_text`` searches free text. Any other field is ignored, as ClearML's server ignores it
(the SDK sends fields older servers do not know, such as ``task_types``). A malformed value of a field that
filters is refused with a validation error naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ConfigDict, field_validator

from clearway.clearml_api.registry import Request
from clearway.domain.query import (
    AllOf,
    AnyOf,
    Condition,
    Equals,
    InList,
    InRange,
    ListQuery,
    Matches,
    Path,
    field_path,
    parse_search_text,
    parse_tag_filter,
)
from clearway.errors import ValidationFailed
from clearway.timeutil import as_utc

StrList = list[str] | str | None
_GROUPS = {"_any_": AnyOf, "_or_": AnyOf, "_all_": AllOf, "_and_": AllOf}
_DATE_OPERATOR = re.compile(r"^(>=|>|<=|<)?(.*)$")
_MICROSECOND = timedelta(microseconds=1)


def as_list(value: Any) -> list[Any] | None:
    if value is None:
        return None
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class FilterRules:
    """How each request field filters one kind of document. A name ending in ``.*`` covers every path under it
    (``hyperparams.*`` takes ``hyperparams.Args.lr.value``)."""

    patterns: tuple[str, ...] = ()  # a regular expression (``name`` is one for every kind)
    lists: tuple[str, ...] = ()  # the value, or an item of a list value, is one of these (tag operators apply)
    ranges: tuple[str, ...] = ()  # [min, max], both included, either null; numbers for ``last_metrics.*``
    dates: tuple[str, ...] = ()  # ">2024-05-01T10:00:00" (also >=, <, <=, none for "at"), or [from, to]
    equals: tuple[str, ...] = ()  # equal to the value
    text: tuple[str, ...] = ()  # what ``search_text`` looks in
    paths: dict[str, Path] = field(default_factory=dict)  # where a field is kept, when not at its own name

    def kind(self, name: str) -> str | None:
        for kind in ("patterns", "lists", "ranges", "dates", "equals"):
            if any(_covers(rule, name) for rule in getattr(self, kind)):
                return kind
        return None

    def path(self, name: str) -> Path:
        if name in self.paths:
            return self.paths[name]
        parts = field_path(name)
        if parts[0] == "metadata" and len(parts) > 3:  # metadata.<key with dots>.value
            return ("metadata", ".".join(parts[1:-1]), parts[-1])
        return parts


def _covers(rule: str, name: str) -> bool:
    return name.startswith(rule[:-1]) if rule.endswith(".*") else name == rule


class GetAllRequest(Request):
    """Unknown keys are kept (``model_extra``): dotted field paths such as ``last_metrics.<m>.<v>.value`` filter."""

    model_config = ConfigDict(extra="allow")

    id: StrList = None
    name: str | None = None
    tags: list[str | None] | str | None = None
    system_tags: list[str | None] | str | None = None
    only_fields: list[str] | None = None
    order_by: list[str] | str | None = None
    page: int | None = None
    page_size: int | None = None
    search_hidden: bool = False
    search_text: str | None = None

    @field_validator("page", "page_size")
    @classmethod
    def _non_negative(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError("must not be negative")
        return value

    def to_query(self, max_page_size: int, rules: FilterRules | None = None) -> ListQuery:
        page_size = self.page_size
        if page_size is None and self.page is not None:
            page_size = 500
        if page_size is not None and page_size > max_page_size:
            raise ValidationFailed(f"page_size over the limit of {max_page_size}")
        rules = rules or FilterRules()
        order_by = [entry for entry in as_list(self.order_by) or [] if entry not in ("@text_score", "-@text_score")]
        return ListQuery(
            ids=as_list(self.id),
            name=self.name,
            tags=parse_tag_filter(self.tags),
            system_tags=parse_tag_filter(self.system_tags),
            where=self._conditions(rules),
            text=parse_search_text(self.search_text, tuple(map(field_path, rules.text))) if self.search_text else None,
            search_hidden=self.search_hidden,
            order_by=order_by,
            page=self.page,
            page_size=page_size,
        )

    def _conditions(self, rules: FilterRules) -> list[Condition]:
        """The conditions of the fields beyond the common ones, by the rules; fields with no rule are ignored."""
        common = set(GetAllRequest.model_fields)
        declared = {name: getattr(self, name) for name in type(self).model_fields if name not in common}
        conditions = []
        for name, value in {**declared, **(self.model_extra or {})}.items():
            if value is None:
                continue
            if name in _GROUPS:
                group = _group(rules, name, value)
                if group is not None:
                    conditions.append(group)
                continue
            kind = rules.kind(name)
            if kind is not None:
                conditions.append(_condition(rules, kind, name, value))
        return conditions


def _condition(rules: FilterRules, kind: str, name: str, value: Any) -> Condition:
    path = rules.path(name)
    if kind == "patterns":
        return Matches(path, _pattern(name, value))
    if kind == "lists":
        terms = parse_tag_filter(value if isinstance(value, list) else [value])
        return InList(path, terms) if terms is not None else AllOf(())
    if kind == "ranges":
        low, high = _pair(name, value)
        if name.startswith("last_metrics."):
            low, high = _number(name, low), _number(name, high)
        elif all(isinstance(b, str) for b in (low, high) if b is not None):  # dates, as ClearML reads them
            low, high = _date(name, low), _date(name, high)
        return InRange(path, low, high, missing=low is None)
    if kind == "dates":
        return _dates(name, path, value)
    return Equals(path, value)


def _group(rules: FilterRules, name: str, value: Any) -> Condition | None:
    """``_any_``/``_or_``, ``_all_``/``_and_``: ``{fields, pattern}`` (case-insensitive, any fields) or
    ``{fields, datetime}`` (over the kind's date fields only)."""
    if not isinstance(value, dict) or not set(value) <= {"fields", "pattern", "datetime"}:
        raise ValidationFailed(f"{name} takes {{fields, pattern}} or {{fields, datetime}}", field=name)
    fields = value.get("fields") or []
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise ValidationFailed(f"{name}.fields must be a list of field names", field=name)
    combine = _GROUPS[name]
    if value.get("pattern") is not None:
        pattern = _pattern(name, value["pattern"])
        conditions: list[Condition] = [Matches(rules.path(f), pattern, ignore_case=True) for f in fields]
    elif value.get("datetime") is not None:
        dated = [f for f in fields if rules.kind(f) == "dates"]
        conditions = [_dates(name, rules.path(f), value["datetime"]) for f in dated]
    else:
        return None
    return combine(tuple(conditions)) if conditions else None


def _dates(name: str, path: Path, value: Any) -> Condition:
    """``[">t1", "<=t2"]`` (each must hold), or ``[from, to]`` without operators: a range."""
    values = value if isinstance(value, list) else [value]
    if not all(v is None or isinstance(v, str) for v in values):
        raise ValidationFailed(f"{name} takes dates as text", field=name)
    if len(values) == 2 and not any(v and v[0] in "<>" for v in values):
        low, high = _date(name, values[0]), _date(name, values[1])
        return InRange(path, low, high, missing=low is None)
    conditions: list[Condition] = []
    for text in values:
        if text is None:
            continue
        match = _DATE_OPERATOR.match(text)
        assert match is not None
        operator, moment = match.group(1) or "", _date(name, match.group(2))
        assert moment is not None
        # Timestamps have microseconds: "after t" is "at t + 1 µs or later".
        low = {">": moment + _MICROSECOND, ">=": moment, "": moment}.get(operator)
        high = {"<": moment - _MICROSECOND, "<=": moment, "": moment}.get(operator)
        conditions.append(InRange(path, low, high, missing=False))
    return AllOf(tuple(conditions))


def _pair(name: str, value: Any) -> tuple[Any, Any]:
    if not isinstance(value, list) or len(value) != 2:
        raise ValidationFailed(f"{name} takes [min, max] (either may be null)", field=name)
    if value[0] is None and value[1] is None:
        raise ValidationFailed(f"{name}: give a min or a max", field=name)
    return value[0], value[1]


def _number(name: str, value: Any) -> Any:
    """ClearML compares ``last_metrics`` bounds as numbers, and reads numbers given as text."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{name} takes numbers, got {value!r}", field=name) from None


def _date(name: str, value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(str(value).strip()))
    except ValueError:
        raise ValidationFailed(f"{name}: {value!r} is not an ISO-8601 date", field=name) from None


def _pattern(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} takes a regular expression", field=name)
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationFailed(f"{name}: invalid regular expression: {exc}", field=name) from exc
    return value
