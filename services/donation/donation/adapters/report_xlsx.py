"""The evaluation report and the annual report as Excel workbooks (openpyxl).

One workbook per report, zh-CN sheet names and headers, the header row of every sheet frozen
and the columns sized. Money is written as yuan numbers in the format ``#,##0.00``, computed
exactly from integer fen as ``Decimal`` (``Decimal(fen).scaleb(-2)``, no float arithmetic on
fen); an amount of 10^15 fen or more is refused, since a spreadsheet keeps only 15 significant
digits and could not hold it exactly. Rates are numbers in percent format, quantiles and scores
numbers rounded half up from their exact fractions; a figure that is not there (no budget, no
use yet) is the text "—". Text is always written as text, never as a formula, whatever it
starts with. Times are shown in Asia/Shanghai (a spreadsheet has no time zones).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from donation.domain.evaluation import Indicator
from donation.domain.report_model import (
    CHANNEL_LABELS,
    DIMENSION_LABELS,
    KIND_LABELS,
    AnnualReport,
    ExpenditureRow,
    IncomeRow,
    ProjectEvaluationReport,
    is_rate,
    label,
    rounded,
)

CREATOR = "阳光红会"
YUAN_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.0%"
COUNT_FORMAT = "#,##0"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
MISSING = "—"
NOT_MEASURED = "未测量"
MAX_EXACT_FEN = 10**15  # 15 significant digits: what a spreadsheet number holds exactly

_SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="F2DCDB")
_TOTAL_FONT = Font(bold=True)

# A cell: its value and, for a number, its number format.
Cell = tuple[object, str | None]
BLANK: Cell = (None, None)


def yuan(fen: int) -> Decimal:
    """Integer fen as exact yuan: 123456 → Decimal('1234.56')."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"yuan takes integer fen, not {type(fen).__name__}")
    if abs(fen) >= MAX_EXACT_FEN:
        raise ValueError(f"{fen} fen has more digits than a spreadsheet keeps exactly")
    return Decimal(fen).scaleb(-2)


def text(value: str | None) -> Cell:
    return (MISSING if value is None or value == "" else value, None)


def money(fen: int | None) -> Cell:
    return (MISSING, None) if fen is None else (yuan(fen), YUAN_FORMAT)


def percent(value: Fraction | None) -> Cell:
    return (MISSING, None) if value is None else (rounded(value, 6), PERCENT_FORMAT)


def number(value: Fraction | None, places: int = 1, *, missing: str = MISSING) -> Cell:
    if value is None:
        return (missing, None)
    return (rounded(value, places), "0." + "0" * places if places else "0")


def count(value: int) -> Cell:
    return (value, COUNT_FORMAT)


def moment(value: datetime) -> Cell:
    """An aware time as the Asia/Shanghai wall time (a spreadsheet has no time zones)."""
    return (value.astimezone(_SHANGHAI).replace(tzinfo=None, microsecond=0), DATETIME_FORMAT)


def day(value: date) -> Cell:
    return (value, DATE_FORMAT)


class _Sheet:
    """One worksheet: a frozen header row, then rows of cells."""

    def __init__(self, workbook: Workbook, title: str, headers: Sequence[tuple[str, float]]):
        self.ws = workbook.create_sheet(title)
        self.row = 1
        for column, (heading, width) in enumerate(headers, start=1):
            cell = self.ws.cell(row=1, column=column)
            _set(cell, heading)
            cell.font = _HEADER_FONT
            cell.fill = _HEADER_FILL
            cell.alignment = Alignment(horizontal="center", vertical="center")
            self.ws.column_dimensions[get_column_letter(column)].width = width
        self.ws.freeze_panes = "A2"

    def add(self, cells: Iterable[Cell], *, total: bool = False) -> None:
        self.row += 1
        for column, (value, number_format) in enumerate(cells, start=1):
            cell = self.ws.cell(row=self.row, column=column)
            _set(cell, value)
            if number_format is not None:
                cell.number_format = number_format
            if total:
                cell.font = _TOTAL_FONT

    def gap(self) -> None:
        self.row += 1


def _set(cell: object, value: object) -> None:
    cell.value = ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value  # type: ignore[attr-defined]
    if isinstance(value, str):
        cell.data_type = "s"  # type: ignore[attr-defined]  # text, even when it starts with "="


def _workbook(title: str, subject: str, generated_at: datetime, generated_by: str) -> Workbook:
    workbook = Workbook()
    workbook.remove(workbook.active)
    props = workbook.properties
    props.title = title
    props.subject = subject
    props.creator = CREATOR
    props.lastModifiedBy = generated_by or CREATOR
    props.language = "zh-CN"
    stamp = generated_at.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    props.created = stamp
    props.modified = stamp
    return workbook


