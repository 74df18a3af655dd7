"""The reports' shapes (``donation.domain.report_model``) refuse what does not add up."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from donation.domain.evaluation import DEFAULT_INDICATORS
from donation.domain.report_model import (
    DisclosureFigures,
    EvaluationRow,
    FollowUpFigures,
    IncomeRow,
    Period,
    ProjectInfo,
    is_rate,
    rounded,
)
from tests.unit.donation.report_samples import (
    ANNUAL_REPORT,
    EMPTY_EVALUATION_REPORT,
    EVALUATION_REPORT,
    FIGURES,
    FOLLOW_UPS,
    PROJECT,
)

NOT_FEN: Any = 1.5  # a float where integer fen (or an exact Fraction) belong
GOODS_AS_LIST: Any = list(ANNUAL_REPORT.goods)


def test_the_derived_shares() -> None:
    assert EVALUATION_REPORT.budget_execution == Fraction(15_000_050, 20_000_000)
    assert EMPTY_EVALUATION_REPORT.budget_execution is None  # no budget
    assert FOLLOW_UPS.on_time_share == Fraction(5, 8)  # the 2 not yet due are not owed
    assert FIGURES.disclosure.on_time_share == Fraction(36, 39)  # of those published
    assert EMPTY_EVALUATION_REPORT.figures.follow_ups.on_time_share is None
    assert ANNUAL_REPORT.income_fen == 62_345_700
    assert ANNUAL_REPORT.expenditure_fen == 24_234_606


def test_rounding_is_half_up_from_the_exact_fraction() -> None:
    assert str(rounded(Fraction(1, 8), 2)) == "0.13"
    assert str(rounded(Fraction(-1, 8), 2)) == "-0.13"
    assert str(rounded(Fraction(2, 3), 1)) == "0.7"


def test_rates_are_the_indicators_named_so() -> None:
    assert [i.code for i in DEFAULT_INDICATORS if is_rate(i)] == [
        "follow_ups_on_time",
        "disclosure_on_time",
        "budget_execution",
    ]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: dataclasses.replace(PROJECT, budget_fen=NOT_FEN), "integer fen"),
        (lambda: dataclasses.replace(PROJECT, budget_fen=-1), "negative"),
        (lambda: dataclasses.replace(PROJECT, code=""), "code"),
        (lambda: Period(date(2025, 2, 1), date(2025, 1, 31)), "before it starts"),
        (lambda: Period(datetime(2025, 1, 1), date(2025, 1, 31)), "date"),  # type: ignore[arg-type]
        (lambda: dataclasses.replace(FOLLOW_UPS, planned=11), "planned"),
        (lambda: dataclasses.replace(FOLLOW_UPS, average_satisfaction=Fraction(6)), "1–5"),
        (lambda: dataclasses.replace(FOLLOW_UPS, average_satisfaction=None), "scored"),
        (lambda: dataclasses.replace(FOLLOW_UPS, satisfaction_count=8), "more scored"),
        (lambda: DisclosureFigures(entries=2, on_time=2, late=1, median_delay=None), "more"),
        (lambda: DisclosureFigures(entries=2, on_time=1, late=0), "median delay"),
        (
            lambda: DisclosureFigures(1, 1, 0, median_delay=timedelta(hours=-1)),
            "negative",
        ),
        (lambda: dataclasses.replace(FIGURES, gift_to_use_p50_days=None), "both"),
        (lambda: dataclasses.replace(FIGURES, gift_to_use_p50_days=Fraction(50)), "above"),
        (lambda: dataclasses.replace(FIGURES, gift_to_use_p90_days=NOT_FEN), "Fraction"),
        (lambda: dataclasses.replace(FIGURES, raised_fen=True), "integer fen"),
        (lambda: dataclasses.replace(FIGURES, people_reached=-3), "negative"),
        (
            lambda: dataclasses.replace(
                EVALUATION_REPORT, generated_at=datetime(2026, 1, 5, 10, 30)
            ),
            "timezone",
        ),
        (lambda: EvaluationRow("X", "项目", Fraction(101), "优"), "100"),
        (lambda: EvaluationRow("X", "项目", Fraction(50), "A"), "grade"),
        (
            lambda: dataclasses.replace(
                ANNUAL_REPORT, income_by_channel=ANNUAL_REPORT.income_by_channel[1:]
            ),
            "income by kind",
        ),
        (
            lambda: dataclasses.replace(
                ANNUAL_REPORT,
                expenditure_by_town=ANNUAL_REPORT.expenditure_by_town[:-1],
            ),
            "expenditure",
        ),
        (
            lambda: dataclasses.replace(
                ANNUAL_REPORT,
                income_by_kind=(
                    IncomeRow("money", 60, 25_000_001),
                    IncomeRow("money", 60, 25_000_000),
                    IncomeRow("goods", 30, 12_345_699),
                ),
            ),
            "twice",
        ),
        (lambda: dataclasses.replace(ANNUAL_REPORT, goods=GOODS_AS_LIST), "tuple"),
        (lambda: dataclasses.replace(ANNUAL_REPORT, year=1999), "year"),
    ],
)
def test_what_does_not_add_up_is_refused(build: object, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        build()  # type: ignore[operator]


def test_a_project_without_incident_or_town() -> None:
    info = ProjectInfo(
        "X1", "项目", "emergency", None, "FH", "奉化区红十字会", None, Period.year(2025)
    )
    assert info.category_label == "应急救灾"
    assert dataclasses.replace(info, category="new_kind").category_label == "new_kind"
    assert FollowUpFigures(0, 0, 0, 0, 0).owed == 0
