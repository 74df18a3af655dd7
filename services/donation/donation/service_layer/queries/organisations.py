"""Reads of the organisation register (any staff member: the names the pages show)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from donation.adapters.orm import Organisation, StaffUser
from donation.entrypoints.api.schemas import OrganisationOut, OrganisationPage
from shared.errors import NotFound
from shared.uow import SqlUnitOfWork


async def _accounts(uow: SqlUnitOfWork, code: str | None = None) -> dict[str, int]:
    query = (
        select(col(StaffUser.org_code), func.count())
        .where(col(StaffUser.active).is_(True))
        .group_by(col(StaffUser.org_code))
    )
    if code is not None:
        query = query.where(col(StaffUser.org_code) == code)
    return {str(org): int(n) for org, n in (await uow.session.execute(query)).all()}


def _out(org: Organisation, accounts: dict[str, int]) -> OrganisationOut:
    return OrganisationOut(
        **org.model_dump(exclude={"announced_at", "created_by"}),
        accounts=accounts.get(org.code, 0),
    )


async def organisation_body(uow: SqlUnitOfWork, code: str) -> dict[str, Any]:
    org = await uow.session.get(Organisation, code)
    if org is None:
        raise NotFound(f"组织不存在 (organisation {code} not found)")
    return _out(org, await _accounts(uow, code)).model_dump(mode="json")


async def list_organisations(uow: SqlUnitOfWork, *, active: bool | None) -> OrganisationPage:
    """Every organisation, the district branch first, then the town branches by code."""
    query = select(Organisation)
    if active is not None:
        query = query.where(col(Organisation.active).is_(active))
    query = query.order_by((col(Organisation.kind) != "district"), col(Organisation.code))
    orgs = list(await uow.session.scalars(query))
    accounts = await _accounts(uow)
    return OrganisationPage(items=[_out(o, accounts) for o in orgs])
