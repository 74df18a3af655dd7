"""Opaque keyset cursors for newest-first listings."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import ValidationFailed

Limit = Annotated[int, Query(ge=1, le=100, description="Page size (1–100)")]
Cursor = Annotated[str | None, Query(max_length=200, description="Opaque cursor from next_cursor")]


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


_BIGINT = range(-(2**63), 2**63)


def _plain(value: Any) -> bool:
    """What our cursors hold: strings PostgreSQL can compare (no NUL character: the request
    guard refuses one in the query, but a cursor's base64 hides it) and integers that fit a
    PostgreSQL bigint."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return "\x00" not in value
    return isinstance(value, int) and value in _BIGINT


def decode_cursor(cursor: str, arity: int, *types: Callable[[Any], Any]) -> list[Any]:
    """The values of a cursor from ``encode_cursor``; with ``types``, each converted by its
    own (``int``, ``uuid.UUID``, ``datetime.fromisoformat`` ...). Anything else a client made
    up is a 422, never a 500."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("无效的分页游标 (invalid cursor)") from exc
    if not isinstance(values, list) or len(values) != arity or not all(map(_plain, values)):
        raise ValidationFailed("无效的分页游标 (invalid cursor)")
    if not types:
        return values
    try:
        converted = [convert(value) for convert, value in zip(types, values, strict=True)]
    # AttributeError: ``uuid.UUID(0)`` looks for str methods on the integer
    except (TypeError, ValueError, OverflowError, AttributeError) as exc:
        raise ValidationFailed("无效的分页游标 (invalid cursor)") from exc
    if not all(v in _BIGINT for v in converted if isinstance(v, int)):
        raise ValidationFailed("无效的分页游标 (invalid cursor)")
    return converted


async def read_page(
    session: AsyncSession, query: Any, limit: int, cursor_of: Callable[[Any], Sequence[Any]]
) -> tuple[Sequence[Any], str | None]:
    """One page of a keyset listing: the first ``limit`` rows of ``query`` (ordered by its
    keyset, after the caller's cursor) and the cursor of the next page, made of
    ``cursor_of(last row)``, or ``None`` on the last page (one row more than the page is read
    to know)."""
    rows = (await session.execute(query.limit(limit + 1))).all()
    page = rows[:limit]
    return page, encode_cursor(*cursor_of(page[-1])) if len(rows) > limit else None
