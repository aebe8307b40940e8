import pytest

from clearway.domain.query import TagFilter, TagGroup, TagTerm, parse_tag_filter
from clearway.errors import ValidationFailed


def matches(tag_filter: TagFilter | None, tags: list[str]) -> bool:
    """A reference evaluator of the parsed filter, to state the semantics plainly."""
    if tag_filter is None:
        return True

    def term(t: TagTerm) -> bool:
        value = (not tags) if t.tag is None else t.tag in tags
        return not value if t.negated else value

    def group(g: TagGroup) -> bool:
        results = [term(t) for t in g.terms]
        return all(results) if g.mode == "all" else any(results)

    results = [group(g) for g in tag_filter.groups]
    return all(results) if tag_filter.mode == "all" else any(results)


@pytest.mark.parametrize(
    ("spec", "tags", "expected"),
    [
        (["a", "b"], ["b"], True),  # plain values: any
        (["a", "b"], ["c"], False),
        (["-archived"], ["x"], True),  # exclusion
        (["-archived"], ["archived"], False),
        (["a", "-archived"], ["a", "archived"], False),
        (["__$all", "dataset", "__$not", "archived"], ["dataset"], True),  # the SDK's dataset lookup
        (["__$all", "dataset", "__$not", "archived"], ["dataset", "archived"], False),
        (["__$all", "a", "b"], ["a"], False),
        (["__$any", "a", "b"], ["b"], True),
        (["__$all", "a", "b", "__$any", "c", "d"], ["a", "b", "d"], True),
        (["__$all", "a", "b", "__$any", "c", "d"], ["a", "b"], False),
        (["__$any", "a", "__$all", "b", "c"], ["a"], True),  # groups combined by the first operator (any)
        ([None, "a"], [], True),  # None: or empty
        ([None, "a"], ["b"], False),
        (["__$nop", "a"], ["a"], True),
    ],
)
def test_tag_operators(spec, tags, expected):
    assert matches(parse_tag_filter(spec), tags) is expected


def test_empty_filter_matches_everything():
    assert parse_tag_filter([]) is None
    assert parse_tag_filter(None) is None


def test_non_string_values_are_refused():
    with pytest.raises(ValidationFailed):
        parse_tag_filter(["a", 3])  # type: ignore[list-item]
