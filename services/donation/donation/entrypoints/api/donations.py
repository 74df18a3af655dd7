"""``/api/v1/donations``: record gifts and move them along their life cycle (staff only)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from donation.domain.commands import (
    CancelDonation,
    CompleteDonation,
    DonorDetails,
    GoodsLine,
    IssueReceipt,
    ReceivePledge,
    RecordDonation,
    RefundDonation,
    UpdateDonation,
    VoidReceipt,
)
from donation.entrypoints.api.deps import IfMatch, refund_four_eyes_fen
from donation.entrypoints.api.schemas import (
    DonationCreate,
    DonationOut,
    DonationPage,
    DonationPatch,
    ReasonIn,
    ReceiptIn,
    ReceiptOut,
    ReceiveIn,
    RefundRequestOut,
)
from donation.service_layer import gifts
from donation.service_layer.intake import record_donation
from donation.service_layer.queries.donations import (
    GiftFilters,
    donation_body,
    donation_out,
    donation_page,
)
from donation.service_layer.queries.receipts import gift_receipts, receipt_out
from donation.service_layer.queries.refunds import refund_request_body
from shared.auth import Role, StaffPrincipal, require_roles
from shared.contracts.donation import Channel, DonationKind, GiftStatus
from shared.errors import Conflict, NotFound, PreconditionFailed, PreconditionRequired
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

router = APIRouter(prefix="/api/v1/donations", tags=["donations"])

Recorder = require_roles(Role.FINANCE)
Reader = require_roles(Role.FINANCE, Role.APPROVER, Role.AUDITOR)

NO_GIFT: Declared = (NotFound, "No such gift")


def record_command(body: DonationCreate, actor: str) -> RecordDonation:
    """The gift a request records: the amount of goods defaults to their lines' value, the
    time received to now; a gift from a known donor (``donor_id``) carries no details."""
    donor = body.donor
    return RecordDonation(
        kind=body.kind,
        amount_fen=body.amount_fen
        if body.amount_fen is not None
        else sum(i.value_fen for i in body.items),
        channel=body.channel,
        display=body.display,
        donor=DonorDetails(
            donor_type=donor.donor_type if donor else "individual",
            name=donor.name if donor else "",
            phone=donor.phone if donor else None,
            email=donor.email if donor else None,
            notify=donor.notify if donor else "all",
        ),
        received_at=body.received_at or datetime.now(UTC),
        actor=actor,
        external_ref=body.external_ref,
        project_code=body.project_code,
        note=body.note,
        items=tuple(GoodsLine(**item.model_dump()) for item in body.items),
        pledged=body.pledged,
        donor_id=body.donor_id,
        incident_code=body.incident_code,
    )


async def _act_on_gift(
    runtime: RuntimeDep,
    staff: StaffPrincipal,
    key: str | None,
    donation_id: uuid.UUID,
    action: str,
    body: BaseModel | None,
    change: Change,
) -> JSONResponse:
    """``POST /donations/{id}/<action>`` once per Idempotency-Key; answers the gift as it now
    is."""
    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /donations/{donation_id}/{action}",
        body=body,
        change=change,
        render=lambda uow: donation_body(uow, donation_id),
    )


@router.post(
    "",
    status_code=201,
    response_model=DonationOut,
    summary="登记捐赠 Record a received (or pledged) gift",
    responses=raises(
        (Conflict, "Payment reference already recorded for the channel, or the project is closed"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def create_donation(
    body: DonationCreate,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Recorder,
) -> JSONResponse:
    command = record_command(body, staff.username)

    async def record(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        gift = await record_donation(uow, command)
        return 201, donation_out(gift.donation, gift.donor, gift.items).model_dump(mode="json")

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/donations",
        payload=body.model_dump(mode="json"),
        action=record,
    )


@router.get(
    "/{donation_id}",
    response_model=DonationOut,
    summary="查看捐赠 One gift",
    responses=raises(NO_GIFT),
)
async def get_donation(
    donation_id: uuid.UUID, runtime: RuntimeDep, _: StaffPrincipal = Reader
) -> JSONResponse:
    return await read_row(runtime, lambda uow: donation_body(uow, donation_id))


@router.get("", response_model=DonationPage, summary="捐赠列表 List gifts, newest first")
async def list_donations(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    limit: Limit = 20,
    cursor: Cursor = None,
    status: Annotated[GiftStatus | None, Query()] = None,
    kind: Annotated[DonationKind | None, Query()] = None,
    channel: Annotated[Channel | None, Query()] = None,
    project_code: Annotated[str | None, Query(max_length=32)] = None,
    unrestricted: Annotated[bool | None, Query(description="true: 仅非定向")] = None,
    donor_id: uuid.UUID | None = None,
    received_from: Annotated[datetime | None, Query(description="到账时间起 (含)")] = None,
    received_to: Annotated[datetime | None, Query(description="到账时间止 (不含)")] = None,
    tracking_code: Annotated[str | None, Query(max_length=64, description="查询码")] = None,
    receipt_no: Annotated[str | None, Query(max_length=20, description="票据号")] = None,
    donor_name: Annotated[str | None, Query(max_length=100, description="捐赠人姓名包含")] = None,
) -> DonationPage:
    filters = GiftFilters(
        status=status,
        kind=kind,
        channel=channel,
        project_code=project_code,
        unrestricted=unrestricted,
        donor_id=donor_id,
        received_from=received_from,
        received_to=received_to,
        tracking_code=tracking_code,
        receipt_no=receipt_no,
        donor_name=donor_name,
    )
    return await donation_page(runtime, filters, limit=limit, cursor=cursor)


@router.patch(
    "/{donation_id}",
    response_model=DonationOut,
    summary="修改捐赠（备注、定向项目）Edit a gift (If-Match: version)",
    responses=raises(
        NO_GIFT,
        (Conflict, "The designation cannot change (the gift's status or uses), or project closed"),
        (PreconditionFailed, "Version mismatch"),
        (PreconditionRequired, "No version"),
    ),
)
async def patch_donation(
    donation_id: uuid.UUID,
    body: DonationPatch,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
    staff: StaffPrincipal = Recorder,
) -> JSONResponse:
    return await edit_row(
        runtime,
        body=body,
        if_match=if_match,
        update=lambda uow, version, changes: gifts.update_donation(
            uow,
            UpdateDonation(
                donation_id=donation_id,
                actor=staff.username,
                expected_version=version,
                changes=changes,
            ),
        ),
        render=lambda uow: donation_body(uow, donation_id),
    )


def _action_route(
    path: str, summary: str
) -> Callable[[Callable[..., Awaitable[JSONResponse]]], Callable[..., Awaitable[JSONResponse]]]:
    return router.post(
        path,
        response_model=DonationOut,
        summary=summary,
        responses=raises(
            NO_GIFT,
            (Conflict, "Illegal in the gift's current state (named)"),
            IDEMPOTENCY_CONFLICT,
        ),
    )


@_action_route("/{donation_id}/receive", "认捐到账 A pledged gift arrived")
async def receive(
    donation_id: uuid.UUID,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    body: ReceiveIn | None = None,
    staff: StaffPrincipal = Recorder,
) -> JSONResponse:
    body = body or ReceiveIn()
    command = ReceivePledge(
        donation_id=donation_id, actor=staff.username, received_at=body.received_at
    )

    async def change(uow: SqlUnitOfWork) -> object:
        return await gifts.receive_pledged(uow, command)

    return await _act_on_gift(runtime, staff, key, donation_id, "receive", body, change)


@router.post(
    "/{donation_id}/receipt",
    status_code=201,
    response_model=ReceiptOut,
    summary="开具捐赠票据 Issue the receipt (gapless number per year)",
    responses=raises(
        NO_GIFT,
        (Conflict, "Already receipted, or not in a receiptable state"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def issue_receipt(
    donation_id: uuid.UUID,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    body: ReceiptIn | None = None,
    staff: StaffPrincipal = Recorder,
) -> JSONResponse:
    body = body or ReceiptIn()
    command = IssueReceipt(
        donation_id=donation_id,
        actor=staff.username,
        declined=body.declined,
        payer_name=body.payer_name,
    )

    async def act(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        receipt = await gifts.issue_receipt(uow, command)
        return 201, receipt_out(receipt).model_dump(mode="json")

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /donations/{donation_id}/receipt",
        payload=body.model_dump(mode="json"),
        action=act,
    )


@router.post(
    "/{donation_id}/receipt/void",
    response_model=ReceiptOut,
    summary="作废票据 Void the live receipt (its number stays used)",
    responses=raises(NO_GIFT, (Conflict, "No live receipt to void"), IDEMPOTENCY_CONFLICT),
)
async def void_receipt(
    donation_id: uuid.UUID,
    body: ReasonIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Recorder,
) -> JSONResponse:
    command = VoidReceipt(donation_id=donation_id, actor=staff.username, reason=body.reason)

    async def act(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        receipt = await gifts.void_receipt(uow, command)
        return 200, receipt_out(receipt).model_dump(mode="json")

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /donations/{donation_id}/receipt/void",
        payload=body.model_dump(mode="json"),
        action=act,
    )


@router.get("/{donation_id}/receipts", response_model=list[ReceiptOut], summary="票据记录 Receipts")
async def list_gift_receipts(
    donation_id: uuid.UUID, runtime: RuntimeDep, _: StaffPrincipal = Reader
) -> list[ReceiptOut]:
    return await gift_receipts(runtime, donation_id)


@_action_route("/{donation_id}/cancel", "取消捐赠 Cancel (pledged or received, unused)")
async def cancel(
    donation_id: uuid.UUID,
    body: ReasonIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Recorder,
) -> JSONResponse:
    command = CancelDonation(donation_id=donation_id, actor=staff.username, reason=body.reason)

    async def change(uow: SqlUnitOfWork) -> object:
        return await gifts.cancel_donation(uow, command)

    return await _act_on_gift(runtime, staff, key, donation_id, "cancel", body, change)


@router.post(
    "/{donation_id}/refund",
    response_model=DonationOut,
    summary="退款 Refund the unused money (above DONATION_REFUND_FOUR_EYES_FEN: requested, "
    "202, approved by a second person)",
    responses=raises(
        NO_GIFT,
        (
            Conflict,
            "Illegal in the gift's current state (named), or a refund already awaits approval",
        ),
        IDEMPOTENCY_CONFLICT,
    )
    | {
        202: {
            "model": RefundRequestOut,
            "description": "退款金额超过双人复核门槛：已提交申请，待另一人审批 (a refund request "
            "awaiting a second person's approval)",
        }
    },
)
async def refund(
    donation_id: uuid.UUID,
    body: ReasonIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Recorder,
) -> JSONResponse:
    command = RefundDonation(
        donation_id=donation_id,
        actor=staff.username,
        reason=body.reason,
        four_eyes_fen=refund_four_eyes_fen(runtime),
    )

    async def act(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        result = await gifts.refund_donation(uow, command)
        await uow.flush()
        request_id = gifts.pending_refund_id(result)
        if request_id is not None:
            return 202, await refund_request_body(uow, request_id)
        return 200, await donation_body(uow, donation_id)

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /donations/{donation_id}/refund",
        payload=body.model_dump(mode="json"),
        action=act,
    )


@_action_route("/{donation_id}/complete", "标记完成 Mark a fully used gift completed")
async def complete(
    donation_id: uuid.UUID,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Recorder,
) -> JSONResponse:
    command = CompleteDonation(donation_id=donation_id, actor=staff.username)

    async def change(uow: SqlUnitOfWork) -> object:
        return await gifts.complete_donation(uow, command)

    return await _act_on_gift(runtime, staff, key, donation_id, "complete", None, change)
