"""Disbursements: entered by one staff account, approved or rejected by another (four eyes,
compared as one subject: ``shared.subjects.same_subject``); approval allocates the amount to
the gifts that fund it (the project's designated gifts first, then the unrestricted pool) and
tells donors of a first use. A pending disbursement can be corrected.

An approved disbursement is never edited: it is reversed, or corrected (reversed and replaced
by a new disbursement), by a new entry (``disbursement_reversals``) that one account enters and
another approves. Approving it gives every gift its fen back (``allocation_releases``), marks
the original ``reversed`` and, for a correction, approves and allocates the replacement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import exists
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from donation.adapters.orm import (
    Allocation,
    AllocationRelease,
    Disbursement,
    DisbursementReversal,
    Donation,
    Donor,
    Project,
    Receipt,
    RefundRequest,
)
from donation.domain.allocation import Fund, InsufficientFunds, allocate
from donation.domain.commands import (
    ApproveDisbursement,
    ApproveReversal,
    EnterDisbursement,
    RejectDisbursement,
    RejectReversal,
    ReverseDisbursement,
    UpdateDisbursement,
)
from donation.domain.follow_up_plan import DEFAULT_RULES, FollowUpRule
from donation.domain.lifecycle import (
    FUNDABLE,
    money_status_after_release,
    money_status_after_use,
)
from donation.service_layer.common import (
    audit,
    check_version,
    lock_row,
    mask_person,
    now,
    request_notice,
)
from donation.service_layer.follow_up_visits import cancel_open_visits, plan_after_approval
from donation.service_layer.funds import holder, project_figures
from donation.service_layer.gifts import lock_allocations, status_changed
from donation.service_layer.incidents import incident_of, require_incident
from donation.service_layer.recipients import name_recipients
from shared.contracts.donation import (
    DISBURSEMENT_REVERSED,
    FUNDS_DISBURSED,
    AllocationShareV1,
    DisbursementReversedV1,
    FundsDisbursedV1,
    NoticeFactsV1,
)
from shared.errors import Conflict, Forbidden, NotFound
from shared.ids import uuid7
from shared.messaging.topics import DONATION_EVENTS
from shared.subjects import same_subject
from shared.uow import SqlUnitOfWork


async def enter_disbursement(
    uow: SqlUnitOfWork, cmd: EnterDisbursement, *, released_fen: int = 0
) -> Disbursement:
    """``released_fen``: what a correction's reversal gives back when approved (available to
    its replacement)."""
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
    available = figures.available_fen + released_fen
    if cmd.amount_fen > available:
        raise Conflict(
            f"项目 {code} 可用资金不足：申请 {cmd.amount_fen} 分，可用 {available} 分 "
            f"(exceeds the {available} fen available)",
            details={"available_fen": available},
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
        incident_code=incident_of(
            await require_incident(uow, cmd.incident_code), project.incident_code
        ),
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
            "recipients": [
                {"recipient_id": str(r.recipient_id), "amount_fen": r.amount_fen}
                for r in cmd.recipients
            ],
        },
    )
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"凭证号已使用 (voucher {cmd.voucher_no} already recorded)") from exc
    if cmd.recipients:
        await name_recipients(uow, disbursement, cmd.recipients)
        await uow.session.flush()
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
    uow: SqlUnitOfWork,
    cmd: ApproveDisbursement,
    *,
    replacing: bool = False,
    follow_up_rules: Sequence[FollowUpRule] = DEFAULT_RULES,
) -> tuple[Disbursement, list[Allocation]]:
    """Four eyes: a second person approves; the amount is then allocated to gifts, and the
    follow-up visits its project's rule makes due are planned. A correction's replacement is
    approved only with its reversal (``replacing``)."""
    actor = cmd.actor
    await lock_allocations(uow)
    disbursement = await get_disbursement_for_update(uow, cmd.disbursement_id)
    if disbursement.status != "pending":
        raise Conflict(
            f"拨付状态为「{disbursement.status}」，不能审批 "
            f"(cannot approve: disbursement is {disbursement.status})",
            details={"status": disbursement.status},
        )
    if disbursement.corrects_id is not None and not replacing:
        raise Conflict(
            "更正后的拨付随冲销一并审批 (a correction's replacement is approved with its "
            "reversal: approve the reversal)",
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
                (col(Donation.project_code).is_(None)) | (holder() == project.code),
                col(Donation.amount_fen) > col(Donation.used_fen) + col(Donation.refunded_fen),
                # a refund awaiting its second person keeps the gift's fen
                ~exists().where(
                    col(RefundRequest.donation_id) == col(Donation.id),
                    col(RefundRequest.status) == "pending",
                ),
            )
            .order_by(col(Donation.received_at), col(Donation.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    funds = [
        Fund(
            d.id,
            d.moved_to_project_code or d.project_code,
            d.received_at,
            d.amount_fen - d.used_fen - d.refunded_fen,
        )
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
    disbursement.repeat_acknowledged = cmd.repeat_acknowledged
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
            "repeat_acknowledged": cmd.repeat_acknowledged,
        },
    )
    await uow.session.flush()
    await plan_after_approval(
        uow.session,
        project=project,
        disbursement_id=disbursement.id,
        disbursed_on=disbursement.disbursed_on,
        approved_at=at,
        town=disbursement.town,
        rules=follow_up_rules,
    )
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
            incident_code=disbursement.incident_code,
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


# --- reversal and correction of an approved disbursement -----------------------------------


async def _reversal_for_update(uow: SqlUnitOfWork, reversal_id: uuid.UUID) -> DisbursementReversal:
    reversal = await lock_row(
        uow,
        DisbursementReversal,
        reversal_id,
        f"冲销记录不存在 (reversal {reversal_id} not found)",
    )
    if reversal.status != "pending":
        raise Conflict(
            f"冲销状态为「{reversal.status}」，不能审批 (the reversal is {reversal.status})",
            details={"status": reversal.status},
        )
    return reversal


async def _reversible(uow: SqlUnitOfWork, disbursement: Disbursement) -> Project:
    if disbursement.status != "approved":
        raise Conflict(
            f"拨付状态为「{disbursement.status}」，只能冲销已审批的拨付 (only an approved "
            f"disbursement can be reversed; this one is {disbursement.status})",
            details={"status": disbursement.status},
        )
    project = await uow.session.get(Project, disbursement.project_code)
    assert project is not None
    if project.status != "open":
        raise Conflict(
            f"项目已结项，不能冲销 (project {project.code} is closed: its figures are final)",
            details={"status": disbursement.status},
        )
    return project


async def reverse_disbursement(
    uow: SqlUnitOfWork, cmd: ReverseDisbursement
) -> DisbursementReversal:
    """Enter a reversal (or, with a replacement, a correction) of an approved disbursement;
    nothing changes until another account approves it."""
    original = await get_disbursement_for_update(uow, cmd.disbursement_id)
    await _reversible(uow, original)
    live = await uow.session.scalar(
        select(col(DisbursementReversal.id)).where(
            col(DisbursementReversal.disbursement_id) == original.id,
            col(DisbursementReversal.status) != "rejected",
        )
    )
    if live is not None:
        raise Conflict(
            f"该拨付已有冲销记录 {live} (a reversal of this disbursement is already recorded)",
            details={"status": original.status, "reversal_id": str(live)},
        )
    replacement = None
    if cmd.replacement is not None:
        if cmd.replacement.project_code != original.project_code:
            raise Conflict("更正只能在原项目内 (a correction stays in the original project)")
        replacement = await enter_disbursement(
            uow, cmd.replacement, released_fen=original.amount_fen
        )
        replacement.corrects_id = original.id
    reversal = DisbursementReversal(
        id=uuid7(),
        disbursement_id=original.id,
        kind="correction" if replacement is not None else "reversal",
        replacement_id=replacement.id if replacement is not None else None,
        reason=cmd.reason,
        entered_by=cmd.actor,
        created_at=now(),
    )
    uow.session.add(reversal)
    audit(
        uow.session,
        actor=cmd.actor,
        action=f"disbursement.{reversal.kind}.enter",
        entity="disbursement",
        entity_id=str(original.id),
        after={
            "reversal_id": reversal.id,
            "reason": cmd.reason,
            "replacement_id": reversal.replacement_id,
        },
    )
    await uow.session.flush()
    return reversal


async def approve_reversal(
    uow: SqlUnitOfWork,
    cmd: ApproveReversal,
    *,
    follow_up_rules: Sequence[FollowUpRule] = DEFAULT_RULES,
) -> DisbursementReversal:
    """Four eyes: not the account that entered the reversal. Every gift that funded the
    original gets its fen back and its visits not yet made are cancelled; a correction's
    replacement is then approved and allocated (and plans its own visits)."""
    await lock_allocations(uow)
    reversal = await _reversal_for_update(uow, cmd.reversal_id)
    if same_subject(reversal.entered_by, cmd.actor):
        raise Forbidden(
            "录入人不能审批自己录入的冲销（双人复核）(four eyes: the person who entered a "
            "reversal cannot approve it)"
        )
    original = await get_disbursement_for_update(uow, reversal.disbursement_id)
    project = await _reversible(uow, original)
    allocations = list(
        await uow.session.scalars(
            select(Allocation)
            .where(col(Allocation.disbursement_id) == original.id)
            .order_by(col(Allocation.id))
        )
    )
    at = now()
    released: list[AllocationShareV1] = []
    for allocation in allocations:
        donation = await lock_row(
            uow, Donation, allocation.donation_id, f"捐赠不存在 ({allocation.donation_id})"
        )
        if donation.status not in FUNDABLE and donation.status not in ("used", "completed"):
            raise Conflict(
                f"资助该拨付的捐赠状态为「{donation.status}」，其资金无法退回 (a gift that funded "
                f"it is {donation.status} now: its fen could not be used again)",
                details={"status": original.status, "donation_id": str(donation.id)},
            )
        receipted = (
            await uow.session.scalar(
                select(col(Receipt.id)).where(
                    col(Receipt.donation_id) == donation.id, col(Receipt.voided_at).is_(None)
                )
            )
            is not None
        )
        before = donation.status
        donation.used_fen -= allocation.amount_fen
        donation.status = money_status_after_release(
            donation.status, used_fen=donation.used_fen, receipted=receipted
        )
        donation.version += 1
        donation.updated_at = at
        status_changed(uow, donation, before)
        uow.session.add(
            AllocationRelease(
                reversal_id=reversal.id,
                disbursement_id=original.id,
                donation_id=donation.id,
                amount_fen=allocation.amount_fen,
                created_at=at,
            )
        )
        released.append(
            AllocationShareV1(
                donation_id=donation.id,
                tracking_code=donation.tracking_code,
                amount_fen=allocation.amount_fen,
            )
        )
    original.status = "reversed"
    original.version += 1
    original.updated_at = at
    await cancel_open_visits(
        uow.session,
        original.id,
        reason=f"拨付已{'更正' if reversal.kind == 'correction' else '冲销'}：{reversal.reason}",
    )
    reversal.status = "approved"
    reversal.approved_by = cmd.actor
    reversal.approved_at = at
    reversal.version += 1
    audit(
        uow.session,
        actor=cmd.actor,
        action=f"disbursement.{reversal.kind}.approve",
        entity="disbursement",
        entity_id=str(original.id),
        before={"status": "approved"},
        after={
            "status": "reversed",
            "reversal_id": reversal.id,
            "released": [
                {"donation_id": str(r.donation_id), "amount_fen": r.amount_fen} for r in released
            ],
        },
    )
    await uow.session.flush()
    uow.publish(
        topic=DONATION_EVENTS,
        key=str(original.id),
        type=DISBURSEMENT_REVERSED,
        subject=str(original.id),
        payload=DisbursementReversedV1(
            reversal_id=reversal.id,
            disbursement_id=original.id,
            kind=reversal.kind,  # type: ignore[arg-type]
            project_code=project.code,
            project_name=project.name,
            amount_fen=original.amount_fen,
            recipient_type=original.recipient_type,  # type: ignore[arg-type]
            voucher_no=original.voucher_no,
            town=original.town,
            reason=reversal.reason,
            replacement_disbursement_id=reversal.replacement_id,
            released=released,
            reversed_at=at,
        ),
    )
    if reversal.replacement_id is not None:
        await approve_disbursement(
            uow,
            ApproveDisbursement(disbursement_id=reversal.replacement_id, actor=cmd.actor),
            replacing=True,
            follow_up_rules=follow_up_rules,
        )
    return reversal


async def reject_reversal(uow: SqlUnitOfWork, cmd: RejectReversal) -> DisbursementReversal:
    reversal = await _reversal_for_update(uow, cmd.reversal_id)
    if same_subject(reversal.entered_by, cmd.actor):
        raise Forbidden("录入人不能审批自己录入的冲销 (four eyes: not your own reversal)")
    at = now()
    reversal.status = "rejected"
    reversal.reject_reason = cmd.reason
    reversal.approved_by = cmd.actor
    reversal.approved_at = at
    reversal.version += 1
    if reversal.replacement_id is not None:
        replacement = await get_disbursement_for_update(uow, reversal.replacement_id)
        replacement.status = "rejected"
        replacement.reject_reason = cmd.reason
        replacement.approved_by = cmd.actor
        replacement.approved_at = at
        replacement.version += 1
    audit(
        uow.session,
        actor=cmd.actor,
        action=f"disbursement.{reversal.kind}.reject",
        entity="disbursement",
        entity_id=str(reversal.disbursement_id),
        before={"reversal_id": reversal.id, "status": "pending"},
        after={"status": "rejected", "reason": cmd.reason},
    )
    return reversal
