"""The staff alert API (list, filter, paginate, acknowledge with Idempotency-Key), escalation
by the background monitor, and the open-alerts gauge computed from the database."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from notification.metrics import ALERTS_OPEN
from notification.service_layer.alerts import refresh_gauge
from shared.db import create_session_factory
from tests.integration.alerts.conftest import BOSS_EMAIL, SmtpServer, fetch
from tests.integration.alerts.test_stock_alerts import level, send_level, wait_alerts
from tests.integration.conftest import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("notification_app")]


async def raise_low_stock(producer: AIOKafkaProducer, db: AsyncEngine) -> tuple[str, str]:
    item = f"TENT-{uuid.uuid4().hex[:8]}"
    await send_level(producer, item, level(item, 1, 3, safety=20))
    (alert,) = await wait_alerts(db, item, lambda r: len(r) == 1)
    return item, str(alert["id"])


async def test_list_filter_and_paginate(
    producer: AIOKafkaProducer, db: AsyncEngine, api: httpx.AsyncClient, bearer: Any
) -> None:
    item, alert_id = await raise_low_stock(producer, db)
    auditor = bearer("auditor")
    page = await api.get("/api/v1/alerts", params={"item_code": item}, headers=auditor)
    assert page.status_code == 200, page.text
    (only,) = page.json()["items"]
    assert only["id"] == alert_id
    assert only["kind"] == "low_stock"
    assert only["label"] == "低于安全库存"
    assert only["details"]["available"] == 3

    filtered = await api.get(
        "/api/v1/alerts",
        params={"item_code": item, "kind": "out_of_stock"},
        headers=auditor,
    )
    assert filtered.json()["items"] == []
    unresolved = await api.get(
        "/api/v1/alerts", params={"status": "unresolved", "item_code": item}, headers=auditor
    )
    assert [a["id"] for a in unresolved.json()["items"]] == [alert_id]

    # Keyset pagination walks every alert exactly once, newest first.
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = (await api.get("/api/v1/alerts", params=params, headers=auditor)).json()
        seen += [a["id"] for a in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    total = (await fetch(db, "SELECT count(*) AS n FROM alerts"))[0]["n"]
    assert len(seen) == len(set(seen)) >= total - 5  # new ones may arrive meanwhile
    assert alert_id in seen


async def test_bad_requests_are_clear_4xx(api: httpx.AsyncClient, bearer: Any) -> None:
    staff = bearer("warehouse")
    assert (await api.get("/api/v1/alerts")).status_code == 401
    assert (await api.get("/api/v1/alerts", headers=bearer("finance"))).status_code == 403
    bad = await api.get("/api/v1/alerts", params={"kind": "flood"}, headers=staff)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_failed"
    assert (
        await api.get("/api/v1/alerts", params={"cursor": "!!"}, headers=staff)
    ).status_code == 422
    missing = await api.post(
        f"/api/v1/alerts/{uuid.uuid4()}/acknowledge", json={"note": "x"}, headers=staff
    )
    assert missing.status_code == 404
    assert (await api.get("/api/v1/alerts/not-a-uuid", headers=staff)).status_code == 422


async def test_acknowledge_with_a_note_idempotently(
    producer: AIOKafkaProducer, db: AsyncEngine, api: httpx.AsyncClient, bearer: Any
) -> None:
    _, alert_id = await raise_low_stock(producer, db)
    url = f"/api/v1/alerts/{alert_id}/acknowledge"
    staff = bearer("warehouse", "wh.li")

    assert (
        await api.post(url, json={"note": "已安排"}, headers=bearer("auditor"))
    ).status_code == 403
    blank = await api.post(url, json={"note": "   "}, headers=staff)
    assert blank.status_code == 422

    key = {"Idempotency-Key": f"ack-{uuid.uuid4()}"}
    first = await api.post(url, json={"note": "已向市红会申请调拨帐篷 50 顶"}, headers=staff | key)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status"] == "acknowledged"
    assert body["acknowledged_by"] == "wh.li"
    assert body["acknowledge_note"] == "已向市红会申请调拨帐篷 50 顶"

    again = await api.post(url, json={"note": "已向市红会申请调拨帐篷 50 顶"}, headers=staff | key)
    assert again.status_code == 200
    assert again.json() == body
    assert again.headers["Idempotent-Replayed"] == "true"
    different = await api.post(url, json={"note": "别的说明"}, headers=staff | key)
    assert different.status_code == 409

    twice = await api.post(url, json={"note": "再次确认"}, headers=staff)
    assert twice.status_code == 409
    assert "already acknowledged by wh.li" in twice.json()["error"]["message"]


async def test_an_unacknowledged_alert_is_escalated(
    producer: AIOKafkaProducer, db: AsyncEngine, smtp_server: SmtpServer
) -> None:
    item, alert_id = await raise_low_stock(producer, db)
    # Open for longer than the configured 60 minutes.
    async with db.begin() as conn:
        await conn.execute(
            text("UPDATE alerts SET raised_at = now() - interval '2 hours' WHERE id = :id"),
            {"id": uuid.UUID(alert_id)},
        )

    async def escalated() -> bool:
        rows = await fetch(
            db, "SELECT escalated_at FROM alerts WHERE id = :id", id=uuid.UUID(alert_id)
        )
        return rows[0]["escalated_at"] is not None

    await eventually(escalated, timeout=15)

    async def chief_told() -> bool:
        return any(item in m.get_content() for m in smtp_server.mailbox.to(BOSS_EMAIL))

    await eventually(chief_told)
    mail = next(m for m in smtp_server.mailbox.to(BOSS_EMAIL) if item in m.get_content())
    assert str(mail["Subject"]).startswith("【预警升级】")
    assert "已持续 2.0 小时无人确认" in mail.get_content()
    # Escalated once: the monitor keeps running but the alert is not escalated again.
    notices = await fetch(
        db,
        "SELECT count(*) AS n FROM notices WHERE alert_id = :id AND kind = 'alert_escalated'",
        id=uuid.UUID(alert_id),
    )
    assert notices[0]["n"] == 1


async def _db_counts(db: AsyncEngine) -> dict[tuple[str, str], int]:
    rows = await fetch(
        db,
        "SELECT kind, status, count(*) AS n FROM alerts WHERE resolved_at IS NULL "
        "GROUP BY kind, status",
    )
    return {(r["kind"], r["status"]): r["n"] for r in rows}


def _scraped(metrics: str) -> dict[tuple[str, str], int]:
    found = {}
    for kind, state, value in re.findall(
        r'^sunshine_alerts_open\{kind="(\w+)",state="(\w+)"\} ([0-9.]+)$', metrics, flags=re.M
    ):
        if float(value):
            found[(kind, state)] = int(float(value))
    return found


async def test_the_gauge_is_computed_from_the_database(
    producer: AIOKafkaProducer, db: AsyncEngine, api: httpx.AsyncClient
) -> None:
    await raise_low_stock(producer, db)

    async def matches() -> bool:
        scraped = _scraped((await api.get("/metrics")).text)
        return scraped == await _db_counts(db)

    await eventually(matches, timeout=15)
    # Whatever the process believed before (a restart starts from nothing, or a wrong value),
    # a refresh sets it from the database.
    ALERTS_OPEN.labels("expired", "open").set(999)
    ALERTS_OPEN.labels("low_stock", "open").set(0)
    await refresh_gauge(create_session_factory(db))
    assert _scraped((await api.get("/metrics")).text) == await _db_counts(db)
