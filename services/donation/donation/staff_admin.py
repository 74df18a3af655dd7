"""``python -m donation.staff_admin create-admin --username U --org FH``: the first admin of a
fresh install (production refuses the demo accounts, so nobody could log in to create one).

The password is read from standard input when it is not a terminal (``printf '%s\\n' "$PW" |
python -m donation.staff_admin create-admin ...``), else asked for twice without echo. It must
meet the password policy. An existing user name is refused (exit status 1) and nothing changes,
so running it again is harmless. The account is audited as created by ``cli:<os user>``; its
holder chose the password, so it need not be changed at the first login. Everyone else is
then created by this admin through the API or the console (docs/operations.md).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys

from donation.config import DonationSettings
from donation.domain.commands import CreateStaffAccount
from donation.domain.passwords import password_problems
from donation.service_layer.accounts import create_account
from shared.auth import Role
from shared.db import create_engine, create_session_factory
from shared.errors import AppError
from shared.organisations import DISTRICT, ORG_CODE_PATTERN
from shared.uow import SqlUnitOfWork

USAGE_ERROR, REFUSED = 2, 1


def _read_password(username: str) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"{username} 的密码 (password): ")
    problems = password_problems(first, username)
    if problems:
        return first  # refused below, with every problem named
    if getpass.getpass("再次输入 (again): ") != first:
        raise SystemExit("两次输入的密码不一致 (the two passwords differ)")
    return first


async def create_admin(
    settings: DonationSettings, *, username: str, org: str, display_name: str, password: str
) -> None:
    engine = create_engine(settings, application_name="donation-staff-admin")
    factory = create_session_factory(engine)
    command = CreateStaffAccount(
        username=username,
        display_name=display_name,
        org_code=org,
        roles=(str(Role.ADMIN),),
        actor=f"cli:{getpass.getuser()}"[:64],
        actor_org=DISTRICT,
        password=password,
        must_change_password=False,
    )
    try:
        async with SqlUnitOfWork(
            factory, source="/sunshine/donation", topic_prefix=settings.topic_prefix
        ) as uow:
            await create_account(uow, command)
            await uow.commit()
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None, settings: DonationSettings | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m donation.staff_admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-admin", help="create the first admin account")
    create.add_argument("--username", required=True)
    create.add_argument("--org", default=DISTRICT, help=f"organisation code (default {DISTRICT})")
    create.add_argument("--display-name", default="系统管理员")
    args = parser.parse_args(argv)

    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,63}", args.username):
        print(
            "用户名须为小写字母、数字、. _ - (lower-case letters, digits, . _ -)", file=sys.stderr
        )
        return USAGE_ERROR
    if not re.fullmatch(ORG_CODE_PATTERN, args.org):
        print(f"无效的组织代码 (invalid organisation code): {args.org}", file=sys.stderr)
        return USAGE_ERROR
    password = _read_password(args.username)
    problems = password_problems(password, args.username)
    if problems:
        print("密码不符合要求 (the password does not meet the policy):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return REFUSED
    try:
        asyncio.run(
            create_admin(
                settings or DonationSettings(),
                username=args.username,
                org=args.org,
                display_name=args.display_name,
                password=password,
            )
        )
    except AppError as refused:  # a taken user name, an unknown organisation
        print(refused.message, file=sys.stderr)
        return REFUSED
    print(f"已创建管理员 {args.username}（{args.org}）(admin {args.username} created)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
