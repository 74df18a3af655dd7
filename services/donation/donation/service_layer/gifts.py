"""A gift's life after it was recorded: receipt, void, cancel, refund, completion, edits."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import text
from sqlmodel import col, select

from donation.adapters.orm import (
    Donation,
    DonationItem,
    Donor,
    OnlineOrder,
    OnlineRefund,
    Receipt,
    RefundRequest,
    RemainderMove,
)
from donation.domain.allocation import needs_second_person
from donation.domain.commands import (
    ApproveRefund,
    CancelDonation,
    CompleteDonation,
    IssueReceipt,
    ReceivePledge,
    RefundDonation,
    RejectRefund,
    UpdateDonation,
    VoidReceipt,
)
from donation.domain.lifecycle import (
    IllegalTransition,
    check_move,
    receipt_allowed,
    status_after_receipt,
    status_after_void,
)
from donation.domain.model import DonationStatus as S
from donation.service_layer.common import (
    LOCAL_TZ,
    audit,
    check_version,
    local_date,
    lock_row,
    now,
)
from donation.service_layer.intake import announce_received, check_project_open
from shared.contracts.donation import (
    DESIGNATION_CHANGED,
    DONATION_CANCELLED,
    DONATION_RECEIPT_VOIDED,
    DONATION_RECEIPTED,
    DONATION_REFUNDED,
    DONATION_STATUS_CHANGED,
    DesignationChangedV1,
    DonationCancelledV1,
    DonationReceiptedV1,
    DonationReceiptVoidedV1,
    DonationRefundedV1,
    DonationStatusChangedV1,
)
from shared.errors import Conflict, Forbidden
from shared.ids import uuid7
from shared.messaging.topics import DONATION_EVENTS
from shared.subjects import same_subject
from shared.uow import SqlUnitOfWork

# One advisory lock serialises every change to how much of a gift is spent: disbursement
# approvals and refunds. Approvals are rare; correctness over parallelism.
ALLOCATION_LOCK = 7_202_611_280


async def lock_allocations(uow: SqlUnitOfWork) -> None:
    await uow.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ALLOCATION_LOCK})


async def get_donation_for_update(uow: SqlUnitOfWork, donation_id: uuid.UUID) -> Donation:
    return await lock_row(
        uow, Donation, donation_id, f"捐赠记录不存在 (donation {donation_id} not found)"
    )


def _conflict(exc: IllegalTransition) -> Conflict:
    return Conflict(str(exc), details={"status": exc.current})


def status_changed(uow: SqlUnitOfWork, donation: Donation, before: str) -> None:
    if before == donation.status:
        return
    uow.publish(
        topic=DONATION_EVENTS,
        key=str(donation.id),
        type=DONATION_STATUS_CHANGED,
        subject=str(donation.id),
        payload=DonationStatusChangedV1(
            donation_id=donation.id,
            tracking_code=donation.tracking_code,
            kind=donation.kind,  # type: ignore[arg-type]
            from_status=before,  # type: ignore[arg-type]
            to_status=donation.status,  # type: ignore[arg-type]
            changed_at=now(),
        ),
    )


def _refuse_if_moved(donation: Donation) -> None:
    if donation.moved_to_project_code is not None:
        raise Conflict(
            f"该捐赠的结余已转入项目 {donation.moved_to_project_code} (the gift's remainder moved "
            f"to {donation.moved_to_project_code} with the donor's consent)",
            details={"status": donation.status},
        )


def _touch(donation: Donation) -> None:
    donation.version += 1
    donation.updated_at = now()


async def receive_pledged(uow: SqlUnitOfWork, cmd: ReceivePledge) -> Donation:
    donation = await get_donation_for_update(uow, cmd.donation_id)
    try:
        check_move(donation.status, S.RECEIVED, "确认到账 (receive)")
    except IllegalTransition as exc:
        raise _conflict(exc) from exc
    before = donation.status
    donation.status = S.RECEIVED
    donation.received_at = cmd.received_at or now()
    _touch(donation)
    donor = await uow.session.get(Donor, donation.donor_id)
    assert donor is not None
    items = list(
        await uow.session.scalars(
            select(DonationItem).where(col(DonationItem.donation_id) == donation.id)
        )
    )
    audit(
        uow.session,
        actor=cmd.actor,
        action="donation.receive",
        entity="donation",
        entity_id=str(donation.id),
        before={"status": before},
        after={"status": donation.status, "received_at": donation.received_at},
    )
    announce_received(uow, donation, donor, items)
    return donation


async def next_receipt_number(uow: SqlUnitOfWork, year: int) -> int:
    """Gapless per year: the counter row is locked until the transaction ends, so concurrent
    issuers queue, and a rolled-back issue gives its number back."""
    seq = await uow.session.scalar(
        text(
            "INSERT INTO receipt_counters (year, last_seq) VALUES (:y, 1) "
            "ON CONFLICT (year) DO UPDATE SET last_seq = receipt_counters.last_seq + 1 "
            "RETURNING last_seq"
        ),
        {"y": year},
    )
    assert isinstance(seq, int)
    return seq


async def issue_receipt(uow: SqlUnitOfWork, cmd: IssueReceipt) -> Receipt:
    donation = await get_donation_for_update(uow, cmd.donation_id)
    if not receipt_allowed(donation.status):
        raise Conflict(
            f"当前状态为「{donation.status}」，不能开具票据 (cannot issue a receipt for a gift "
            f"whose status is {donation.status})",
            details={"status": donation.status},
        )
    live = await uow.session.scalar(
        select(Receipt).where(
            col(Receipt.donation_id) == donation.id, col(Receipt.voided_at).is_(None)
        )
    )
    if live is not None:
        raise Conflict(
            f"该捐赠已开具票据 {live.receipt_no} (a receipt {live.receipt_no} was already issued; "
            "void it first to reissue)",
            details={"status": donation.status, "receipt_no": live.receipt_no},
        )
    donor = await uow.session.get(Donor, donation.donor_id)
    assert donor is not None
    at = now()
    year = local_date(at).year
    seq = await next_receipt_number(uow, year)
    anonymous = donation.display == "anonymous"
    receipt = Receipt(
        id=uuid7(),
        donation_id=donation.id,
        year=year,
        seq=seq,
        receipt_no=f"{year}-{seq:06d}",
        amount_fen=donation.amount_fen - donation.refunded_fen,
        payer_name=None if anonymous else (cmd.payer_name or donor.name),
        anonymous=anonymous,
        declined=cmd.declined,
        issued_at=at,
        issued_by=cmd.actor,
        payer_credit_code=None if anonymous else cmd.payer_credit_code,
    )
    uow.session.add(receipt)
    before = donation.status
    donation.status = status_after_receipt(donation.status)
    _touch(donation)
    audit(
        uow.session,
        actor=cmd.actor,
        action="receipt.issue",
        entity="donation",
        entity_id=str(donation.id),
        before={"status": before},
        after={
            "status": donation.status,
            "receipt_no": receipt.receipt_no,
            "anonymous": anonymous,
            "declined": cmd.declined,
        },
    )
    await uow.session.flush()
    uow.publish(
        topic=DONATION_EVENTS,
        key=str(donation.id),
        type=DONATION_RECEIPTED,
        subject=str(donation.id),
        payload=DonationReceiptedV1(
            donation_id=donation.id,
            tracking_code=donation.tracking_code,
            receipt_no=receipt.receipt_no,
            receipt_year=year,
            sequence=seq,
            amount_fen=receipt.amount_fen,
            anonymous=anonymous,
            declined=cmd.declined,
            display_name=donation.display_name,
            issued_at=at,
        ),
    )
    return receipt


async def void_receipt(uow: SqlUnitOfWork, cmd: VoidReceipt) -> Receipt:
    donation = await get_donation_for_update(uow, cmd.donation_id)
    receipt = await uow.session.scalar(
        select(Receipt).where(
            col(Receipt.donation_id) == donation.id, col(Receipt.voided_at).is_(None)
        )
    )
    if receipt is None:
        raise Conflict(
            "该捐赠没有有效票据可作废 (the gift has no live receipt to void)",
            details={"status": donation.status},
        )
    receipt.voided_at = now()
    receipt.void_reason = cmd.reason
    receipt.voided_by = cmd.actor
    before = donation.status
    donation.status = status_after_void(donation.status)
    _touch(donation)
    audit(
        uow.session,
        actor=cmd.actor,
        action="receipt.void",
        entity="donation",
        entity_id=str(donation.id),
        before={"status": before, "receipt_no": receipt.receipt_no},
        after={"status": donation.status, "void_reason": cmd.reason},
    )
    uow.publish(
        topic=DONATION_EVENTS,
        key=str(donation.id),
        type=DONATION_RECEIPT_VOIDED,
        subject=str(donation.id),
        payload=DonationReceiptVoidedV1(
            donation_id=donation.id,
            tracking_code=donation.tracking_code,
            receipt_no=receipt.receipt_no,
            receipt_year=receipt.year,
            reason=cmd.reason,
            voided_at=receipt.voided_at,
        ),
    )
    return receipt


async def cancel_donation(uow: SqlUnitOfWork, cmd: CancelDonation) -> Donation:
    donation = await get_donation_for_update(uow, cmd.donation_id)
    try:
        check_move(donation.status, S.CANCELLED, "取消 (cancel)")
    except IllegalTransition as exc:
        raise _conflict(exc) from exc
    _refuse_if_moved(donation)
    before = donation.status
    donation.status = S.CANCELLED
    donation.status_reason = cmd.reason
    _touch(donation)
    audit(
        uow.session,
        actor=cmd.actor,
        action="donation.cancel",
        entity="donation",
        entity_id=str(donation.id),
        before={"status": before},
        after={"status": donation.status, "reason": cmd.reason},
    )
    uow.publish(
        topic=DONATION_EVENTS,
        key=str(donation.id),
        type=DONATION_CANCELLED,
        subject=str(donation.id),
        payload=DonationCancelledV1(
            donation_id=donation.id,
            tracking_code=donation.tracking_code,
            previous_status=before,  # type: ignore[arg-type]
            amount_fen=donation.amount_fen,
            reason=cmd.reason,
            cancelled_at=now(),
        ),
    )
    return donation


async def refund_donation(uow: SqlUnitOfWork, cmd: RefundDonation) -> Donation | RefundRequest:
    """Return the unused money of a money gift; what was used stays used. Above the four-eyes
    threshold (``cmd.four_eyes_fen``) the refund is only requested: the answer is the pending
    :class:`RefundRequest`, booked when another account approves it (:func:`approve_refund`)."""
    await lock_allocations(uow)
    donation = await get_donation_for_update(uow, cmd.donation_id)
    left = _refundable(donation)
    if needs_second_person(left, cmd.four_eyes_fen):
        return await request_refund(uow, donation, left, cmd.reason, cmd.actor, source="refund")
    await book_refund(uow, donation, left, reason=cmd.reason, actor=cmd.actor)
    return donation


def pending_refund_id(result: Donation | RefundRequest) -> uuid.UUID | None:
    """The refund request :func:`refund_donation` left pending (above the threshold), if any."""
    return result.id if isinstance(result, RefundRequest) else None


def _refundable(donation: Donation) -> int:
    """The fen a refund of this gift returns; refused when it cannot be refunded."""
    if donation.kind != "money":
        raise Conflict(
            "物资捐赠不能退款 (goods gifts cannot be refunded)", details={"status": donation.status}
        )
    try:
        check_move(donation.status, S.REFUNDED, "退款 (refund)")
    except IllegalTransition as exc:
        raise _conflict(exc) from exc
    left = donation.amount_fen - donation.used_fen - donation.refunded_fen
    if left <= 0:
        raise Conflict(
            "该捐赠已全部使用，无可退金额 (nothing left to refund)",
            details={"status": donation.status},
        )
    return left


async def _pending_refund(uow: SqlUnitOfWork, donation_id: uuid.UUID) -> RefundRequest | None:
    return await uow.session.scalar(
        select(RefundRequest).where(
            col(RefundRequest.donation_id) == donation_id, col(RefundRequest.status) == "pending"
        )
    )


async def _remainder_move(uow: SqlUnitOfWork, donation_id: uuid.UUID) -> RemainderMove | None:
    """The gift's remainder move still open (waiting for consent, or a refund's approval)."""
    return await uow.session.scalar(
        select(RemainderMove)
        .where(
            col(RemainderMove.donation_id) == donation_id,
            col(RemainderMove.outcome).in_(["waiting", "refund_pending"]),
        )
        .with_for_update()
    )


async def request_refund(
    uow: SqlUnitOfWork, donation: Donation, left: int, reason: str, actor: str, *, source: str
) -> RefundRequest:
    """Four eyes: a refund above the threshold waits for another account's approval."""
    if await _pending_refund(uow, donation.id) is not None:
        raise Conflict(
            "该捐赠已有待审批的退款申请 (a refund of this gift already awaits approval)",
            details={"status": donation.status},
        )
    request = RefundRequest(
        id=uuid7(),
        donation_id=donation.id,
        amount_fen=left,
        reason=reason,
        source=source,
        requested_by=actor,
        created_at=now(),
    )
    uow.session.add(request)
    move = await _remainder_move(uow, donation.id)
    if move is not None:
        move.outcome, move.refund_request_id, move.amount_fen = "refund_pending", request.id, left
    audit(
        uow.session,
        actor=actor,
        action="refund.request",
        entity="donation",
        entity_id=str(donation.id),
        after={"request_id": request.id, "amount_fen": left, "reason": reason, "source": source},
    )
    await uow.session.flush()
    return request


