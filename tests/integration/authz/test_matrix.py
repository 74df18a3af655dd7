"""Every route of every service, called through the real app with every role, with a token
without a role, and without a valid token, checked against the policy table (policy.py).

- a staff route without a valid token (none, malformed, forged, expired, revoked) → ``401`` with
  ``{"error": {"code": "not_authenticated", "message"}}`` and ``WWW-Authenticate: Bearer``;
- a role the table does not admit → ``403`` with ``{"error": {"code": "forbidden", …}}``;
- a role it admits → neither ``401`` nor ``403`` nor a ``5xx`` (the request carries a dummy id
  and an empty body, so ``404``, ``409``, ``422`` or ``428`` are the usual answers);
- a public route → never ``401``/``403`` (nor ``5xx``), with no token or a bad one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.integration.authz.conftest import NO_ROLE, UNAUTHENTICATED, Apps
from tests.integration.authz.policy import (
    ANY_STAFF,
    POLICY,
    PUBLIC,
    ROLES,
    Access,
    Route,
    allowed,
)

pytestmark = pytest.mark.integration

# Routes that answer with a never-ending stream (server-sent events): only the status line
# and headers are read, straight from the ASGI app.
STREAMING: set[Route] = {("notification", "GET", "/api/v1/public/stream")}

# Query strings that make an admitted call fail validation instead of doing its work, so the
# matrix writes nothing (the role check still comes first).
QUERY: dict[Route, dict[str, str]] = {
    ("warehouse", "POST", "/api/v1/expiry-scans"): {"scan_date": "not-a-date"},
}

DUMMY_ID = "0190a000-0000-7000-8000-00000000a0a0"
DUMMY = {"code": "AUTHZ-NONE", "tracking_code": "AUTH-ZNON-EAUT-HZNO-NEAU-T", "name": "none.js"}


def concrete(path: str) -> str:
    """The template with a harmless value in each parameter (an unknown id or code)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        return DUMMY_ID if name.endswith("_id") else DUMMY.get(name, "authz-none")

    return re.sub(r"\{([^}]+)\}", value, path)


@dataclass
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes

    def describe(self) -> str:
        return f"{self.status} {self.body[:300].decode(errors='replace')}"


async def _stream_head(app: FastAPI, method: str, path: str, headers: dict[str, str]) -> Answer:
    """Call the ASGI app and stop once the response has started (its first body chunk read)."""
    started: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
    request_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected until cancelled
        raise AssertionError("unreachable")

    status: list[int] = []
    head: list[tuple[bytes, bytes]] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))
            head.extend(message.get("headers", []))
        elif message["type"] == "http.response.body" and not started.done():
            started.set_result(
                Answer(status[0], httpx.Headers(head), bytes(message.get("body", b"")))
            )

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("authz", 80),
        "state": {},
    }
    task = asyncio.create_task(app(scope, receive, send))  # type: ignore[arg-type]
    try:
        return await asyncio.wait_for(asyncio.shield(started), timeout=15)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def call(apps: Apps, route: Route, who: str) -> Answer:
    service, method, template = route
    path = concrete(template)
    headers = apps.headers[who]
    if route in STREAMING:
        return await _stream_head(apps.apps[service], method, path, headers)
    body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
    response = await apps.clients[service].request(
        method, path, headers=headers, json=body, params=QUERY.get(route)
    )
    return Answer(response.status_code, response.headers, response.content)


def assert_error(answer: Answer, status: int, code: str, label: str) -> None:
    assert answer.status == status, f"{label}: expected {status}, got {answer.describe()}"
    try:
        body = json.loads(answer.body)
    except ValueError:
        raise AssertionError(
            f"{label}: {status} without a JSON body: {answer.describe()}"
        ) from None
    assert isinstance(body, dict), f"{label}: body {body!r}"
    assert set(body) == {"error"}, f"{label}: body {body!r}"
    error = body["error"]
    assert isinstance(error, dict), f"{label}: body {body!r}"
    assert error.get("code") == code, f"{label}: error code {error.get('code')!r}, want {code!r}"
    message = error.get("message")
    assert isinstance(message, str), f"{label}: no message in {body!r}"
    assert message.strip(), f"{label}: empty message in {body!r}"


def _label(route: Route, who: str) -> str:
    service, method, path = route
    return f"{service} {method} {path} [{who}]"


def _cases(public: bool) -> list[Any]:
    cases = []
    for route, access in POLICY.items():
        if (access == PUBLIC) != public:
            continue
        people = ("no token", "malformed token") if public else (*ROLES, NO_ROLE, *UNAUTHENTICATED)
        for who in people:
            cases.append(pytest.param(route, access, who, id=_label(route, who)))
    return cases


STAFF_CASES = _cases(public=False)
PUBLIC_CASES = _cases(public=True)


@pytest.mark.parametrize(("route", "access", "who"), STAFF_CASES)
async def test_staff_route(apps: Apps, route: Route, access: Access, who: str) -> None:
    label = _label(route, who)
    answer = await call(apps, route, who)
    if who in UNAUTHENTICATED:
        assert_error(answer, 401, "not_authenticated", label)
        challenge = answer.headers.get("www-authenticate", "")
        assert challenge.lower().startswith("bearer"), f"{label}: WWW-Authenticate {challenge!r}"
        return
    role = None if who == NO_ROLE else who
    if allowed(access, role):
        assert answer.status not in (401, 403), f"{label}: allowed, got {answer.describe()}"
        assert answer.status < 500, f"{label}: allowed, got {answer.describe()}"
    else:
        assert access != ANY_STAFF
        assert_error(answer, 403, "forbidden", label)


@pytest.mark.parametrize(("route", "access", "who"), PUBLIC_CASES)
async def test_public_route(apps: Apps, route: Route, access: Access, who: str) -> None:
    label = _label(route, who)
    answer = await call(apps, route, who)
    assert answer.status not in (401, 403), f"{label}: public, got {answer.describe()}"
    assert answer.status < 500, f"{label}: public, got {answer.describe()}"
