"""Goods lineage: warehouse events produced to this run's ``warehouse.events`` topic are
consumed by the donation service (its consumer runs in process); the gift moves in stock →
used → completed, its timeline and the public tracking endpoint grow, and each step is
re-published as ``goods_tracked``. Redelivery changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from shared.contracts.donation import (
    DONATION_GOODS_TRACKED,
    DONATION_STATUS_CHANGED,
    NOTICE_REQUESTED,
)
from shared.contracts.warehouse import (
    DISPATCH_DELIVERED,
    DISPATCH_SHIPPED,
    STOCK_ADJUSTED,
    STOCK_RECEIVED,
    DeliveredLineV1,
    DeliveredLotV1,
    DestinationV1,
    DispatchDeliveredV1,
    DispatchShippedV1,
    LotSourceV1,
    PickedLineV1,
    PickedLotV1,
    ReceivedLotV1,
    StockAdjustedV1,
    StockReceivedV1,
)
from shared.ids import uuid7
from shared.messaging.envelope import CloudEvent
from shared.messaging.topics import WAREHOUSE_EVENTS
from tests.conftest import KAFKA_BOOTSTRAP, TOPIC_PREFIX
from tests.integration.conftest import eventually
from tests.integration.donation.conftest import Api, EventLog, gift

pytestmark = pytest.mark.integration

T = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def produce(
    events: list[tuple[str, str, BaseModel]], *, ids: list[str] | None = None
) -> list[str]:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, enable_idempotence=True)
    await producer.start()
    sent = []
    try:
        for n, (type_, key, payload) in enumerate(events):
            event = CloudEvent(
                id=ids[n] if ids else str(uuid7()),
                type=type_,
                source="/sunshine/warehouse",
                time=datetime.now(UTC),
                data=payload.model_dump(mode="json"),
                subject=key,
            )
            await producer.send_and_wait(
                TOPIC_PREFIX + WAREHOUSE_EVENTS,
                value=event.value(),
                key=key.encode(),
                headers=event.headers(),
            )
            sent.append(event.id)
    finally:
        await producer.stop()
    return sent


def header(dispatch_id: uuid.UUID) -> dict[str, Any]:
    return {
        "dispatch_id": dispatch_id,
        "dispatch_no": "DP-2026-009001",
        "kind": "dispatch",
        "from_warehouse_code": "WH-DISTRICT",
        "from_warehouse_name": "区备灾救灾中心仓库",
        "destination": DestinationV1(kind="shelter", name="溪口镇中心小学安置点", town="溪口镇"),
        "urgency": "urgent",
    }


async def test_goods_gift_in_stock_dispatched_signed_completed(
    api: Api, event_log: EventLog
) -> None:
    created = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(
            kind="goods",
            amount_fen=None,
            channel="on_site",
            display="named",
            donor={
                "name": "宁波某某电器有限公司",
                "donor_type": "organization",
                "email": "csr@example.com",
            },
            items=[
                {
                    "item_code": "QUILT",
                    "name": "棉被",
                    "quantity": 10,
                    "unit": "床",
                    "value_fen": 120000,
                }
            ],
        )
        | {"amount_fen": 120000},
    )
    donation_id = uuid.UUID(created["id"])
    code = created["tracking_code"]
    lot_id, dispatch_id = uuid7(), uuid7()
    received = StockReceivedV1(
        inbound_id=uuid7(),
        receipt_no="RK-2026-009001",
        warehouse_code="WH-DISTRICT",
        warehouse_name="区备灾救灾中心仓库",
        source=LotSourceV1(source_kind="donation", donation_id=donation_id, tracking_code=code),
        received_at=T,
        lots=[
            ReceivedLotV1(
                lot_id=lot_id,
                lot_no="D-QUILT-1",
                item_code="QUILT",
                item_name="棉被",
                category="clothing_bedding",
                unit="床",
                warehouse_code="WH-DISTRICT",
                quantity=10,
                unit_value_fen=12000,
                donation_id=donation_id,
                tracking_code=code,
            )
        ],
    )
    picked = [
        PickedLineV1(
            item_code="QUILT",
            item_name="棉被",
            unit="床",
            quantity=10,
            lots=[
                PickedLotV1(
                    lot_id=lot_id,
                    lot_no="D-QUILT-1",
                    quantity=10,
                    source_kind="donation",
                    donation_id=donation_id,
                    tracking_code=code,
                )
            ],
        )
    ]
    shipped = DispatchShippedV1(
        **header(dispatch_id), waybill_no="WB-1", lines=picked, shipped_at=T + timedelta(hours=2)
    )

    def delivered(quantity: int) -> DispatchDeliveredV1:
        return DispatchDeliveredV1(
            **header(dispatch_id),
            recipient_name_masked="王*明",
            recipient_org="溪口镇人民政府",
            partial=quantity < 10,
            lines=[
                DeliveredLineV1(
                    item_code="QUILT",
                    item_name="棉被",
                    unit="床",
                    shipped_quantity=10,
                    delivered_quantity=quantity,
                    returned_quantity=0,
                    lots=[
                        DeliveredLotV1(
                            lot_id=lot_id,
                            lot_no="D-QUILT-1",
                            shipped_quantity=10,
                            delivered_quantity=quantity,
                            returned_quantity=0,
                            donation_id=donation_id,
                            tracking_code=code,
                        )
                    ],
                )
            ],
            delivered_at=T + timedelta(hours=6),
        )

    async def status() -> str:
        return str((await api.ok("GET", f"/api/v1/donations/{donation_id}"))["status"])

    ids = await produce([(STOCK_RECEIVED, str(lot_id), received)])
    await eventually(lambda: _is(status, "in_stock"), timeout=30)
    # the same event delivered again: no second lineage row
    await produce([(STOCK_RECEIVED, str(lot_id), received)], ids=ids)
    await produce(
        [
            (DISPATCH_SHIPPED, str(dispatch_id), shipped),
            (DISPATCH_DELIVERED, str(dispatch_id), delivered(4)),
        ]
    )
    await eventually(lambda: _is(status, "used"), timeout=30)
    await produce([(DISPATCH_DELIVERED, str(dispatch_id), delivered(6))])
    await eventually(lambda: _is(status, "completed"), timeout=30)

    tracked = await api.client.get(f"/api/v1/track/{code}")
    assert tracked.status_code == 200
    view = tracked.json()
    stages = [(g["stage"], g["quantity"], g["destination"]) for g in view["goods"]]
    assert stages == [
        ("in_stock", 10, "区备灾救灾中心仓库"),
        ("dispatched", 10, "溪口镇"),
        ("signed", 4, "溪口镇"),
        ("signed", 6, "溪口镇"),
    ]
    assert view["goods"][-1]["signed_by"] == "溪口镇人民政府 王*明"
    assert [e["event"] for e in view["timeline"]][-1] == "completed"

    events = await event_log.wait(DONATION_GOODS_TRACKED, 4, donation_id=str(donation_id))
    assert [e.data["stage"] for e in events] == ["in_stock", "dispatched", "signed", "signed"]
    moves = await event_log.wait(DONATION_STATUS_CHANGED, 3, donation_id=str(donation_id))
    assert [m.data["to_status"] for m in moves] == ["in_stock", "used", "completed"]
    (notice,) = await event_log.wait(
        NOTICE_REQUESTED, donation_id=str(donation_id), milestone="goods_distributed"
    )
    assert notice.data["facts"]["destination"] == "溪口镇"


async def _is(status: Any, expected: str) -> bool:
    return bool(await status() == expected)


async def test_a_transfer_to_a_station_is_not_distribution(api: Api) -> None:
    """District warehouse → town station is a move between our own warehouses: the gift is
    neither restocked nor signed for; only the station's dispatch to people completes it."""
    created = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(
            kind="goods",
            amount_fen=None,
            channel="on_site",
            display="named",
            donor={"name": "奉化某商会", "donor_type": "organization"},
            items=[
                {
                    "item_code": "TENT",
                    "name": "帐篷",
                    "quantity": 5,
                    "unit": "顶",
                    "value_fen": 500000,
                }
            ],
        )
        | {"amount_fen": 500000},
    )
    donation_id, code = uuid.UUID(created["id"]), created["tracking_code"]
    lot_id, transfer_id, dispatch_id = uuid7(), uuid7(), uuid7()
    source = LotSourceV1(source_kind="donation", donation_id=donation_id, tracking_code=code)

    def lot(warehouse: str) -> ReceivedLotV1:
        return ReceivedLotV1(
            lot_id=lot_id,
            lot_no="D-TENT-1",
            item_code="TENT",
            item_name="帐篷",
            category="shelter",
            unit="顶",
            warehouse_code=warehouse,
            quantity=5,
            unit_value_fen=100000,
            donation_id=donation_id,
            tracking_code=code,
        )

    picked = [
        PickedLineV1(
            item_code="TENT",
            item_name="帐篷",
            unit="顶",
            quantity=5,
            lots=[
                PickedLotV1(
                    lot_id=lot_id,
                    lot_no="D-TENT-1",
                    quantity=5,
                    source_kind="donation",
                    donation_id=donation_id,
                    tracking_code=code,
                )
            ],
        )
    ]

    def delivered_lines() -> list[DeliveredLineV1]:
        return [
            DeliveredLineV1(
                item_code="TENT",
                item_name="帐篷",
                unit="顶",
                shipped_quantity=5,
                delivered_quantity=5,
                returned_quantity=0,
                lots=[
                    DeliveredLotV1(
                        lot_id=lot_id,
                        lot_no="D-TENT-1",
                        shipped_quantity=5,
                        delivered_quantity=5,
                        returned_quantity=0,
                        donation_id=donation_id,
                        tracking_code=code,
                    )
                ],
            )
        ]

    station = DestinationV1(kind="station", name="溪口镇救灾物资储备点", town="溪口镇")
    transfer = header(transfer_id) | {"kind": "transfer", "destination": station}
    await produce(
        [
            (
                STOCK_RECEIVED,
                str(lot_id),
                StockReceivedV1(
                    inbound_id=uuid7(),
                    receipt_no="RK-2026-009101",
                    warehouse_code="WH-DISTRICT",
                    warehouse_name="区备灾救灾中心仓库",
                    source=source,
                    received_at=T,
                    lots=[lot("WH-DISTRICT")],
                ),
            ),
            (
                DISPATCH_SHIPPED,
                str(transfer_id),
                DispatchShippedV1(**transfer, waybill_no="WB-T1", lines=picked, shipped_at=T),
            ),
            (
                DISPATCH_DELIVERED,
                str(transfer_id),
                DispatchDeliveredV1(
                    **transfer,
                    recipient_name_masked="陈*",
                    recipient_org=None,
                    partial=False,
                    lines=delivered_lines(),
                    delivered_at=T + timedelta(hours=3),
                ),
            ),
            (
                STOCK_RECEIVED,
                str(lot_id),
                StockReceivedV1(
                    inbound_id=uuid7(),
                    receipt_no="RK-2026-009102",
                    warehouse_code="ST-XIKOU",
                    warehouse_name="溪口镇救灾物资储备点",
                    source=LotSourceV1(
                        source_kind="transfer", donation_id=donation_id, tracking_code=code
                    ),
                    received_at=T + timedelta(hours=3),
                    lots=[lot("ST-XIKOU")],
                ),
            ),
        ]
    )

    async def goods() -> list[tuple[str, int]] | None:
        answer = await api.client.get(f"/api/v1/track/{code}")
        if answer.status_code == 429:  # the public route's limit: ask again later
            return None
        assert answer.status_code == 200, answer.text
        return [(g["stage"], g["quantity"]) for g in answer.json()["goods"]]

    async def moved_to_station() -> bool:
        return await goods() == [("in_stock", 5), ("dispatched", 5)]

    # The tracking page is rate limited (30 a minute per client): poll it slower than that,
    # so a slow consumer under load does not turn the wait into a string of 429s.
    await eventually(moved_to_station, timeout=60, interval=2.5)
    donation = await api.ok("GET", f"/api/v1/donations/{donation_id}")
    assert donation["status"] != "completed"

    handout = header(dispatch_id) | {
        "from_warehouse_code": "ST-XIKOU",
        "destination": DestinationV1(kind="shelter", name="溪口镇中心小学安置点", town="溪口镇"),
    }
    await produce(
        [
            (
                DISPATCH_DELIVERED,
                str(dispatch_id),
                DispatchDeliveredV1(
                    **handout,
                    recipient_name_masked="王*明",
                    recipient_org="溪口镇人民政府",
                    partial=False,
                    lines=delivered_lines(),
                    delivered_at=T + timedelta(days=1),
                ),
            )
        ]
    )

    async def completed() -> bool:
        return bool(
            (await api.ok("GET", f"/api/v1/donations/{donation_id}"))["status"] == "completed"
        )

    await eventually(completed, timeout=30)
    seen: list[list[tuple[str, int]]] = []

    async def read_goods() -> bool:
        found = await goods()
        if found is not None:
            seen.append(found)
        return found is not None

    await eventually(read_goods, timeout=60, interval=2.5)
    assert seen[-1][-1] == ("signed", 5)