async def book_refund(
    uow: SqlUnitOfWork,
    donation: Donation,
    left: int,
    *,
    reason: str,
    actor: str,
    approved_by: str | None = None,
) -> None:
    """Book the refund of ``left`` fen (the gift's unused money) and publish it."""
    before = donation.status
    donation.refunded_fen += left
    donation.status = S.REFUNDED
    donation.status_reason = reason
    _touch(donation)
    move = await _remainder_move(uow, donation.id)
    if move is not None:
        move.outcome, move.amount_fen, move.moved_at = "refunded", left, now()
    audit(
        uow.session,
        actor=approved_by or actor,
        action="donation.refund",
        entity="donation",
        entity_id=str(donation.id),
        before={"status": before},
        after={"status": donation.status, "refunded_fen": left, "reason": reason}
        | ({"requested_by": actor, "approved_by": approved_by} if approved_by else {}),
    )
    await _send_back_through_gateway(uow, donation, left, reason)
    uow.publish(
        topic=DONATION_EVENTS,
        key=str(donation.id),
        type=DONATION_REFUNDED,
        subject=str(donation.id),
        payload=DonationRefundedV1(
            donation_id=donation.id,
            tracking_code=donation.tracking_code,
            previous_status=before,  # type: ignore[arg-type]
            amount_fen=left,
            reason=reason,
            refunded_at=now(),
        ),
    )


