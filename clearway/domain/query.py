"""What a ``get_all`` asks for, independent of how a store answers it.

The ClearML tag operators are parsed here into plain boolean groups, so every store implements one shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from clearway.errors import ValidationFailed

_OPERATORS = {"__$all": "all", "__$and": "all", "__$any": "any", "__$or": "any"}


@dataclass(frozen=True)
class TagTerm:
    """``tag`` present (or absent when ``negated``); ``tag is None`` means "the list is empty"."""

    tag: str | None
    negated: bool = False


@dataclass(frozen=True)
class TagGroup:
    mode: str  # "all" or "any"
    terms: tuple[TagTerm, ...]


@dataclass(frozen=True)
class TagFilter:
    """Groups combined with ``mode``: a document matches when the groups, so combined, are true."""

    mode: str
    groups: tuple[TagGroup, ...]


def parse_tag_filter(values: list[str | None] | str | None) -> TagFilter | None:
    """Parse ClearML's tag filter list.

    Plain values match any of them; ``-x`` excludes ``x`` while no operator has been seen; ``__$all``/``__$and``
    and ``__$any``/``__$or`` start a group of that mode; ``__$not`` negates the next value; ``__$nop`` does
    nothing; ``None`` means "or the list is empty". Groups are combined by the first operator seen (AND if none).
    """
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    legacy_any: list[TagTerm] = []
    legacy_excluded: list[TagTerm] = []
    groups: list[TagGroup] = []
    current: list[TagTerm] | None = None
    current_mode = "any"
    combine: str | None = None
    negate_next = False

    def close() -> None:
        if current:
            groups.append(TagGroup(current_mode, tuple(current)))

    for value in values:
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(f"tag filter values must be strings, got {value!r}")
        if value in _OPERATORS:
            close()
            current_mode = _OPERATORS[value]
            combine = combine or current_mode
            current = []
            continue
        if value == "__$not":
            negate_next = True
            continue
        if value == "__$nop":
            continue
        if current is None:
            if value is not None and value.startswith("-") and not negate_next:
                legacy_excluded.append(TagTerm(value[1:], negated=True))
            else:
                legacy_any.append(TagTerm(value, negated=negate_next))
        else:
            current.append(TagTerm(value, negated=negate_next))
        negate_next = False
    close()
    leading = []
    if legacy_any:
        leading.append(TagGroup("any", tuple(legacy_any)))
    if legacy_excluded:
        leading.append(TagGroup("all", tuple(legacy_excluded)))
    all_groups = tuple(leading + groups)
    if not all_groups:
        return None
    return TagFilter(combine or "all", all_groups)


@dataclass
class ListQuery:
    """The filters, order and page of a ``get_all``."""

    ids: list[str] | None = None
    name: str | None = None  # a regular expression, matched with re.search semantics
    equals: dict[str, list[Any]] = field(default_factory=dict)  # column -> allowed values
    tags: TagFilter | None = None
    system_tags: TagFilter | None = None
    search_hidden: bool = False
    order_by: list[str] = field(default_factory=list)
    page: int | None = None
    page_size: int | None = None

    def __post_init__(self) -> None:
        if self.name is not None:
            try:
                re.compile(self.name)
            except re.error as exc:
                raise ValidationFailed(f"invalid name pattern {self.name!r}: {exc}") from exc
