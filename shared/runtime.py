"""The app factory every service uses: lifespan-built engine, relay and consumers.

Nothing is connected at import time: the engine, the Kafka clients and the background tasks
are created in the FastAPI lifespan and torn down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import TokenVerifier
from shared.config import ServiceSettings
from shared.db import create_engine, create_session_factory, database_ready
from shared.errors import PayloadTooLarge, error_body, install_error_handlers
from shared.health import KafkaProbe, ReadinessCheck
from shared.health import router as health_router
from shared.logging import configure_logging
from shared.messaging.consumer import ConsumerRunner, EventHandler
from shared.messaging.relay import OutboxRelay
from shared.messaging.tracing import continue_trace
from shared.metrics import install_metrics
from shared.openapi import document_errors
from shared.uow import SqlUnitOfWork

log = logging.getLogger("sunshine.runtime")

MAX_BODY_BYTES = 1_000_000


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    verifier: TokenVerifier
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    relay: OutboxRelay | None = None
    consumers: list[ConsumerRunner] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    # one pooled client for calls to other services (the consoles' same-origin proxies)
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=15))

    def consumer(
        self, group: str, topics: Sequence[str], handlers: Mapping[str, EventHandler]
    ) -> ConsumerRunner:
        """An idempotent consumer of this service: group and topics get the topic prefix."""
        s = self.settings
        return ConsumerRunner(
            name=s.topic_prefix + group,
            service=s.service_name,
            topics=[s.topic(t) for t in topics],
            handlers=handlers,
            session_factory=self.session_factory,
            bootstrap=s.kafka_bootstrap,
            max_attempts=s.consumer_max_attempts,
        )

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.session_factory,
            source=f"/sunshine/{self.settings.service_name}",
            topic_prefix=self.settings.topic_prefix,
        )


ConsumerFactory = Callable[[ServiceRuntime], Sequence[ConsumerRunner]]
StartupHook = Callable[[ServiceRuntime], Awaitable[None]]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    consumers: ConsumerFactory | None = None,
    on_startup: StartupHook | None = None,
) -> FastAPI:
    configure_logging(settings.service_name, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings, application_name=f"{settings.service_name}-api")
        runtime = ServiceRuntime(
            settings=settings,
            engine=engine,
            session_factory=create_session_factory(engine),
            verifier=TokenVerifier(settings),
        )
        runtime.readiness_checks = {
            "database": lambda: database_ready(engine),
            "kafka": KafkaProbe(settings.kafka_bootstrap),
        }
        app.state.runtime = runtime
        if on_startup is not None:
            await on_startup(runtime)
        if settings.run_relay:
            runtime.relay = OutboxRelay(
                engine=engine,
                dsn=settings.asyncpg_dsn,
                bootstrap=settings.kafka_bootstrap,
                service=settings.service_name,
                batch_size=settings.relay_batch_size,
                poll_interval_s=settings.relay_poll_interval_s,
            )
            runtime.tasks.append(supervised(runtime.relay.run, "relay"))
        if settings.run_consumers and consumers is not None:
            runtime.consumers = list(consumers(runtime))
            for runner in runtime.consumers:
                runtime.tasks.append(supervised(runner.run, runner.name))
        log.info("started", extra={"port": settings.port})
        try:
            yield
        finally:
            for task in runtime.tasks:
                task.cancel()
            for task in runtime.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await runtime.http.aclose()
            await engine.dispose()
            log.info("stopped")

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        # We export Prometheus metrics and carry W3C trace context in our own middleware and
        # logs; FastAPI's native OpenTelemetry would otherwise look up the global providers
        # (environment reads) on every request, a few per cent of intake CPU in profiles.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    install_metrics(app, settings.service_name)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health_router)
    for router in routers:
        app.include_router(router)
    document_errors(app)
    return app


def supervised(
    run: Callable[[], Awaitable[None]], name: str, *, pause_s: float = 2.0
) -> asyncio.Task[None]:
    """Run a background loop; if it crashes, log and restart it after a pause.

    Cancelling the task always ends it. A loop that uses a ``TaskGroup`` can answer a
    cancellation with an ``ExceptionGroup`` instead of ``CancelledError`` (a child that fails
    while being cancelled): that is not a crash to restart from, or shutdown, which cancels
    and then awaits every background task, would wait forever.
    """

    async def supervise() -> None:
        this = asyncio.current_task()
        while True:
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                if this is not None and this.cancelling():
                    log.warning("background task %s failed while being cancelled", name)
                    raise asyncio.CancelledError from None
                log.exception("background task %s crashed; restarting in %.0fs", name, pause_s)
                await asyncio.sleep(pause_s)

    return asyncio.create_task(supervise(), name=name)


# U+0000 written as a JSON escape (after an even number of backslashes, so not ``\\u0000``).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_FORM = b"application/x-www-form-urlencoded"


def _nul_in(body: bytes, content_type: bytes) -> bool:
    if content_type.startswith(_FORM):
        return b"%00" in body or b"\x00" in body
    return b"\x00" in body or _JSON_NUL.search(body) is not None


class RequestContextMiddleware:
    """Pure ASGI middleware: adopt or start the W3C trace; refuse oversize bodies early; refuse
    text with the NUL character (U+0000) in the path, query or body, which PostgreSQL cannot
    store or compare (it would fail deep inside a handler as a 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        traceparent = headers.get(b"traceparent")
        continue_trace(traceparent.decode("latin-1") if traceparent else None)
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            exc = PayloadTooLarge(f"请求体过大，上限 {MAX_BODY_BYTES} 字节 (body too large)")
            response = JSONResponse(error_body(exc.code, exc.message), exc.status_code)
            await response(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            await _refuse_nul("query" if "\x00" not in scope["path"] else "path")(
                scope, receive, send
            )
            return
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body, receive = await _buffered(receive)
            if _nul_in(body, headers.get(b"content-type", b"").lower()):
                await _refuse_nul("body")(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body (bounded by MAX_BODY_BYTES upstream) and a ``receive`` replaying it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _refuse_nul(where: str) -> JSONResponse:
    message = "文本不得包含 NUL 字符 (text must not contain the NUL character U+0000)"
    problems = [{"field": where, "message": message, "type": "nul_character"}]
    return JSONResponse(
        error_body("validation_failed", f"请求数据无效 (invalid request): {message}", problems),
        422,
    )
