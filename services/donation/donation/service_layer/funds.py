"""What a project's money comes to: designated gifts received, what is used of them and of the
unrestricted pool, what remains, what a new disbursement may draw, what awaits approval.

Both write sides (closing a project, entering or correcting a disbursement) and the read side
(a project's figures) count it the same way, here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select

from donation.adapters.orm import Allocation, Disbursement, Donation
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
