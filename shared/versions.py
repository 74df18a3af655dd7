"""Optimistic concurrency over HTTP: a record's version is its ``ETag``; ``If-Match`` sends
back the version the client read.

Both services answer one versioned record with ``ETag: "<version>"`` and accept
``If-Match: "3"``, ``W/"3"`` or ``3``.
"""

from __future__ import annotations

from shared.errors import ValidationFailed


def etag(version: int) -> dict[str, str]:
    """The ``ETag`` header of one versioned record: its version, quoted (``"3"``)."""
    return {"ETag": f'"{version}"'}


def parse_if_match(value: str | None, body_version: int | None = None) -> int | None:
    """The version named by ``If-Match``; without the header, the body's ``version`` (or
    None). Anything but a version number is a 422."""
    if value is None:
        return body_version
    cleaned = value.strip().removeprefix("W/").strip('"')
    if not cleaned.isdigit() or len(cleaned) > 18:  # a bigint's worth of digits at most
        raise ValidationFailed(
            f"If-Match 必须是版本号 (If-Match must be a version number): {value[:40]}"
        )
    return int(cleaned)
