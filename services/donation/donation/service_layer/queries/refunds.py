"""Reading refund requests (a refund above the four-eyes threshold awaiting a second person)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select

from donation.adapters.orm import Donation, RefundRequest
from donation.entrypoints.api.schemas import RefundRequestOut, RefundRequestPage
from shared.errors import NotFound
from shared.uow import SqlUnitOfWork


def refund_request_out(request: RefundRequest, tracking_code: str) -> RefundRequestOut:
    return RefundRequestOut(**request.model_dump(), tracking_code=tracking_code)


async def refund_request_body(uow: SqlUnitOfWork, request_id: uuid.UUID) -> dict[str, Any]:
    row = (
        await uow.session.execute(
            select(RefundRequest, col(Donation.tracking_code))
            .join(Donation, col(Donation.id) == col(RefundRequest.donation_id))
            .where(col(RefundRequest.id) == request_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"退款申请不存在 (refund request {request_id} not found)")
    return refund_request_out(row[0], row[1]).model_dump(mode="json")


async def list_refund_requests(
    uow: SqlUnitOfWork, *, status: str | None, donation_id: uuid.UUID | None, limit: int
) -> RefundRequestPage:
    """The newest refund requests, of one status and/or one gift."""
    query = select(RefundRequest, col(Donation.tracking_code)).join(
        Donation, col(Donation.id) == col(RefundRequest.donation_id)
    )
    if status:
        query = query.where(col(RefundRequest.status) == status)
    if donation_id:
        query = query.where(col(RefundRequest.donation_id) == donation_id)
    query = query.order_by(col(RefundRequest.created_at).desc(), col(RefundRequest.id).desc())
    rows = (await uow.session.execute(query.limit(limit))).all()
    return RefundRequestPage(items=[refund_request_out(r, code) for r, code in rows])
