"""The shapes of the two reports of issue 17, as frozen values (no I/O).

``ProjectEvaluationReport`` is one project's performance evaluation (项目绩效评价报告): what
the project is, its figures of a period (raised, used, gift-to-use days, people reached, goods
delivered, follow-ups, disclosure) and the evaluation ``donation.domain.evaluation.evaluate``
gave them. ``AnnualReport`` is the figures of the annual work report (年度工作报告) of the
district or of one town: income by kind and by channel, expenditure by project and by town,
goods in and out by category, the evaluation table and the year's counts.

The queries fill them; ``donation.adapters.report_xlsx`` and ``report_pdf`` render them. Money
is integer fen throughout (never floats); rates and quantiles are exact ``Fraction``\\ s, or
``None`` where there is nothing to measure (no budget, no use yet), which the renderers show as
"—". Times are timezone-aware (shown in Asia/Shanghai). Each value checks its own consistency
on construction and raises ``ValueError`` (or ``TypeError`` for a float where fen belong)
naming what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from donation.domain.evaluation import Evaluation, Indicator, rate

# Labels of the codes the reports show (zh-CN, as the console shows them).
KIND_LABELS: Mapping[str, str] = {"money": "资金", "goods": "物资"}
# shared.contracts.donation.Channel
CHANNEL_LABELS: Mapping[str, str] = {
    "wechat_pay": "微信支付",
    "alipay": "支付宝",
    "bank_transfer": "银行转账",
    "cash": "现金",
    "cheque": "支票",
    "on_site": "现场（物资）",
}
# projects.category
PROJECT_CATEGORY_LABELS: Mapping[str, str] = {
    "song_wan_jia": "博爱送万家",
    "wan_ren_xing": "博爱万人行",
    "boai_jiayuan": "博爱家园",
    "emergency": "应急救灾",
    "other": "其他",
}
# The warehouse's item categories (warehouse.domain.model.CATEGORIES; the donation service
# does not import the warehouse's code, so the labels are repeated here).
GOODS_CATEGORY_LABELS: Mapping[str, str] = {
    "shelter": "住所类",
    "food": "食品",
    "water": "饮用水",
    "medical": "医疗急救",
    "lighting_power": "照明与电力",
    "clothing_bedding": "衣被类",
    "hygiene": "卫生用品",
}
DIMENSION_LABELS: Mapping[str, str] = {
    "output": "产出指标",
    "benefit": "效益指标",
    "satisfaction": "满意度指标",
    "budget_execution": "预算执行率",
}
GRADES = ("优", "良", "中", "差")
DISTRICT_NAME = "奉化区红十字会"


def rounded(value: Fraction, places: int) -> Decimal:
    """An exact fraction as a decimal of ``places`` places, rounded half up (for display)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def is_rate(indicator: Indicator) -> bool:
    """Whether an indicator's target and actual figure are shares, shown as percentages: its
    name says so (按期回访率, 预算执行率; the others name their unit: 人, 天, 分)."""
    return indicator.name.rstrip().endswith("率")


def label(labels: Mapping[str, str], key: str) -> str:
    """The label of ``key``, or the key itself when it has none (a new code still shows)."""
    return labels.get(key, key)


def _check_fen(name: str, value: object, *, negative: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be integer fen, not {type(value).__name__}")
    if not negative and value < 0:
        raise ValueError(f"{name} cannot be negative: {value}")


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} cannot be negative: {value}")


def _check_fraction(name: str, value: Fraction | None) -> None:
    """``None``, or a non-negative exact ``Fraction``."""
    if value is None:
        return
    if not isinstance(value, Fraction):
        raise TypeError(f"{name} must be a Fraction or None, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} cannot be negative: {value}")


def _check_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware: {value!r}")


def _check_counts_and_fen(value: object, fen: Iterable[str], counts: Iterable[str]) -> None:
    for name in fen:
        _check_fen(name, getattr(value, name))
    for name in counts:
        _check_count(name, getattr(value, name))


