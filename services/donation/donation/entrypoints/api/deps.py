"""FastAPI dependencies of the donation API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse

from shared.auth import StaffPrincipal
from shared.idempotency import check_key, run_idempotent
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork


async def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="重试请求时使用相同的值 (a retry with the same key gets the first result)",
        ),
    ] = None,
) -> str | None:
    return check_key(key)


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="更新时携带读取到的版本号 (the version/ETag you read; 412 if it changed)",
    ),
]


def parse_if_match(value: str | None, body_version: int | None = None) -> int | None:
    """``If-Match: "3"`` / ``W/"3"`` / ``3``, or the body's ``version``."""
    if value is None:
        return body_version
    cleaned = value.strip().removeprefix("W/").strip('"')
    if not cleaned.isdigit():
        from shared.errors import ValidationFailed

        raise ValidationFailed(f"If-Match 格式无效 (If-Match must be a version number): {value}")
    return int(cleaned)


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


Action = Callable[[SqlUnitOfWork], Awaitable[tuple[int, dict[str, Any]]]]


async def idempotent(
    runtime: ServiceRuntime,
    *,
    staff: StaffPrincipal,
    key: str | None,
    route: str,
    payload: Any,
    action: Action,
) -> JSONResponse:
    """Run a POST once per ``Idempotency-Key``: effects, events and the stored answer commit
    together; a retry with the same key gets the first answer."""
    async with runtime.unit_of_work() as uow:

        async def run() -> tuple[int, dict[str, Any]]:
            return await action(uow)

        status, body, replayed = await run_idempotent(
            uow.session,
            scope=f"{staff.username}:{route}",
            key=key,
            payload=payload,
            action=run,
        )
        await uow.commit()
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if isinstance(body, dict) and isinstance(body.get("version"), int):
        headers |= etag(body["version"])
    return JSONResponse(body, status, headers=headers)
