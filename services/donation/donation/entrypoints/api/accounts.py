"""``/api/v1/staff``: staff accounts, for admins. A district admin manages every account, a town
branch's admin those of their organisation. A generated initial password is answered once
(in the first answer only, ``Cache-Control: no-store``); it is never stored in clear."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from donation.domain.commands import (
    CreateStaffAccount,
    DisableStaffAccount,
    EnableStaffAccount,
    LiftLoginLockout,
    ResetStaffPassword,
    UpdateStaffAccount,
)
from donation.entrypoints.api.auth import login_throttle
from donation.entrypoints.api.deps import IfMatch
from donation.entrypoints.api.schemas import (
    DisableIn,
    PasswordResetIn,
    StaffAccountCreate,
    StaffAccountIssued,
    StaffAccountOut,
    StaffAccountPage,
    StaffAccountPatch,
)
from donation.service_layer import accounts
from donation.service_layer.queries import staff as queries
from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)
from shared.http_commands import (
    Change,
    IdempotencyKey,
    RuntimeDep,
    act_on_row,
    edit_row,
    idempotent,
    read_row,
)
from shared.openapi import IDEMPOTENCY_CONFLICT, Declared, raises
from shared.uow import SqlUnitOfWork

router = APIRouter(tags=["staff"])

Admin = require_roles(Role.ADMIN)
NO_ACCOUNT: Declared = (NotFound, "No such account")
OUT_OF_REACH: Declared = (Forbidden, "The account belongs to another organisation")
POLICY: Declared = (ValidationFailed, "The password does not meet the policy")
NO_STORE = {"Cache-Control": "no-store"}


def _with_password(response: JSONResponse, password: str | None) -> JSONResponse:
    """The first answer carries the generated password (a replay does not: it is not kept)."""
    body: dict[str, Any] = json.loads(bytes(response.body))
    headers = {
        k: v
        for k, v in response.headers.items()
        if k.lower() not in ("content-length", "content-type")
    }
    body["initial_password"] = password
    return JSONResponse(body, response.status_code, headers=headers | NO_STORE)


@router.get(
    "/api/v1/staff",
    response_model=StaffAccountPage,
    summary="账号列表 Staff accounts (a town admin: their organisation's)",
    responses=raises(OUT_OF_REACH),
)
async def list_accounts(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Admin,
    org: Annotated[str | None, Query(pattern=r"^[A-Z][A-Z0-9]{1,15}$")] = None,
    active: Annotated[bool | None, Query()] = None,
) -> StaffAccountPage:
    async with runtime.unit_of_work() as uow:
        return await queries.list_accounts(uow, actor_org=staff.org, org=org, active=active)


@router.get(
    "/api/v1/staff/{username}",
    response_model=StaffAccountOut,
    summary="账号详情 One account (never its password)",
    responses=raises(NO_ACCOUNT, OUT_OF_REACH),
)
async def get_account(
    username: str, runtime: RuntimeDep, staff: StaffPrincipal = Admin
) -> JSONResponse:
    return await read_row(runtime, lambda uow: queries.account_body(uow, username, staff.org))


@router.post(
    "/api/v1/staff",
    status_code=201,
    response_model=StaffAccountIssued,
    summary="新建账号 Create an account (its initial password is changed at the first login)",
    responses=raises(
        OUT_OF_REACH,
        (Conflict, "The user name is taken"),
        (
            ValidationFailed,
            "The password does not meet the policy, or the organisation is unknown or deactivated",
        ),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def create_account(
    body: StaffAccountCreate,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Admin,
) -> JSONResponse:
    command = CreateStaffAccount(
        username=body.username,
        display_name=body.display_name.strip(),
        org_code=body.org_code,
        roles=tuple(body.roles),
        actor=staff.username,
        actor_org=staff.org,
        password=body.password,
    )
    generated: list[str] = []

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        issued = await accounts.create_account(uow, command)
        if issued.generated is not None:
            generated.append(issued.generated)
        await uow.flush()
        return 201, await queries.account_body(uow, body.username, staff.org)

    # the idempotency fingerprint never sees a password: only whether one was given
    payload = body.model_dump(mode="json", exclude={"password"}) | {
        "password_given": body.password is not None
    }
    response = await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/staff",
        payload=payload,
        action=action,
    )
    return _with_password(response, generated[0] if generated else None)


@router.patch(
    "/api/v1/staff/{username}",
    response_model=StaffAccountOut,
    summary="修改账号 Change roles, organisation or display name (If-Match: version)",
    responses=raises(
        NO_ACCOUNT,
        OUT_OF_REACH,
        (Conflict, "Taking the admin role from yourself"),
        (ValidationFailed, "The organisation is unknown or deactivated"),
        (PreconditionFailed, "Version mismatch"),
        (PreconditionRequired, "No version"),
    ),
)
async def patch_account(
    username: str,
    body: StaffAccountPatch,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
    staff: StaffPrincipal = Admin,
) -> JSONResponse:
    return await edit_row(
        runtime,
        body=body,
        if_match=if_match,
        update=lambda uow, version, changes: accounts.update_account(
            uow,
            UpdateStaffAccount(
                username=username,
                actor=staff.username,
                actor_org=staff.org,
                expected_version=version,
                changes=changes,
            ),
        ),
        render=lambda uow: queries.account_body(uow, username, staff.org),
    )


async def _act(
    runtime: RuntimeDep,
    staff: StaffPrincipal,
    key: str | None,
    username: str,
    action: str,
    body: Any,
    change: Change,
) -> JSONResponse:
    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /api/v1/staff/{username}/{action}",
        body=body,
        change=change,
        render=lambda uow: queries.account_body(uow, username, staff.org),
    )


@router.post(
    "/api/v1/staff/{username}/password-reset",
    response_model=StaffAccountIssued,
    summary="重置密码 Reset the password (a new initial one, changed at the next login)",
    responses=raises(NO_ACCOUNT, OUT_OF_REACH, POLICY, IDEMPOTENCY_CONFLICT),
)
async def reset_password(
    username: str,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    body: PasswordResetIn | None = None,
    staff: StaffPrincipal = Admin,
) -> JSONResponse:
    body = body or PasswordResetIn()
    command = ResetStaffPassword(
        username=username, actor=staff.username, actor_org=staff.org, password=body.password
    )
    generated: list[str] = []

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        issued = await accounts.reset_password(uow, command)
        if issued.generated is not None:
            generated.append(issued.generated)
        await uow.flush()
        return 200, await queries.account_body(uow, username, staff.org)

    response = await idempotent(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /api/v1/staff/{username}/password-reset",
        payload={"password_given": body.password is not None},
        action=action,
    )
    return _with_password(response, generated[0] if generated else None)


@router.post(
    "/api/v1/staff/{username}/disable",
    response_model=StaffAccountOut,
    summary="停用账号 Disable an account (its tokens are refused on every service)",
    responses=raises(
        NO_ACCOUNT, OUT_OF_REACH, (Conflict, "Your own account"), IDEMPOTENCY_CONFLICT
    ),
)
async def disable_account(
    username: str,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    body: DisableIn | None = None,
    staff: StaffPrincipal = Admin,
) -> JSONResponse:
    body = body or DisableIn()
    command = DisableStaffAccount(
        username=username, actor=staff.username, actor_org=staff.org, reason=body.reason
    )

    async def change(uow: SqlUnitOfWork) -> object:
        return await accounts.disable_account(uow, command)

    return await _act(runtime, staff, key, username, "disable", body, change)


@router.post(
    "/api/v1/staff/{username}/enable",
    response_model=StaffAccountOut,
    summary="启用账号 Enable a disabled account",
    responses=raises(NO_ACCOUNT, OUT_OF_REACH, IDEMPOTENCY_CONFLICT),
)
async def enable_account(
    username: str, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Admin
) -> JSONResponse:
    command = EnableStaffAccount(username=username, actor=staff.username, actor_org=staff.org)

    async def change(uow: SqlUnitOfWork) -> object:
        return await accounts.enable_account(uow, command)

    return await _act(runtime, staff, key, username, "enable", None, change)


@router.post(
    "/api/v1/staff/{username}/unlock",
    response_model=StaffAccountOut,
    summary="解除登录锁定 Lift the login lockout (forget the account's failed logins)",
    responses=raises(NO_ACCOUNT, OUT_OF_REACH, IDEMPOTENCY_CONFLICT),
)
async def unlock_account(
    username: str, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Admin
) -> JSONResponse:
    command = LiftLoginLockout(username=username, actor=staff.username, actor_org=staff.org)
    throttle = login_throttle(runtime)

    async def change(uow: SqlUnitOfWork) -> object:
        return await accounts.lift_lockout(uow, command, throttle)

    return await _act(runtime, staff, key, username, "unlock", None, change)
