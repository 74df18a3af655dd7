"""``/api/v1/projects``: open, list, read, edit and close projects; decide a remainder.

A project's disbursements are in ``disbursements.py``, follow-ups in ``follow_ups.py``; the
app includes the three routers in that order, so the OpenAPI paths keep their order.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from donation.domain.commands import (
    CloseProject,
    DecideRemainder,
    OpenProject,
    RecordRemainderConsent,
    UpdateProject,
)
from donation.entrypoints.api.deps import IfMatch, refund_four_eyes_fen
from donation.entrypoints.api.project_access import NO_PROJECT, VERSION, Manager, Reader
from donation.entrypoints.api.schemas import (
    CloseIn,
    ConsentIn,
    ConsentOut,
    ProjectCreate,
    ProjectOut,
    ProjectPage,
    ProjectPatch,
    RemainderIn,
)
from donation.service_layer import projects
from donation.service_layer.queries import projects as queries
from shared.auth import StaffPrincipal
from shared.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from shared.http_commands import (
    Change,
    IdempotencyKey,
    RuntimeDep,
    act_on_row,
    edit_row,
    idempotent,
    read_row,
)
from shared.openapi import IDEMPOTENCY_CONFLICT, raises
from shared.pagination import Cursor, Limit
from shared.uow import SqlUnitOfWork

router = APIRouter(tags=["projects"])


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
        render=lambda uow: queries.project_body(uow, code),
        status=status,
    )


@router.post(
    "/api/v1/projects",
    status_code=201,
    response_model=ProjectOut,
    summary="新建项目 Open a project",
    responses=raises(
        (Conflict, "The project code exists"),
        (ValidationFailed, "Unknown or inactive organisation, or ends before it starts"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def create_project(
    body: ProjectCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Manager
) -> JSONResponse:
    command = OpenProject(**body.model_dump(), actor=staff.username)

    async def change(uow: SqlUnitOfWork) -> object:
        return await projects.open_project(uow, command)

    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/projects",
        body=body,
        change=change,
        render=lambda uow: queries.project_body(uow, body.code),
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
    async with runtime.unit_of_work() as uow:
        return await queries.list_projects(
            uow,
            limit=limit,
            cursor=cursor,
            category=category,
            status=status,
            town=town,
            figures=figures,
        )


@router.get(
    "/api/v1/projects/{code}",
    response_model=ProjectOut,
    summary="项目详情与资金",
    responses=raises(NO_PROJECT),
)
async def get_project(code: str, runtime: RuntimeDep, _: StaffPrincipal = Reader) -> JSONResponse:
    return await read_row(runtime, lambda uow: queries.project_body(uow, code))


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
        update=lambda uow, version, changes: projects.update_project(
            uow,
            UpdateProject(
                code=code, actor=staff.username, expected_version=version, changes=changes
            ),
        ),
        render=lambda uow: queries.project_body(uow, code),
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
    command = CloseProject(
        code=code,
        actor=staff.username,
        closed_on=body.closed_on,
        expected_version=if_match if if_match is not None else body.version,
    )

    async def change(uow: SqlUnitOfWork) -> object:
        return await projects.close_project(uow, command)

    return await _act_on_project(runtime, staff, key, code, "close", body, change)


@router.post(
    "/api/v1/projects/{code}/remainder",
    status_code=201,
    response_model=ProjectOut,
    summary="结余处理 Decide and execute how a closed project's remainder is handled "
    "(transfer: gifts with their donor's consent move, the others wait; return_to_donors: "
    "refunds, above the four-eyes threshold awaiting a second person)",
    responses=raises(
        NO_PROJECT,
        (Conflict, "The project is still open, or its remainder was already decided"),
        (ValidationFailed, "No valid open target project for a transfer"),
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
    command = DecideRemainder(
        code=code,
        actor=staff.username,
        decision=body.decision,
        target_project_code=body.target_project_code,
        note=body.note,
        refund_four_eyes_fen=refund_four_eyes_fen(runtime),
    )

    async def change(uow: SqlUnitOfWork) -> object:
        return await projects.decide_remainder(uow, command)

    return await _act_on_project(runtime, staff, key, code, "remainder", body, change, status=201)


@router.post(
    "/api/v1/projects/{code}/remainder/consents",
    status_code=201,
    response_model=ConsentOut,
    summary="登记捐赠人同意 Record a donor's consent that their designated gift moves with the "
    "remainder (after a transfer decision, a waiting gift moves at once)",
    responses=raises(
        (NotFound, "No such project or gift"),
        (ValidationFailed, "The gift is not money held by this project"),
        (Conflict, "Consent already recorded, or the target project is closed"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def record_consent(
    code: str,
    body: ConsentIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Manager,
) -> JSONResponse:
    command = RecordRemainderConsent(
        code=code,
        donation_id=body.donation_id,
        actor=staff.username,
        method=body.method,
        obtained_by=body.obtained_by,
        obtained_at=body.obtained_at,
        note=body.note,
    )

    async def act(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        consent = await projects.record_consent(uow, command)
        return 201, queries.consent_out(consent).model_dump(mode="json")

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /projects/{code}/remainder/consents",
        payload=body.model_dump(mode="json"),
        action=act,
    )
