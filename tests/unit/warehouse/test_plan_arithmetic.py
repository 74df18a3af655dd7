"""The arithmetic of a season plan: target = people × norm rounded up, the gap never negative,
coverage counting each item only up to its target."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warehouse.domain.plans import coverage_of, gap_of, next_plan_status, norm_target


@pytest.mark.parametrize(
    ("people", "norm", "target"),
    [
        (101, "0.5", 51),  # 50.5 blankets → 51
        (100, "0.5", 50),
        (3, "0.333", 1),  # 0.999 → 1
        (1000, "0.001", 1),
        (0, "2", 0),
        (7, "0", 0),
        (12, "1.25", 15),
    ],
)
def test_target_is_people_times_norm_rounded_up(people: int, norm: str, target: int) -> None:
    assert norm_target(people, Decimal(norm)) == target


@given(st.integers(0, 10**6), st.decimals(0, 1000, places=3))
def test_target_covers_everyone_and_by_less_than_one_unit(people: int, norm: Decimal) -> None:
    target = norm_target(people, norm)
    assert target >= people * norm > target - 1


def test_negative_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        norm_target(-1, Decimal(1))


@given(st.integers(0, 10**6), st.integers(-(10**6), 10**6))
def test_gap_is_never_negative_and_closes_the_target(target: int, held: int) -> None:
    gap = gap_of(target, held)
    assert gap >= 0
    assert held + gap >= target
    assert gap == 0 or held + gap == target


def test_coverage_counts_a_surplus_only_up_to_its_target() -> None:
    # 40 of 50 blankets, 90 of 30 bottles: the water surplus hides no blanket gap
    assert coverage_of([(50, 40), (30, 90)]) == pytest.approx((40 + 30) / 80)
    assert coverage_of([(10, 0)]) == 0
    assert coverage_of([(10, 25)]) == 1
    assert coverage_of([]) is None
    assert coverage_of([(0, 5)]) is None


def test_plan_status_moves_draft_active_closed_only() -> None:
    assert next_plan_status("draft", "activate") == "active"
    assert next_plan_status("active", "close") == "closed"
    for status, action in (("draft", "close"), ("closed", "activate"), ("active", "activate")):
        with pytest.raises(ValueError, match="cannot"):
            next_plan_status(status, action)
