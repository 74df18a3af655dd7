"""FastAPI dependencies of the donation API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.auth import StaffPrincipal
from shared.idempotency import check_key, run_idempotent
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork
from shared.versions import etag, parse_if_match


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


Action = Callable[[SqlUnitOfWork], Awaitable[tuple[int, dict[str, Any]]]]
# Changes one row through the service layer (its result is not used).
Change = Callable[[SqlUnitOfWork], Awaitable[object]]
# The body a row is answered with, read in the same unit of work; it holds its ``version``.
Render = Callable[[SqlUnitOfWork], Awaitable[dict[str, Any]]]
# ``update(uow, expected_version, changes)``: a service layer ``update_*`` function.
Update = Callable[[SqlUnitOfWork, int | None, dict[str, Any]], Awaitable[object]]


class VersionedPatch(Protocol):
    """A PATCH body: the fields to change, and optionally the version read (else If-Match)."""

    version: int | None

    def model_dump(self, *, exclude_unset: bool, exclude: set[str]) -> dict[str, Any]: ...


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


async def act_on_row(
    runtime: ServiceRuntime,
    *,
    staff: StaffPrincipal,
    key: str | None,
    route: str,
    body: BaseModel | None,
    change: Change,
    render: Render,
    status: int = 200,
) -> JSONResponse:
    """A POST action on one row, once per ``Idempotency-Key`` (:func:`idempotent`; a retry
    repeats the request ``body``, none counts as ``{}``): ``change`` the row, then answer with
    it as it now is (``render``; its version as the ETag)."""

    async def act(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        await change(uow)
        await uow.flush()
        return status, await render(uow)

    payload = body.model_dump(mode="json") if body is not None else {}
    return await idempotent(runtime, staff=staff, key=key, route=route, payload=payload, action=act)


async def edit_row(
    runtime: ServiceRuntime,
    *,
    body: VersionedPatch,
    if_match: str | None,
    update: Update,
    render: Render,
) -> JSONResponse:
    """A PATCH with optimistic concurrency: ``update`` gets the version the caller read
    (``If-Match``, or the body's ``version``) and the fields sent; the answer is the row as it
    now is, with its new version as the ETag."""
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    async with runtime.unit_of_work() as uow:
        await update(uow, parse_if_match(if_match, body.version), changes)
        await uow.flush()
        result = await render(uow)
        await uow.commit()
    return JSONResponse(result, headers=etag(result["version"]))


async def read_row(runtime: ServiceRuntime, render: Render) -> JSONResponse:
    """A GET of one row, with its version as the ETag."""
    async with runtime.unit_of_work() as uow:
        body = await render(uow)
    # the session is closed here: the version comes from the body, not an expired row
    return JSONResponse(body, headers=etag(body["version"]))
