"""One project's performance evaluation (项目绩效评价) of a period, from this service's own
records: what it raised and used, how fast gifts were used, whom it reached, its goods handed
out, its follow-up visits, scored by the indicator table (``donation.domain.evaluation``).

The figures, exactly:

- **raised**: gifts designated to the project received in the period (not cancelled), net of
  refunds, money and goods (at their estimated value);
- **used**: the project's disbursements approved in the period and still standing (a reversed
  one counts nothing), plus the donated goods of the project's gifts signed for in the period;
- **goods delivered**: those signed-for goods, each unit at the value the donor's line gave it
  (:func:`donation.domain.figures.goods_used_fen`);
- **gift → use days**: for every share of a gift a disbursement of the period drew
  (allocation), the days from the gift's arrival to the approval; for every signed-for line of
  a goods gift, the days from arrival to the signature; p50 and p90 as PostgreSQL's
  ``percentile_cont`` gives them;
- **people and households reached**: every recipient of the project's approved disbursements
  and delivered dispatches counted once (:func:`recipients.project_reach`), to date;
- **follow-ups**: the planned visits that fell due in the period, by state as of today, and
  their average 1–5 satisfaction (:func:`follow_up_visits.project_summary`);
- **budget execution**: used ÷ budget (none without a budget).

Disclosure timeliness lives in the notification service's feed; this service does not receive
it yet, so the report shows it as not measured (the indicator scores 0, marked so) rather than
guessing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import col

from donation.adapters.orm import (
    Allocation,
    Disbursement,
    Donation,
    DonationItem,
    GoodsLineage,
    Incident,
    Organisation,
    Project,
)
from donation.adapters.report_xlsx import evaluation_xlsx
from donation.domain.evaluation import DEFAULT_INDICATORS, Indicator, evaluate, percentile
from donation.domain.figures import goods_used_fen
from donation.domain.report_model import (
    DisclosureFigures,
    FollowUpFigures,
    IncidentRef,
    Period,
    ProjectEvaluationReport,
    ProjectFigures,
    ProjectInfo,
)
from donation.service_layer.follow_up_visits import project_summary
from donation.service_layer.recipients import project_reach
from shared.errors import NotFound, ValidationFailed
from shared.uow import SqlUnitOfWork

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOT_COUNTED = ("pledged", "cancelled")
DAY_SECONDS = 86_400


def bounds(period: Period) -> tuple[datetime, datetime]:
    """The period's start and end as instants: [start 00:00, end + 1 day 00:00) in Shanghai."""
    start = datetime.combine(period.start, time(0), tzinfo=SHANGHAI)
    end = datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    return start, end


def days_between(earlier: datetime, later: datetime) -> Fraction:
    """Exact days (never negative: a use recorded before its gift's arrival counts 0)."""
    seconds = max(0, round((later - earlier).total_seconds()))
    return Fraction(seconds, DAY_SECONDS)


async def _project_info(uow: SqlUnitOfWork, project: Project, period: Period) -> ProjectInfo:
    organisation = await uow.session.get(Organisation, project.org_code)
    incident = (
        await uow.session.get(Incident, project.incident_code) if project.incident_code else None
    )
    return ProjectInfo(
        code=project.code,
        name=project.name,
        category=project.category,
        town=project.town,
        org_code=project.org_code,
        org_name=organisation.name if organisation else project.org_code,
        budget_fen=project.budget_fen,
        period=period,
        incident=IncidentRef(incident.code, incident.name, incident.major) if incident else None,
    )


async def _raised(uow: SqlUnitOfWork, code: str, start: datetime, end: datetime) -> int:
    value = await uow.session.scalar(
        select(func.coalesce(func.sum(Donation.amount_fen - Donation.refunded_fen), 0)).where(
            col(Donation.project_code) == code,
            col(Donation.status).not_in(NOT_COUNTED),
            col(Donation.received_at) >= start,
            col(Donation.received_at) < end,
        )
    )
    return int(value or 0)


async def _disbursed(
    uow: SqlUnitOfWork, code: str, start: datetime, end: datetime
) -> tuple[int, list[Fraction]]:
    """Fen of the period's standing disbursements, and the days of each gift share they drew."""
    approved = (
        col(Disbursement.project_code) == code,
        col(Disbursement.status) == "approved",
        col(Disbursement.approved_at) >= start,
        col(Disbursement.approved_at) < end,
    )
    total = await uow.session.scalar(
        select(func.coalesce(func.sum(Disbursement.amount_fen), 0)).where(*approved)
    )
    shares = await uow.session.execute(
        select(col(Donation.received_at), col(Disbursement.approved_at))
        .select_from(Allocation)
        .join(Disbursement, col(Disbursement.id) == col(Allocation.disbursement_id))
        .join(Donation, col(Donation.id) == col(Allocation.donation_id))
        .where(*approved)
    )
    days = [days_between(received, at) for received, at in shares if at is not None]
    return int(total or 0), days


