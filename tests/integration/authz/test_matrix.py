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
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import StaffPrincipal, TokenIssuer
from shared.config import ServiceSettings
from shared.organisations import DISTRICT, SEED_BY_TOWN, org_name
from tests.integration.authz.conftest import NO_ROLE, UNAUTHENTICATED, Apps
from tests.integration.authz.policy import (
    ANY_STAFF,
    POLICY,
    PUBLIC,
    ROLES,
    SCOPE,
    SCOPE_WAREHOUSES,
    Access,
    Route,
    ScopeCase,
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


# --------------------------------------------------------------------------- organisation scope


@dataclass
class Keepers:
    """Warehouse keepers of each organisation of the scope table, by org code: headers."""

    headers: dict[str, dict[str, str]]
    item: str


@pytest.fixture(scope="module")
async def keepers(apps: Apps, keys_dir: Path, databases: dict[str, ServiceSettings]) -> Keepers:
    """A warehouse keeper of each organisation the scope table names, the two stations (set
    up by the district's keeper) and an item of small value (a write-off of it needs no second
    person)."""
    settings = databases["donation"]
    issuer = TokenIssuer(
        keys_dir / "jwt_private.pem",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(hours=1),
    )
    headers = {
        org: {
            "Authorization": "Bearer "
            + issuer.issue(
                StaffPrincipal(f"authz-keeper-{org.lower()}", frozenset({"warehouse"}), org=org)
            )
        }
        for org in sorted({c.org for c in SCOPE} | {DISTRICT})
    }
    wh = apps.clients["warehouse"]
    district = headers[DISTRICT]
    for code, town in SCOPE_WAREHOUSES.items():
        created = await wh.post(
            "/api/v1/warehouses",
            headers=district,
            json={"code": code, "name": f"{town}救灾物资储备点", "kind": "station", "town": town},
        )
        assert created.status_code in (201, 409), created.text
    item = "AUTHZ-SCOPE-QUILT"
    made = await wh.post(
        "/api/v1/items",
        headers=district,
        json={"code": item, "name": "棉被", "category": "clothing_bedding", "unit": "床"},
    )
    assert made.status_code in (201, 409), made.text
    return Keepers(headers, item)


async def _expected_inbound(keepers: Keepers, wh: httpx.AsyncClient, warehouse: str) -> str:
    """A procurement announced at ``warehouse`` by the district's keeper; its id."""
    created = await wh.post(
        "/api/v1/inbounds",
        headers=keepers.headers[DISTRICT],
        json={
            "warehouse_code": warehouse,
            "procurement_order": f"AUTHZ-{uuid.uuid4().hex[:12]}",
            "lines": [{"item_code": keepers.item, "quantity": 5}],
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _lot(keepers: Keepers, wh: httpx.AsyncClient, warehouse: str) -> str:
    """A lot of 5 received at ``warehouse`` (by the district's keeper); its id."""
    inbound = await _expected_inbound(keepers, wh, warehouse)
    confirmed = await wh.post(
        f"/api/v1/inbounds/{inbound}/confirm",
        headers=keepers.headers[DISTRICT],
        json={"lines": [{"line_no": 1, "received_quantity": 5}]},
    )
    assert confirmed.status_code == 200, confirmed.text
    [line] = confirmed.json()["received_lines"]
    return str(line["lot_id"])


async def _on_hand(keepers: Keepers, wh: httpx.AsyncClient, warehouse: str, lot: str) -> int:
    lots = await wh.get(
        "/api/v1/lots",
        headers=keepers.headers[DISTRICT],
        params={"warehouse_code": warehouse, "item_code": keepers.item, "limit": 100},
    )
    assert lots.status_code == 200, lots.text
    [found] = [x for x in lots.json()["items"] if x["id"] == lot]
    return int(found["on_hand"])


def _scope_label(case: ScopeCase) -> str:
    verdict = "allowed" if case.allowed else "refused"
    return f"keeper of {case.org} {case.action} at {case.warehouse}: {verdict}"


@pytest.mark.parametrize("case", SCOPE, ids=_scope_label)
async def test_organisation_scope(apps: Apps, keepers: Keepers, case: ScopeCase) -> None:
    """A warehouse keeper acting at a station of their own organisation, of another one, and
    the district's keeper at any: the policy's scope table, against the running app. A refusal
    is a 403 that names both organisations, and changes nothing."""
    wh = apps.clients["warehouse"]
    me = keepers.headers[case.org]
    label = _scope_label(case)
    lot = None
    if case.action == "confirm an inbound":
        inbound = await _expected_inbound(keepers, wh, case.warehouse)
        response = await wh.post(
            f"/api/v1/inbounds/{inbound}/confirm",
            headers=me,
            json={"lines": [{"line_no": 1, "received_quantity": 5}]},
        )
        ok = 200
    elif case.action in ("record a stock count", "write off stock"):
        lot = await _lot(keepers, wh, case.warehouse)
        line: dict[str, Any] = {"lot_id": lot, "counted_quantity": 5}
        if case.action == "write off stock":
            line = {"lot_id": lot, "counted_quantity": 3, "reason": "damaged"}
        response = await wh.post(
            "/api/v1/stock-counts",
            headers=me,
            json={"warehouse_code": case.warehouse, "lines": [line]},
        )
        ok = 201
    else:
        response = await wh.get(f"/api/v1/warehouses/{case.warehouse}", headers=me)
        listed = await wh.get(
            "/api/v1/stock", headers=me, params={"warehouse_code": case.warehouse}
        )
        assert listed.status_code == response.status_code, f"{label}: {listed.text}"
        ok = 200
    answer = Answer(response.status_code, response.headers, response.content)
    if case.allowed:
        assert answer.status == ok, f"{label}: {answer.describe()}"
        if case.action == "write off stock":
            assert lot is not None
            assert await _on_hand(keepers, wh, case.warehouse, lot) == 3, label
        return
    assert_error(answer, 403, "forbidden", label)
    message = response.json()["error"]["message"]
    theirs = org_name(SEED_BY_TOWN[SCOPE_WAREHOUSES[case.warehouse]].code)
    for says in (case.warehouse, theirs, org_name(case.org)):
        assert says in message, f"{label}: the message does not say {says!r}: {message}"
    if lot is not None:  # nothing was counted or written off
        assert await _on_hand(keepers, wh, case.warehouse, lot) == 5, label