async def _send_back_through_gateway(
    uow: SqlUnitOfWork, donation: Donation, amount_fen: int, reason: str
) -> None:
    """A gift paid online is refunded through its gateway: the refund to send is written with
    the booking (the payment sweeper sends it and follows it to success)."""
    order = await uow.session.scalar(
        select(OnlineOrder).where(
            col(OnlineOrder.donation_id) == donation.id, col(OnlineOrder.status) == "paid"
        )
    )
    if order is None:
        return
    at = now()
    refund = OnlineRefund(
        id=uuid7(),
        out_refund_no=f"RF{at.astimezone(LOCAL_TZ):%Y%m%d}{secrets.token_hex(10)}",
        donation_id=donation.id,
        channel=order.channel,
        out_trade_no=order.out_trade_no,
        amount_fen=amount_fen,
        total_fen=order.amount_fen,
        reason=(reason or "捐赠退款")[:80],
        status="pending",
        created_at=at,
    )
    uow.session.add(refund)
    audit(
        uow.session,
        actor="system",
        action="refund.gateway_queued",
        entity="donation",
        entity_id=str(donation.id),
        after={
            "out_refund_no": refund.out_refund_no,
            "channel": order.channel,
            "amount_fen": amount_fen,
        },
    )


async def _refund_request_for_update(uow: SqlUnitOfWork, request_id: uuid.UUID) -> RefundRequest:
    request = await lock_row(
        uow, RefundRequest, request_id, f"退款申请不存在 (refund request {request_id} not found)"
    )
    if request.status != "pending":
        raise Conflict(
            f"退款申请状态为「{request.status}」，不能审批 "
            f"(the refund request is {request.status})",
            details={"status": request.status},
        )
    return request


