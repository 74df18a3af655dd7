"""``/healthz`` (the process is alive) and ``/readyz`` (its database and Kafka are reachable)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from shared.aio import within

ReadinessCheck = Callable[[], Awaitable[bool]]

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: database and Kafka reachable",
    responses={503: {"description": "Not ready: the same body, with the failing check false"}},
)
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, ReadinessCheck] = request.app.state.runtime.readiness_checks
    names = list(checks)
    results = await asyncio.gather(*(checks[n]() for n in names), return_exceptions=True)
    status = {n: (r is True) for n, r in zip(names, results, strict=True)}
    ready = all(status.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": status}, 200 if ready else 503
    )


class KafkaProbe:
    """Is any bootstrap broker accepting connections? Cached briefly to stay cheap."""

    def __init__(self, bootstrap: str, ttl_s: float = 2.0) -> None:
        self._servers = [s.strip() for s in bootstrap.split(",") if s.strip()]
        self._ttl = ttl_s
        self._checked_at = 0.0
        self._last = False

    async def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._checked_at < self._ttl:
            return self._last
        self._last = any([await self._reachable(s) for s in self._servers])
        self._checked_at = now
        return self._last

    @staticmethod
    async def _reachable(server: str) -> bool:
        host, _, port = server.rpartition(":")
        try:
            _, writer = await within(asyncio.open_connection(host, int(port)), 1.0)
        except (OSError, TimeoutError, ValueError):
            return False
        writer.close()
        return True
