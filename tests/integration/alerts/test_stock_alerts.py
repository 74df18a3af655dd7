"""Stock alerts from warehouse events on the real broker, into the real database: raised,
deduplicated while open, resolved when the condition clears, re-raised when it returns,
low → out of stock and back, stale versions ignored, near-expiry → expired → written off;
staff get each new alert by e-mail (real SMTP server) and signed webhook (real receiver)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from notification.channels.webhook import verify_signature
from shared.contracts.warehouse import (
    DISPATCH_SHIPPED,
    LOT_EXPIRED,
    LOT_NEAR_EXPIRY,
    STOCK_ADJUSTED,
    STOCK_LEVEL_CHANGED,
    DestinationV1,
    DispatchShippedV1,
    LotExpiredV1,
    LotNearExpiryV1,
    PickedLineV1,
    PickedLotV1,
    StockAdjustedV1,
    StockLevelChangedV1,
)
from shared.messaging.topics import WAREHOUSE_EVENTS
from tests.integration.alerts.conftest import (
    STAFF_EMAIL,
    WEBHOOK_SECRET,
    Receiver,
    SmtpServer,
    cloud_event,
    fetch,
    send,
)
from tests.integration.conftest import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("notification_app")]

WH = "WH-DISTRICT"
WH_NAME = "区备灾救灾中心仓库"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def level(item: str, version: int, available: int, safety: int = 100, **extra: Any) -> Any:
    on_hand = extra.pop("on_hand", available)
    return StockLevelChangedV1(
        warehouse_code=WH,
        warehouse_name=WH_NAME,
        item_code=item,
        item_name="棉被",
        category="clothing_bedding",
        unit="床",
        on_hand=on_hand,
        reserved=on_hand - available,
        available=available,
        safety_stock=safety,
        below_safety_stock=available < safety,
        version=version,
        movement="shipment",
        changed_at=T0 + timedelta(minutes=version),
    ).model_dump(mode="json")


async def send_level(producer: AIOKafkaProducer, item: str, *payloads: dict[str, Any]) -> None:
    await send(
        producer,
        WAREHOUSE_EVENTS,
        f"{WH}/{item}",
        *(cloud_event(STOCK_LEVEL_CHANGED, p) for p in payloads),
    )


async def alerts_of(db: AsyncEngine, item: str) -> list[dict[str, Any]]:
    return await fetch(
        db, "SELECT * FROM alerts WHERE item_code = :item ORDER BY raised_at, occurrence", item=item
    )


async def wait_alerts(db: AsyncEngine, item: str, predicate: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def check() -> bool:
        nonlocal found
        found = await alerts_of(db, item)
        return bool(predicate(found))

    await eventually(check, timeout=30)
    return found


def item_code() -> str:
    return f"QUILT-{uuid.uuid4().hex[:8]}"


async def test_low_stock_is_raised_once_resolved_and_reraised(
    producer: AIOKafkaProducer,
    db: AsyncEngine,
    smtp_server: SmtpServer,
    receiver: Receiver,
) -> None:
    item = item_code()
    # Three levels below safety stock (and one redelivered): one alert, its details updated.
    first = cloud_event(STOCK_LEVEL_CHANGED, level(item, 1, 87))
    await send(producer, WAREHOUSE_EVENTS, f"{WH}/{item}", first, first)
    await send_level(producer, item, level(item, 2, 60), level(item, 3, 40))
    rows = await wait_alerts(db, item, lambda r: r and r[0]["details"]["available"] == 40)
    assert len(rows) == 1
    alert = rows[0]
    assert (alert["kind"], alert["status"], alert["occurrence"]) == ("low_stock", "open", 1)
    assert alert["raised_at"] == T0 + timedelta(minutes=1)

    # Staff were told once, by e-mail and by a signed webhook.
    async def notified() -> bool:
        mails = [
            m
            for m in smtp_server.mailbox.to(STAFF_EMAIL)
            if item in str(m["Subject"]) or item in m.get_content()
        ]
        hooks = [r for r in receiver.on("/staff-hook") if r.json()["data"].get("item_code") == item]
        return len(mails) == 1 and len(hooks) == 1

    await eventually(notified)
    hook = next(r for r in receiver.on("/staff-hook") if r.json()["data"].get("item_code") == item)
    assert verify_signature(
        WEBHOOK_SECRET.encode(),
        hook.headers["X-Sunshine-Timestamp"],
        hook.body,
        hook.headers["X-Sunshine-Signature"],
    )
    payload = hook.json()
    assert payload["kind"] == "alert_raised"
    assert payload["data"]["alert_kind"] == "low_stock"
    assert payload["subject"] == f"【库存预警】{WH_NAME} 棉被：低于安全库存"

    # Stock recovers: resolved automatically.
    await send_level(producer, item, level(item, 4, 150))
    rows = await wait_alerts(db, item, lambda r: r[0]["status"] == "resolved")
    assert rows[0]["resolution"] == "cleared"
    assert rows[0]["resolved_at"] == T0 + timedelta(minutes=4)

    # It returns: a new occurrence, pointing at the previous one.
    await send_level(producer, item, level(item, 5, 10))
    rows = await wait_alerts(db, item, lambda r: len(r) == 2)
    assert rows[1]["occurrence"] == 2
    assert rows[1]["previous_alert_id"] == rows[0]["id"]
    assert rows[1]["status"] == "open"


async def test_low_to_out_of_stock_and_stale_versions(
    producer: AIOKafkaProducer, db: AsyncEngine
) -> None:
    item = item_code()
    await send_level(producer, item, level(item, 1, 20))
    await wait_alerts(db, item, lambda r: len(r) == 1)
    await send_level(producer, item, level(item, 3, 0, on_hand=5))
    rows = await wait_alerts(db, item, lambda r: len(r) == 2)
    low, out = rows
    assert (low["kind"], low["status"], low["resolution"]) == (
        "low_stock",
        "resolved",
        "superseded",
    )
    assert (out["kind"], out["status"]) == ("out_of_stock", "open")
    # A late, older level (version 2) changes nothing.
    await send_level(producer, item, level(item, 2, 150), level(item, 4, 0, on_hand=5))
    await eventually(
        lambda: _version_is(db, item, 4)  # the newer one was applied after the stale one
    )
    rows = await alerts_of(db, item)
    assert [(r["kind"], r["status"]) for r in rows] == [
        ("low_stock", "resolved"),
        ("out_of_stock", "open"),
    ]
    # Back to low stock: out of stock resolved, a second low-stock occurrence raised.
    await send_level(producer, item, level(item, 5, 30))
    rows = await wait_alerts(db, item, lambda r: len(r) == 3)
    assert [(r["kind"], r["status"], r["occurrence"]) for r in rows] == [
        ("low_stock", "resolved", 1),
        ("out_of_stock", "resolved", 1),
        ("low_stock", "open", 2),
    ]


async def _version_is(db: AsyncEngine, item: str, version: int) -> bool:
    rows = await fetch(
        db, "SELECT version FROM alert_stock_levels WHERE item_code = :item", item=item
    )
    return bool(rows) and rows[0]["version"] == version


def lot_event(
    model: type[LotNearExpiryV1] | type[LotExpiredV1],
    item: str,
    lot_id: uuid.UUID,
    *,
    on_hand: int,
    days: int,
) -> dict[str, Any]:
    extra = {"window_days": 30} if model is LotNearExpiryV1 else {}
    return model(
        lot_id=lot_id,
        lot_no=f"P2026-{str(lot_id)[-4:]}",
        item_code=item,
        item_name="方便面",
        unit="箱",
        warehouse_code=WH,
        warehouse_name=WH_NAME,
        expiry_date=date(2026, 12, 1) + timedelta(days=days),
        days_to_expiry=days,
        on_hand=on_hand,
        available=on_hand,
        scan_date=date(2026, 11, 28),
        **extra,
    ).model_dump(mode="json")


async def test_near_expiry_then_expired_then_written_off(
    producer: AIOKafkaProducer, db: AsyncEngine
) -> None:
    item = f"NOODLE-{uuid.uuid4().hex[:8]}"
    lot_a, lot_b = uuid.uuid4(), uuid.uuid4()
    t = datetime.now(UTC)
    await send(
        producer,
        WAREHOUSE_EVENTS,
        str(lot_a),
        cloud_event(
            LOT_NEAR_EXPIRY, lot_event(LotNearExpiryV1, item, lot_a, on_hand=40, days=10), at=t
        ),
    )
    await send(
        producer,
        WAREHOUSE_EVENTS,
        str(lot_b),
        cloud_event(
            LOT_NEAR_EXPIRY, lot_event(LotNearExpiryV1, item, lot_b, on_hand=8, days=20), at=t
        ),
    )
    rows = await wait_alerts(db, item, lambda r: r and len(r[0]["details"]["lots"]) == 2)
    assert len(rows) == 1
    assert rows[0]["kind"] == "near_expiry"
    assert rows[0]["details"]["on_hand"] == 48

    # Lot A expires (next scan): it moves to the expired alert; B keeps near-expiry open.
    await send(
        producer,
        WAREHOUSE_EVENTS,
        str(lot_a),
        cloud_event(
            LOT_EXPIRED,
            lot_event(LotExpiredV1, item, lot_a, on_hand=40, days=-1),
            at=t + timedelta(seconds=1),
        ),
    )
    rows = await wait_alerts(db, item, lambda r: len(r) == 2)
    near, expired = sorted(rows, key=lambda r: r["kind"] == "expired")
    assert near["status"] == "open"
    assert [lot["on_hand"] for lot in near["details"]["lots"]] == [8]
    assert expired["kind"] == "expired"
    assert expired["details"]["lots"][0]["lot_id"] == str(lot_a)

    # Lot B is shipped out entirely: near-expiry resolves.
    shipped = DispatchShippedV1(
        dispatch_id=uuid.uuid4(),
        dispatch_no="DP-2026-000900",
        kind="dispatch",
        from_warehouse_code=WH,
        from_warehouse_name=WH_NAME,
        destination=DestinationV1(kind="shelter", name="溪口镇安置点", town="溪口镇"),
        urgency="urgent",
        waybill_no="SF0001",
        lines=[
            PickedLineV1(
                item_code=item,
                item_name="方便面",
                unit="箱",
                quantity=8,
                lots=[PickedLotV1(lot_id=lot_b, lot_no="B", quantity=8, source_kind="procurement")],
            )
        ],
        shipped_at=t + timedelta(seconds=2),
    ).model_dump(mode="json")
    await send(producer, WAREHOUSE_EVENTS, "d", cloud_event(DISPATCH_SHIPPED, shipped))
    await wait_alerts(
        db, item, lambda r: next(a for a in r if a["kind"] == "near_expiry")["status"] == "resolved"
    )

    # The expired lot is written off to zero: the expired alert resolves.
    adjusted = StockAdjustedV1(
        adjustment_id=uuid.uuid4(),
        lot_id=lot_a,
        lot_no="A",
        item_code=item,
        item_name="方便面",
        unit="箱",
        warehouse_code=WH,
        reason="expired",
        quantity_before=40,
        quantity_after=0,
        delta=-40,
        adjusted_at=t + timedelta(seconds=3),
    ).model_dump(mode="json")
    await send(producer, WAREHOUSE_EVENTS, str(lot_a), cloud_event(STOCK_ADJUSTED, adjusted))
    rows = await wait_alerts(db, item, lambda r: all(a["status"] == "resolved" for a in r))
    assert {r["kind"]: r["resolution"] for r in rows} == {
        "near_expiry": "cleared",
        "expired": "cleared",
    }


async def test_one_unresolved_alert_per_kind_item_and_warehouse_is_enforced(
    producer: AIOKafkaProducer, db: AsyncEngine
) -> None:
    item = item_code()
    await send_level(producer, item, level(item, 1, 5))
    (alert,) = await wait_alerts(db, item, lambda r: len(r) == 1)
    with pytest.raises(IntegrityError, match="ux_alerts_one_unresolved"):
        async with db.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO alerts (id, kind, warehouse_code, item_code, warehouse_name, "
                    "item_name, status, details, raised_at, updated_at, source_event_id) "
                    "SELECT :id, kind, warehouse_code, item_code, warehouse_name, item_name, "
                    "'open', details, now(), now(), 'x' FROM alerts WHERE id = :old"
                ),
                {"id": uuid.uuid4(), "old": alert["id"]},
            )


async def test_the_app_is_up(notification_app: FastAPI) -> None:
    assert notification_app.state.runtime.extras["alert_monitor"] is not None


async def test_shuffled_and_repeated_levels_end_in_the_state_of_the_newest(
    producer: AIOKafkaProducer, db: AsyncEngine
) -> None:
    """Whatever order the levels of one item arrive in, and however often, the alerts end
    as the highest version says, and never two unresolved of one kind."""
    import random

    rng = random.Random(20261129)
    for _ in range(3):
        item = item_code()
        availables = [rng.choice([0, 0, 5, 50, 99, 100, 150]) for _ in range(12)]
        payloads = [level(item, v + 1, a, on_hand=a + 3) for v, a in enumerate(availables)]
        arrival = payloads + rng.sample(payloads, 4)
        rng.shuffle(arrival)
        await send_level(producer, item, *arrival)
        await eventually(lambda item=item: _version_is(db, item, 12))  # type: ignore[misc]
        rows = await alerts_of(db, item)
        unresolved = [r["kind"] for r in rows if r["status"] != "resolved"]
        last = availables[-1]
        expected = ["out_of_stock"] if last == 0 else ["low_stock"] if last < 100 else []
        assert unresolved == expected, (availables, [(r["kind"], r["status"]) for r in rows])


async def _consumed(db: AsyncEngine, event_ids: list[str]) -> bool:
    rows = await fetch(
        db,
        "SELECT count(*) AS n FROM inbox WHERE consumer LIKE '%notification.alerts' "
        "AND event_id IN (SELECT unnest(CAST(:ids AS text[])))",
        ids=event_ids,
    )
    return bool(rows[0]["n"] == len(event_ids))


async def test_expiry_alerts_do_not_depend_on_the_order_events_arrive_in(
    producer: AIOKafkaProducer, db: AsyncEngine
) -> None:
    """Lots, shipments, adjustments and levels travel on different partitions: a shipment or
    a write-off may be read before the scan that saw the lot. The end state is the same."""
    item = f"MEDKIT-{uuid.uuid4().hex[:8]}"
    lot_a, lot_b = uuid.uuid4(), uuid.uuid4()
    t = datetime.now(UTC) - timedelta(minutes=5)
    near_a = cloud_event(
        LOT_NEAR_EXPIRY, lot_event(LotNearExpiryV1, item, lot_a, on_hand=40, days=10), at=t
    )
    near_b = cloud_event(
        LOT_NEAR_EXPIRY, lot_event(LotNearExpiryV1, item, lot_b, on_hand=8, days=20), at=t
    )
    shipped_b = cloud_event(
        DISPATCH_SHIPPED,
        DispatchShippedV1(
            dispatch_id=uuid.uuid4(),
            dispatch_no="DP-2026-000901",
            kind="dispatch",
            from_warehouse_code=WH,
            from_warehouse_name=WH_NAME,
            destination=DestinationV1(kind="site", name="莼湖街道", town="莼湖街道"),
            urgency="normal",
            waybill_no="SF0002",
            lines=[
                PickedLineV1(
                    item_code=item,
                    item_name="急救包",
                    unit="箱",
                    quantity=8,
                    lots=[
                        PickedLotV1(lot_id=lot_b, lot_no="B", quantity=8, source_kind="donation")
                    ],
                )
            ],
            shipped_at=t + timedelta(seconds=30),
        ).model_dump(mode="json"),
    )
    written_off_a = cloud_event(
        STOCK_ADJUSTED,
        StockAdjustedV1(
            adjustment_id=uuid.uuid4(),
            lot_id=lot_a,
            lot_no="A",
            item_code=item,
            item_name="急救包",
            unit="箱",
            warehouse_code=WH,
            reason="damaged",
            quantity_before=40,
            quantity_after=0,
            delta=-40,
            adjusted_at=t + timedelta(seconds=40),
        ).model_dump(mode="json"),
    )
    # Newest first: the write-off and the shipment are read before the scan they follow.
    for event, key in ((written_off_a, str(lot_a)), (shipped_b, "d"), (near_b, str(lot_b))):
        await send(producer, WAREHOUSE_EVENTS, key, event)
    await eventually(lambda: _consumed(db, [written_off_a.id, shipped_b.id, near_b.id]))
    await send(producer, WAREHOUSE_EVENTS, str(lot_a), near_a)
    await eventually(lambda: _consumed(db, [near_a.id]))
    assert [r for r in await alerts_of(db, item) if r["status"] != "resolved"] == []

    # A level with nothing on hand, read before an older scan of a lot: no alert either.
    lot_c = uuid.uuid4()
    empty = level(item, 1, 0, safety=0, on_hand=0)
    empty["item_name"] = "急救包"
    zero = cloud_event(STOCK_LEVEL_CHANGED, empty)
    await send(producer, WAREHOUSE_EVENTS, f"{WH}/{item}", zero)
    await eventually(lambda: _consumed(db, [zero.id]))
    late_scan = cloud_event(
        LOT_EXPIRED,
        lot_event(LotExpiredV1, item, lot_c, on_hand=12, days=-3),
        at=datetime.fromisoformat(empty["changed_at"]) - timedelta(hours=1),
    )
    await send(producer, WAREHOUSE_EVENTS, str(lot_c), late_scan)
    await eventually(lambda: _consumed(db, [late_scan.id]))
    assert [r for r in await alerts_of(db, item) if r["status"] != "resolved"] == []
