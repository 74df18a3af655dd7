"""The month's combined receipt (合并开具) for small anonymous online gifts, under 爱心人士.

With ``DONATION_COMBINED_RECEIPT_BELOW_FEN`` set, an anonymous online gift below it is paid
without a receipt of its own (``online_orders.receipt_combined``). Once a month is over,
finance issues one receipt for all of that month's such gifts (by the time they were paid,
Asia/Shanghai) that are still unreceipted: the next number of the year's gapless sequence, the
sum of what the gifts still hold (refunds deducted), one line per project on the PDF.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, func, select

from donation.adapters.orm import (
    CombinedReceipt,
    CombinedReceiptGift,
    Donation,
    OnlineOrder,
    Project,
)
from donation.adapters.receipt_pdf import MAX_LINES, ReceiptDocument, ReceiptLine
from donation.config import DonationSettings
from donation.service_layer.common import LOCAL_TZ, audit, local_date, now
from donation.service_layer.gifts import next_receipt_number
from donation.service_layer.receipt_documents import (
    UNRESTRICTED_CODE,
    UNRESTRICTED_NAME,
    check_code,
)
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import uuid7
from shared.uow import SqlUnitOfWork

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
ANONYMOUS_PAYER = "爱心人士"


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's, in Asia/Shanghai."""
    found = MONTH.match(month)
    if found is None:
        raise ValidationFailed(f"月份格式应为 YYYY-MM (month must be YYYY-MM, not {month!r})")
    year, number = int(found[1]), int(found[2])
    if not 2000 <= year <= 2999:
        raise ValidationFailed(f"月份超出范围 (month out of range: {month!r})")
    start = datetime(year, number, 1, tzinfo=LOCAL_TZ)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=LOCAL_TZ)
    return start, end


async def _waiting(
    uow: SqlUnitOfWork, start: datetime, end: datetime
) -> list[tuple[Donation, int]]:
    """The month's gifts waiting for the combined receipt, with the fen each still holds."""
    rows = await uow.session.execute(
        select(Donation)
        .join(OnlineOrder, col(OnlineOrder.donation_id) == col(Donation.id))
        .where(
            col(OnlineOrder.receipt_combined).is_(True),
            col(OnlineOrder.paid_at) >= start,
            col(OnlineOrder.paid_at) < end,
            col(Donation.id).not_in(select(col(CombinedReceiptGift.donation_id))),
        )
        .order_by(col(Donation.received_at))
        .with_for_update(of=Donation)  # type: ignore[arg-type]
    )
    gifts = []
    for donation in rows.scalars():
        left = donation.amount_fen - donation.refunded_fen
        if left > 0 and donation.status not in ("cancelled", "refunded"):
            gifts.append((donation, left))
    return gifts


async def issue_combined_receipt(uow: SqlUnitOfWork, month: str, actor: str) -> CombinedReceipt:
    start, end = month_bounds(month)
    if end > now():
        raise ValidationFailed(
            f"{month} 尚未结束，月末后再合并开具 (the month is not over yet: issue it afterwards)"
        )
    existing = await uow.session.scalar(
        select(CombinedReceipt).where(col(CombinedReceipt.month) == month)
    )
    if existing is not None:
        raise Conflict(
            f"{month} 的合并票据已开具：{existing.receipt_no} (already issued for the month)",
            details={"receipt_no": existing.receipt_no},
        )
    gifts = await _waiting(uow, start, end)
    if not gifts:
        raise Conflict(f"{month} 没有待合并开票的捐赠 (no gifts wait for a combined receipt)")
    year = start.year
    seq = await next_receipt_number(uow, year)
    receipt = CombinedReceipt(
        id=uuid7(),
        month=month,
        year=year,
        seq=seq,
        receipt_no=f"{year}-{seq:06d}",
        amount_fen=sum(left for _, left in gifts),
        gift_count=len(gifts),
        issued_at=now(),
        issued_by=actor,
    )
    uow.session.add(receipt)
    await uow.session.flush()
    for donation, left in gifts:
        uow.session.add(
            CombinedReceiptGift(
                donation_id=donation.id, combined_receipt_id=receipt.id, amount_fen=left
            )
        )
    audit(
        uow.session,
        actor=actor,
        action="receipt.combined_issue",
        entity="combined_receipt",
        entity_id=str(receipt.id),
        after={
            "month": month,
            "receipt_no": receipt.receipt_no,
            "amount_fen": receipt.amount_fen,
            "gifts": [str(d.id) for d, _ in gifts],
        },
    )
    await uow.session.flush()
    return receipt


