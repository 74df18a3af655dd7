"""``/api/v1/organisations``: the organisation register (the district branch and the town
branches). Any staff member reads it; a district admin registers, renames, deactivates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from donation.domain.commands import RegisterOrganisation, UpdateOrganisation
from donation.entrypoints.api.deps import IfMatch
from donation.entrypoints.api.schemas import (
    OrganisationCreate,
    OrganisationOut,
    OrganisationPage,
    OrganisationPatch,
)
from donation.service_layer import organisations
from donation.service_layer.queries import organisations as queries
from shared.auth import CurrentStaff, Role, StaffPrincipal, require_roles
from shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)
from shared.http_commands import IdempotencyKey, RuntimeDep, act_on_row, edit_row, read_row
from shared.openapi import IDEMPOTENCY_CONFLICT, raises
from shared.uow import SqlUnitOfWork

router = APIRouter(tags=["organisations"])

Admin = require_roles(Role.ADMIN)
NOT_DISTRICT = (Forbidden, "Only an admin of the district branch manages the register")


@router.get(
    "/api/v1/organisations",
    response_model=OrganisationPage,
    summary="组织列表 The organisations (district branch first)",
)
async def list_organisations(
    runtime: RuntimeDep,
    _: CurrentStaff,
    active: Annotated[bool | None, Query(description="只看在用或停用的")] = None,
) -> OrganisationPage:
    async with runtime.unit_of_work() as uow:
        return await queries.list_organisations(uow, active=active)


@router.get(
    "/api/v1/organisations/{code}",
    response_model=OrganisationOut,
    summary="组织详情 One organisation",
    responses=raises((NotFound, "No such organisation")),
)
async def get_organisation(code: str, runtime: RuntimeDep, _: CurrentStaff) -> JSONResponse:
    return await read_row(runtime, lambda uow: queries.organisation_body(uow, code))


@router.post(
    "/api/v1/organisations",
    status_code=201,
    response_model=OrganisationOut,
    summary="登记组织 Register an organisation (district admin)",
    responses=raises(
        NOT_DISTRICT,
        (Conflict, "The code or the name is taken"),
        (ValidationFailed, "A town branch names its town; the district branch none"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def create_organisation(
    body: OrganisationCreate,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Admin,
) -> JSONResponse:
    command = RegisterOrganisation(**body.model_dump(), actor=staff.username, actor_org=staff.org)

    async def change(uow: SqlUnitOfWork) -> object:
        return await organisations.register_organisation(uow, command)

    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/organisations",
        body=body,
        change=change,
        render=lambda uow: queries.organisation_body(uow, body.code),
        status=201,
    )


@router.patch(
    "/api/v1/organisations/{code}",
    response_model=OrganisationOut,
    summary="改名或停用组织 Rename or (de)activate an organisation (If-Match: version)",
    responses=raises(
        NOT_DISTRICT,
        (NotFound, "No such organisation"),
        (Conflict, "The name is taken, or the district branch would be deactivated"),
        (PreconditionFailed, "Version mismatch"),
        (PreconditionRequired, "No version"),
    ),
)
async def patch_organisation(
    code: str,
    body: OrganisationPatch,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
    staff: StaffPrincipal = Admin,
) -> JSONResponse:
    return await edit_row(
        runtime,
        body=body,
        if_match=if_match,
        update=lambda uow, version, changes: organisations.update_organisation(
            uow,
            UpdateOrganisation(
                code=code,
                actor=staff.username,
                actor_org=staff.org,
                expected_version=version,
                changes=changes,
            ),
        ),
        render=lambda uow: queries.organisation_body(uow, code),
    )