@dataclass(frozen=True)
class Period:
    """Days ``start`` to ``end``, both included (calendar days in Asia/Shanghai)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, datetime) or not isinstance(value, date):
                raise TypeError(f"period {name} must be a date")
        if self.start > self.end:
            raise ValueError(f"a period cannot end ({self.end}) before it starts ({self.start})")

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31))


@dataclass(frozen=True)
class IncidentRef:
    """The disaster incident a project (an appeal) answers."""

    code: str
    name: str
    major: bool = False


@dataclass(frozen=True)
class ProjectInfo:
    code: str
    name: str
    category: str  # projects.category: song_wan_jia, ..., other
    town: str | None  # None: the whole district
    org_code: str
    org_name: str
    budget_fen: int | None  # None: no budget set
    period: Period  # the period the figures are of
    incident: IncidentRef | None = None

    def __post_init__(self) -> None:
        if not self.code or not self.name:
            raise ValueError("a project needs a code and a name")
        if self.budget_fen is not None:
            _check_fen("budget_fen", self.budget_fen)

    @property
    def category_label(self) -> str:
        return label(PROJECT_CATEGORY_LABELS, self.category)


@dataclass(frozen=True)
class FollowUpFigures:
    """A project's planned follow-up visits (回访) of the period, by where each stands
    (``donation.domain.follow_up_plan.visit_state``; the same fields as its ``VisitSummary``):
    ``due`` visits are not made and not yet owed, ``overdue`` ones are owed and not made."""

    planned: int
    due: int
    on_time: int
    late: int
    overdue: int
    satisfaction_count: int = 0  # visits with a 1–5 score
    average_satisfaction: Fraction | None = None

    def __post_init__(self) -> None:
        _check_counts_and_fen(
            self, (), ("planned", "due", "on_time", "late", "overdue", "satisfaction_count")
        )
        if self.due + self.on_time + self.late + self.overdue != self.planned:
            raise ValueError(
                "follow-ups: due + on time + late + overdue must make the planned visits "
                f"({self.due} + {self.on_time} + {self.late} + {self.overdue} ≠ {self.planned})"
            )
        if self.satisfaction_count > self.on_time + self.late:
            raise ValueError("follow-ups: more scored visits than visits made")
        if (self.average_satisfaction is None) != (self.satisfaction_count == 0):
            raise ValueError("follow-ups: an average satisfaction exactly when visits scored")
        _check_fraction("average_satisfaction", self.average_satisfaction)
        if self.average_satisfaction is not None and not (1 <= self.average_satisfaction <= 5):
            raise ValueError(f"satisfaction is 1–5, not {self.average_satisfaction}")

    @property
    def made(self) -> int:
        return self.on_time + self.late

    @property
    def owed(self) -> int:
        """Visits owed by now: made, or overdue (``follow_up_plan.on_time_share``)."""
        return self.on_time + self.late + self.overdue

    @property
    def on_time_share(self) -> Fraction | None:
        """Made on time of those owed by now; ``None`` when none was owed yet."""
        return rate(self.on_time, self.owed)


@dataclass(frozen=True)
class DisclosureFigures:
    """The project's facts on the public feed: how many were due for disclosure in the
    period, how many were published by their deadline and how many after it (the rest are not
    yet published), and the median time from a fact to its publication."""

    entries: int
    on_time: int
    late: int
    median_delay: timedelta | None = None  # None: nothing published

    def __post_init__(self) -> None:
        _check_counts_and_fen(self, (), ("entries", "on_time", "late"))
        if self.on_time + self.late > self.entries:
            raise ValueError("disclosure: more published on time and late than entries")
        if (self.median_delay is None) != (self.published == 0):
            raise ValueError("disclosure: a median delay exactly when something was published")
        if self.median_delay is not None and self.median_delay < timedelta(0):
            raise ValueError("disclosure: a delay cannot be negative")

    @property
    def published(self) -> int:
        return self.on_time + self.late

    @property
    def on_time_share(self) -> Fraction | None:
        """Published on time of those published; ``None`` when none was."""
        return rate(self.on_time, self.published)


@dataclass(frozen=True)
class ProjectFigures:
    raised_fen: int  # gifts to the project in the period, net of refunds
    used_fen: int  # disbursed and goods used in the period
    goods_delivered_fen: int  # value of the donated goods delivered (per unit signed for)
    people_reached: int
    households_reached: int
    gift_to_use_p50_days: Fraction | None  # None: nothing used yet
    gift_to_use_p90_days: Fraction | None
    follow_ups: FollowUpFigures
    disclosure: DisclosureFigures

    def __post_init__(self) -> None:
        _check_counts_and_fen(
            self,
            ("raised_fen", "used_fen", "goods_delivered_fen"),
            ("people_reached", "households_reached"),
        )
        p50, p90 = self.gift_to_use_p50_days, self.gift_to_use_p90_days
        if (p50 is None) != (p90 is None):
            raise ValueError("gift-to-use days: both quantiles or neither")
        _check_fraction("gift_to_use_p50_days", p50)
        _check_fraction("gift_to_use_p90_days", p90)
        if p50 is not None and p90 is not None and p50 > p90:
            raise ValueError(f"gift-to-use days: p50 ({p50}) above p90 ({p90})")


@dataclass(frozen=True)
class ProjectEvaluationReport:
    """项目绩效评价报告: one project, its figures and its evaluation."""

    project: ProjectInfo
    figures: ProjectFigures
    evaluation: Evaluation  # as ``donation.domain.evaluation.evaluate`` returned it
    generated_at: datetime
    generated_by: str

    def __post_init__(self) -> None:
        _check_aware("generated_at", self.generated_at)
        if not isinstance(self.evaluation, Evaluation):
            raise TypeError("evaluation must be a donation.domain.evaluation.Evaluation")

    @property
    def budget_execution(self) -> Fraction | None:
        """预算执行率 = used ÷ budget (may pass 1 when overspent); ``None`` without a budget."""
        return rate(self.figures.used_fen, self.project.budget_fen)

    @property
    def title(self) -> str:
        return f"{DISTRICT_NAME} 项目绩效评价报告"


@dataclass(frozen=True)
class ReportScope:
    """Whose figures: the district (every organisation, ``town`` None) or one town branch."""

    org_code: str
    org_name: str
    town: str | None = None

    @property
    def is_district(self) -> bool:
        return self.town is None

    @property
    def shown(self) -> str:
        return f"全区（{self.org_name}）" if self.is_district else self.org_name


@dataclass(frozen=True)
class IncomeRow:
    """Gifts received in the year under one kind (``money``/``goods``) or one channel,
    counted net of refunds; goods at their estimated value."""

    key: str
    gifts: int
    amount_fen: int

    def __post_init__(self) -> None:
        _check_counts_and_fen(self, ("amount_fen",), ("gifts",))


@dataclass(frozen=True)
class ExpenditureRow:
    """What was used in the year under one project (``key`` its code) or one town (``key``
    the town, ``name`` how to show it): money disbursed and donated goods delivered."""

    key: str
    name: str
    money_fen: int
    goods_fen: int

    def __post_init__(self) -> None:
        _check_counts_and_fen(self, ("money_fen", "goods_fen"), ())

    @property
    def total_fen(self) -> int:
        return self.money_fen + self.goods_fen


GOODS_FEN_FIELDS = (
    "received_donated_fen",
    "received_procured_fen",
    "delivered_fen",
    "written_off_fen",
    "on_hand_fen",
)


@dataclass(frozen=True)
class GoodsRow:
    """One item category's goods in and out over the year, by value in fen."""

    category: str
    received_donated_fen: int
    received_procured_fen: int
    delivered_fen: int
    written_off_fen: int
    on_hand_fen: int  # stock on hand at the year's end

    def __post_init__(self) -> None:
        _check_counts_and_fen(self, GOODS_FEN_FIELDS, ())

    @property
    def label(self) -> str:
        return label(GOODS_CATEGORY_LABELS, self.category)


