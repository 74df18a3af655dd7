"""The three apps in process for the authorisation matrix: one of each per module, with their
real lifespans on the real test databases, but no outbox relay, no consumers and no background
workers (nothing here needs Kafka). The donation and notification apps also listen on free
local ports (uvicorn), because the warehouse console's same-origin proxy forwards there over
HTTP; the matrix itself calls every app through ``httpx.ASGITransport``.

Tokens: one per role, one without any role, and the unauthenticated variants (none, malformed,
forged with another key, expired, revoked: issued before its account's revocation, which each
app's verifier is told of as its revocation listener would)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

import warehouse.entrypoints.web as warehouse_web
from donation.config import DonationSettings
from donation.main import create_app as donation_app
from notification.config import NotificationSettings
from notification.main import create_app as notification_app
from shared.auth import StaffPrincipal, TokenIssuer, generate_keypair
from shared.config import ServiceSettings
from tests.integration.authz.policy import ROLES, Service
from warehouse.config import WarehouseSettings
from warehouse.main import create_app as warehouse_app

pytestmark = pytest.mark.integration

NO_ROLE = "(no role)"
# Ways of not being logged in: no header, and headers that must not get anyone in.
UNAUTHENTICATED = ("no token", "malformed token", "forged token", "expired token", "revoked token")
REVOKED_USER = "authz-revoked"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Apps:
    apps: dict[Service, FastAPI]
    clients: dict[Service, httpx.AsyncClient]
    headers: dict[str, dict[str, str]]  # a role, NO_ROLE or an UNAUTHENTICATED variant


async def _serve(app: FastAPI, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        assert not task.done(), "app failed to start"
        assert time.monotonic() < deadline, "app did not start within 30 s"
        await asyncio.sleep(0.02)
    return server, task


def _quiet(**extra: object) -> dict[str, object]:
    return {"run_relay": False, "run_consumers": False, "port": free_port(), **extra}


@pytest.fixture(scope="module")
def tokens(
    keys_dir: Path, databases: dict[str, ServiceSettings], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, str]]:
    settings = databases["donation"]

    def issuer(key_dir: Path, ttl: timedelta) -> TokenIssuer:
        return TokenIssuer(
            key_dir / "jwt_private.pem",
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl=ttl,
        )

    good = issuer(keys_dir, timedelta(hours=1))
    other_keys = tmp_path_factory.mktemp("authz-other-keys")
    generate_keypair(other_keys)
    forged = issuer(other_keys, timedelta(hours=1))
    expired = issuer(keys_dir, timedelta(minutes=-5))

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    headers = {
        role: bearer(good.issue(StaffPrincipal(f"authz-{role}", frozenset({role}), role)))
        for role in ROLES
    }
    headers[NO_ROLE] = bearer(good.issue(StaffPrincipal("authz-nobody", frozenset())))
    headers["no token"] = {}
    headers["malformed token"] = bearer("not.a.jwt")
    headers["forged token"] = bearer(forged.issue(StaffPrincipal("mallory", frozenset(ROLES))))
    headers["expired token"] = bearer(expired.issue(StaffPrincipal("authz-x", frozenset(ROLES))))
    headers["revoked token"] = bearer(good.issue(StaffPrincipal(REVOKED_USER, frozenset(ROLES))))
    return headers


@pytest.fixture(scope="module")
async def apps(
    databases: dict[str, ServiceSettings],
    tokens: dict[str, dict[str, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Apps]:
    d, w, n = databases["donation"], databases["warehouse"], databases["notification"]
    assert isinstance(d, DonationSettings)
    assert isinstance(w, WarehouseSettings)
    assert isinstance(n, NotificationSettings)
    d = d.model_copy(update=_quiet(seed_demo_staff=False))
    w = w.model_copy(update=_quiet(run_expiry_scan=False, run_preparedness_sweep=False))
    n = n.model_copy(
        update=_quiet(
            run_feed_log=False,
            run_delivery=False,
            log_signing_key_file=tmp_path_factory.mktemp("authz-feed") / "feed_log_signing.pem",
        )
    )
    built: dict[Service, FastAPI] = {
        "donation": donation_app(d),
        "warehouse": warehouse_app(w),
        "notification": notification_app(n),
    }
    # The warehouse console forwards login and alert calls to these two, over HTTP.
    proxy = warehouse_web.SETTINGS.model_copy(
        update={
            "web_donation_url": f"http://127.0.0.1:{d.port}",
            "web_notification_url": f"http://127.0.0.1:{n.port}",
        }
    )
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
    try:
        servers.append(await _serve(built["donation"], d.port))
        servers.append(await _serve(built["notification"], n.port))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(warehouse_web, "SETTINGS", proxy)
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(
                    built["warehouse"].router.lifespan_context(built["warehouse"])
                )
                clients: dict[Service, httpx.AsyncClient] = {}
                for name, app in built.items():
                    clients[name] = await stack.enter_async_context(
                        httpx.AsyncClient(
                            transport=httpx.ASGITransport(app=app),
                            base_url=f"http://{name}",
                            timeout=30,
                        )
                    )
                revoked_at = datetime.now(UTC)  # after the revoked token was issued
                for app in built.values():
                    app.state.runtime.verifier.revoke(REVOKED_USER, revoked_at)
                yield Apps(built, clients, tokens)
    finally:
        for server, task in servers:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)
