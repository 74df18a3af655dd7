"""Public, no login: ``GET /api/v1/track/{code}`` and the donor's own look-up by contact.

A code is read as everywhere (``shared.public_lookups``): a malformed one is a ``422``, an
unknown one a ``404`` with one fixed message whatever was typed; every endpoint is
rate-limited per client, the counts shared by every instance (``shared.rate_limit``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from donation.domain.commands import RequestLookupCode, VerifyLookupCode
from donation.entrypoints.api.schemas import LookupRequest, LookupVerify
from donation.service_layer import tracking
from shared import public_lookups
from shared.errors import NotFound, TooManyRequests
from shared.http_commands import IdempotencyKey, RuntimeDep
from shared.idempotency import run_idempotent
from shared.openapi import IDEMPOTENCY_CONFLICT, raises
from shared.public_lookups import TRACKING_LOOKUP_LIMIT, client_of, derived_secret, shared_limiter
from shared.rate_limit import SharedRateLimiter
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/api/v1", tags=["public"])

TRACK_LIMIT = TRACKING_LOOKUP_LIMIT  # 30 look-ups a minute per client, as on the public feed
LOOKUP_LIMIT = (5, 600.0)  # 5 code requests or verifications per 10 minutes per client


def limiter(runtime: ServiceRuntime, name: str, limit: tuple[int, float]) -> SharedRateLimiter:
    return shared_limiter(runtime, name, limit, secret=lookup_secret(runtime))


def lookup_secret(runtime: ServiceRuntime) -> str:
    """Keys the hashes of look-up codes and of rate-limited clients: from the JWT signing key,
    which every instance shares."""
    secret = runtime.extras.get("lookup_secret")
    if secret is None:
        path = getattr(runtime.settings, "jwt_private_key_file", None)
        material = path.read_bytes() if path is not None and path.exists() else b"sunshine"
        secret = derived_secret(material, "lookup-codes")
        runtime.extras["lookup_secret"] = secret
    return str(secret)


def receipt_secret(runtime: ServiceRuntime) -> str:
    """Keys the receipts' 校验码: derived from the look-up secret, shared by every instance."""
    return derived_secret(lookup_secret(runtime).encode(), "receipt-check-codes")


@router.get(
    "/track/{tracking_code}",
    summary="捐赠查询 Follow a gift by its tracking code (public)",
    responses=raises((NotFound, "Unknown code"), (TooManyRequests, "Rate limited")),
)
async def track(tracking_code: str, request: Request, runtime: RuntimeDep) -> Any:
    await limiter(runtime, "track", TRACK_LIMIT).check(client_of(request))
    code = public_lookups.tracking_code(tracking_code)
    async with runtime.unit_of_work() as uow:
        body = await tracking.track(uow, code)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post(
    "/donor-lookup/code",
    status_code=202,
    summary="捐赠人查询：发送验证码 Send a one-time code to a phone or e-mail",
    responses=raises(IDEMPOTENCY_CONFLICT, (TooManyRequests, "Rate limited")),
)
async def request_code(
    body: LookupRequest, request: Request, runtime: RuntimeDep, key: IdempotencyKey
) -> Any:
    client = client_of(request)
    await limiter(runtime, "lookup", LOOKUP_LIMIT).check(client)
    # The same answer whether or not the contact is known.
    answer: dict[str, Any] = {
        "message": "如该联系方式登记过捐赠，验证码已发送 "
        "(if this contact made gifts, a code was sent)"
    }

    command = RequestLookupCode(contact=body.contact)

    async def send() -> tuple[int, dict[str, Any]]:
        await tracking.request_lookup_code(uow, command, secret=lookup_secret(runtime))
        return 202, answer

    async with runtime.unit_of_work() as uow:
        # A retry with the same Idempotency-Key does not send a second code.
        status, payload, _ = await run_idempotent(
            uow.session,
            scope=f"public:{client}:POST /api/v1/donor-lookup/code",
            key=key,
            payload=body.model_dump(mode="json"),
            action=send,
        )
        await uow.commit()
    return JSONResponse(payload, status)


@router.post(
    "/donor-lookup/verify",
    summary="捐赠人查询：验证并列出全部捐赠 Verify the code; list all gifts of this contact",
    responses=raises((NotFound, "Wrong or expired code"), (TooManyRequests, "Rate limited")),
)
async def verify_code(body: LookupVerify, request: Request, runtime: RuntimeDep) -> Any:
    await limiter(runtime, "verify", LOOKUP_LIMIT).check(client_of(request))
    async with runtime.unit_of_work() as uow:
        gifts = await tracking.verify_lookup_code(
            uow,
            VerifyLookupCode(contact=body.contact, code=body.code),
            secret=lookup_secret(runtime),
        )
        await uow.commit()
    return JSONResponse({"gifts": gifts}, headers={"Cache-Control": "no-store"})
