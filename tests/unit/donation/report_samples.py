"""Hand-chosen reports for the renderer tests (``test_report_xlsx``, ``test_report_pdf``)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

from donation.domain.evaluation import DEFAULT_INDICATORS, Evaluation, evaluate
from donation.domain.report_model import (
    AnnualCounts,
    AnnualReport,
    DisclosureFigures,
    EvaluationRow,
    ExpenditureRow,
    FollowUpFigures,
    GoodsRow,
    IncidentRef,
    IncomeRow,
    Period,
    ProjectEvaluationReport,
    ProjectFigures,
    ProjectInfo,
    ReportScope,
)

# 2026-01-05 10:30 UTC is 18:30 in Asia/Shanghai
GENERATED_AT = datetime(2026, 1, 5, 10, 30, 15, tzinfo=UTC)

PROJECT = ProjectInfo(
    code="BOAI-JK01",
    name="博爱家园（江口街道）",
    category="boai_jiayuan",
    town="江口街道",
    org_code="JK",
    org_name="江口街道红十字会",
    budget_fen=20_000_000,  # ¥200,000.00
    period=Period(date(2025, 1, 1), date(2025, 12, 31)),
    incident=IncidentRef("TY-2025-14", "台风“海葵”", major=True),
)

FOLLOW_UPS = FollowUpFigures(
    planned=10,
    due=2,
    on_time=5,
    late=2,
    overdue=1,
    satisfaction_count=6,
    average_satisfaction=Fraction(27, 6),  # 4.5
)

DISCLOSURE = DisclosureFigures(
    entries=40, on_time=36, late=3, median_delay=timedelta(hours=5, minutes=30)
)

FIGURES = ProjectFigures(
    raised_fen=23_456_789,  # ¥234,567.89
    used_fen=15_000_050,  # ¥150,000.50
    goods_delivered_fen=1_234_556,  # ¥12,345.56
    people_reached=1_287,
    households_reached=412,
    gift_to_use_p50_days=Fraction(25, 2),  # 12.5
    gift_to_use_p90_days=Fraction(203, 5),  # 40.6
    follow_ups=FOLLOW_UPS,
    disclosure=DISCLOSURE,
)


def evaluation_of(figures: ProjectFigures, budget_fen: int | None) -> Evaluation:
    used = figures.used_fen
    return evaluate(
        DEFAULT_INDICATORS,
        {
            "people_reached": Fraction(figures.people_reached),
            "follow_ups_on_time": figures.follow_ups.on_time_share,
            "gift_to_use_p90_days": figures.gift_to_use_p90_days,
            "disclosure_on_time": figures.disclosure.on_time_share,
            "satisfaction": figures.follow_ups.average_satisfaction,
            "budget_execution": None if budget_fen is None else Fraction(used, budget_fen),
        },
    )


EVALUATION_REPORT = ProjectEvaluationReport(
    project=PROJECT,
    figures=FIGURES,
    evaluation=evaluation_of(FIGURES, PROJECT.budget_fen),
    generated_at=GENERATED_AT,
    generated_by="auditor",
)

NOTHING_USED = ProjectFigures(
    raised_fen=0,
    used_fen=0,
    goods_delivered_fen=0,
    people_reached=0,
    households_reached=0,
    gift_to_use_p50_days=None,
    gift_to_use_p90_days=None,
    follow_ups=FollowUpFigures(planned=0, due=0, on_time=0, late=0, overdue=0),
    disclosure=DisclosureFigures(entries=0, on_time=0, late=0),
)

# no budget, nothing raised, nothing used: every rate and quantile is "—"
EMPTY_EVALUATION_REPORT = ProjectEvaluationReport(
    project=dataclasses.replace(PROJECT, budget_fen=None, incident=None, town=None),
    figures=NOTHING_USED,
    evaluation=evaluation_of(NOTHING_USED, None),
    generated_at=GENERATED_AT,
    generated_by="auditor",
)

INCOME_BY_KIND = (
    IncomeRow("money", gifts=120, amount_fen=50_000_001),  # ¥500,000.01
    IncomeRow("goods", gifts=30, amount_fen=12_345_699),  # ¥123,456.99
)
INCOME_BY_CHANNEL = (
    IncomeRow("wechat_pay", gifts=70, amount_fen=20_000_000),
    IncomeRow("alipay", gifts=30, amount_fen=10_000_000),
    IncomeRow("bank_transfer", gifts=15, amount_fen=19_999_901),
    IncomeRow("cash", gifts=5, amount_fen=100),
    IncomeRow("on_site", gifts=30, amount_fen=12_345_699),
)
EXPENDITURE_BY_PROJECT = (
    ExpenditureRow("BOAI-JK01", "博爱家园（江口街道）", money_fen=15_000_050, goods_fen=1_234_556),
    ExpenditureRow("SWJ-2025", "博爱送万家", money_fen=8_000_000, goods_fen=0),
)
EXPENDITURE_BY_TOWN = (
    ExpenditureRow("江口街道", "江口街道", money_fen=15_000_050, goods_fen=1_234_556),
    ExpenditureRow("溪口镇", "溪口镇", money_fen=5_000_000, goods_fen=0),
    ExpenditureRow("", "未指定乡镇", money_fen=3_000_000, goods_fen=0),
)
GOODS = (
    GoodsRow("clothing_bedding", 5_000_000, 1_000_000, 4_000_001, 12_345, 1_987_654),
    GoodsRow("food", 2_345_699, 0, 2_000_000, 345_699, 0),
)
EVALUATIONS = (
    EvaluationRow.of("BOAI-JK01", "博爱家园（江口街道）", EVALUATION_REPORT.evaluation),
    EvaluationRow("SWJ-2025", "博爱送万家", Fraction(1234, 25), "差"),  # 49.36
)

ANNUAL_REPORT = AnnualReport(
    year=2025,
    scope=ReportScope("FH", "奉化区红十字会"),
    income_by_kind=INCOME_BY_KIND,
    income_by_channel=INCOME_BY_CHANNEL,
    expenditure_by_project=EXPENDITURE_BY_PROJECT,
    expenditure_by_town=EXPENDITURE_BY_TOWN,
    goods=GOODS,
    evaluations=EVALUATIONS,
    counts=AnnualCounts(gifts=150, donors=131, disbursements=42, people_reached=2_040),
    generated_at=GENERATED_AT,
    generated_by="auditor",
)

# a town's year with no gifts at all
EMPTY_ANNUAL_REPORT = AnnualReport(
    year=2025,
    scope=ReportScope("XK", "溪口镇红十字会", "溪口镇"),
    income_by_kind=(),
    income_by_channel=(),
    expenditure_by_project=(),
    expenditure_by_town=(),
    goods=(),
    evaluations=(),
    counts=AnnualCounts(gifts=0, donors=0, disbursements=0, people_reached=0),
    generated_at=GENERATED_AT,
    generated_by="auditor",
)

GRADES_CYCLE = ("优", "良", "中", "差")


def many_projects(n: int) -> AnnualReport:
    """The annual report with ``n`` projects in the evaluation table (codes P001...)."""
    rows = tuple(
        EvaluationRow(f"P{i:03d}", f"博爱项目第{i}号", Fraction(100 - i, 1), GRADES_CYCLE[i % 4])
        for i in range(1, n + 1)
    )
    return dataclasses.replace(ANNUAL_REPORT, evaluations=rows)
