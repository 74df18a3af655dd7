"""The web command layer both write APIs share: a route maps HTTP to one unit of work.

- :func:`idempotent` runs a POST once per ``Idempotency-Key``: effects, events and the stored
  answer commit together; a retry with the same key gets the first answer (and its ETag).
- :func:`act_on_row` is a POST action on one row, answered with the row as it now is.
- :func:`edit_row` is a PATCH with optimistic concurrency (``If-Match`` or the body's
  ``version``), answered with the row and its new version as the ETag.
- :func:`read_row` is a GET of one versioned row, with its ETag.

Every write answers a concurrent writer's PostgreSQL error (a deadlock, a serialization
failure, a lock not available, a unique or CHECK violation that a concurrent writer caused)
as ``409`` "retry", never as a 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError

from shared.auth import StaffPrincipal
from shared.errors import Conflict
from shared.idempotency import check_key, run_idempotent
from shared.openapi import Declared
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork
from shared.versions import etag, parse_if_match


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


def idempotency_key(
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


def if_match(description: str) -> Callable[..., int | None]:
    """A dependency reading ``If-Match`` as a version number (documented with
    ``description``): ``IfMatch = Annotated[int | None, Depends(if_match("..."))]``."""

    # the header as a default, not in ``Annotated``: this module's annotations are strings,
    # and one naming the local ``description`` could not be resolved
    def version(
        value: str | None = Header(None, alias="If-Match", description=description),
    ) -> int | None:
        return parse_if_match(value)

    return version


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


# The 409 every write through this module can answer, besides its own.
WRITE_CONFLICT: Declared = (
    Conflict,
    "Idempotency-Key already used with a different request body, or a concurrent change (retry)",
)

# PostgreSQL errors a concurrent writer can cause: a unique violation, a violated CHECK (stock
# would go negative), a serialization failure, a deadlock, a lock not available.
_CONFLICT_SQLSTATES = {"23505", "23514", "40001", "40P01", "55P03"}


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code:
            return str(code)
    return None


@asynccontextmanager
async def conflicts_as_409() -> AsyncIterator[None]:
    """A concurrent writer's PostgreSQL error inside becomes a 409 that says to retry."""
    try:
        yield
    except DBAPIError as exc:
        state = _sqlstate(exc)
        if state in _CONFLICT_SQLSTATES:
            raise Conflict(
                "并发操作冲突，请重试 (concurrent change conflict; please retry)",
                details={"sqlstate": state},
            ) from exc
        raise


def _versioned(body: Any, headers: dict[str, str]) -> dict[str, str]:
    if isinstance(body, dict) and isinstance(body.get("version"), int):
        return headers | etag(body["version"])
    return headers


async def idempotent(
    runtime: ServiceRuntime,
    *,
    staff: StaffPrincipal,
    key: str | None,
    route: str,
    payload: Any,
    action: Action,
) -> JSONResponse:
    """Run a write once per ``Idempotency-Key`` (scoped to the caller and ``route``, e.g.
    ``"POST /api/v1/items"``): effects, events and the stored answer commit together; a retry
    with the same key gets the first answer. An answer that is one versioned record carries
    its version as the ``ETag``, a replay too."""
    async with conflicts_as_409(), runtime.unit_of_work() as uow:

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
    return JSONResponse(body, status, headers=_versioned(body, headers))


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
    if_match: int | None,
    update: Update,
    render: Render,
) -> JSONResponse:
    """A PATCH with optimistic concurrency: ``update`` gets the version the caller read
    (``If-Match``, else the body's ``version``) and the fields sent; the answer is the row as
    it now is, with its new version as the ETag."""
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    expected = if_match if if_match is not None else body.version
    async with conflicts_as_409(), runtime.unit_of_work() as uow:
        await update(uow, expected, changes)
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
