"""Cursor paging, one way for every list endpoint: `Page[T]` out, `PageParams` in.

One validation rule (an opaque cursor, `limit` between 1 and MAX_LIMIT, default DEFAULT_LIMIT), one answer to a bad
cursor (422 `common/invalid-cursor`), keyset pagination underneath (the cursor holds the last position of the
previous page, e.g. a time-ordered id), so pages stay stable while rows are added.

    class CasePage(Page[CaseRead]):      # a named subclass keeps the OpenAPI schema name readable
        pass

    @router.get("/v1/cases", response_model=CasePage)
    async def list_cases(session: SessionDep, caller: CallerDep, paging: PageParams) -> CasePage:
        return await case_service.list(session, caller, paging=paging)

    # service / repository (services.common.repository.Repository.page does the first two lines for you):
    rows = await repository.page(select(Case), paging, order_by=Case.id)              # limit + 1 rows
    return CasePage.of(rows, paging, position=lambda case: case.id, item=CaseRead.model_validate)
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from services.common.problems import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
CURSOR_MAX_LENGTH = 200
_CURSOR_PREFIX = "c1:"
_CURSOR = re.compile(r"^[A-Za-z0-9_-]+$")
_POSITION = re.compile(r"^[\x21-\x7e]{1,150}$")  # printable ASCII: ids, ISO timestamps, "time|id" pairs

T = TypeVar("T")
R = TypeVar("R")


class InvalidCursor(InvalidInput):
    title = "Invalid cursor"
    type_slug = "common/invalid-cursor"
    code = "common.invalid_cursor"

    def __init__(self) -> None:
        message = "not a cursor this service issued: pass `next_cursor` from the previous page unchanged"
        super().__init__(
            f"The request is not valid: cursor: {message}",
            errors=[{"loc": ["query", "cursor"], "msg": message, "type": "value_error"}],
        )


@dataclass(frozen=True)
class PageRequest:
    """What a list endpoint was asked for: the position after which to continue (None: the start), and how many."""

    after: str | None
    limit: int


def encode_cursor(position: str) -> str:
    """The opaque cursor for a position (the last row's sort key)."""
    return base64.urlsafe_b64encode((_CURSOR_PREFIX + position).encode("ascii")).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> str:
    """The position inside a cursor; InvalidCursor (422) for anything this module did not issue."""
    if not _CURSOR.match(cursor) or len(cursor) > CURSOR_MAX_LENGTH:
        raise InvalidCursor()
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor() from None
    position = text.removeprefix(_CURSOR_PREFIX)
    if position == text or not _POSITION.match(position):
        raise InvalidCursor()
    return position


async def page_params(
    cursor: Annotated[
        str | None,
        Query(max_length=CURSOR_MAX_LENGTH, description="`next_cursor` of the previous page; omit for the first."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many items at most.")] = DEFAULT_LIMIT,
) -> PageRequest:
    return PageRequest(after=decode_cursor(cursor) if cursor is not None else None, limit=limit)


PageParams = Annotated[PageRequest, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    """One page of a list, in a stable order, and the cursor for the next."""

    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")

    @classmethod
    def of(
        cls,
        rows: Sequence[R],
        request: PageRequest,
        *,
        position: Callable[[R], str],
        item: Callable[[R], Any],
    ) -> Self:
        """A page from up to `limit + 1` rows in order: the extra row, if present, only says that more follow."""
        shown = rows[: request.limit]
        more = len(rows) > request.limit
        return cls(items=[item(row) for row in shown], next_cursor=encode_cursor(position(shown[-1])) if more else None)
