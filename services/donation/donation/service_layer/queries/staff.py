"""Reads of the staff directory for admins: an account as the API shows it (never its password
hash), and the accounts an admin reaches (a town branch's admin: their organisation's)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from donation.adapters.orm import Organisation, StaffUser
from donation.entrypoints.api.schemas import StaffAccountOut, StaffAccountPage
from shared.errors import Forbidden, NotFound
from shared.organisations import DISTRICT, org_name, reaches
from shared.uow import SqlUnitOfWork


async def _names(uow: SqlUnitOfWork) -> dict[str, str]:
    rows = await uow.session.execute(select(col(Organisation.code), col(Organisation.name)))
    return {str(code): str(name) for code, name in rows.all()}


def account_out(user: StaffUser, names: dict[str, str]) -> StaffAccountOut:
    return StaffAccountOut(
        username=user.username,
        display_name=user.display_name,
        org_code=user.org_code,
        org_name=names.get(user.org_code, user.org_code),
        roles=sorted(user.roles),
        active=user.active,
        must_change_password=user.must_change_password,
        password_changed_at=user.password_changed_at,
        disabled_at=user.disabled_at,
        created_at=user.created_at,
        created_by=user.created_by,
        updated_at=user.updated_at,
        version=user.version,
    )


async def account_body(uow: SqlUnitOfWork, username: str, actor_org: str) -> dict[str, Any]:
    """The account ``username`` as ``StaffAccountOut`` JSON, if the admin reaches it."""
    user = await uow.session.get(StaffUser, username, populate_existing=True)
    if user is None:
        raise NotFound(f"账号不存在 (staff account {username} not found)")
    if not reaches(actor_org, user.org_code):
        raise Forbidden(
            f"只能查看本组织（{org_name(actor_org)}）的账号 "
            f"(an admin of {actor_org} sees only the accounts of {actor_org})"
        )
    return account_out(user, await _names(uow)).model_dump(mode="json")


async def list_accounts(
    uow: SqlUnitOfWork, *, actor_org: str, org: str | None, active: bool | None
) -> StaffAccountPage:
    """The accounts the admin reaches, the district branch's first, then by organisation and
    user name; ``org`` narrows to one organisation (a town admin asking for another's is a
    ``403``)."""
    if org is not None and not reaches(actor_org, org):
        raise Forbidden(
            f"只能查看本组织（{org_name(actor_org)}）的账号 "
            f"(an admin of {actor_org} sees only the accounts of {actor_org})"
        )
    query = select(StaffUser)
    wanted = org if org is not None else (None if actor_org == DISTRICT else actor_org)
    if wanted is not None:
        query = query.where(col(StaffUser.org_code) == wanted)
    if active is not None:
        query = query.where(col(StaffUser.active).is_(active))
    query = query.order_by(
        col(StaffUser.org_code) != DISTRICT, col(StaffUser.org_code), col(StaffUser.username)
    )
    users = list(await uow.session.scalars(query))
    names = await _names(uow)
    return StaffAccountPage(items=[account_out(u, names) for u in users])
