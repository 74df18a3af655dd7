"""Warehouse domain rules without I/O: FEFO picking (property-based), the dispatch state
machine, returns allocation and the masking of a recipient's name."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.domain.errors import InsufficientStock, SelfApproval, TransitionNotAllowed
from warehouse.domain.model import (
    STATUSES,
    TRANSITIONS,
    LotStock,
    allocate_returns,
    check_approver,
    fefo_order,
    is_pickable,
    mask_person_name,
    next_status,
    pick_fefo,
)

TODAY = date(2026, 11, 29)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def lot(no: str, expiry: date | None, on_hand: int, reserved: int = 0, day: int = 0) -> LotStock:
    return LotStock(uuid.uuid4(), no, expiry, on_hand, reserved, T0 + timedelta(days=day))


def test_fefo_takes_the_earliest_expiry_first_and_skips_unpickable_lots() -> None:
    lots = [
        lot("NO-EXPIRY", None, 100),
        lot("LATE", TODAY + timedelta(days=300), 10),
        lot("EXPIRED", TODAY - timedelta(days=1), 50),
        lot("TOO-SOON", TODAY + timedelta(days=6), 50),
        lot("EARLY", TODAY + timedelta(days=30), 5, reserved=2),
    ]
    picks = pick_fefo(lots, 20, today=TODAY, min_days=7, item="QUILT")
    assert [(p.lot_no, q) for p, q in picks] == [("EARLY", 3), ("LATE", 10), ("NO-EXPIRY", 7)]


def test_a_lot_expiring_exactly_at_the_minimum_is_pickable() -> None:
    edge = lot("EDGE", TODAY + timedelta(days=7), 1)
    assert is_pickable(edge, today=TODAY, min_days=7)
    assert not is_pickable(edge, today=TODAY, min_days=8)
    assert is_pickable(lot("TODAY", TODAY, 1), today=TODAY, min_days=0)  # last usable day
    assert not is_pickable(lot("YESTERDAY", TODAY - timedelta(days=1), 1), today=TODAY, min_days=0)


def test_insufficient_stock_fails_whole_and_says_how_much_is_pickable() -> None:
    lots = [lot("A", TODAY + timedelta(days=30), 4), lot("X", TODAY - timedelta(days=3), 100)]
    with pytest.raises(InsufficientStock) as caught:
        pick_fefo(lots, 5, today=TODAY, min_days=7, item="WATER")
    assert caught.value.details == {"item_code": "WATER", "requested": 5, "pickable": 4}
    assert "库存不足" in caught.value.message


def test_ties_on_expiry_go_to_the_oldest_receipt() -> None:
    same = TODAY + timedelta(days=50)
    newer, older = lot("NEW", same, 5, day=10), lot("OLD", same, 5, day=1)
    assert [x.lot_no for x in fefo_order([newer, older])] == ["OLD", "NEW"]


lot_strategy = st.builds(
    lambda offset, on_hand, reserved_share, day: lot(
        f"L{uuid.uuid4().hex[:6]}",
        None if offset is None else TODAY + timedelta(days=offset),
        on_hand,
        min(on_hand, reserved_share),
        day,
    ),
    st.one_of(st.none(), st.integers(-60, 400)),
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 365),
)


@settings(max_examples=300, deadline=None)
@given(
    lots=st.lists(lot_strategy, max_size=12),
    quantity=st.integers(1, 300),
    min_days=st.integers(0, 60),
)
def test_fefo_properties(lots: list[LotStock], quantity: int, min_days: int) -> None:
    """Total picked equals the request or the request fails; never an expired lot, never one
    expiring within the minimum; never more than a lot's available; earliest expiry first."""
    pickable = [x for x in lots if is_pickable(x, today=TODAY, min_days=min_days)]
    total_pickable = sum(x.available for x in pickable)
    try:
        picks = pick_fefo(lots, quantity, today=TODAY, min_days=min_days)
    except InsufficientStock:
        assert total_pickable < quantity
        return
    assert sum(q for _, q in picks) == quantity
    assert total_pickable >= quantity
    for chosen, q in picks:
        assert 0 < q <= chosen.available
        assert chosen.expiry_date is None or chosen.expiry_date >= TODAY + timedelta(days=min_days)
        assert chosen.expiry_date is None or chosen.expiry_date >= TODAY  # never expired
    assert len({c.lot_id for c, _ in picks}) == len(picks)
    # FEFO: every lot but the last is taken whole, and no skipped pickable lot expires earlier
    for chosen, q in picks[:-1]:
        assert q == chosen.available
    last_key = fefo_order([c for c, _ in picks])[-1]
    taken = {c.lot_id for c, _ in picks}
    for other in pickable:
        if other.lot_id not in taken:
            assert fefo_order([other, last_key])[0] is last_key


# --------------------------------------------------------------------------- state machine

HAPPY = ["approve", "pick", "ship", "deliver"]


def test_the_happy_path() -> None:
    status = "requested"
    for action in HAPPY:
        status = next_status(status, action)
    assert status == "delivered"


@given(st.lists(st.sampled_from(sorted(TRANSITIONS)), max_size=10))
def test_any_sequence_of_actions_stays_in_the_machine(actions: list[str]) -> None:
    status = "requested"
    for action in actions:
        allowed, target = TRANSITIONS[action]
        if status in allowed:
            status = next_status(status, action)
            assert status == target
        else:
            with pytest.raises(TransitionNotAllowed):
                next_status(status, action)
        assert status in STATUSES


@pytest.mark.parametrize("final", ["delivered", "rejected", "cancelled", "shipped"])
def test_no_reject_or_cancel_after_shipping(final: str) -> None:
    for action in ("reject", "cancel"):
        with pytest.raises(TransitionNotAllowed):
            next_status(final, action)


def test_approver_must_not_be_the_requester() -> None:
    with pytest.raises(SelfApproval):
        check_approver("dispatcher", "dispatcher")
    check_approver("dispatcher", "approver")


def test_returns_go_back_to_the_latest_expiring_lots_first() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    shipped = [(a, 5, TODAY + timedelta(days=10)), (b, 5, TODAY + timedelta(days=90)), (c, 2, None)]
    assert allocate_returns(shipped, 6) == {c: 2, b: 4}
    with pytest.raises(ValueError, match="more returned"):
        allocate_returns(shipped, 13)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("李建华", "李*华"),
        ("王五", "王*"),
        ("欧阳明月", "欧阳*月"),
        ("司马相如", "司马*如"),
        ("张", "张*"),
        ("John Smith", "J. S."),
    ],
)
def test_recipient_names_are_masked(name: str, masked: str) -> None:
    assert mask_person_name(name) == masked


@given(st.text(alphabet="赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨", min_size=3, max_size=6))
def test_a_masked_name_never_contains_the_full_name(name: str) -> None:
    assert name not in mask_person_name(name)


def test_the_daily_scan_waits_until_its_hour_in_shanghai() -> None:
    from warehouse.service_layer.expiry import seconds_until

    # 2026-11-29 21:00 UTC is 05:00 next day in Shanghai: one hour to 06:00
    assert seconds_until(6, datetime(2026, 11, 29, 21, 0, tzinfo=UTC)) == 3600
    # exactly at the hour: the next run is tomorrow
    assert seconds_until(6, datetime(2026, 11, 29, 22, 0, tzinfo=UTC)) == 24 * 3600
