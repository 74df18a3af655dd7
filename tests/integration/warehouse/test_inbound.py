"""Inbound against the real broker and database: a goods gift announced on
``donation.events`` becomes one expected inbound (whatever the redelivery), staff confirm what
arrived (differences, damage with a reason, expired refused unless a reason), lots carry the
donation id and tracking code, and ``stock.received`` says so; a cancelled gift withdraws its
expected inbound; Idempotency-Key and versions protect the confirmation."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from shared.contracts.donation import (
    DONATION_CANCELLED,
    DONATION_RECEIVED,
    DonatedItemV1,
    DonationCancelledV1,
    DonationReceivedV1,
)
from shared.ids import new_tracking_code
from shared.messaging.envelope import CloudEvent
from shared.messaging.topics import DONATION_EVENTS
from tests.conftest import KAFKA_BOOTSTRAP, TOPIC_PREFIX
from tests.integration.conftest import eventually
from tests.integration.warehouse.conftest import Api, EventLog, make_item, make_warehouse

pytestmark = pytest.mark.integration

TODAY = date.today()


async def publish(events: list[CloudEvent], key: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                TOPIC_PREFIX + DONATION_EVENTS,
                value=event.value(),
                key=key.encode(),
                headers=event.headers(),
            )
    finally:
        await producer.stop()


def gift_event(payload: DonationReceivedV1, event_id: str | None = None) -> CloudEvent:
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        type=DONATION_RECEIVED,
        source="/sunshine/donation",
        time=datetime.now(UTC),
        subject=str(payload.donation_id),
        data=payload.model_dump(mode="json"),
    )


def goods_gift(lines: list[DonatedItemV1], kind: str = "goods") -> DonationReceivedV1:
    return DonationReceivedV1(
        donation_id=uuid.uuid4(),
        tracking_code=new_tracking_code(),
        kind=kind,  # type: ignore[arg-type]
        amount_fen=sum(x.value_fen for x in lines) or 10000,
        channel="on_site",
        display="surname",
        display_name="张某",
        donor_type="individual",
        received_at=datetime.now(UTC),
        items=lines,
    )


async def expected_inbound(api: Api, donation_id: uuid.UUID, status: str = "expected") -> Any:
    found: dict[str, Any] = {}

    async def arrived() -> bool:
        page = await api.ok(
            "GET", "/api/v1/inbounds", "auditor", params={"donation_id": str(donation_id)}
        )
        if page["items"] and page["items"][0]["status"] == status:
            found.update(page["items"][0])
            return True
        return False

    await eventually(arrived, timeout=30, interval=0.1)
    return found


async def test_goods_gift_becomes_one_expected_inbound_and_lots_with_lineage(
    api: Api, warehouse_events: EventLog
) -> None:
    wh = await make_warehouse(api)
    quilt = await make_item(api, category="clothing_bedding", unit="床")
    water = await make_item(api, category="water", lot_tracked=True)
    gift = goods_gift(
        [
            DonatedItemV1(item_code=quilt, name="棉被", quantity=20, unit="床", value_fen=240000),
            DonatedItemV1(
                item_code=water,
                name="饮用水",
                quantity=50,
                unit="箱",
                value_fen=150000,
                lot_no="W2026",
                expiry_date=TODAY + timedelta(days=200),
            ),
        ]
    )
    first = gift_event(gift)
    money = goods_gift([], kind="money")
    # the same event twice (redelivery) and a second event for the same gift: one inbound
    await publish([first, first, gift_event(gift), gift_event(money)], str(gift.donation_id))
    inbound = await expected_inbound(api, gift.donation_id)
    assert inbound["tracking_code"] == gift.tracking_code
    assert inbound["donor_display_name"] == "张某"
    assert [(x["item_code"], x["quantity"]) for x in inbound["lines"]] == [(quilt, 20), (water, 50)]
    page = await api.ok(
        "GET", "/api/v1/inbounds", "auditor", params={"donation_id": str(gift.donation_id)}
    )
    assert len(page["items"]) == 1
    none = await api.ok(
        "GET", "/api/v1/inbounds", "auditor", params={"donation_id": str(money.donation_id)}
    )
    assert none["items"] == []

    path = f"/api/v1/inbounds/{inbound['id']}/confirm"
    bad_bodies: list[dict[str, Any]] = [
        # damaged without a reason
        {"lines": [{"line_no": 1, "received_quantity": 18, "damaged_quantity": 2}]},
        # expired goods without a reason are refused
        {
            "lines": [
                {
                    "line_no": 2,
                    "received_quantity": 50,
                    "expiry_date": (TODAY - timedelta(days=1)).isoformat(),
                }
            ]
        },
        # lot/expiry mandatory for the water
        {"lines": [{"line_no": 2, "received_quantity": 5, "expiry_date": None, "item_code": water}]}
        | {"warehouse_code": "NO-SUCH"},
        # damaged more than received
        {"lines": [{"line_no": 1, "received_quantity": 1, "damaged_quantity": 2}]},
        # a line number that is not on the receipt
        {"lines": [{"line_no": 9, "received_quantity": 1}]},
    ]
    for body in bad_bodies:
        response = await api.call("POST", path, "warehouse", json={"warehouse_code": wh} | body)
        assert response.status_code in (404, 422), (body, response.text)
    stale = await api.call(
        "POST",
        path,
        "warehouse",
        json={
            "warehouse_code": wh,
            "version": 99,
            "lines": [{"line_no": 1, "received_quantity": 1}],
        },
    )
    assert stale.status_code == 409

    body = {
        "warehouse_code": wh,
        "version": inbound["version"],
        "lines": [
            {
                "line_no": 1,
                "received_quantity": 18,
                "damaged_quantity": 2,
                "damage_reason": "运输途中受潮",
            },
            {"line_no": 2, "received_quantity": 50},
        ],
    }
    key = str(uuid.uuid4())
    confirmed = await api.call("POST", path, "warehouse", key=key, json=body)
    assert confirmed.status_code == 200, confirmed.text
    again = await api.call("POST", path, "warehouse", key=key, json=body)
    assert again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == confirmed.json()
    other = await api.call("POST", path, "warehouse", key=key, json=body | {"note": "改"})
    assert other.status_code == 409
    twice = await api.call("POST", path, "warehouse", json=body)
    assert twice.status_code == 409  # already received

    receipt = confirmed.json()
    assert receipt["status"] == "received"
    assert receipt["receipt_no"].startswith("RK-")
    lines = {x["item_code"]: x for x in receipt["received_lines"]}
    assert lines[quilt]["accepted_quantity"] == 16
    assert lines[quilt]["damage_reason"] == "运输途中受潮"

    lots = await api.ok(
        "GET", "/api/v1/lots", "auditor", params={"donation_id": str(gift.donation_id)}
    )
    assert sorted((x["item_code"], x["on_hand"]) for x in lots["items"]) == sorted(
        [(quilt, 16), (water, 50)]
    )
    assert all(x["tracking_code"] == gift.tracking_code for x in lots["items"])
    water_lot = next(x for x in lots["items"] if x["item_code"] == water)
    assert water_lot["lot_no"] == "W2026"
    assert water_lot["expiry_date"] == (TODAY + timedelta(days=200)).isoformat()
    assert water_lot["unit_value_fen"] == 3000

    (event,) = await warehouse_events.wait("stock.received.v1", inbound_id=inbound["id"])
    assert event.key == inbound["id"]
    assert event.data["source"]["donation_id"] == str(gift.donation_id)
    assert event.data["source"]["tracking_code"] == gift.tracking_code
    by_item = {x["item_code"]: x for x in event.data["lots"]}
    assert by_item[quilt]["quantity"] == 16
    assert by_item[quilt]["expected_quantity"] == 20
    assert by_item[quilt]["damaged_quantity"] == 2
    assert by_item[quilt]["donation_id"] == str(gift.donation_id)
    assert by_item[water]["tracking_code"] == gift.tracking_code
    assert by_item[quilt]["warehouse_code"] == wh


async def test_expired_goods_accepted_only_with_a_reason(
    api: Api, warehouse_events: EventLog
) -> None:
    wh = await make_warehouse(api)
    food = await make_item(api, lot_tracked=True)
    inbound = await api.ok(
        "POST",
        "/api/v1/inbounds",
        "warehouse",
        201,
        json={
            "warehouse_code": wh,
            "procurement_order": "PO-EXP",
            "supplier": "宁波某食品公司",
            "lines": [{"item_code": food, "quantity": 10, "unit_value_fen": 500}],
        },
    )
    assert inbound["source_kind"] == "procurement"
    assert inbound["warehouse_code"] == wh
    expired = (TODAY - timedelta(days=2)).isoformat()
    path = f"/api/v1/inbounds/{inbound['id']}/confirm"
    refused = await api.call(
        "POST",
        path,
        "warehouse",
        json={"lines": [{"line_no": 1, "received_quantity": 10, "expiry_date": expired}]},
    )
    assert refused.status_code == 422
    assert "过期" in refused.json()["error"]["message"]
    accepted = await api.ok(
        "POST",
        path,
        "warehouse",
        json={
            "lines": [
                {
                    "line_no": 1,
                    "received_quantity": 10,
                    "expiry_date": expired,
                    "expired_reason": "用于培训演练，不发放",
                }
            ]
        },
    )
    assert accepted["status"] == "received"
    (event,) = await warehouse_events.wait("stock.received.v1", inbound_id=inbound["id"])
    assert event.data["source"]["source_kind"] == "procurement"
    assert event.data["source"]["procurement_order"] == "PO-EXP"
    assert event.data["lots"][0]["expired_accepted_reason"] == "用于培训演练，不发放"
    assert event.data["lots"][0]["unit_value_fen"] == 500


async def test_a_cancelled_gift_withdraws_its_expected_inbound(api: Api) -> None:
    item = await make_item(api)
    gift = goods_gift(
        [DonatedItemV1(item_code=item, name="帐篷", quantity=3, unit="顶", value_fen=90000)]
    )
    await publish([gift_event(gift)], str(gift.donation_id))
    inbound = await expected_inbound(api, gift.donation_id)
    cancel = CloudEvent(
        id=str(uuid.uuid4()),
        type=DONATION_CANCELLED,
        source="/sunshine/donation",
        time=datetime.now(UTC),
        data=DonationCancelledV1(
            donation_id=gift.donation_id,
            tracking_code=gift.tracking_code,
            previous_status="received",
            amount_fen=90000,
            reason="捐赠人撤回",
            cancelled_at=datetime.now(UTC),
        ).model_dump(mode="json"),
    )
    await publish([cancel, cancel], str(gift.donation_id))
    cancelled = await expected_inbound(api, gift.donation_id, status="cancelled")
    assert cancelled["id"] == inbound["id"]
    assert "捐赠人撤回" in cancelled["note"]
    refused = await api.call(
        "POST",
        f"/api/v1/inbounds/{inbound['id']}/confirm",
        "warehouse",
        json={"warehouse_code": "X", "lines": [{"line_no": 1, "received_quantity": 3}]},
    )
    assert refused.status_code in (404, 409)
