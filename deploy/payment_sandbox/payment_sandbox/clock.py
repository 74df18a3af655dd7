"""Time in the gateways' formats (Asia/Shanghai, which has no daylight saving)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def now() -> float:
    return time.time()


def rfc3339(ts: float) -> str:
    """``2026-12-07T14:05:09+08:00`` as WeChat Pay writes it."""
    return datetime.fromtimestamp(int(ts), SHANGHAI).isoformat()


def parse_rfc3339(text: str) -> float:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("time zone missing")
    return value.timestamp()


def alipay_time(ts: float) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Asia/Shanghai."""
    return datetime.fromtimestamp(int(ts), SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def parse_alipay_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI).timestamp()


def shanghai_date(ts: float) -> date:
    return datetime.fromtimestamp(ts, SHANGHAI).date()


def today() -> date:
    return datetime.now(UTC).astimezone(SHANGHAI).date()