async def test_warehouse_events_without_a_known_gift_are_ignored(api: Api) -> None:
    """Procurement lots and unknown gifts leave no trace and are not dead-lettered: a later
    event on the same key (same partition, so after it) is still applied."""
    known = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(
            kind="goods",
            channel="on_site",
            items=[
                {
                    "item_code": "WATER",
                    "name": "饮用水",
                    "quantity": 5,
                    "unit": "箱",
                    "value_fen": 500,
                }
            ],
        )
        | {"amount_fen": 500},
    )

    def receipt(donation_id: uuid.UUID, code: str | None) -> StockReceivedV1:
        return StockReceivedV1(
            inbound_id=uuid7(),
            receipt_no="RK-2026-009002",
            warehouse_code="WH-DISTRICT",
            warehouse_name="区备灾救灾中心仓库",
            source=LotSourceV1(source_kind="procurement", procurement_order="PO-1"),
            received_at=T,
            lots=[
                ReceivedLotV1(
                    lot_id=uuid7(),
                    lot_no="P-1",
                    item_code="WATER",
                    item_name="饮用水",
                    category="water",
                    unit="箱",
                    warehouse_code="WH-DISTRICT",
                    quantity=5,
                    unit_value_fen=100,
                    donation_id=donation_id,
                    tracking_code=code,
                )
            ],
        )

    key = "same-key-" + known["id"]
    await produce(
        [
            (STOCK_RECEIVED, key, receipt(uuid.uuid4(), None)),
            (STOCK_RECEIVED, key, receipt(uuid.UUID(known["id"]), known["tracking_code"])),
        ]
    )

    async def applied() -> bool:
        got = await api.ok("GET", f"/api/v1/donations/{known['id']}")
        return bool(got["status"] == "in_stock")

    await eventually(applied, timeout=30)


