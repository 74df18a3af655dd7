"""ETag and If-Match: one format for both services."""

from __future__ import annotations

import pytest

from shared.errors import ValidationFailed
from shared.versions import etag, parse_if_match


def test_the_etag_is_the_quoted_version() -> None:
    assert etag(3) == {"ETag": '"3"'}


@pytest.mark.parametrize("header", ['"3"', 'W/"3"', "3", ' "3" '])
def test_if_match_forms(header: str) -> None:
    assert parse_if_match(header) == 3


def test_without_the_header_the_body_version_counts() -> None:
    assert parse_if_match(None, 7) == 7
    assert parse_if_match(None) is None
    assert parse_if_match('"2"', 7) == 2  # the header wins


@pytest.mark.parametrize("header", ["", "*", '"abc"', "-1", "1.5", '"' + "9" * 19 + '"', "x" * 500])
def test_anything_else_is_refused(header: str) -> None:
    with pytest.raises(ValidationFailed, match="If-Match"):
        parse_if_match(header)
