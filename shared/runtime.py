"""The app factory every service uses: lifespan-built engine, relay and consumers.

Nothing is connected at import time: the engine, the Kafka clients and the background tasks
are created in the FastAPI lifespan and torn down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.api_docs import api_docs_router
from shared.auth import TokenVerifier
from shared.config import ServiceSettings
from shared.db import create_engine, create_session_factory, database_ready
from shared.errors import install_error_handlers
from shared.health import KafkaProbe, ReadinessCheck
from shared.health import router as health_router
from shared.logging import configure_logging
from shared.messaging.consumer import ConsumerRunner, EventHandler
from shared.messaging.relay import OutboxRelay
from shared.messaging.topics import STAFF_EVENTS
from shared.metrics import install_metrics
from shared.openapi import document_errors
from shared.request_guard import RequestGuardMiddleware
from shared.revocations import RevocationListener
from shared.uow import SqlUnitOfWork

log = logging.getLogger("sunshine.runtime")


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    verifier: TokenVerifier
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    relay: OutboxRelay | None = None
    consumers: list[ConsumerRunner] = field(default_factory=list)
    revocations: RevocationListener | None = None
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
        if settings.run_consumers and settings.run_revocation_listener:
            # every token this instance accepts is checked against the revocations on
            # staff.events; not ready before it has read those published before its start
            runtime.revocations = RevocationListener(
                bootstrap=settings.kafka_bootstrap,
                topic=settings.topic(STAFF_EVENTS),
                verifier=runtime.verifier,
                service=settings.service_name,
            )
            runtime.readiness_checks["revocations"] = runtime.revocations.ready
            runtime.tasks.append(supervised(runtime.revocations.run, "revocations"))
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
        # /api/docs is ours (shared/api_docs.py): Swagger UI from node_modules, under the CSP
        docs_url=None,
        swagger_ui_oauth2_redirect_url=None,
        redoc_url=None,
        # We export Prometheus metrics and carry W3C trace context in our own middleware and
        # logs; FastAPI's native OpenTelemetry would otherwise look up the global providers
        # (environment reads) on every request, a few per cent of intake CPU in profiles.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    install_metrics(app, settings.service_name)
    app.add_middleware(RequestGuardMiddleware)
    app.include_router(health_router)
    app.include_router(api_docs_router(settings))
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
