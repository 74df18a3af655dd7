"""Goods value (物资价值): the stock and its flows, valued in fen, per warehouse and category.

A pure fold of movements, no I/O (the rows come from ``warehouse.service_layer.queries.
goods_value``). Every figure is integer fen: units × the lot's ``unit_value_fen`` (a lot keeps
the value it was received at; a transferred lot keeps its origin's), summed.

What a warehouse answers for is its stock **on hand** plus what it has shipped and nobody has
signed for yet (**in transit**): shipped goods stay on its books until the sign-off says what
became of them. So one movement is one of these flows (``EFFECT``: on hand, in transit):

============================  =========  ==========  ============================================
flow                          on hand    in transit  from
============================  =========  ==========  ============================================
``received_donated``          \\+                     receipt of a goods gift (lot source donation)
``received_procured``         \\+                     receipt of a purchase (source procurement)
``received_transfer``         \\+                     a transfer landing here (source transfer)
``count_gain``                \\+                     a stock count's increase (found, correction)
``shipped``                   −          \\+          a dispatch or transfer shipped from here
``returned``                  \\+         −           units handed back at the sign-off
``delivered``                            −           units a recipient signed for (dispatch)
``transferred_out``                      −           units that arrived at another warehouse
``lost_in_transit``                      −           a transfer's short or damaged units
``written_off``               −                      a count's decrease (damage, expiry, loss)
============================  =========  ==========  ============================================

and the books balance, per warehouse and category, in value and in units::

    opening (on hand + in transit)
      + received (donated + procured + transfer in) + count gains
      − delivered − transferred out − lost in transit − written off
      = closing (on hand + in transit)

(``shipped`` and ``returned`` move goods between on hand and in transit: on hand alone
balances with them, ``opening on hand + received + gains + returned − shipped − written off``).

A period is a run of whole days in Asia/Shanghai, both ends included: a movement before its
first day counts in the opening balance, one within it in the period's flows, one after it
nowhere. An aggregate of several movements of one flow within one phase (before / within) may
be given as one movement at the time of any of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from warehouse.domain.errors import DomainError
from warehouse.domain.model import SHANGHAI


class Flow(StrEnum):
    RECEIVED_DONATED = "received_donated"
    RECEIVED_PROCURED = "received_procured"
    RECEIVED_TRANSFER = "received_transfer"
    COUNT_GAIN = "count_gain"
    SHIPPED = "shipped"
    RETURNED = "returned"
    DELIVERED = "delivered"
    TRANSFERRED_OUT = "transferred_out"
    LOST_IN_TRANSIT = "lost_in_transit"
    WRITTEN_OFF = "written_off"


# One unit of a flow changes (on hand, in transit) by these signs.
EFFECT: Mapping[Flow, tuple[int, int]] = {
    Flow.RECEIVED_DONATED: (1, 0),
    Flow.RECEIVED_PROCURED: (1, 0),
    Flow.RECEIVED_TRANSFER: (1, 0),
    Flow.COUNT_GAIN: (1, 0),
    Flow.SHIPPED: (-1, 1),
    Flow.RETURNED: (1, -1),
    Flow.DELIVERED: (0, -1),
    Flow.TRANSFERRED_OUT: (0, -1),
    Flow.LOST_IN_TRANSIT: (0, -1),
    Flow.WRITTEN_OFF: (-1, 0),
}
# The flows that bring goods onto a warehouse's books, and those that take them off.
INTO_BOOKS = (
    Flow.RECEIVED_DONATED,
    Flow.RECEIVED_PROCURED,
    Flow.RECEIVED_TRANSFER,
    Flow.COUNT_GAIN,
)
OFF_BOOKS = (Flow.DELIVERED, Flow.TRANSFERRED_OUT, Flow.LOST_IN_TRANSIT, Flow.WRITTEN_OFF)

FLOW_ZH: Mapping[Flow, str] = {
    Flow.RECEIVED_DONATED: "接收捐赠",
    Flow.RECEIVED_PROCURED: "采购入库",
    Flow.RECEIVED_TRANSFER: "调入",
    Flow.COUNT_GAIN: "盘盈",
    Flow.SHIPPED: "发运",
    Flow.RETURNED: "签收退回",
    Flow.DELIVERED: "发放签收",
    Flow.TRANSFERRED_OUT: "调出",
    Flow.LOST_IN_TRANSIT: "运输短少破损",
    Flow.WRITTEN_OFF: "报损核销",
}

# the lot's source → the flow of its receipt
_RECEIVED = {
    "donation": Flow.RECEIVED_DONATED,
    "procurement": Flow.RECEIVED_PROCURED,
    "transfer": Flow.RECEIVED_TRANSFER,
}

MAX_SPAN_YEARS = 5
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


class PeriodRefused(DomainError):
    """A report period that is not a run of days (last before first), too long, or unreal."""


def flow_of_card(movement: str, source_kind: str, on_hand_delta: int) -> Flow:
    """The flow of a stock-card row (``stock_movements``) that changed on hand: ``movement``,
    its lot's ``source_kind`` and the change. ValueError for a row no flow explains (a
    reservation or release changes no on hand and is never asked about)."""
    if on_hand_delta == 0:
        raise ValueError(f"a {movement} that changes no on hand is not a flow")
    if movement in ("receipt", "transfer_in") and on_hand_delta > 0 and source_kind in _RECEIVED:
        return _RECEIVED[source_kind]
    if movement == "adjustment":
        return Flow.COUNT_GAIN if on_hand_delta > 0 else Flow.WRITTEN_OFF
    if movement == "shipment" and on_hand_delta < 0:
        return Flow.SHIPPED
    if movement == "return" and on_hand_delta > 0:
        return Flow.RETURNED
    raise ValueError(f"no flow for a {movement} of {on_hand_delta} (lot source {source_kind})")


def flow_of_sign_off(dispatch_kind: str) -> Flow:
    """Where the units signed for went: to recipients (a dispatch) or another warehouse."""
    if dispatch_kind == "dispatch":
        return Flow.DELIVERED
    if dispatch_kind == "transfer":
        return Flow.TRANSFERRED_OUT
    raise ValueError(f"unknown dispatch kind {dispatch_kind}")


def yuan(fen: int) -> Decimal:
    """Fen as yuan with two decimals, exactly (12345 → Decimal('123.45'))."""
    return Decimal(fen).scaleb(-2).quantize(Decimal("0.01"))


# ------------------------------------------------------------------------------ the period


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February → 28 February
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class Period:
    """Whole Shanghai days ``first`` to ``last``, both included: the instants ``[start, end)``."""

    first: date
    last: date

    def __post_init__(self) -> None:
        for day in (self.first, self.last):
            if not EARLIEST <= day <= LATEST:
                raise PeriodRefused(
                    f"日期须在 {EARLIEST} 至 {LATEST} 之间 (dates must be from {EARLIEST} to"
                    f" {LATEST})",
                    details={"from": self.first.isoformat(), "to": self.last.isoformat()},
                )
        if self.last < self.first:
            raise PeriodRefused(
                f"结束日期 {self.last} 早于开始日期 {self.first} (to is before from)",
                details={"from": self.first.isoformat(), "to": self.last.isoformat()},
            )
        if self.last >= _add_years(self.first, MAX_SPAN_YEARS):
            raise PeriodRefused(
                f"期间不能超过 {MAX_SPAN_YEARS} 年：{self.first} 至 {self.last}"
                f" (a period is at most {MAX_SPAN_YEARS} years)",
                details={
                    "from": self.first.isoformat(),
                    "to": self.last.isoformat(),
                    "max_years": MAX_SPAN_YEARS,
                },
            )

    @classmethod
    def of(cls, first: date | None, last: date | None, *, today: date) -> Period:
        """The period asked for; by default from 1 January of ``last``'s year (this year's when
        neither is given) to ``today``."""
        last = last if last is not None else today
        if first is None:
            first = date(last.year, 1, 1) if EARLIEST <= last <= LATEST else last
        return cls(first, last)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), SHANGHAI).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), SHANGHAI).astimezone(UTC)


# --------------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Amount:
    quantity: int = 0
    value_fen: int = 0

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.quantity + other.quantity, self.value_fen + other.value_fen)

    def __sub__(self, other: Amount) -> Amount:
        return Amount(self.quantity - other.quantity, self.value_fen - other.value_fen)

    def times(self, sign: int) -> Amount:
        return Amount(self.quantity * sign, self.value_fen * sign)

    def __bool__(self) -> bool:
        return bool(self.quantity or self.value_fen)


ZERO = Amount()


@dataclass(frozen=True)
class Movement:
    """``quantity`` units worth ``value_fen`` (both ≥ 0) of ``category`` moved in ``warehouse``
    by ``flow`` at ``at`` (aware)."""

    warehouse: str
    category: str
    flow: Flow
    quantity: int
    value_fen: int
    at: datetime

    def __post_init__(self) -> None:
        if self.quantity < 0 or self.value_fen < 0:
            raise ValueError("a movement's quantity and value are not negative (the flow signs)")
        if self.at.tzinfo is None:
            raise ValueError("a movement's time must be timezone-aware")

    @property
    def amount(self) -> Amount:
        return Amount(self.quantity, self.value_fen)


@dataclass(frozen=True)
class Balance:
    on_hand: Amount = ZERO
    in_transit: Amount = ZERO

    @property
    def held(self) -> Amount:
        """What the warehouse answers for: on hand and shipped, not yet signed for."""
        return self.on_hand + self.in_transit

    def __add__(self, other: Balance) -> Balance:
        return Balance(self.on_hand + other.on_hand, self.in_transit + other.in_transit)

    def moved(self, flow: Flow, amount: Amount) -> Balance:
        on_hand, in_transit = EFFECT[flow]
        return Balance(
            self.on_hand + amount.times(on_hand), self.in_transit + amount.times(in_transit)
        )

    def __bool__(self) -> bool:
        return bool(self.on_hand or self.in_transit)


@dataclass(frozen=True)
class Figures:
    """One warehouse and category (or a total of several) over a period."""

    opening: Balance = field(default_factory=Balance)
    closing: Balance = field(default_factory=Balance)
    flows: Mapping[Flow, Amount] = field(default_factory=dict)

    def of(self, flow: Flow) -> Amount:
        return self.flows.get(flow, ZERO)

    def value_of(self, flow: Flow) -> int:
        return self.of(flow).value_fen

    @property
    def into_books(self) -> Amount:
        return sum((self.of(f) for f in INTO_BOOKS), ZERO)

    @property
    def off_books(self) -> Amount:
        return sum((self.of(f) for f in OFF_BOOKS), ZERO)

    @property
    def received(self) -> Amount:
        """Received in the period: donated, procured and transferred in."""
        return self.into_books - self.of(Flow.COUNT_GAIN)

    def __add__(self, other: Figures) -> Figures:
        flows = {f: self.of(f) + other.of(f) for f in Flow if self.of(f) or other.of(f)}
        return Figures(self.opening + other.opening, self.closing + other.closing, flows)

    def __bool__(self) -> bool:
        return bool(self.opening or self.closing or any(self.flows.values()))


Key = tuple[str, str]  # (warehouse, category)


def value_goods(movements: Iterable[Movement], period: Period) -> dict[Key, Figures]:
    """The figures of every (warehouse, category) that had stock or a flow in ``period``;
    those whose every figure is zero are left out."""
    start, end = period.start, period.end
    opening: dict[Key, Balance] = defaultdict(Balance)
    closing: dict[Key, Balance] = defaultdict(Balance)
    flows: dict[Key, dict[Flow, Amount]] = defaultdict(dict)
    for m in movements:
        if m.at >= end:
            continue
        key = (m.warehouse, m.category)
        closing[key] = closing[key].moved(m.flow, m.amount)
        if m.at < start:
            opening[key] = opening[key].moved(m.flow, m.amount)
        else:
            flows[key][m.flow] = flows[key].get(m.flow, ZERO) + m.amount
    figures = {
        key: Figures(opening[key], closing[key], {f: a for f, a in flows[key].items() if a})
        for key in closing
    }
    return {key: f for key, f in sorted(figures.items()) if f}


def total(figures: Iterable[Figures]) -> Figures:
    return sum(figures, Figures())


@dataclass(frozen=True)
class Totals:
    warehouses: dict[str, Figures]
    categories: dict[str, Figures]
    overall: Figures


def totals_of(figures: Mapping[Key, Figures]) -> Totals:
    """The figures summed per warehouse, per category and overall."""
    by_warehouse: dict[str, list[Figures]] = defaultdict(list)
    by_category: dict[str, list[Figures]] = defaultdict(list)
    for (warehouse, category), f in figures.items():
        by_warehouse[warehouse].append(f)
        by_category[category].append(f)
    return Totals(
        {w: total(fs) for w, fs in sorted(by_warehouse.items())},
        {c: total(fs) for c, fs in sorted(by_category.items())},
        total(figures.values()),
    )
