"""Reading disbursements: one with its allocation to gifts, and pages of them (newest first)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, select

from donation.adapters.orm import (
    Allocation,
    AllocationRelease,
    Disbursement,
    DisbursementReversal,
    Donation,
)
from donation.entrypoints.api.schemas import (
    AllocationOut,
    DisbursementOut,
    DisbursementPage,
    DisbursementRecipientOut,
    RepeatReceiptOut,
    ReversalOut,
    ReversalPage,
)
from donation.service_layer.recipients import recipients_of
from shared.errors import NotFound
from shared.pagination import decode_cursor, encode_cursor
from shared.uow import SqlUnitOfWork


async def disbursement_body(
    uow: SqlUnitOfWork, disbursement_id: uuid.UUID, *, repeat_window_days: int | None = None
) -> dict[str, Any]:
    """The disbursement as ``DisbursementOut`` JSON, with each gift's share of it and the
    recipients it names (masked); with ``repeat_window_days``, while it awaits approval, each
    recipient's repeat receipts (the approval view)."""
    d = await uow.session.get(Disbursement, disbursement_id)
    if d is None:
        raise NotFound(f"拨付记录不存在 (disbursement {disbursement_id} not found)")
    named = await recipients_of(uow, d, repeat_window_days=repeat_window_days)
    rows = (
        await uow.session.execute(
            select(Allocation, col(Donation.tracking_code))
            .join(Donation, col(Donation.id) == col(Allocation.donation_id))
            .where(col(Allocation.disbursement_id) == d.id)
            .order_by(col(Allocation.id))
        )
    ).all()
    reversal = await uow.session.scalar(
        select(DisbursementReversal)
        .where(
            col(DisbursementReversal.disbursement_id) == d.id,
            col(DisbursementReversal.status) != "rejected",
        )
        .limit(1)
    )
    return DisbursementOut(
        **d.model_dump(exclude={"updated_at"}),
        allocations=[
            AllocationOut(donation_id=a.donation_id, tracking_code=code, amount_fen=a.amount_fen)
            for a, code in rows
        ],
        reversal=await reversal_out(uow, reversal) if reversal is not None else None,
        recipients=[
            DisbursementRecipientOut(
                recipient_id=n.recipient.id,
                kind=n.recipient.kind,  # type: ignore[arg-type]
                name_masked=n.recipient.name_masked,
                id_last4=n.recipient.id_last4,
                town=n.recipient.town,
                amount_fen=n.amount_fen,
                people=n.reach.people,
                households=n.reach.households,
                repeat_receipts=None
                if n.repeats is None
                else [RepeatReceiptOut(**vars(r)) for r in n.repeats],
            )
            for n in named
        ],
        people_reached=sum(n.reach.people for n in named),
        households_reached=sum(n.reach.households for n in named),
    ).model_dump(mode="json")


async def reversal_out(uow: SqlUnitOfWork, reversal: DisbursementReversal) -> ReversalOut:
    rows = (
        await uow.session.execute(
            select(AllocationRelease, col(Donation.tracking_code))
            .join(Donation, col(Donation.id) == col(AllocationRelease.donation_id))
            .where(col(AllocationRelease.reversal_id) == reversal.id)
            .order_by(col(AllocationRelease.id))
        )
    ).all()
    return ReversalOut(
        **reversal.model_dump(),
        released=[
            AllocationOut(donation_id=r.donation_id, tracking_code=code, amount_fen=r.amount_fen)
            for r, code in rows
        ],
    )


async def reversal_body(uow: SqlUnitOfWork, reversal_id: uuid.UUID) -> dict[str, Any]:
    reversal = await uow.session.get(DisbursementReversal, reversal_id)
    if reversal is None:
        raise NotFound(f"冲销记录不存在 (reversal {reversal_id} not found)")
    return (await reversal_out(uow, reversal)).model_dump(mode="json")


async def list_reversals(uow: SqlUnitOfWork, *, status: str | None, limit: int) -> ReversalPage:
    """The newest reversals and corrections, of one status or all."""
    query = select(DisbursementReversal)
    if status:
        query = query.where(col(DisbursementReversal.status) == status)
    query = query.order_by(
        col(DisbursementReversal.created_at).desc(), col(DisbursementReversal.id).desc()
    ).limit(limit)
    return ReversalPage(
        items=[await reversal_out(uow, r) for r in await uow.session.scalars(query)]
    )


async def list_disbursements(
    uow: SqlUnitOfWork,
    *,
    project_code: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> DisbursementPage:
    """A page of disbursements, newest first, of one project and/or in one status."""
    query = select(col(Disbursement.id), col(Disbursement.created_at))
    if project_code:
        query = query.where(col(Disbursement.project_code) == project_code)
    if status:
        query = query.where(col(Disbursement.status) == status)
    if cursor is not None:
        at, last = decode_cursor(cursor, 2, datetime.fromisoformat, uuid.UUID)
        query = query.where(
            or_(
                col(Disbursement.created_at) < at,
                and_(col(Disbursement.created_at) == at, col(Disbursement.id) < last),
            )
        )
    query = query.order_by(col(Disbursement.created_at).desc(), col(Disbursement.id).desc())
    rows = (await uow.session.execute(query.limit(limit + 1))).all()
    page = rows[:limit]
    items = [DisbursementOut(**await disbursement_body(uow, i)) for i, _ in page]
    return DisbursementPage(
        items=items,
        next_cursor=encode_cursor(page[-1][1].isoformat(), str(page[-1][0]))
        if len(rows) > limit
        else None,
    )
