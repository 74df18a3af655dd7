"""The request guard's body checks, without a server (the probe sends them over HTTP)."""

from __future__ import annotations

import pytest

from shared.request_guard import _duplicate_json_key, _is_json


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"amount_fen": 100, "amount_fen": 999999}', "amount_fen"),
        (b'{"donor": {"name": "a", "name": "b"}}', "name"),
        (b'{"lines": [{"qty": 1}, {"qty": 2, "qty": 3}]}', "qty"),
        (b'[{"a": 1, "a": 1}]', "a"),
        # the same key spelt with an escape is the same key once decoded
        (b'{"a": 1, "\\u0061": 2}', "a"),
    ],
)
def test_a_repeated_key_at_any_depth_is_found(body: bytes, key: str) -> None:
    assert _duplicate_json_key(body, b"application/json") == key


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": {"x": 1}, "b": {"x": 2}}',  # the same key in different objects
        b'[{"qty": 1}, {"qty": 2}]',
        b'{"a": "\\"a\\": 1"}',
        b"not json",  # the route's own parser answers that
        b"[" * 100_000 + b"]" * 100_000,  # too deep for the parser: the route answers
        b"12345",
    ],
)
def test_bodies_without_a_repeated_key_pass(body: bytes) -> None:
    assert _duplicate_json_key(body, b"application/json") is None


@pytest.mark.parametrize(
    ("content_type", "parsed"),
    [
        (b"application/json", True),
        (b"application/json; charset=utf-8", True),
        (b"application/merge-patch+json", True),
        (b"", True),  # FastAPI parses a body without a type as JSON
        (b"application/x-www-form-urlencoded", False),
        (b"text/plain", False),
    ],
)
def test_the_bodies_checked_are_those_parsed_as_json(content_type: bytes, parsed: bool) -> None:
    assert _is_json(content_type) is parsed
    found = _duplicate_json_key(b'{"a": 1, "a": 2}', content_type)
    assert (found == "a") is parsed
