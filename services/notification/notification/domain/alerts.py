"""Stock and preparedness alerts: which conditions hold, and what staff are told. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from notification.domain.text import shanghai

AlertKind = Literal[
    "low_stock", "out_of_stock", "near_expiry", "expired", "below_reorder", "plan_gap"
]
ALERT_KINDS: tuple[AlertKind, ...] = (
    "low_stock",
    "out_of_stock",
    "near_expiry",
    "expired",
    "below_reorder",
    "plan_gap",
)
STOCK_KINDS: tuple[AlertKind, ...] = ("low_stock", "out_of_stock")
EXPIRY_KINDS: tuple[AlertKind, ...] = ("near_expiry", "expired")
# Raised from the warehouse's preparedness signals (smart preparedness, 智慧备灾)
PREPAREDNESS_KINDS: tuple[AlertKind, ...] = ("below_reorder", "plan_gap")
AlertStatus = Literal["open", "acknowledged", "resolved"]
ALERT_STATUSES: tuple[AlertStatus, ...] = ("open", "acknowledged", "resolved")

LABELS: dict[str, str] = {
    "low_stock": "低于安全库存",
    "out_of_stock": "缺货",
    "near_expiry": "近效期",
    "expired": "过期在库",
    "below_reorder": "低于补货点",
    "plan_gap": "备灾计划缺口",
}


def stock_condition(available: int, safety_stock: int) -> AlertKind | None:
    """The stock alert that holds for a level, if any.

    Out of stock: nothing available of an item that is meant to be stocked (safety stock
    above zero). Low stock: some available, but below the safety stock. The two exclude each
    other; an item without a safety stock raises neither.
    """
    if safety_stock <= 0:
        return None
    if available <= 0:
        return "out_of_stock"
    if available < safety_stock:
        return "low_stock"
    return None


@dataclass(frozen=True)
class AlertView:
    """What a notice about an alert needs to say."""

    kind: str
    warehouse_name: str
    item_name: str
    details: dict[str, Any]
    raised_at: datetime
    occurrence: int
    item_code: str = ""
    warehouse_code: str = ""


def _codes(alert: AlertView) -> str:
    if not alert.item_code:
        return ""
    if alert.kind == "plan_gap":
        return f"物资编码：{alert.item_code}；计划/镇：{alert.warehouse_code}\n"
    return f"物资编码：{alert.item_code}；仓库编码：{alert.warehouse_code}\n"


def plan_gap_place(plan_code: str, town: str) -> str:
    """The ``warehouse_code`` a plan gap's alert is keyed by: the plan and the town."""
    return f"{plan_code}/{town}"


def _reorder_text(d: dict[str, Any]) -> str:
    unit = d.get("unit", "")
    available = d.get("available", 0)
    months = f"可供 {d['mos']} 个月" if d.get("mos") is not None else "近期无消耗"
    if d.get("reorder_mos") is not None:
        threshold = f"补货点 {d['reorder_mos']} 个月"
    else:
        threshold = f"最低库存 {d.get('min_quantity', 0)}{unit}"
    if d.get("target_mos") is not None:
        target = f"目标 {d['target_mos']} 个月"
    else:
        target = f"目标 {d.get('max_quantity', 0)}{unit}"
    return (
        f"可用库存 {available}{unit}，{months}（{threshold}）；"
        f"在途 {d.get('in_transit', 0)}{unit}，已请领 {d.get('on_order', 0)}{unit}。\n"
        f"建议补充 {d.get('suggested_quantity', 0)}{unit}"
        f"（月均消耗 {d.get('amc', '0.00')}，可用 {available}，{target}）。"
    )


def _plan_gap_text(d: dict[str, Any]) -> str:
    unit = d.get("unit", "")
    return (
        f"{d.get('town', '')}计划储备 {d.get('target', 0)}{unit}，"
        f"现有 {d.get('held', 0)}{unit}（含在途 {d.get('in_transit', 0)}{unit}），"
        f"缺口 {d.get('gap', 0)}{unit}。"
    )


def describe(alert: AlertView) -> str:
    d = alert.details
    unit = d.get("unit", "")
    if alert.kind == "below_reorder":
        return _reorder_text(d)
    if alert.kind == "plan_gap":
        return _plan_gap_text(d)
    if alert.kind in STOCK_KINDS:
        return (
            f"可用库存 {d.get('available', 0)}{unit}（在库 {d.get('on_hand', 0)}{unit}，"
            f"已预留 {d.get('reserved', 0)}{unit}），安全库存 {d.get('safety_stock', 0)}{unit}。"
        )
    lots = d.get("lots", [])
    parts = [
        f"批次 {lot['lot_no']} 有效期至 {lot['expiry_date']}，在库 {lot['on_hand']}{unit}"
        for lot in lots
    ]
    return "；".join(parts) + "。" if parts else ""


def _tag(alert: AlertView) -> str:
    return "【备灾预警】" if alert.kind in PREPAREDNESS_KINDS else "【库存预警】"


def raised_message(alert: AlertView) -> tuple[str, str]:
    again = "（再次出现）" if alert.occurrence > 1 else ""
    subject = f"{_tag(alert)}{alert.warehouse_name} {alert.item_name}：{LABELS[alert.kind]}{again}"
    body = (
        f"{alert.warehouse_name}的{alert.item_name}{LABELS[alert.kind]}{again}。\n"
        f"{describe(alert)}\n"
        f"{_codes(alert)}"
        f"发生时间：{shanghai(alert.raised_at)}\n"
        "请登录阳光红会系统处理并确认此预警。"
    )
    return subject, body


def escalated_message(alert: AlertView, now: datetime) -> tuple[str, str]:
    hours = max((now - alert.raised_at) / timedelta(hours=1), 0)
    subject = f"【预警升级】{alert.warehouse_name} {alert.item_name}：{LABELS[alert.kind]}"
    body = (
        f"{alert.warehouse_name}的{alert.item_name}{LABELS[alert.kind]}，"
        f"已持续 {hours:.1f} 小时无人确认。\n"
        f"{describe(alert)}\n"
        f"{_codes(alert)}"
        f"首次发生：{shanghai(alert.raised_at)}\n"
        "请仓储负责人尽快处理。"
    )
    return subject, body
