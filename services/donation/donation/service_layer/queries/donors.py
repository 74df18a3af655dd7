"""Reads of the donor register: one donor, and the list newest first (staff only)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from donation.adapters.orm import Donor
from donation.entrypoints.api.schemas import DonorOut, DonorPage
from shared.errors import NotFound, ValidationFailed
from shared.pagination import decode_cursor, encode_cursor
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork


@dataclass(frozen=True)
class DonorFilters:
    """The list's filters; ``None`` or empty filters nothing."""

    q: str | None = None  # the name contains
    phone: str | None = None
    email: str | None = None  # compared case-insensitively
    donor_type: str | None = None


def donor_out(donor: Donor) -> DonorOut:
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
    """One donor as the API answers it (a donor already in the session is not read again)."""
    donor = await uow.session.get(Donor, donor_id)
    if donor is None:
        raise NotFound(f"捐赠人不存在 (donor {donor_id} not found)")
    return donor_out(donor).model_dump(mode="json")


def donors_query(filters: DonorFilters, *, limit: int, cursor: str | None) -> SelectOfScalar[Donor]:
    """Donors newest first (by id, a UUIDv7), after ``cursor``, one more than ``limit`` (to
    tell whether a next page exists); a malformed cursor is a ``422``."""
    query = select(Donor)
    if filters.q:
        query = query.where(col(Donor.name).contains(filters.q))
    if filters.phone:
        query = query.where(col(Donor.phone) == filters.phone)
    if filters.email:
        query = query.where(func.lower(col(Donor.email)) == filters.email.lower())
    if filters.donor_type:
        query = query.where(col(Donor.donor_type) == filters.donor_type)
    if cursor is not None:
        (last_raw,) = decode_cursor(cursor, 1)
        try:
            last = uuid.UUID(str(last_raw))
        except ValueError as exc:
            raise ValidationFailed("无效的分页游标 (invalid cursor)") from exc
        query = query.where(col(Donor.id) < last)
    return query.order_by(col(Donor.id).desc()).limit(limit + 1)


async def donor_page(
    runtime: ServiceRuntime, filters: DonorFilters, *, limit: int, cursor: str | None
) -> DonorPage:
    """One page of donors, with the cursor of the next page if there is one."""
    query = donors_query(filters, limit=limit, cursor=cursor)
    async with runtime.unit_of_work() as uow:
        rows = list(await uow.session.scalars(query))
        page = rows[:limit]
        return DonorPage(
            items=[donor_out(d) for d in page],
            next_cursor=encode_cursor(str(page[-1].id)) if len(rows) > limit else None,
        )
