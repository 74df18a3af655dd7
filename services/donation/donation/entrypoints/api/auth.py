"""``/api/v1/auth``: the built-in token issuer over the staff directory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from donation.entrypoints.api.deps import RuntimeDep
from donation.entrypoints.api.schemas import StaffOut, TokenOut
from donation.service_layer.staff import authenticate
from shared.auth import CurrentStaff, TokenIssuer
from shared.errors import NotAuthenticated
from shared.openapi import raises

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Log in (OAuth2 password form)",
    responses=raises((NotAuthenticated, "Wrong user name or password")),
)
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], runtime: RuntimeDep
) -> TokenOut:
    principal = await authenticate(runtime.session_factory, form.username, form.password)
    issuer: TokenIssuer = runtime.extras["token_issuer"]
    return TokenOut(
        access_token=issuer.issue(principal), expires_in=int(issuer.ttl.total_seconds())
    )


@router.get("/me", response_model=StaffOut, summary="Who am I")
async def me(staff: CurrentStaff) -> StaffOut:
    return StaffOut(
        username=staff.username, display_name=staff.display_name, roles=sorted(staff.roles)
    )
