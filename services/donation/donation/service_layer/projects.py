"""Projects, disbursements with four-eyes approval and allocation, follow-ups, remainders."""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from donation.adapters.orm import (
    Allocation,
    Disbursement,
    Donation,
    Donor,
    FollowUp,
    Project,
    Receipt,
    RemainderDecision,
)
from donation.domain.allocation import Fund, InsufficientFunds, allocate
from donation.domain.lifecycle import FUNDABLE, money_status_after_use
from donation.domain.model import DonationStatus as S
from donation.service_layer.common import (
    audit,
    check_version,
    lock_row,
    mask_person,
    now,
    request_notice,
)
from donation.service_layer.gifts import lock_allocations, status_changed
from shared.contracts.donation import (
    FOLLOW_UP_RECORDED,
    FUNDS_DISBURSED,
    PROJECT_CLOSED,
    PROJECT_OPENED,
    REMAINDER_DECIDED,
    AllocationShareV1,
    FollowUpRecordedV1,
    FundsDisbursedV1,
    NoticeFactsV1,
    ProjectClosedV1,
    ProjectOpenedV1,
    RemainderDecidedV1,
)
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.ids import uuid7
from shared.messaging.topics import DONATION_EVENTS
from shared.subjects import same_subject
from shared.uow import SqlUnitOfWork


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def disclosure_due(end: date) -> date:
    """慈善组织信息公开办法: leftover funds disclosed within 3 months of the project's end."""
    return add_months(end, 3)


@dataclass(frozen=True)
class ProjectFigures:
    designated_fen: int  # designated gifts received, net of refunds
    designated_used_fen: int
    unrestricted_used_fen: int
    used_fen: int
    remaining_fen: int  # designated funds not yet used
    available_fen: int  # what a new disbursement may draw: remaining + unrestricted pool
    pending_fen: int  # disbursements awaiting approval


async def unrestricted_pool(uow: SqlUnitOfWork) -> int:
    value = await uow.session.scalar(
        select(
            func.coalesce(
                func.sum(
                    col(Donation.amount_fen) - col(Donation.used_fen) - col(Donation.refunded_fen)
                ),
                0,
            )
        ).where(
            col(Donation.kind) == "money",
            col(Donation.project_code).is_(None),
            col(Donation.status).in_([str(s) for s in FUNDABLE]),
        )
    )
    return int(value or 0)


async def project_figures(uow: SqlUnitOfWork, code: str) -> ProjectFigures:
    s = uow.session
    live = [str(x) for x in (S.RECEIVED, S.RECEIPTED, S.ALLOCATED, S.USED, S.COMPLETED, S.REFUNDED)]
    designated = await s.scalar(
        select(func.coalesce(func.sum(col(Donation.amount_fen) - col(Donation.refunded_fen)), 0))
        .where(col(Donation.kind) == "money")
        .where(col(Donation.project_code) == code)
        .where(col(Donation.status).in_(live))
    )
    used_rows = (
        await s.execute(
            select(
                col(Donation.project_code).is_(None),
                func.coalesce(func.sum(col(Allocation.amount_fen)), 0),
            )
            .join(Donation, col(Donation.id) == col(Allocation.donation_id))
            .join(Disbursement, col(Disbursement.id) == col(Allocation.disbursement_id))
            .where(col(Disbursement.project_code) == code)
            .group_by(col(Donation.project_code).is_(None))
        )
    ).all()
    unrestricted_used = sum(int(v) for unrestricted, v in used_rows if unrestricted)
    designated_used = sum(int(v) for unrestricted, v in used_rows if not unrestricted)
    pending = await s.scalar(
        select(func.coalesce(func.sum(col(Disbursement.amount_fen)), 0)).where(
            col(Disbursement.project_code) == code, col(Disbursement.status) == "pending"
        )
    )
    remaining = int(designated or 0) - designated_used
    # Only designated funds still fundable (not e.g. completed) count as available.
    fundable_designated = await s.scalar(
        select(
            func.coalesce(
                func.sum(
                    col(Donation.amount_fen) - col(Donation.used_fen) - col(Donation.refunded_fen)
                ),
                0,
            )
        ).where(
            col(Donation.kind) == "money",
            col(Donation.project_code) == code,
            col(Donation.status).in_([str(x) for x in FUNDABLE]),
        )
    )
    return ProjectFigures(
        designated_fen=int(designated or 0),
        designated_used_fen=designated_used,
        unrestricted_used_fen=unrestricted_used,
        used_fen=designated_used + unrestricted_used,
        remaining_fen=remaining,
        available_fen=int(fundable_designated or 0) + await unrestricted_pool(uow),
        pending_fen=int(pending or 0),
    )


