"""Stock alert rules and texts, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notification.domain.alerts import (
    AlertView,
    escalated_message,
    raised_message,
    stock_condition,
)


@pytest.mark.parametrize(
    ("available", "safety", "expected"),
    [
        (87, 100, "low_stock"),
        (1, 100, "low_stock"),
        (0, 100, "out_of_stock"),
        (100, 100, None),
        (150, 100, None),
        (0, 0, None),  # not meant to be stocked: no alert
        (5, 0, None),
    ],
)
def test_stock_condition(available: int, safety: int, expected: str | None) -> None:
    assert stock_condition(available, safety) == expected


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_low_and_out_of_stock_exclude_each_other(available: int, safety: int) -> None:
    kind = stock_condition(available, safety)
    if kind == "out_of_stock":
        assert available == 0
        assert safety > 0
    elif kind == "low_stock":
        assert 0 < available < safety
    else:
        assert safety == 0 or available >= safety


def view(kind: str, occurrence: int = 1) -> AlertView:
    details = (
        {"unit": "床", "available": 87, "on_hand": 117, "reserved": 30, "safety_stock": 100}
        if kind in ("low_stock", "out_of_stock")
        else {
            "unit": "箱",
            "on_hand": 40,
            "lots": [
                {"lot_id": "x", "lot_no": "P2026-031", "expiry_date": "2026-12-20", "on_hand": 40}
            ],
        }
    )
    return AlertView(
        kind=kind,
        warehouse_name="区备灾救灾中心仓库",
        item_name="棉被",
        details=details,
        raised_at=datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
        occurrence=occurrence,
    )


def test_raised_message_in_chinese_with_figures() -> None:
    subject, body = raised_message(view("low_stock"))
    assert subject == "【库存预警】区备灾救灾中心仓库 棉被：低于安全库存"
    assert "可用库存 87床" in body
    assert "安全库存 100床" in body
    assert "2026-11-28 16:00" in body  # Asia/Shanghai


def test_reraised_and_expiry_messages() -> None:
    subject, body = raised_message(view("near_expiry", occurrence=2))
    assert "再次出现" in subject
    assert "批次 P2026-031 有效期至 2026-12-20，在库 40箱" in body
    at = datetime(2026, 11, 28, 8, 0, tzinfo=UTC) + timedelta(hours=5)
    subject, body = escalated_message(view("expired"), at)
    assert subject.startswith("【预警升级】")
    assert "已持续 5.0 小时无人确认" in body
