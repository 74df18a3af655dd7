"""Projects: opening (announced once), editing, closing with the remainder's disclosure date,
and how a closed project's remainder is handled.

A project's money is counted in :mod:`donation.service_layer.funds`; its disbursements and
follow-ups are their own aggregates (:mod:`.disbursements`, :mod:`.follow_ups`).
"""

from __future__ import annotations

import calendar
import uuid
from datetime import date

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from donation.adapters.orm import (
    Disbursement,
    Donation,
    Donor,
    Organisation,
    Project,
    RemainderConsent,
    RemainderDecision,
    RemainderMove,
)
from donation.domain.allocation import Remnant, needs_second_person, plan_remainder
from donation.domain.commands import (
    CloseProject,
    DecideRemainder,
    OpenProject,
    RecordRemainderConsent,
    UpdateProject,
)
from donation.domain.lifecycle import FUNDABLE
from donation.domain.model import DonationStatus as S
from donation.service_layer.common import (
    audit,
    check_version,
    local_date,
    lock_row,
    now,
    request_notice,
)
from donation.service_layer.funds import ProjectFigures, holder, project_figures
from donation.service_layer.gifts import (
    book_refund,
    lock_allocations,
    request_refund,
    status_changed,
)
from donation.service_layer.incidents import require_incident
from shared.contracts.donation import (
    PROJECT_CLOSED,
    PROJECT_OPENED,
    REMAINDER_DECIDED,
    REMAINDER_TRANSFERRED,
    NoticeFactsV1,
    ProjectClosedV1,
    ProjectOpenedV1,
    RemainderDecidedV1,
    RemainderTransferredV1,
)
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import uuid7
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
        incident_code=project.incident_code,
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
        org_code=cmd.org_code,
        incident_code=await require_incident(uow, cmd.incident_code),
        created_at=now(),
        created_by=cmd.actor,
    )
    organisation = await uow.session.get(Organisation, cmd.org_code)
    if organisation is None or not organisation.active:
        raise ValidationFailed(
            f"机构不存在或已停用 (organisation {cmd.org_code} is unknown or inactive)"
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
    if "incident_code" in changes:
        code_given = changes["incident_code"]
        await require_incident(uow, code_given if isinstance(code_given, str) else None)
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
            received_fen=figures.designated_fen
            + figures.transferred_in_fen
            + figures.unrestricted_used_fen,
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
            .where(holder() == code, col(Donation.status) == S.USED)
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
    """Record the decision and execute it: ``transfer`` moves each gift's remaining fen whose
    donor consented (the others wait, listed); ``return_to_donors`` refunds each gift's
    remaining fen (above the four-eyes threshold the refund awaits a second person)."""
    code = cmd.code
    await lock_allocations(uow)
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
    await uow.session.flush()
    await _execute(uow, project, decided, cmd)
    return decided


async def _remnants(uow: SqlUnitOfWork, code: str) -> list[Donation]:
    """The money gifts whose unused fen are held by project ``code``, locked, oldest first."""
    return list(
        await uow.session.scalars(
            select(Donation)
            .where(
                col(Donation.kind) == "money",
                holder() == code,
                col(Donation.status).in_([str(s) for s in FUNDABLE]),
                col(Donation.amount_fen) > col(Donation.used_fen) + col(Donation.refunded_fen),
            )
            .order_by(col(Donation.received_at), col(Donation.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


async def _consents(uow: SqlUnitOfWork, code: str) -> dict[uuid.UUID, RemainderConsent]:
    rows = await uow.session.scalars(
        select(RemainderConsent).where(col(RemainderConsent.project_code) == code)
    )
    return {c.donation_id: c for c in rows}


def _left(donation: Donation) -> int:
    return donation.amount_fen - donation.used_fen - donation.refunded_fen


async def execute_remainder(
    uow: SqlUnitOfWork, code: str, *, actor: str, refund_four_eyes_fen: int | None = None
) -> int:
    """Execute a decision recorded before decisions were executed: for each gift it has not
    handled yet, as :func:`decide_remainder` does (idempotent). How many gifts it handled."""
    await lock_allocations(uow)
    project = await get_project_for_update(uow, code)
    decided = await uow.session.get(RemainderDecision, code)
    if decided is None:
        raise NotFound(f"结余处理尚未登记 (no remainder decision for {code})")
    command = DecideRemainder(
        code=code,
        actor=actor,
        decision=decided.decision,
        note=decided.note,
        target_project_code=decided.target_project_code,
        refund_four_eyes_fen=refund_four_eyes_fen,
    )
    return await _execute(uow, project, decided, command)


async def _execute(
    uow: SqlUnitOfWork, project: Project, decided: RemainderDecision, cmd: DecideRemainder
) -> int:
    handled = set(
        await uow.session.scalars(
            select(col(RemainderMove.donation_id)).where(
                col(RemainderMove.project_code) == project.code
            )
        )
    )
    gifts = [g for g in await _remnants(uow, project.code) if g.id not in handled]
    consents = await _consents(uow, project.code)
    by_id = {g.id: g for g in gifts}
    plan = plan_remainder(
        [Remnant(g.id, _left(g), g.id in consents) for g in gifts], decided.decision
    )
    target = (
        await uow.session.get(Project, decided.target_project_code)
        if decided.target_project_code
        else None
    )
    if (
        target is not None
        and target.status != "open"
        and any(m.outcome == "transfer" for m in plan)
    ):
        raise Conflict(f"转入项目 {target.code} 已结项，无法转入 (the target project is closed)")
    for move in plan:
        donation = by_id[move.donation_id]
        row = RemainderMove(
            id=uuid7(),
            project_code=project.code,
            donation_id=donation.id,
            outcome="waiting",
            amount_fen=move.amount_fen,
            created_at=now(),
            created_by=cmd.actor,
        )
        uow.session.add(row)
        if move.outcome == "transfer":
            assert target is not None
            transfer(uow, row, donation, project, target, consents[donation.id])
        elif move.outcome == "refund":
            reason = f"项目结余退还捐赠人（{project.name}）"[:500]
            if needs_second_person(move.amount_fen, cmd.refund_four_eyes_fen):
                await uow.session.flush()
                await request_refund(
                    uow, donation, move.amount_fen, reason, cmd.actor, source="remainder"
                )
            else:
                await uow.session.flush()
                await book_refund(uow, donation, move.amount_fen, reason=reason, actor=cmd.actor)
    await uow.session.flush()
    return len(plan)


def transfer(
    uow: SqlUnitOfWork,
    row: RemainderMove,
    donation: Donation,
    source: Project,
    target: Project,
    consent: RemainderConsent,
) -> None:
    """Move what is left of ``donation`` from ``source`` to ``target`` (its donor consented):
    the fen are fundable there from now on, traceable to the gift and this move."""
    at = now()
    row.outcome = "transferred"
    row.to_project_code = target.code
    row.consent_id = consent.id
    row.amount_fen = _left(donation)
    row.moved_at = at
    donation.moved_to_project_code = target.code
    donation.version += 1
    donation.updated_at = at
    audit(
        uow.session,
        actor=row.created_by,
        action="project.remainder.transfer",
        entity="donation",
        entity_id=str(donation.id),
        before={"holder": source.code},
        after={
            "holder": target.code,
            "amount_fen": row.amount_fen,
            "consent_id": consent.id,
            "move_id": row.id,
        },
    )
    uow.publish(
        topic=DONATION_EVENTS,
        key=str(donation.id),
        type=REMAINDER_TRANSFERRED,
        subject=str(donation.id),
        payload=RemainderTransferredV1(
            donation_id=donation.id,
            tracking_code=donation.tracking_code,
            from_project_code=source.code,
            from_project_name=source.name,
            to_project_code=target.code,
            to_project_name=target.name,
            amount_fen=row.amount_fen,
            consent=consent.method,  # type: ignore[arg-type]
            transferred_at=at,
        ),
    )


async def record_consent(uow: SqlUnitOfWork, cmd: RecordRemainderConsent) -> RemainderConsent:
    """A donor's consent that their gift's remainder moves out of the closed project. Recorded
    before the decision, it is used when the decision is taken; after a ``transfer`` decision
    the gift (waiting) moves at once."""
    code = cmd.code
    await lock_allocations(uow)
    project = await get_project_for_update(uow, code)
    donation = await uow.session.scalar(
        select(Donation)
        .where(col(Donation.id) == cmd.donation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if donation is None:
        raise NotFound(f"捐赠记录不存在 (donation {cmd.donation_id} not found)")
    held_by = donation.moved_to_project_code or donation.project_code
    if donation.kind != "money" or held_by != code:
        raise ValidationFailed(
            f"该捐赠不是定向本项目的资金 (the gift is not money held by project {code})"
        )
    if await uow.session.scalar(
        select(col(RemainderConsent.id)).where(
            col(RemainderConsent.project_code) == code,
            col(RemainderConsent.donation_id) == donation.id,
        )
    ):
        raise Conflict(f"该捐赠人的同意已登记 (consent for this gift in {code} already recorded)")
    consent = RemainderConsent(
        id=uuid7(),
        project_code=code,
        donation_id=donation.id,
        method=cmd.method,
        obtained_by=cmd.obtained_by,
        obtained_at=cmd.obtained_at,
        note=cmd.note,
        recorded_at=now(),
        recorded_by=cmd.actor,
    )
    uow.session.add(consent)
    audit(
        uow.session,
        actor=cmd.actor,
        action="project.remainder.consent",
        entity="donation",
        entity_id=str(donation.id),
        after={
            "project_code": code,
            "method": cmd.method,
            "obtained_by": cmd.obtained_by,
            "obtained_at": cmd.obtained_at,
        },
    )
    await uow.session.flush()
    decided = await uow.session.get(RemainderDecision, code)
    waiting = await uow.session.scalar(
        select(RemainderMove)
        .where(
            col(RemainderMove.project_code) == code,
            col(RemainderMove.donation_id) == donation.id,
            col(RemainderMove.outcome) == "waiting",
        )
        .with_for_update()
    )
    if decided is not None and decided.decision == "transfer" and waiting is not None:
        assert decided.target_project_code is not None
        target = await uow.session.get(Project, decided.target_project_code)
        if target is None or target.status != "open":
            raise Conflict(
                f"转入项目 {decided.target_project_code} 已结项，无法转入 (the target project is "
                "closed; return the money to the donor instead)"
            )
        if donation.status in FUNDABLE and _left(donation) > 0:
            transfer(uow, waiting, donation, project, target, consent)
    return consent
