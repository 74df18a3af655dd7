"""``/api/v1/audit-log`` (every staff action) and ``/api/v1/expiry-scans`` (run the daily scan)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from shared.auth import Role, StaffPrincipal, require_roles
from shared.http_commands import IdempotencyKey, RuntimeDep, idempotent
from shared.openapi import raises
from shared.pagination import Cursor, Limit
from shared.uow import SqlUnitOfWork
from warehouse.domain.commands import RunExpiryScan
from warehouse.domain.model import local_today
from warehouse.entrypoints.api.deps import (
    POST_CONFLICT,
    Keeper,
    settings_of,
)
from warehouse.entrypoints.api.schemas import AuditPage, ScanOut
from warehouse.service_layer import expiry
from warehouse.service_layer.queries import audit as queries

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
    async with runtime.session_factory() as session:
        return await queries.list_audit(
            session,
            entity_type=entity_type,
            entity_id=entity_id,
            actor=actor,
            action=action,
            limit=limit,
            cursor=cursor,
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
    day = scan_date or local_today()
    command = RunExpiryScan(
        day, settings_of(runtime).near_expiry_days, staff.username, actor_org=staff.org
    )

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        result = await expiry.run_expiry_scan(uow, command)
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
