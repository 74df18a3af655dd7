"""``POST /api/v1/preparedness/sweep``: run the preparedness sweep now (the background loop
runs it every ``WAREHOUSE_PREPAREDNESS_SWEEP_SECONDS``), and see what it published."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field

from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Forbidden
from shared.http_commands import IdempotencyKey, RuntimeDep, idempotent
from shared.openapi import raises
from shared.uow import SqlUnitOfWork
from warehouse.entrypoints.api.deps import POST_CONFLICT, settings_of
from warehouse.service_layer import clock, scope
from warehouse.service_layer import preparedness_signals as signals
from warehouse.service_layer.stock import audit

router = APIRouter(prefix="/api/v1/preparedness", tags=["preparedness 备灾"])

Approver = require_roles(Role.APPROVER)
ROUTE = "POST /api/v1/preparedness/sweep"


class SweepOut(BaseModel):
    assessed: int = Field(description="物资×仓库 评估数 Item-warehouse levels assessed")
    plan_gaps: int = Field(description="计划 镇×物资 评估数 Plan town-item lines assessed")
    reorder_on: int = Field(description="新低于补货点 Signals turned on: below reorder")
    reorder_off: int = Field(description="恢复 Signals turned off")
    reorder_changed: int = Field(description="建议量变化≥10% Suggested quantity moved")
    gap_open: int = Field(description="新缺口 Plan gaps opened")
    gap_closed: int = Field(description="缺口补齐 Plan gaps closed")
    gap_changed: int = Field(description="缺口变化 Plan gaps resized")
    published: int = Field(description="发布的信号总数 Signals published in all")
    assessed_at: AwareDatetime
    seconds: float


@router.post(
    "/sweep",
    response_model=SweepOut,
    summary="立即运行备灾扫描（只发布变化的补货与缺口信号）Run the preparedness sweep now",
    responses=raises(
        (Forbidden, "仅区红十字会人员可运行全区备灾扫描 (district staff only)"), POST_CONFLICT
    ),
)
async def run_sweep(
    runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Approver
) -> JSONResponse:
    scope.ensure_district(staff.org, "运行全区备灾扫描", "run the district's preparedness sweep")
    settings = settings_of(runtime)
    started = time.perf_counter()
    outcome: list[signals.SweepResult] = []

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        result = await signals.sweep(uow, settings)
        outcome.append(result)
        await audit(
            uow.session,
            actor=staff.username,
            action="preparedness_sweep.run",
            entity_type="preparedness_sweep",
            entity_id=result.assessed_at.isoformat(),
            at=clock.now(),
            detail=result.counts(),
        )
        out = SweepOut(
            **result.counts(),
            assessed_at=result.assessed_at,
            seconds=round(time.perf_counter() - started, 3),
        )
        return 200, out.model_dump(mode="json")

    response = await idempotent(
        runtime, staff=staff, key=key, route=ROUTE, payload={}, action=action
    )
    if outcome:  # run now (not a replay) and committed
        seconds = time.perf_counter() - started
        signals.SWEEP_SECONDS.observe(seconds)
        signals.count_published(outcome[0])
        signals.log_sweep(outcome[0], seconds, actor=staff.username)
    return response
