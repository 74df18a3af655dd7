"""The preparedness rules with hand-worked figures, and their properties (hypothesis)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warehouse.domain.model import LotStock
from warehouse.domain.preparedness import (
    MONTH_DAYS,
    Issue,
    Policy,
    average_monthly_consumption,
    below_reorder,
    days_out_of_stock,
    expiring_within,
    months_of_stock,
    rotation,
    suggest,
)

START = datetime(2026, 9, 1, tzinfo=UTC)
END = START + timedelta(days=90)
MOS_POLICY = Policy(reorder_mos=Decimal(2), target_mos=Decimal(4), lead_time_days=14)


def issue(days: int, quantity: int, *, transfer: bool = False, incident: bool = False) -> Issue:
    return Issue(START + timedelta(days=days), quantity, transfer, incident)


def lot(no: str, expiry: date | None, available: int) -> LotStock:
    return LotStock(uuid.uuid4(), no, expiry, available, 0, START)


# ------------------------------------------------------------------ stock-out days


def test_days_out_counts_the_time_at_zero_rounded_down() -> None:
    # 10 on hand at the start; day 10 12:00 the last 10 ship (0); day 25 00:00 a receipt (40);
    # day 80 the 40 ship (0) until the end (day 90).
    # zero: day 10.5 → 25 = 14.5 days, day 80 → 90 = 10 days; 24.5 rounded down = 24.
    levels = [
        (START + timedelta(days=10, hours=12), 0),
        (START + timedelta(days=25), 40),
        (START + timedelta(days=80), 0),
    ]
    assert days_out_of_stock(levels, start=START, end=END, on_hand_at_start=10) == 24


def test_days_out_from_an_empty_start_and_movements_outside_the_window() -> None:
    # nothing at the start; the first receipt on day 30 (so 30 days at zero); a movement
    # before the window is ignored (its level is on_hand_at_start), one after it too.
    levels = [
        (START - timedelta(days=5), 7),
        (START + timedelta(days=30), 20),
        (END + timedelta(days=1), 0),
    ]
    assert days_out_of_stock(levels, start=START, end=END, on_hand_at_start=0) == 30
    assert days_out_of_stock([], start=START, end=END, on_hand_at_start=5) == 0
    assert days_out_of_stock([], start=START, end=END, on_hand_at_start=0) == 90


# ------------------------------------------------------------------ AMC


def test_amc_adjusted_for_a_stock_out() -> None:
    # 120 units shipped over 90 days, 30 of them out of stock:
    # 120 / 90 × 30.4375 × 90 / 60 = 120 × 30.4375 / 60 = 60.875 → 60.88
    amc = average_monthly_consumption(
        [issue(5, 70), issue(40, 50)],
        window_days=90,
        days_out=30,
        exclude_transfers=True,
        exclude_incidents=True,
    )
    assert amc == Decimal("60.88")


def test_amc_without_stock_out_is_consumed_per_month() -> None:
    # 90 units in 90 days: 90 × 30.4375 / 90 = 30.4375 → 30.44
    amc = average_monthly_consumption(
        [issue(1, 90)], window_days=90, days_out=0, exclude_transfers=True, exclude_incidents=True
    )
    assert amc == Decimal("30.44")


def test_transfers_and_incidents_excluded_or_not() -> None:
    # everyday 60, a transfer of 30, an incident dispatch of 90, 90 days, no stock-out.
    issues = [issue(1, 60), issue(2, 30, transfer=True), issue(3, 90, incident=True)]

    def amc(transfers: bool, incidents: bool) -> Decimal:
        return average_monthly_consumption(
            issues,
            window_days=90,
            days_out=0,
            exclude_transfers=transfers,
            exclude_incidents=incidents,
        )

    assert amc(True, True) == Decimal("20.29")  # 60 × 30.4375 / 90 = 20.2916…
    assert amc(False, True) == Decimal("30.44")  # 90 × 30.4375 / 90
    assert amc(True, False) == Decimal("50.73")  # 150 × 30.4375 / 90 = 50.729…
    assert amc(False, False) == Decimal("60.88")  # 180 × 30.4375 / 90 = 60.875


def test_amc_is_zero_when_out_of_stock_the_whole_window() -> None:
    assert average_monthly_consumption(
        [issue(1, 5)], window_days=90, days_out=90, exclude_transfers=True, exclude_incidents=True
    ) == Decimal("0.00")


def test_months_of_stock() -> None:
    assert months_of_stock(100, Decimal("40")) == Decimal("2.50")
    assert months_of_stock(100, Decimal("0")) is None
    assert months_of_stock(10, Decimal("3")) == Decimal("3.33")


# ------------------------------------------------------------------ suggestions


def test_suggestion_counts_the_pipeline_and_what_expires_within_the_lead_time() -> None:
    # AMC 30, target 4 months → 120. Available 50, in transit 20, on order 10, but 15 expire
    # within the lead time: position 50 + 20 + 10 − 15 = 65; suggestion 120 − 65 = 55.
    s = suggest(
        Decimal(30), MOS_POLICY, available=50, in_transit=20, on_order=10, expiring_within_lead=15
    )
    assert (s.quantity, s.target_quantity, s.position) == (55, 120, 65)


def test_suggestion_rounds_up_and_is_never_negative() -> None:
    # AMC 10.25 × 4 = 41 exactly → 41 − 40 = 1; AMC 10.26 × 4 = 41.04 → ceil(1.04) = 2
    assert suggest(Decimal("10.25"), MOS_POLICY, **_pipeline(40)).quantity == 1
    assert suggest(Decimal("10.26"), MOS_POLICY, **_pipeline(40)).quantity == 2
    assert suggest(Decimal(1), MOS_POLICY, **_pipeline(400)).quantity == 0


def _pipeline(available: int) -> dict[str, int]:
    return {"available": available, "in_transit": 0, "on_order": 0, "expiring_within_lead": 0}


def test_min_max_policy() -> None:
    # min 20, max 100: 15 available + 4 in transit = 19 < 20 → below reorder; fill to 100:
    # 100 − 19 = 81, whatever the AMC. At 20 it is not below.
    policy = Policy(Decimal(0), Decimal(1), 7, min_quantity=20, max_quantity=100, source="item")
    s = suggest(Decimal(0), policy, available=15, in_transit=4, on_order=0, expiring_within_lead=0)
    assert (s.quantity, s.target_quantity) == (81, 100)
    assert below_reorder(Decimal(0), policy, available=15, in_transit=4, on_order=0)
    assert not below_reorder(Decimal(0), policy, available=16, in_transit=4, on_order=0)


def test_below_reorder_by_months_of_stock() -> None:
    # AMC 30, reorder at 2 months = 60: 59 below, 60 not; no consumption: never below
    assert below_reorder(Decimal(30), MOS_POLICY, available=50, in_transit=9, on_order=0)
    assert not below_reorder(Decimal(30), MOS_POLICY, available=50, in_transit=0, on_order=10)
    assert not below_reorder(Decimal(0), MOS_POLICY, available=0, in_transit=0, on_order=0)


def test_expiring_within_the_lead_time() -> None:
    today = date(2026, 12, 1)
    lots = [
        lot("A", date(2026, 12, 10), 5),  # within 14 days
        lot("B", date(2026, 12, 15), 7),  # 1 Dec + 14 = 15 Dec: not before it
        lot("C", date(2026, 11, 30), 9),  # already expired: not available, not counted
        lot("D", None, 11),
    ]
    assert expiring_within(lots, today=today, lead_time_days=14) == 5


# ------------------------------------------------------------------ rotation


def test_rotation_walks_the_lots_fefo() -> None:
    # AMC 30.4375 = 1 unit a day. Today 1 Dec.
    # L1 expires 10 Dec (10 days incl. today): 10 used of 25 → surplus 15, dispatch first.
    # L2 expires 31 Dec (31 days): 31 − 10 = 21 used of 20 → all used, not listed.
    # L3 expires 5 Jan (36 days): 36 − 30 = 6 used of 50 → surplus 44, dispatch first.
    # N has no expiry: never listed.
    today = date(2026, 12, 1)
    l1 = lot("L1", date(2026, 12, 10), 25)
    l2 = lot("L2", date(2026, 12, 31), 20)
    l3 = lot("L3", date(2027, 1, 5), 50)
    none = lot("N", None, 500)
    listed = rotation([l3, none, l2, l1], MONTH_DAYS, today=today)
    assert [(r.lot_no, r.consumed_before_expiry, r.surplus, r.action) for r in listed] == [
        ("L1", 10, 15, "dispatch_first"),
        ("L3", 6, 44, "dispatch_first"),
    ]


def test_rotation_without_consumption_transfers_or_donates() -> None:
    today = date(2026, 12, 1)
    lots = [lot("L1", date(2027, 1, 10), 8)]
    assert rotation(lots, Decimal(0), today=today)[0].action == "donate_on"
    transfer = rotation(lots, Decimal(0), today=today, used_elsewhere=True)[0]
    assert (transfer.action, transfer.surplus, transfer.consumed_before_expiry) == (
        "transfer",
        8,
        0,
    )


# ------------------------------------------------------------------ properties

amcs = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False)
quantities = st.integers(min_value=0, max_value=100_000)
mos = st.decimals(min_value=Decimal("0.5"), max_value=24, places=2)


@given(amcs, mos, quantities, quantities, quantities, quantities)
def test_suggestion_reaches_the_target(
    amc: Decimal, target: Decimal, available: int, transit: int, order: int, expiring: int
) -> None:
    policy = Policy(reorder_mos=Decimal(0), target_mos=target, lead_time_days=0)
    s = suggest(
        amc,
        policy,
        available=available,
        in_transit=transit,
        on_order=order,
        expiring_within_lead=expiring,
    )
    goal = amc * target
    assert s.quantity >= 0
    assert s.position + s.quantity >= goal
    if s.quantity > 0:
        assert s.position + s.quantity < goal + 1


@given(quantities, quantities, quantities, st.integers(1, 100_000), quantities)
def test_min_max_suggestion_reaches_max(
    available: int, transit: int, expiring: int, maximum: int, minimum: int
) -> None:
    policy = Policy(
        Decimal(0), Decimal(1), 0, min_quantity=min(minimum, maximum), max_quantity=maximum
    )
    s = suggest(
        Decimal(5),
        policy,
        available=available,
        in_transit=transit,
        on_order=0,
        expiring_within_lead=expiring,
    )
    assert s.quantity >= 0
    assert s.position + s.quantity >= maximum
    if s.quantity > 0:
        assert s.position + s.quantity == maximum


@given(
    st.lists(st.tuples(st.integers(0, 89 * 24), st.integers(0, 3)), max_size=30),
    st.integers(0, 3),
)
def test_days_out_stays_within_the_window(moves: list[tuple[int, int]], at_start: int) -> None:
    levels = sorted((START + timedelta(hours=h), level) for h, level in moves)
    days = days_out_of_stock(levels, start=START, end=END, on_hand_at_start=at_start)
    assert 0 <= days <= 90
    hours_at_zero = 0
    level, since = at_start, 0
    for h, after in sorted(moves):
        hours_at_zero += (h - since) if level == 0 else 0
        level, since = after, h
    hours_at_zero += (90 * 24 - since) if level == 0 else 0
    assert days == hours_at_zero // 24


@given(
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 200)), min_size=1, max_size=8),
    amcs,
)
def test_rotation_never_uses_more_than_the_consumption(
    lots_spec: list[tuple[int, int]], amc: Decimal
) -> None:
    today = date(2026, 12, 1)
    lots = [lot(f"L{i}", today + timedelta(days=d), q) for i, (d, q) in enumerate(lots_spec)]
    listed = rotation(lots, amc, today=today)
    last = max(d for d, _ in lots_spec)
    assert sum(r.consumed_before_expiry for r in listed) <= math.floor(
        amc / MONTH_DAYS * (last + 1)
    )
    for r in listed:
        assert r.surplus > 0
        assert r.consumed_before_expiry + r.surplus == r.available


@pytest.mark.parametrize("available", [0, 7])
def test_no_consumption_means_no_months_of_stock(available: int) -> None:
    assert months_of_stock(available, Decimal("0.00")) is None
