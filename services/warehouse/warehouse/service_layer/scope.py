"""Organisation scope: whose warehouses, inbounds, counts and dispatches a staff member reaches.

The one place the rule lives (``shared.organisations.reaches``): staff of the district branch
(FH) reach every warehouse; staff of a town branch reach only the warehouses of their own
organisation (``warehouses.org_code``). The auditor (监事会) reads everything (and changes
nothing, which the roles already say).

- Writes: every write command carries ``actor_org``, the organisation of the staff member
  asking; the service function calls :func:`ensure_reaches` with the warehouse it changes, and
  a warehouse of another organisation is refused with 403 and a message that says why.
- A dispatch belongs to the organisation of its source warehouse; for a transfer, the
  destination warehouse's organisation may also sign it off (its goods land there) and read it.
- Reads: :func:`read_scope` gives the organisation a reader is limited to (None: all); lists
  are filtered to it, and a read of one thing of another organisation is refused (403).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Role, StaffPrincipal
from shared.errors import Forbidden
from shared.organisations import DISTRICT, org_name, reaches
from warehouse.adapters.orm import dispatches, organisations, warehouses

Q = TypeVar("Q", bound=Select[Any])

__all__ = [
    "dispatches_within",
    "ensure_district",
    "ensure_reaches",
    "ensure_reaches_dispatch",
    "ensure_reaches_org",
    "ensure_sees",
    "ensure_sees_code",
    "ensure_sees_dispatch",
    "read_scope",
    "within",
]


def read_scope(staff: StaffPrincipal) -> str | None:
    """The organisation whose things ``staff`` may read, or None for all of them: district
    staff and the auditor (监事会) read everything; a town branch's staff their own."""
    if staff.district_wide or Role.AUDITOR in staff.roles:
        return None
    return staff.org


async def _names(session: AsyncSession, *codes: str) -> dict[str, str]:
    """The names of ``codes`` from the warehouse's copy of the register (the seed's, else)."""
    rows = await session.execute(
        select(organisations.c.code, organisations.c.name).where(organisations.c.code.in_(codes))
    )
    found = {r.code: r.name for r in rows}
    return {code: found.get(code) or org_name(code) for code in codes}


async def _refuse(
    session: AsyncSession, actor_org: str, code: str, org_code: str, verb: str
) -> Forbidden:
    names = await _names(session, actor_org, org_code)
    theirs, mine = names[org_code], names[actor_org]
    return Forbidden(
        f"无权{verb}其他组织的仓库：仓库 {code} 属于{theirs}，您属于{mine}"
        f" (warehouse {code} belongs to {theirs}; you act for {mine})",
        details={"warehouse_code": code, "org_code": org_code, "your_org": actor_org},
    )


async def ensure_reaches(
    session: AsyncSession, actor_org: str, warehouse: Any, *, verb: str = "操作"
) -> None:
    """403 unless staff of ``actor_org`` may change ``warehouse`` (a row with ``code`` and
    ``org_code``). Reads nothing when it is allowed."""
    if not reaches(actor_org, warehouse.org_code):
        raise await _refuse(session, actor_org, warehouse.code, warehouse.org_code, verb)


def ensure_district(actor_org: str, action: str, action_en: str) -> None:
    """403 unless staff of ``actor_org`` act for the district branch (a write that touches
    every organisation's warehouses, e.g. the expiry scan)."""
    if actor_org != DISTRICT:
        raise Forbidden(
            f"仅区红十字会人员可{action}，您属于{org_name(actor_org)}"
            f" (only the district branch's staff may {action_en}; you act for"
            f" {org_name(actor_org)})",
            details={"your_org": actor_org},
        )


async def ensure_reaches_org(session: AsyncSession, actor_org: str, org_code: str) -> None:
    """403 unless staff of ``actor_org`` may give a warehouse to ``org_code``."""
    if not reaches(actor_org, org_code):
        names = await _names(session, actor_org, org_code)
        raise Forbidden(
            f"无权为其他组织设置仓库：{names[org_code]}，您所属的是{names[actor_org]}"
            f" (you act for {names[actor_org]}; a warehouse of {names[org_code]} is not yours"
            " to set)",
            details={"org_code": org_code, "your_org": actor_org},
        )


async def ensure_reaches_dispatch(
    session: AsyncSession, actor_org: str, row: Any, *, receiving: bool = False
) -> None:
    """403 unless staff of ``actor_org`` may take a step of the dispatch ``row`` (locked with
    ``source_code``, ``source_org``, ``target_code``, ``target_org``): its source warehouse's
    organisation may; for a transfer being signed off (``receiving``), its destination's too."""
    if reaches(actor_org, row.source_org):
        return
    if receiving and row.target_org is not None and reaches(actor_org, row.target_org):
        return
    raise await _refuse(session, actor_org, row.source_code, row.source_org, "操作")


async def ensure_sees(session: AsyncSession, scope: str | None, code: str, org_code: str) -> None:
    """403 unless a reader limited to ``scope`` (:func:`read_scope`) may read what belongs to
    the warehouse ``code`` of ``org_code``."""
    if scope is not None and not reaches(scope, org_code):
        raise await _refuse(session, scope, code, org_code, "查看")


async def ensure_sees_code(session: AsyncSession, scope: str | None, code: str | None) -> None:
    """A list filtered by the warehouse ``code``: 403 if it is another organisation's (an
    unknown code lists nothing, as before)."""
    if scope is None or not code:
        return
    row = (
        await session.execute(
            select(warehouses.c.code, warehouses.c.org_code).where(warehouses.c.code == code)
        )
    ).first()
    if row is not None:
        await ensure_sees(session, scope, row.code, row.org_code)


def within(query: Q, scope: str | None, org_code: ColumnElement[Any]) -> Q:
    """``query`` limited to what a reader limited to ``scope`` may see (the organisation
    ``org_code`` names, e.g. ``warehouses.c.org_code``); unchanged for district staff."""
    if scope is None or scope == DISTRICT:
        return query
    return query.where(org_code == scope)


def dispatches_within(query: Q, scope: str | None) -> Q:
    """``query`` of dispatches limited to those a reader limited to ``scope`` may see: from a
    warehouse of that organisation, or (a transfer) into one."""
    if scope is None or scope == DISTRICT:
        return query
    theirs = select(warehouses.c.id).where(warehouses.c.org_code == scope)
    return query.where(
        or_(
            dispatches.c.from_warehouse_id.in_(theirs),
            dispatches.c.destination_warehouse_id.in_(theirs),
        )
    )


async def ensure_sees_dispatch(session: AsyncSession, scope: str | None, row: Any) -> None:
    """403 unless a reader limited to ``scope`` may see the dispatch ``row``: its source
    warehouse's organisation may, and a transfer's destination's."""
    if scope is None or scope == DISTRICT:
        return
    places = {
        r.id: r
        for r in await session.execute(
            select(warehouses.c.id, warehouses.c.code, warehouses.c.org_code).where(
                warehouses.c.id.in_(
                    [row.from_warehouse_id]
                    + ([row.destination_warehouse_id] if row.destination_warehouse_id else [])
                )
            )
        )
    }
    source = places[row.from_warehouse_id]
    target = places.get(row.destination_warehouse_id)
    if reaches(scope, source.org_code) or (target is not None and reaches(scope, target.org_code)):
        return
    raise await _refuse(session, scope, source.code, source.org_code, "查看")
