"""``/api/v1/alerts``: stock alerts for warehouse staff (auditors may read)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from notification.domain.alerts import AlertKind
from notification.domain.commands import AcknowledgeAlert
from notification.entrypoints.api.schemas import (
    AcknowledgeIn,
    AlertOut,
    AlertPage,
    AlertStatusFilter,
)
from notification.service_layer import alerts as svc
from notification.service_layer.queries import alerts as queries
from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, NotFound
from shared.http_commands import IdempotencyKey, RuntimeDep, act_on_row
from shared.openapi import IDEMPOTENCY_CONFLICT, raises
from shared.pagination import Cursor, Limit

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

Handler = require_roles(Role.WAREHOUSE)
Reader = require_roles(Role.WAREHOUSE, Role.AUDITOR)


@router.get("", response_model=AlertPage, summary="库存预警列表 Stock alerts, newest first")
async def list_alerts(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    status: Annotated[
        AlertStatusFilter | None, Query(description="unresolved = open or acknowledged")
    ] = None,
    kind: AlertKind | None = None,
    warehouse_code: Annotated[str | None, Query(max_length=64)] = None,
    item_code: Annotated[str | None, Query(max_length=64)] = None,
    escalated: bool | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> AlertPage:
    filters = queries.AlertFilters(
        status=status,
        kind=kind,
        warehouse_code=warehouse_code,
        item_code=item_code,
        escalated=escalated,
    )
    return await queries.alert_page(runtime, filters, limit=limit, cursor=cursor)


@router.get(
    "/{alert_id}",
    response_model=AlertOut,
    summary="查看预警 One alert",
    responses=raises((NotFound, "No such alert")),
)
async def get_alert(
    alert_id: uuid.UUID, runtime: RuntimeDep, _: StaffPrincipal = Reader
) -> AlertOut:
    return await queries.alert(runtime, alert_id)


@router.post(
    "/{alert_id}/acknowledge",
    response_model=AlertOut,
    summary="确认预警 Acknowledge an alert with a note",
    responses=raises(
        (NotFound, "No such alert"),
        (Conflict, "Already acknowledged or resolved"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def acknowledge_alert(
    alert_id: uuid.UUID,
    body: AcknowledgeIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Handler,
) -> JSONResponse:
    command = AcknowledgeAlert(alert_id=alert_id, actor=staff.username, note=body.note)
    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /api/v1/alerts/{alert_id}/acknowledge",
        body=body,
        change=lambda uow: svc.acknowledge(uow, command),
        render=lambda uow: queries.alert_body(uow, alert_id),
    )
