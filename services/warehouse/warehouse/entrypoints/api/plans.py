"""``/api/v1/preparedness/plans``: season plans (people to serve per town × norms, or targets
entered directly), the gap per town, and "fill the gap" transfer proposals."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, Forbidden, NotFound
from shared.http_commands import IdempotencyKey, RuntimeDep, conflicts_as_409, idempotent
from shared.openapi import Declared, raises
from shared.pagination import Cursor, Limit
from shared.uow import SqlUnitOfWork
from shared.versions import etag
from warehouse.entrypoints.api.deps import POST_CONFLICT, IfMatch, Reader, settings_of, versioned
from warehouse.entrypoints.api.exports import EXPORTABLE, ExportFormat, export_response
from warehouse.entrypoints.api.plan_schemas import (
    CoverageOut,
    FillGapIn,
    FillGapOut,
    FillPreviewOut,
    NormIn,
    PeopleIn,
    PlanCreate,
    PlanOut,
    PlanPage,
    PlanUpdate,
    TargetIn,
)
from warehouse.service_layer import plans
from warehouse.service_layer.fill_gap import FillPlan, fill_gap, preview_fill
from warehouse.service_layer.queries import dispatches as dispatch_queries
from warehouse.service_layer.queries import plans as queries
from warehouse.service_layer.scope import read_scope

router = APIRouter(prefix="/api/v1/preparedness/plans", tags=["preparedness 备灾"])

# plans are the district's: its dispatchers and approvers (and admins) edit them
Planner = require_roles(Role.DISPATCHER, Role.APPROVER)

NO_PLAN: Declared = (NotFound, "No such plan")
NO_PLAN_OR_ITEM: Declared = (NotFound, "No such plan, item, or warehouse")
DISTRICT_ONLY: Declared = (Forbidden, "仅区红十字会人员 (the district branch's staff only)")
EDIT: tuple[Declared, ...] = (
    NO_PLAN_OR_ITEM,
    DISTRICT_ONLY,
    (Conflict, "The plan is closed, the transition is not allowed, or version mismatch"),
)


async def _write(
    runtime: Any, code: str, change: Callable[[SqlUnitOfWork], Awaitable[None]]
) -> JSONResponse:
    """Change a plan in one unit of work; answer the plan as it now is (its version the ETag)."""
    async with conflicts_as_409(), runtime.unit_of_work() as uow:
        await change(uow)
        await uow.flush()
        body = await queries.plan_body(uow.session, code)
        await uow.commit()
    return JSONResponse(body, headers=etag(body["version"]))


@router.post(
    "",
    status_code=201,
    response_model=PlanOut,
    summary="新建备灾计划（区级调度员/审批人）",
    responses=versioned(
        (NotFound, "The source warehouse does not exist"),
        (Conflict, "The plan code exists, or the source warehouse is inactive"),
        DISTRICT_ONLY,
        POST_CONFLICT,
        status=201,
    ),
)
async def create_plan(
    body: PlanCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Planner
) -> JSONResponse:
    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        await plans.create_plan(
            uow,
            code=body.code,
            name=body.name,
            season_start=body.season_start,
            season_end=body.season_end,
            source_warehouse_code=body.source_warehouse_code,
            note=body.note,
            actor=staff.username,
            actor_org=staff.org,
        )
        await uow.flush()
        return 201, await queries.plan_body(uow.session, body.code)

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/preparedness/plans",
        payload=body.model_dump(mode="json"),
        action=action,
    )


@router.get("", response_model=PlanPage, summary="备灾计划列表")
async def list_plans(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    status: str | None = Query(None, pattern="^(draft|active|closed)$"),
    limit: Limit = 20,
    cursor: Cursor = None,
) -> dict[str, Any]:
    async with runtime.session_factory() as session:
        return await queries.list_plans(session, status=status, limit=limit, cursor=cursor)


@router.get("/{code}", response_model=PlanOut, summary="备灾计划详情", responses=versioned(NO_PLAN))
async def get_plan(code: str, runtime: RuntimeDep, staff: StaffPrincipal = Reader) -> JSONResponse:
    async with runtime.session_factory() as session:
        body = await queries.plan_body(session, code)
    return JSONResponse(body, headers=etag(body["version"]))


@router.patch(
    "/{code}",
    response_model=PlanOut,
    summary="修改备灾计划，启用/结束（乐观锁 If-Match）",
    responses=versioned(*EDIT),
)
async def update_plan(
    code: str,
    body: PlanUpdate,
    runtime: RuntimeDep,
    version: IfMatch,
    staff: StaffPrincipal = Planner,
) -> JSONResponse:
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    expected = version if version is not None else body.version
    return await _write(
        runtime,
        code,
        lambda uow: plans.update_plan(
            uow, code, changes, expected=expected, actor=staff.username, actor_org=staff.org
        ),
    )


@router.put(
    "/{code}/towns/{town}",
    response_model=PlanOut,
    summary="设置某镇需保障人数",
    responses=versioned(*EDIT),
)
async def set_town(
    code: str,
    town: str,
    body: PeopleIn,
    runtime: RuntimeDep,
    version: IfMatch,
    staff: StaffPrincipal = Planner,
) -> JSONResponse:
    return await _write(
        runtime,
        code,
        lambda uow: plans.set_town(
            uow,
            code,
            town,
            body.people,
            expected=version,
            actor=staff.username,
            actor_org=staff.org,
        ),
    )


@router.put(
    "/{code}/norms/{item_code}",
    response_model=PlanOut,
    summary="设置物资每人定额",
    responses=versioned(*EDIT),
)
async def set_norm(
    code: str,
    item_code: str,
    body: NormIn,
    runtime: RuntimeDep,
    version: IfMatch,
    staff: StaffPrincipal = Planner,
) -> JSONResponse:
    return await _write(
        runtime,
        code,
        lambda uow: plans.set_norm(
            uow,
            code,
            item_code,
            body.per_person,
            expected=version,
            actor=staff.username,
            actor_org=staff.org,
        ),
    )


@router.put(
    "/{code}/targets/{town}/{item_code}",
    response_model=PlanOut,
    summary="直接录入某镇某物资的目标（优先于人数×定额）",
    responses=versioned(*EDIT),
)
async def set_target(
    code: str,
    town: str,
    item_code: str,
    body: TargetIn,
    runtime: RuntimeDep,
    version: IfMatch,
    staff: StaffPrincipal = Planner,
) -> JSONResponse:
    return await _write(
        runtime,
        code,
        lambda uow: plans.set_target(
            uow,
            code,
            town,
            item_code,
            body.quantity,
            expected=version,
            actor=staff.username,
            actor_org=staff.org,
        ),
    )


@router.delete(
    "/{code}/targets/{town}/{item_code}",
    response_model=PlanOut,
    summary="删除直接录入的目标（恢复人数×定额）",
    responses=versioned(*EDIT),
)
async def delete_target(
    code: str,
    town: str,
    item_code: str,
    runtime: RuntimeDep,
    version: IfMatch,
    staff: StaffPrincipal = Planner,
) -> JSONResponse:
    return await _write(
        runtime,
        code,
        lambda uow: plans.set_target(
            uow,
            code,
            town,
            item_code,
            None,
            expected=version,
            actor=staff.username,
            actor_org=staff.org,
        ),
    )


@router.get(
    "/{code}/coverage",
    response_model=CoverageOut,
    summary="各镇覆盖率与缺口（format=csv|xlsx 导出明细）",
    responses={**raises(NO_PLAN), **EXPORTABLE},
)
async def coverage(
    code: str,
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    format: ExportFormat | None = Query(None, description="csv 或 xlsx：导出明细行"),
) -> Any:
    async with runtime.session_factory() as session:
        plan = await queries.plan_body(session, code)
        gaps = await plans.plan_coverage(session, uuid.UUID(plan["id"]))
        org = read_scope(staff)
        if org is not None:  # a town branch sees its own town
            town = await plans.town_of_org(session, org)
            gaps = [g for g in gaps if g.town == town]
    if format is not None:
        return export_response(
            queries.coverage_rows(gaps),
            queries.COVERAGE_HEADERS,
            fmt=format,
            filename=f"备灾计划覆盖-{code}",
        )
    head = {k: v for k, v in plan.items() if k not in {"towns", "norms", "targets"}}
    return queries.coverage_body(head, gaps)


def _fill_json(preview: FillPlan) -> dict[str, Any]:
    return {
        "plan_code": preview.plan_code,
        "source_warehouse_code": preview.source_warehouse_code,
        "towns": [
            {
                "town": t.town,
                "destination_warehouse_code": t.destination_warehouse_code,
                "note": t.note,
                "lines": [dataclasses.asdict(line) for line in t.lines],
            }
            for t in preview.towns
        ],
    }


@router.get(
    "/{code}/fill-gap",
    response_model=FillPreviewOut,
    summary="补缺口预览：从调出仓库（先到期先出）到各镇站点的调拨",
    responses=raises(NO_PLAN, (Conflict, "The plan has no source warehouse")),
)
async def fill_gap_preview(
    code: str,
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    town: str | None = Query(None, max_length=20),
) -> dict[str, Any]:
    async with runtime.session_factory() as session:
        preview = await preview_fill(
            session, code, town=town, min_days=settings_of(runtime).pick_min_days_to_expiry
        )
    return _fill_json(preview)


@router.post(
    "/{code}/fill-gap",
    status_code=201,
    response_model=FillGapOut,
    summary="补缺口：每镇一张调拨申请（须另一人审批）",
    responses=versioned(
        NO_PLAN,
        DISTRICT_ONLY,
        (Conflict, "The plan is closed, has no source, or there is nothing to fill"),
        POST_CONFLICT,
        status=201,
    ),
)
async def fill(
    code: str,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    body: FillGapIn | None = None,
    staff: StaffPrincipal = Planner,
) -> JSONResponse:
    town = body.town if body else None

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        preview, created = await fill_gap(
            uow,
            code,
            town=town,
            min_days=settings_of(runtime).pick_min_days_to_expiry,
            actor=staff.username,
            actor_org=staff.org,
        )
        made = [await dispatch_queries.step_body(uow.session, d.row.id, d) for d in created]
        return 201, _fill_json(preview) | {"dispatches": made}

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /api/v1/preparedness/plans/{code}/fill-gap",
        payload={"town": town},
        action=action,
    )
