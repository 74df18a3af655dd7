"""``/api/v1/auth``: the built-in token issuer over the staff directory, with its throttle."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from donation.config import DonationSettings
from donation.domain.commands import RecordFailedLogin
from donation.entrypoints.api.public import lookup_secret
from donation.entrypoints.api.schemas import StaffOut, TokenOut
from donation.service_layer.login_throttle import LoginThrottle
from donation.service_layer.staff import LoginFailed, authenticate, record_failed_login
from shared.auth import CurrentStaff, TokenIssuer
from shared.errors import NotAuthenticated, TooManyRequests
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
        (TooManyRequests, "Too many failed logins for this account or from this address"),
    ),
)
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, runtime: RuntimeDep
) -> TokenOut:
    client = client_of(request)
    attempt = await login_throttle(runtime).begin(form.username, client)
    try:
        principal = await authenticate(runtime.session_factory, form.username, form.password)
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
    issuer: TokenIssuer = runtime.extras["token_issuer"]
    return TokenOut(
        access_token=issuer.issue(principal), expires_in=int(issuer.ttl.total_seconds())
    )


@router.get("/me", response_model=StaffOut, summary="Who am I")
async def me(staff: CurrentStaff) -> StaffOut:
    return StaffOut(
        username=staff.username, display_name=staff.display_name, roles=sorted(staff.roles)
    )
