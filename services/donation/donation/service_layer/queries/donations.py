"""Reads of gifts: one gift with its donor, goods lines and live receipt number, and the
filtered list newest first (staff only)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from donation.adapters.orm import Donation, DonationItem, Donor, Receipt
from donation.domain.figures import remaining_fen
from donation.entrypoints.api.schemas import DonationItemOut, DonationOut, DonationPage
from donation.service_layer.queries.donors import donor_out
from shared import public_lookups
from shared.errors import NotFound
from shared.pagination import decode_cursor, encode_cursor
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork


@dataclass(frozen=True)
class GiftFilters:
    """The list's filters; ``None`` (or an empty name) filters nothing."""

    status: str | None = None
    kind: str | None = None
    channel: str | None = None
    project_code: str | None = None
    unrestricted: bool | None = None  # true: only undesignated gifts; false: only designated
    donor_id: uuid.UUID | None = None
    received_from: datetime | None = None  # inclusive
    received_to: datetime | None = None  # exclusive
    tracking_code: str | None = None  # as typed: a malformed one is a 422
    receipt_no: str | None = None  # any receipt the gift had, voided too
    donor_name: str | None = None  # the donor's name contains


def donation_out(
    donation: Donation, donor: Donor, items: list[DonationItem], receipt_no: str | None = None
) -> DonationOut:
    """A gift as the API answers it; ``receipt_no`` is its live receipt's, if any."""
    return DonationOut(
        id=donation.id,
        tracking_code=donation.tracking_code,
        kind=donation.kind,
        status=donation.status,
        amount_fen=donation.amount_fen,
        channel=donation.channel,
        external_ref=donation.external_ref,
        project_code=donation.project_code,
        display=donation.display,
        display_name=donation.display_name,
        donor=donor_out(donor),
        incident_code=donation.incident_code,
        items=[DonationItemOut.model_validate(i, from_attributes=True) for i in items],
        note=donation.note,
        received_at=donation.received_at,
        created_at=donation.created_at,
        created_by=donation.created_by,
        version=donation.version,
        used_fen=donation.used_fen,
        refunded_fen=donation.refunded_fen,
        written_off_fen=donation.written_off_fen,
        # nothing remains of a cancelled gift; a goods gift's fen are used per unit delivered
        remaining_fen=remaining_fen(
            donation.kind,
            donation.status,
            amount_fen=donation.amount_fen,
            used_fen=donation.used_fen,
            refunded_fen=donation.refunded_fen,
            written_off_fen=donation.written_off_fen,
        ),
        status_reason=donation.status_reason,
        receipt_no=receipt_no,
        updated_at=donation.updated_at,
    )


async def load_donation(
    uow: SqlUnitOfWork, donation_id: uuid.UUID
) -> tuple[Donation, Donor, list[DonationItem]] | None:
    """A gift, its donor and its goods lines in order; ``None`` if there is no such gift."""
    session = uow.session
    donation = await session.get(Donation, donation_id)
    if donation is None:
        return None
    donor = await session.get(Donor, donation.donor_id)
    assert donor is not None
    items = list(
        (
            await session.scalars(
                select(DonationItem)
                .where(col(DonationItem.donation_id) == donation_id)
                .order_by(col(DonationItem.line_no))
            )
        ).all()
    )
    return donation, donor, items


async def donation_body(uow: SqlUnitOfWork, donation_id: uuid.UUID) -> dict[str, Any]:
    """One gift as the API answers it, with its live receipt's number."""
    loaded = await load_donation(uow, donation_id)
    if loaded is None:
        raise NotFound(f"捐赠记录不存在 (donation {donation_id} not found)")
    receipt_no = await uow.session.scalar(
        select(col(Receipt.receipt_no)).where(
            col(Receipt.donation_id) == donation_id, col(Receipt.voided_at).is_(None)
        )
    )
    return donation_out(*loaded, receipt_no=receipt_no).model_dump(mode="json")


def donations_query(
    filters: GiftFilters, *, limit: int, cursor: str | None
) -> Select[Donation, Donor]:
    """Gifts with their donors, newest received first, after ``cursor``, one more than
    ``limit`` (to tell whether a next page exists). A malformed tracking code or cursor is a
    ``422``."""
    f = filters
    query = select(Donation, Donor).join(Donor, col(Donor.id) == col(Donation.donor_id))
    if f.tracking_code is not None:
        code = public_lookups.tracking_code(f.tracking_code)  # 422 if malformed
        query = query.where(col(Donation.tracking_code) == code)
    if f.receipt_no is not None:
        query = query.where(
            col(Donation.id).in_(
                select(col(Receipt.donation_id)).where(col(Receipt.receipt_no) == f.receipt_no)
            )
        )
    if f.donor_name:
        query = query.where(col(Donor.name).contains(f.donor_name))
    if f.status is not None:
        query = query.where(col(Donation.status) == f.status)
    if f.kind is not None:
        query = query.where(col(Donation.kind) == f.kind)
    if f.channel is not None:
        query = query.where(col(Donation.channel) == f.channel)
    if f.project_code is not None:
        query = query.where(col(Donation.project_code) == f.project_code)
    if f.unrestricted is not None:
        query = query.where(
            col(Donation.project_code).is_(None)
            if f.unrestricted
            else col(Donation.project_code).is_not(None)
        )
    if f.donor_id is not None:
        query = query.where(col(Donation.donor_id) == f.donor_id)
    if f.received_from is not None:
        query = query.where(col(Donation.received_at) >= f.received_from)
    if f.received_to is not None:
        query = query.where(col(Donation.received_at) < f.received_to)
    if cursor is not None:
        at, last_id = decode_cursor(cursor, 2, datetime.fromisoformat, uuid.UUID)
        query = query.where(
            or_(
                col(Donation.received_at) < at,
                and_(col(Donation.received_at) == at, col(Donation.id) < last_id),
            )
        )
    return query.order_by(col(Donation.received_at).desc(), col(Donation.id).desc()).limit(
        limit + 1
    )


async def donation_page(
    runtime: ServiceRuntime, filters: GiftFilters, *, limit: int, cursor: str | None
) -> DonationPage:
    """One page of gifts (each with its goods lines and live receipt number), with the cursor
    of the next page if there is one."""
    query = donations_query(filters, limit=limit, cursor=cursor)
    async with runtime.unit_of_work() as uow:
        rows = (await uow.session.execute(query)).all()
        page = rows[:limit]
        ids = [d.id for d, _ in page]
        items_by_donation: dict[uuid.UUID, list[DonationItem]] = {i: [] for i in ids}
        receipts: dict[uuid.UUID, str] = {}
        if ids:
            for item in await uow.session.scalars(
                select(DonationItem)
                .where(col(DonationItem.donation_id).in_(ids))
                .order_by(col(DonationItem.line_no))
            ):
                items_by_donation[item.donation_id].append(item)
            for r in await uow.session.scalars(
                select(Receipt).where(
                    col(Receipt.donation_id).in_(ids), col(Receipt.voided_at).is_(None)
                )
            ):
                receipts[r.donation_id] = r.receipt_no
        next_cursor = None
        if len(rows) > limit:
            last = page[-1][0]
            next_cursor = encode_cursor(last.received_at.isoformat(), str(last.id))
        return DonationPage(
            items=[
                donation_out(d, donor, items_by_donation[d.id], receipts.get(d.id))
                for d, donor in page
            ],
            next_cursor=next_cursor,
        )
