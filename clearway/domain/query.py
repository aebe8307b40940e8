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


# A field of a document: a top-level key (the store uses its column when it mirrors one) or a path into it.
# A "*" part stands for each item of a list: ("models", "input", "*", "model") is the model of any input entry.
Path = tuple[str, ...]


def field_path(dotted: str) -> Path:
    return tuple(dotted.split("."))


@dataclass(frozen=True)
class InList:
    """The field's value, or an item of it when it is a list, is one of the terms (tag operators included)."""

    path: Path
    terms: TagFilter


@dataclass(frozen=True)
class Equals:
    path: Path
    value: Any


@dataclass(frozen=True)
class InRange:
    """``low <= value <= high``, a missing bound being open; ``missing``: a missing (or null) value matches too.

    Bounds are numbers (compared with numbers only), datetimes (compared as instants) or text.
    """

    path: Path
    low: Any = None
    high: Any = None
    missing: bool = False


@dataclass(frozen=True)
class Matches:
    """The field's text matches a regular expression (searched, not anchored)."""

    path: Path
    pattern: str
    ignore_case: bool = False


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AllOf:
    conditions: tuple[Condition, ...]


Condition = InList | Equals | InRange | Matches | AnyOf | AllOf


@dataclass(frozen=True)
class TextSearch:
    """Free text over some fields, case-insensitive: a document matches when one of ``words`` (or, with no words,
    anything) is in one of the fields, every one of ``phrases`` is, and none of ``excluded`` is."""

    paths: tuple[Path, ...]
    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


_QUOTED = re.compile(r'"([^"]*)"')


def parse_search_text(text: str, paths: tuple[Path, ...]) -> TextSearch | None:
    """ClearML's ``search_text``: words, ``"quoted phrases"`` that must all be there, ``-words`` that must not."""
    phrases = tuple(p.strip() for p in _QUOTED.findall(text) if p.strip())
    words, excluded = [], []
    for word in _QUOTED.sub(" ", text).split():
        if word.startswith("-") and len(word) > 1:
            excluded.append(word[1:])
        elif word != "-":
            words.append(word)
    if not (words or phrases or excluded):
        return None
    return TextSearch(paths, tuple(words), phrases, tuple(excluded))


@dataclass
class ListQuery:
    """The filters, order and page of a ``get_all``."""

    ids: list[str] | None = None
    name: str | None = None  # a regular expression, matched with re.search semantics
    equals: dict[str, list[Any]] = field(default_factory=dict)  # column -> allowed values
    tags: TagFilter | None = None
    system_tags: TagFilter | None = None
    where: list[Condition] = field(default_factory=list)  # all must hold
    text: TextSearch | None = None
    search_hidden: bool = False
    order_by: list[str] = field(default_factory=list)  # field paths, "-" first for descending
    page: int | None = None
    page_size: int | None = None

    def __post_init__(self) -> None:
        if self.name is not None:
            try:
                re.compile(self.name)
            except re.error as exc:
                raise ValidationFailed(f"invalid name pattern {self.name!r}: {exc}") from exc
