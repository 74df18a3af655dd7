"""``/api/v1/recipients``: the recipients register (受助对象登记). Finance and dispatchers
register and correct; every relief role, the warehouse and the auditor read it, within their
organisation's reach. Lists show names masked (王*明) and the ID number's last 4 only; the
full name, phone and address only in the single read, and only for the roles that handle
relief (finance, dispatcher, approver, admin)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from donation.domain.recipients import reach_of
from donation.entrypoints.api.deps import IfMatch
from donation.entrypoints.api.recipient_schemas import (
    ProjectReachOut,
    ReachOut,
    RecipientCreate,
    RecipientKindFilter,
    RecipientOut,
    RecipientPage,
    RecipientPatch,
)
from donation.entrypoints.api.schemas import Town
from donation.service_layer import recipients
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
    WRITE_CONFLICT,
    IdempotencyKey,
    RuntimeDep,
    edit_row,
    idempotent,
    read_row,
)
from shared.openapi import IDEMPOTENCY_CONFLICT, raises
from shared.pagination import Cursor, Limit
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork

router = APIRouter(tags=["recipients"])

RELIEF = frozenset({Role.FINANCE, Role.DISPATCHER, Role.APPROVER})
Registrar = require_roles(Role.FINANCE, Role.DISPATCHER)
Reader = require_roles(Role.FINANCE, Role.DISPATCHER, Role.APPROVER, Role.WAREHOUSE, Role.AUDITOR)
NO_RECIPIENT = (NotFound, "No such recipient")
OUT_OF_REACH = (Forbidden, "The recipient belongs to another organisation")
KEY = "recipient_id_key"


def recipient_key(runtime: ServiceRuntime) -> bytes:
    """The fingerprint key (``DONATION_RECIPIENT_ID_KEY_FILE``), read once per process;
    generated on first use outside production."""
    key = runtime.extras.get(KEY)
    if not isinstance(key, bytes):
        settings: Any = runtime.settings
        key = recipients.load_key(
            settings.recipient_id_key_file, create=settings.environment != "production"
        )
        runtime.extras[KEY] = key
    return key


def recipient_out(recipient: recipients.RecipientRow, *, full: bool) -> RecipientOut:
    """A recipient as staff see it: ``full`` adds the name, phone and address."""
    reach = reach_of(recipient.kind, recipient.household_size)
    return RecipientOut(
        id=recipient.id,
        kind=recipient.kind,  # type: ignore[arg-type]
        name_masked=recipient.name_masked,
        name=recipient.name if full else None,
        id_last4=recipient.id_last4,
        household_size=recipient.household_size,
        people=reach.people,
        households=reach.households,
        town=recipient.town,
        address=recipient.address if full else None,
        phone=recipient.phone if full else None,
        org_code=recipient.org_code,
        org_kind=recipient.org_kind,  # type: ignore[arg-type]
        credit_code=recipient.credit_code,
        created_at=recipient.created_at,
        created_by=recipient.created_by,
        updated_at=recipient.updated_at,
        updated_by=recipient.updated_by,
        version=recipient.version,
    )


def _full(staff: StaffPrincipal) -> bool:
    return staff.has_any(RELIEF)


async def _render(uow: SqlUnitOfWork, recipient_id: uuid.UUID, staff: StaffPrincipal) -> Any:
    recipient = await recipients.get_recipient(uow, recipient_id, staff.org)
    return recipient_out(recipient, full=_full(staff)).model_dump(mode="json")


@router.post(
    "/api/v1/recipients",
    status_code=201,
    response_model=RecipientOut,
    summary="登记受助对象 Register a recipient (person, household or organisation)",
    responses=raises(
        (Forbidden, "Another organisation's register"),
        (Conflict, "A person with this ID number is registered: details.recipient_id"),
        (ValidationFailed, "The ID number is wrong (length, birth date or check character)"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def register_recipient(
    body: RecipientCreate,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Registrar,
) -> JSONResponse:
    secret = recipient_key(runtime)
    command = recipients.RegisterRecipient(
        actor=staff.username, actor_org=staff.org, **body.model_dump()
    )

    async def act(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        recipient = await recipients.register_recipient(uow, command, secret)
        return 201, recipient_out(recipient, full=_full(staff)).model_dump(mode="json")

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/recipients",
        payload=recipients.request_payload(body.model_dump(mode="json"), secret),
        action=act,
    )


@router.get(
    "/api/v1/recipients",
    response_model=RecipientPage,
    summary="受助对象列表 The register (newest first; names masked)",
    responses=raises((ValidationFailed, "An invalid ID number or cursor")),
)
async def list_recipients(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    town: Annotated[Town | None, Query(description="镇街")] = None,
    kind: Annotated[RecipientKindFilter | None, Query(description="类别")] = None,
    id_number: Annotated[
        str | None,
        Query(min_length=1, max_length=30, description="按身份证号码查找（以指纹比对）"),
    ] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="姓名包含")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> RecipientPage:
    secret = recipient_key(runtime) if id_number is not None else b""
    async with runtime.unit_of_work() as uow:
        rows, next_cursor = await recipients.list_recipients(
            uow,
            actor_org=staff.org,
            key=secret,
            town=town,
            kind=kind,
            id_number=id_number,
            q=q,
            cursor=cursor,
            limit=limit,
        )
        items = [recipient_out(r, full=False) for r in rows]
    return RecipientPage(items=items, next_cursor=next_cursor)


@router.get(
    "/api/v1/recipients/reach",
    response_model=ProjectReachOut,
    summary="项目受益人数 People and households a project reached",
    responses=raises((NotFound, "No such project")),
)
async def project_reach(
    runtime: RuntimeDep,
    project_code: Annotated[str, Query(min_length=1, max_length=32)],
    _: StaffPrincipal = Reader,
) -> ProjectReachOut:
    async with runtime.unit_of_work() as uow:
        found = await recipients.project_reach(uow, project_code)

    def out(pair: tuple[Any, int]) -> ReachOut:
        reach, count = pair
        return ReachOut(people=reach.people, households=reach.households, recipients=count)

    return ProjectReachOut(
        project_code=found.project_code,
        disbursements=out(found.disbursements),
        deliveries=out(found.deliveries),
        delivered_dispatches=found.delivered_dispatches,
        total=out(found.total),
    )


@router.get(
    "/api/v1/recipients/{recipient_id}",
    response_model=RecipientOut,
    summary="受助对象详情 One recipient (full name, phone, address for relief roles)",
    responses=raises(NO_RECIPIENT, OUT_OF_REACH),
)
async def get_recipient(
    recipient_id: uuid.UUID, runtime: RuntimeDep, staff: StaffPrincipal = Reader
) -> JSONResponse:
    return await read_row(runtime, lambda uow: _render(uow, recipient_id, staff))


@router.patch(
    "/api/v1/recipients/{recipient_id}",
    response_model=RecipientOut,
    summary="修改受助对象 Correct name, phone, address or household size (If-Match: version)",
    responses=raises(
        NO_RECIPIENT,
        OUT_OF_REACH,
        (ValidationFailed, "Not editable, or a household size for a person"),
        (PreconditionFailed, "Version mismatch"),
        (PreconditionRequired, "No version"),
        WRITE_CONFLICT,
    ),
)
async def patch_recipient(
    recipient_id: uuid.UUID,
    body: RecipientPatch,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
    staff: StaffPrincipal = Registrar,
) -> JSONResponse:
    return await edit_row(
        runtime,
        body=body,
        if_match=if_match,
        update=lambda uow, version, changes: recipients.update_recipient(
            uow,
            recipients.UpdateRecipient(
                recipient_id=recipient_id,
                actor=staff.username,
                actor_org=staff.org,
                expected_version=version,
                changes=changes,
            ),
        ),
        render=lambda uow: _render(uow, recipient_id, staff),
    )
