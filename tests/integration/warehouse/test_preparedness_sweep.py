"""The preparedness sweep on the real database and broker: what it publishes (and what not),
who may run it, its audit entry.

An item (category ``food``: reorder 2 months, target 4) with 300 received 100 days ago and 80
dispatched 80, 50 and 20 days ago: AMC = 240 × 30.4375 / 90 = 81.17, available 60, below
reorder, suggestion ceil(81.17 × 4 − 60) = 265 (see tests/integration/alerts/
test_preparedness_flow.py). 20 more dispatched now: AMC 260 × 30.4375 / 90 = 87.93, available
40, suggestion ceil(351.72 − 40) = 312 (+18 %: published); one more: 88.27, 39, 315 (+1 %: not).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.warehouse.conftest import (
    Api,
    EventLog,
    make_item,
    make_warehouse,
    receive,
    uniq,
)
from tests.integration.warehouse.plan_helpers import as_
from warehouse.service_layer import clock

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC)
SWEEP = "/api/v1/preparedness/sweep"
SIGNAL = "preparedness.reorder_signal.v1"


def ago(days: float) -> datetime:
    return T0 - timedelta(days=days)


async def ship(api: Api, source: str, item: str, quantity: int) -> None:
    created = await api.ok(
        "POST",
        "/api/v1/dispatches",
        "dispatcher",
        201,
        json={
            "from_warehouse_code": source,
            "destination": {"kind": "shelter", "name": "溪口镇中心小学安置点", "town": "溪口镇"},
            "lines": [{"item_code": item, "quantity": quantity}],
        },
    )
    did = created["id"]
    await api.ok("POST", f"/api/v1/dispatches/{did}/approve", "approver")
    await api.ok("POST", f"/api/v1/dispatches/{did}/pick", "warehouse")
    await api.ok(
        "POST", f"/api/v1/dispatches/{did}/ship", "warehouse", json={"waybill_no": uniq("WB")}
    )


async def sweep(api: Api) -> dict[str, Any]:
    result: dict[str, Any] = await api.ok("POST", SWEEP, "approver", key=uniq("SW"))
    return result


async def below_reorder_item(api: Api) -> tuple[str, str]:
    district = await make_warehouse(api, kind="district", town=None)
    item = await make_item(api, category="food")
    with clock.travel(ago(100)):
        await receive(api, district, [{"item_code": item, "quantity": 300}])
    for days in (80, 50, 20):
        with clock.travel(ago(days)):
            await ship(api, district, item, 80)
    return district, item


async def test_published_on_changed_and_vanished_once(api: Api, warehouse_events: EventLog) -> None:
    district, item = await below_reorder_item(api)
    await sweep(api)
    [on] = await warehouse_events.wait(SIGNAL, item_code=item)
    assert on.key == f"{district}/{item}"
    assert (on.data["below_reorder"], on.data["version"], on.data["suggested_quantity"]) == (
        True,
        1,
        265,
    )
    assert (on.data["amc"], on.data["mos"], on.data["policy_source"]) == (
        "81.17",
        "0.74",
        "category",
    )

    await ship(api, district, item, 20)  # suggestion 265 → 312: +18 %
    await sweep(api)
    signals = await warehouse_events.wait(SIGNAL, 2, item_code=item)
    assert (signals[1].data["version"], signals[1].data["suggested_quantity"]) == (2, 312)
    assert signals[1].data["below_reorder"] is True

    await ship(api, district, item, 1)  # 312 → 315: +1 %, not worth telling
    assert (await sweep(api))["published"] == 0

    # the item is taken out of the catalogue: published as off once, with its last figures
    item_row = await api.ok("GET", f"/api/v1/items/{item}", "auditor")
    await api.ok(
        "PATCH",
        f"/api/v1/items/{item}",
        "warehouse",
        json={"version": item_row["version"], "active": False},
        headers={"If-Match": f'"{item_row["version"]}"'},
    )
    gone = await sweep(api)
    assert gone["reorder_off"] >= 1
    signals = await warehouse_events.wait(SIGNAL, 3, item_code=item)
    off = signals[2].data
    assert (off["below_reorder"], off["version"], off["suggested_quantity"]) == (False, 3, 312)
    assert (await sweep(api))["published"] == 0
    assert len(warehouse_events.of(SIGNAL, item_code=item)) == 3


async def test_only_district_approvers_run_it_and_it_is_audited(api: Api) -> None:
    for headers in (as_(api, "XK", "approver"), api.token("warehouse"), api.token("auditor")):
        refused = await api.client.post(SWEEP, headers=headers)
        assert refused.status_code == 403, refused.text
    town = await api.client.post(SWEEP, headers=as_(api, "XK", "approver"))
    assert "仅区红十字会人员可运行全区备灾扫描" in town.text

    done = await api.ok("POST", SWEEP, "approver2", headers=api.token("approver2", "approver"))
    assert set(done) >= {"assessed", "plan_gaps", "published", "reorder_on", "gap_open"}
    log = await api.ok(
        "GET",
        "/api/v1/audit-log",
        "auditor",
        params={"action": "preparedness_sweep.run", "actor": "approver2"},
    )
    assert log["items"], log
    assert log["items"][0]["detail"]["published"] == done["published"]
