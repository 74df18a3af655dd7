"""``/api/v1/auth``: the built-in token issuer over the staff directory, with its throttle, and
the holder's own password change (public: the old password proves who it is; throttled and
audited like a login).

An account holding an initial password (new, or reset by an admin) gets no token: its login
is answered ``403`` ``password_change_required``; the holder changes the password with
``POST /api/v1/auth/password`` (user name, old, new) and then logs in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from donation.config import DonationSettings
from donation.domain.commands import ChangeOwnPassword, RecordFailedLogin
from donation.entrypoints.api.public import lookup_secret
from donation.entrypoints.api.schemas import PasswordChangeIn, StaffOut, TokenOut
from donation.service_layer import accounts
from donation.service_layer.login_throttle import LoginThrottle
from donation.service_layer.staff import (
    LoginFailed,
    PasswordChangeRequired,
    authenticate,
    record_failed_login,
)
from shared.auth import CurrentStaff, TokenIssuer
from shared.errors import NotAuthenticated, TooManyRequests, ValidationFailed
from shared.http_commands import RuntimeDep
from shared.openapi import raises
from shared.public_lookups import client_of, shared_limiter
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def failed_login_command(failure: LoginFailed, client: str, service: str) -> RecordFailedLogin:
    """What a refused login records: why, and the account's name only when it is one (never
    what was typed)."""
    return RecordFailedLogin(
        reason=failure.reason, username=failure.username, client=client, service=service
    )


def login_throttle(runtime: ServiceRuntime) -> LoginThrottle:
    """The runtime's throttle, its limits from the settings (``DONATION_LOGIN_*``)."""
    found = runtime.extras.get("login_throttle")
    if found is None:
        settings = runtime.settings
        assert isinstance(settings, DonationSettings)
        secret = lookup_secret(runtime)
        account = (settings.login_account_limit, settings.login_account_window_s)
        client = (settings.login_client_limit, settings.login_client_window_s)
        found = runtime.extras["login_throttle"] = LoginThrottle(
            shared_limiter(runtime, "login-account", account, secret=secret),
            shared_limiter(runtime, "login-client", client, secret=secret),
            service=settings.service_name,
        )
    assert isinstance(found, LoginThrottle)
    return found


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Log in (OAuth2 password form)",
    responses=raises(
        (NotAuthenticated, "Wrong user name or password"),
        (
            PasswordChangeRequired,
            "An initial password: change it first (POST /api/v1/auth/password)",
        ),
        (TooManyRequests, "Too many failed logins for this account or from this address"),
    ),
)
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, runtime: RuntimeDep
) -> TokenOut:
    client = client_of(request)
    attempt = await login_throttle(runtime).begin(form.username, client)
    issuer: TokenIssuer = runtime.extras["token_issuer"]
    try:
        token = await authenticate(
            runtime.session_factory, form.username, form.password, issuer.issue
        )
    except LoginFailed as failure:  # it keeps its slots: it counts
        command = failed_login_command(failure, client, runtime.settings.service_name)
        async with runtime.unit_of_work() as uow:
            await record_failed_login(uow, command)
            await uow.commit()
        raise
    except BaseException:
        await login_throttle(runtime).release(attempt)
        raise
    await login_throttle(runtime).release(attempt)
    return TokenOut(access_token=token, expires_in=int(issuer.ttl.total_seconds()))


@router.get("/me", response_model=StaffOut, summary="Who am I")
async def me(staff: CurrentStaff) -> StaffOut:
    return StaffOut(
        username=staff.username,
        display_name=staff.display_name,
        roles=sorted(staff.roles),
        org=staff.org,
    )


@router.post(
    "/password",
    status_code=204,
    summary="修改自己的密码 Change your own password (user name, old and new password)",
    responses=raises(
        (NotAuthenticated, "Wrong user name or password"),
        (ValidationFailed, "The new password does not meet the policy"),
        (TooManyRequests, "Too many failed logins for this account or from this address"),
    ),
)
async def change_password(body: PasswordChangeIn, request: Request, runtime: RuntimeDep) -> None:
    """Throttled like a login: a wrong old password counts as a failed login (audited, in
    ``sunshine_login_failures_total``). Tokens issued before are refused from now on."""
    client = client_of(request)
    attempt = await login_throttle(runtime).begin(body.username, client)
    command = ChangeOwnPassword(
        username=body.username, old_password=body.old_password, new_password=body.new_password
    )
    try:
        async with runtime.unit_of_work() as uow:
            await accounts.change_own_password(uow, command)
            await uow.commit()
    except LoginFailed as failure:  # it keeps its slots: it counts
        failed = failed_login_command(failure, client, runtime.settings.service_name)
        async with runtime.unit_of_work() as uow:
            await record_failed_login(uow, failed)
            await uow.commit()
        raise
    except BaseException:
        await login_throttle(runtime).release(attempt)
        raise
    await login_throttle(runtime).release(attempt)
