"""Goods value (warehouse.domain.valuation): hand-worked figures, the period's edges, and the
books balancing over random histories that a simulated warehouse (lots, shipments, sign-offs)
lives through."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.domain.valuation import (
    EFFECT,
    INTO_BOOKS,
    OFF_BOOKS,
    Amount,
    Balance,
    Figures,
    Flow,
    Movement,
    Period,
    PeriodRefused,
    flow_of_card,
    flow_of_sign_off,
    totals_of,
    value_goods,
    yuan,
)

F = Flow
MARCH = Period(date(2024, 3, 1), date(2024, 3, 31))


def at(day: str, hhmmss: str = "12:00:00") -> datetime:
    """A time given in Asia/Shanghai (UTC+8, no summer time)."""
    local = datetime.fromisoformat(f"{day}T{hhmmss}")
    return (local - timedelta(hours=8)).replace(tzinfo=UTC)


def mv(warehouse: str, flow: Flow, quantity: int, value: int, when: datetime) -> Movement:
    return Movement(warehouse, "food", flow, quantity, value, when)


# District D and station S, one category (food). Unit values: the gift's lot 500 fen, the
# purchase's lot 300 fen.
#
#   02-20  D receives a gift of 100 @ 500                      D on hand 100 / 50,000
#   02-25  D ships 10 (gift lot) to a shelter                  D on hand 90 / 45,000, transit 10
#   --- 03-01 (opening: D on hand 90 / 45,000, in transit 10 / 5,000) ---
#   03-02  shelter signs for 8 (4,000), hands back 2 (1,000)   D on hand 92, transit 0
#   03-05  D receives a purchase of 50 @ 300 (15,000)          D on hand 142 / 61,000
#   03-10  D ships a transfer of 20 (gift lot, 10,000) to S    D on hand 122 / 51,000, transit 20
#   03-11  S receives 18 (9,000), 2 short (1,000)              D transit 0; S on hand 18 / 9,000
#   03-15  D writes off 3 of the gift lot (1,500)              D on hand 119 / 49,500
#   03-20  D's count finds 1 of the purchase (300)             D on hand 120 / 49,800
#   04-01  D receives a gift of 5 — after the period
#
# D: 90 + 10 held = 100 / 50,000 at the opening; + 15,000 procured + 300 gain − 4,000
# delivered − 9,000 transferred out − 1,000 lost − 1,500 written off = 49,800 closing, all on
# hand (120 units). S: 0 + 9,000 transferred in = 9,000 (18 units).
HISTORY = [
    mv("D", F.RECEIVED_DONATED, 100, 50_000, at("2024-02-20")),
    mv("D", F.SHIPPED, 10, 5_000, at("2024-02-25")),
    mv("D", F.DELIVERED, 8, 4_000, at("2024-03-02")),
    mv("D", F.RETURNED, 2, 1_000, at("2024-03-02")),
    mv("D", F.RECEIVED_PROCURED, 50, 15_000, at("2024-03-05")),
    mv("D", F.SHIPPED, 20, 10_000, at("2024-03-10")),
    mv("D", F.TRANSFERRED_OUT, 18, 9_000, at("2024-03-11")),
    mv("D", F.LOST_IN_TRANSIT, 2, 1_000, at("2024-03-11")),
    mv("S", F.RECEIVED_TRANSFER, 18, 9_000, at("2024-03-11")),
    mv("D", F.WRITTEN_OFF, 3, 1_500, at("2024-03-15")),
    mv("D", F.COUNT_GAIN, 1, 300, at("2024-03-20")),
    mv("D", F.RECEIVED_DONATED, 5, 2_500, at("2024-04-01")),
]


def test_the_hand_worked_month() -> None:
    figures = value_goods(HISTORY, MARCH)
    assert set(figures) == {("D", "food"), ("S", "food")}
    d, s = figures["D", "food"], figures["S", "food"]
    assert d.opening == Balance(Amount(90, 45_000), Amount(10, 5_000))
    assert d.closing == Balance(Amount(120, 49_800), Amount(0, 0))
    assert {f: d.value_of(f) for f in Flow} == {
        F.RECEIVED_DONATED: 0,
        F.RECEIVED_PROCURED: 15_000,
        F.RECEIVED_TRANSFER: 0,
        F.COUNT_GAIN: 300,
        F.SHIPPED: 10_000,
        F.RETURNED: 1_000,
        F.DELIVERED: 4_000,
        F.TRANSFERRED_OUT: 9_000,
        F.LOST_IN_TRANSIT: 1_000,
        F.WRITTEN_OFF: 1_500,
    }
    assert s.opening == Balance()
    assert s.closing == Balance(Amount(18, 9_000))
    assert s.flows == {F.RECEIVED_TRANSFER: Amount(18, 9_000)}


def test_totals_per_warehouse_category_and_overall() -> None:
    figures = value_goods(HISTORY, MARCH)
    totals = totals_of(figures)
    assert totals.warehouses == {"D": figures["D", "food"], "S": figures["S", "food"]}
    food = totals.categories["food"]
    assert food == totals.overall
    assert food.opening.held == Amount(100, 50_000)
    assert food.closing.held == Amount(138, 58_800)
    # a transfer between two of the branch's warehouses is no goods in or out of the branch
    assert food.value_of(F.RECEIVED_TRANSFER) == food.value_of(F.TRANSFERRED_OUT) == 9_000
    assert food.received == Amount(68, 24_000)


def test_the_period_is_whole_shanghai_days_both_ends_included() -> None:
    edges = [
        mv("D", F.RECEIVED_DONATED, 1, 1, at("2024-02-29", "23:59:59")),  # before: opening
        mv("D", F.RECEIVED_DONATED, 10, 10, at("2024-03-01", "00:00:00")),  # first instant
        mv("D", F.RECEIVED_DONATED, 100, 100, at("2024-03-31", "23:59:59")),  # last second
        mv("D", F.RECEIVED_DONATED, 1000, 1000, at("2024-04-01", "00:00:00")),  # after: nowhere
    ]
    (d,) = value_goods(edges, MARCH).values()
    assert d.opening.on_hand == Amount(1, 1)
    assert d.of(F.RECEIVED_DONATED) == Amount(110, 110)
    assert d.closing.on_hand == Amount(111, 111)
    assert MARCH.start == datetime(2024, 2, 29, 16, tzinfo=UTC)
    assert MARCH.end == datetime(2024, 3, 31, 16, tzinfo=UTC)


def test_a_warehouse_and_category_with_nothing_to_show_is_left_out() -> None:
    # received and written off in full before the period: every figure of March is zero
    gone = [
        mv("D", F.RECEIVED_DONATED, 4, 400, at("2024-01-02")),
        mv("D", F.WRITTEN_OFF, 4, 400, at("2024-01-03")),
    ]
    assert value_goods(gone, MARCH) == {}
    assert totals_of({}).overall == Figures()


@pytest.mark.parametrize(
    ("movement", "source", "delta", "flow"),
    [
        ("receipt", "donation", 5, F.RECEIVED_DONATED),
        ("receipt", "procurement", 5, F.RECEIVED_PROCURED),
        ("transfer_in", "transfer", 5, F.RECEIVED_TRANSFER),
        ("receipt", "transfer", 5, F.RECEIVED_TRANSFER),
        ("adjustment", "donation", -2, F.WRITTEN_OFF),
        ("adjustment", "count", 3, F.COUNT_GAIN),
        ("adjustment", "procurement", 1, F.COUNT_GAIN),  # a correction upwards
        ("shipment", "donation", -4, F.SHIPPED),
        ("return", "procurement", 1, F.RETURNED),
    ],
)
def test_each_stock_card_row_is_one_flow(
    movement: str, source: str, delta: int, flow: Flow
) -> None:
    assert flow_of_card(movement, source, delta) is flow


@pytest.mark.parametrize(
    ("movement", "source", "delta"),
    [
        ("reservation", "donation", 0),
        ("receipt", "donation", -1),
        ("shipment", "donation", 3),
        ("receipt", "count", 2),
        ("relabel", "donation", 1),
    ],
)
def test_a_row_no_flow_explains_is_refused(movement: str, source: str, delta: int) -> None:
    with pytest.raises(ValueError, match="flow"):
        flow_of_card(movement, source, delta)


def test_signed_for_units_go_to_recipients_or_another_warehouse() -> None:
    assert flow_of_sign_off("dispatch") is F.DELIVERED
    assert flow_of_sign_off("transfer") is F.TRANSFERRED_OUT
    with pytest.raises(ValueError, match="kind"):
        flow_of_sign_off("gift")


@pytest.mark.parametrize(
    ("fen", "text"), [(0, "0.00"), (5, "0.05"), (12_345, "123.45"), (-250, "-2.50")]
)
def test_yuan_is_fen_exactly(fen: int, text: str) -> None:
    assert yuan(fen) == Decimal(text)
    assert str(yuan(fen)) == text


def test_defaults_this_year_to_today() -> None:
    today = date(2025, 6, 15)
    assert Period.of(None, None, today=today) == Period(date(2025, 1, 1), today)
    assert Period.of(None, date(2023, 5, 1), today=today) == Period(
        date(2023, 1, 1), date(2023, 5, 1)
    )
    assert Period.of(date(2025, 3, 1), None, today=today) == Period(date(2025, 3, 1), today)


def test_a_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(PeriodRefused, match="早于") as refused:
        Period(date(2024, 3, 2), date(2024, 3, 1))
    assert refused.value.details == {"from": "2024-03-02", "to": "2024-03-01"}
    assert Period(date(2024, 3, 1), date(2024, 3, 1)).end - MARCH.start == timedelta(days=1)


def test_five_years_at_most() -> None:
    assert Period(date(2020, 1, 1), date(2024, 12, 31))  # five years exactly
    with pytest.raises(PeriodRefused, match="5 年"):
        Period(date(2020, 1, 1), date(2025, 1, 1))
    assert Period(date(2024, 2, 29), date(2029, 2, 27))
    with pytest.raises(PeriodRefused, match="5 年"):
        Period(date(2024, 2, 29), date(2029, 2, 28))


@pytest.mark.parametrize(
    ("first", "last"), [(date(1, 1, 1), date(1, 1, 2)), (date(9999, 12, 30), date(9999, 12, 31))]
)
def test_dates_out_of_any_books_are_refused(first: date, last: date) -> None:
    with pytest.raises(PeriodRefused, match="1900"):
        Period(first, last)
    with pytest.raises(PeriodRefused, match="1900"):
        Period.of(None, last, today=date(2025, 1, 1))


def test_a_movement_is_never_negative_and_always_dated_in_a_zone() -> None:
    with pytest.raises(ValueError, match="negative"):
        mv("D", F.SHIPPED, -1, 0, at("2024-03-01"))
    with pytest.raises(ValueError, match="aware"):
        mv("D", F.SHIPPED, 1, 0, datetime(2024, 3, 1))


# --------------------------------------------------------------- books balance, simulated


@dataclass
class Lot:
    warehouse: str
    category: str
    unit_value: int
    on_hand: int = 0


@dataclass
class Shipment:
    lot: Lot
    kind: str  # dispatch | transfer
    quantity: int


@dataclass
class Warehouses:
    """Lots and shipments as the warehouse keeps them; every change also written as the
    movements the report would read, and the stock (on hand, in transit) snapshotted."""

    lots: list[Lot] = field(default_factory=list)
    shipped: list[Shipment] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)
    snapshots: list[tuple[datetime, dict[tuple[str, str], Balance]]] = field(default_factory=list)

    def stock(self) -> dict[tuple[str, str], Balance]:
        on_hand: dict[tuple[str, str], Amount] = defaultdict(Amount)
        transit: dict[tuple[str, str], Amount] = defaultdict(Amount)
        for lot in self.lots:
            on_hand[lot.warehouse, lot.category] += Amount(
                lot.on_hand, lot.on_hand * lot.unit_value
            )
        for s in self.shipped:
            key = (s.lot.warehouse, s.lot.category)
            transit[key] += Amount(s.quantity, s.quantity * s.lot.unit_value)
        keys = set(on_hand) | set(transit)
        return {k: Balance(on_hand[k], transit[k]) for k in keys}

    def record(self, lot: Lot, flow: Flow, units: int, when: datetime) -> None:
        if units:
            self.movements.append(
                Movement(lot.warehouse, lot.category, flow, units, units * lot.unit_value, when)
            )


WAREHOUSES = ("D", "S")
CATEGORY_NAMES = ("food", "water")
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def simulate(data: st.DataObject, steps: int) -> Warehouses:
    world = Warehouses()
    draw = data.draw
    for step in range(steps):
        when = BASE + timedelta(hours=7 * step)
        ops = ["receive"]
        if any(lot.on_hand for lot in world.lots):
            ops += ["ship", "write_off", "gain"]
        if world.shipped:
            ops.append("sign_off")
        op = draw(st.sampled_from(ops))
        stocked = [lot for lot in world.lots if lot.on_hand]
        if op == "receive":
            lot = Lot(
                draw(st.sampled_from(WAREHOUSES)),
                draw(st.sampled_from(CATEGORY_NAMES)),
                draw(st.integers(0, 100_000)),
            )
            lot.on_hand = draw(st.integers(1, 500))
            world.lots.append(lot)
            flow = draw(st.sampled_from([F.RECEIVED_DONATED, F.RECEIVED_PROCURED]))
            world.record(lot, flow, lot.on_hand, when)
        elif op == "ship":
            lot = draw(st.sampled_from(stocked))
            units = draw(st.integers(1, lot.on_hand))
            lot.on_hand -= units
            world.shipped.append(
                Shipment(lot, draw(st.sampled_from(["dispatch", "transfer"])), units)
            )
            world.record(lot, F.SHIPPED, units, when)
        elif op in ("write_off", "gain"):
            lot = draw(st.sampled_from(stocked))
            units = draw(st.integers(1, lot.on_hand if op == "write_off" else 50))
            lot.on_hand += -units if op == "write_off" else units
            world.record(lot, F.WRITTEN_OFF if op == "write_off" else F.COUNT_GAIN, units, when)
        else:
            s = world.shipped.pop(draw(st.integers(0, len(world.shipped) - 1)))
            returned = draw(st.integers(0, s.quantity))
            lost = draw(st.integers(0, s.quantity - returned)) if s.kind == "transfer" else 0
            arrived = s.quantity - returned - lost
            s.lot.on_hand += returned
            world.record(s.lot, F.RETURNED, returned, when)
            world.record(s.lot, flow_of_sign_off(s.kind), arrived, when)
            world.record(s.lot, F.LOST_IN_TRANSIT, lost, when)
            if s.kind == "transfer" and arrived:
                target = "S" if s.lot.warehouse == "D" else "D"
                landed = Lot(target, s.lot.category, s.lot.unit_value, arrived)
                world.lots.append(landed)
                world.record(landed, F.RECEIVED_TRANSFER, arrived, when)
        world.snapshots.append((when, world.stock()))
    return world


def stock_before(world: Warehouses, instant: datetime) -> dict[tuple[str, str], Balance]:
    stock: dict[tuple[str, str], Balance] = {}
    for when, snapshot in world.snapshots:
        if when < instant:
            stock = snapshot
    return stock


def _nonzero(balances: dict[tuple[str, str], Balance]) -> dict[tuple[str, str], Balance]:
    return {k: b for k, b in balances.items() if b}


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(1, 60), st.integers(0, 20), st.integers(0, 20))
def test_the_books_balance_over_any_history(
    data: st.DataObject, steps: int, first_day: int, days: int
) -> None:
    world = simulate(data, steps)
    period = Period(
        date(2024, 1, 1) + timedelta(days=first_day),
        date(2024, 1, 1) + timedelta(days=first_day + days),
    )
    figures = value_goods(world.movements, period)

    # opening and closing are what the lots and the unsigned shipments held at those instants
    assert _nonzero({k: f.opening for k, f in figures.items()}) == _nonzero(
        stock_before(world, period.start)
    )
    assert _nonzero({k: f.closing for k, f in figures.items()}) == _nonzero(
        stock_before(world, period.end)
    )

    for f in [*figures.values(), totals_of(figures).overall]:
        received = f.of(F.RECEIVED_DONATED) + f.of(F.RECEIVED_PROCURED) + f.of(F.RECEIVED_TRANSFER)
        out = f.of(F.DELIVERED) + f.of(F.TRANSFERRED_OUT) + f.of(F.LOST_IN_TRANSIT)
        # opening + in − out − written off + gains = closing (units and fen)
        assert (
            f.opening.held + received - out - f.of(F.WRITTEN_OFF) + f.of(F.COUNT_GAIN)
            == f.closing.held
        )
        # on hand alone: shipments leave it, returns come back to it
        assert (
            f.opening.on_hand
            + received
            + f.of(F.COUNT_GAIN)
            + f.of(F.RETURNED)
            - f.of(F.SHIPPED)
            - f.of(F.WRITTEN_OFF)
            == f.closing.on_hand
        )
        assert f.closing.on_hand.quantity >= 0
        assert f.closing.in_transit.quantity >= 0

    overall = totals_of(figures).overall
    assert overall.value_of(F.RECEIVED_TRANSFER) == overall.value_of(F.TRANSFERRED_OUT)


@settings(max_examples=100, deadline=None)
@given(st.data(), st.integers(1, 40), st.integers(0, 15))
def test_order_and_summing_within_a_phase_change_nothing(
    data: st.DataObject, steps: int, first_day: int
) -> None:
    world = simulate(data, steps)
    period = Period(
        date(2024, 1, 1) + timedelta(days=first_day),
        date(2024, 1, 1) + timedelta(days=first_day + 3),
    )
    expected = value_goods(world.movements, period)

    shuffled = list(world.movements)
    random.Random(steps).shuffle(shuffled)
    assert value_goods(shuffled, period) == expected

    # what SQL hands over: one movement per warehouse, category, flow and phase
    summed: dict[tuple[str, str, Flow, str], Movement] = {}
    for m in world.movements:
        if m.at >= period.end:
            continue
        key = (m.warehouse, m.category, m.flow, "before" if m.at < period.start else "within")
        if key in summed:
            prior = summed[key]
            summed[key] = Movement(
                m.warehouse,
                m.category,
                m.flow,
                prior.quantity + m.quantity,
                prior.value_fen + m.value_fen,
                max(prior.at, m.at),
            )
        else:
            summed[key] = m
    assert value_goods(summed.values(), period) == expected


def test_every_flow_moves_goods_somewhere() -> None:
    assert set(EFFECT) == set(Flow)
    assert set(INTO_BOOKS) | set(OFF_BOOKS) | {F.SHIPPED, F.RETURNED} == set(Flow)
    for flow in INTO_BOOKS:
        assert sum(EFFECT[flow]) == 1
    for flow in OFF_BOOKS:
        assert sum(EFFECT[flow]) == -1
    assert sum(EFFECT[F.SHIPPED]) == sum(EFFECT[F.RETURNED]) == 0
