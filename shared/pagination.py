"""Opaque keyset cursors for newest-first listings."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import Query

from shared.errors import ValidationFailed

Limit = Annotated[int, Query(ge=1, le=100, description="Page size (1–100)")]
Cursor = Annotated[str | None, Query(max_length=200, description="Opaque cursor from next_cursor")]


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("无效的分页游标 (invalid cursor)") from exc
    if not isinstance(values, list) or len(values) != arity:
        raise ValidationFailed("无效的分页游标 (invalid cursor)")
    return values
