"""Formatting for people: Asia/Shanghai times, yuan amounts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "CST")  # Asia/Shanghai has no daylight saving time


def shanghai(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def yuan(fen: int) -> str:
    return f"¥{fen // 100:,}.{fen % 100:02d}"
