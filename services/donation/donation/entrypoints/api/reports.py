"""Reports (CSV too), the receipt register and the audit log (read-only)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from donation.entrypoints.api.schemas import AuditPage, ReceiptPage
from donation.service_layer.queries import reports
from donation.service_layer.queries.audit import AuditFilters, audit_page
from donation.service_layer.queries.receipts import register_page
from shared.auth import Role, StaffPrincipal, require_roles
from shared.http_commands import RuntimeDep
from shared.pagination import Cursor, Limit

router = APIRouter(prefix="/api/v1", tags=["reports"])

# JSON, or with format=csv the same report as CSV
CSV_TOO: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}

Reader = require_roles(Role.FINANCE, Role.APPROVER, Role.AUDITOR)
AuditReader = require_roles(Role.AUDITOR)


@router.get(
    "/reports/totals",
    summary="统计报表 Totals received and used, by month/project/channel/kind (CSV: format=csv)",
    responses=CSV_TOO,
)
async def totals(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    group_by: Annotated[reports.GroupBy, Query()] = "total",
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    project_code: Annotated[str | None, Query(max_length=32)] = None,
    kind: Annotated[str | None, Query(pattern="^(money|goods)$")] = None,
    channel: Annotated[str | None, Query(max_length=20)] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Any:
    async with runtime.unit_of_work() as uow:
        report = await reports.totals(
            uow,
            group_by=group_by,
            received_from=received_from,
            received_to=received_to,
            project_code=project_code,
            kind=kind,
            channel=channel,
        )
    if format == "csv":
        return Response(
            "\ufeff" + reports.to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="totals-{group_by}.csv"'},
        )
    return JSONResponse(report)


@router.get(
    "/reports/uses",
    summary="使用报表 Approved disbursements by project/month/town, by source of funds (CSV too)",
    responses=CSV_TOO,
)
async def uses(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    group_by: Annotated[reports.UsesGroupBy, Query()] = "project",
    disbursed_from: date | None = None,
    disbursed_to: date | None = None,
    project_code: Annotated[str | None, Query(max_length=32)] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Any:
    async with runtime.unit_of_work() as uow:
        report = await reports.uses(
            uow,
            group_by=group_by,
            disbursed_from=disbursed_from,
            disbursed_to=disbursed_to,
            project_code=project_code,
        )
    if format == "csv":
        return Response(
            "\ufeff" + reports.rows_to_csv(report, reports.USE_COLUMNS),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="uses-{group_by}.csv"'},
        )
    return JSONResponse(report)


@router.get("/receipts", response_model=ReceiptPage, summary="票据登记簿 The receipt register")
async def list_receipts(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    year: int | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ReceiptPage:
    return await register_page(runtime, year, limit=limit, cursor=cursor)


@router.get(
    "/audit", response_model=AuditPage, summary="审计日志 Every staff action (auditor, read-only)"
)
async def audit_log(
    runtime: RuntimeDep,
    _: StaffPrincipal = AuditReader,
    limit: Limit = 50,
    cursor: Cursor = None,
    entity: Annotated[str | None, Query(max_length=64)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditPage:
    filters = AuditFilters(entity=entity, entity_id=entity_id, actor=actor, action=action)
    return await audit_page(runtime, filters, limit=limit, cursor=cursor)
