"""``/api/v1/projects``, ``/api/v1/disbursements``, ``/api/v1/follow-ups``."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import and_, or_
from sqlmodel import col, select

from donation.adapters.orm import Allocation, Disbursement, Donation, FollowUp, Project
from donation.adapters.orm import RemainderDecision as RemainderRow
from donation.entrypoints.api.deps import IfMatch
from donation.entrypoints.api.schemas import (
    AllocationOut,
    CloseIn,
    DisbursementCreate,
    DisbursementOut,
    DisbursementPage,
    DisbursementPatch,
    FollowUpCreate,
    FollowUpOut,
    FollowUpPage,
    ProjectCreate,
    ProjectFiguresOut,
    ProjectOut,
    ProjectPage,
    ProjectPatch,
    ReasonIn,
    RemainderIn,
    RemainderOut,
)
from donation.service_layer import projects as svc
from donation.service_layer.common import local_date, now
from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)
from shared.http_commands import (
    Change,
    IdempotencyKey,
    RuntimeDep,
    act_on_row,
    edit_row,
    idempotent,
    read_row,
)
from shared.openapi import IDEMPOTENCY_CONFLICT, Declared, raises
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor
from shared.uow import SqlUnitOfWork

router = APIRouter(tags=["projects"])

Manager = require_roles(Role.FINANCE)
Approver = require_roles(Role.APPROVER, Role.FINANCE)
Visitor = require_roles(Role.FINANCE, Role.APPROVER, Role.DISPATCHER)
Reader = require_roles(Role.FINANCE, Role.APPROVER, Role.AUDITOR, Role.DISPATCHER)

NO_PROJECT: Declared = (NotFound, "No such project")
NO_DISBURSEMENT: Declared = (NotFound, "No such disbursement")
VERSION: tuple[Declared, ...] = (
    (PreconditionFailed, "Version mismatch"),
    (PreconditionRequired, "No version"),
)


async def project_body(uow: SqlUnitOfWork, code: str) -> dict[str, Any]:
    project = await uow.session.get(Project, code)
    if project is None:
        raise NotFound(f"项目不存在 (project {code} not found)")
    figures = await svc.project_figures(uow, code)
    remainder = await uow.session.get(RemainderRow, code)
    return ProjectOut(
        **project.model_dump(exclude={"announced_at", "updated_at"}),
        figures=ProjectFiguresOut(**figures.__dict__),
        remainder=RemainderOut.model_validate(remainder, from_attributes=True)
        if remainder
        else None,
    ).model_dump(mode="json")


async def _act_on_project(
    runtime: RuntimeDep,
    staff: StaffPrincipal,
    key: str | None,
    code: str,
    action: str,
    body: BaseModel,
    change: Change,
    status: int = 200,
) -> JSONResponse:
    """``POST /projects/{code}/<action>`` once per Idempotency-Key; answers the project as it
    now is."""
    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /projects/{code}/{action}",
        body=body,
        change=change,
        render=lambda uow: project_body(uow, code),
        status=status,
    )


@router.post(
    "/api/v1/projects",
    status_code=201,
    response_model=ProjectOut,
    summary="新建项目 Open a project",
    responses=raises((Conflict, "The project code exists"), IDEMPOTENCY_CONFLICT),
)
async def create_project(
    body: ProjectCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Manager
) -> JSONResponse:
    async def change(uow: SqlUnitOfWork) -> object:
        project = Project(**body.model_dump(), created_at=now(), created_by=staff.username)
        return await svc.create_project(uow, project, actor=staff.username)

    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/projects",
        body=body,
        change=change,
        render=lambda uow: project_body(uow, body.code),
        status=201,
    )


@router.get("/api/v1/projects", response_model=ProjectPage, summary="项目列表 List projects")
async def list_projects(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
    category: Annotated[str | None, Query(max_length=20)] = None,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    town: Annotated[str | None, Query(max_length=20)] = None,
    figures: Annotated[bool, Query(description="附带资金数字")] = False,
) -> ProjectPage:
    query = select(Project)
    if category:
        query = query.where(col(Project.category) == category)
    if status:
        query = query.where(col(Project.status) == status)
    if town:
        query = query.where(col(Project.town) == town)
    if cursor is not None:
        (last,) = decode_cursor(cursor, 1)
        query = query.where(col(Project.code) > str(last))
    query = query.order_by(col(Project.code)).limit(limit + 1)
    async with runtime.unit_of_work() as uow:
        rows = list(await uow.session.scalars(query))
        page = rows[:limit]
        items = []
        for p in page:
            item = ProjectOut(**p.model_dump(exclude={"announced_at", "updated_at"}))
            if figures:
                item.figures = ProjectFiguresOut(
                    **(await svc.project_figures(uow, p.code)).__dict__
                )
            items.append(item)
        # inside the session: the rows expire when it closes
        next_cursor = encode_cursor(page[-1].code) if len(rows) > limit else None
    return ProjectPage(items=items, next_cursor=next_cursor)


@router.get(
    "/api/v1/projects/{code}",
    response_model=ProjectOut,
    summary="项目详情与资金",
    responses=raises(NO_PROJECT),
)
async def get_project(code: str, runtime: RuntimeDep, _: StaffPrincipal = Reader) -> JSONResponse:
    return await read_row(runtime, lambda uow: project_body(uow, code))


@router.patch(
    "/api/v1/projects/{code}",
    response_model=ProjectOut,
    summary="修改项目 Edit a project (If-Match: version)",
    responses=raises(NO_PROJECT, (Conflict, "The project is closed"), *VERSION),
)
async def patch_project(
    code: str,
    body: ProjectPatch,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
    staff: StaffPrincipal = Manager,
) -> JSONResponse:
    return await edit_row(
        runtime,
        body=body,
        if_match=if_match,
        update=lambda uow, version, changes: svc.update_project(
            uow, code, actor=staff.username, expected_version=version, changes=changes
        ),
        render=lambda uow: project_body(uow, code),
    )


@router.post(
    "/api/v1/projects/{code}/close",
    response_model=ProjectOut,
    summary="结项 Close a project; remainder disclosure due 3 months after the end",
    responses=raises(
        NO_PROJECT,
        (Conflict, "Already closed, or disbursements still pending"),
        IDEMPOTENCY_CONFLICT,
        (PreconditionFailed, "Version mismatch (If-Match or the body's version, when sent)"),
    ),
)
async def close_project(
    code: str,
    runtime: RuntimeDep,
    if_match: IfMatch,  # before the key: the OpenAPI lists If-Match first, as it always has
    key: IdempotencyKey,
    body: CloseIn | None = None,
    staff: StaffPrincipal = Manager,
) -> JSONResponse:
    body = body or CloseIn()

    async def change(uow: SqlUnitOfWork) -> object:
        project = await uow.session.get(Project, code)
        if project is None:
            raise NotFound(f"项目不存在 (project {code} not found)")
        return await svc.close_project(
            uow,
            code,
            actor=staff.username,
            closed_on=body.closed_on or project.ends_on or local_date(now()),
            expected_version=if_match if if_match is not None else body.version,
        )

    return await _act_on_project(runtime, staff, key, code, "close", body, change)


@router.post(
    "/api/v1/projects/{code}/remainder",
    status_code=201,
    response_model=ProjectOut,
    summary="结余处理 Record how a closed project's remainder is handled",
    responses=raises(
        NO_PROJECT,
        (Conflict, "The project is still open, or its remainder was already decided"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def decide_remainder(
    code: str,
    body: RemainderIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Manager,
) -> JSONResponse:
    async def change(uow: SqlUnitOfWork) -> object:
        return await svc.decide_remainder(
            uow,
            code,
            actor=staff.username,
            decision=body.decision,
            target_project_code=body.target_project_code,
            note=body.note,
        )

    return await _act_on_project(runtime, staff, key, code, "remainder", body, change, status=201)


async def disbursement_body(uow: SqlUnitOfWork, disbursement_id: uuid.UUID) -> dict[str, Any]:
    d = await uow.session.get(Disbursement, disbursement_id)
    if d is None:
        raise NotFound(f"拨付记录不存在 (disbursement {disbursement_id} not found)")
    rows = (
        await uow.session.execute(
            select(Allocation, col(Donation.tracking_code))
            .join(Donation, col(Donation.id) == col(Allocation.donation_id))
            .where(col(Allocation.disbursement_id) == d.id)
            .order_by(col(Allocation.id))
        )
    ).all()
    return DisbursementOut(
        **d.model_dump(exclude={"updated_at"}),
        allocations=[
            AllocationOut(donation_id=a.donation_id, tracking_code=code, amount_fen=a.amount_fen)
            for a, code in rows
        ],
    ).model_dump(mode="json")


async def _act_on_disbursement(
    runtime: RuntimeDep,
    staff: StaffPrincipal,
    key: str | None,
    disbursement_id: uuid.UUID,
    action: str,
    body: BaseModel | None,
    change: Change,
) -> JSONResponse:
    """``POST /disbursements/{id}/<action>`` once per Idempotency-Key; answers the
    disbursement as it now is."""
    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /disbursements/{disbursement_id}/{action}",
        body=body,
        change=change,
        render=lambda uow: disbursement_body(uow, disbursement_id),
    )


@router.post(
    "/api/v1/projects/{code}/disbursements",
    status_code=201,
    response_model=DisbursementOut,
    summary="录入拨付 Enter a disbursement (pending a second person's approval)",
    responses=raises(
        NO_PROJECT,
        (Conflict, "Beyond the project's available funds, voucher reused, or project closed"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def enter_disbursement(
    code: str,
    body: DisbursementCreate,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Manager,
) -> JSONResponse:
    async def act(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        d = await svc.enter_disbursement(uow, code, actor=staff.username, **body.model_dump())
        return 201, await disbursement_body(uow, d.id)

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /projects/{code}/disbursements",
        payload=body.model_dump(mode="json"),
        action=act,
    )


@router.get(
    "/api/v1/projects/{code}/disbursements",
    response_model=DisbursementPage,
    summary="项目的拨付 A project's disbursements",
)
async def list_project_disbursements(
    code: str,
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> DisbursementPage:
    return await _list_disbursements(runtime, code, None, limit, cursor)


@router.get(
    "/api/v1/disbursements", response_model=DisbursementPage, summary="拨付列表 Disbursements"
)
async def list_disbursements(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    limit: Limit = 20,
    cursor: Cursor = None,
    project_code: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")] = None,
) -> DisbursementPage:
    return await _list_disbursements(runtime, project_code, status, limit, cursor)


async def _list_disbursements(
    runtime: Any, code: str | None, status: str | None, limit: int, cursor: str | None
) -> DisbursementPage:
    query = select(col(Disbursement.id), col(Disbursement.created_at))
    if code:
        query = query.where(col(Disbursement.project_code) == code)
    if status:
        query = query.where(col(Disbursement.status) == status)
    if cursor is not None:
        at_raw, id_raw = decode_cursor(cursor, 2)
        try:
            at, last = datetime.fromisoformat(str(at_raw)), uuid.UUID(str(id_raw))
        except ValueError as exc:
            raise ValidationFailed("无效的分页游标 (invalid cursor)") from exc
        query = query.where(
            or_(
                col(Disbursement.created_at) < at,
                and_(col(Disbursement.created_at) == at, col(Disbursement.id) < last),
            )
        )
    query = query.order_by(col(Disbursement.created_at).desc(), col(Disbursement.id).desc())
    async with runtime.unit_of_work() as uow:
        rows = (await uow.session.execute(query.limit(limit + 1))).all()
        page = rows[:limit]
        items = [DisbursementOut(**await disbursement_body(uow, i)) for i, _ in page]
    return DisbursementPage(
        items=items,
        next_cursor=encode_cursor(page[-1][1].isoformat(), str(page[-1][0]))
        if len(rows) > limit
        else None,
    )


@router.get(
    "/api/v1/disbursements/{disbursement_id}",
    response_model=DisbursementOut,
    summary="拨付详情（含每笔捐赠的分摊）",
    responses=raises(NO_DISBURSEMENT),
)
async def get_disbursement(
    disbursement_id: uuid.UUID, runtime: RuntimeDep, _: StaffPrincipal = Reader
) -> JSONResponse:
    return await read_row(runtime, lambda uow: disbursement_body(uow, disbursement_id))


@router.patch(
    "/api/v1/disbursements/{disbursement_id}",
    response_model=DisbursementOut,
    summary="修改待审批的拨付 Edit a pending disbursement (If-Match: version)",
    responses=raises(
        NO_DISBURSEMENT,
        (Conflict, "Not pending, beyond the project's available funds, or voucher reused"),
        *VERSION,
    ),
)
async def patch_disbursement(
    disbursement_id: uuid.UUID,
    body: DisbursementPatch,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
    staff: StaffPrincipal = Manager,
) -> JSONResponse:
    return await edit_row(
        runtime,
        body=body,
        if_match=if_match,
        update=lambda uow, version, changes: svc.update_disbursement(
            uow, disbursement_id, actor=staff.username, expected_version=version, changes=changes
        ),
        render=lambda uow: disbursement_body(uow, disbursement_id),
    )


@router.post(
    "/api/v1/disbursements/{disbursement_id}/approve",
    response_model=DisbursementOut,
    summary="审批拨付 Approve (not by the person who entered it); allocates to gifts",
    responses=raises(
        (Forbidden, "Four eyes: you entered it"),
        NO_DISBURSEMENT,
        (Conflict, "Not pending, beyond available funds, or the project is closed"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def approve(
    disbursement_id: uuid.UUID,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Approver,
) -> JSONResponse:
    async def change(uow: SqlUnitOfWork) -> object:
        return await svc.approve_disbursement(uow, disbursement_id, actor=staff.username)

    return await _act_on_disbursement(runtime, staff, key, disbursement_id, "approve", None, change)


@router.post(
    "/api/v1/disbursements/{disbursement_id}/reject",
    response_model=DisbursementOut,
    summary="驳回拨付 Reject a pending disbursement",
    responses=raises(NO_DISBURSEMENT, (Conflict, "Not pending"), IDEMPOTENCY_CONFLICT),
)
async def reject(
    disbursement_id: uuid.UUID,
    body: ReasonIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Approver,
) -> JSONResponse:
    async def change(uow: SqlUnitOfWork) -> object:
        return await svc.reject_disbursement(
            uow, disbursement_id, actor=staff.username, reason=body.reason
        )

    return await _act_on_disbursement(runtime, staff, key, disbursement_id, "reject", body, change)


@router.post(
    "/api/v1/follow-ups",
    status_code=201,
    response_model=FollowUpOut,
    summary="登记回访 Record a follow-up visit on a disbursement or a gift",
    responses=raises(
        (NotFound, "The disbursement or gift named does not exist"),
        (Conflict, "The disbursement is not approved"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def create_follow_up(
    body: FollowUpCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Visitor
) -> JSONResponse:
    async def act(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        follow_up = await svc.record_follow_up(uow, actor=staff.username, **body.model_dump())
        return 201, FollowUpOut.model_validate(follow_up, from_attributes=True).model_dump(
            mode="json"
        )

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/follow-ups",
        payload=body.model_dump(mode="json"),
        action=act,
    )


@router.get("/api/v1/follow-ups", response_model=FollowUpPage, summary="回访列表 Follow-ups")
async def list_follow_ups(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    limit: Limit = 20,
    cursor: Cursor = None,
    disbursement_id: uuid.UUID | None = None,
    donation_id: uuid.UUID | None = None,
    project_code: Annotated[str | None, Query(max_length=32)] = None,
    visited_from: date | None = None,
    visited_to: date | None = None,
) -> FollowUpPage:
    query = select(FollowUp)
    if disbursement_id:
        query = query.where(col(FollowUp.disbursement_id) == disbursement_id)
    if donation_id:
        query = query.where(col(FollowUp.donation_id) == donation_id)
    if project_code:
        query = query.where(col(FollowUp.project_code) == project_code)
    if visited_from:
        query = query.where(col(FollowUp.visited_on) >= visited_from)
    if visited_to:
        query = query.where(col(FollowUp.visited_on) < visited_to)
    if cursor is not None:
        (last_raw,) = decode_cursor(cursor, 1)
        try:
            last = uuid.UUID(str(last_raw))
        except ValueError as exc:
            raise ValidationFailed("无效的分页游标 (invalid cursor)") from exc
        query = query.where(col(FollowUp.id) < last)
    query = query.order_by(col(FollowUp.id).desc()).limit(limit + 1)
    async with runtime.unit_of_work() as uow:
        rows = list(await uow.session.scalars(query))
        page = rows[:limit]
        return FollowUpPage(
            items=[FollowUpOut.model_validate(f, from_attributes=True) for f in page],
            next_cursor=encode_cursor(str(page[-1].id)) if len(rows) > limit else None,
        )