async def test_written_off_goods_do_not_block_completion(api: Api, event_log: EventLog) -> None:
    """6 given and stocked, 2 later found damaged: delivering the other 4 completes the gift."""
    created = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(
            kind="goods",
            channel="on_site",
            items=[
                {
                    "item_code": "COT",
                    "name": "折叠床",
                    "quantity": 6,
                    "unit": "张",
                    "value_fen": 900,
                }
            ],
        )
        | {"amount_fen": 900},
    )
    donation_id, code = uuid.UUID(created["id"]), created["tracking_code"]
    lot_id, dispatch_id = uuid7(), uuid7()
    stocked = StockReceivedV1(
        inbound_id=uuid7(),
        receipt_no="RK-2026-009003",
        warehouse_code="WH-DISTRICT",
        warehouse_name="区备灾救灾中心仓库",
        source=LotSourceV1(source_kind="donation", donation_id=donation_id, tracking_code=code),
        received_at=T,
        lots=[
            ReceivedLotV1(
                lot_id=lot_id,
                lot_no="D-COT-1",
                item_code="COT",
                item_name="折叠床",
                category="shelter",
                unit="张",
                warehouse_code="WH-DISTRICT",
                quantity=6,
                unit_value_fen=150,
                donation_id=donation_id,
                tracking_code=code,
            )
        ],
    )
    damaged = StockAdjustedV1(
        adjustment_id=uuid7(),
        lot_id=lot_id,
        lot_no="D-COT-1",
        item_code="COT",
        item_name="折叠床",
        unit="张",
        warehouse_code="WH-DISTRICT",
        reason="damaged",
        quantity_before=6,
        quantity_after=4,
        delta=-2,
        donation_id=donation_id,
        tracking_code=code,
        adjusted_at=T + timedelta(days=1),
    )
    delivered = DispatchDeliveredV1(
        **header(dispatch_id),
        recipient_name_masked="张*",
        partial=False,
        lines=[
            DeliveredLineV1(
                item_code="COT",
                item_name="折叠床",
                unit="张",
                shipped_quantity=4,
                delivered_quantity=4,
                returned_quantity=0,
                lots=[
                    DeliveredLotV1(
                        lot_id=lot_id,
                        lot_no="D-COT-1",
                        shipped_quantity=4,
                        delivered_quantity=4,
                        returned_quantity=0,
                        donation_id=donation_id,
                        tracking_code=code,
                    )
                ],
            )
        ],
        delivered_at=T + timedelta(days=2),
    )
    await produce(
        [
            (STOCK_RECEIVED, str(lot_id), stocked),
            (STOCK_ADJUSTED, str(lot_id), damaged),
            (DISPATCH_DELIVERED, str(lot_id), delivered),
        ]
    )

    async def completed() -> bool:
        got = await api.ok("GET", f"/api/v1/donations/{donation_id}")
        return bool(got["status"] == "completed")

    await eventually(completed, timeout=30)
    stages = [
        e.data["stage"]
        for e in await event_log.wait(DONATION_GOODS_TRACKED, 3, donation_id=str(donation_id))
    ]
    assert stages == ["in_stock", "written_off", "signed"]