def _bytes(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _key_value_sheet(workbook: Workbook, title: str, rows: Sequence[tuple[str, Cell]]) -> None:
    sheet = _Sheet(workbook, title, (("项目", 30.0), ("内容", 44.0)))
    for name, cell in rows:
        sheet.add(((name, None), cell))


# --- the project evaluation report ------------------------------------------------------------


def evaluation_xlsx(report: ProjectEvaluationReport) -> bytes:
    """项目绩效评价报告 as the bytes of an xlsx workbook: 概况, 项目指标, 绩效评价."""
    p, f = report.project, report.figures
    workbook = _workbook(
        report.title, f"{p.code} {p.name}", report.generated_at, report.generated_by
    )
    incident = None
    if p.incident is not None:
        incident = f"{p.incident.code} {p.incident.name}" + ("（重大）" if p.incident.major else "")
    _key_value_sheet(
        workbook,
        "概况",
        (
            ("项目编码", text(p.code)),
            ("项目名称", text(p.name)),
            ("项目类别", text(p.category_label)),
            ("乡镇（街道）", text(p.town or "全区")),
            ("执行机构", text(f"{p.org_name}（{p.org_code}）")),
            ("关联灾害事件", text(incident)),
            ("项目预算（元）", money(p.budget_fen)),
            ("评价期间起", day(p.period.start)),
            ("评价期间止", day(p.period.end)),
            ("评价得分", number(report.evaluation.total, 2)),
            ("评价等级", text(report.evaluation.grade)),
            ("生成时间（北京时间）", moment(report.generated_at)),
            ("生成人", text(report.generated_by)),
        ),
    )
    fu, dis = f.follow_ups, f.disclosure
    delay = None if dis.median_delay is None else Fraction(dis.median_delay / timedelta(hours=1))
    _key_value_sheet(
        workbook,
        "项目指标",
        (
            ("募集金额（元）", money(f.raised_fen)),
            ("使用金额（元）", money(f.used_fen)),
            ("预算执行率", percent(report.budget_execution)),
            ("捐赠到使用天数 P50", number(f.gift_to_use_p50_days)),
            ("捐赠到使用天数 P90", number(f.gift_to_use_p90_days)),
            ("受助人数（人）", count(f.people_reached)),
            ("受助户数（户）", count(f.households_reached)),
            ("发放物资价值（元）", money(f.goods_delivered_fen)),
            ("计划回访（次）", count(fu.planned)),
            ("待回访（未到期）", count(fu.due)),
            ("按期回访", count(fu.on_time)),
            ("逾期完成回访", count(fu.late)),
            ("逾期未回访", count(fu.overdue)),
            ("按期回访率", percent(fu.on_time_share)),
            ("满意度评分（次）", count(fu.satisfaction_count)),
            ("平均满意度（1–5 分）", number(fu.average_satisfaction, 2)),
            ("应公示条目", count(dis.entries)),
            ("按期公示", count(dis.on_time)),
            ("逾期公示", count(dis.late)),
            ("按期公示率", percent(dis.on_time_share)),
            ("公示延迟中位数（小时）", number(delay)),
        ),
    )
    sheet = _Sheet(
        workbook,
        "绩效评价",
        (
            ("指标代码", 22.0),
            ("指标名称", 30.0),
            ("维度", 14.0),
            ("权重", 8.0),
            ("目标值", 10.0),
            ("实际值", 10.0),
            ("完成率", 10.0),
            ("得分", 10.0),
        ),
    )
    for s in report.evaluation.scores:
        i = s.indicator
        sheet.add(
            (
                text(i.code),
                text(i.name),
                text(label(DIMENSION_LABELS, i.dimension)),
                number(i.weight, 2),
                _figure(i, i.target),
                _figure(i, s.actual),
                percent(s.attainment),
                number(s.score, 2),
            )
        )
    sheet.gap()
    for dimension, score in report.evaluation.by_dimension().items():
        sheet.add(
            (
                BLANK,
                text("小计"),
                text(label(DIMENSION_LABELS, dimension)),
                *[BLANK] * 4,
                number(score, 2),
            )
        )
    sheet.add(
        (
            BLANK,
            text("总分"),
            text(report.evaluation.grade),
            *[BLANK] * 4,
            number(report.evaluation.total, 2),
        ),
        total=True,
    )
    return _bytes(workbook)


# --- the annual report -----------------------------------------------------------------------


def annual_xlsx(report: AnnualReport) -> bytes:
    """年度工作报告 as the bytes of an xlsx workbook: 概况, 收入, 支出, 物资, 绩效评价."""
    workbook = _workbook(report.title, report.scope.shown, report.generated_at, report.generated_by)
    c = report.counts
    _key_value_sheet(
        workbook,
        "概况",
        (
            ("报告年度", (report.year, "0")),
            ("统计范围", text(report.scope.shown)),
            ("收入合计（元）", money(report.income_fen)),
            ("支出合计（元）", money(report.expenditure_fen)),
            ("捐赠笔数", count(c.gifts)),
            ("捐赠人数", count(c.donors)),
            ("拨付笔数", count(c.disbursements)),
            ("受助人数（人）", count(c.people_reached)),
            ("参评项目数", count(len(report.evaluations))),
            ("生成时间（北京时间）", moment(report.generated_at)),
            ("生成人", text(report.generated_by)),
        ),
    )
    income = _Sheet(
        workbook,
        "收入",
        (("口径", 10.0), ("类别", 18.0), ("笔数", 10.0), ("金额（元）", 18.0), ("占比", 10.0)),
    )
    _income_rows(income, "按类别", report.income_by_kind, KIND_LABELS)
    income.gap()
    _income_rows(income, "按渠道", report.income_by_channel, CHANNEL_LABELS)
    spending = _Sheet(
        workbook,
        "支出",
        (
            ("口径", 10.0),
            ("编码", 16.0),
            ("名称", 30.0),
            ("资金（元）", 18.0),
            ("物资（元）", 18.0),
            ("合计（元）", 18.0),
        ),
    )
    _spending_rows(spending, "按项目", report.expenditure_by_project)
    spending.gap()
    _spending_rows(spending, "按乡镇", report.expenditure_by_town)
    goods = _Sheet(
        workbook,
        "物资",
        (
            ("类别代码", 16.0),
            ("类别", 14.0),
            ("接收捐赠（元）", 18.0),
            ("采购入库（元）", 18.0),
            ("发放（元）", 18.0),
            ("报损（元）", 18.0),
            ("年末库存（元）", 18.0),
        ),
    )
    for g in report.goods:
        goods.add(
            (
                text(g.category),
                text(g.label),
                money(g.received_donated_fen),
                money(g.received_procured_fen),
                money(g.delivered_fen),
                money(g.written_off_fen),
                money(g.on_hand_fen),
            )
        )
    goods.add(
        (
            BLANK,
            text("合计"),
            money(sum(g.received_donated_fen for g in report.goods)),
            money(sum(g.received_procured_fen for g in report.goods)),
            money(sum(g.delivered_fen for g in report.goods)),
            money(sum(g.written_off_fen for g in report.goods)),
            money(sum(g.on_hand_fen for g in report.goods)),
        ),
        total=True,
    )
    table = _Sheet(
        workbook,
        "绩效评价",
        (("项目编码", 18.0), ("项目名称", 36.0), ("得分", 10.0), ("等级", 8.0)),
    )
    for e in report.evaluations:
        table.add((text(e.code), text(e.name), number(e.score, 2), text(e.grade)))
    return _bytes(workbook)


def _figure(indicator: Indicator, value: Fraction | None) -> Cell:
    """An indicator's target or actual figure: a share in percent format, else a number."""
    if value is None:
        return (NOT_MEASURED, None)
    return percent(value) if is_rate(indicator) else number(value, 2)


def _income_rows(
    sheet: _Sheet, basis: str, rows: Sequence[IncomeRow], labels: Mapping[str, str]
) -> None:
    whole = sum(r.amount_fen for r in rows)
    for r in rows:
        sheet.add(
            (
                text(basis),
                text(label(labels, r.key)),
                count(r.gifts),
                money(r.amount_fen),
                percent(Fraction(r.amount_fen, whole) if whole else None),
            )
        )
    sheet.add(
        (
            text(basis),
            text("合计"),
            count(sum(r.gifts for r in rows)),
            money(whole),
            percent(Fraction(1) if whole else None),
        ),
        total=True,
    )


def _spending_rows(sheet: _Sheet, basis: str, rows: Sequence[ExpenditureRow]) -> None:
    for r in rows:
        sheet.add(
            (
                text(basis),
                text(r.key),
                text(r.name),
                money(r.money_fen),
                money(r.goods_fen),
                money(r.total_fen),
            )
        )
    sheet.add(
        (
            text(basis),
            BLANK,
            text("合计"),
            money(sum(r.money_fen for r in rows)),
            money(sum(r.goods_fen for r in rows)),
            money(sum(r.total_fen for r in rows)),
        ),
        total=True,
    )
