"""The staff directory: demo accounts and password login; failed logins in the audit log.

An account whose password is an initial one (set by an admin, or reset) must change it before
it gets a token: its login, with the right password, is answered ``403``
``password_change_required`` and the holder calls ``POST /api/v1/auth/password`` (user name,
old and new password; :mod:`donation.service_layer.accounts`), then logs in. No service ever
sees a token of an account that still holds an initial password."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from donation.adapters.orm import StaffUser
from donation.domain.commands import RecordFailedLogin
from donation.service_layer.common import audit
from shared.auth import Role, StaffPrincipal, hash_password, verify_password
from shared.errors import Forbidden, NotAuthenticated
from shared.metrics import LOGIN_FAILURES
from shared.organisations import DISTRICT
from shared.uow import SqlUnitOfWork

log = logging.getLogger("sunshine.donation.login")

DUMMY_HASH = hash_password("not-a-real-password")
WRONG_CREDENTIALS = "用户名或密码错误 (wrong user name or password)"

FailureReason = Literal["wrong_password", "unknown_user", "inactive"]


class LoginFailed(NotAuthenticated):
    """A refused password login; the answer is the same whatever the reason."""

    def __init__(self, reason: FailureReason, username: str | None) -> None:
        super().__init__(WRONG_CREDENTIALS)
        self.reason = reason
        self.username = username  # the account's, when there is one; never what was typed


class PasswordChangeRequired(Forbidden):
    """The right password, but an initial one: change it first (``POST /api/v1/auth/password``)."""

    code = "password_change_required"

    def __init__(self) -> None:
        super().__init__(
            "首次登录或密码已重置，请先修改密码 (this password must be changed before you log in: "
            "POST /api/v1/auth/password with your user name, this password and a new one)"
        )


DEMO_DISPLAY_NAMES = {
    Role.ADMIN: "系统管理员",
    Role.FINANCE: "财务 陈会计",
    Role.WAREHOUSE: "仓管 王师傅",
    Role.DISPATCHER: "调度 李调度",
    Role.APPROVER: "审批 周主任",
    Role.AUDITOR: "监事 吴监事",
}


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: Role
    org: str


# One account per role at the district branch (user name = role name), and a town branch's
# keeper and dispatcher (溪口镇) and keeper (大堰镇) for the story of the town branches.
DEMO_ACCOUNTS = (
    *(DemoAccount(str(role), name, role, DISTRICT) for role, name in DEMO_DISPLAY_NAMES.items()),
    DemoAccount("keeper-xk", "溪口仓管 蒋师傅", Role.WAREHOUSE, "XK"),
    DemoAccount("dispatcher-xk", "溪口调度 毛调度", Role.DISPATCHER, "XK"),
    DemoAccount("keeper-dy", "大堰仓管 竺师傅", Role.WAREHOUSE, "DY"),
)


async def seed_demo_staff(session_factory: async_sessionmaker[AsyncSession], password: str) -> None:
    """The demo accounts (:data:`DEMO_ACCOUNTS`), all with ``password``. Existing accounts are
    left alone (and when all exist, no password is hashed: argon2 is deliberately slow)."""
    names = [a.username for a in DEMO_ACCOUNTS]
    async with session_factory() as session:
        existing = set(
            await session.scalars(
                select(col(StaffUser.username)).where(col(StaffUser.username).in_(names))
            )
        )
    if existing >= set(names):
        return
    password_hash = hash_password(password)
    async with session_factory() as session, session.begin():
        for account in DEMO_ACCOUNTS:
            await session.execute(
                insert(StaffUser)
                .values(
                    username=account.username,
                    display_name=account.display_name,
                    password_hash=password_hash,
                    roles=[str(account.role)],
                    active=True,
                    created_at=datetime.now(UTC),
                    org_code=account.org,
                    created_by="seed",
                )
                .on_conflict_do_nothing(index_elements=["username"])
            )


async def authenticate(
    session_factory: async_sessionmaker[AsyncSession],
    username: str,
    password: str,
    issue: Callable[[StaffPrincipal], str],
) -> str:
    """A token for ``username``, issued by ``issue`` while the account row is locked ``FOR
    SHARE``. A change that revokes tokens (disable, reset, roles, organisation) locks the row
    ``FOR UPDATE`` and only then takes ``tokens_not_before``: it either commits before this
    read, which then sees it, or waits for this login, whose token's ``iat`` is then before its
    ``not_before`` — no token outlives a revocation that raced it."""
    async with session_factory() as session, session.begin():
        user = await session.scalar(
            select(StaffUser).where(col(StaffUser.username) == username).with_for_update(read=True)
        )
        # Verify against a dummy hash for unknown users too, so timing does not reveal who exists.
        password_hash = user.password_hash if user is not None else DUMMY_HASH
        matches = verify_password(password_hash, password)
        if user is None:
            raise LoginFailed("unknown_user", None)
        if not matches:
            raise LoginFailed("wrong_password", user.username)
        if not user.active:
            raise LoginFailed("inactive", user.username)
        if user.must_change_password:
            raise PasswordChangeRequired()
        principal = StaffPrincipal(
            username=user.username,
            roles=frozenset(user.roles),
            display_name=user.display_name,
            org=user.org_code,
        )
        return issue(principal)


async def record_failed_login(uow: SqlUnitOfWork, cmd: RecordFailedLogin) -> None:
    """Write the failure to the audit log (``login_failed`` on the ``staff_user``; a name that
    is no account is not recorded, it may be a password typed in the wrong field), count it
    and log it. Never the password. The caller commits."""
    LOGIN_FAILURES.labels(cmd.service, cmd.reason).inc()
    log.info(
        "login failed",
        extra={"reason": cmd.reason, "username": cmd.username, "client": cmd.client},
    )
    audit(
        uow.session,
        actor="anonymous",
        action="login_failed",
        entity="staff_user",
        entity_id=cmd.username or "(unknown)",
        after={"reason": cmd.reason, "client": cmd.client[:64]},
    )