async def approve_refund(uow: SqlUnitOfWork, cmd: ApproveRefund) -> RefundRequest:
    """Four eyes: another account than the one that asked approves; the refund is booked."""
    await lock_allocations(uow)
    request = await _refund_request_for_update(uow, cmd.request_id)
    if same_subject(request.requested_by, cmd.actor):
        raise Forbidden(
            "申请人不能审批自己申请的退款（双人复核）(four eyes: the person who requested a "
            "refund cannot approve it)"
        )
    donation = await get_donation_for_update(uow, request.donation_id)
    left = _refundable(donation)
    if left != request.amount_fen:
        raise Conflict(
            f"捐赠可退金额已变为 {left} 分，请驳回后重新申请 (the gift's unused money changed "
            f"since the request: {left} fen now, {request.amount_fen} requested; reject it and "
            "request again)",
            details={"status": donation.status, "refundable_fen": left},
        )
    request.status = "approved"
    request.decided_by = cmd.actor
    request.decided_at = now()
    request.version += 1
    await book_refund(
        uow, donation, left, reason=request.reason, actor=request.requested_by,
        approved_by=cmd.actor,
    )  # fmt: skip
    return request


async def reject_refund(uow: SqlUnitOfWork, cmd: RejectRefund) -> RefundRequest:
    request = await _refund_request_for_update(uow, cmd.request_id)
    if same_subject(request.requested_by, cmd.actor):
        raise Forbidden("申请人不能审批自己申请的退款 (four eyes: not your own refund request)")
    request.status = "rejected"
    request.reject_reason = cmd.reason
    request.decided_by = cmd.actor
    request.decided_at = now()
    request.version += 1
    move = await _remainder_move(uow, request.donation_id)
    if move is not None and move.refund_request_id == request.id:
        move.outcome, move.refund_request_id = "waiting", None
    audit(
        uow.session,
        actor=cmd.actor,
        action="refund.reject",
        entity="donation",
        entity_id=str(request.donation_id),
        before={"request_id": request.id, "status": "pending"},
        after={"status": "rejected", "reason": cmd.reason},
    )
    return request


