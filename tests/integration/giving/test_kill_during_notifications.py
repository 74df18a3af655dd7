"""Fault: the donation service is SIGKILLed while the gateways' notifications arrive.

The service runs as a real process (``python -m donation serve``) with its sweeper off, so only
the gateways' retries can deliver what the kill interrupted. Orders are paid at the sandbox in a
burst; the service is killed mid-way and started again two seconds later. Every order must end
paid, each exactly once: one gift per order, one ``applied`` per order.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from donation.config import DonationSettings
from shared.config import ServiceSettings
from tests.e2e.conftest import LOGS, settings_env
from tests.payment_sandbox_process import SandboxProcess, free_port, start_sandbox

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ORDERS = 40


@pytest.fixture(scope="module")
def kill_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    with start_sandbox(tmp_path_factory.mktemp("kill-sandbox") / "state") as process:
        yield process


def launch(settings: DonationSettings) -> subprocess.Popen[bytes]:
    LOGS.mkdir(parents=True, exist_ok=True)
    env = os.environ | settings_env(settings, "DONATION_")
    log = (LOGS / "donation-kill.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "donation", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )


async def ready(url: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(600):
            assert process.poll() is None, "the donation service exited; see donation-kill.log"
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the donation service did not become ready")


async def test_no_payment_is_lost_or_doubled_when_the_service_is_killed(
    databases: dict[str, ServiceSettings], kafka_topics: list[str], kill_sandbox: SandboxProcess
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    base = databases["donation"]
    settings = base.model_copy(
        update={
            "port": port,
            "public_url": url,
            "payment_sandbox_state": kill_sandbox.state_dir,
            "payment_sandbox_url": kill_sandbox.base_url,
            "run_payment_sweeper": False,  # only the gateways' retries may deliver
            "run_reconciliation": False,
            "online_order_limit": 10_000,
            "log_level": "WARNING",
        }
    )
    assert isinstance(settings, DonationSettings)
    process = launch(settings)
    try:
        await ready(url, process)
        async with httpx.AsyncClient(base_url=url, timeout=15) as client:
            orders: list[dict[str, Any]] = []
            for n in range(ORDERS):
                channel = "wechat_pay" if n % 2 == 0 else "alipay"
                scene = "native" if channel == "wechat_pay" else "page"
                reply = await client.post(
                    "/api/v1/giving/orders",
                    json={
                        "channel": channel,
                        "scene": scene,
                        "amount_fen": 1000 + n,
                        "display": "anonymous",
                    },
                )
                assert reply.status_code == 201, reply.text
                orders.append(reply.json())
        async with httpx.AsyncClient(base_url=kill_sandbox.base_url, timeout=15) as sandbox:
            for order in orders:  # Alipay's trades exist once the payer opened the cashier
                if order["channel"] == "alipay":
                    assert (await sandbox.get(order["pay_url"])).status_code == 200

            async def pay(order: dict[str, Any]) -> None:
                gateway = "wechat" if order["channel"] == "wechat_pay" else "alipay"
                reply = await sandbox.post(
                    f"/sandbox/{gateway}/orders/{order['out_trade_no']}/pay", json={}
                )
                assert reply.status_code == 200, reply.text

            burst = asyncio.gather(*(pay(o) for o in orders))
            await asyncio.sleep(0.05)
            process.send_signal(signal.SIGKILL)  # mid-burst: some applied, some in flight
            process.wait()
            await burst
        await asyncio.sleep(2)
        process = launch(settings)
        await ready(url, process)

        numbers = [o["out_trade_no"] for o in orders]
        conn = await asyncpg.connect(settings.asyncpg_dsn)
        try:
            for _ in range(300):
                paid = await conn.fetchval(
                    "SELECT count(*) FROM online_orders WHERE status = 'paid' "
                    "AND out_trade_no = ANY($1)",
                    numbers,
                )
                if paid == ORDERS:
                    break
                await asyncio.sleep(0.1)
            assert paid == ORDERS, f"{ORDERS - paid} payments lost"
            gifts = await conn.fetch(
                "SELECT o.out_trade_no, count(d.id) AS n FROM online_orders o "
                "JOIN donations d ON d.id = o.donation_id WHERE o.out_trade_no = ANY($1) "
                "GROUP BY o.out_trade_no",
                numbers,
            )
            assert len(gifts) == ORDERS
            assert all(g["n"] == 1 for g in gifts)
            refs = await conn.fetchval(
                "SELECT count(*) FROM donations d JOIN online_orders o ON o.transaction_id = "
                "d.external_ref AND o.channel = d.channel WHERE o.out_trade_no = ANY($1)",
                numbers,
            )
            assert refs == ORDERS  # one gift per gateway trade, none twice
            applied = await conn.fetchval(
                "SELECT count(*) FROM payment_events WHERE outcome = 'applied' "
                "AND out_trade_no = ANY($1)",
                numbers,
            )
            assert applied == ORDERS
        finally:
            await conn.close()
        async with httpx.AsyncClient(base_url=kill_sandbox.base_url, timeout=15) as sandbox:
            attempts = (await sandbox.get("/sandbox/notifications")).json()
        retried = {a["out_trade_no"] for a in attempts if a["attempt"] > 1}
        assert retried, "the kill interrupted no delivery: the scenario proved nothing"
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)
