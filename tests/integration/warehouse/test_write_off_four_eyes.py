"""Write-offs above ``WAREHOUSE_WRITE_OFF_FOUR_EYES_FEN`` need a second person, over HTTP on
the real database and broker: a stock count's decrease worth more than the threshold (units ×
the item's unit value; default ¥500) is recorded as pending and changes nothing; an approver
other than the counter applies it (the lot, the level, the stock card and ``stock.adjusted``)
or rejects it (nothing moves); at or below the threshold a decrease is applied at once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.warehouse.conftest import (
    Api,
    EventLog,
    dispatch_to,
    make_item,
    make_warehouse,
    receive,
)

pytestmark = pytest.mark.integration

# make_item's items are worth ¥10 (1000 fen) a unit: the default threshold is 50 units' worth


async def _stocked(api: Api, quantity: int = 100) -> tuple[str, str, str]:
    """A warehouse, an item worth ¥10 a unit and one lot of ``quantity``: (wh, item, lot id)."""
    wh = await make_warehouse(api)
    item = await make_item(api)
    await receive(api, wh, [{"item_code": item, "quantity": quantity, "lot_no": "W-1"}])
    page = await api.ok(
        "GET", "/api/v1/lots", "auditor", params={"warehouse_code": wh, "item_code": item}
    )
    (lot,) = page["items"]
    return wh, item, str(lot["id"])


async def _count(api: Api, wh: str, lot_id: str, counted: int, reason: str = "lost") -> Any:
    return await api.ok(
        "POST",
        "/api/v1/stock-counts",
        "warehouse",
        201,
        json={
            "warehouse_code": wh,
            "lines": [{"lot_id": lot_id, "counted_quantity": counted, "reason": reason}],
        },
    )


async def _on_hand(api: Api, wh: str, item: str) -> int:
    page = await api.ok(
        "GET", "/api/v1/stock", "auditor", params={"warehouse_code": wh, "item_code": item}
    )
    return int(page["items"][0]["on_hand"])


def _adjusted(events: EventLog, lot_id: str) -> list[Any]:
    return events.of("stock.adjusted.v1", lot_id=lot_id)


async def test_a_large_write_off_waits_for_a_second_person(
    api: Api, warehouse_events: EventLog
) -> None:
    wh, item, lot_id = await _stocked(api)
    count = await _count(api, wh, lot_id, 40, reason="damaged")  # 60 × ¥10 = ¥600 > ¥500
    (adjustment,) = count["adjustments"]
    assert (adjustment["status"], adjustment["delta"], adjustment["value_fen"]) == (
        "pending",
        -60,
        60_000,
    )
    assert await _on_hand(api, wh, item) == 100  # nothing moved yet
    pending = await api.ok(
        "GET", "/api/v1/stock-adjustments", "approver", params={"status": "pending"}
    )
    assert adjustment["id"] in [a["id"] for a in pending["items"]]
    path = f"/api/v1/stock-adjustments/{adjustment['id']}"

    # the counter cannot approve it, however the name is spelled (one account)
    for same in ("warehouse", "Warehouse", " WAREHOUSE"):
        headers = api.token(same, "approver")
        refused = await api.client.post(f"{path}/approve", headers=headers)
        assert refused.status_code == 403, (same, refused.text)
        assert "盘点人以外" in refused.json()["error"]["message"]
    # a keeper is not an approver
    assert (await api.call("POST", f"{path}/approve", "warehouse2")).status_code == 403
    # lot counted again while its write-off waits: 409
    again = await api.call(
        "POST",
        "/api/v1/stock-counts",
        "warehouse",
        json={
            "warehouse_code": wh,
            "lines": [{"lot_id": lot_id, "counted_quantity": 30, "reason": "lost"}],
        },
    )
    assert again.status_code == 409, again.text
    assert await _on_hand(api, wh, item) == 100
    assert _adjusted(warehouse_events, lot_id) == []

    approved = await api.ok("POST", f"{path}/approve", "approver", headers={"If-Match": '"1"'})
    assert approved["status"] == "applied"
    assert approved["decided_by"] == "approver"
    assert (approved["quantity_before"], approved["quantity_after"]) == (100, 40)
    assert await _on_hand(api, wh, item) == 40
    (event,) = await warehouse_events.wait("stock.adjusted.v1", lot_id=lot_id)
    assert (event.data["delta"], event.data["quantity_after"], event.data["reason"]) == (
        -60,
        40,
        "damaged",
    )
    card = await api.ok("GET", "/api/v1/stock/movements", "auditor", params={"lot_id": lot_id})
    assert [(m["movement"], m["on_hand_delta"], m["balance"]) for m in card["items"]][-1] == (
        "adjustment",
        -60,
        40,
    )
    # decided once: a second decision is a 409
    twice = await api.call("POST", f"{path}/reject", "approver2", json={"reason": "重复"})
    assert twice.status_code == 409
    audit = await api.ok(
        "GET", "/api/v1/audit-log", "auditor", params={"entity_type": "lot", "entity_id": lot_id}
    )
    actions = [(e["action"], e["actor"]) for e in audit["items"]]
    assert ("stock.write_off.request", "warehouse") in actions
    assert ("stock.write_off.approve", "approver") in actions


async def test_at_or_below_the_threshold_a_write_off_is_applied_at_once(
    api: Api, warehouse_events: EventLog
) -> None:
    wh, item, lot_id = await _stocked(api)
    count = await _count(api, wh, lot_id, 50)  # exactly ¥500: not above the threshold
    (adjustment,) = count["adjustments"]
    assert adjustment["status"] == "applied"
    assert await _on_hand(api, wh, item) == 50
    await warehouse_events.wait("stock.adjusted.v1", lot_id=lot_id)
    # an increase is never held, whatever its value
    found = await _count(api, wh, lot_id, 200, reason="found")
    assert found["adjustments"][0]["status"] == "applied"
    assert await _on_hand(api, wh, item) == 200


async def test_a_rejected_write_off_changes_nothing(api: Api, warehouse_events: EventLog) -> None:
    wh, item, lot_id = await _stocked(api)
    count = await _count(api, wh, lot_id, 0, reason="lost")
    adjustment_id = count["adjustments"][0]["id"]
    path = f"/api/v1/stock-adjustments/{adjustment_id}"
    assert (await api.call("POST", f"{path}/reject", "approver", json={})).status_code == 422
    rejected = await api.ok(
        "POST", f"{path}/reject", "approver", json={"reason": "复盘找到，存放于二号库"}
    )
    assert (rejected["status"], rejected["decided_reason"]) == (
        "rejected",
        "复盘找到，存放于二号库",
    )
    assert await _on_hand(api, wh, item) == 100
    one = await api.ok("GET", path, "auditor")
    assert one["status"] == "rejected"
    assert _adjusted(warehouse_events, lot_id) == []
    # decided: the lot can be counted again
    again = await _count(api, wh, lot_id, 98)
    assert again["adjustments"][0]["status"] == "applied"


async def test_approval_refused_when_the_lot_changed_since_it_was_counted(api: Api) -> None:
    wh, item, lot_id = await _stocked(api)
    count = await _count(api, wh, lot_id, 30)  # 70 missing, ¥700: pending
    adjustment_id = count["adjustments"][0]["id"]
    # meanwhile 50 are picked and shipped: only 50 left, the 70 cannot come off any more
    created = await dispatch_to(api, wh, [(item, 50)])
    did = created["id"]
    await api.ok("POST", f"/api/v1/dispatches/{did}/approve", "approver")
    await api.ok("POST", f"/api/v1/dispatches/{did}/pick", "warehouse")
    await api.ok("POST", f"/api/v1/dispatches/{did}/ship", "warehouse", json={"waybill_no": "W1"})
    refused = await api.call(
        "POST", f"/api/v1/stock-adjustments/{adjustment_id}/approve", "approver"
    )
    assert refused.status_code == 409, refused.text
    assert "请重新盘点" in refused.json()["error"]["message"]
    assert await _on_hand(api, wh, item) == 50
