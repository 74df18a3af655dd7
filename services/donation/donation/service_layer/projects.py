"""Projects: opening (announced once), editing, closing with the remainder's disclosure date,
and how a closed project's remainder is handled.

A project's money is counted in :mod:`donation.service_layer.funds`; its disbursements and
follow-ups are their own aggregates (:mod:`.disbursements`, :mod:`.follow_ups`).
"""

from __future__ import annotations

import calendar
from datetime import date

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from donation.adapters.orm import Disbursement, Donation, Donor, Project, RemainderDecision
from donation.domain.commands import CloseProject, DecideRemainder, OpenProject, UpdateProject
from donation.domain.model import DonationStatus as S
from donation.service_layer.common import (
    audit,
    check_version,
    local_date,
    lock_row,
    now,
    request_notice,
)
from donation.service_layer.funds import ProjectFigures, project_figures
from donation.service_layer.gifts import lock_allocations, status_changed
from shared.contracts.donation import (
    PROJECT_CLOSED,
    PROJECT_OPENED,
    REMAINDER_DECIDED,
    NoticeFactsV1,
    ProjectClosedV1,
    ProjectOpenedV1,
    RemainderDecidedV1,
)
from shared.errors import Conflict, ValidationFailed
from shared.messaging.topics import DONATION_EVENTS
from shared.uow import SqlUnitOfWork


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def disclosure_due(end: date) -> date:
    """慈善组织信息公开办法: leftover funds disclosed within 3 months of the project's end."""
    return add_months(end, 3)


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


async def open_project(uow: SqlUnitOfWork, cmd: OpenProject) -> Project:
    project = Project(
        code=cmd.code,
        name=cmd.name,
        category=cmd.category,
        town=cmd.town,
        description=cmd.description,
        starts_on=cmd.starts_on,
        ends_on=cmd.ends_on,
        budget_fen=cmd.budget_fen,
        created_at=now(),
        created_by=cmd.actor,
    )
    if await uow.session.get(Project, project.code) is not None:
        raise Conflict(f"项目编号已存在 (project {project.code} already exists)")
    if project.ends_on is not None and project.ends_on < project.starts_on:
        raise ValidationFailed("结束日期早于开始日期 (ends_on is before starts_on)")
    uow.session.add(project)
    announce_project(uow, project)
    audit(
        uow.session,
        actor=cmd.actor,
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


async def update_project(uow: SqlUnitOfWork, cmd: UpdateProject) -> Project:
    code, changes = cmd.code, cmd.changes
    project = await get_project_for_update(uow, code)
    check_version(project.version, cmd.expected_version)
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
        actor=cmd.actor,
        action="project.update",
        entity="project",
        entity_id=code,
        before=before,
        after=dict(changes),
    )
    return project


async def close_project(uow: SqlUnitOfWork, cmd: CloseProject) -> tuple[Project, ProjectFigures]:
    code = cmd.code
    await lock_allocations(uow)
    project = await get_project_for_update(uow, code)
    if cmd.expected_version is not None:  # optional for an action; checked when sent
        check_version(project.version, cmd.expected_version)
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
    closed_on = cmd.closed_on or project.ends_on or local_date(now())
    figures = await project_figures(uow, code)
    project.status = "closed"
    project.closed_on = closed_on
    project.disclosure_due = disclosure_due(closed_on) if figures.remaining_fen > 0 else None
    project.version += 1
    project.updated_at = now()
    audit(
        uow.session,
        actor=cmd.actor,
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


async def decide_remainder(uow: SqlUnitOfWork, cmd: DecideRemainder) -> RemainderDecision:
    code = cmd.code
    project = await get_project_for_update(uow, code)
    if project.status != "closed" or project.closed_on is None:
        raise Conflict(f"项目尚未结项 (project {code} is still open; close it first)")
    if await uow.session.get(RemainderDecision, code) is not None:
        raise Conflict(f"结余处理已登记 (the remainder of {code} was already decided)")
    if cmd.decision == "transfer":
        if not cmd.target_project_code:
            raise ValidationFailed("转入项目必填 (target_project_code is required for transfer)")
        target = await uow.session.get(Project, cmd.target_project_code)
        if target is None or target.status != "open" or target.code == code:
            raise ValidationFailed(
                f"转入项目无效 (target project {cmd.target_project_code} is unknown or not open)"
            )
    figures = await project_figures(uow, code)
    decided = RemainderDecision(
        project_code=code,
        remainder_fen=figures.remaining_fen,
        decision=cmd.decision,
        target_project_code=cmd.target_project_code if cmd.decision == "transfer" else None,
        note=cmd.note,
        disclosure_due=project.disclosure_due or disclosure_due(project.closed_on),
        decided_at=now(),
        decided_by=cmd.actor,
    )
    uow.session.add(decided)
    audit(
        uow.session,
        actor=cmd.actor,
        action="project.remainder",
        entity="project",
        entity_id=code,
        after={
            "decision": cmd.decision,
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
            decision=cmd.decision,  # type: ignore[arg-type]
            target_project_code=decided.target_project_code,
            note=cmd.note,
            disclosure_due=decided.disclosure_due,
            decided_at=decided.decided_at,
        ),
    )
    return decided