async def _goods_signed(
    uow: SqlUnitOfWork, code: str, start: datetime, end: datetime
) -> tuple[int, list[Fraction]]:
    """Value of the project's donated goods signed for in the period, and the days from each
    gift's arrival to each signature."""
    signed = (
        await uow.session.execute(
            select(
                col(GoodsLineage.donation_id),
                col(GoodsLineage.item_code),
                col(GoodsLineage.quantity),
                col(GoodsLineage.at),
                col(Donation.received_at),
                col(Donation.amount_fen),
                col(Donation.refunded_fen),
            )
            .join(Donation, col(Donation.id) == col(GoodsLineage.donation_id))
            .where(
                col(Donation.project_code) == code,
                col(GoodsLineage.stage) == "signed",
                col(GoodsLineage.at) >= start,
                col(GoodsLineage.at) < end,
            )
        )
    ).all()
    if not signed:
        return 0, []
    gifts = {row[0] for row in signed}
    lines: dict[object, list[tuple[str, int, int]]] = defaultdict(list)
    for item in await uow.session.scalars(
        select(DonationItem).where(col(DonationItem.donation_id).in_(gifts))
    ):
        lines[item.donation_id].append((item.item_code, item.quantity, item.value_fen))
    caps: dict[object, int] = {}  # each gift's value net of refunds, read with its lineage
    delivered: dict[object, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    days: list[Fraction] = []
    for donation_id, item_code, quantity, at, received, amount, refunded in signed:
        caps[donation_id] = int(amount) - int(refunded)
        delivered[donation_id][item_code] += int(quantity)
        days.append(days_between(received, at))
    value = 0
    for gift, units in delivered.items():
        value += goods_used_fen(lines[gift], units, cap_fen=caps[gift])
    return value, days


async def project_evaluation(
    uow: SqlUnitOfWork,
    code: str,
    period: Period,
    *,
    actor: str,
    today: date,
    indicators: tuple[Indicator, ...] = DEFAULT_INDICATORS,
) -> ProjectEvaluationReport:
    project = await uow.session.get(Project, code)
    if project is None:
        raise NotFound(f"项目不存在 (project {code} not found)")
    start, end = bounds(period)
    raised = await _raised(uow, code, start, end)
    disbursed, money_days = await _disbursed(uow, code, start, end)
    goods_fen, goods_days = await _goods_signed(uow, code, start, end)
    reach = await project_reach(uow, code)
    (people_households, _recipients) = reach.total
    visits = await project_summary(
        uow, code, due_from=period.start, due_to=period.end + timedelta(days=1), today=today
    )
    days = money_days + goods_days
    p50, p90 = percentile(days, Fraction(1, 2)), percentile(days, Fraction(9, 10))
    follow_ups = FollowUpFigures(
        planned=visits.planned,
        due=visits.due,
        on_time=visits.on_time,
        late=visits.late,
        overdue=visits.overdue,
        satisfaction_count=visits.satisfaction_count,
        average_satisfaction=visits.average_satisfaction,
    )
    figures = ProjectFigures(
        raised_fen=raised,
        used_fen=disbursed + goods_fen,
        goods_delivered_fen=goods_fen,
        people_reached=people_households.people,
        households_reached=people_households.households,
        gift_to_use_p50_days=p50,
        gift_to_use_p90_days=p90,
        follow_ups=follow_ups,
        disclosure=DisclosureFigures(entries=0, on_time=0, late=0),
    )
    budget_rate = Fraction(figures.used_fen, project.budget_fen) if project.budget_fen else None
    actuals: dict[str, Fraction | None] = {
        "people_reached": Fraction(figures.people_reached),
        "follow_ups_on_time": follow_ups.on_time_share,
        "gift_to_use_p90_days": p90,
        "disclosure_on_time": None,  # not received from the feed yet (module docstring)
        "satisfaction": follow_ups.average_satisfaction,
        "budget_execution": budget_rate,
    }
    return ProjectEvaluationReport(
        project=await _project_info(uow, project, period),
        figures=figures,
        evaluation=evaluate(indicators, actuals),
        generated_at=datetime.now(UTC),
        generated_by=actor,
    )


MAX_SPAN_DAYS = 366 * 5


async def evaluation_between(
    uow: SqlUnitOfWork,
    code: str,
    date_from: date | None,
    date_to: date | None,
    *,
    actor: str,
    today: date,
) -> ProjectEvaluationReport:
    """The evaluation of [``date_from`` (default: the project's start), ``date_to`` (default:
    today)]; a backwards or over-long period is a 422, an unknown project a 404."""
    project = await uow.session.get(Project, code)
    if project is None:
        raise NotFound(f"项目不存在 (project {code} not found)")
    end = date_to or today
    start = date_from or project.starts_on
    if end < start:
        raise ValidationFailed(
            f"截止日 {end} 早于起始日 {start} (to is before from)",
            details={"from": start.isoformat(), "to": end.isoformat()},
        )
    if (end - start).days > MAX_SPAN_DAYS:
        raise ValidationFailed("评价期最长 5 年 (the period may span at most 5 years)")
    return await project_evaluation(uow, code, Period(start, end), actor=actor, today=today)


def as_xlsx(report: ProjectEvaluationReport) -> bytes:
    """The report as the workbook the branch files (routes do not import adapters)."""
    return evaluation_xlsx(report)
