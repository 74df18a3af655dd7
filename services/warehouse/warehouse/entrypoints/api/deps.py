"""FastAPI dependencies and the idempotent-POST helper of the warehouse API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict
from shared.idempotency import check_key, run_idempotent
from shared.openapi import Declared, Responses, raises
from shared.pagination import encode_cursor
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork
from shared.versions import etag, parse_if_match
from warehouse.config import WarehouseSettings

ALL_STAFF = (
    Role.WAREHOUSE,
    Role.DISPATCHER,
    Role.APPROVER,
    Role.AUDITOR,
    Role.FINANCE,
)
Reader = require_roles(*ALL_STAFF)
Keeper = require_roles(Role.WAREHOUSE)


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


def settings_of(runtime: ServiceRuntime) -> WarehouseSettings:
    settings = runtime.settings
    assert isinstance(settings, WarehouseSettings)
    return settings


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


def if_match(
    value: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description="乐观锁：当前版本号 (optimistic concurrency: the version you read)",
        ),
    ] = None,
) -> int | None:
    return parse_if_match(value)


IfMatch = Annotated[int | None, Depends(if_match)]


# The OpenAPI of the ETag header: every answer that is one versioned record carries it.
ETAG_HEADER: dict[str, Any] = {
    "ETag": {
        "description": '记录的当前版本号 The record\'s version, quoted ("3"): send it as If-Match',
        "required": True,
        "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
    }
}


def versioned(*errors: Declared, status: int = 200) -> Responses:
    """A route's ``responses=`` when its answer ``status`` is one versioned record: that answer
    documents the ``ETag`` header, and the errors are ``raises(*errors)``."""
    return {status: {"headers": ETAG_HEADER}} | raises(*errors)


async def read_page(
    session: AsyncSession, query: Any, limit: int, cursor_of: Callable[[Any], Sequence[Any]]
) -> tuple[Sequence[Any], str | None]:
    """One page of a listing: the first ``limit`` rows of ``query`` (ordered by its keyset, after
    the caller's cursor) and the cursor of the next page, made of ``cursor_of(last row)``, or
    ``None`` on the last page (one row more than the page is read to know)."""
    rows = (await session.execute(query.limit(limit + 1))).all()
    page = rows[:limit]
    return page, encode_cursor(*cursor_of(page[-1])) if len(rows) > limit else None


# The 409 every POST run through ``idempotent_post`` can answer, besides its own.
POST_CONFLICT: Declared = (
    Conflict,
    "Idempotency-Key already used with a different request body, or a concurrent change (retry)",
)

# PostgreSQL errors a concurrent writer can cause: a violated CHECK (stock would go negative),
# a unique violation, a deadlock or a serialization failure. They are conflicts, never 500s.
_CONFLICT_SQLSTATES = {"23505", "23514", "40001", "40P01", "55P03"}


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code:
            return str(code)
    return None


async def idempotent_post(
    runtime: ServiceRuntime,
    staff: StaffPrincipal,
    key: str | None,
    path: str,
    payload: Any,
    action: Callable[[SqlUnitOfWork], Awaitable[tuple[int, dict[str, Any]]]],
) -> JSONResponse:
    """Run ``action`` in one unit of work, once per Idempotency-Key; commit; respond. An answer
    that is one versioned record (its body holds ``version``) carries it as the ``ETag``, a
    replay too (the stored answer's version)."""
    try:
        async with runtime.unit_of_work() as uow:

            async def run() -> tuple[int, dict[str, Any]]:
                return await action(uow)

            status, body, replayed = await run_idempotent(
                uow.session,
                scope=f"{staff.username}:POST {path}",
                key=key,
                payload=payload,
                action=run,
            )
            await uow.commit()
    except DBAPIError as exc:
        if _sqlstate(exc) in _CONFLICT_SQLSTATES:
            raise Conflict(
                "并发操作冲突，请重试 (concurrent change conflict; please retry)",
                details={"sqlstate": _sqlstate(exc)},
            ) from exc
        raise
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if isinstance(body, dict) and isinstance(body.get("version"), int):
        headers |= etag(body["version"])
    return JSONResponse(body, status, headers=headers)
