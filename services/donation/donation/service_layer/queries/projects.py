"""Reading projects: one project with its figures and remainder decision, and the list."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from donation.adapters.orm import (
    Donation,
    Project,
    RemainderConsent,
    RemainderDecision,
    RemainderMove,
)
from donation.entrypoints.api.schemas import (
    ConsentOut,
    ProjectFiguresOut,
    ProjectOut,
    ProjectPage,
    RemainderMoveOut,
    RemainderOut,
)
from donation.service_layer.funds import project_figures
from shared.errors import NotFound
from shared.pagination import decode_cursor, encode_cursor
from shared.uow import SqlUnitOfWork


async def project_body(uow: SqlUnitOfWork, code: str) -> dict[str, Any]:
    """The project ``code`` as ``ProjectOut`` JSON, with its figures and remainder."""
    project = await uow.session.get(Project, code)
    if project is None:
        raise NotFound(f"项目不存在 (project {code} not found)")
    figures = await project_figures(uow, code)
    remainder = await uow.session.get(RemainderDecision, code)
    return ProjectOut(
        **project.model_dump(exclude={"announced_at", "updated_at"}),
        figures=ProjectFiguresOut(**figures.__dict__),
        remainder=await remainder_out(uow, remainder) if remainder else None,
    ).model_dump(mode="json")


async def remainder_out(uow: SqlUnitOfWork, decided: RemainderDecision) -> RemainderOut:
    """The decision with what it did to each gift's remaining fen (oldest gift first)."""
    rows = (
        await uow.session.execute(
            select(RemainderMove, col(Donation.tracking_code), col(RemainderConsent.method))
            .join(Donation, col(Donation.id) == col(RemainderMove.donation_id))
            .outerjoin(RemainderConsent, col(RemainderConsent.id) == col(RemainderMove.consent_id))
            .where(col(RemainderMove.project_code) == decided.project_code)
            .order_by(col(Donation.received_at), col(Donation.id))
        )
    ).all()
    out = RemainderOut.model_validate(decided, from_attributes=True)
    out.moves = [
        RemainderMoveOut(
            donation_id=m.donation_id,
            tracking_code=code,
            outcome=m.outcome,  # type: ignore[arg-type]
            to_project_code=m.to_project_code,
            amount_fen=m.amount_fen,
            consent_method=method,
            refund_request_id=m.refund_request_id,
            moved_at=m.moved_at,
        )
        for m, code, method in rows
    ]
    return out


def consent_out(consent: RemainderConsent) -> ConsentOut:
    return ConsentOut.model_validate(consent, from_attributes=True)


async def list_projects(
    uow: SqlUnitOfWork,
    *,
    limit: int,
    cursor: str | None,
    category: str | None,
    status: str | None,
    town: str | None,
    figures: bool,
) -> ProjectPage:
    """A page of projects by code, filtered; each with its figures when ``figures``."""
    query = select(Project)
    if category:
        query = query.where(col(Project.category) == category)
    if status:
        query = query.where(col(Project.status) == status)
    if town:
        query = query.where(col(Project.town) == town)
    if cursor is not None:
        (last,) = decode_cursor(cursor, 1)
        query = query.where(col(Project.code) > str(last))
    query = query.order_by(col(Project.code)).limit(limit + 1)
    rows = list(await uow.session.scalars(query))
    page = rows[:limit]
    items = []
    for p in page:
        item = ProjectOut(**p.model_dump(exclude={"announced_at", "updated_at"}))
        if figures:
            item.figures = ProjectFiguresOut(**(await project_figures(uow, p.code)).__dict__)
        items.append(item)
    next_cursor = encode_cursor(page[-1].code) if len(rows) > limit else None
    return ProjectPage(items=items, next_cursor=next_cursor)
