"""Preparedness alerts from warehouse signals on the real broker, into the real database:
``below_reorder`` and ``plan_gap`` raised when a signal turns on, updated (no new notice) while
it stays on, resolved when it turns off, re-raised as a new occurrence; older and redelivered
signals change nothing; staff are told by e-mail and webhook; the alerts API lists them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.contracts.warehouse import (
    PLAN_GAP_SIGNAL,
    REORDER_SIGNAL,
    PlanGapSignalV1,
    ReorderSignalV1,
)
from shared.messaging.topics import WAREHOUSE_EVENTS
from tests.integration.alerts.conftest import (
    STAFF_EMAIL,
    Receiver,
    SmtpServer,
    cloud_event,
    fetch,
    send,
)
from tests.integration.conftest import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("notification_app")]

WH = "ST-XIKOU"
WH_NAME = "溪口镇红十字备灾点"
# the signals are a few minutes old: well inside the fixture's 60-minute escalation, even when
# this module is imported minutes before its tests run (an older T0 got the alerts escalated,
# and the escalation's notices counted as the alert's own)
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)


def reorder(item: str, version: int, *, on: bool, suggested: int) -> dict[str, Any]:
    return ReorderSignalV1(
        warehouse_code=WH,
        warehouse_name=WH_NAME,
        town="溪口镇",
        item_code=item,
        item_name="棉被",
        category="clothing_bedding",
        unit="床",
        below_reorder=on,
        available=60,
        in_transit=0,
        on_order=0,
        amc=Decimal("40.00"),
        mos=Decimal("1.50"),
        reorder_mos=Decimal("3.00"),
        target_mos=Decimal("6.00"),
        suggested_quantity=suggested,
        policy_source="category",
        version=version,
        assessed_at=T0 + timedelta(minutes=version),
    ).model_dump(mode="json")


def plan_gap(plan: str, item: str, version: int, *, gap: int) -> dict[str, Any]:
    return PlanGapSignalV1(
        plan_code=plan,
        plan_name="2027年台风季备灾计划",
        town="溪口镇",
        item_code=item,
        item_name="救灾帐篷",
        unit="顶",
        target=120,
        held=120 - gap,
        in_transit=0,
        gap=gap,
        open=gap > 0,
        version=version,
        assessed_at=T0 + timedelta(minutes=version),
    ).model_dump(mode="json")


async def alerts_of(db: AsyncEngine, kind: str, item: str) -> list[dict[str, Any]]:
    return await fetch(
        db,
        "SELECT * FROM alerts WHERE kind = :kind AND item_code = :item "
        "ORDER BY raised_at, occurrence",
        kind=kind,
        item=item,
    )


async def wait_alerts(
    db: AsyncEngine, kind: str, item: str, predicate: Any
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def check() -> bool:
        nonlocal found
        found = await alerts_of(db, kind, item)
        return bool(predicate(found))

    await eventually(check, timeout=30)
    return found


async def count_is(n: int, found: Any) -> None:
    async def check() -> bool:
        return len(found()) == n

    await eventually(check)


async def kept_version(db: AsyncEngine, kind: str, key: str) -> int | None:
    rows = await fetch(
        db,
        "SELECT version FROM alert_preparedness_signals WHERE kind = :kind AND signal_key = :key",
        kind=kind,
        key=key,
    )
    return int(rows[0]["version"]) if rows else None


async def test_below_reorder_raised_updated_resolved_and_reraised(
    producer: AIOKafkaProducer,
    db: AsyncEngine,
    smtp_server: SmtpServer,
    receiver: Receiver,
    api: httpx.AsyncClient,
    bearer: Any,
) -> None:
    item = f"QUILT-{uuid.uuid4().hex[:8]}"
    key = f"{WH}/{item}"
    first = cloud_event(REORDER_SIGNAL, reorder(item, 1, on=True, suggested=160))
    await send(producer, WAREHOUSE_EVENTS, key, first, first)  # redelivered: one alert
    [alert] = await wait_alerts(db, "below_reorder", item, lambda r: len(r) == 1)
    assert (alert["status"], alert["occurrence"], alert["warehouse_code"]) == ("open", 1, WH)
    assert alert["details"]["suggested_quantity"] == 160
    assert alert["raised_at"] == T0 + timedelta(minutes=1)

    def mails() -> list[Any]:
        return [m for m in smtp_server.mailbox.to(STAFF_EMAIL) if item in m.get_content()]

    await count_is(1, mails)
    mail = mails()[0]
    assert str(mail["Subject"]) == f"【备灾预警】{WH_NAME} 棉被：低于补货点"
    assert "建议补充 160床（月均消耗 40.00，可用 60，目标 6.00 个月）" in mail.get_content()

    def hooks() -> list[Any]:
        return [r for r in receiver.on("/staff-hook") if r.json()["data"].get("item_code") == item]

    await count_is(1, hooks)
    assert hooks()[0].json()["data"]["alert_kind"] == "below_reorder"

    # a newer signal still on: the alert's suggestion is updated, no second notice
    await send(
        producer,
        WAREHOUSE_EVENTS,
        key,
        cloud_event(REORDER_SIGNAL, reorder(item, 2, on=True, suggested=200)),
    )
    await wait_alerts(
        db, "below_reorder", item, lambda r: r[0]["details"]["suggested_quantity"] == 200
    )
    # off: resolved; then an older "on" arrives late: nothing
    await send(
        producer,
        WAREHOUSE_EVENTS,
        key,
        cloud_event(REORDER_SIGNAL, reorder(item, 3, on=False, suggested=0)),
        cloud_event(REORDER_SIGNAL, reorder(item, 2, on=True, suggested=200)),
    )
    [resolved] = await wait_alerts(
        db, "below_reorder", item, lambda r: r[0]["status"] == "resolved"
    )
    assert resolved["resolution"] == "cleared"
    assert resolved["resolved_at"] == T0 + timedelta(minutes=3)
    assert await kept_version(db, "below_reorder", key) == 3

    # on again: a second occurrence, pointing at the first, and a second notice
    await send(
        producer,
        WAREHOUSE_EVENTS,
        key,
        cloud_event(REORDER_SIGNAL, reorder(item, 4, on=True, suggested=150)),
    )
    rows = await wait_alerts(db, "below_reorder", item, lambda r: len(r) == 2)
    assert (rows[1]["status"], rows[1]["occurrence"]) == ("open", 2)
    assert rows[1]["previous_alert_id"] == rows[0]["id"]
    await count_is(2, mails)
    await count_is(2, hooks)
    assert any("（再次出现）" in str(m["Subject"]) for m in mails())

    listed = await api.get(
        "/api/v1/alerts",
        params={"kind": "below_reorder", "item_code": item, "status": "unresolved"},
        headers=bearer("warehouse"),
    )
    assert listed.status_code == 200, listed.text
    [item_alert] = listed.json()["items"]
    assert item_alert["kind"] == "below_reorder"
    assert item_alert["label"] == "低于补货点"


async def test_plan_gap_opens_resizes_and_closes(
    producer: AIOKafkaProducer, db: AsyncEngine, smtp_server: SmtpServer
) -> None:
    plan = f"TY-{uuid.uuid4().hex[:6]}"
    item = f"TENT-{uuid.uuid4().hex[:6]}"
    key = f"{plan}/溪口镇/{item}"
    await send(
        producer,
        WAREHOUSE_EVENTS,
        key,
        cloud_event(PLAN_GAP_SIGNAL, plan_gap(plan, item, 1, gap=40)),
    )
    [alert] = await wait_alerts(db, "plan_gap", item, lambda r: len(r) == 1)
    assert alert["warehouse_code"] == f"{plan}/溪口镇"
    assert alert["warehouse_name"] == "2027年台风季备灾计划·溪口镇"
    assert (alert["status"], alert["details"]["gap"]) == ("open", 40)

    def mails() -> list[Any]:
        return [m for m in smtp_server.mailbox.to(STAFF_EMAIL) if item in m.get_content()]

    await count_is(1, mails)
    assert "缺口 40顶" in mails()[0].get_content()

    await send(
        producer,
        WAREHOUSE_EVENTS,
        key,
        cloud_event(PLAN_GAP_SIGNAL, plan_gap(plan, item, 2, gap=25)),
    )
    await wait_alerts(db, "plan_gap", item, lambda r: r[0]["details"]["gap"] == 25)
    await send(
        producer,
        WAREHOUSE_EVENTS,
        key,
        cloud_event(PLAN_GAP_SIGNAL, plan_gap(plan, item, 3, gap=0)),
    )
    [closed] = await wait_alerts(db, "plan_gap", item, lambda r: r[0]["status"] == "resolved")
    assert closed["resolution"] == "cleared"
    assert len(mails()) == 1  # resizing and closing sent no further notice
