"""Preparedness alerts across the real services' seam: the warehouse in-process (its outbox
relayed to the real broker) and the notification service in-process (its consumer reading
the broker), both on the real PostgreSQL.

* An item whose back-dated consumption (real dispatch commands run months ago through
  ``clock.travel``) leaves it below its reorder threshold: the sweep publishes the signal and
  the notification service opens a ``below_reorder`` alert with the suggestion; a second sweep
  publishes nothing; stock received → the next sweep turns it off → the alert is resolved.
* A town without what the active season plan targets: a ``plan_gap`` alert opens; the station
  receives the goods → the gap closes → resolved.

By hand (item category ``food``: reorder 2 months, target 4; window 90 days): received 300 at
−100 days, dispatched 80 at −80, −50 and −20 days (no incident): consumed 240, no day out of
stock, AMC = 240 × 30.4375 / 90 = 81.17 a month; available 60, MOS 0.74 < 2: below reorder;
suggestion = ceil(81.17 × 4 − 60) = 265.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import TokenIssuer
from shared.config import ServiceSettings
from tests.integration.alerts.conftest import PREFIX, fetch
from tests.integration.conftest import eventually
from tests.integration.warehouse.conftest import Api, make_item, make_warehouse, receive, uniq
from warehouse.config import WarehouseSettings
from warehouse.main import create_app
from warehouse.service_layer import clock

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("notification_app")]

T0 = datetime.now(UTC)
SWEEP = "/api/v1/preparedness/sweep"
PLANS = "/api/v1/preparedness/plans"
XK = "溪口镇"


def ago(days: float) -> datetime:
    return T0 - timedelta(days=days)


@pytest.fixture(scope="module")
async def warehouse_app(
    databases: dict[str, ServiceSettings], alert_topics: list[str]
) -> AsyncIterator[FastAPI]:
    base = databases["warehouse"]
    assert isinstance(base, WarehouseSettings)
    settings = base.model_copy(
        update={
            "topic_prefix": PREFIX,  # the topics the notification service of this package reads
            "run_expiry_scan": False,
            "run_preparedness_sweep": False,  # swept by hand below
            "relay_poll_interval_s": 0.2,
        }
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
async def wh(warehouse_app: FastAPI, issuer: TokenIssuer) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=warehouse_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://warehouse") as client:
        yield Api(client, issuer)


async def sweep(wh: Api) -> dict[str, Any]:
    result: dict[str, Any] = await wh.ok("POST", SWEEP, "approver", key=uniq("SW"))
    return result


async def ship(wh: Api, source: str, item: str, quantity: int) -> None:
    created = await wh.ok(
        "POST",
        "/api/v1/dispatches",
        "dispatcher",
        201,
        json={
            "from_warehouse_code": source,
            "destination": {"kind": "shelter", "name": "溪口镇中心小学安置点", "town": XK},
            "lines": [{"item_code": item, "quantity": quantity}],
        },
    )
    did = created["id"]
    await wh.ok("POST", f"/api/v1/dispatches/{did}/approve", "approver")
    await wh.ok("POST", f"/api/v1/dispatches/{did}/pick", "warehouse")
    await wh.ok(
        "POST", f"/api/v1/dispatches/{did}/ship", "warehouse", json={"waybill_no": uniq("WB")}
    )


async def alerts_of(db: AsyncEngine, kind: str, item: str) -> list[dict[str, Any]]:
    return await fetch(
        db,
        "SELECT * FROM alerts WHERE kind = :kind AND item_code = :item ORDER BY raised_at",
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


async def test_below_reorder_opens_from_consumption_and_resolves_when_stock_arrives(
    wh: Api, db: AsyncEngine
) -> None:
    district = await make_warehouse(wh, kind="district", town=None)
    item = await make_item(wh, category="food")
    with clock.travel(ago(100)):
        await receive(wh, district, [{"item_code": item, "quantity": 300}])
    for days in (80, 50, 20):
        with clock.travel(ago(days)):
            await ship(wh, district, item, 80)

    first = await sweep(wh)
    assert first["reorder_on"] >= 1
    [alert] = await wait_alerts(db, "below_reorder", item, lambda r: len(r) == 1)
    assert (alert["status"], alert["warehouse_code"]) == ("open", district)
    details = alert["details"]
    assert (details["available"], details["amc"], details["mos"]) == (60, "81.17", "0.74")
    assert (details["reorder_mos"], details["target_mos"]) == ("2.00", "4.00")
    assert details["suggested_quantity"] == 265
    notices = await fetch(
        db,
        "SELECT subject, body FROM notices WHERE alert_id = :id AND kind = 'alert_raised'",
        id=alert["id"],
    )
    assert len(notices) == 1
    assert "建议补充 265箱（月均消耗 81.17，可用 60，目标 4.00 个月）" in notices[0]["body"]

    # nothing changed: the second sweep publishes nothing at all
    again = await sweep(wh)
    assert again["published"] == 0, again

    # stock arrives: the signal turns off, the alert resolves
    await receive(wh, district, [{"item_code": item, "quantity": 400}])
    after = await sweep(wh)
    assert after["reorder_off"] >= 1
    [resolved] = await wait_alerts(
        db, "below_reorder", item, lambda r: r[0]["status"] == "resolved"
    )
    assert resolved["resolution"] == "cleared"
    assert (await sweep(wh))["published"] == 0


async def test_plan_gap_opens_for_the_town_and_closes_when_the_station_holds_the_target(
    wh: Api, db: AsyncEngine
) -> None:
    source = await make_warehouse(wh, kind="district", town=None)
    station = await make_warehouse(wh, kind="station", town=XK)
    item = await make_item(wh, category="shelter", unit="顶")
    plan = await wh.ok(
        "POST",
        PLANS,
        "dispatcher",
        201,
        json={
            "code": uniq("PL"),
            "name": "台风季备灾计划（测试）",
            "season_start": "2027-07-01",
            "season_end": "2027-09-30",
            "source_warehouse_code": source,
        },
    )
    code = plan["code"]
    changed = await wh.ok(
        "PUT",
        f"{PLANS}/{code}/targets/{XK}/{item}",
        "dispatcher",
        json={"quantity": 50},
        headers={"If-Match": f'"{plan["version"]}"'},
    )
    await wh.ok(
        "PATCH",
        f"{PLANS}/{code}",
        "approver",
        json={"action": "activate"},
        headers={"If-Match": f'"{changed["version"]}"'},
    )
    await receive(wh, station, [{"item_code": item, "quantity": 20}])

    opened = await sweep(wh)
    assert opened["gap_open"] >= 1
    [alert] = await wait_alerts(db, "plan_gap", item, lambda r: len(r) == 1)
    assert alert["warehouse_code"] == f"{code}/{XK}"
    assert (alert["status"], alert["details"]["gap"], alert["details"]["held"]) == ("open", 30, 20)
    assert (await sweep(wh))["published"] == 0

    await receive(wh, station, [{"item_code": item, "quantity": 30}])
    closed = await sweep(wh)
    assert closed["gap_closed"] >= 1
    [resolved] = await wait_alerts(db, "plan_gap", item, lambda r: r[0]["status"] == "resolved")
    assert resolved["resolution"] == "cleared"
