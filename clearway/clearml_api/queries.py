"""The filter, order and paging fields every ``get_all`` shares, and their translation to a ListQuery."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from clearway.clearml_api.registry import Request
from clearway.domain.query import ListQuery, check_offset, parse_tag_filter
from clearway.errors import ValidationFailed

StrList = list[str] | str | None


def as_list(value: Any) -> list[Any] | None:
    if value is None:
        return None
    return value if isinstance(value, list) else [value]


class GetAllRequest(Request):
    id: StrList = None
    name: str | None = None
    tags: list[str | None] | str | None = None
    system_tags: list[str | None] | str | None = None
    only_fields: list[str] | None = None
    order_by: list[str] | str | None = None
    page: int | None = None
    page_size: int | None = None
    search_hidden: bool = False

    @field_validator("page", "page_size")
    @classmethod
    def _non_negative(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError("must not be negative")
        return value

    def to_query(self, max_page_size: int, equals: dict[str, Any] | None = None) -> ListQuery:
        page_size = self.page_size
        if page_size is None and self.page is not None:
            page_size = 500
        if page_size is not None and page_size > max_page_size:
            raise ValidationFailed(f"page_size over the limit of {max_page_size}")
        check_offset(self.page, page_size)
        return ListQuery(
            ids=as_list(self.id),
            name=self.name,
            equals={k: as_list(v) for k, v in (equals or {}).items() if v is not None},
            tags=parse_tag_filter(self.tags),
            system_tags=parse_tag_filter(self.system_tags),
            search_hidden=self.search_hidden,
            order_by=as_list(self.order_by) or [],
            page=self.page,
            page_size=page_size,
        )
