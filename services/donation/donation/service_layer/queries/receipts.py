"""Reads of receipts: a gift's receipts, and the register of every receipt by number."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from donation.adapters.orm import Receipt
from donation.entrypoints.api.schemas import ReceiptOut, ReceiptPage
from shared.errors import ValidationFailed
from shared.pagination import decode_cursor, encode_cursor
from shared.runtime import ServiceRuntime


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


def register_query(year: int | None, *, limit: int, cursor: str | None) -> SelectOfScalar[Receipt]:
    """Receipts by number, the last issued first (of ``year`` if given), after ``cursor``,
    one more than ``limit``; a malformed cursor is a ``422``."""
    query = select(Receipt)
    if year is not None:
        query = query.where(col(Receipt.year) == year)
    if cursor is not None:
        y, s = decode_cursor(cursor, 2)
        if not isinstance(y, int) or not isinstance(s, int):
            raise ValidationFailed("无效的分页游标 (invalid cursor)")
        query = query.where(
            or_(col(Receipt.year) < y, and_(col(Receipt.year) == y, col(Receipt.seq) < s))
        )
    return query.order_by(col(Receipt.year).desc(), col(Receipt.seq).desc()).limit(limit + 1)


async def register_page(
    runtime: ServiceRuntime, year: int | None, *, limit: int, cursor: str | None
) -> ReceiptPage:
    """One page of the receipt register, with the cursor of the next page if there is one."""
    query = register_query(year, limit=limit, cursor=cursor)
    async with runtime.unit_of_work() as uow:
        rows = list(await uow.session.scalars(query))
        page = rows[:limit]
        return ReceiptPage(
            items=[receipt_out(r) for r in page],
            next_cursor=encode_cursor(page[-1].year, page[-1].seq) if len(rows) > limit else None,
        )
