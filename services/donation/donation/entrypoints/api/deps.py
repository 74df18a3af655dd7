"""FastAPI dependencies of the donation API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from shared.idempotency import check_key
from shared.runtime import ServiceRuntime


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
