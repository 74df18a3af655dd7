"""Warehouse domain rules: no I/O.

FEFO picking, the dispatch state machine, the masking of a recipient's name, and the
vocabularies (categories, reasons, units of work) the service speaks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.subjects import same_subject
from warehouse.domain.errors import InsufficientStock, SelfApproval, TransitionNotAllowed

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_today(now: datetime | None = None) -> date:
    """The branch's calendar day (Asia/Shanghai): expiry dates are read against it."""
    return (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).date()


CATEGORIES = {
    "shelter": "住所类",
    "food": "食品",
    "water": "饮用水",
    "medical": "医疗急救",
    "lighting_power": "照明与电力",
    "clothing_bedding": "衣被类",
    "hygiene": "卫生用品",
}
ADJUSTMENT_REASONS = {
    "lost": "丢失",
    "damaged": "损坏",
    "expired": "过期",
    "found": "盘盈",
    "correction": "更正",
}
TOWNS = (
    "锦屏街道",
    "岳林街道",
    "江口街道",
    "西坞街道",
    "萧王庙街道",
    "方桥街道",
    "尚田街道",
    "莼湖街道",
    "溪口镇",
    "大堰镇",
    "松岙镇",
    "裘村镇",
)

# ----------------------------------------------------------------------------- dispatch states

REQUESTED, APPROVED, PICKED, SHIPPED = "requested", "approved", "picked", "shipped"
DELIVERED, REJECTED, CANCELLED = "delivered", "rejected", "cancelled"
STATUSES = (REQUESTED, APPROVED, PICKED, SHIPPED, DELIVERED, REJECTED, CANCELLED)
OPEN = frozenset({REQUESTED, APPROVED, PICKED})

TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "approve": (frozenset({REQUESTED}), APPROVED),
    "reject": (OPEN, REJECTED),
    "pick": (frozenset({APPROVED}), PICKED),
    "ship": (frozenset({PICKED}), SHIPPED),
    "deliver": (frozenset({SHIPPED}), DELIVERED),
    "cancel": (OPEN, CANCELLED),
}

STATUS_ZH = {
    REQUESTED: "已申请",
    APPROVED: "已审批",
    PICKED: "已拣货",
    SHIPPED: "已发运",
    DELIVERED: "已签收",
    REJECTED: "已驳回",
    CANCELLED: "已取消",
}


def next_status(current: str, action: str) -> str:
    """The status after ``action``; :class:`TransitionNotAllowed` if the dispatch is not in a
    state that allows it."""
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        raise TransitionNotAllowed(
            f"调拨单当前状态为「{STATUS_ZH.get(current, current)}」，不能执行该操作 "
            f"(cannot {action} a dispatch in status {current})",
            details={"status": current, "action": action},
        )
    return target


def holds_reservation(status: str) -> bool:
    """Reserved quantities exist only between picking and shipping."""
    return status == PICKED


def check_approver(requested_by: str, approver: str) -> None:
    """:class:`SelfApproval` if ``approver`` is the requester."""
    if same_subject(requested_by, approver):  # Alice and alice: one account (OIDC)
        raise SelfApproval(
            "审批人不能是申请人本人 "
            "(a dispatch must be approved by someone other than the requester)"
        )


# ----------------------------------------------------------------------------- FEFO picking


@dataclass(frozen=True)
class LotStock:
    lot_id: uuid.UUID
    lot_no: str
    expiry_date: date | None
    on_hand: int
    reserved: int
    received_at: datetime

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def is_expired(expiry: date | None, today: date) -> bool:
    """The expiry rule: a lot is expired from the day after its expiry date (Asia/Shanghai
    days, see :func:`local_today`); a lot without an expiry date never expires. The SQL twin is
    ``warehouse.service_layer.stock.expired_lot`` — change both together."""
    return expiry is not None and expiry < today


def is_pickable(lot: LotStock, *, today: date, min_days: int) -> bool:
    """Never an expired lot, never one expiring within ``min_days`` of today: the expiry rule
    read ``min_days`` ahead (with ``min_days = 0`` exactly the lots that are not expired)."""
    if lot.available <= 0:
        return False
    return not is_expired(lot.expiry_date, today + timedelta(days=max(min_days, 0)))


# ----------------------------------------------------------------------------- available stock


def expired_units(lots: Iterable[LotStock], today: date) -> int:
    """The units of an item that are on hand but can never be dispatched because their lot is
    past its expiry date: the *unreserved* units of expired lots (a reserved unit of an expired
    lot is already counted in ``reserved``, never twice)."""
    return sum(lot.available for lot in lots if is_expired(lot.expiry_date, today))


