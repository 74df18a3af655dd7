"""Prometheus metrics, defined once per process and labelled by service."""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
CONSUMER_LAG = Gauge(
    "sunshine_consumer_lag",
    "Records behind the partition's high watermark, per consumer group and partition",
    ["service", "consumer", "topic", "partition"],
)
LOGIN_FAILURES = Counter(
    "sunshine_login_failures_total",
    "Refused staff logins, by reason (wrong_password, unknown_user, inactive, throttled)",
    ["service", "reason"],
)
STAFF_ACCOUNT_CHANGES = Counter(
    "sunshine_staff_account_changes_total",
    "Staff account changes (create, update, password_reset, password_change, disable, enable, "
    "unlock)",
    ["service", "action"],
)
DLQ_MESSAGES = Counter(
    "sunshine_dlq_messages_total", "Messages sent to a dead-letter topic", ["service", "topic"]
)


class MetricsMiddleware:
    """Pure ASGI middleware: count and time every request by its route template."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = str(getattr(route, "path", "unmatched"))
            if template != "/metrics":
                method = scope["method"]
                HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
                HTTP_LATENCY.labels(self.service, method, template).observe(
                    time.perf_counter() - started
                )


def install_metrics(app: FastAPI, service: str) -> None:
    """Expose ``/metrics`` and count/time every request by its route template."""
    app.add_middleware(MetricsMiddleware, service=service)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