def project_opened_payload(project: Project) -> ProjectOpenedV1:
    return ProjectOpenedV1(
        project_code=project.code,
        name=project.name,
        category=project.category,  # type: ignore[arg-type]
        town=project.town,
        description=project.description,
        starts_on=project.starts_on,
        ends_on=project.ends_on,
        budget_fen=project.budget_fen,
        opened_at=project.created_at,
    )


def announce_project(uow: SqlUnitOfWork, project: Project) -> None:
    project.announced_at = now()
    uow.publish(
        topic=DONATION_EVENTS,
        key=project.code,
        type=PROJECT_OPENED,
        subject=project.code,
        payload=project_opened_payload(project),
    )


async def announce_unannounced_projects(uow: SqlUnitOfWork) -> int:
    """Reference projects inserted by a migration are announced once, at start-up."""
    projects = list(
        await uow.session.scalars(
            select(Project).where(col(Project.announced_at).is_(None)).with_for_update()
        )
    )
    for project in projects:
        announce_project(uow, project)
    return len(projects)


async def create_project(uow: SqlUnitOfWork, project: Project, *, actor: str) -> Project:
    if await uow.session.get(Project, project.code) is not None:
        raise Conflict(f"项目编号已存在 (project {project.code} already exists)")
    if project.ends_on is not None and project.ends_on < project.starts_on:
        raise ValidationFailed("结束日期早于开始日期 (ends_on is before starts_on)")
    uow.session.add(project)
    announce_project(uow, project)
    audit(
        uow.session,
        actor=actor,
        action="project.create",
        entity="project",
        entity_id=project.code,
        after=project.model_dump(exclude={"created_at", "announced_at", "updated_at"}),
    )
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"项目编号已存在 (project {project.code} already exists)") from exc
    return project


async def get_project_for_update(uow: SqlUnitOfWork, code: str) -> Project:
    return await lock_row(uow, Project, code, f"项目不存在 (project {code} not found)")


async def update_project(
    uow: SqlUnitOfWork,
    code: str,
    *,
    actor: str,
    expected_version: int | None,
    changes: dict[str, object],
) -> Project:
    project = await get_project_for_update(uow, code)
    check_version(project.version, expected_version)
    if project.status != "open":
        raise Conflict(f"项目已结项，不能修改 (project {code} is closed)")
    before = {k: getattr(project, k) for k in changes}
    for key, value in changes.items():
        setattr(project, key, value)
    if project.ends_on is not None and project.ends_on < project.starts_on:
        raise ValidationFailed("结束日期早于开始日期 (ends_on is before starts_on)")
    project.version += 1
    project.updated_at = now()
    audit(
        uow.session,
        actor=actor,
        action="project.update",
        entity="project",
        entity_id=code,
        before=before,
        after=dict(changes),
    )
    return project


async def close_project(
    uow: SqlUnitOfWork, code: str, *, actor: str, closed_on: date, expected_version: int | None
) -> tuple[Project, ProjectFigures]:
    await lock_allocations(uow)
    project = await get_project_for_update(uow, code)
    if expected_version is not None:  # optional for an action; checked when sent
        check_version(project.version, expected_version)
    if project.status != "open":
        raise Conflict(f"项目已结项 (project {code} is already closed)")
    pending = await uow.session.scalar(
        select(func.count()).where(
            col(Disbursement.project_code) == code, col(Disbursement.status) == "pending"
        )
    )
    if pending:
        raise Conflict(
            f"项目还有 {pending} 笔待审批拨付 (approve or reject the pending disbursements first)"
        )
    figures = await project_figures(uow, code)
    project.status = "closed"
    project.closed_on = closed_on
    project.disclosure_due = disclosure_due(closed_on) if figures.remaining_fen > 0 else None
    project.version += 1
    project.updated_at = now()
    audit(
        uow.session,
        actor=actor,
        action="project.close",
        entity="project",
        entity_id=code,
        before={"status": "open"},
        after={
            "status": "closed",
            "closed_on": closed_on,
            "remainder_fen": figures.remaining_fen,
            "disclosure_due": project.disclosure_due,
        },
    )
    uow.publish(
        topic=DONATION_EVENTS,
        key=code,
        type=PROJECT_CLOSED,
        subject=code,
        payload=ProjectClosedV1(
            project_code=code,
            name=project.name,
            closed_on=closed_on,
            received_fen=figures.designated_fen + figures.unrestricted_used_fen,
            used_fen=figures.used_fen,
            remainder_fen=figures.remaining_fen,
            disclosure_due=project.disclosure_due,
            closed_at=now(),
        ),
    )
    # Gifts fully used by this project are now complete; their donors hear of it.
    gifts = list(
        await uow.session.execute(
            select(Donation, Donor)
            .join(Donor, col(Donor.id) == col(Donation.donor_id))
            .where(col(Donation.project_code) == code, col(Donation.status) == S.USED)
        )
    )
    for donation, donor in gifts:
        before = donation.status
        donation.status = S.COMPLETED
        donation.version += 1
        donation.updated_at = now()
        status_changed(uow, donation, before)
        request_notice(
            uow,
            donor=donor,
            donation=donation,
            milestone="project_completed",
            facts=NoticeFactsV1(
                kind="money",
                amount_fen=donation.amount_fen,
                project_code=code,
                project_name=project.name,
                used_fen=donation.used_fen,
            ),
        )
    return project, figures