async def complete_donation(uow: SqlUnitOfWork, cmd: CompleteDonation) -> Donation:
    donation = await get_donation_for_update(uow, cmd.donation_id)
    try:
        check_move(donation.status, S.COMPLETED, "标记完成 (complete)")
    except IllegalTransition as exc:
        raise _conflict(exc) from exc
    if donation.kind == "money" and donation.used_fen + donation.refunded_fen < donation.amount_fen:
        raise Conflict(
            f"尚有 {donation.amount_fen - donation.used_fen - donation.refunded_fen} 分未使用，"
            "不能标记完成 (money is left unused)",
            details={"status": donation.status},
        )
    before = donation.status
    donation.status = S.COMPLETED
    _touch(donation)
    audit(
        uow.session,
        actor=cmd.actor,
        action="donation.complete",
        entity="donation",
        entity_id=str(donation.id),
        before={"status": before},
        after={"status": donation.status},
    )
    status_changed(uow, donation, before)
    return donation


async def update_donation(uow: SqlUnitOfWork, cmd: UpdateDonation) -> Donation:
    """Edit what may still change: the note, and (before any use) the designation. A changed
    designation is published as a correction note (``designation_changed``)."""
    donation = await get_donation_for_update(uow, cmd.donation_id)
    check_version(donation.version, cmd.expected_version)
    changes = dict(cmd.changes)
    reason = changes.pop("reason", None)
    before: dict[str, object] = {k: getattr(donation, k) for k in changes}
    previous_project = donation.project_code
    designation_changed = (
        "project_code" in changes and changes["project_code"] != donation.project_code
    )
    if designation_changed:
        if donation.status in (S.CANCELLED, S.REFUNDED, S.COMPLETED):
            raise Conflict(
                f"当前状态为「{donation.status}」，不能修改定向项目 (cannot change the designation "
                f"of a gift whose status is {donation.status})",
                details={"status": donation.status},
            )
        if donation.used_fen > 0:
            raise Conflict(
                "已有拨付使用，不能修改定向项目 (the gift already funds disbursements)",
                details={"status": donation.status},
            )
        _refuse_if_moved(donation)
        code = changes["project_code"]
        await check_project_open(uow, code if isinstance(code, str) else None)
    for key, value in changes.items():
        setattr(donation, key, value)
    _touch(donation)
    if designation_changed:
        uow.publish(
            topic=DONATION_EVENTS,
            key=str(donation.id),
            type=DESIGNATION_CHANGED,
            subject=str(donation.id),
            payload=DesignationChangedV1(
                donation_id=donation.id,
                tracking_code=donation.tracking_code,
                from_project_code=previous_project,
                to_project_code=donation.project_code,
                reason=reason if isinstance(reason, str) else None,
                changed_at=now(),
            ),
        )
    audit(
        uow.session,
        actor=cmd.actor,
        action="donation.update",
        entity="donation",
        entity_id=str(donation.id),
        before=before,
        after=dict(changes) | ({"reason": reason} if reason else {}),
    )
    return donation
