"""``/api/v1/donations``: record and read gifts (staff only)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import and_, or_
from sqlmodel import col, select

from donation.adapters.orm import Donation, DonationItem, Donor
from donation.domain.commands import DonorDetails, GoodsLine, RecordDonation
from donation.entrypoints.api.deps import IdempotencyKey, RuntimeDep
from donation.entrypoints.api.schemas import (
    DonationCreate,
    DonationItemOut,
    DonationOut,
    DonationPage,
    DonorOut,
)
from donation.service_layer.handlers import load_donation, record_donation
from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import NotFound
from shared.idempotency import run_idempotent
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor

router = APIRouter(prefix="/api/v1/donations", tags=["donations"])

Recorder = require_roles(Role.FINANCE)
Reader = require_roles(Role.FINANCE, Role.AUDITOR)


def to_out(donation: Donation, donor: Donor, items: list[DonationItem]) -> DonationOut:
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
        donor=DonorOut(
            id=donor.id,
            donor_type=donor.donor_type,
            name=donor.name,
            phone=donor.phone,
            email=donor.email,
        ),
        items=[DonationItemOut.model_validate(i, from_attributes=True) for i in items],
        note=donation.note,
        received_at=donation.received_at,
        created_at=donation.created_at,
        created_by=donation.created_by,
        version=donation.version,
    )


@router.post(
    "",
    status_code=201,
    response_model=DonationOut,
    summary="登记捐赠 Record a received gift",
    responses={409: {"description": "Duplicate payment reference or idempotency conflict"}},
)
async def create_donation(
    body: DonationCreate,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Recorder,
) -> JSONResponse:
    command = RecordDonation(
        kind=body.kind,
        amount_fen=body.amount_fen
        if body.amount_fen is not None
        else sum(i.value_fen for i in body.items),
        channel=body.channel,
        display=body.display,
        donor=DonorDetails(
            donor_type=body.donor.donor_type,
            name=body.donor.name,
            phone=body.donor.phone,
            email=body.donor.email,
        ),
        received_at=body.received_at or datetime.now(UTC),
        actor=staff.username,
        external_ref=body.external_ref,
        project_code=body.project_code,
        note=body.note,
        items=tuple(GoodsLine(**item.model_dump()) for item in body.items),
    )
    async with runtime.unit_of_work() as uow:

        async def record() -> tuple[int, dict[str, object]]:
            donation = await record_donation(uow, command)
            loaded = await load_donation(uow, donation.id)
            assert loaded is not None
            return 201, to_out(*loaded).model_dump(mode="json")

        status, payload, replayed = await run_idempotent(
            uow.session,
            scope=f"{staff.username}:POST /api/v1/donations",
            key=key,
            payload=body.model_dump(mode="json"),
            action=record,
        )
        await uow.commit()
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(payload, status, headers=headers)


@router.get("/{donation_id}", response_model=DonationOut, summary="查看捐赠 One gift")
async def get_donation(
    donation_id: uuid.UUID, runtime: RuntimeDep, _: StaffPrincipal = Reader
) -> DonationOut:
    async with runtime.unit_of_work() as uow:
        loaded = await load_donation(uow, donation_id)
        if loaded is None:
            raise NotFound(f"捐赠记录不存在 (donation {donation_id} not found)")
        return to_out(*loaded)


@router.get("", response_model=DonationPage, summary="捐赠列表 List gifts, newest first")
async def list_donations(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> DonationPage:
    query = select(Donation, Donor).join(Donor, col(Donor.id) == col(Donation.donor_id))
    if cursor is not None:
        at_raw, id_raw = decode_cursor(cursor, 2)
        at, last_id = datetime.fromisoformat(str(at_raw)), uuid.UUID(str(id_raw))
        query = query.where(
            or_(
                col(Donation.received_at) < at,
                and_(col(Donation.received_at) == at, col(Donation.id) < last_id),
            )
        )
    query = query.order_by(col(Donation.received_at).desc(), col(Donation.id).desc()).limit(
        limit + 1
    )
    async with runtime.unit_of_work() as uow:
        rows = (await uow.session.execute(query)).all()
        page = rows[:limit]
        ids = [d.id for d, _ in page]
        items_by_donation: dict[uuid.UUID, list[DonationItem]] = {i: [] for i in ids}
        if ids:
            for item in await uow.session.scalars(
                select(DonationItem)
                .where(col(DonationItem.donation_id).in_(ids))
                .order_by(col(DonationItem.line_no))
            ):
                items_by_donation[item.donation_id].append(item)
        next_cursor = None
        if len(rows) > limit:
            last = page[-1][0]
            next_cursor = encode_cursor(last.received_at.isoformat(), str(last.id))
        return DonationPage(
            items=[to_out(d, donor, items_by_donation[d.id]) for d, donor in page],
            next_cursor=next_cursor,
        )
