"""Staff accounts, managed by admins: create (with an initial password, set or generated),
change roles, organisation or display name, reset the password, disable, enable, lift a
login lockout; and the holder's own password change (the way out of an initial password).

Reach: an admin of the district branch manages every account; an admin of a town branch only
the accounts of their own organisation (and cannot move one elsewhere). Every change is
audited (who, what; never a password or its hash) and counted
(``sunshine_staff_account_changes_total``).

Revocation: disabling an account, resetting or changing its password, changing its roles or
its organisation sets ``tokens_not_before`` and publishes ``AccessRevokedV1`` on
``staff.events`` in the same transaction; every service then refuses the account's older
tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select

from donation.adapters.orm import StaffUser
from donation.domain.commands import (
    ChangeOwnPassword,
    CreateStaffAccount,
    DisableStaffAccount,
    EnableStaffAccount,
    LiftLoginLockout,
    ResetStaffPassword,
    UpdateStaffAccount,
)
from donation.domain.passwords import generate_initial_password, password_problems
from donation.service_layer.common import audit, check_version, lock_row, now
from donation.service_layer.login_throttle import LoginThrottle
from donation.service_layer.organisations import active_organisation
from donation.service_layer.staff import DUMMY_HASH, LoginFailed
from shared.auth import Role, hash_password, verify_password
from shared.contracts.staff import ACCESS_REVOKED, AccessRevokedV1, RevocationReason
from shared.contracts.staff import TOPIC as STAFF_EVENTS
from shared.errors import Conflict, Forbidden, ValidationFailed
from shared.metrics import STAFF_ACCOUNT_CHANGES
from shared.organisations import org_name, reaches
from shared.uow import SqlUnitOfWork

SERVICE = "donation"


def not_found(username: str) -> str:
    return f"账号不存在 (staff account {username} not found)"


def check_password(password: str, username: str) -> None:
    """The password policy (``donation.domain.passwords``): a ``422`` naming every problem."""
    problems = password_problems(password, username)
    if problems:
        raise ValidationFailed(
            "密码不符合要求 (the password does not meet the policy): " + "; ".join(problems),
            details={"problems": problems},
        )


def _check_reach(actor_org: str, org_code: str, username: str) -> None:
    if not reaches(actor_org, org_code):
        raise Forbidden(
            f"只能管理本组织（{org_name(actor_org)}）的账号：{username} 属于 {org_name(org_code)} "
            f"(an admin of {actor_org} manages only the accounts of {actor_org}; "
            f"{username} belongs to {org_code})"
        )


def account_facts(user: StaffUser) -> dict[str, object]:
    """What the audit log records of an account (never its password)."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "org_code": user.org_code,
        "roles": sorted(user.roles),
        "active": user.active,
    }


def revoke(uow: SqlUnitOfWork, user: StaffUser, reason: RevocationReason) -> None:
    """Tokens of ``user`` issued before now are refused from now on, on every service."""
    at = now()
    user.tokens_not_before = at
    uow.publish(
        topic=STAFF_EVENTS,
        key=user.username,
        type=ACCESS_REVOKED,
        subject=user.username,
        payload=AccessRevokedV1(username=user.username, not_before=at, reason=reason),
    )


def _changed(user: StaffUser) -> None:
    user.version += 1
    user.updated_at = now()


def _count(action: str) -> None:
    STAFF_ACCOUNT_CHANGES.labels(SERVICE, action).inc()


async def _account_in_reach(uow: SqlUnitOfWork, username: str, actor_org: str) -> StaffUser:
    user = await lock_row(uow, StaffUser, username, not_found(username))
    _check_reach(actor_org, user.org_code, username)
    return user


@dataclass(frozen=True)
class Issued:
    """An account with the initial password it was given: ``generated`` only when the service
    made it up (answered once, never stored in clear)."""

    user: StaffUser
    generated: str | None


def _initial_password(given: str | None, username: str) -> tuple[str, str | None]:
    if given is None:
        generated = generate_initial_password(username)
        return generated, generated
    check_password(given, username)
    return given, None


async def create_account(uow: SqlUnitOfWork, cmd: CreateStaffAccount) -> Issued:
    _check_reach(cmd.actor_org, cmd.org_code, cmd.username)
    await active_organisation(uow, cmd.org_code)
    existing = await uow.session.scalar(
        select(col(StaffUser.username)).where(
            func.lower(col(StaffUser.username)) == cmd.username.lower()
        )
    )
    if existing is not None:
        raise Conflict(f"用户名已存在 (the user name {cmd.username} is taken)")
    password, generated = _initial_password(cmd.password, cmd.username)
    at = now()
    user = StaffUser(
        username=cmd.username,
        display_name=cmd.display_name,
        password_hash=hash_password(password),
        roles=sorted(set(cmd.roles)),
        active=True,
        created_at=at,
        org_code=cmd.org_code,
        must_change_password=cmd.must_change_password,
        created_by=cmd.actor,
    )
    uow.session.add(user)
    audit(
        uow.session,
        actor=cmd.actor,
        action="staff.create",
        entity="staff_user",
        entity_id=user.username,
        after=account_facts(user) | {"initial_password": "generated" if generated else "set"},
    )
    await uow.session.flush()
    _count("create")
    return Issued(user, generated)


