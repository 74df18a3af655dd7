"""The staff directory: demo accounts and password login."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from donation.adapters.orm import StaffUser
from shared.auth import Role, StaffPrincipal, hash_password, verify_password
from shared.errors import NotAuthenticated

_DUMMY_HASH = hash_password("not-a-real-password")

DEMO_DISPLAY_NAMES = {
    Role.ADMIN: "系统管理员",
    Role.FINANCE: "财务 陈会计",
    Role.WAREHOUSE: "仓管 王师傅",
    Role.DISPATCHER: "调度 李调度",
    Role.APPROVER: "审批 周主任",
    Role.AUDITOR: "监事 吴监事",
}


async def seed_demo_staff(session_factory: async_sessionmaker[AsyncSession], password: str) -> None:
    """One account per role, user name = role name. Existing accounts are left alone (and
    when all exist, no password is hashed: argon2 is deliberately slow)."""
    async with session_factory() as session:
        existing = set(
            await session.scalars(
                select(col(StaffUser.username)).where(
                    col(StaffUser.username).in_([str(r) for r in DEMO_DISPLAY_NAMES])
                )
            )
        )
    if existing >= {str(r) for r in DEMO_DISPLAY_NAMES}:
        return
    password_hash = hash_password(password)
    async with session_factory() as session, session.begin():
        for role, name in DEMO_DISPLAY_NAMES.items():
            await session.execute(
                insert(StaffUser)
                .values(
                    username=str(role),
                    display_name=name,
                    password_hash=password_hash,
                    roles=[str(role)],
                    active=True,
                    created_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing(index_elements=["username"])
            )


async def authenticate(
    session_factory: async_sessionmaker[AsyncSession], username: str, password: str
) -> StaffPrincipal:
    async with session_factory() as session:
        user = await session.scalar(select(StaffUser).where(col(StaffUser.username) == username))
    # Verify against a dummy hash for unknown users too, so timing does not reveal who exists.
    password_hash = user.password_hash if user is not None else _DUMMY_HASH
    if not verify_password(password_hash, password) or user is None or not user.active:
        raise NotAuthenticated("用户名或密码错误 (wrong user name or password)")
    return StaffPrincipal(
        username=user.username, roles=frozenset(user.roles), display_name=user.display_name
    )
