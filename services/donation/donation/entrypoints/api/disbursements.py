"""``/api/v1/projects/{code}/disbursements`` and ``/api/v1/disbursements``: enter a
disbursement on a project, list and read them, correct a pending one, approve or reject it
(four eyes: not the account that entered it).

Included right after ``projects.router`` (the OpenAPI paths keep their order).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from donation.domain.commands import (
    ApproveDisbursement,
    ApproveReversal,
    EnterDisbursement,
    RejectDisbursement,
    RejectReversal,
    ReverseDisbursement,
    UpdateDisbursement,
)
from donation.domain.recipients import RecipientShare
from donation.entrypoints.api.deps import IfMatch, repeat_window_days
from donation.entrypoints.api.follow_up_visits import follow_up_rules
from donation.entrypoints.api.project_access import (
    NO_PROJECT,
    VERSION,
    Approver,
    Manager,
    Reader,
)
from donation.entrypoints.api.recipient_schemas import ApproveDisbursementIn
from donation.entrypoints.api.schemas import (
    CorrectIn,
    DisbursementCreate,
    DisbursementOut,
    DisbursementPage,
    DisbursementPatch,
    ReasonIn,
    ReversalOut,
    ReversalPage,
    ReverseIn,
)
from donation.service_layer import disbursements
from donation.service_layer.queries import disbursements as queries
from shared.auth import StaffPrincipal
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
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
from shared.pagination import Cursor, Limit
from shared.uow import SqlUnitOfWork

router = APIRouter(tags=["projects"])

NO_DISBURSEMENT: Declared = (NotFound, "No such disbursement")


def _enter(project_code: str, actor: str, body: DisbursementCreate) -> EnterDisbursement:
    return EnterDisbursement(
        project_code=project_code,
        actor=actor,
        **body.model_dump(exclude={"recipients"}),
        recipients=tuple(
            RecipientShare(recipient_id=r.recipient_id, amount_fen=r.amount_fen)
            for r in body.recipients
        ),
    )


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
        render=lambda uow: queries.disbursement_body(uow, disbursement_id),
    )


@router.post(
    "/api/v1/projects/{code}/disbursements",
    status_code=201,
    response_model=DisbursementOut,
    summary="录入拨付 Enter a disbursement (pending a second person's approval)",
    responses=raises(
        NO_PROJECT,
        (Conflict, "Beyond the project's available funds, voucher reused, or project closed"),
        (ValidationFailed, "A recipient not registered or named twice, or shares beyond it"),
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
    command = _enter(code, staff.username, body)
    window = repeat_window_days(runtime)

    async def act(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        d = await disbursements.enter_disbursement(uow, command)
        return 201, await queries.disbursement_body(uow, d.id, repeat_window_days=window)

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
    async with runtime.unit_of_work() as uow:
        return await queries.list_disbursements(
            uow, project_code=code, status=None, limit=limit, cursor=cursor
        )


@router.get(
    "/api/v1/disbursements", response_model=DisbursementPage, summary="拨付列表 Disbursements"
)
async def list_disbursements(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    limit: Limit = 20,
    cursor: Cursor = None,
    project_code: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected|reversed)$")] = None,
) -> DisbursementPage:
    async with runtime.unit_of_work() as uow:
        return await queries.list_disbursements(
            uow, project_code=project_code, status=status, limit=limit, cursor=cursor
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
    window = repeat_window_days(runtime)
    return await read_row(
        runtime,
        lambda uow: queries.disbursement_body(uow, disbursement_id, repeat_window_days=window),
    )


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
        update=lambda uow, version, changes: disbursements.update_disbursement(
            uow,
            UpdateDisbursement(
                disbursement_id=disbursement_id,
                actor=staff.username,
                expected_version=version,
                changes=changes,
            ),
        ),
        render=lambda uow: queries.disbursement_body(
            uow, disbursement_id, repeat_window_days=repeat_window_days(runtime)
        ),
    )


@router.post(
    "/api/v1/disbursements/{disbursement_id}/approve",
    response_model=DisbursementOut,
    summary="审批拨付 Approve (not by the person who entered it); allocates to gifts. The "
    "body may say the approver saw the recipients' repeat receipts (audited)",
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
    body: ApproveDisbursementIn | None = None,
    staff: StaffPrincipal = Approver,
) -> JSONResponse:
    command = ApproveDisbursement(
        disbursement_id=disbursement_id,
        actor=staff.username,
        repeat_acknowledged=body is not None and body.repeat_acknowledged,
    )

    async def change(uow: SqlUnitOfWork) -> object:
        return await disbursements.approve_disbursement(
            uow, command, follow_up_rules=follow_up_rules(runtime)
        )

    return await _act_on_disbursement(runtime, staff, key, disbursement_id, "approve", body, change)


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
    command = RejectDisbursement(
        disbursement_id=disbursement_id, actor=staff.username, reason=body.reason
    )

    async def change(uow: SqlUnitOfWork) -> object:
        return await disbursements.reject_disbursement(uow, command)

    return await _act_on_disbursement(runtime, staff, key, disbursement_id, "reject", body, change)


# --- reversal and correction of an approved disbursement (four eyes) -----------------------

NO_REVERSAL: Declared = (NotFound, "No such reversal")


async def _enter_reversal(
    runtime: RuntimeDep,
    staff: StaffPrincipal,
    key: str | None,
    disbursement_id: uuid.UUID,
    action: str,
    body: BaseModel,
    command: ReverseDisbursement,
) -> JSONResponse:
    async def act(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        reversal = await disbursements.reverse_disbursement(uow, command)
        return 201, await queries.reversal_body(uow, reversal.id)

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /disbursements/{disbursement_id}/{action}",
        payload=body.model_dump(mode="json"),
        action=act,
    )


@router.post(
    "/api/v1/disbursements/{disbursement_id}/reverse",
    status_code=201,
    response_model=ReversalOut,
    summary="冲销拨付 Enter the reversal of an approved disbursement (a second person approves)",
    responses=raises(
        NO_DISBURSEMENT,
        (Conflict, "Not approved, already reversed, or the project is closed"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def reverse(
    disbursement_id: uuid.UUID,
    body: ReverseIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Manager,
) -> JSONResponse:
    command = ReverseDisbursement(
        disbursement_id=disbursement_id, actor=staff.username, reason=body.reason
    )
    return await _enter_reversal(runtime, staff, key, disbursement_id, "reverse", body, command)


@router.post(
    "/api/v1/disbursements/{disbursement_id}/correct",
    status_code=201,
    response_model=ReversalOut,
    summary="更正拨付 Enter a correction: the reversal plus a replacing disbursement (new "
    "voucher); a second person approves both at once",
    responses=raises(
        NO_DISBURSEMENT,
        (
            Conflict,
            "Not approved, already reversed, the project is closed, voucher reused, or "
            "beyond the funds available",
        ),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def correct(
    disbursement_id: uuid.UUID,
    body: CorrectIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Manager,
) -> JSONResponse:
    async with runtime.unit_of_work() as uow:
        original = await queries.disbursement_body(uow, disbursement_id)
    command = ReverseDisbursement(
        disbursement_id=disbursement_id,
        actor=staff.username,
        reason=body.reason,
        replacement=_enter(original["project_code"], staff.username, body.replacement),
    )
    return await _enter_reversal(runtime, staff, key, disbursement_id, "correct", body, command)


@router.get(
    "/api/v1/disbursement-reversals",
    response_model=ReversalPage,
    summary="冲销与更正 Reversals and corrections (newest first)",
)
async def list_reversals(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReversalPage:
    async with runtime.unit_of_work() as uow:
        return await queries.list_reversals(uow, status=status, limit=limit)


@router.get(
    "/api/v1/disbursement-reversals/{reversal_id}",
    response_model=ReversalOut,
    summary="冲销详情 One reversal or correction",
    responses=raises(NO_REVERSAL),
)
async def get_reversal(
    reversal_id: uuid.UUID, runtime: RuntimeDep, _: StaffPrincipal = Reader
) -> JSONResponse:
    async with runtime.unit_of_work() as uow:
        return JSONResponse(await queries.reversal_body(uow, reversal_id))


async def _act_on_reversal(
    runtime: RuntimeDep,
    staff: StaffPrincipal,
    key: str | None,
    reversal_id: uuid.UUID,
    action: str,
    body: BaseModel | None,
    change: Change,
) -> JSONResponse:
    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /disbursement-reversals/{reversal_id}/{action}",
        body=body,
        change=change,
        render=lambda uow: queries.reversal_body(uow, reversal_id),
    )


@router.post(
    "/api/v1/disbursement-reversals/{reversal_id}/approve",
    response_model=ReversalOut,
    summary="审批冲销 Approve (not by the person who entered it): the gifts' fen are released; "
    "a correction's replacement is allocated",
    responses=raises(
        (Forbidden, "Four eyes: you entered it"),
        NO_REVERSAL,
        (Conflict, "Not pending, the project is closed, or beyond the funds available"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def approve_reversal(
    reversal_id: uuid.UUID,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Approver,
) -> JSONResponse:
    command = ApproveReversal(reversal_id=reversal_id, actor=staff.username)

    async def change(uow: SqlUnitOfWork) -> object:
        return await disbursements.approve_reversal(
            uow, command, follow_up_rules=follow_up_rules(runtime)
        )

    return await _act_on_reversal(runtime, staff, key, reversal_id, "approve", None, change)


@router.post(
    "/api/v1/disbursement-reversals/{reversal_id}/reject",
    response_model=ReversalOut,
    summary="驳回冲销 Reject a reversal or correction (a correction's replacement too)",
    responses=raises(
        (Forbidden, "Four eyes: you entered it"),
        NO_REVERSAL,
        (Conflict, "Not pending"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def reject_reversal(
    reversal_id: uuid.UUID,
    body: ReasonIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Approver,
) -> JSONResponse:
    command = RejectReversal(reversal_id=reversal_id, actor=staff.username, reason=body.reason)

    async def change(uow: SqlUnitOfWork) -> object:
        return await disbursements.reject_reversal(uow, command)

    return await _act_on_reversal(runtime, staff, key, reversal_id, "reject", body, change)
