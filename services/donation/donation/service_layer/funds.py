"""What a project's money comes to: designated gifts received, what is used of them and of the
unrestricted pool, what remains, what a new disbursement may draw, what awaits approval.

Both write sides (closing a project, entering or correcting a disbursement) and the read side
(a project's figures) count it the same way, here.

A closed project's remainder that moved to another project (``remainder_moves``, outcome
``transferred``) leaves the one (``transferred_out_fen``) and arrives at the other
(``transferred_in_fen``); a moved gift's fen are fundable in the project it moved to
(``donations.moved_to_project_code``), and a refund of it counts there. A reversed
disbursement's allocations no longer count as used.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select

from donation.adapters.orm import Allocation, Disbursement, Donation, RemainderMove
from donation.domain.lifecycle import FUNDABLE
from donation.domain.model import DonationStatus as S
from shared.uow import SqlUnitOfWork


@dataclass(frozen=True)
class ProjectFigures:
    designated_fen: int  # designated gifts received, net of refunds
    designated_used_fen: int
    unrestricted_used_fen: int
    used_fen: int
    remaining_fen: int  # designated funds not yet used
    available_fen: int  # what a new disbursement may draw: remaining + unrestricted pool
    pending_fen: int  # disbursements awaiting approval
    transferred_in_fen: int = 0  # closed projects' remainders moved here, net of refunds
    transferred_out_fen: int = 0  # this closed project's remainder moved elsewhere


def holder() -> ColumnElement[str]:
    """The project a designated gift's unused fen belong to: where its remainder moved, else
    its designation."""
    return func.coalesce(col(Donation.moved_to_project_code), col(Donation.project_code))


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
    # a moved gift's refund counts where it moved to (below), not against its designation
    refund_here = case(
        (col(Donation.moved_to_project_code).is_(None), col(Donation.refunded_fen)), else_=0
    )
    designated = await s.scalar(
        select(func.coalesce(func.sum(col(Donation.amount_fen) - refund_here), 0))
        .where(col(Donation.kind) == "money")
        .where(col(Donation.project_code) == code)
        .where(col(Donation.status).in_(live))
    )
    moved_in = await s.scalar(
        select(func.coalesce(func.sum(col(RemainderMove.amount_fen)), 0)).where(
            col(RemainderMove.to_project_code) == code,
            col(RemainderMove.outcome) == "transferred",
        )
    )
    refunded_in = await s.scalar(
        select(func.coalesce(func.sum(col(Donation.refunded_fen)), 0)).where(
            col(Donation.kind) == "money", col(Donation.moved_to_project_code) == code
        )
    )
    moved_out = await s.scalar(
        select(func.coalesce(func.sum(col(RemainderMove.amount_fen)), 0)).where(
            col(RemainderMove.project_code) == code,
            col(RemainderMove.outcome) == "transferred",
        )
    )
    transferred_in = int(moved_in or 0) - int(refunded_in or 0)
    transferred_out = int(moved_out or 0)
    used_rows = (
        await s.execute(
            select(
                col(Donation.project_code).is_(None),
                func.coalesce(func.sum(col(Allocation.amount_fen)), 0),
            )
            .join(Donation, col(Donation.id) == col(Allocation.donation_id))
            .join(Disbursement, col(Disbursement.id) == col(Allocation.disbursement_id))
            .where(col(Disbursement.project_code) == code)
            .where(col(Disbursement.status) != "reversed")
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
    remaining = int(designated or 0) + transferred_in - transferred_out - designated_used
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
            holder() == code,
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
        transferred_in_fen=transferred_in,
        transferred_out_fen=transferred_out,
    )