async def decide_remainder(
    uow: SqlUnitOfWork,
    code: str,
    *,
    actor: str,
    decision: str,
    target_project_code: str | None,
    note: str,
) -> RemainderDecision:
    project = await get_project_for_update(uow, code)
    if project.status != "closed" or project.closed_on is None:
        raise Conflict(f"项目尚未结项 (project {code} is still open; close it first)")
    if await uow.session.get(RemainderDecision, code) is not None:
        raise Conflict(f"结余处理已登记 (the remainder of {code} was already decided)")
    if decision == "transfer":
        if not target_project_code:
            raise ValidationFailed("转入项目必填 (target_project_code is required for transfer)")
        target = await uow.session.get(Project, target_project_code)
        if target is None or target.status != "open" or target.code == code:
            raise ValidationFailed(
                f"转入项目无效 (target project {target_project_code} is unknown or not open)"
            )
    figures = await project_figures(uow, code)
    decided = RemainderDecision(
        project_code=code,
        remainder_fen=figures.remaining_fen,
        decision=decision,
        target_project_code=target_project_code if decision == "transfer" else None,
        note=note,
        disclosure_due=project.disclosure_due or disclosure_due(project.closed_on),
        decided_at=now(),
        decided_by=actor,
    )
    uow.session.add(decided)
    audit(
        uow.session,
        actor=actor,
        action="project.remainder",
        entity="project",
        entity_id=code,
        after={
            "decision": decision,
            "remainder_fen": decided.remainder_fen,
            "target_project_code": decided.target_project_code,
            "disclosure_due": decided.disclosure_due,
        },
    )
    uow.publish(
        topic=DONATION_EVENTS,
        key=code,
        type=REMAINDER_DECIDED,
        subject=code,
        payload=RemainderDecidedV1(
            project_code=code,
            remainder_fen=decided.remainder_fen,
            decision=decision,  # type: ignore[arg-type]
            target_project_code=decided.target_project_code,
            note=note,
            disclosure_due=decided.disclosure_due,
            decided_at=decided.decided_at,
        ),
    )
    return decided


async def enter_disbursement(
    uow: SqlUnitOfWork,
    code: str,
    *,
    actor: str,
    amount_fen: int,
    purpose: str,
    recipient_type: str,
    recipient_name: str,
    town: str | None,
    voucher_no: str,
    disbursed_on: date,
) -> Disbursement:
    project = await uow.session.get(Project, code)
    if project is None:
        raise NotFound(f"项目不存在 (project {code} not found)")
    if project.status != "open":
        raise Conflict(f"项目已结项，不能拨付 (project {code} is closed)")
    taken = await uow.session.scalar(
        select(col(Disbursement.id)).where(col(Disbursement.voucher_no) == voucher_no)
    )
    if taken is not None:
        raise Conflict(f"凭证号已使用 (voucher {voucher_no} already recorded: {taken})")
    figures = await project_figures(uow, code)
    if amount_fen > figures.available_fen:
        raise Conflict(
            f"项目 {code} 可用资金不足：申请 {amount_fen} 分，可用 {figures.available_fen} 分 "
            f"(exceeds the {figures.available_fen} fen available)",
            details={"available_fen": figures.available_fen},
        )
    disbursement = Disbursement(
        id=uuid7(),
        project_code=code,
        amount_fen=amount_fen,
        purpose=purpose,
        recipient_type=recipient_type,
        recipient_name=recipient_name,
        recipient_display=recipient_name
        if recipient_type == "organization"
        else mask_person(recipient_name),
        town=town,
        voucher_no=voucher_no,
        disbursed_on=disbursed_on,
        entered_by=actor,
        created_at=now(),
    )
    uow.session.add(disbursement)
    audit(
        uow.session,
        actor=actor,
        action="disbursement.enter",
        entity="disbursement",
        entity_id=str(disbursement.id),
        after={
            "project_code": code,
            "amount_fen": amount_fen,
            "purpose": purpose,
            "voucher_no": voucher_no,
            "recipient": disbursement.recipient_display,
        },
    )
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"凭证号已使用 (voucher {voucher_no} already recorded)") from exc
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
    uow: SqlUnitOfWork, disbursement_id: uuid.UUID, *, actor: str
) -> tuple[Disbursement, list[Allocation]]:
    """Four eyes: a second person approves; the amount is then allocated to gifts."""
    await lock_allocations(uow)
    disbursement = await get_disbursement_for_update(uow, disbursement_id)
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


