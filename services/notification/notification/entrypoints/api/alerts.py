"""``/api/v1/alerts``: stock alerts for warehouse staff (auditors may read)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import and_, or_, select

from notification.adapters.alert_tables import alerts
from notification.domain.alerts import LABELS, AlertKind
from notification.service_layer.alerts import acknowledge
from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.idempotency import check_key, run_idempotent
from shared.openapi import IDEMPOTENCY_CONFLICT, raises
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

Handler = require_roles(Role.WAREHOUSE)
Reader = require_roles(Role.WAREHOUSE, Role.AUDITOR)
StatusFilter = Literal["open", "acknowledged", "resolved", "unresolved"]


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="重试请求时使用相同的值 (a retry with the same key gets the first result)",
        ),
    ] = None,
) -> str | None:
    return check_key(key)


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


class AlertOut(BaseModel):
    id: uuid.UUID
    kind: str
    label: str = Field(description="预警类型中文名 (the kind, in Chinese)")
    status: str
    warehouse_code: str
    warehouse_name: str
    item_code: str
    item_name: str
    details: dict[str, Any]
    occurrence: int
    previous_alert_id: uuid.UUID | None
    raised_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledge_note: str | None
    escalated_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=1000, description="处理说明 What is being done")

    @field_validator("note")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("note must not be blank")
        return value.strip()


def to_out(row: Any) -> AlertOut:
    values = dict(row._mapping)
    return AlertOut.model_validate(values | {"label": LABELS.get(values["kind"], values["kind"])})


@router.get("", response_model=AlertPage, summary="库存预警列表 Stock alerts, newest first")
async def list_alerts(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    status: Annotated[
        StatusFilter | None, Query(description="unresolved = open or acknowledged")
    ] = None,
    kind: AlertKind | None = None,
    warehouse_code: Annotated[str | None, Query(max_length=64)] = None,
    item_code: Annotated[str | None, Query(max_length=64)] = None,
    escalated: bool | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> AlertPage:
    query = select(alerts)
    if status == "unresolved":
        query = query.where(alerts.c.resolved_at.is_(None))
    elif status is not None:
        query = query.where(alerts.c.status == status)
    if kind is not None:
        query = query.where(alerts.c.kind == kind)
    if warehouse_code is not None:
        query = query.where(alerts.c.warehouse_code == warehouse_code)
    if item_code is not None:
        query = query.where(alerts.c.item_code == item_code)
    if escalated is not None:
        query = query.where(
            alerts.c.escalated_at.is_not(None) if escalated else alerts.c.escalated_at.is_(None)
        )
    if cursor is not None:
        at_raw, id_raw = decode_cursor(cursor, 2)
        try:
            at, last_id = datetime.fromisoformat(str(at_raw)), uuid.UUID(str(id_raw))
        except ValueError:
            raise ValidationFailed("无效的分页游标 (invalid cursor)") from None
        query = query.where(
            or_(alerts.c.raised_at < at, and_(alerts.c.raised_at == at, alerts.c.id < last_id))
        )
    query = query.order_by(alerts.c.raised_at.desc(), alerts.c.id.desc()).limit(limit + 1)
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(last.raised_at.isoformat(), str(last.id))
    return AlertPage(items=[to_out(r) for r in page], next_cursor=next_cursor)


@router.get(
    "/{alert_id}",
    response_model=AlertOut,
    summary="查看预警 One alert",
    responses=raises((NotFound, "No such alert")),
)
async def get_alert(
    alert_id: uuid.UUID, runtime: RuntimeDep, _: StaffPrincipal = Reader
) -> AlertOut:
    async with runtime.session_factory() as session:
        row = (await session.execute(select(alerts).where(alerts.c.id == alert_id))).first()
    if row is None:
        raise NotFound(f"预警不存在 (alert {alert_id} not found)")
    return to_out(row)


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
    async with runtime.session_factory() as session, session.begin():

        async def act() -> tuple[int, dict[str, Any]]:
            row = await acknowledge(session, alert_id, actor=staff.username, note=body.note)
            return 200, to_out(row).model_dump(mode="json")

        status, payload, replayed = await run_idempotent(
            session,
            scope=f"{staff.username}:POST /api/v1/alerts/{alert_id}/acknowledge",
            key=key,
            payload=body.model_dump(mode="json"),
            action=act,
        )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(payload, status, headers=headers)
