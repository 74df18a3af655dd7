"""Preparedness alerts' texts (below reorder threshold, plan gap), without I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from notification.domain.alerts import (
    ALERT_KINDS,
    LABELS,
    AlertView,
    describe,
    escalated_message,
    plan_gap_place,
    raised_message,
)

AT = datetime(2027, 6, 1, 2, 0, tzinfo=UTC)

REORDER: dict[str, Any] = {
    "unit": "床",
    "available": 60,
    "in_transit": 10,
    "on_order": 20,
    "amc": "40.00",
    "mos": "1.50",
    "reorder_mos": "3.00",
    "target_mos": "6.00",
    "min_quantity": None,
    "max_quantity": None,
    "suggested_quantity": 150,
    "policy_source": "category",
    "version": 2,
}
GAP: dict[str, Any] = {
    "unit": "顶",
    "plan_code": "TY-2027",
    "plan_name": "2027年台风季备灾计划",
    "town": "溪口镇",
    "target": 120,
    "held": 80,
    "in_transit": 10,
    "gap": 40,
    "version": 1,
}


def view(kind: str, details: dict[str, Any], occurrence: int = 1, **kw: Any) -> AlertView:
    defaults: dict[str, Any] = {
        "warehouse_name": "溪口镇红十字备灾点",
        "item_name": "棉被",
        "item_code": "QUILT",
        "warehouse_code": "ST-XIKOU",
    }
    return AlertView(kind, details=details, raised_at=AT, occurrence=occurrence, **defaults | kw)


def test_both_kinds_are_alert_kinds_with_labels() -> None:
    assert {"below_reorder", "plan_gap"} <= set(ALERT_KINDS)
    assert LABELS["below_reorder"] == "低于补货点"
    assert LABELS["plan_gap"] == "备灾计划缺口"


def test_below_reorder_says_the_suggestion_and_the_figures_behind_it() -> None:
    text = describe(view("below_reorder", REORDER))
    assert "建议补充 150床（月均消耗 40.00，可用 60，目标 6.00 个月）" in text
    assert "可供 1.50 个月（补货点 3.00 个月）" in text
    assert "在途 10床，已请领 20床" in text


def test_below_reorder_of_a_min_max_policy_and_without_consumption() -> None:
    details = REORDER | {
        "mos": None,
        "reorder_mos": None,
        "target_mos": None,
        "min_quantity": 50,
        "max_quantity": 200,
        "amc": "0.00",
        "suggested_quantity": 110,
    }
    text = describe(view("below_reorder", details))
    assert "近期无消耗（最低库存 50床）" in text
    assert "建议补充 110床（月均消耗 0.00，可用 60，目标 200床）" in text


def test_plan_gap_says_the_gap() -> None:
    alert = view(
        "plan_gap",
        GAP,
        warehouse_name="2027年台风季备灾计划·溪口镇",
        item_name="救灾帐篷",
        item_code="TENT",
        warehouse_code=plan_gap_place("TY-2027", "溪口镇"),
    )
    assert describe(alert) == "溪口镇计划储备 120顶，现有 80顶（含在途 10顶），缺口 40顶。"
    subject, body = raised_message(alert)
    assert subject == "【备灾预警】2027年台风季备灾计划·溪口镇 救灾帐篷：备灾计划缺口"
    assert "计划/镇：TY-2027/溪口镇" in body
    assert "缺口 40顶" in body


def test_raised_and_reraised_subjects_are_tagged_as_preparedness() -> None:
    subject, body = raised_message(view("below_reorder", REORDER))
    assert subject == "【备灾预警】溪口镇红十字备灾点 棉被：低于补货点"
    assert "建议补充 150床" in body
    assert "仓库编码：ST-XIKOU" in body
    again, _ = raised_message(view("below_reorder", REORDER, occurrence=2))
    assert again.endswith("（再次出现）")
    # stock alerts keep their own tag
    stock, _ = raised_message(view("low_stock", {"unit": "床", "available": 5}))
    assert stock.startswith("【库存预警】")


def test_escalation_carries_the_suggestion() -> None:
    later = datetime(2027, 6, 1, 8, 0, tzinfo=UTC)
    subject, body = escalated_message(view("below_reorder", REORDER), later)
    assert subject == "【预警升级】溪口镇红十字备灾点 棉被：低于补货点"
    assert "已持续 6.0 小时无人确认" in body
    assert "建议补充 150床" in body
