"""The HTTP server as every service runs it (``shared.cli.server_options``): the request head is
bounded while it is parsed, the body while it is read, and X-Forwarded-For is believed only
from the proxies that are configured — by default none.

A small echo application behind the services' own request guard stands in for a service, so
these run in a second; ``test_probe_http.py`` sends the same probes to the real services.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from shared.cli import server_options
from shared.config import ServiceSettings
from shared.http_server import MAX_HEADER_BYTES, MAX_HEADER_COUNT, MAX_URL_BYTES
from shared.request_guard import MAX_BODY_BYTES, RequestGuardMiddleware
from tests.integration.authz.conftest import free_port
from tests.security.raw_http import chunked_flood, request

READ: list[int] = []  # body bytes the application was handed, per request


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    READ.append(size)
    host = scope["client"][0] if scope.get("client") else None
    body = json.dumps({"client": host, "headers": len(scope["headers"]), "read": size}).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"json")]}
    )
    await send({"type": "http.response.body", "body": body})


async def _serve(**settings: Any) -> AsyncIterator[int]:
    port = free_port()
    options = server_options(ServiceSettings(port=port, **settings))
    server = uvicorn.Server(uvicorn.Config(RequestGuardMiddleware(echo), **options))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        assert not task.done(), "server failed to start"
        assert time.monotonic() < deadline, "server did not start within 10 s"
        await asyncio.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def port() -> AsyncIterator[int]:
    async for value in _serve():
        yield value


@pytest.fixture
async def behind_proxy() -> AsyncIterator[int]:
    async for value in _serve(forwarded_allow_ips="127.0.0.1"):
        yield value


def _get(port: int, headers: dict[str, str]) -> dict[str, Any]:
    response = httpx.get(f"http://127.0.0.1:{port}/", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_x_forwarded_for_from_loopback_is_not_believed_by_default(port: int) -> None:
    answer = await asyncio.to_thread(_get, port, {"X-Forwarded-For": "203.0.113.9"})
    assert answer["client"] == "127.0.0.1"


async def test_x_forwarded_for_is_believed_from_a_configured_proxy(behind_proxy: int) -> None:
    answer = await asyncio.to_thread(_get, behind_proxy, {"X-Forwarded-For": "203.0.113.9"})
    assert answer["client"] == "203.0.113.9"


def _head(path: str = "/", extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n".encode()


async def test_a_megabyte_header_is_refused_with_431_and_the_connection_closed(port: int) -> None:
    answer = await asyncio.to_thread(request, port, _head(extra=f"X-Big: {'a' * 1_000_000}\r\n"))
    assert answer.status == 431
    assert "connection: close" in answer.head.lower()
    assert json.loads(answer.body)["error"]["code"] == "request_head_too_large"


async def test_headers_over_the_total_size_are_refused(port: int) -> None:
    many = "".join(f"X-H{i}: {'b' * 1000}\r\n" for i in range(MAX_HEADER_BYTES // 1000 + 2))
    answer = await asyncio.to_thread(request, port, _head(extra=many[: 60 * 1024]))
    assert answer.status == 431


async def test_more_headers_than_allowed_are_refused(port: int) -> None:
    many = "".join(f"X-H{i}: v\r\n" for i in range(MAX_HEADER_COUNT + 1))
    assert (await asyncio.to_thread(request, port, _head(extra=many))).status == 431


async def test_a_request_within_the_header_limits_is_served(port: int) -> None:
    headers = {f"X-H{i}": "c" * 200 for i in range(MAX_HEADER_COUNT - 10)}
    answer = await asyncio.to_thread(_get, port, headers)
    assert answer["headers"] >= MAX_HEADER_COUNT - 10


async def test_a_request_target_over_the_limit_is_refused_with_414(port: int) -> None:
    answer = await asyncio.to_thread(request, port, _head("/?q=" + "x" * (MAX_URL_BYTES + 1)))
    assert answer.status == 414


async def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(port: int) -> None:
    READ.clear()
    answer = await asyncio.to_thread(chunked_flood, port, "/", total=20_000_000)
    assert answer.status == 413
    assert json.loads(answer.body)["error"]["code"] == "payload_too_large"
    assert READ == []  # the application never ran
    # the server answered long before the 20 MB were out (socket buffers hold a few MB)
    assert answer.sent < 10_000_000


async def test_a_declared_length_over_the_limit_is_refused_before_the_body(port: int) -> None:
    head = (
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
    ).encode()
    answer = await asyncio.to_thread(request, port, head)  # the body is never sent
    assert answer.status == 413


async def test_a_chunked_body_at_the_limit_is_passed_on_whole(port: int) -> None:
    READ.clear()
    answer = await asyncio.to_thread(
        chunked_flood, port, "/", total=MAX_BODY_BYTES - MAX_BODY_BYTES % 1000, chunk=1000
    )
    assert answer.status == 200
    assert READ == [MAX_BODY_BYTES - MAX_BODY_BYTES % 1000]
