"""The preparedness sweep's change detection, on plain values (no database)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from shared.contracts.warehouse import PlanGapSignalV1, ReorderSignalV1
from shared.runtime import ServiceRuntime
from warehouse.config import WarehouseSettings
from warehouse.service_layer import preparedness_signals as signals
from warehouse.service_layer.preparedness_signals import (
    Change,
    Published,
    Signal,
    detect_changes,
    event_of,
    material,
    next_delay,
    plan_gap_signal,
    reorder_signal,
)

AT = datetime(2027, 6, 1, 2, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakePolicy:
    reorder_mos: Decimal | None = Decimal("3")
    target_mos: Decimal | None = Decimal("6")
    min_quantity: int | None = None
    max_quantity: int | None = None
    source: str = "category"


@dataclass(frozen=True)
class FakeSuggestion:
    quantity: int


@dataclass(frozen=True)
class FakeAssessment:
    below_reorder: bool
    suggestion: FakeSuggestion
    warehouse_code: str = "ST-XIKOU"
    warehouse_name: str = "溪口镇红十字备灾点"
    town: str | None = "溪口镇"
    item_code: str = "QUILT"
    item_name: str = "棉被"
    category: str = "clothing_bedding"
    unit: str = "床"
    available: int = 60
    in_transit: int = 0
    on_order: int = 0
    amc: Decimal = Decimal("40")
    mos: Decimal | None = Decimal("1.5")
    policy: FakePolicy = field(default_factory=FakePolicy)


@dataclass(frozen=True)
class FakeGap:
    gap: int
    plan_code: str = "TY-2027"
    plan_name: str = "2027年台风季备灾计划"
    town: str = "溪口镇"
    item_code: str = "TENT"
    item_name: str = "救灾帐篷"
    unit: str = "顶"
    target: int = 120
    held: int = 80
    in_transit: int = 0


def level(below: bool, suggested: int, **kw: Any) -> Signal:
    return reorder_signal(FakeAssessment(below, FakeSuggestion(suggested), **kw))


def gap(n: int, **kw: Any) -> Signal:
    return plan_gap_signal(FakeGap(n, **kw))


def stored(signal: Signal, version: int, *, active: bool | None = None) -> dict[str, Published]:
    on = signal.active if active is None else active
    return {signal.row_key: Published(signal.kind, signal.key, on, dict(signal.detail), version)}


def test_a_signal_never_on_is_not_published() -> None:
    assert detect_changes({}, [level(False, 0), gap(0)]) == []


def test_a_new_signal_turning_on_is_version_one() -> None:
    changes = detect_changes({}, [level(True, 160), gap(40)])
    assert [(c.signal.kind, c.transition, c.version) for c in changes] == [
        ("below_reorder", "on", 1),
        ("plan_gap", "on", 1),
    ]
    assert changes[0].signal.key == "ST-XIKOU/QUILT"
    assert changes[1].signal.key == "TY-2027/溪口镇/TENT"


def test_an_unchanged_signal_is_not_published_again() -> None:
    on = level(True, 160)
    assert detect_changes(stored(on, 3), [on]) == []
    off = level(False, 0)
    assert detect_changes(stored(off, 4), [off]) == []


def test_turning_off_and_on_again_bumps_the_version() -> None:
    on = level(True, 160)
    off = level(False, 0)
    [change] = detect_changes(stored(on, 3), [off])
    assert (change.transition, change.version, change.signal.active) == ("off", 4, False)
    [again] = detect_changes(stored(off, 4), [on])
    assert (again.transition, again.version) == ("on", 5)


@pytest.mark.parametrize(
    ("before", "now", "published"),
    [
        (160, 160, False),
        (160, 145, False),  # 9.4 % less
        (160, 144, True),  # 10 % less
        (160, 176, True),  # 10 % more
        (160, 175, False),
        (5, 6, True),  # small numbers: one unit is 20 %
        (0, 1, True),
    ],
)
def test_a_signal_staying_on_is_published_when_the_suggestion_moves_ten_percent(
    before: int, now: int, published: bool
) -> None:
    changes = detect_changes(stored(level(True, before), 2), [level(True, now)])
    assert bool(changes) is published
    if published:
        assert (changes[0].transition, changes[0].version) == ("changed", 3)
        assert changes[0].signal.detail["suggested_quantity"] == now


def test_small_moves_are_measured_against_the_last_published_suggestion() -> None:
    published = stored(level(True, 100), 1)
    # 95 is under 10 % from the 100 published, and so is 90 from 95, but not from 100
    assert detect_changes(published, [level(True, 95)]) == []
    [change] = detect_changes(published, [level(True, 90)])
    assert change.transition == "changed"


def test_a_plan_gap_is_published_whenever_it_changes_size() -> None:
    [change] = detect_changes(stored(gap(40), 1), [gap(39, held=81)])
    assert (change.transition, change.version, change.signal.detail["gap"]) == ("changed", 2, 39)
    assert detect_changes(stored(gap(40), 1), [gap(40, held=80, in_transit=10)]) == []


def test_a_closed_gap_is_published_as_off() -> None:
    [change] = detect_changes(stored(gap(40), 2), [gap(0, held=120)])
    assert (change.transition, change.version, change.signal.active) == ("off", 3, False)


def test_a_vanished_key_that_was_on_is_published_off_once_with_its_last_figures() -> None:
    on_level, on_gap = level(True, 160), gap(40)
    known = {
        **stored(on_level, 3),
        **stored(on_gap, 1),
        **stored(level(False, 0, item_code="X"), 2),
    }
    changes = detect_changes(known, [])
    assert [(c.signal.kind, c.transition, c.version, c.signal.active) for c in changes] == [
        ("below_reorder", "off", 4, False),
        ("plan_gap", "off", 2, False),
    ]
    assert changes[0].signal.detail == on_level.detail
    # after it was stored as off, nothing more
    off_rows = {
        c.signal.row_key: Published(c.signal.kind, c.signal.key, False, c.signal.detail, c.version)
        for c in changes
    }
    assert detect_changes(off_rows, []) == []


def test_the_same_codes_of_both_kinds_are_different_signals() -> None:
    a = Signal("below_reorder", "A/B", True, {"suggested_quantity": 1})
    b = Signal("plan_gap", "A/B", True, {"gap": 1})
    assert a.row_key != b.row_key
    assert len(detect_changes(stored(a, 1), [a, b])) == 1


def test_events_carry_decimals_with_two_places_and_the_flag() -> None:
    signal = level(True, 160, amc=Decimal("41.666667"), mos=Decimal("1.44"))
    event = event_of(Change(signal, 7, "on"), AT)
    assert isinstance(event, ReorderSignalV1)
    wire = event.model_dump(mode="json")
    assert wire["amc"] == "41.67"
    assert wire["mos"] == "1.44"
    assert wire["reorder_mos"] == "3.00"
    assert wire["below_reorder"] is True
    assert (wire["version"], wire["suggested_quantity"]) == (7, 160)
    off = event_of(Change(replace(signal, active=False), 8, "off"), AT)
    assert isinstance(off, ReorderSignalV1)
    assert off.below_reorder is False


def test_a_min_max_policy_has_no_months_and_nothing_consumed_has_no_mos() -> None:
    policy = FakePolicy(Decimal("3"), Decimal("6"), 20, 80, "item")
    signal = level(True, 70, policy=policy, mos=None, amc=Decimal(0), available=10)
    event = event_of(Change(signal, 1, "on"), AT)
    assert isinstance(event, ReorderSignalV1)
    assert (event.mos, event.reorder_mos, event.target_mos) == (None, None, None)
    assert (event.min_quantity, event.max_quantity) == (20, 80)
    months = event_of(Change(level(True, 70, policy=FakePolicy(min_quantity=20)), 1, "on"), AT)
    assert isinstance(months, ReorderSignalV1)
    assert (months.reorder_mos, months.min_quantity) == (Decimal("3.00"), None)


def test_plan_gap_events() -> None:
    event = event_of(Change(gap(40, held=80, in_transit=10), 2, "on"), AT)
    assert isinstance(event, PlanGapSignalV1)
    assert (event.open, event.gap, event.held, event.in_transit, event.version) == (
        True,
        40,
        80,
        10,
        2,
    )


@given(
    before=st.integers(min_value=0, max_value=10_000),
    now=st.integers(min_value=0, max_value=10_000),
)
def test_materiality_is_symmetric_in_its_threshold(before: int, now: int) -> None:
    old, new = {"suggested_quantity": before}, {"suggested_quantity": now}
    expected = now != before and abs(now - before) * 10 >= before
    assert material("below_reorder", old, new) is expected


def test_the_loop_interval_is_jittered_within_ten_percent() -> None:
    rng = random.Random(16)
    delays = [next_delay(300, rng) for _ in range(200)]
    assert all(270 <= d <= 330 for d in delays)
    assert len({round(d) for d in delays}) > 10


async def test_the_loop_counts_a_failed_sweep_and_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0

    async def failing(runtime: Any, **_: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise asyncio.CancelledError  # the service stops
        raise RuntimeError("数据库不可用 (database unavailable)")

    monkeypatch.setattr(signals, "run_sweep", failing)
    monkeypatch.setattr(signals, "next_delay", lambda interval, rng=None: 0.0)
    runtime = cast(ServiceRuntime, SimpleNamespace(settings=WarehouseSettings(environment="test")))
    failures = "sunshine_preparedness_sweep_failures_total"
    before = REGISTRY.get_sample_value(failures) or 0.0
    with pytest.raises(asyncio.CancelledError):
        await signals.sweep_loop(runtime)
    assert calls == 3
    assert (REGISTRY.get_sample_value(failures) or 0.0) - before == 2


def test_published_signals_are_counted_by_kind_and_transition() -> None:
    def value(kind: str, state: str) -> float:
        sample = REGISTRY.get_sample_value(
            "sunshine_preparedness_signals_published_total", {"kind": kind, "state": state}
        )
        return sample or 0.0

    before = (value("below_reorder", "on"), value("plan_gap", "off"), value("plan_gap", "changed"))
    result = signals.SweepResult(
        assessed=10,
        plan_gaps=4,
        reorder_on=2,
        reorder_off=0,
        reorder_changed=0,
        gap_open=0,
        gap_closed=3,
        gap_changed=0,
        assessed_at=AT,
    )
    assert result.published == 5
    signals.count_published(result)
    after = (value("below_reorder", "on"), value("plan_gap", "off"), value("plan_gap", "changed"))
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 3, 0]
