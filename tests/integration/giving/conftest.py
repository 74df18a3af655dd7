"""Online giving end to end inside one test process: the donation service served over real
HTTP (uvicorn on a free port, so the gateway sandbox can post its notifications to it), the
gateway sandbox as its own process, real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from donation.config import DonationSettings
from donation.main import create_app
from shared.aio import within
from shared.auth import StaffPrincipal, TokenIssuer
from shared.config import ServiceSettings
from tests.payment_sandbox_process import SandboxProcess, free_port, start_sandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="package")
def giving_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    state: Path = tmp_path_factory.mktemp("giving-sandbox") / "state"
    with start_sandbox(state) as process:
        yield process


@dataclass
class Giving:
    base_url: str
    client: httpx.AsyncClient
    sandbox: httpx.AsyncClient
    sandbox_state: Path
    settings: DonationSettings
    issuer: TokenIssuer

    def staff(self, *roles: str, user: str = "finance") -> dict[str, str]:
        token = self.issuer.issue(
            StaffPrincipal(username=user, roles=frozenset(roles or ("finance",)), display_name=user)
        )
        return {"Authorization": f"Bearer {token}"}

    async def start(self, **body: Any) -> dict[str, Any]:
        order = {
            "channel": "wechat_pay",
            "amount_fen": 5000,
            "display": "surname",
            "name": "陈晓梅",
            "phone": "13900001234",
        } | body
        response = await self.client.post("/api/v1/giving/orders", json=order)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    async def pay(self, order: dict[str, Any], *, notify: bool = True) -> None:
        gateway = "wechat" if order["channel"] == "wechat_pay" else "alipay"
        if gateway == "alipay":  # the trade exists at Alipay once the payer opens the cashier
            opened = await self.sandbox.get(order["pay_url"])
            assert opened.status_code == 200, opened.text
        response = await self.sandbox.post(
            f"/sandbox/{gateway}/orders/{order['out_trade_no']}/pay", json={"notify": notify}
        )
        assert response.status_code == 200, response.text

    async def order(self, out_trade_no: str) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/giving/orders/{out_trade_no}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def db(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.settings.asyncpg_dsn)

    async def row(self, sql: str, *args: Any) -> asyncpg.Record | None:
        conn = await self.db()
        try:
            return await conn.fetchrow(sql, *args)
        finally:
            await conn.close()

    async def rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await self.db()
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def until_status(
        self, out_trade_no: str, status: str, timeout: float = 20.0
    ) -> asyncpg.Record:
        """Read the table (not the API, whose reads ask the gateway themselves)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            row = await self.row(
                "SELECT * FROM online_orders WHERE out_trade_no = $1", out_trade_no
            )
            if row is not None and row["status"] == status:
                return row
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"order {out_trade_no} not {status}: {row and dict(row)}")
            await asyncio.sleep(0.1)


@pytest.fixture(scope="package")
async def giving(
    databases: dict[str, ServiceSettings],
    kafka_topics: list[str],
    giving_sandbox: SandboxProcess,
    keys_dir: Path,
) -> AsyncIterator[Giving]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = databases["donation"].model_copy(
        update={
            "public_url": base,
            "port": port,
            "payment_sandbox_state": giving_sandbox.state_dir,
            "payment_sandbox_url": giving_sandbox.base_url,
            "online_sweep_after_s": 1.0,
            "online_sweep_interval_s": 0.5,
            "online_order_limit": 10_000,
            "online_read_limit": 10_000,
            "combined_receipt_below_fen": 1000,  # anonymous gifts under ¥10: monthly receipt
        }
    )
    assert isinstance(settings, DonationSettings)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    try:
        async with httpx.AsyncClient(base_url=base, timeout=15) as client:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient(base_url=giving_sandbox.base_url, timeout=15) as sandbox:
                issuer = TokenIssuer(
                    keys_dir / "jwt_private.pem",
                    issuer=settings.jwt_issuer,
                    audience=settings.jwt_audience,
                    ttl=timedelta(hours=1),
                )
                yield Giving(base, client, sandbox, giving_sandbox.state_dir, settings, issuer)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await within(task, 15)
