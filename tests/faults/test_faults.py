"""Fault injection: each scenario runs a steady flow of gifts, injects its fault, heals it,
waits for quiescence and counts. Lost and duplicated must be 0 for everything acknowledged.

Reduced size inside ``make test``; full size with ``make faults`` (SUNSHINE_FAULT_SIZE=full).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy import text

from shared.contracts.donation import DONATION_RECEIVED, DonationReceivedV1
from shared.db import create_engine, create_session_factory
from shared.ids import new_tracking_code, uuid7
from shared.messaging.envelope import CloudEvent
from shared.messaging.relay import OutboxRelay
from shared.messaging.replay import replay
from shared.messaging.topics import ensure_topics
from shared.uow import SqlUnitOfWork
from tests.conftest import fault_results_file
from tests.faults.conftest import GIFTS, PG_OUTAGE_S, RATE, FaultStack
from tests.faults.harness import (
    BOOTSTRAP,
    Counts,
    Flow,
    Service,
    consumer_postgres,
    count,
    kafka,
)
from tests.integration.conftest import eventually
from tests.payment_sandbox_process import start_sandbox

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def record(counts: Counts) -> None:
    """Keep the row for the summary table (read by the controller, also under pytest-xdist)."""
    results = fault_results_file()
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as out:
        out.write(counts.row() + "\n")
    print("\n" + Counts.header() + "\n" + counts.row())


FLOW_SECONDS = GIFTS / RATE
Fault = Callable[[FaultStack, Flow], Awaitable[None]]


async def ensure_running(stack: FaultStack) -> None:
    for service in stack.all():
        if not service.alive():
            service.start()
    for service in stack.all():
        await service.wait_live()


async def run_scenario(stack: FaultStack, name: str, fault: Fault) -> Counts:
    await ensure_running(stack)
    flow = Flow(stack.donation.url, await stack.token(), marker=f"fault-{uuid.uuid4().hex[:12]}")
    flowing = asyncio.create_task(flow.run(GIFTS, RATE))
    try:
        await fault(stack, flow)
    finally:
        await flowing
    await ensure_running(stack)  # healed: every service is back
    counts = await count(
        name,
        flow,
        donation_dsn=stack.donation_settings.asyncpg_dsn,
        notification_dsn=stack.notification_settings.asyncpg_dsn,
        warehouse_dsn=stack.warehouse_settings.asyncpg_dsn,
    )
    record(counts)
    return counts


def assert_nothing_lost_or_doubled(counts: Counts) -> None:
    assert counts.acknowledged == counts.sent, "clients retried until every gift was acknowledged"
    assert counts.applied == counts.acknowledged
    assert counts.duplicates == 0
    assert counts.lost == 0


async def restart_with(service: Service, **env: str) -> None:
    service.stop()
    service.start(**env)
    await service.wait_live()


async def wait_until_dead(service: Service, timeout: float) -> None:
    async def dead() -> bool:
        return not service.alive()

    await eventually(dead, timeout=timeout)


async def test_kafka_broker_killed_mid_flow(fault_stack: FaultStack) -> None:
    async def fault(stack: FaultStack, flow: Flow) -> None:
        await asyncio.sleep(FLOW_SECONDS * 0.3)
        await asyncio.to_thread(kafka, "kill")  # SIGKILL, no controlled shutdown
        await asyncio.sleep(2)
        await asyncio.to_thread(kafka, "start")

    assert_nothing_lost_or_doubled(
        await run_scenario(fault_stack, "1 kafka SIGKILL + restart", fault)
    )


async def test_consumer_killed_between_db_commit_and_offset_commit(fault_stack: FaultStack) -> None:
    await restart_with(fault_stack.notification, SUNSHINE_FAILPOINTS="consumer.after_db_commit=6")

    async def fault(stack: FaultStack, flow: Flow) -> None:
        await wait_until_dead(stack.notification, timeout=FLOW_SECONDS + 60)
        stack.notification.start()  # healed: restarted without the failpoint

    counts = await run_scenario(fault_stack, "2 consumer SIGKILL after DB, before offset", fault)
    assert_nothing_lost_or_doubled(counts)


async def test_relay_killed_between_send_and_mark_published(fault_stack: FaultStack) -> None:
    await restart_with(fault_stack.donation, SUNSHINE_FAILPOINTS="relay.after_send=2")

    async def fault(stack: FaultStack, flow: Flow) -> None:
        await wait_until_dead(stack.donation, timeout=FLOW_SECONDS + 60)
        stack.donation.start()  # the re-sent events carry the same ce_id: inboxes absorb them

    counts = await run_scenario(fault_stack, "3 relay SIGKILL after send, before mark", fault)
    assert_nothing_lost_or_doubled(counts)


async def test_consumer_database_down_for_a_while(fault_stack: FaultStack) -> None:
    async def fault(stack: FaultStack, flow: Flow) -> None:
        await asyncio.sleep(FLOW_SECONDS * 0.3)
        await asyncio.to_thread(consumer_postgres, "stop")
        await asyncio.sleep(PG_OUTAGE_S)
        await asyncio.to_thread(consumer_postgres, "start")

    label = f"4 consumers' PostgreSQL down {PG_OUTAGE_S:.0f}s"
    assert_nothing_lost_or_doubled(await run_scenario(fault_stack, label, fault))


async def test_poison_message_is_dead_lettered_and_replayed(fault_stack: FaultStack) -> None:
    poison_id = str(uuid7())
    donation_id = uuid7()
    await restart_with(fault_stack.notification, SUNSHINE_FAULT_REJECT_EVENTS=poison_id)

    async def fault(stack: FaultStack, flow: Flow) -> None:
        await asyncio.sleep(FLOW_SECONDS * 0.3)
        now = datetime.now(UTC)
        event = CloudEvent(
            id=poison_id,
            type=DONATION_RECEIVED,
            source="/sunshine/donation",
            time=now,
            subject=str(donation_id),
            data=DonationReceivedV1(
                donation_id=donation_id,
                tracking_code=new_tracking_code(),
                kind="money",
                amount_fen=8800,
                channel="cash",
                display="anonymous",
                display_name="爱心人士",
                donor_type="individual",
                received_at=now,
            ).model_dump(mode="json"),
        )
        producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True)
        await producer.start()
        try:
            await producer.send_and_wait(
                "faults.donation.events",
                event.value(),
                key=str(donation_id).encode(),
                headers=event.headers(),
            )
        finally:
            await producer.stop()

    counts = await run_scenario(fault_stack, "5 poison message → DLQ, flow goes on", fault)
    assert_nothing_lost_or_doubled(counts)  # the partition moved on past the poison

    async def poison_in_feed() -> int:
        conn = await asyncpg.connect(fault_stack.notification_settings.asyncpg_dsn)
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM feed_entries WHERE subject_id = $1", str(donation_id)
                )
            )
        finally:
            await conn.close()

    assert await poison_in_feed() == 0
    await restart_with(fault_stack.notification)  # the fix is deployed
    report = await replay("faults.donation.events.dlq", bootstrap=BOOTSTRAP, event_ids={poison_id})
    assert report.replayed == [poison_id]

    async def replayed_once() -> bool:
        return await poison_in_feed() == 1

    await eventually(replayed_once, timeout=60)
    again = await replay("faults.donation.events.dlq", bootstrap=BOOTSTRAP, event_ids={poison_id})
    assert again.replayed == []
    await asyncio.sleep(2)
    assert await poison_in_feed() == 1


async def test_two_instances_one_killed_mid_flow(fault_stack: FaultStack) -> None:
    first = fault_stack.notification.settings
    second = Service("notification", first.model_copy(update={"port": first.port + 10}))
    second.start()
    await second.wait_live()
    await asyncio.sleep(3)  # let the group settle with two members

    async def fault(stack: FaultStack, flow: Flow) -> None:
        await asyncio.sleep(FLOW_SECONDS * 0.4)
        stack.notification.kill()  # its partitions move to the survivor after the session timeout

    try:
        counts = await run_scenario(fault_stack, "6 two instances, one SIGKILLed", fault)
    finally:
        second.stop()
    assert_nothing_lost_or_doubled(counts)


async def test_parallel_dispatches_on_one_scarce_lot(fault_stack: FaultStack) -> None:
    """30 one-unit dispatches race for a lot of 10: exactly 10 units leave, never more."""
    await ensure_running(fault_stack)
    stock, requests = 10, 30
    tag = uuid.uuid4().hex[:8].upper()
    wh = fault_stack.warehouse.url + "/api/v1"
    async with httpx.AsyncClient(timeout=30) as client:

        async def token(role: str) -> dict[str, str]:
            response = await client.post(
                fault_stack.donation.url + "/api/v1/auth/token",
                data={"username": role, "password": "sunshine-demo"},
            )
            return {"Authorization": f"Bearer {response.json()['access_token']}"}

        keeper, dispatcher, approver = (
            await token("warehouse"),
            await token("dispatcher"),
            await token("approver"),
        )

        async def post(path: str, headers: dict[str, str], body: object = None) -> httpx.Response:
            return await client.post(
                wh + path,
                json=body,
                headers=headers | {"Idempotency-Key": str(uuid.uuid4())},
            )

        warehouse_code, item_code = f"WH-F{tag}", f"SCARCE-{tag}"
        created = await post(
            "/warehouses",
            keeper,
            {"code": warehouse_code, "name": f"故障测试仓 {tag}", "kind": "district"},
        )
        assert created.status_code == 201, created.text
        created = await post(
            "/items",
            keeper,
            {"code": item_code, "name": "发电机", "category": "lighting_power", "unit": "台"},
        )
        assert created.status_code == 201, created.text
        inbound = await post(
            "/inbounds",
            keeper,
            {
                "warehouse_code": warehouse_code,
                "procurement_order": f"CG-{tag}",
                "lines": [{"item_code": item_code, "quantity": stock}],
            },
        )
        assert inbound.status_code == 201, inbound.text
        confirmed = await post(
            f"/inbounds/{inbound.json()['id']}/confirm",
            keeper,
            {"lines": [{"line_no": 1, "received_quantity": stock}]},
        )
        assert confirmed.status_code in (200, 201), confirmed.text

        async def approved_dispatch(n: int) -> str:
            requested = await post(
                "/dispatches",
                dispatcher,
                {
                    "from_warehouse_code": warehouse_code,
                    "destination": {"kind": "shelter", "name": f"安置点 {n}", "town": "溪口镇"},
                    "lines": [{"item_code": item_code, "quantity": 1}],
                },
            )
            assert requested.status_code == 201, requested.text
            dispatch = requested.json()
            approval = await client.post(
                f"{wh}/dispatches/{dispatch['id']}/approve",
                headers=approver | {"If-Match": str(dispatch["version"])},
            )
            assert approval.status_code == 200, approval.text
            return str(dispatch["id"])

        dispatch_ids = [await approved_dispatch(n) for n in range(requests)]
        picks = await asyncio.gather(*(post(f"/dispatches/{d}/pick", keeper) for d in dispatch_ids))
        picked = [d for d, r in zip(dispatch_ids, picks, strict=True) if r.status_code == 200]
        refused = [r for r in picks if r.status_code == 409]
        assert len(picked) + len(refused) == requests, [
            r.text for r in picks if r.status_code not in (200, 409)
        ]
        ships = await asyncio.gather(
            *(
                client.post(
                    f"{wh}/dispatches/{d}/ship",
                    json={"waybill_no": f"WB-{tag}-{n}"},
                    headers=keeper,
                )
                for n, d in enumerate(picked)
            )
        )
        shipped = sum(1 for r in ships if r.status_code == 200)
        level = await client.get(
            f"{wh}/stock", params={"warehouse_code": warehouse_code}, headers=keeper
        )
        (row,) = [r for r in level.json()["items"] if r["item_code"] == item_code]
    counts = Counts(
        "7 30 parallel dispatches on a lot of 10",
        sent=requests,
        acknowledged=len(picked),
        applied=shipped,
        feed=0,
        warehouse=row["on_hand"],
        duplicates=max(0, len(picked) - stock),
        lost=stock - shipped - row["on_hand"],
    )
    record(counts)
    assert len(picked) == stock, "exactly the available units are picked"
    assert shipped == stock
    assert row["on_hand"] == 0
    assert row["reserved"] == 0
    assert counts.duplicates == 0
    assert counts.lost == 0


class Pinged(BaseModel):
    n: int


async def test_relay_publishes_rows_written_while_kafka_was_stopped(
    fault_stack: FaultStack,
) -> None:
    """The relay alone: rows committed while the broker is down go out once it is back."""
    settings = fault_stack.donation_settings
    engine = create_engine(settings, application_name="faults-relay")
    key = str(uuid.uuid4())
    topic = f"faults.relay-outage.{uuid.uuid4().hex[:8]}"  # the broker keeps old runs
    await ensure_topics(BOOTSTRAP, [topic], partitions=1)
    relay = OutboxRelay(
        engine=engine,
        dsn=settings.asyncpg_dsn,
        bootstrap=BOOTSTRAP,
        service="faults",
        poll_interval_s=0.5,
    )

    async def unpublished() -> int:
        async with engine.connect() as conn:
            result = await conn.execute(
                text("SELECT count(*) FROM outbox WHERE key = :k AND published_at IS NULL"),
                {"k": key},
            )
            return int(result.scalar_one())

    await asyncio.to_thread(kafka, "stop")
    task = asyncio.create_task(relay.run())
    try:
        try:
            for n in range(5):
                async with SqlUnitOfWork(
                    create_session_factory(engine), source="/sunshine/faults"
                ) as uow:
                    uow.publish(
                        topic=topic,
                        key=key,
                        type="org.redcross.fenghua.test.pinged.v1",
                        payload=Pinged(n=n),
                    )
                    await uow.commit()
            await asyncio.sleep(2)
            assert await unpublished() == 5, "nothing can be published while the broker is down"
        finally:
            await asyncio.to_thread(kafka, "start")

        async def all_published() -> bool:
            return await unpublished() == 0

        await eventually(all_published, timeout=90)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.dispose()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest")
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
    finally:
        await consumer.stop()
    values = sorted(r.value for records in batch.values() for r in records)
    assert values == sorted(f'{{"n":{n}}}'.encode() for n in range(5))


PAYMENT_ORDERS = 40


async def test_donation_killed_while_payment_notifications_arrive(
    fault_stack: FaultStack, tmp_path: Path
) -> None:
    """Scenario 8 (issue 15): the donation service is SIGKILLed mid-burst of the gateways'
    payment notifications, its sweeper off, so only the gateways' retries can deliver what the
    kill interrupted; started again two seconds later. Every paid order must end as exactly one
    gift (one gift per gateway trade, one ``applied`` per order)."""
    with start_sandbox(tmp_path / "sandbox") as sandbox:
        base = fault_stack.donation_settings
        port = base.port + 20
        url = f"http://127.0.0.1:{port}"
        settings = base.model_copy(
            update={
                "port": port,
                "public_url": url,
                "payment_sandbox_state": sandbox.state_dir,
                "payment_sandbox_url": sandbox.base_url,
                "run_payment_sweeper": False,  # only the gateways' retries may deliver
                "run_reconciliation": False,
                "online_order_limit": 10_000,
            }
        )
        giving = Service("donation", settings)
        giving.start()
        try:
            await giving.wait_live()
            orders = await _online_orders(url, PAYMENT_ORDERS)
            async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=15) as gateway:
                for order in orders:  # an Alipay trade exists once its payer opened the cashier
                    if order["channel"] == "alipay":
                        assert (await gateway.get(order["pay_url"])).status_code == 200

                async def pay(order: dict[str, Any]) -> None:
                    name = "wechat" if order["channel"] == "wechat_pay" else "alipay"
                    reply = await gateway.post(
                        f"/sandbox/{name}/orders/{order['out_trade_no']}/pay", json={}
                    )
                    assert reply.status_code == 200, reply.text

                burst = asyncio.gather(*(pay(o) for o in orders))
                await asyncio.sleep(0.05)
                giving.kill()  # mid-burst: some applied, some in flight, some not yet sent
                await burst
                await asyncio.sleep(2)
                giving.start()
                await giving.wait_live()
                counts = await _payment_counts(settings.asyncpg_dsn, orders)
                attempts = (await gateway.get("/sandbox/notifications")).json()
        finally:
            giving.stop()
    record(counts)
    retried = {a["out_trade_no"] for a in attempts if a["attempt"] > 1}
    assert retried, "the kill interrupted no delivery: the scenario proved nothing"
    assert counts.acknowledged == counts.sent  # every order paid at the gateway
    assert counts.applied == counts.sent
    assert counts.duplicates == 0
    assert counts.lost == 0


async def _online_orders(url: str, count: int) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=url, timeout=15) as client:
        for n in range(count):
            channel = "wechat_pay" if n % 2 == 0 else "alipay"
            reply = await client.post(
                "/api/v1/giving/orders",
                json={
                    "channel": channel,
                    "scene": "native" if channel == "wechat_pay" else "page",
                    "amount_fen": 1000 + n,
                    "display": "anonymous",
                },
            )
            assert reply.status_code == 201, reply.text
            orders.append(reply.json())
    return orders


async def _payment_counts(dsn: str, orders: list[dict[str, Any]]) -> Counts:
    """Wait (30 s at most) for every order to be paid, then count gifts and duplicates."""
    numbers = [o["out_trade_no"] for o in orders]
    conn = await asyncpg.connect(dsn)
    try:
        paid = 0
        for _ in range(300):
            paid = await conn.fetchval(
                "SELECT count(*) FROM online_orders WHERE status = 'paid' "
                "AND out_trade_no = ANY($1)",
                numbers,
            )
            if paid == len(orders):
                break
            await asyncio.sleep(0.1)
        gifts = await conn.fetchval(
            "SELECT count(*) FROM donations d JOIN online_orders o ON o.transaction_id = "
            "d.external_ref AND o.channel = d.channel WHERE o.out_trade_no = ANY($1)",
            numbers,
        )
        applied = await conn.fetchval(
            "SELECT count(*) FROM payment_events WHERE outcome = 'applied' "
            "AND out_trade_no = ANY($1)",
            numbers,
        )
    finally:
        await conn.close()
    return Counts(
        scenario="8 donation SIGKILL during payment notices",
        sent=len(orders),
        acknowledged=len(orders),
        applied=paid,
        feed=0,
        warehouse=0,
        duplicates=max(gifts - paid, 0) + max(applied - paid, 0),
        lost=len(orders) - paid,
    )
