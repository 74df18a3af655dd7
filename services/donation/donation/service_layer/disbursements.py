"""Disbursements: entered by one staff account, approved or rejected by another (four eyes,
compared as one subject: ``shared.subjects.same_subject``); approval allocates the amount to
the gifts that fund it (the project's designated gifts first, then the unrestricted pool) and
tells donors of a first use. A pending disbursement can be corrected.
"""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from donation.adapters.orm import Allocation, Disbursement, Donation, Donor, Project, Receipt
from donation.domain.allocation import Fund, InsufficientFunds, allocate
from donation.domain.commands import (
    ApproveDisbursement,
    EnterDisbursement,
    RejectDisbursement,
    UpdateDisbursement,
)
from donation.domain.lifecycle import FUNDABLE, money_status_after_use
from donation.service_layer.common import (
    audit,
    check_version,
    lock_row,
    mask_person,
    now,
    request_notice,
)
from donation.service_layer.funds import project_figures
from donation.service_layer.gifts import lock_allocations, status_changed
from shared.contracts.donation import (
    FUNDS_DISBURSED,
    AllocationShareV1,
    FundsDisbursedV1,
    NoticeFactsV1,
)
from shared.errors import Conflict, Forbidden, NotFound
from shared.ids import uuid7
from shared.messaging.topics import DONATION_EVENTS
from shared.subjects import same_subject
from shared.uow import SqlUnitOfWork


async def enter_disbursement(uow: SqlUnitOfWork, cmd: EnterDisbursement) -> Disbursement:
    code = cmd.project_code
    project = await uow.session.get(Project, code)
    if project is None:
        raise NotFound(f"项目不存在 (project {code} not found)")
    if project.status != "open":
        raise Conflict(f"项目已结项，不能拨付 (project {code} is closed)")
    taken = await uow.session.scalar(
        select(col(Disbursement.id)).where(col(Disbursement.voucher_no) == cmd.voucher_no)
    )
    if taken is not None:
        raise Conflict(f"凭证号已使用 (voucher {cmd.voucher_no} already recorded: {taken})")
    figures = await project_figures(uow, code)
    if cmd.amount_fen > figures.available_fen:
        raise Conflict(
            f"项目 {code} 可用资金不足：申请 {cmd.amount_fen} 分，可用 {figures.available_fen} 分 "
            f"(exceeds the {figures.available_fen} fen available)",
            details={"available_fen": figures.available_fen},
        )
    disbursement = Disbursement(
        id=uuid7(),
        project_code=code,
        amount_fen=cmd.amount_fen,
        purpose=cmd.purpose,
        recipient_type=cmd.recipient_type,
        recipient_name=cmd.recipient_name,
        recipient_display=cmd.recipient_name
        if cmd.recipient_type == "organization"
        else mask_person(cmd.recipient_name),
        town=cmd.town,
        voucher_no=cmd.voucher_no,
        disbursed_on=cmd.disbursed_on,
        entered_by=cmd.actor,
        created_at=now(),
    )
    uow.session.add(disbursement)
    audit(
        uow.session,
        actor=cmd.actor,
        action="disbursement.enter",
        entity="disbursement",
        entity_id=str(disbursement.id),
        after={
            "project_code": code,
            "amount_fen": cmd.amount_fen,
            "purpose": cmd.purpose,
            "voucher_no": cmd.voucher_no,
            "recipient": disbursement.recipient_display,
        },
    )
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"凭证号已使用 (voucher {cmd.voucher_no} already recorded)") from exc
    return disbursement


async def get_disbursement_for_update(
    uow: SqlUnitOfWork, disbursement_id: uuid.UUID
) -> Disbursement:
    return await lock_row(
        uow,
        Disbursement,
        disbursement_id,
        f"拨付记录不存在 (disbursement {disbursement_id} not found)",
    )


