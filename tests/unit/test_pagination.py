"""Cursors: what we encode decodes back; anything a client makes up is a 422, never a 500."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date, datetime
from typing import Any

import pytest

from shared.errors import ValidationFailed
from shared.pagination import decode_cursor, encode_cursor


def forged(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_round_trip_with_types() -> None:
    at, last = datetime.fromisoformat("2026-11-29T08:00:00+08:00"), uuid.uuid4()
    cursor = encode_cursor(at.isoformat(), str(last))
    assert decode_cursor(cursor, 2, datetime.fromisoformat, uuid.UUID) == [at, last]


def test_round_trip_without_types() -> None:
    assert decode_cursor(encode_cursor("WH-01", 42), 2) == ["WH-01", 42]


@pytest.mark.parametrize(
    ("cursor", "arity", "types"),
    [
        (forged([0]), 1, (uuid.UUID,)),  # found by fuzzing: GET /stock-counts?cursor=WzBd
        (forged([0, 0]), 2, (date.fromisoformat, uuid.UUID)),
        (forged(["x", 1]), 2, (datetime.fromisoformat, uuid.UUID)),
        (forged(["not-a-uuid"]), 1, (uuid.UUID,)),
        (forged(["9" * 30]), 1, (int,)),  # beyond a bigint
        (forged([2**70]), 1, ()),
        (forged([True]), 1, ()),
        # found by fuzzing: GET /items?cursor=… whose code holds a NUL (PostgreSQL: 500)
        (forged(["HY\x00r"]), 1, ()),
        (forged([None]), 1, ()),
        (forged([[1]]), 1, ()),
        (forged({"a": 1}), 1, ()),
        (forged([1, 2]), 1, ()),  # wrong arity
        ("%%%", 1, ()),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode(), 1, ()),
    ],
)
def test_made_up_cursors_are_refused(cursor: str, arity: int, types: tuple[Any, ...]) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor, arity, *types)
