"""Reports (CSV too), the receipt register and the audit log (read-only)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy import and_, or_
from sqlmodel import col, select

from donation.adapters.orm import AuditEntry, Receipt
from donation.entrypoints.api.schemas import AuditOut, AuditPage, ReceiptOut, ReceiptPage
from donation.service_layer import reports
from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import ValidationFailed
from shared.http_commands import RuntimeDep
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor

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
    query = select(Receipt)
    if year is not None:
        query = query.where(col(Receipt.year) == year)
    if cursor is not None:
        y, s = decode_cursor(cursor, 2)
        if not isinstance(y, int) or not isinstance(s, int):
            raise ValidationFailed("无效的分页游标 (invalid cursor)")
        query = query.where(
            or_(col(Receipt.year) < y, and_(col(Receipt.year) == y, col(Receipt.seq) < s))
        )
    query = query.order_by(col(Receipt.year).desc(), col(Receipt.seq).desc()).limit(limit + 1)
    async with runtime.unit_of_work() as uow:
        rows = list(await uow.session.scalars(query))
        page = rows[:limit]
        return ReceiptPage(
            items=[ReceiptOut.model_validate(r, from_attributes=True) for r in page],
            next_cursor=encode_cursor(page[-1].year, page[-1].seq) if len(rows) > limit else None,
        )


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
    query = select(AuditEntry)
    if entity:
        query = query.where(col(AuditEntry.entity) == entity)
    if entity_id:
        query = query.where(col(AuditEntry.entity_id) == entity_id)
    if actor:
        query = query.where(col(AuditEntry.actor) == actor)
    if action:
        query = query.where(col(AuditEntry.action) == action)
    if cursor is not None:
        (last,) = decode_cursor(cursor, 1)
        if not isinstance(last, int):
            raise ValidationFailed("无效的分页游标 (invalid cursor)")
        query = query.where(col(AuditEntry.id) < last)
    query = query.order_by(col(AuditEntry.id).desc()).limit(limit + 1)
    async with runtime.unit_of_work() as uow:
        rows = list(await uow.session.scalars(query))
        page = rows[:limit]
        return AuditPage(
            items=[AuditOut.model_validate(a, from_attributes=True) for a in page],
            next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
        )
