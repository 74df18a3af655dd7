"""The evaluation report and the annual report as PDF (fpdf2), A4 portrait, Chinese text.

Titles 奉化区红十字会 <year> 年度工作报告 and 奉化区红十字会 项目绩效评价报告; the figures in
tables whose header row is repeated on every page a long table runs onto; amounts as
"¥1,234.56" from integer fen (``receipt_pdf.format_yuan``); rates as percentages, quantiles,
scores and satisfaction rounded half up from their exact fractions; a figure that is not there
(no budget, no use yet) as "—". Every page's foot says when the report was generated (Asia/
Shanghai) and "第 n 页 / 共 N 页". Text is set in the receipt's font (WenQuanYi Micro Hei,
Debian ``fonts-wqy-microhei``, ``receipt_pdf.DEFAULT_FONT_PATH``), embedded as a subset; the
same report gives the same bytes (the PDF's date is the generation time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Literal

from fpdf import FPDF, FontFace
from fpdf.enums import TableHeadingsDisplay, WrapMode

from donation.adapters.receipt_pdf import DEFAULT_FONT_PATH, FONT_PACKAGE, format_yuan
from donation.domain.evaluation import Indicator
from donation.domain.report_model import (
    CHANNEL_LABELS,
    DIMENSION_LABELS,
    DISTRICT_NAME,
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
MISSING = "—"
NOT_MEASURED = "未测量"
MARGIN = 15.0
PAGE_W = 210.0
CONTENT_W = PAGE_W - 2 * MARGIN
LINE_H = 6.0

_FONT = "wqy"
_SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
_RED = (170, 30, 30)
_HEADING_FILL = (242, 220, 219)
_TOTAL_FILL = (245, 245, 245)

Align = Literal["L", "C", "R"]
_ALIGN = {"L": "LEFT", "C": "CENTER", "R": "RIGHT"}


def shanghai_time(value: datetime) -> str:
    """An aware time as Asia/Shanghai wall time: 2026-01-05 18:30（北京时间）."""
    return value.astimezone(_SHANGHAI).strftime("%Y-%m-%d %H:%M") + "（北京时间）"


def money(fen: int | None) -> str:
    return MISSING if fen is None else format_yuan(fen)


def percent(value: Fraction | None) -> str:
    return MISSING if value is None else f"{rounded(value * 100, 1)}%"


def number(value: Fraction | None, places: int = 1, *, missing: str = MISSING) -> str:
    return missing if value is None else f"{rounded(value, places):,}"


def count(value: int) -> str:
    return f"{value:,}"


def hours(value: timedelta | None) -> str:
    if value is None:
        return MISSING
    return f"{number(Fraction(value / timedelta(hours=1)))} 小时"


class _ReportPDF(FPDF):
    def __init__(self, title: str, generated_at: datetime, font_path: Path) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        font_path = Path(font_path)
        if not font_path.is_file():
            raise FileNotFoundError(
                f"the report font {font_path} is missing: install the Debian package "
                f"{FONT_PACKAGE} (apt-get install {FONT_PACKAGE})"
            )
        self.report_title = title
        self.generated = shanghai_time(generated_at)
        self.set_compression(True)
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=18.0)
        self.add_font(_FONT, "", str(font_path), collection_font_number=0)
        self.set_creation_date(generated_at)
        self.set_title(title)
        self.set_author(DISTRICT_NAME)
        self.set_creator(CREATOR)
        self.set_lang("zh-CN")
        self.add_page()

    def header(self) -> None:
        if self.page_no() > 1:
            self.set_font(_FONT, "", 8)
            self.set_text_color(110, 110, 110)
            self.set_xy(MARGIN, 8.0)
            self.cell(CONTENT_W, 4.0, self.report_title, align="R")
            self.set_text_color(0, 0, 0)
            self.set_y(MARGIN)

    def footer(self) -> None:
        self.set_y(-13.0)
        self.set_font(_FONT, "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(CONTENT_W / 2, 5.0, f"生成时间：{self.generated}", align="L")
        self.cell(CONTENT_W / 2, 5.0, f"第 {self.page_no()} 页 / 共 {{nb}} 页", align="R")
        self.set_text_color(0, 0, 0)

    def title_block(self, subtitle: Sequence[str]) -> None:
        self.set_font(_FONT, "", 18)
        self.set_text_color(*_RED)
        self.cell(CONTENT_W, 12.0, self.report_title, align="C", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.set_font(_FONT, "", 10)
        for line in subtitle:
            self.cell(CONTENT_W, 6.0, line, align="C", new_x="LMARGIN", new_y="NEXT")
        self.ln(4.0)

    def section(self, heading: str) -> None:
        # a heading is never left alone at the foot of a page
        if self.y > self.h - self.b_margin - 30.0:
            self.add_page()
        self.ln(2.0)
        self.set_font(_FONT, "", 12)
        self.cell(CONTENT_W, 8.0, heading, new_x="LMARGIN", new_y="NEXT")
        self.set_font(_FONT, "", 9)

    def paragraph(self, text: str) -> None:
        self.set_font(_FONT, "", 9.5)
        self.multi_cell(CONTENT_W, 5.5, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(1.0)

    def grid(
        self,
        columns: Sequence[tuple[str, float, Align]],
        rows: Sequence[Sequence[str]],
        *,
        totals: int = 0,
    ) -> None:
        """A table: ``columns`` (heading, width in mm, alignment) and rows of text; the last
        ``totals`` rows are shaded as totals. The heading row repeats on every page."""
        self.set_font(_FONT, "", 9)
        width = sum(w for _, w, _ in columns)
        with self.table(
            col_widths=tuple(w for _, w, _ in columns),
            width=width,
            align="LEFT",
            text_align=tuple(_ALIGN[a] for _, _, a in columns),
            headings_style=FontFace(emphasis="", fill_color=_HEADING_FILL),
            repeat_headings=TableHeadingsDisplay.ON_TOP_OF_EVERY_PAGE,
            line_height=LINE_H,
            wrapmode=WrapMode.CHAR,
            padding=(0.8, 1.2),
        ) as table:
            heading = table.row()
            for name, _, _ in columns:
                heading.cell(name, align="CENTER")
            for n, values in enumerate(rows):
                is_total = n >= len(rows) - totals
                style = FontFace(fill_color=_TOTAL_FILL) if is_total else None
                row = table.row(style=style)
                for value in values:
                    row.cell(value)
        self.ln(2.0)

    def pairs(self, rows: Sequence[tuple[str, str]], *, names: tuple[str, str]) -> None:
        self.grid(((names[0], 62.0, "L"), (names[1], CONTENT_W - 62.0, "L")), rows)

    def bytes(self) -> bytes:
        return bytes(self.output())


# --- the project evaluation report ------------------------------------------------------------


def evaluation_pdf(
    report: ProjectEvaluationReport, *, font_path: Path = DEFAULT_FONT_PATH
) -> bytes:
    """项目绩效评价报告 as the bytes of a PDF. ``FileNotFoundError`` naming the font and its
    Debian package when the font is not there."""
    p, f, ev = report.project, report.figures, report.evaluation
    pdf = _ReportPDF(report.title, report.generated_at, font_path)
    period = f"{p.period.start.isoformat()} 至 {p.period.end.isoformat()}"
    pdf.title_block((f"{p.name}（{p.code}）", f"评价期间：{period}"))
    incident = MISSING
    if p.incident is not None:
        incident = f"{p.incident.code} {p.incident.name}" + ("（重大）" if p.incident.major else "")
    pdf.section("一、项目概况")
    pdf.pairs(
        (
            ("项目编码", p.code),
            ("项目名称", p.name),
            ("项目类别", p.category_label),
            ("乡镇（街道）", p.town or "全区"),
            ("执行机构", f"{p.org_name}（{p.org_code}）"),
            ("关联灾害事件", incident),
            ("项目预算", money(p.budget_fen)),
            ("评价期间", period),
            ("生成人", report.generated_by or MISSING),
        ),
        names=("项目", "内容"),
    )
    fu, dis = f.follow_ups, f.disclosure
    pdf.section("二、项目指标")
    pdf.pairs(
        (
            ("募集金额", money(f.raised_fen)),
            ("使用金额", money(f.used_fen)),
            ("预算执行率", percent(report.budget_execution)),
            ("捐赠到使用天数 P50", _days(f.gift_to_use_p50_days)),
            ("捐赠到使用天数 P90", _days(f.gift_to_use_p90_days)),
            ("受助人数", f"{count(f.people_reached)} 人"),
            ("受助户数", f"{count(f.households_reached)} 户"),
            ("发放物资价值", money(f.goods_delivered_fen)),
            (
                "回访（计划 / 待回访 / 按期 / 逾期完成 / 逾期未回访）",
                " / ".join(count(n) for n in (fu.planned, fu.due, fu.on_time, fu.late, fu.overdue)),
            ),
            ("按期回访率", percent(fu.on_time_share)),
            ("平均满意度（1–5 分）", _satisfaction(fu.average_satisfaction, fu.satisfaction_count)),
            (
                "公示（应公示 / 按期 / 逾期）",
                " / ".join(count(n) for n in (dis.entries, dis.on_time, dis.late)),
            ),
            ("按期公示率", percent(dis.on_time_share)),
            ("公示延迟中位数", hours(dis.median_delay)),
        ),
        names=("指标", "数值"),
    )
    pdf.section("三、绩效评价")
    pdf.paragraph(f"总分 {number(ev.total, 2)} 分，评价等级：{ev.grade}。")
    pdf.grid(
        (
            ("指标", 52.0, "L"),
            ("维度", 24.0, "C"),
            ("权重", 15.0, "R"),
            ("目标值", 18.0, "R"),
            ("实际值", 18.0, "R"),
            ("完成率", 18.0, "R"),
            ("得分", 15.0, "R"),
        ),
        [
            (
                s.indicator.name,
                label(DIMENSION_LABELS, s.indicator.dimension),
                number(s.indicator.weight, 0),
                _figure(s.indicator, s.indicator.target),
                _figure(s.indicator, s.actual),
                percent(s.attainment),
                number(s.score, 2),
            )
            for s in ev.scores
        ]
        + [
            (
                f"合计（等级：{ev.grade}）",
                "",
                number(sum((s.indicator.weight for s in ev.scores), Fraction(0)), 0),
                "",
                "",
                "",
                number(ev.total, 2),
            )
        ],
        totals=1,
    )
    return pdf.bytes()


def _figure(indicator: Indicator, value: Fraction | None) -> str:
    if value is None:
        return NOT_MEASURED
    return percent(value) if is_rate(indicator) else number(value, 2)


def _satisfaction(average: Fraction | None, scored: int) -> str:
    return MISSING if average is None else f"{number(average, 2)}（{count(scored)} 次评分）"


def _days(value: Fraction | None) -> str:
    return MISSING if value is None else f"{number(value)} 天"


# --- the annual report -----------------------------------------------------------------------


def annual_pdf(report: AnnualReport, *, font_path: Path = DEFAULT_FONT_PATH) -> bytes:
    """年度工作报告 as the bytes of a PDF. ``FileNotFoundError`` naming the font and its Debian
    package when the font is not there."""
    pdf = _ReportPDF(report.title, report.generated_at, font_path)
    pdf.title_block(
        (f"统计范围：{report.scope.shown}", f"报告期间：{report.year} 年 1 月 1 日至 12 月 31 日")
    )
    c = report.counts
    pdf.section("一、概况")
    pdf.pairs(
        (
            ("收入合计", money(report.income_fen)),
            ("支出合计", money(report.expenditure_fen)),
            ("捐赠笔数", count(c.gifts)),
            ("捐赠人数", count(c.donors)),
            ("拨付笔数", count(c.disbursements)),
            ("受助人数", f"{count(c.people_reached)} 人"),
            ("参评项目数", count(len(report.evaluations))),
            ("生成人", report.generated_by or MISSING),
        ),
        names=("项目", "内容"),
    )
    pdf.section("二、收入")
    income_columns: tuple[tuple[str, float, Align], ...] = (
        ("类别", 60.0, "L"),
        ("笔数", 30.0, "R"),
        ("金额", 50.0, "R"),
        ("占比", 40.0, "R"),
    )
    pdf.paragraph("（一）按类别")
    pdf.grid(income_columns, _income(report.income_by_kind, KIND_LABELS), totals=1)
    pdf.paragraph("（二）按渠道")
    pdf.grid(income_columns, _income(report.income_by_channel, CHANNEL_LABELS), totals=1)
    pdf.section("三、支出")
    pdf.paragraph("（一）按项目")
    pdf.grid(
        (
            ("项目编码", 30.0, "L"),
            ("项目名称", 54.0, "L"),
            ("资金", 32.0, "R"),
            ("物资", 32.0, "R"),
            ("合计", 32.0, "R"),
        ),
        _spending(report.expenditure_by_project, with_key=True),
        totals=1,
    )
    pdf.paragraph("（二）按乡镇（街道）")
    pdf.grid(
        (
            ("乡镇（街道）", 84.0, "L"),
            ("资金", 32.0, "R"),
            ("物资", 32.0, "R"),
            ("合计", 32.0, "R"),
        ),
        _spending(report.expenditure_by_town, with_key=False),
        totals=1,
    )
    pdf.section("四、物资")
    goods_rows = [
        (
            g.label,
            money(g.received_donated_fen),
            money(g.received_procured_fen),
            money(g.delivered_fen),
            money(g.written_off_fen),
            money(g.on_hand_fen),
        )
        for g in report.goods
    ]
    goods_rows.append(
        (
            "合计",
            money(sum(g.received_donated_fen for g in report.goods)),
            money(sum(g.received_procured_fen for g in report.goods)),
            money(sum(g.delivered_fen for g in report.goods)),
            money(sum(g.written_off_fen for g in report.goods)),
            money(sum(g.on_hand_fen for g in report.goods)),
        )
    )
    pdf.grid(
        (
            ("类别", 25.0, "L"),
            ("接收捐赠", 31.0, "R"),
            ("采购入库", 31.0, "R"),
            ("发放", 31.0, "R"),
            ("报损", 31.0, "R"),
            ("年末库存", 31.0, "R"),
        ),
        goods_rows,
        totals=1,
    )
    pdf.section("五、项目绩效评价")
    if report.evaluations:
        pdf.grid(
            (
                ("项目编码", 36.0, "L"),
                ("项目名称", 94.0, "L"),
                ("得分", 30.0, "R"),
                ("等级", 20.0, "C"),
            ),
            [(e.code, e.name, number(e.score, 2), e.grade) for e in report.evaluations],
        )
    else:
        pdf.paragraph("本年度无参评项目。")
    return pdf.bytes()


def _income(rows: Sequence[IncomeRow], names: Mapping[str, str]) -> list[tuple[str, ...]]:
    whole = sum(r.amount_fen for r in rows)
    out: list[tuple[str, ...]] = [
        (
            label(names, r.key),
            count(r.gifts),
            money(r.amount_fen),
            percent(Fraction(r.amount_fen, whole) if whole else None),
        )
        for r in rows
    ]
    out.append(
        (
            "合计",
            count(sum(r.gifts for r in rows)),
            money(whole),
            percent(Fraction(1) if whole else None),
        )
    )
    return out


def _spending(rows: Sequence[ExpenditureRow], *, with_key: bool) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for r in rows:
        figures = (money(r.money_fen), money(r.goods_fen), money(r.total_fen))
        out.append(((r.key, r.name) if with_key else (r.name,)) + figures)
    totals = (
        money(sum(r.money_fen for r in rows)),
        money(sum(r.goods_fen for r in rows)),
        money(sum(r.total_fen for r in rows)),
    )
    out.append((("", "合计") if with_key else ("合计",)) + totals)
    return out