@dataclass(frozen=True)
class EvaluationRow:
    code: str
    name: str
    score: Fraction  # 0..100, exact
    grade: str  # 优 良 中 差

    def __post_init__(self) -> None:
        if not isinstance(self.score, Fraction):
            raise TypeError("score must be a Fraction")
        if not 0 <= self.score <= 100:
            raise ValueError(f"{self.code}: a score lies in [0, 100], not {self.score}")
        if self.grade not in GRADES:
            raise ValueError(f"{self.code}: grade is one of {''.join(GRADES)}, not {self.grade}")

    @classmethod
    def of(cls, code: str, name: str, evaluation: Evaluation) -> EvaluationRow:
        return cls(code, name, evaluation.total, evaluation.grade)


@dataclass(frozen=True)
class AnnualCounts:
    gifts: int
    donors: int
    disbursements: int
    people_reached: int

    def __post_init__(self) -> None:
        _check_counts_and_fen(self, (), [f.name for f in fields(self)])


@dataclass(frozen=True)
class AnnualReport:
    """年度工作报告 figures of one year. Income by kind and by channel are two splits of the
    same gifts, and expenditure by project and by town two splits of the same uses: each pair
    must add up to the same total."""

    year: int
    scope: ReportScope
    income_by_kind: tuple[IncomeRow, ...]
    income_by_channel: tuple[IncomeRow, ...]
    expenditure_by_project: tuple[ExpenditureRow, ...]
    expenditure_by_town: tuple[ExpenditureRow, ...]
    goods: tuple[GoodsRow, ...]
    evaluations: tuple[EvaluationRow, ...]
    counts: AnnualCounts
    generated_at: datetime
    generated_by: str

    def __post_init__(self) -> None:
        if not 2000 <= self.year <= 2200:
            raise ValueError(f"an implausible report year: {self.year}")
        _check_aware("generated_at", self.generated_at)
        for name in (
            "income_by_kind",
            "income_by_channel",
            "expenditure_by_project",
            "expenditure_by_town",
            "goods",
            "evaluations",
        ):
            if not isinstance(getattr(self, name), tuple):
                raise TypeError(f"{name} must be a tuple")
        by_kind = sum(r.amount_fen for r in self.income_by_kind)
        by_channel = sum(r.amount_fen for r in self.income_by_channel)
        if by_kind != by_channel:
            raise ValueError(f"income by kind ({by_kind}) ≠ income by channel ({by_channel})")
        if sum(r.gifts for r in self.income_by_kind) != sum(
            r.gifts for r in self.income_by_channel
        ):
            raise ValueError("income: gifts by kind and by channel differ in number")
        by_project = sum(r.total_fen for r in self.expenditure_by_project)
        by_town = sum(r.total_fen for r in self.expenditure_by_town)
        if by_project != by_town:
            raise ValueError(f"expenditure by project ({by_project}) ≠ by town ({by_town})")
        for rows, what in ((self.income_by_kind, "kind"), (self.income_by_channel, "channel")):
            keys = [r.key for r in rows]
            if len(set(keys)) != len(keys):
                raise ValueError(f"income by {what}: a key twice")
        codes = [r.code for r in self.evaluations]
        if len(set(codes)) != len(codes):
            raise ValueError("evaluation table: a project twice")

    @property
    def period(self) -> Period:
        return Period.year(self.year)

    @property
    def income_fen(self) -> int:
        return sum(r.amount_fen for r in self.income_by_kind)

    @property
    def expenditure_fen(self) -> int:
        return sum(r.total_fen for r in self.expenditure_by_project)

    @property
    def title(self) -> str:
        return f"{DISTRICT_NAME} {self.year} 年度工作报告"
