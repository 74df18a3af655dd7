"""Reads of receipts: a gift's receipts, and the register of every receipt by number (a gift's
receipts and the months' combined receipts: one series)."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from donation.adapters.orm import CombinedReceipt, Receipt
from donation.entrypoints.api.schemas import ReceiptOut, ReceiptPage, RegisterEntryOut
from donation.service_layer.combined_receipts import ANONYMOUS_PAYER
from shared.errors import ValidationFailed
from shared.pagination import decode_cursor, encode_cursor
from shared.runtime import ServiceRuntime

Registered = TypeVar("Registered", Receipt, CombinedReceipt)


def receipt_out(receipt: Receipt) -> ReceiptOut:
    return ReceiptOut.model_validate(receipt, from_attributes=True)


async def gift_receipts(runtime: ServiceRuntime, donation_id: uuid.UUID) -> list[ReceiptOut]:
    """Every receipt of a gift, voided ones too, in the order they were issued."""
    async with runtime.unit_of_work() as uow:
        rows = await uow.session.scalars(
            select(Receipt)
            .where(col(Receipt.donation_id) == donation_id)
            .order_by(col(Receipt.issued_at))
        )
        return [receipt_out(r) for r in rows]


def register_query(
    model: type[Registered], year: int | None, *, limit: int, cursor: str | None
) -> SelectOfScalar[Registered]:
    """Rows of ``model`` by number, the last issued first (of ``year`` if given), after
    ``cursor``, one more than ``limit``; a malformed cursor is a ``422``."""
    query = select(model)
    if year is not None:
        query = query.where(col(model.year) == year)
    if cursor is not None:
        y, s = decode_cursor(cursor, 2)
        if not isinstance(y, int) or not isinstance(s, int):
            raise ValidationFailed("无效的分页游标 (invalid cursor)")
        query = query.where(
            or_(col(model.year) < y, and_(col(model.year) == y, col(model.seq) < s))
        )
    return query.order_by(col(model.year).desc(), col(model.seq).desc()).limit(limit + 1)


def gift_entry(receipt: Receipt) -> RegisterEntryOut:
    return RegisterEntryOut(
        kind="gift", month=None, gift_count=1, **receipt_out(receipt).model_dump()
    )


def combined_entry(receipt: CombinedReceipt) -> RegisterEntryOut:
    return RegisterEntryOut(
        kind="combined",
        id=receipt.id,
        donation_id=None,
        month=receipt.month,
        gift_count=receipt.gift_count,
        receipt_no=receipt.receipt_no,
        year=receipt.year,
        seq=receipt.seq,
        amount_fen=receipt.amount_fen,
        payer_name=ANONYMOUS_PAYER,
        anonymous=True,
        declined=False,
        issued_at=receipt.issued_at,
        issued_by=receipt.issued_by,
        voided_at=None,
        void_reason=None,
        voided_by=None,
    )


async def register_page(
    runtime: ServiceRuntime, year: int | None, *, limit: int, cursor: str | None
) -> ReceiptPage:
    """One page of the receipt register, with the cursor of the next page if there is one:
    each table read by the same keyset, merged by number."""
    async with runtime.unit_of_work() as uow:
        gifts = await uow.session.scalars(register_query(Receipt, year, limit=limit, cursor=cursor))
        combined = await uow.session.scalars(
            register_query(CombinedReceipt, year, limit=limit, cursor=cursor)
        )
        entries = [gift_entry(r) for r in gifts] + [combined_entry(r) for r in combined]
    entries.sort(key=lambda e: (e.year, e.seq), reverse=True)
    page = entries[:limit]
    return ReceiptPage(
        items=page,
        next_cursor=encode_cursor(page[-1].year, page[-1].seq) if len(entries) > limit else None,
    )
