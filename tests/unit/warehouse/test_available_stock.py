"""Available stock leaves out expired lots: the rule, its boundaries and its agreement with
FEFO picking (the same expiry rule), without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.warehouse.test_domain import TODAY, lot, lot_strategy
from warehouse.domain.model import (
    LotStock,
    available_stock,
    expired_units,
    is_expired,
    is_pickable,
    local_today,
)
from warehouse.service_layer.expiry import MIDNIGHT_MARGIN_S, seconds_until


def level_of(lots: list[LotStock], today: date) -> tuple[int, int, int, int]:
    on_hand = sum(x.on_hand for x in lots)
    reserved = sum(x.reserved for x in lots)
    expired = expired_units(lots, today)
    return on_hand, reserved, expired, available_stock(on_hand, reserved, expired)


def test_a_lot_is_expired_from_the_day_after_its_expiry_date() -> None:
    assert not is_expired(TODAY, TODAY)  # usable through its last day
    assert is_expired(TODAY - timedelta(days=1), TODAY)
    assert not is_expired(None, TODAY)  # no expiry date: never expires


def test_expired_units_stay_on_hand_but_are_not_available() -> None:
    lots = [
        lot("GONE", TODAY - timedelta(days=3), 12),
        lot("LAST-DAY", TODAY, 5),
        lot("FRESH", TODAY + timedelta(days=90), 40, reserved=10),
        lot("NO-EXPIRY", None, 7),
    ]
    assert level_of(lots, TODAY) == (64, 10, 12, 42)
    # the next day, LAST-DAY has expired too, with nothing having moved
    assert level_of(lots, TODAY + timedelta(days=1)) == (64, 10, 17, 37)


def test_reserved_units_of_an_expired_lot_are_counted_once() -> None:
    """Picked before it expired, shipped after: reserved, not also expired."""
    lots = [lot("PICKED", TODAY - timedelta(days=1), 20, reserved=15)]
    assert level_of(lots, TODAY) == (20, 15, 5, 0)


def test_the_expiry_day_is_the_day_in_shanghai() -> None:
    # 2026-11-29 16:30 UTC is already 2026-11-30 00:30 in Shanghai
    now = datetime(2026, 11, 29, 16, 30, tzinfo=UTC)
    assert local_today(now) == date(2026, 11, 30)
    assert is_expired(date(2026, 11, 29), local_today(now))


@settings(max_examples=300, deadline=None)
@given(lots=st.lists(lot_strategy, max_size=12), min_days=st.integers(0, 60))
def test_available_is_never_negative_and_covers_every_pickable_unit(
    lots: list[LotStock], min_days: int
) -> None:
    """The same expiry rule as picking: nothing pickable is ever left out of available, and
    with no pick window (0 days) available is exactly what picking could take."""
    on_hand, reserved, expired, available = level_of(lots, TODAY)
    assert 0 <= expired <= on_hand - reserved
    assert available >= 0
    pickable = sum(x.available for x in lots if is_pickable(x, today=TODAY, min_days=min_days))
    assert pickable <= available
    exactly = sum(x.available for x in lots if is_pickable(x, today=TODAY, min_days=0))
    assert exactly == available


def test_the_levels_are_refreshed_just_after_midnight_in_shanghai() -> None:
    # 2026-11-29 15:00 UTC is 23:00 in Shanghai: one hour to midnight, plus the margin
    wait = seconds_until(0, datetime(2026, 11, 29, 15, 0, tzinfo=UTC)) + MIDNIGHT_MARGIN_S
    assert wait == 3600 + MIDNIGHT_MARGIN_S
    woke = datetime(2026, 11, 29, 15, 0, tzinfo=UTC) + timedelta(seconds=wait)
    assert local_today(woke) == date(2026, 11, 30)