async def approve_disbursement(
    uow: SqlUnitOfWork, cmd: ApproveDisbursement
) -> tuple[Disbursement, list[Allocation]]:
    """Four eyes: a second person approves; the amount is then allocated to gifts."""
    actor = cmd.actor
    await lock_allocations(uow)
    disbursement = await get_disbursement_for_update(uow, cmd.disbursement_id)
    if disbursement.status != "pending":
        raise Conflict(
            f"拨付状态为「{disbursement.status}」，不能审批 "
            f"(cannot approve: disbursement is {disbursement.status})",
            details={"status": disbursement.status},
        )
    if same_subject(disbursement.entered_by, actor):
        raise Forbidden(
            "录入人不能审批自己录入的拨付（双人复核）(four eyes: the person who entered a "
            "disbursement cannot approve it)"
        )
    project = await uow.session.get(Project, disbursement.project_code)
    assert project is not None
    if project.status != "open":
        raise Conflict(f"项目已结项 (project {project.code} is closed)")
    rows = list(
        await uow.session.scalars(
            select(Donation)
            .where(
                col(Donation.kind) == "money",
                col(Donation.status).in_([str(s) for s in FUNDABLE]),
                (col(Donation.project_code).is_(None))
                | (col(Donation.project_code) == project.code),
                col(Donation.amount_fen) > col(Donation.used_fen) + col(Donation.refunded_fen),
            )
            .order_by(col(Donation.received_at), col(Donation.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    funds = [
        Fund(d.id, d.project_code, d.received_at, d.amount_fen - d.used_fen - d.refunded_fen)
        for d in rows
    ]
    try:
        shares = allocate(funds, project.code, disbursement.amount_fen)
    except InsufficientFunds as exc:
        raise Conflict(str(exc), details={"available_fen": exc.available_fen}) from exc
    by_id = {d.id: d for d in rows}
    at = now()
    allocations: list[Allocation] = []
    first_use: list[tuple[Donation, int]] = []
    for share in shares:
        donation = by_id[share.donation_id]
        before = donation.status
        if donation.used_fen == 0:
            first_use.append((donation, share.amount_fen))
        donation.used_fen += share.amount_fen
        donation.status = money_status_after_use(
            donation.status,
            amount_fen=donation.amount_fen - donation.refunded_fen,
            used_fen=donation.used_fen,
        )
        donation.version += 1
        donation.updated_at = at
        status_changed(uow, donation, before)
        allocation = Allocation(
            disbursement_id=disbursement.id,
            donation_id=donation.id,
            amount_fen=share.amount_fen,
            created_at=at,
        )
        uow.session.add(allocation)
        allocations.append(allocation)
    disbursement.status = "approved"
    disbursement.approved_by = actor
    disbursement.approved_at = at
    disbursement.version += 1
    disbursement.updated_at = at
    audit(
        uow.session,
        actor=actor,
        action="disbursement.approve",
        entity="disbursement",
        entity_id=str(disbursement.id),
        before={"status": "pending"},
        after={
            "status": "approved",
            "allocations": [
                {"donation_id": str(s.donation_id), "amount_fen": s.amount_fen} for s in shares
            ],
        },
    )
    await uow.session.flush()
    uow.publish(
        topic=DONATION_EVENTS,
        key=str(disbursement.id),
        type=FUNDS_DISBURSED,
        subject=str(disbursement.id),
        payload=FundsDisbursedV1(
            disbursement_id=disbursement.id,
            project_code=project.code,
            project_name=project.name,
            amount_fen=disbursement.amount_fen,
            purpose=disbursement.purpose,
            recipient_type=disbursement.recipient_type,  # type: ignore[arg-type]
            recipient=disbursement.recipient_display,
            town=disbursement.town,
            voucher_no=disbursement.voucher_no,
            disbursed_on=disbursement.disbursed_on,
            approved_at=at,
            allocations=[
                AllocationShareV1(
                    donation_id=s.donation_id,
                    tracking_code=by_id[s.donation_id].tracking_code,
                    amount_fen=s.amount_fen,
                )
                for s in shares
            ],
        ),
    )
    for donation, used in first_use:
        donor = await uow.session.get(Donor, donation.donor_id)
        assert donor is not None
        receipt_no = await uow.session.scalar(
            select(col(Receipt.receipt_no)).where(
                col(Receipt.donation_id) == donation.id, col(Receipt.voided_at).is_(None)
            )
        )
        request_notice(
            uow,
            donor=donor,
            donation=donation,
            milestone="first_use",
            facts=NoticeFactsV1(
                kind="money",
                amount_fen=donation.amount_fen,
                receipt_no=receipt_no,
                project_code=project.code,
                project_name=project.name,
                used_fen=used,
                purpose=disbursement.purpose,
                disbursed_on=disbursement.disbursed_on,
                destination=disbursement.town,
            ),
        )
    return disbursement, allocations


async def reject_disbursement(uow: SqlUnitOfWork, cmd: RejectDisbursement) -> Disbursement:
    actor, reason = cmd.actor, cmd.reason
    disbursement = await get_disbursement_for_update(uow, cmd.disbursement_id)
    if disbursement.status != "pending":
        raise Conflict(
            f"拨付状态为「{disbursement.status}」，不能驳回 "
            f"(cannot reject: disbursement is {disbursement.status})",
            details={"status": disbursement.status},
        )
    if same_subject(disbursement.entered_by, actor):
        raise Forbidden("录入人不能审批自己录入的拨付 (four eyes: not your own disbursement)")
    disbursement.status = "rejected"
    disbursement.reject_reason = reason
    disbursement.approved_by = actor
    disbursement.approved_at = now()
    disbursement.version += 1
    audit(
        uow.session,
        actor=actor,
        action="disbursement.reject",
        entity="disbursement",
        entity_id=str(disbursement.id),
        before={"status": "pending"},
        after={"status": "rejected", "reason": reason},
    )
    return disbursement


async def update_disbursement(uow: SqlUnitOfWork, cmd: UpdateDisbursement) -> Disbursement:
    """Correct a disbursement while it is still pending (once approved it is allocated and
    published: corrections are new records then)."""
    changes = cmd.changes
    disbursement = await get_disbursement_for_update(uow, cmd.disbursement_id)
    check_version(disbursement.version, cmd.expected_version)
    if disbursement.status != "pending":
        raise Conflict(
            f"拨付状态为「{disbursement.status}」，不能修改 (only a pending disbursement can be "
            f"edited; this one is {disbursement.status})",
            details={"status": disbursement.status},
        )
    if "voucher_no" in changes and changes["voucher_no"] != disbursement.voucher_no:
        taken = await uow.session.scalar(
            select(col(Disbursement.id)).where(
                col(Disbursement.voucher_no) == changes["voucher_no"]
            )
        )
        if taken is not None:
            raise Conflict(f"凭证号已使用 (voucher {changes['voucher_no']} already recorded)")
    if "amount_fen" in changes:
        figures = await project_figures(uow, disbursement.project_code)
        amount = changes["amount_fen"]
        assert isinstance(amount, int)
        if amount > figures.available_fen:
            raise Conflict(
                f"项目 {disbursement.project_code} 可用资金不足：申请 {amount} 分，可用 "
                f"{figures.available_fen} 分 (exceeds the {figures.available_fen} fen available)",
                details={"available_fen": figures.available_fen},
            )
    before = {k: getattr(disbursement, k) for k in changes}
    for key, value in changes.items():
        setattr(disbursement, key, value)
    if "recipient_name" in changes or "recipient_type" in changes:
        disbursement.recipient_display = (
            disbursement.recipient_name
            if disbursement.recipient_type == "organization"
            else mask_person(disbursement.recipient_name)
        )
    disbursement.version += 1
    disbursement.updated_at = now()
    audit(
        uow.session,
        actor=cmd.actor,
        action="disbursement.update",
        entity="disbursement",
        entity_id=str(disbursement.id),
        before=before,
        after=dict(changes),
    )
    await uow.session.flush()
    return disbursement
