"""The organisation register: the district branch and the town branches, as data.

Registering, renaming and (de)activating an organisation is a district admin's; each change is
audited and announced on ``staff.events`` (``OrganisationRegisteredV1``, keyed by the code) in
the same transaction, so the other services' copies follow. The organisations a migration
inserted are announced once at start-up (:func:`announce_unannounced_organisations`).
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from donation.adapters.orm import Organisation
from donation.domain.commands import RegisterOrganisation, UpdateOrganisation
from donation.service_layer.common import audit, check_version, lock_row, now
from shared.contracts.staff import ORGANISATION_REGISTERED, OrganisationRegisteredV1
from shared.contracts.staff import TOPIC as STAFF_EVENTS
from shared.errors import Conflict, Forbidden, ValidationFailed
from shared.organisations import DISTRICT
from shared.uow import SqlUnitOfWork

DISTRICT_ADMINS_ONLY = (
    "只有区红十字会的管理员可以管理组织 "
    "(only an admin of the district branch manages the organisation register)"
)


def not_found(code: str) -> str:
    return f"组织不存在 (organisation {code} not found)"


def organisation_payload(org: Organisation) -> OrganisationRegisteredV1:
    return OrganisationRegisteredV1(
        code=org.code,
        name=org.name,
        kind=org.kind,  # type: ignore[arg-type]
        town=org.town,
        active=org.active,
    )


def announce_organisation(uow: SqlUnitOfWork, org: Organisation) -> None:
    org.announced_at = now()
    uow.publish(
        topic=STAFF_EVENTS,
        key=org.code,
        type=ORGANISATION_REGISTERED,
        subject=org.code,
        payload=organisation_payload(org),
    )


async def announce_unannounced_organisations(uow: SqlUnitOfWork) -> int:
    """Organisations inserted by a migration are announced once, at start-up."""
    orgs = list(
        await uow.session.scalars(
            select(Organisation)
            .where(col(Organisation.announced_at).is_(None))
            .order_by(col(Organisation.code))
            .with_for_update(skip_locked=True)
        )
    )
    for org in orgs:
        announce_organisation(uow, org)
    return len(orgs)


def _check_district_admin(actor_org: str) -> None:
    if actor_org != DISTRICT:
        raise Forbidden(DISTRICT_ADMINS_ONLY)


def _check_kind(kind: str, town: str | None) -> None:
    if kind == "district":
        raise ValidationFailed(
            "区红十字会只有一个，新登记的组织须为镇（街道）红十字会 "
            "(there is one district branch; a new organisation is a town branch)"
        )
    if not town:
        raise ValidationFailed("镇街组织须注明所在镇街 (a town branch names its town)")


async def _name_taken(uow: SqlUnitOfWork, name: str, code: str) -> bool:
    other = await uow.session.scalar(
        select(col(Organisation.code)).where(
            col(Organisation.name) == name, col(Organisation.code) != code
        )
    )
    return other is not None


async def register_organisation(uow: SqlUnitOfWork, cmd: RegisterOrganisation) -> Organisation:
    _check_district_admin(cmd.actor_org)
    _check_kind(cmd.kind, cmd.town)
    if await uow.session.get(Organisation, cmd.code) is not None:
        raise Conflict(f"组织代码已存在 (organisation {cmd.code} already exists)")
    if await _name_taken(uow, cmd.name, cmd.code):
        raise Conflict(f"组织名称已被使用 (the name {cmd.name} is taken)")
    org = Organisation(
        code=cmd.code,
        name=cmd.name,
        kind=cmd.kind,
        town=cmd.town,
        active=True,
        created_at=now(),
        created_by=cmd.actor,
    )
    uow.session.add(org)
    announce_organisation(uow, org)
    audit(
        uow.session,
        actor=cmd.actor,
        action="organisation.create",
        entity="organisation",
        entity_id=org.code,
        after={"code": org.code, "name": org.name, "kind": org.kind, "town": org.town},
    )
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"组织代码或名称已存在 (organisation {cmd.code} already exists)") from exc
    return org


async def update_organisation(uow: SqlUnitOfWork, cmd: UpdateOrganisation) -> Organisation:
    _check_district_admin(cmd.actor_org)
    org = await lock_row(uow, Organisation, cmd.code, not_found(cmd.code))
    check_version(org.version, cmd.expected_version)
    changes = {k: v for k, v in cmd.changes.items() if getattr(org, k) != v}
    if "name" in changes and await _name_taken(uow, str(changes["name"]), org.code):
        raise Conflict(f"组织名称已被使用 (the name {changes['name']} is taken)")
    if changes.get("active") is False and org.code == DISTRICT:
        raise Conflict("区红十字会不能停用 (the district branch cannot be deactivated)")
    if not changes:
        return org
    before = {k: getattr(org, k) for k in changes}
    for key, value in changes.items():
        setattr(org, key, value)
    org.version += 1
    org.updated_at = now()
    announce_organisation(uow, org)
    action = "organisation.update"
    if set(changes) == {"active"}:
        action = "organisation.activate" if org.active else "organisation.deactivate"
    audit(
        uow.session,
        actor=cmd.actor,
        action=action,
        entity="organisation",
        entity_id=org.code,
        before=before,
        after=dict(changes),
    )
    return org


async def active_organisation(uow: SqlUnitOfWork, code: str) -> Organisation:
    """The organisation ``code``, which staff accounts may be added to (it exists and is
    active); a ``422`` otherwise (it is a value of the request's body)."""
    org = await uow.session.get(Organisation, code)
    if org is None:
        raise ValidationFailed(f"组织不存在 (no organisation {code})")
    if not org.active:
        raise ValidationFailed(f"组织 {org.name} 已停用 (organisation {code} is deactivated)")
    return org
