"""``/api/v1/donors``: the donor register (personal data: staff only, never in events)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from donation.domain.commands import RegisterDonor, UpdateDonor
from donation.entrypoints.api.deps import IfMatch
from donation.entrypoints.api.schemas import DonorCreate, DonorOut, DonorPage, DonorPatch
from donation.service_layer import donors
from donation.service_layer.queries.donors import DonorFilters, donor_body, donor_out, donor_page
from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, NotFound, PreconditionFailed, PreconditionRequired
from shared.http_commands import IdempotencyKey, RuntimeDep, edit_row, idempotent, read_row
from shared.openapi import IDEMPOTENCY_CONFLICT, Declared, raises
from shared.pagination import Cursor, Limit
from shared.uow import SqlUnitOfWork

router = APIRouter(prefix="/api/v1/donors", tags=["donors"])

Writer = require_roles(Role.FINANCE)
Reader = require_roles(Role.FINANCE, Role.APPROVER, Role.AUDITOR)

NO_DONOR: Declared = (NotFound, "No such donor")


def register_command(body: DonorCreate, actor: str) -> RegisterDonor:
    return RegisterDonor(
        donor_type=body.donor_type,
        name=body.name,
        phone=body.phone,
        email=body.email,
        display=body.display,
        notify=body.notify,
        actor=actor,
    )


@router.post(
    "",
    status_code=201,
    response_model=DonorOut,
    summary="登记捐赠人 Register a donor",
    responses=raises(IDEMPOTENCY_CONFLICT),
)
async def create_donor(
    body: DonorCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Writer
) -> JSONResponse:
    command = register_command(body, staff.username)

    async def act(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        donor = await donors.register_donor(uow, command)
        return 201, donor_out(donor).model_dump(mode="json")

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/donors",
        payload=body.model_dump(mode="json"),
        action=act,
    )


@router.get("", response_model=DonorPage, summary="捐赠人列表 List donors, newest first")
async def list_donors(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    limit: Limit = 20,
    cursor: Cursor = None,
    q: Annotated[str | None, Query(max_length=100, description="姓名/单位名包含")] = None,
    phone: Annotated[str | None, Query(max_length=32)] = None,
    email: Annotated[str | None, Query(max_length=254)] = None,
    donor_type: Annotated[str | None, Query(pattern="^(individual|organization)$")] = None,
) -> DonorPage:
    filters = DonorFilters(q=q, phone=phone, email=email, donor_type=donor_type)
    return await donor_page(runtime, filters, limit=limit, cursor=cursor)


@router.get(
    "/{donor_id}",
    response_model=DonorOut,
    summary="查看捐赠人 One donor",
    responses=raises(NO_DONOR),
)
async def get_donor(
    donor_id: uuid.UUID, runtime: RuntimeDep, _: StaffPrincipal = Reader
) -> JSONResponse:
    return await read_row(runtime, lambda uow: donor_body(uow, donor_id))


@router.patch(
    "/{donor_id}",
    response_model=DonorOut,
    summary="修改捐赠人 Edit a donor (If-Match: version)",
    responses=raises(
        NO_DONOR,
        (PreconditionFailed, "Version mismatch"),
        (PreconditionRequired, "No version"),
        (Conflict, "A concurrent change (retry)"),
    ),
)
async def patch_donor(
    donor_id: uuid.UUID,
    body: DonorPatch,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
    staff: StaffPrincipal = Writer,
) -> JSONResponse:
    return await edit_row(
        runtime,
        body=body,
        if_match=if_match,
        update=lambda uow, version, changes: donors.update_donor(
            uow,
            UpdateDonor(
                donor_id=donor_id, actor=staff.username, expected_version=version, changes=changes
            ),
        ),
        # the donor updated is in the session: rendered without another query
        render=lambda uow: donor_body(uow, donor_id),
    )
