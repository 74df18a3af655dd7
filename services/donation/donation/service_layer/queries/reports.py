"""Reports: totals received and used by period, project, channel and kind, reconciling exactly.

Per gift (money): ``net = amount − refunded``; ``used`` = its allocations.
A designated gift is allocated to its project on arrival: ``allocated = net``,
``remaining = net − used``, ``unallocated = 0``. An unrestricted gift is allocated as it is
used: ``allocated = used``, ``remaining = 0``, ``unallocated = net − used``. Goods gifts count
at their estimated value, allocated in kind: ``allocated = net``, used per unit delivered, units
written off in the warehouse (damaged, lost, expired) as ``written_off`` at the same value per
unit; once completed, ``used = net − written_off``.

So for every row and the total: ``received = allocated + unallocated`` and
``allocated = used + written_off + remaining`` (``received`` is net of refunds; ``refunded`` is
shown beside).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import case, func, literal, select
from sqlmodel import col

from donation.adapters.orm import Allocation, Disbursement, Donation
from shared.csv_safe import SafeDictWriter
from shared.uow import SqlUnitOfWork

GroupBy = Literal["month", "project", "channel", "kind", "total"]
COUNTED = ("received", "receipted", "allocated", "in_stock", "used", "completed", "refunded")
COLUMNS = (
    "key",
    "gifts",
    "gross_fen",
    "refunded_fen",
    "received_fen",
    "allocated_fen",
    "unallocated_fen",
    "used_fen",
    "written_off_fen",
    "remaining_fen",
)


async def totals(
    uow: SqlUnitOfWork,
    *,
    group_by: GroupBy,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    project_code: str | None = None,
    kind: str | None = None,
    channel: str | None = None,
) -> dict[str, Any]:
    net = col(Donation.amount_fen) - col(Donation.refunded_fen)
    is_money = col(Donation.kind) == "money"
    designated = col(Donation.project_code).is_not(None)
    # a goods gift is used per unit delivered (used_fen, kept by the goods lineage), all of it
    # once completed
    used = case(
        (is_money, col(Donation.used_fen)),
        (col(Donation.status) == "completed", net - col(Donation.written_off_fen)),
        else_=col(Donation.used_fen),
    )
    written_off = col(Donation.written_off_fen)
    allocated = case((~is_money | designated, net), else_=col(Donation.used_fen))
    unallocated = case((~is_money | designated, literal(0)), else_=net - col(Donation.used_fen))
    remaining = allocated - used - written_off
    key_expr: Any = {
        "month": func.to_char(func.timezone("Asia/Shanghai", col(Donation.received_at)), "YYYY-MM"),
        "project": func.coalesce(col(Donation.project_code), "(非定向 unrestricted)"),
        "channel": col(Donation.channel),
        "kind": col(Donation.kind),
        "total": literal("total"),
    }[group_by]
    query = select(
        key_expr.label("key"),
        func.count().label("gifts"),
        func.coalesce(func.sum(col(Donation.amount_fen)), 0).label("gross_fen"),
        func.coalesce(func.sum(col(Donation.refunded_fen)), 0).label("refunded_fen"),
        func.coalesce(func.sum(net), 0).label("received_fen"),
        func.coalesce(func.sum(allocated), 0).label("allocated_fen"),
        func.coalesce(func.sum(unallocated), 0).label("unallocated_fen"),
        func.coalesce(func.sum(used), 0).label("used_fen"),
        func.coalesce(func.sum(written_off), 0).label("written_off_fen"),
        func.coalesce(func.sum(remaining), 0).label("remaining_fen"),
    ).where(col(Donation.status).in_(COUNTED))
    if received_from is not None:
        query = query.where(col(Donation.received_at) >= received_from)
    if received_to is not None:
        query = query.where(col(Donation.received_at) < received_to)
    if project_code is not None:
        query = query.where(col(Donation.project_code) == project_code)
    if kind is not None:
        query = query.where(col(Donation.kind) == kind)
    if channel is not None:
        query = query.where(col(Donation.channel) == channel)
    query = query.group_by(key_expr).order_by(key_expr)
    rows = [
        {name: (int(value) if name != "key" else str(value)) for name, value in r._mapping.items()}
        for r in (await uow.session.execute(query)).all()
    ]
    total = {name: sum(int(r[name]) for r in rows) for name in COLUMNS if name != "key"}
    total["key"] = "合计 total"  # type: ignore[assignment]
    return {"group_by": group_by, "rows": rows, "total": total}


def to_csv(report: dict[str, Any]) -> str:
    return rows_to_csv(report, COLUMNS)


UsesGroupBy = Literal["project", "month", "town", "total"]
USE_COLUMNS = ("key", "disbursements", "used_fen", "from_designated_fen", "from_unrestricted_fen")


async def uses(
    uow: SqlUnitOfWork,
    *,
    group_by: UsesGroupBy,
    disbursed_from: date | None = None,
    disbursed_to: date | None = None,
    project_code: str | None = None,
) -> dict[str, Any]:
    """Approved disbursements by project, month or town, split by where the money came from:
    ``used = from_designated + from_unrestricted``; the total equals the gifts' ``used``."""
    key_expr: Any = {
        "project": col(Disbursement.project_code),
        "month": func.to_char(col(Disbursement.disbursed_on), "YYYY-MM"),
        "town": func.coalesce(col(Disbursement.town), "(未填 none)"),
        "total": literal("total"),
    }[group_by]
    designated = col(Donation.project_code).is_not(None)
    query = (
        select(
            key_expr.label("key"),
            func.count(func.distinct(col(Disbursement.id))).label("disbursements"),
            func.coalesce(func.sum(col(Allocation.amount_fen)), 0).label("used_fen"),
            func.coalesce(
                func.sum(case((designated, col(Allocation.amount_fen)), else_=literal(0))), 0
            ).label("from_designated_fen"),
            func.coalesce(
                func.sum(case((designated, literal(0)), else_=col(Allocation.amount_fen))), 0
            ).label("from_unrestricted_fen"),
        )
        .select_from(Disbursement)
        .join(Allocation, col(Allocation.disbursement_id) == col(Disbursement.id))
        .join(Donation, col(Donation.id) == col(Allocation.donation_id))
        .where(col(Disbursement.status) == "approved")
    )
    if disbursed_from is not None:
        query = query.where(col(Disbursement.disbursed_on) >= disbursed_from)
    if disbursed_to is not None:
        query = query.where(col(Disbursement.disbursed_on) < disbursed_to)
    if project_code is not None:
        query = query.where(col(Disbursement.project_code) == project_code)
    query = query.group_by(key_expr).order_by(key_expr)
    rows = [
        {name: (int(value) if name != "key" else str(value)) for name, value in r._mapping.items()}
        for r in (await uow.session.execute(query)).all()
    ]
    total: dict[str, Any] = {
        name: sum(int(r[name]) for r in rows) for name in USE_COLUMNS if name != "key"
    }
    total["key"] = "合计 total"
    return {"group_by": group_by, "rows": rows, "total": total}


def rows_to_csv(report: dict[str, Any], columns: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = SafeDictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in [*report["rows"], report["total"]]:
        writer.writerow({k: row[k] for k in columns})
    return out.getvalue()
