"""A project's performance evaluation (绩效评价): indicators, weights, and the weighted score.

The default weights are those of the Ministry of Finance's self-evaluation of project
expenditure (《项目支出绩效评价管理办法》, 财预〔2020〕10号, 附件 项目支出绩效自评表): "原则上一级
指标权重统一设置为：产出指标 50%、效益指标 30%、服务对象满意度指标 10%、预算资金执行率 10%".
A branch may change them (the weights are data, issue 17); they must still add up to 100.

An indicator scores ``weight × min(1, actual / target)`` for a figure where more is better, and
``weight × min(1, target / actual)`` for one where less is better (e.g. days from gift to use);
an indicator with no actual figure yet scores nothing and is reported as not measured, never
as attained. Scores are exact fractions, rounded only for display.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

Dimension = Literal["output", "benefit", "satisfaction", "budget_execution"]
Direction = Literal["higher", "lower"]
DIMENSIONS: tuple[Dimension, ...] = ("output", "benefit", "satisfaction", "budget_execution")
TOTAL_WEIGHT = 100


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    dimension: Dimension
    weight: Fraction  # points out of TOTAL_WEIGHT
    target: Fraction  # in the indicator's own unit; > 0
    direction: Direction = "higher"


# 财预〔2020〕10号: output 50, benefit 30, satisfaction 10, budget execution 10.
DEFAULT_INDICATORS: tuple[Indicator, ...] = (
    Indicator("people_reached", "受助人数（人）", "output", Fraction(30), Fraction(1)),
    Indicator("follow_ups_on_time", "按期回访率", "output", Fraction(20), Fraction(1)),
    Indicator(
        "gift_to_use_p90_days",
        "捐赠到使用 P90（天）",
        "benefit",
        Fraction(15),
        Fraction(30),
        "lower",
    ),
    Indicator("disclosure_on_time", "按期公示率", "benefit", Fraction(15), Fraction(1)),
    Indicator(
        "satisfaction", "服务对象满意度（1–5 分）", "satisfaction", Fraction(10), Fraction(45, 10)
    ),
    Indicator("budget_execution", "预算执行率", "budget_execution", Fraction(10), Fraction(1)),
)


@dataclass(frozen=True)
class IndicatorScore:
    indicator: Indicator
    actual: Fraction | None
    attainment: Fraction  # 0..1
    score: Fraction  # 0..weight

    @property
    def measured(self) -> bool:
        return self.actual is not None


@dataclass(frozen=True)
class Evaluation:
    scores: tuple[IndicatorScore, ...]

    @property
    def total(self) -> Fraction:
        return sum((s.score for s in self.scores), Fraction(0))

    def by_dimension(self) -> dict[Dimension, Fraction]:
        totals: dict[Dimension, Fraction] = dict.fromkeys(DIMENSIONS, Fraction(0))
        for s in self.scores:
            totals[s.indicator.dimension] += s.score
        return totals

    @property
    def grade(self) -> str:
        """The four grades of 财预〔2020〕10号: 优 ≥ 90, 良 80–90, 中 60–80, 差 < 60."""
        total = self.total
        if total >= 90:
            return "优"
        if total >= 80:
            return "良"
        if total >= 60:
            return "中"
        return "差"


def check_indicators(indicators: Sequence[Indicator]) -> None:
    """``ValueError`` naming what is wrong with a table of indicators."""
    problems: list[str] = []
    codes = [i.code for i in indicators]
    duplicated = sorted({c for c in codes if codes.count(c) > 1})
    if duplicated:
        problems.append(f"指标代码重复 {', '.join(duplicated)} (duplicate codes)")
    for i in indicators:
        if i.weight < 0:
            problems.append(f"{i.code}: 权重不能为负 (weight must not be negative)")
        if i.target <= 0:
            problems.append(f"{i.code}: 目标值须大于 0 (target must be positive)")
    total = sum((i.weight for i in indicators), Fraction(0))
    if total != TOTAL_WEIGHT:
        problems.append(
            f"权重合计应为 {TOTAL_WEIGHT}，现为 {float(total):g} (weights must add up to 100)"
        )
    if problems:
        raise ValueError("；".join(problems))


def attainment(indicator: Indicator, actual: Fraction) -> Fraction:
    if actual < 0:
        raise ValueError(f"{indicator.code}: a figure cannot be negative ({actual})")
    if indicator.direction == "higher":
        return min(Fraction(1), actual / indicator.target)
    if actual == 0:
        return Fraction(1)
    return min(Fraction(1), indicator.target / actual)


def evaluate(indicators: Sequence[Indicator], actuals: Mapping[str, Fraction | None]) -> Evaluation:
    """Score each indicator on its actual figure (missing or ``None``: not measured, 0)."""
    check_indicators(indicators)
    scores = []
    for indicator in indicators:
        actual = actuals.get(indicator.code)
        share = Fraction(0) if actual is None else attainment(indicator, actual)
        scores.append(IndicatorScore(indicator, actual, share, indicator.weight * share))
    return Evaluation(tuple(scores))


def percentile(values: Iterable[Fraction | int], q: Fraction) -> Fraction | None:
    """The q-quantile with linear interpolation between ranks (PostgreSQL's
    ``percentile_cont``), so the report and a SQL check agree; ``None`` for no values."""
    ordered = sorted(Fraction(v) for v in values)
    if not ordered:
        return None
    if not 0 <= q <= 1:
        raise ValueError(f"a quantile lies in [0, 1], not {q}")
    position = q * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def rate(part: int, whole: int | None) -> Fraction | None:
    """``part / whole`` exactly (e.g. 预算执行率 = used ÷ budget); ``None`` without a whole."""
    if whole is None or whole <= 0:
        return None
    return Fraction(part, whole)
