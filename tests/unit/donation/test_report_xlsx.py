"""The reports as xlsx (``donation.adapters.report_xlsx``), read back with openpyxl: sheet
names and headers, money as exact yuan in ``#,##0.00``, rates in percent, "—" where a figure
is not there, text never a formula, and every fen amount back exactly (a Hypothesis property)."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from datetime import datetime
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from donation.adapters.report_xlsx import (
    CREATOR,
    MAX_EXACT_FEN,
    MISSING,
    NOT_MEASURED,
    PERCENT_FORMAT,
    YUAN_FORMAT,
    annual_xlsx,
    evaluation_xlsx,
    yuan,
)
from donation.domain.report_model import GoodsRow
from tests.unit.donation.report_samples import (
    ANNUAL_REPORT,
    EMPTY_ANNUAL_REPORT,
    EMPTY_EVALUATION_REPORT,
    EVALUATION_REPORT,
    EVALUATIONS,
    PROJECT,
    many_projects,
)


def load(data: bytes) -> Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def exact_fen(value: Any) -> int:
    """A yuan cell read back, as fen, exactly: the shortest decimal of the number read."""
    assert isinstance(value, int | float), value
    fen = Decimal(str(value)) * 100
    assert fen == fen.to_integral_value(), f"{value} is not a whole number of fen"
    return int(fen)


def by_label(ws: Worksheet) -> dict[str, Any]:
    """A two-column sheet (label, value) as {label: cell}."""
    return {row[0].value: row[1] for row in ws.iter_rows(min_row=2) if row[0].value}


def rows(ws: Worksheet) -> list[tuple[Any, ...]]:
    return [tuple(c.value for c in row) for row in ws.iter_rows(min_row=2)]


@pytest.fixture(scope="module")
def evaluation() -> Workbook:
    return load(evaluation_xlsx(EVALUATION_REPORT))


@pytest.fixture(scope="module")
def annual() -> Workbook:
    return load(annual_xlsx(ANNUAL_REPORT))


def test_the_workbooks_have_their_sheets_headers_and_properties(
    evaluation: Workbook, annual: Workbook
) -> None:
    assert evaluation.sheetnames == ["概况", "项目指标", "绩效评价"]
    assert annual.sheetnames == ["概况", "收入", "支出", "物资", "绩效评价"]
    assert [c.value for c in annual["收入"][1]] == ["口径", "类别", "笔数", "金额（元）", "占比"]
    assert [c.value for c in annual["支出"][1]] == [
        "口径",
        "编码",
        "名称",
        "资金（元）",
        "物资（元）",
        "合计（元）",
    ]
    assert [c.value for c in annual["物资"][1]] == [
        "类别代码",
        "类别",
        "接收捐赠（元）",
        "采购入库（元）",
        "发放（元）",
        "报损（元）",
        "年末库存（元）",
    ]
    assert [c.value for c in annual["绩效评价"][1]] == ["项目编码", "项目名称", "得分", "等级"]
    assert [c.value for c in evaluation["绩效评价"][1]] == [
        "指标代码",
        "指标名称",
        "维度",
        "权重",
        "目标值",
        "实际值",
        "完成率",
        "得分",
    ]
    for book in (evaluation, annual):
        assert book.properties.creator == CREATOR
        for ws in book.worksheets:
            assert ws.freeze_panes == "A2", ws.title
            assert ws.column_dimensions["A"].width >= 10, ws.title
            assert ws.column_dimensions["B"].width >= 14, ws.title
    assert evaluation.properties.title == "奉化区红十字会 项目绩效评价报告"
    assert annual.properties.title == "奉化区红十字会 2025 年度工作报告"


def test_the_project_figures_are_exact_and_formatted(evaluation: Workbook) -> None:
    overview = by_label(evaluation["概况"])
    assert overview["项目编码"].value == "BOAI-JK01"
    assert overview["项目名称"].value == "博爱家园（江口街道）"
    assert overview["项目类别"].value == "博爱家园"
    assert overview["关联灾害事件"].value == "TY-2025-14 台风“海葵”（重大）"
    assert exact_fen(overview["项目预算（元）"].value) == 20_000_000
    assert overview["项目预算（元）"].number_format == YUAN_FORMAT
    # 10:30 UTC is 18:30 in Asia/Shanghai
    assert overview["生成时间（北京时间）"].value == datetime(2026, 1, 5, 18, 30, 15)
    assert overview["评价等级"].value == "良"

    figures = by_label(evaluation["项目指标"])
    for name, fen in (
        ("募集金额（元）", 23_456_789),
        ("使用金额（元）", 15_000_050),
        ("发放物资价值（元）", 1_234_556),
    ):
        assert exact_fen(figures[name].value) == fen, name
        assert figures[name].number_format == YUAN_FORMAT
    assert figures["募集金额（元）"].value == 234567.89
    assert figures["预算执行率"].value == pytest.approx(0.7500025)  # 15,000,050 / 20,000,000
    assert figures["预算执行率"].number_format == PERCENT_FORMAT
    assert figures["捐赠到使用天数 P50"].value == 12.5
    assert figures["捐赠到使用天数 P90"].value == 40.6
    assert figures["受助人数（人）"].value == 1287
    assert figures["受助户数（户）"].value == 412
    assert figures["按期回访率"].value == pytest.approx(5 / 8)  # 5 on time of 8 owed
    assert figures["平均满意度（1–5 分）"].value == 4.5
    assert figures["按期公示率"].value == pytest.approx(36 / 39)
    assert figures["公示延迟中位数（小时）"].value == 5.5


def test_the_evaluation_sheet_scores_each_indicator(evaluation: Workbook) -> None:
    ws = evaluation["绩效评价"]
    table = {r[0]: r for r in rows(ws) if r[0]}
    people = table["people_reached"]
    assert people[1:4] == ("受助人数（人）", "产出指标", 30)
    assert people[7] == 30
    on_time = table["follow_ups_on_time"]
    # a share: target 100 %, actual 5 of 8 owed visits on time, attained 62.5 %, 20 × 0.625
    assert on_time[4:8] == (1, pytest.approx(0.625), pytest.approx(0.625), 12.5)
    budget = table["budget_execution"]
    assert budget[7] == 7.5  # 10 × 0.7500025, rounded to 2 places
    total = next(r for r in rows(ws) if r[1] == "总分")
    assert total[2] == "良"
    assert total[7] == float(round(EVALUATION_REPORT.evaluation.total, 2))
    share_row = next(row for row in ws.iter_rows(min_row=2) if row[0].value == "follow_ups_on_time")
    assert share_row[5].number_format == PERCENT_FORMAT


def test_no_budget_and_no_use_show_a_dash() -> None:
    book = load(evaluation_xlsx(EMPTY_EVALUATION_REPORT))
    overview = by_label(book["概况"])
    assert overview["项目预算（元）"].value == MISSING
    assert overview["乡镇（街道）"].value == "全区"
    assert overview["关联灾害事件"].value == MISSING
    figures = by_label(book["项目指标"])
    for name in (
        "预算执行率",
        "捐赠到使用天数 P50",
        "捐赠到使用天数 P90",
        "按期回访率",
        "平均满意度（1–5 分）",
        "按期公示率",
        "公示延迟中位数（小时）",
    ):
        assert figures[name].value == MISSING, name
    assert figures["募集金额（元）"].value == 0
    measured = {r[0]: r[5] for r in rows(book["绩效评价"]) if r[0]}
    assert measured["budget_execution"] == NOT_MEASURED
    assert measured["gift_to_use_p90_days"] == NOT_MEASURED
    assert measured["people_reached"] == 0  # measured, and nobody reached


def test_the_annual_income_spending_and_goods(annual: Workbook) -> None:
    income = rows(annual["收入"])
    assert income[0][:3] == ("按类别", "资金", 120)
    assert exact_fen(income[0][3]) == 50_000_001
    assert exact_fen(income[1][3]) == 12_345_699
    assert income[2][1] == "合计"
    assert exact_fen(income[2][3]) == 62_345_700
    assert income[2][4] == 1
    channels = {r[1]: r for r in income if r[0] == "按渠道"}
    assert set(channels) == {"微信支付", "支付宝", "银行转账", "现金", "现场（物资）", "合计"}
    assert exact_fen(channels["现金"][3]) == 100
    assert exact_fen(channels["合计"][3]) == 62_345_700
    assert annual["收入"]["D2"].number_format == YUAN_FORMAT
    assert annual["收入"]["E2"].number_format == PERCENT_FORMAT

    spending = rows(annual["支出"])
    project = next(r for r in spending if r[1] == "BOAI-JK01")
    assert [exact_fen(v) for v in project[3:6]] == [15_000_050, 1_234_556, 16_234_606]
    totals = [r for r in spending if r[2] == "合计"]
    assert [r[0] for r in totals] == ["按项目", "按乡镇"]
    assert {exact_fen(r[5]) for r in totals} == {24_234_606}

    goods = {r[0]: r for r in rows(annual["物资"])}
    assert goods["clothing_bedding"][1] == "衣被类"
    assert [exact_fen(v) for v in goods["clothing_bedding"][2:7]] == [
        5_000_000,
        1_000_000,
        4_000_001,
        12_345,
        1_987_654,
    ]
    total = next(r for r in rows(annual["物资"]) if r[1] == "合计")
    assert exact_fen(total[6]) == 1_987_654
    assert exact_fen(total[5]) == 358_044

    overview = by_label(annual["概况"])
    assert overview["统计范围"].value == "全区（奉化区红十字会）"
    assert exact_fen(overview["收入合计（元）"].value) == 62_345_700
    assert exact_fen(overview["支出合计（元）"].value) == 24_234_606
    assert overview["捐赠人数"].value == 131

    table = rows(annual["绩效评价"])
    assert table == [
        ("BOAI-JK01", "博爱家园（江口街道）", float(round(EVALUATIONS[0].score, 2)), "良"),
        ("SWJ-2025", "博爱送万家", 49.36, "差"),
    ]


def test_a_year_without_gifts() -> None:
    book = load(annual_xlsx(EMPTY_ANNUAL_REPORT))
    income = rows(book["收入"])
    assert [r[:4] for r in income if r[1] == "合计"] == [
        ("按类别", "合计", 0, 0),
        ("按渠道", "合计", 0, 0),
    ]
    assert all(r[4] == MISSING for r in income if r[1] == "合计")  # no share of nothing
    assert rows(book["绩效评价"]) == []
    assert by_label(book["概况"])["统计范围"].value == "溪口镇红十字会"


def test_sixty_projects_are_sixty_rows() -> None:
    table = rows(load(annual_xlsx(many_projects(60)))["绩效评价"])
    assert [r[0] for r in table] == [f"P{i:03d}" for i in range(1, 61)]


def test_text_that_looks_like_a_formula_stays_text() -> None:
    name = '=HYPERLINK("http://evil.example","点击")'
    report = dataclasses.replace(EVALUATION_REPORT, project=dataclasses.replace(PROJECT, name=name))
    data = evaluation_xlsx(report)
    cell = by_label(load(data)["概况"])["项目名称"]
    assert cell.value == name
    assert cell.data_type == "s"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert not any(b"<f>" in z.read(n) for n in sheets)


def test_yuan_is_exact_and_refuses_what_it_cannot_hold() -> None:
    assert yuan(123_456) == Decimal("1234.56")
    assert yuan(5) == Decimal("0.05")
    assert yuan(-1) == Decimal("-0.01")
    with pytest.raises(TypeError):
        yuan(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        yuan(True)
    with pytest.raises(ValueError, match="digits"):
        yuan(MAX_EXACT_FEN)


FEN = st.integers(min_value=0, max_value=MAX_EXACT_FEN // 10 - 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(FEN, FEN, FEN, FEN, FEN), min_size=1, max_size=5))
def test_every_fen_amount_comes_back_exactly(amounts: list[tuple[int, ...]]) -> None:
    goods = tuple(GoodsRow(f"c{i}", *fen) for i, fen in enumerate(amounts))
    book = load(annual_xlsx(dataclasses.replace(ANNUAL_REPORT, goods=goods)))
    table = rows(book["物资"])
    assert [tuple(exact_fen(v) for v in r[2:7]) for r in table[:-1]] == amounts
    assert tuple(exact_fen(v) for v in table[-1][2:7]) == tuple(
        sum(column) for column in zip(*amounts, strict=True)
    )
