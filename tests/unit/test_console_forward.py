"""The consoles' same-origin proxy (``shared.web.forward``): the other service learns who the
client is, never a chain the client made up, and the client gets the headers it acts on."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response

from shared.web import forward

SEEN: list[httpx.Request] = []


def _upstream(request: httpx.Request) -> httpx.Response:
    SEEN.append(request)
    return httpx.Response(
        429,
        json={"error": {"code": "rate_limited", "message": "too many"}},
        headers={"Retry-After": "42", "X-Internal": "kept upstream"},
    )


def _app() -> FastAPI:
    app = FastAPI()
    app.state.runtime = SimpleNamespace(
        http=httpx.AsyncClient(transport=httpx.MockTransport(_upstream))
    )

    @app.post("/console/api/auth/token")
    async def login(request: Request) -> Response:
        return await forward(request, "http://donation.internal", "/api/v1/auth/token")

    return app


async def test_the_client_address_is_forwarded_and_a_sent_chain_dropped() -> None:
    SEEN.clear()
    transport = httpx.ASGITransport(app=_app(), client=("198.18.0.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://warehouse") as client:
        answer = await client.post(
            "/console/api/auth/token",
            data={"username": "keeper", "password": "x"},
            headers={"X-Forwarded-For": "203.0.113.9, 10.0.0.1"},
        )
    assert SEEN[0].headers["x-forwarded-for"] == "198.18.0.7"
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "42"
    assert "x-internal" not in answer.headers
