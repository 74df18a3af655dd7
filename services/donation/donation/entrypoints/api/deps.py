"""FastAPI dependencies of the donation API (the request helpers are ``shared.http_commands``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from shared.http_commands import if_match
from shared.runtime import ServiceRuntime

IfMatch = Annotated[
    int | None,
    Depends(if_match("更新时携带读取到的版本号 (the version/ETag you read; 412 if it changed)")),
]


def refund_four_eyes_fen(runtime: ServiceRuntime) -> int:
    """``DONATION_REFUND_FOUR_EYES_FEN``: refunds above it need a second person."""
    settings = getattr(runtime, "settings", None)  # a test's stand-in runtime may have none
    return int(getattr(settings, "refund_four_eyes_fen", 100_000))


def repeat_window_days(runtime: ServiceRuntime) -> int:
    """``DONATION_REPEAT_RECEIPT_WINDOW_DAYS``: the approval view's window for repeat receipts."""
    settings = getattr(runtime, "settings", None)
    return int(getattr(settings, "repeat_receipt_window_days", 365))
