"""``/api/v1/audit-log`` (every staff action) and ``/api/v1/expiry-scans`` (run the daily scan)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from shared.auth import Role, StaffPrincipal, require_roles
from shared.http_commands import IdempotencyKey, RuntimeDep, idempotent
from shared.openapi import raises
from shared.pagination import Cursor, Limit, decode_cursor, read_page
from shared.uow import SqlUnitOfWork
from warehouse.adapters.orm import audit_log
from warehouse.domain.model import local_today
from warehouse.entrypoints.api.deps import (
    POST_CONFLICT,
    Keeper,
    settings_of,
)
from warehouse.entrypoints.api.schemas import AuditOut, AuditPage, ScanOut
from warehouse.service_layer.expiry import scan
from warehouse.service_layer.stock import audit

router = APIRouter(prefix="/api/v1", tags=["audit 审计"])

Auditor = require_roles(Role.AUDITOR)


@router.get("/audit-log", response_model=AuditPage, summary="审计日志（最新在前）")
async def list_audit(
    runtime: RuntimeDep,
    _: StaffPrincipal = Auditor,
    entity_type: str | None = Query(None, max_length=32),
    entity_id: str | None = Query(None, max_length=64),
    actor: str | None = Query(None, max_length=64),
    action: str | None = Query(None, max_length=64),
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AuditPage:
    query = select(audit_log)
    if entity_type:
        query = query.where(audit_log.c.entity_type == entity_type)
    if entity_id:
        query = query.where(audit_log.c.entity_id == entity_id)
    if actor:
        query = query.where(audit_log.c.actor == actor)
    if action:
        query = query.where(audit_log.c.action == action)
    if cursor:
        (before,) = decode_cursor(cursor, 1, int)
        query = query.where(audit_log.c.seq < before)
    query = query.order_by(audit_log.c.seq.desc())
    async with runtime.session_factory() as session:
        page, next_cursor = await read_page(session, query, limit, lambda r: [r.seq])
    return AuditPage(
        items=[AuditOut.model_validate(r, from_attributes=True) for r in page],
        next_cursor=next_cursor,
    )


@router.post(
    "/expiry-scans",
    response_model=ScanOut,
    summary="立即运行效期扫描（每日任务，按日幂等）",
    responses=raises(POST_CONFLICT),
)
async def run_expiry_scan(
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Keeper,
    scan_date: date | None = Query(None, description="扫描日期，默认今天（上海时间）"),
) -> JSONResponse:
    window = settings_of(runtime).near_expiry_days
    day = scan_date or local_today()

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        result = await scan(uow, scan_date=day, window_days=window)
        await audit(
            uow.session,
            actor=staff.username,
            action="expiry_scan.run",
            entity_type="expiry_scan",
            entity_id=day.isoformat(),
            at=datetime.now(UTC),
            detail={"near_expiry": result.near_expiry, "expired": result.expired},
        )
        out = ScanOut(
            scan_date=result.scan_date, near_expiry=result.near_expiry, expired=result.expired
        )
        return 200, out.model_dump(mode="json")

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/expiry-scans",
        payload={"scan_date": day.isoformat()},
        action=action,
    )
