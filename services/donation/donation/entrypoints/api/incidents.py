"""``/api/v1/incidents``: the register of disaster incidents (灾情事件). Any staff member reads
it; finance, dispatchers and approvers register and edit; an approver declares one major, which
gives its gifts and uses the 24-hour disclosure deadline from that moment (no restart)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from donation.entrypoints.api.deps import IfMatch
from donation.entrypoints.api.incident_schemas import (
    DeclareMajorIn,
    IncidentCreate,
    IncidentOut,
    IncidentPage,
    IncidentPatch,
)
from donation.service_layer import incidents
from shared.auth import CurrentStaff, Role, StaffPrincipal, require_roles
from shared.errors import (
    Conflict,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)
from shared.http_commands import IdempotencyKey, RuntimeDep, act_on_row, edit_row, read_row
from shared.openapi import IDEMPOTENCY_CONFLICT, raises
from shared.pagination import Cursor, Limit
from shared.uow import SqlUnitOfWork

router = APIRouter(tags=["projects"])

Recorder = require_roles(Role.FINANCE, Role.DISPATCHER, Role.APPROVER)
Approver = require_roles(Role.APPROVER)
NO_INCIDENT = (NotFound, "No such incident")


async def _render(uow: SqlUnitOfWork, code: str) -> dict[str, Any]:
    return IncidentOut.model_validate(await incidents.incident_json(uow, code)).model_dump(
        mode="json"
    )


@router.get(
    "/api/v1/incidents",
    response_model=IncidentPage,
    summary="灾情事件 Disaster incidents (newest first)",
    responses=raises((ValidationFailed, "The cursor is not one this list gave")),
)
async def list_incidents(
    runtime: RuntimeDep,
    _: CurrentStaff,
    major: Annotated[bool | None, Query(description="只看重大灾害或非重大")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> IncidentPage:
    async with runtime.unit_of_work() as uow:
        rows, next_cursor = await incidents.list_incidents(
            uow, major=major, cursor=cursor, limit=limit
        )
        items = [IncidentOut.model_validate(r, from_attributes=True) for r in rows]
    return IncidentPage(items=items, next_cursor=next_cursor)


@router.get(
    "/api/v1/incidents/{code}",
    response_model=IncidentOut,
    summary="灾情事件详情 One incident",
    responses=raises(NO_INCIDENT),
)
async def get_incident(code: str, runtime: RuntimeDep, _: CurrentStaff) -> JSONResponse:
    return await read_row(runtime, lambda uow: _render(uow, code))


@router.post(
    "/api/v1/incidents",
    status_code=201,
    response_model=IncidentOut,
    summary="登记灾情事件 Register an incident",
    responses=raises(
        (Conflict, "The code is taken"),
        (ValidationFailed, "It ends before it starts"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def create_incident(
    body: IncidentCreate,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Recorder,
) -> JSONResponse:
    data = body.model_dump()
    command = incidents.RegisterIncident(
        **(data | {"towns": tuple(data["towns"])}), actor=staff.username
    )

    async def change(uow: SqlUnitOfWork) -> object:
        return await incidents.register_incident(uow, command)

    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/incidents",
        body=body,
        change=change,
        render=lambda uow: _render(uow, body.code),
        status=201,
    )


@router.patch(
    "/api/v1/incidents/{code}",
    response_model=IncidentOut,
    summary="修改灾情事件 Change an incident (If-Match: version)",
    responses=raises(
        NO_INCIDENT,
        (ValidationFailed, "It would end before it starts, or a required field is emptied"),
        (Conflict, "A concurrent change won (read it again)"),
        (PreconditionFailed, "Version mismatch"),
        (PreconditionRequired, "No version"),
    ),
)
async def patch_incident(
    code: str,
    body: IncidentPatch,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
    staff: StaffPrincipal = Recorder,
) -> JSONResponse:
    return await edit_row(
        runtime,
        body=body,
        if_match=if_match,
        update=lambda uow, version, changes: incidents.update_incident(
            uow,
            incidents.UpdateIncident(
                code=code, actor=staff.username, expected_version=version, changes=changes
            ),
        ),
        render=lambda uow: _render(uow, code),
    )


@router.post(
    "/api/v1/incidents/{code}/declare-major",
    response_model=IncidentOut,
    summary="宣布为重大灾害 Declare a major disaster: 24-hour disclosure from now (approver)",
    responses=raises(
        NO_INCIDENT,
        (Conflict, "Already declared major"),
        (PreconditionFailed, "Version mismatch (when If-Match is sent)"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def declare_major(
    code: str,
    body: DeclareMajorIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    if_match: IfMatch = None,
    staff: StaffPrincipal = Approver,
) -> JSONResponse:
    command = incidents.DeclareMajor(
        code=code, actor=staff.username, reason=body.reason, expected_version=if_match
    )

    async def change(uow: SqlUnitOfWork) -> object:
        return await incidents.declare_major(uow, command)

    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /api/v1/incidents/{code}/declare-major",
        body=body,
        change=change,
        render=lambda uow: _render(uow, code),
    )
