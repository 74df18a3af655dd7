"""The allocation engine: designation respected, oldest first, never overspent, exact fen."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from donation.domain.allocation import Fund, InsufficientFunds, allocate, available, eligible

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PROJECTS = ["A", "B", "C"]


def fund(n: int, project: str | None, fen: int, days: int | None = None) -> Fund:
    return Fund(
        uuid.UUID(int=n + 1), project, T0 + timedelta(days=n if days is None else days), fen
    )


def test_designated_first_then_unrestricted_oldest_first() -> None:
    funds = [
        fund(0, None, 500),  # oldest, unrestricted
        fund(1, "B", 10_000),  # other project: never
        fund(2, "A", 300),
        fund(3, "A", 200),
        fund(4, None, 1_000),
    ]
    shares = allocate(funds, "A", 1_200)
    assert [(s.donation_id.int - 1, s.amount_fen) for s in shares] == [
        (2, 300),
        (3, 200),
        (0, 500),
        (4, 200),
    ]


def test_beyond_available_is_refused_with_the_figures() -> None:
    funds = [fund(0, "A", 100), fund(1, None, 50), fund(2, "B", 1_000)]
    assert available(funds, "A") == 150
    with pytest.raises(InsufficientFunds) as caught:
        allocate(funds, "A", 151)
    assert caught.value.available_fen == 150
    assert caught.value.requested_fen == 151


def test_exhausted_funds_are_skipped() -> None:
    funds = [fund(0, "A", 0), fund(1, "A", 7)]
    assert [s.amount_fen for s in allocate(funds, "A", 7)] == [7]


def test_same_instant_breaks_ties_by_id() -> None:
    funds = [fund(5, None, 10, days=0), fund(3, None, 10, days=0)]
    assert [s.donation_id.int - 1 for s in allocate(funds, "A", 15)] == [3, 5]


def test_non_positive_amount_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="positive"):
        allocate([fund(0, None, 10)], "A", 0)


funds_strategy = st.lists(
    st.tuples(
        st.sampled_from([*PROJECTS, None]),
        st.integers(min_value=0, max_value=5_000_000),
        st.integers(min_value=0, max_value=400),
    ),
    max_size=30,
).map(lambda rows: [fund(n, p, fen, days) for n, (p, fen, days) in enumerate(rows)])


@settings(max_examples=200, deadline=None)
@given(
    funds=funds_strategy,
    project=st.sampled_from(PROJECTS),
    amount=st.integers(min_value=1, max_value=20_000_000),
)
def test_property_allocation_is_exact_respects_designation_and_age(
    funds: list[Fund], project: str, amount: int
) -> None:
    by_id = {f.donation_id: f for f in funds}
    total = available(funds, project)
    if amount > total:
        with pytest.raises(InsufficientFunds):
            allocate(funds, project, amount)
        return
    shares = allocate(funds, project, amount)
    # exact fen: the shares sum to the disbursement, each positive, one per gift
    assert sum(s.amount_fen for s in shares) == amount
    assert all(s.amount_fen > 0 for s in shares)
    assert len({s.donation_id for s in shares}) == len(shares)
    for s in shares:
        source = by_id[s.donation_id]
        # designation respected: a designated gift funds only its own project
        assert source.project_code in (None, project)
        # never spent beyond what is left of it
        assert s.amount_fen <= source.available_fen
    # order: the project's own gifts before unrestricted ones, oldest first within each;
    # every gift used before the last one is used in full
    order = eligible(funds, project)
    used = [s.donation_id for s in shares]
    assert used == [f.donation_id for f in order[: len(used)]]
    for s in shares[:-1]:
        assert s.amount_fen == by_id[s.donation_id].available_fen
    keys = [(by_id[i].project_code is None, by_id[i].received_at) for i in used]
    assert keys == sorted(keys)


@settings(max_examples=100, deadline=None)
@given(funds=funds_strategy, amounts=st.lists(st.integers(1, 3_000_000), max_size=8))
def test_property_successive_disbursements_never_overspend(
    funds: list[Fund], amounts: list[int]
) -> None:
    """Apply disbursements one after another (as approvals do): no gift ever goes below zero
    and used + left always equals what each gift had."""
    left = {f.donation_id: f.available_fen for f in funds}
    original = dict(left)
    for n, amount in enumerate(amounts):
        project = PROJECTS[n % len(PROJECTS)]
        current = [
            Fund(f.donation_id, f.project_code, f.received_at, left[f.donation_id]) for f in funds
        ]
        try:
            shares = allocate(current, project, amount)
        except InsufficientFunds:
            assert amount > available(current, project)
            continue
        for s in shares:
            left[s.donation_id] -= s.amount_fen
            assert left[s.donation_id] >= 0
    spent = sum(original.values()) - sum(left.values())
    assert spent == sum(original[i] - left[i] for i in original)
    assert all(0 <= left[i] <= original[i] for i in original)
