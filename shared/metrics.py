"""Prometheus metrics, defined once per process and labelled by service."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.routing import Match

HTTP_REQUESTS = Counter(
    "sunshine_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "sunshine_http_request_seconds", "HTTP request latency", ["service", "method", "route"]
)
OUTBOX_BACKLOG = Gauge("sunshine_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_PUBLISHED = Counter(
    "sunshine_outbox_published_total", "Events published by the relay", ["service", "type"]
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "sunshine_outbox_publish_failures_total", "Failed publish attempts", ["service"]
)
EVENTS_CONSUMED = Counter(
    "sunshine_events_consumed_total",
    "Events consumed, by outcome (applied, duplicate, ignored, dead_lettered, retried)",
    ["service", "consumer", "type", "outcome"],
)
HANDLER_LATENCY = Histogram(
    "sunshine_event_handler_seconds", "Event handler latency", ["service", "consumer", "type"]
)
DLQ_MESSAGES = Counter(
    "sunshine_dlq_messages_total", "Messages sent to a dead-letter topic", ["service", "topic"]
)


def install_metrics(app: FastAPI, service: str) -> None:
    """Expose ``/metrics`` and count/time every request by its route template."""

    @app.middleware("http")
    async def _observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        route = _route_template(request)
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            if route != "/metrics":
                HTTP_REQUESTS.labels(service, request.method, route, str(status)).inc()
                HTTP_LATENCY.labels(service, request.method, route).observe(
                    time.perf_counter() - started
                )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _route_template(request: Request) -> str:
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.FULL:
            return str(getattr(route, "path", request.url.path))
    return "unmatched"