async def update_account(uow: SqlUnitOfWork, cmd: UpdateStaffAccount) -> StaffUser:
    user = await _account_in_reach(uow, cmd.username, cmd.actor_org)
    check_version(user.version, cmd.expected_version)
    changes = dict(cmd.changes)
    if "roles" in changes:
        changes["roles"] = sorted(set(changes["roles"]))  # type: ignore[call-overload]
    changes = {k: v for k, v in changes.items() if getattr(user, k) != v}
    if "org_code" in changes:
        code = str(changes["org_code"])
        _check_reach(cmd.actor_org, code, cmd.username)
        await active_organisation(uow, code)
    if (
        cmd.username == cmd.actor and "roles" in changes and str(Role.ADMIN) not in changes["roles"]  # type: ignore[operator]
    ):
        raise Conflict("不能撤销自己的管理员角色 (you cannot take the admin role from yourself)")
    if not changes:
        return user
    before = {k: getattr(user, k) for k in changes}
    for key, value in changes.items():
        setattr(user, key, value)
    _changed(user)
    if "org_code" in changes:
        revoke(uow, user, "organisation_changed")
    elif "roles" in changes:
        revoke(uow, user, "roles_changed")
    audit(
        uow.session,
        actor=cmd.actor,
        action="staff.update",
        entity="staff_user",
        entity_id=user.username,
        before=before,
        after=changes,
    )
    _count("update")
    return user


async def reset_password(uow: SqlUnitOfWork, cmd: ResetStaffPassword) -> Issued:
    user = await _account_in_reach(uow, cmd.username, cmd.actor_org)
    password, generated = _initial_password(cmd.password, user.username)
    user.password_hash = hash_password(password)
    user.must_change_password = True
    _changed(user)
    revoke(uow, user, "password_reset")
    audit(
        uow.session,
        actor=cmd.actor,
        action="staff.password_reset",
        entity="staff_user",
        entity_id=user.username,
        after={"initial_password": "generated" if generated else "set"},
    )
    _count("password_reset")
    return Issued(user, generated)


async def disable_account(uow: SqlUnitOfWork, cmd: DisableStaffAccount) -> StaffUser:
    user = await _account_in_reach(uow, cmd.username, cmd.actor_org)
    if user.username == cmd.actor:
        raise Conflict("不能停用自己的账号 (you cannot disable your own account)")
    if not user.active:
        return user  # already disabled: nothing changes, nothing is announced
    user.active = False
    user.disabled_at = now()
    _changed(user)
    revoke(uow, user, "disabled")
    audit(
        uow.session,
        actor=cmd.actor,
        action="staff.disable",
        entity="staff_user",
        entity_id=user.username,
        before={"active": True},
        after={"active": False, "reason": cmd.reason},
    )
    _count("disable")
    return user


async def enable_account(uow: SqlUnitOfWork, cmd: EnableStaffAccount) -> StaffUser:
    user = await _account_in_reach(uow, cmd.username, cmd.actor_org)
    if user.active:
        return user
    user.active = True
    user.disabled_at = None
    _changed(user)
    audit(
        uow.session,
        actor=cmd.actor,
        action="staff.enable",
        entity="staff_user",
        entity_id=user.username,
        before={"active": False},
        after={"active": True},
    )
    _count("enable")
    return user


async def lift_lockout(
    uow: SqlUnitOfWork, cmd: LiftLoginLockout, throttle: LoginThrottle
) -> StaffUser:
    """Forget the account's failed logins (the throttle's window, shared by every instance)."""
    user = await _account_in_reach(uow, cmd.username, cmd.actor_org)
    await throttle.lift(user.username)
    audit(
        uow.session,
        actor=cmd.actor,
        action="staff.unlock",
        entity="staff_user",
        entity_id=user.username,
    )
    _count("unlock")
    return user


async def change_own_password(uow: SqlUnitOfWork, cmd: ChangeOwnPassword) -> StaffUser:
    """The holder changes the account's password, proving it with the old one (refused like a
    login: ``LoginFailed``, the same answer whatever the reason)."""
    user = await uow.session.scalar(
        select(StaffUser)
        .where(col(StaffUser.username) == cmd.username)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    matches = verify_password(user.password_hash if user else DUMMY_HASH, cmd.old_password)
    if user is None:
        raise LoginFailed("unknown_user", None)
    if not matches:
        raise LoginFailed("wrong_password", user.username)
    if not user.active:
        raise LoginFailed("inactive", user.username)
    check_password(cmd.new_password, user.username)
    if cmd.new_password == cmd.old_password:
        raise ValidationFailed(
            "新密码不能与旧密码相同 (the new password must differ from the old one)"
        )
    user.password_hash = hash_password(cmd.new_password)
    user.must_change_password = False
    user.password_changed_at = now()
    _changed(user)
    revoke(uow, user, "password_changed")
    audit(
        uow.session,
        actor=user.username,
        action="staff.password_change",
        entity="staff_user",
        entity_id=user.username,
    )
    _count("password_change")
    return user
