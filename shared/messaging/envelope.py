"""CloudEvents 1.0 in Kafka binary content mode (headers ``ce_*``, JSON value)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
REQUIRED = ("ce_specversion", "ce_id", "ce_type", "ce_source")


class MalformedEvent(ValueError):
    """A message that is not a CloudEvent we can read: never retried, dead-lettered at once."""


@dataclass(frozen=True)
class CloudEvent:
    id: str
    type: str
    source: str
    time: datetime
    data: dict[str, Any]
    subject: str | None = None
    traceparent: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    def headers(self) -> list[tuple[str, bytes]]:
        pairs = {
            "ce_specversion": SPEC_VERSION,
            "ce_id": self.id,
            "ce_type": self.type,
            "ce_source": self.source,
            "ce_time": self.time.isoformat(),
            "content-type": CONTENT_TYPE,
        }
        if self.subject is not None:
            pairs["ce_subject"] = self.subject
        if self.traceparent is not None:
            pairs["ce_traceparent"] = self.traceparent
        pairs.update(self.extra_headers)
        return [(k, v.encode()) for k, v in pairs.items()]

    def value(self) -> bytes:
        return encode_data(self.data)


def encode_data(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def decode_headers(
    headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...],
) -> dict[str, str]:
    decoded: dict[str, str] = {}
    for key, raw in headers or ():
        try:
            decoded[key] = raw.decode() if raw is not None else ""
        except UnicodeDecodeError as exc:
            raise MalformedEvent(f"header {key!r} is not UTF-8") from exc
    return decoded


def from_kafka(
    headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...], value: bytes | None
) -> CloudEvent:
    """Parse a Kafka record into a CloudEvent or raise :class:`MalformedEvent`."""
    h = decode_headers(headers)
    missing = [name for name in REQUIRED if not h.get(name)]
    if missing:
        raise MalformedEvent(f"missing CloudEvents headers: {', '.join(missing)}")
    if h["ce_specversion"] != SPEC_VERSION:
        raise MalformedEvent(f"unsupported specversion {h['ce_specversion']!r}")
    content_type = h.get("content-type", CONTENT_TYPE)
    if not content_type.startswith(CONTENT_TYPE):
        raise MalformedEvent(f"unsupported content-type {content_type!r}")
    if value is None:
        raise MalformedEvent("empty value")
    try:
        data = json.loads(value)
    except (ValueError, RecursionError) as exc:
        # ValueError: not UTF-8, not JSON, or an integer beyond Python's 4300-digit limit;
        # RecursionError: nested too deep. Anything escaping here would crash the runner on
        # the same record again and again.
        raise MalformedEvent(f"value is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedEvent("value is not a JSON object")
    try:
        time = datetime.fromisoformat(h["ce_time"]) if h.get("ce_time") else None
    except ValueError as exc:
        raise MalformedEvent(f"bad ce_time {h['ce_time']!r}") from exc
    if time is None or time.tzinfo is None:
        raise MalformedEvent("ce_time missing or not timezone-aware")
    return CloudEvent(
        id=h["ce_id"],
        type=h["ce_type"],
        source=h["ce_source"],
        time=time,
        data=data,
        subject=h.get("ce_subject"),
        traceparent=h.get("ce_traceparent"),
    )
