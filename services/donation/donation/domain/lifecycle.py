"""The life cycle of a gift: which transitions are legal (no I/O).

pledged → received → receipted → allocated (money) / in_stock (goods) → used → completed;
cancelled and refunded end a gift early, with a reason. Issuing a receipt is legal at any
live stage after receipt (goods may reach the warehouse before the paper is written), but it
moves the status only from ``received``.
"""

from __future__ import annotations

from donation.domain.model import DonationStatus as S

STATUS_LABELS: dict[str, str] = {
    S.PLEDGED: "已认捐 pledged",
    S.RECEIVED: "已到账 received",
    S.RECEIPTED: "已开票 receipted",
    S.ALLOCATED: "已拨付使用中 allocated",
    S.IN_STOCK: "已入库 in stock",
    S.USED: "已使用 used",
    S.COMPLETED: "已完成 completed",
    S.CANCELLED: "已取消 cancelled",
    S.REFUNDED: "已退款 refunded",
}

TRANSITIONS: dict[S, frozenset[S]] = {
    S.PLEDGED: frozenset({S.RECEIVED, S.CANCELLED}),
    S.RECEIVED: frozenset({S.RECEIPTED, S.ALLOCATED, S.IN_STOCK, S.USED, S.CANCELLED, S.REFUNDED}),
    S.RECEIPTED: frozenset({S.RECEIVED, S.ALLOCATED, S.IN_STOCK, S.USED, S.REFUNDED}),
    S.ALLOCATED: frozenset({S.USED, S.REFUNDED, S.COMPLETED}),
    S.IN_STOCK: frozenset({S.USED, S.COMPLETED}),
    S.USED: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}

LIVE = frozenset({S.RECEIVED, S.RECEIPTED, S.ALLOCATED, S.IN_STOCK, S.USED, S.COMPLETED})
FUNDABLE = frozenset({S.RECEIVED, S.RECEIPTED, S.ALLOCATED})  # money that may fund a use


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str, action: str) -> None:
        self.current, self.target, self.action = current, target, action
        label = STATUS_LABELS.get(current, current)
        super().__init__(
            f"当前状态为「{label}」，不能{action} (cannot {target} a gift whose status is "
            f"{current})"
        )


def can_move(current: str, target: str) -> bool:
    try:
        return S(target) in TRANSITIONS[S(current)]
    except ValueError:
        return False


def check_move(current: str, target: str, action: str) -> None:
    if not can_move(current, target):
        raise IllegalTransition(current, target, action)


def receipt_allowed(current: str) -> bool:
    return S(current) in LIVE


def status_after_receipt(current: str) -> str:
    return S.RECEIPTED if current == S.RECEIVED else current


def status_after_void(current: str) -> str:
    return S.RECEIVED if current == S.RECEIPTED else current


def money_status_after_use(current: str, *, amount_fen: int, used_fen: int) -> str:
    """A money gift after a disbursement drew on it: allocated while some is left, used when
    nothing is left."""
    if used_fen >= amount_fen:
        return S.USED
    if current in (S.RECEIVED, S.RECEIPTED):
        return S.ALLOCATED
    return current


def goods_status(
    current: str, *, total: int, in_stock: int, distributed: int, written_off: int = 0
) -> str:
    """A goods gift from its lineage: in stock once any arrived, used once any left,
    completed when all its quantity was distributed (signed for). Once the warehouse has
    confirmed what actually arrived (``in_stock``), that is the quantity to distribute: goods
    refused on arrival (damaged, expired) never reach a recipient, nor do goods written off
    later in the warehouse."""
    if current not in LIVE or current == S.COMPLETED:
        return current
    target = in_stock - written_off if in_stock > 0 else total
    if target > 0 and distributed >= target:
        return S.COMPLETED
    if distributed > 0 and current != S.USED:
        return S.USED
    if in_stock > 0 and current in (S.RECEIVED, S.RECEIPTED):
        return S.IN_STOCK
    return current


def money_status_after_release(current: str, *, used_fen: int, receipted: bool) -> str:
    """A money gift after a reversed disbursement gave its fen back: allocated while some of
    it is still used elsewhere, else back to receipted (a live receipt) or received."""
    if current not in (S.ALLOCATED, S.USED, S.COMPLETED):
        return current
    if used_fen > 0:
        return S.ALLOCATED
    return S.RECEIPTED if receipted else S.RECEIVED