async def reject_disbursement(
    uow: SqlUnitOfWork, disbursement_id: uuid.UUID, *, actor: str, reason: str
) -> Disbursement:
    disbursement = await get_disbursement_for_update(uow, disbursement_id)
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


async def record_follow_up(
    uow: SqlUnitOfWork,
    *,
    actor: str,
    disbursement_id: uuid.UUID | None,
    donation_id: uuid.UUID | None,
    visited_on: date,
    summary: str,
    town: str | None,
    visitor: str,
) -> FollowUp:
    if (disbursement_id is None) == (donation_id is None):
        raise ValidationFailed(
            "回访须针对一笔拨付或一笔捐赠 (give exactly one of disbursement_id, donation_id)"
        )
    project_code: str | None = None
    if disbursement_id is not None:
        disbursement = await uow.session.get(Disbursement, disbursement_id)
        if disbursement is None:
            raise NotFound(f"拨付记录不存在 (disbursement {disbursement_id} not found)")
        if disbursement.status != "approved":
            raise Conflict(
                f"拨付状态为「{disbursement.status}」，不能回访 (disbursement is "
                f"{disbursement.status})",
                details={"status": disbursement.status},
            )
        project_code = disbursement.project_code
        town = town or disbursement.town
    else:
        donation = await uow.session.get(Donation, donation_id)
        if donation is None:
            raise NotFound(f"捐赠记录不存在 (donation {donation_id} not found)")
        project_code = donation.project_code
    follow_up = FollowUp(
        id=uuid7(),
        disbursement_id=disbursement_id,
        donation_id=donation_id,
        project_code=project_code,
        visited_on=visited_on,
        summary=summary,
        town=town,
        visitor=visitor,
        created_at=now(),
        created_by=actor,
    )
    uow.session.add(follow_up)
    audit(
        uow.session,
        actor=actor,
        action="follow_up.record",
        entity="follow_up",
        entity_id=str(follow_up.id),
        after={
            "disbursement_id": disbursement_id,
            "donation_id": donation_id,
            "visited_on": visited_on,
            "summary": summary,
        },
    )
    key = str(disbursement_id or donation_id)
    uow.publish(
        topic=DONATION_EVENTS,
        key=key,
        type=FOLLOW_UP_RECORDED,
        subject=key,
        payload=FollowUpRecordedV1(
            follow_up_id=follow_up.id,
            disbursement_id=disbursement_id,
            donation_id=donation_id,
            project_code=project_code,
            visited_on=visited_on,
            summary=summary,
            town=town,
            recorded_at=follow_up.created_at,
        ),
    )
    await uow.session.flush()
    return follow_up


async def update_disbursement(
    uow: SqlUnitOfWork,
    disbursement_id: uuid.UUID,
    *,
    actor: str,
    expected_version: int | None,
    changes: dict[str, object],
) -> Disbursement:
    """Correct a disbursement while it is still pending (once approved it is allocated and
    published: corrections are new records then)."""
    disbursement = await get_disbursement_for_update(uow, disbursement_id)
    check_version(disbursement.version, expected_version)
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
        actor=actor,
        action="disbursement.update",
        entity="disbursement",
        entity_id=str(disbursement.id),
        before=before,
        after=dict(changes),
    )
    await uow.session.flush()
    return disbursement
