"""``/api/v1/donors``: the donor register (personal data: staff only, never in events)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import func
from sqlmodel import col, select

from donation.adapters.orm import Donor
from donation.entrypoints.api.deps import IfMatch
from donation.entrypoints.api.schemas import DonorCreate, DonorOut, DonorPage, DonorPatch
from donation.service_layer import gifts
from donation.service_layer.common import audit, now
from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, NotFound, PreconditionFailed, PreconditionRequired
from shared.http_commands import IdempotencyKey, RuntimeDep, edit_row, idempotent, read_row
from shared.ids import uuid7
from shared.openapi import IDEMPOTENCY_CONFLICT, Declared, raises
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor
from shared.uow import SqlUnitOfWork

router = APIRouter(prefix="/api/v1/donors", tags=["donors"])

Writer = require_roles(Role.FINANCE)
Reader = require_roles(Role.FINANCE, Role.APPROVER, Role.AUDITOR)

NO_DONOR: Declared = (NotFound, "No such donor")


def out(donor: Donor) -> DonorOut:
    return DonorOut(
        id=donor.id,
        donor_type=donor.donor_type,
        name=donor.name,
        phone=donor.phone,
        email=donor.email,
        display=donor.display,
        notify=donor.notify,
        version=donor.version,
        created_at=donor.created_at,
    )


async def donor_body(uow: SqlUnitOfWork, donor_id: uuid.UUID) -> dict[str, Any]:
    donor = await uow.session.get(Donor, donor_id)
    if donor is None:
        raise NotFound(f"捐赠人不存在 (donor {donor_id} not found)")
    return out(donor).model_dump(mode="json")


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
    async def act(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        donor = Donor(
            id=uuid7(),
            donor_type=body.donor_type,
            name=body.name,
            phone=body.phone,
            email=body.email,
            display=body.display,
            notify=body.notify,
            created_at=now(),
        )
        uow.session.add(donor)
        audit(
            uow.session,
            actor=staff.username,
            action="donor.create",
            entity="donor",
            entity_id=str(donor.id),
            after={"donor_type": donor.donor_type, "display": donor.display},
        )
        await uow.flush()
        return 201, out(donor).model_dump(mode="json")

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
    query = select(Donor)
    if q:
        query = query.where(col(Donor.name).contains(q))
    if phone:
        query = query.where(col(Donor.phone) == phone)
    if email:
        query = query.where(func.lower(col(Donor.email)) == email.lower())
    if donor_type:
        query = query.where(col(Donor.donor_type) == donor_type)
    if cursor is not None:
        (last_raw,) = decode_cursor(cursor, 1)
        try:
            last = uuid.UUID(str(last_raw))
        except ValueError as exc:
            from shared.errors import ValidationFailed

            raise ValidationFailed("无效的分页游标 (invalid cursor)") from exc
        query = query.where(col(Donor.id) < last)
    query = query.order_by(col(Donor.id).desc()).limit(limit + 1)
    async with runtime.unit_of_work() as uow:
        rows = list(await uow.session.scalars(query))
        page = rows[:limit]
        return DonorPage(
            items=[out(d) for d in page],
            next_cursor=encode_cursor(str(page[-1].id)) if len(rows) > limit else None,
        )


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
        update=lambda uow, version, changes: gifts.update_donor(
            uow, donor_id, actor=staff.username, expected_version=version, changes=changes
        ),
        # the donor updated is in the session: rendered without another query
        render=lambda uow: donor_body(uow, donor_id),
    )