@dataclass(frozen=True)
class CombinedView:
    receipt: CombinedReceipt
    lines: list[tuple[str | None, int, int]]  # project code, fen, gifts


async def combined_view(uow: SqlUnitOfWork, month: str) -> CombinedView:
    month_bounds(month)
    receipt = await uow.session.scalar(
        select(CombinedReceipt).where(col(CombinedReceipt.month) == month)
    )
    if receipt is None:
        raise NotFound(f"{month} 没有合并票据 (no combined receipt for the month)")
    rows = await uow.session.execute(
        select(
            col(Donation.project_code),
            func.sum(col(CombinedReceiptGift.amount_fen)),
            func.count(),
        )
        .join(Donation, col(Donation.id) == col(CombinedReceiptGift.donation_id))
        .where(col(CombinedReceiptGift.combined_receipt_id) == receipt.id)
        .group_by(col(Donation.project_code))
        .order_by(col(Donation.project_code))
    )
    return CombinedView(receipt, [(code, int(fen), int(n)) for code, fen, n in rows])


async def list_combined(uow: SqlUnitOfWork) -> list[CombinedReceipt]:
    rows = await uow.session.execute(
        select(CombinedReceipt).order_by(col(CombinedReceipt.month).desc()).limit(120)
    )
    return list(rows.scalars())


async def combined_document(
    uow: SqlUnitOfWork, view: CombinedView, settings: DonationSettings, *, secret: str
) -> ReceiptDocument:
    receipt = view.receipt
    names: dict[str | None, str] = {}
    for code, _, _ in view.lines:
        project = await uow.session.get(Project, code) if code else None
        names[code] = project.name if project is not None else UNRESTRICTED_NAME
    number = f"{receipt.year % 100:02d}{receipt.seq:08d}"
    return ReceiptDocument(
        receipt_code=settings.receipt_code,
        receipt_number=number,
        check_code=check_code(secret, settings.receipt_code, number, receipt.amount_fen),
        issued_on=local_date(receipt.issued_at),
        payer_name=ANONYMOUS_PAYER,
        lines=_lines(view, names),
        verify_url=f"{settings.public_url.rstrip('/')}/",
        issuer_name=settings.receipt_issuer_name,
        issuer_credit_code=settings.receipt_issuer_credit_code,
        remark=f"{receipt.month} 匿名小额网上捐赠合并开具，共 {receipt.gift_count} 笔；"
        f"内部编号 {receipt.receipt_no}",
        reviewer=settings.receipt_reviewer,
        payee=settings.receipt_payee,
    )


def _lines(view: CombinedView, names: dict[str | None, str]) -> tuple[ReceiptLine, ...]:
    """One line per project; past the receipt's 8 lines, the rest summed as 其他项目."""
    lines = [
        ReceiptLine(
            project_code=code or UNRESTRICTED_CODE,
            project_name=names[code],
            amount_fen=fen,
            unit="笔",
            quantity=count,
        )
        for code, fen, count in view.lines
    ]
    if len(lines) <= MAX_LINES:
        return tuple(lines)
    rest = lines[MAX_LINES - 1 :]
    other = ReceiptLine(
        project_code="FH-OTHER",
        project_name=f"其他项目（{len(rest)} 个）",
        amount_fen=sum(line.amount_fen for line in rest),
        unit="笔",
        quantity=sum(line.quantity or 0 for line in rest),
    )
    return (*lines[: MAX_LINES - 1], other)
