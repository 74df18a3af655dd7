"""``/api/v1/projects/{code}/evaluation``: a project's performance evaluation (项目绩效评价) of
a period, as JSON, or as the report itself (xlsx; PDF), for those who read projects and the
supervisory board (监事会)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from donation.domain.report_model import ProjectEvaluationReport
from donation.entrypoints.api.project_access import NO_PROJECT, Reader
from donation.service_layer.evaluation_report import SHANGHAI, as_xlsx, evaluation_between
from donation.service_layer.follow_up_visits import today
from shared.auth import StaffPrincipal
from shared.errors import ValidationFailed
from shared.http_commands import RuntimeDep
from shared.openapi import raises

router = APIRouter(tags=["reports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _rate(value: Fraction | None, places: int = 4) -> float | None:
    """A rate or a score for reading (money stays integer fen): rounded, None when missing."""
    return None if value is None else round(float(value), places)


def report_json(report: ProjectEvaluationReport) -> dict[str, Any]:
    f, p = report.figures, report.project
    return {
        "project": {
            "code": p.code,
            "name": p.name,
            "category": p.category,
            "town": p.town,
            "org_code": p.org_code,
            "org_name": p.org_name,
            "budget_fen": p.budget_fen,
            "incident": None
            if p.incident is None
            else {"code": p.incident.code, "name": p.incident.name, "major": p.incident.major},
        },
        "period": {"from": p.period.start.isoformat(), "to": p.period.end.isoformat()},
        "figures": {
            "raised_fen": f.raised_fen,
            "used_fen": f.used_fen,
            "budget_execution": _rate(report.budget_execution),
            "goods_delivered_fen": f.goods_delivered_fen,
            "people_reached": f.people_reached,
            "households_reached": f.households_reached,
            "gift_to_use_p50_days": _rate(f.gift_to_use_p50_days, 2),
            "gift_to_use_p90_days": _rate(f.gift_to_use_p90_days, 2),
            "follow_ups": {
                "planned": f.follow_ups.planned,
                "due": f.follow_ups.due,
                "on_time": f.follow_ups.on_time,
                "late": f.follow_ups.late,
                "overdue": f.follow_ups.overdue,
                "on_time_share": _rate(f.follow_ups.on_time_share),
                "average_satisfaction": _rate(f.follow_ups.average_satisfaction, 2),
            },
            "disclosure": {
                "measured": False,
                "note": "公示及时性来自公示平台，本服务尚未接收 (not yet received from the feed)",
            },
        },
        "evaluation": {
            "total": _rate(report.evaluation.total, 2),
            "grade": report.evaluation.grade,
            "by_dimension": {k: _rate(v, 2) for k, v in report.evaluation.by_dimension().items()},
            "indicators": [
                {
                    "code": s.indicator.code,
                    "name": s.indicator.name,
                    "dimension": s.indicator.dimension,
                    "weight": _rate(s.indicator.weight, 2),
                    "target": _rate(s.indicator.target, 4),
                    "direction": s.indicator.direction,
                    "actual": _rate(s.actual, 4),
                    "measured": s.measured,
                    "score": _rate(s.score, 2),
                }
                for s in report.evaluation.scores
            ],
        },
        "generated_at": report.generated_at.astimezone(SHANGHAI).isoformat(),
        "generated_by": report.generated_by,
    }


@router.get(
    "/api/v1/projects/{code}/evaluation",
    summary="项目绩效评价 A project's performance evaluation of a period (JSON, xlsx)",
    responses={
        **raises(NO_PROJECT, (ValidationFailed, "The period is backwards or too long")),
        200: {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            }
        },
    },
)
async def get_evaluation(
    code: str,
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    date_from: Annotated[
        date | None, Query(alias="from", description="起始日（含），默认项目开始日")
    ] = None,
    date_to: Annotated[date | None, Query(alias="to", description="截止日（含），默认今天")] = None,
    format: Annotated[Literal["json", "xlsx"], Query(description="json 或 xlsx")] = "json",
) -> Response:
    async with runtime.unit_of_work() as uow:
        report = await evaluation_between(
            uow, code, date_from, date_to, actor=staff.username, today=today()
        )
    start, end = report.project.period.start, report.project.period.end
    if format == "xlsx":
        name = f"evaluation-{code}-{start:%Y%m%d}-{end:%Y%m%d}.xlsx"
        return Response(
            as_xlsx(report),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return JSONResponse(report_json(report))
