"""Scoring a project's evaluation: hand-worked examples and properties of the weighted score."""

from __future__ import annotations

import dataclasses
from fractions import Fraction as F

import pytest
from hypothesis import given
from hypothesis import strategies as st

from donation.domain.evaluation import (
    DEFAULT_INDICATORS,
    Indicator,
    check_indicators,
    evaluate,
    percentile,
    rate,
)


def test_the_default_weights_are_the_ministrys_fifty_thirty_ten_ten() -> None:
    evaluation = evaluate(DEFAULT_INDICATORS, {})
    weights = {
        d: sum(i.weight for i in DEFAULT_INDICATORS if i.dimension == d)
        for d in ("output", "benefit", "satisfaction", "budget_execution")
    }
    assert weights == {"output": 50, "benefit": 30, "satisfaction": 10, "budget_execution": 10}
    assert evaluation.total == 0  # nothing measured scores nothing, never "attained"
    assert not any(s.measured for s in evaluation.scores)


def test_a_hand_worked_project() -> None:
    # people 1 of 1 → 30; follow-ups 3 of 4 on time → 20 × 3/4 = 15;
    # P90 45 days against 30 (lower is better) → 15 × 30/45 = 10; disclosure 9/10 → 13.5;
    # satisfaction 4.2 of 4.5 → 10 × 42/45 = 9⅓; budget 80 000 of 100 000 fen → 8.
    actuals = {
        "people_reached": F(1),
        "follow_ups_on_time": F(3, 4),
        "gift_to_use_p90_days": F(45),
        "disclosure_on_time": F(9, 10),
        "satisfaction": F(42, 10),
        "budget_execution": rate(80_000, 100_000),
    }
    evaluation = evaluate(DEFAULT_INDICATORS, actuals)
    scores = {s.indicator.code: s.score for s in evaluation.scores}
    assert scores == {
        "people_reached": 30,
        "follow_ups_on_time": 15,
        "gift_to_use_p90_days": 10,
        "disclosure_on_time": F(27, 2),
        "satisfaction": F(28, 3),
        "budget_execution": 8,
    }
    assert evaluation.total == F(30 + 15 + 10 + 8) + F(27, 2) + F(28, 3)  # 85 ⁵⁄₆
    assert evaluation.by_dimension() == {
        "output": 45,
        "benefit": F(47, 2),
        "satisfaction": F(28, 3),
        "budget_execution": 8,
    }
    assert evaluation.grade == "良"


def test_over_attainment_is_capped_at_the_weight() -> None:
    spend_more = evaluate(DEFAULT_INDICATORS, {"budget_execution": F(3, 2)})
    assert spend_more.total == 10


def test_a_table_that_does_not_add_up_is_refused_with_every_problem() -> None:
    bad = [
        dataclasses.replace(DEFAULT_INDICATORS[0], weight=F(40)),
        *DEFAULT_INDICATORS[1:],
        dataclasses.replace(DEFAULT_INDICATORS[1], target=F(0)),
    ]
    with pytest.raises(ValueError, match="权重合计") as caught:
        check_indicators(bad)
    message = str(caught.value)
    assert "指标代码重复 follow_ups_on_time" in message
    assert "目标值须大于 0" in message
    assert "权重合计应为 100，现为 130" in message


def test_percentiles_interpolate_like_postgresql() -> None:
    # percentile_cont(0.9) over 1, 2, 3, 4, 10: position 3.6 → 4 + 0.6 × 6 = 7.6
    assert percentile([1, 2, 3, 4, 10], F(9, 10)) == F(76, 10)
    assert percentile([4, 1, 3, 2], F(1, 2)) == F(5, 2)
    assert percentile([7], F(9, 10)) == 7
    assert percentile([], F(1, 2)) is None
    assert rate(5, None) is None
    assert rate(5, 0) is None


weights = st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=8).filter(
    lambda w: sum(w) > 0
)


@given(weights, st.data())
def test_the_score_lies_between_zero_and_one_hundred_and_full_attainment_is_one_hundred(
    raw: list[int], data: st.DataObject
) -> None:
    total = sum(raw)
    indicators = [
        Indicator(
            f"i{n}",
            f"指标{n}",
            "output",
            F(100 * w, total),
            F(1 + n),
            "lower" if n % 2 else "higher",
        )
        for n, w in enumerate(raw)
    ]
    actuals = {
        i.code: F(data.draw(st.integers(min_value=0, max_value=1000)), 10) for i in indicators
    }
    evaluation = evaluate(indicators, actuals)
    assert 0 <= evaluation.total <= 100
    assert all(0 <= s.score <= s.indicator.weight for s in evaluation.scores)
    perfect = {i.code: i.target for i in indicators}
    assert evaluate(indicators, perfect).total == 100