def available_stock(on_hand: int, reserved: int, expired: int) -> int:
    """What can still be dispatched: ``on_hand - reserved - expired``. On hand keeps the expired
    units (they are physically there until written off with a count, reason ``expired``)."""
    return on_hand - reserved - expired


def fefo_order(lots: Iterable[LotStock]) -> list[LotStock]:
    """First expiry first out; lots without expiry last; then oldest receipt first."""
    return sorted(
        lots,
        key=lambda lot: (
            lot.expiry_date is None,
            lot.expiry_date or date.max,
            lot.received_at,
            lot.lot_no,
            lot.lot_id,
        ),
    )


def pick_fefo(
    lots: Sequence[LotStock], quantity: int, *, today: date, min_days: int, item: str = ""
) -> list[tuple[LotStock, int]]:
    """Choose lots for ``quantity`` units, first-expiry-first-out.

    Returns (lot, quantity) pairs whose quantities sum to exactly ``quantity``, or raises
    :class:`InsufficientStock` (nothing partially picked).
    """
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    picks: list[tuple[LotStock, int]] = []
    remaining = quantity
    for lot in fefo_order(x for x in lots if is_pickable(x, today=today, min_days=min_days)):
        take = min(lot.available, remaining)
        picks.append((lot, take))
        remaining -= take
        if remaining == 0:
            return picks
    eligible = quantity - remaining
    raise InsufficientStock(
        f"库存不足：{item} 需要 {quantity}，可拣（未过期且效期不少于 {min_days} 天）仅 {eligible} "
        f"(insufficient stock for {item}: requested {quantity}, pickable {eligible})",
        details={"item_code": item, "requested": quantity, "pickable": eligible},
    )


def allocate_returns(
    shipped: Sequence[tuple[uuid.UUID, int, date | None]], returned: int
) -> dict[uuid.UUID, int]:
    """Spread ``returned`` units of one item over the lots shipped, latest expiry first."""
    if returned > sum(q for _, q, _ in shipped):
        raise ValueError("more returned than shipped")
    result: dict[uuid.UUID, int] = {}
    remaining = returned
    for lot_id, quantity, _ in sorted(
        shipped, key=lambda s: (s[2] is None, s[2] or date.min), reverse=True
    ):
        if remaining == 0:
            break
        take = min(quantity, remaining)
        result[lot_id] = take
        remaining -= take
    return result


# ----------------------------------------------------------------------------- privacy

COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "令狐",
    "长孙",
    "宇文",
    "司徒",
    "夏侯",
    "轩辕",
    "端木",
    "独孤",
    "南宫",
    "西门",
    "申屠",
)


def mask_person_name(name: str) -> str:
    """张三丰 → 张*丰, 王五 → 王*, 欧阳明月 → 欧阳*月, John Smith → J. S."""
    name = name.strip()
    if not name:
        return "*"
    if name.isascii():
        parts = [p for p in name.replace(".", " ").split() if p]
        return " ".join(f"{p[0].upper()}." for p in parts) or "*"
    surname = next((s for s in COMPOUND_SURNAMES if name.startswith(s) and len(name) > 2), None)
    surname = surname or name[0]
    rest = name[len(surname) :]
    if len(rest) <= 1:
        return surname + "*"
    return surname + "*" * (len(rest) - 1) + rest[-1]


# ------------------------------------------------------------------ four eyes, designation


def write_off_value(delta: int, unit_value_fen: int) -> int:
    """What a decrease of ``delta`` units (negative) is worth in fen; 0 for an increase."""
    return -delta * unit_value_fen if delta < 0 else 0


def needs_second_person(delta: int, unit_value_fen: int, threshold_fen: int) -> bool:
    """A write-off (a decrease) worth more than ``threshold_fen`` waits for a second person."""
    return write_off_value(delta, unit_value_fen) > threshold_fen


def check_write_off_approver(counted_by: str, approver: str) -> None:
    """:class:`SelfApproval` if the person deciding a write-off is the one who counted it."""
    if same_subject(counted_by, approver):
        raise SelfApproval(
            "报损核销须由盘点人以外的人审批 "
            "(a write-off must be decided by someone other than the person who counted it)"
        )


def may_pick_designated(
    designated_project: str | None, project_code: str | None, *, override: bool
) -> bool:
    """A lot designated to a project goes only to a dispatch serving that project, unless an
    approver overrode the designation; an undesignated lot goes anywhere."""
    return override or designated_project is None or designated_project == project_code
