"""Smart preparedness through the API on a history seeded months back through the domain.

The history (``seeded``) runs the real receipt and dispatch commands at back-dated times
(``clock.travel``), all relative to ``T0`` (now when the module starts). Window: 90 days.

District warehouse D (no town: the heat map's "区仓库"), station S (大堰镇, org DY), item A
(food: reorder 2 months, target 4, lead time 14 days), lot tracked:

=========  ==========================================================  ===========
 T0 −120d  receive 100 (lot A1, expiry far)                              D 100
 T0 −80d   everyday dispatch of 100 shipped                               D 0
 T0 −60d   receive 200 (lot A2, expiring T0 + 10 days)                    D 200
 T0 −50d   everyday dispatch of 30 shipped; −49d signed off, 5 returned   D 175
 T0 −40d   incident dispatch (TY-…) of 10 shipped                         D 165
 T0 −30d   transfer of 5 to S shipped; −29.5d delivered at S              D 160, S 5
 T0 −20d   receive 40 (lot A3, expiring T0 + 300 days)                    D 200
 T0 −10d   transfer of 3 to S shipped, not delivered (in transit)         D 197
 T0 −5d    procurement of 12 announced to D (on order); transfer of 4
           to S requested (on order at S)
=========  ==========================================================  ===========

D's figures, by hand:

* consumed (transfers and incidents excluded) = 100 + 30 − 5 = 125
* out of stock from −80d to −60d: 20 days
* AMC = 125 × 30.4375 / (90 − 20) = 54.3526… → 54.35
* available 197 (A2 157, A3 40); MOS = 197 / 54.35 = 3.62
* on order 12; expiring within 14 days: A2's 157
* target 54.35 × 4 = 217.4; suggestion ceil(217.4 − (197 + 0 + 12 − 157)) = 166
* below reorder? (197 + 12) / 54.35 = 3.85 ≥ 2: no (the expiring lot makes the suggestion)
* with incidents counted: 135 × 30.4375 / 70 = 58.70; with transfers too: 143 → 62.18
* rotation at 54.35 / 30.4375 = 1.7856 a day: A2 (11 days to use, today included) uses
  floor(19.64) = 19 of 157: surplus 138, dispatch first; A3 (301 days: 537 − 19) all used.

S: AMC 0 (nothing consumed), in transit 3, on order 4; out of stock from the window's start
to −29.5d: 60 days (rounded down); its 5 units of A2 nobody there uses: transfer to D.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from openpyxl import load_workbook

from shared.auth import StaffPrincipal
from tests.integration.warehouse.conftest import Api, make_item, receive, uniq
from warehouse.config import WarehouseSettings
from warehouse.domain.model import local_today
from warehouse.service_layer import clock
from warehouse.service_layer.preparedness import assess

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC)
TODAY = local_today(T0)
LEVELS = "/api/v1/preparedness/levels"


def ago(days: float) -> datetime:
    return T0 - timedelta(days=days)


def as_(api: Api, org: str, *roles: str) -> dict[str, str]:
    roles = roles or ("warehouse",)
    token = api.issuer.issue(StaffPrincipal(f"{'-'.join(roles)}-{org}", frozenset(roles), org=org))
    return {"Authorization": f"Bearer {token}"}


@dataclass
class History:
    district: str
    station: str
    item: str
    district_name: str


async def _dispatch(
    api: Api,
    source: str,
    item: str,
    quantity: int,
    *,
    to_station: str | None = None,
    incident: bool = False,
    until: str = "shipped",
) -> str:
    destination: dict[str, Any] = (
        {"kind": "station", "warehouse_code": to_station}
        if to_station
        else {"kind": "shelter", "name": "溪口镇中心小学安置点", "town": "溪口镇"}
    )
    body: dict[str, Any] = {
        "from_warehouse_code": source,
        "destination": destination,
        "lines": [{"item_code": item, "quantity": quantity}],
    }
    if incident:
        body |= {"incident_code": uniq("TY"), "incident_name": "测试台风"}
    created = await api.ok("POST", "/api/v1/dispatches", "dispatcher", 201, json=body)
    did: str = created["id"]
    if until == "requested":
        return did
    await api.ok("POST", f"/api/v1/dispatches/{did}/approve", "approver")
    await api.ok("POST", f"/api/v1/dispatches/{did}/pick", "warehouse")
    await api.ok(
        "POST", f"/api/v1/dispatches/{did}/ship", "warehouse", json={"waybill_no": uniq("WB")}
    )
    return did


async def _deliver(api: Api, did: str, returns: list[dict[str, Any]] | None = None) -> None:
    await api.ok(
        "POST",
        f"/api/v1/dispatches/{did}/deliver",
        "warehouse",
        json={"recipient_name": "王五", "returns": returns or []},
    )


def _lot(item: str, no: str, quantity: int, expiry_days: int) -> dict[str, Any]:
    expiry = (TODAY + timedelta(days=expiry_days)).isoformat()
    return {"item_code": item, "quantity": quantity, "lot_no": no, "expiry_date": expiry}


@pytest.fixture(scope="module")
async def seeded(api: Api) -> History:
    fh = as_(api, "FH")
    district = uniq("WD")
    created = await api.client.post(
        "/api/v1/warehouses",
        headers=fh,
        json={"code": district, "name": f"区仓库{district}", "kind": "district", "town": None},
    )
    assert created.status_code == 201, created.text
    station = uniq("WS")
    created = await api.client.post(
        "/api/v1/warehouses",
        headers=fh,
        json={"code": station, "name": f"大堰镇站{station}", "kind": "station", "town": "大堰镇"},
    )
    assert created.status_code == 201, created.text
    item = await make_item(api, lot_tracked=True, category="food")

    with clock.travel(ago(120)):
        await receive(api, district, [_lot(item, "A1", 100, 500)])
    with clock.travel(ago(80)):
        await _dispatch(api, district, item, 100)
    with clock.travel(ago(60)):
        await receive(api, district, [_lot(item, "A2", 200, 10)])
    with clock.travel(ago(50)):
        everyday = await _dispatch(api, district, item, 30)
    with clock.travel(ago(49)):
        await _deliver(api, everyday, [{"item_code": item, "quantity": 5}])
    with clock.travel(ago(40)):
        await _dispatch(api, district, item, 10, incident=True)
    with clock.travel(ago(30)):
        moved = await _dispatch(api, district, item, 5, to_station=station)
    with clock.travel(ago(29.5)):
        await _deliver(api, moved)
    with clock.travel(ago(20)):
        await receive(api, district, [_lot(item, "A3", 40, 300)])
    with clock.travel(ago(10)):
        await _dispatch(api, district, item, 3, to_station=station)
    with clock.travel(ago(5)):
        await api.ok(
            "POST",
            "/api/v1/inbounds",
            "warehouse",
            201,
            json={
                "warehouse_code": district,
                "procurement_order": uniq("PO"),
                "lines": [_lot(item, "A4", 12, 400)],
            },
        )
        await _dispatch(api, district, item, 4, to_station=station, until="requested")
    return History(district, station, item, f"区仓库{district}")


async def _level(api: Api, warehouse: str, item: str) -> dict[str, Any]:
    page = await api.ok(
        "GET", LEVELS, "auditor", params={"warehouse_code": warehouse, "item_code": item}
    )
    (level,) = page["items"]
    return level  # type: ignore[no-any-return]


async def test_district_figures_match_the_hand_worked_history(api: Api, seeded: History) -> None:
    level = await _level(api, seeded.district, seeded.item)
    assert level["days_out_of_stock"] == 20
    assert level["amc"] == 54.35
    assert level["available"] == 197
    assert level["mos"] == 3.62
    assert (level["in_transit"], level["on_order"], level["expiring_within_lead"]) == (0, 12, 157)
    assert (level["target_quantity"], level["suggested_quantity"]) == (218, 166)
    assert level["below_reorder"] is False
    assert (level["reorder_mos"], level["target_mos"], level["policy_source"]) == (
        2,
        4,
        "category",
    )
    assert level["town"] is None


async def test_station_figures(api: Api, seeded: History) -> None:
    level = await _level(api, seeded.station, seeded.item)
    assert level["amc"] == 0
    assert level["mos"] is None
    assert (level["available"], level["in_transit"], level["on_order"]) == (5, 3, 4)
    assert level["days_out_of_stock"] == 60
    assert level["suggested_quantity"] == 0  # no consumption: nothing to reorder by MOS
    assert level["below_reorder"] is False


async def test_transfers_and_incidents_counted_when_the_settings_say_so(
    wh_app: FastAPI, wh_settings: WarehouseSettings, seeded: History
) -> None:
    runtime = wh_app.state.runtime

    async def amc(**flags: bool) -> Decimal:
        settings = wh_settings.model_copy(update=flags)
        async with runtime.session_factory() as session:
            found = await assess(session, settings)
        (a,) = [
            x for x in found if x.warehouse_code == seeded.district and x.item_code == seeded.item
        ]
        return a.amc

    assert await amc() == Decimal("54.35")
    assert await amc(amc_exclude_incidents=False) == Decimal("58.70")
    assert await amc(amc_exclude_incidents=False, amc_exclude_transfers=False) == Decimal("62.18")


async def test_rotation_lists_the_surplus_at_expiry(api: Api, seeded: History) -> None:
    page = await api.ok("GET", "/api/v1/preparedness/rotation", "auditor", params={"limit": 500})
    mine = {
        (r["warehouse_code"], r["lot_no"]): r
        for r in page["items"]
        if r["item_code"] == seeded.item
    }
    assert set(mine) == {(seeded.district, "A2"), (seeded.station, "A2")}
    district = mine[(seeded.district, "A2")]
    assert (district["available"], district["consumed_before_expiry"], district["surplus"]) == (
        157,
        19,
        138,
    )
    assert district["action"] == "dispatch_first"
    station = mine[(seeded.station, "A2")]
    assert (station["surplus"], station["action"]) == (5, "transfer")
    assert station["transfer_to_code"] == seeded.district


async def test_suggestions_only_what_to_order_sorted_by_months_of_stock(
    api: Api, seeded: History
) -> None:
    page = await api.ok("GET", "/api/v1/preparedness/suggestions", "auditor", params={"limit": 500})
    assert all(row["suggested_quantity"] > 0 for row in page["items"])
    ranks = [row["mos"] if row["mos"] is not None else float("inf") for row in page["items"]]
    assert ranks == sorted(ranks)
    codes = {(r["warehouse_code"], r["item_code"]) for r in page["items"]}
    assert (seeded.district, seeded.item) in codes
    assert (seeded.station, seeded.item) not in codes


async def test_levels_page_with_a_cursor(api: Api, seeded: History) -> None:
    first = await api.ok("GET", LEVELS, "auditor", params={"limit": 1, "item_code": seeded.item})
    assert len(first["items"]) == 1
    assert first["next_cursor"]
    second = await api.ok(
        "GET",
        LEVELS,
        "auditor",
        params={"limit": 1, "item_code": seeded.item, "cursor": first["next_cursor"]},
    )
    got = [first["items"][0]["warehouse_code"], second["items"][0]["warehouse_code"]]
    assert got == sorted([seeded.district, seeded.station])
    assert second["next_cursor"] is None
    bad = await api.call("GET", LEVELS, "auditor", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422


async def test_heatmap_per_town(api: Api, seeded: History) -> None:
    heat = await api.ok(
        "GET", "/api/v1/preparedness/heatmap", "auditor", params={"item_code": seeded.item}
    )
    assert heat["towns"][0] == "区仓库"
    assert "大堰镇" in heat["towns"]
    assert heat["items"] == [{"code": seeded.item, "name": f"测试物资{seeded.item}", "unit": "箱"}]
    cells = {c["town"]: c for c in heat["cells"]}
    assert cells["大堰镇"]["available"] == 5
    assert cells["大堰镇"]["mos"] is None
    # other district-level warehouses of the test run may hold other items, not this one
    assert cells["区仓库"]["available"] == 197
    assert cells["区仓库"]["mos"] == 3.62
    # read against the food category's thresholds (no warehouse policy for the item yet)
    assert (cells["区仓库"]["reorder_mos"], cells["区仓库"]["target_mos"]) == (2.0, 4.0)


async def _district_cell(api: Api, history: History) -> dict[str, Any]:
    heat = await api.ok(
        "GET", "/api/v1/preparedness/heatmap", "auditor", params={"item_code": history.item}
    )
    cell: dict[str, Any] = next(c for c in heat["cells"] if c["town"] == "区仓库")
    return cell


async def test_town_staff_see_only_their_warehouses(api: Api, seeded: History) -> None:
    dy = as_(api, "DY")
    page = await api.client.get(LEVELS, headers=dy, params={"item_code": seeded.item})
    assert page.status_code == 200, page.text
    assert {r["warehouse_code"] for r in page.json()["items"]} == {seeded.station}
    other = await api.client.get(LEVELS, headers=dy, params={"warehouse_code": seeded.district})
    assert other.status_code == 403
    assert seeded.district in other.json()["error"]["message"]


async def test_csv_and_xlsx_exports(api: Api, seeded: History) -> None:
    params = {"item_code": seeded.item, "format": "csv"}
    csv_response = await api.call("GET", LEVELS, "auditor", params=params)
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"].startswith("text/csv")
    text = csv_response.content.decode("utf-8")
    assert text.startswith("\ufeff仓库编码,")
    assert seeded.district in text
    xlsx = await api.call("GET", LEVELS, "auditor", params=params | {"format": "xlsx"})
    assert xlsx.status_code == 200
    assert "filename*=UTF-8''" in xlsx.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    headers = list(rows[0])
    by_code = {row[0]: dict(zip(headers, row, strict=True)) for row in rows[1:]}
    district = by_code[seeded.district]
    assert district["月均消耗"] == 54.35
    assert district["可用"] == 197
    assert district["建议补货"] == 166
    assert district["乡镇"] == "区仓库"
    rotation = await api.call(
        "GET", "/api/v1/preparedness/rotation", "auditor", params={"format": "xlsx"}
    )
    assert rotation.status_code == 200
    assert rotation.content[:2] == b"PK"


# ------------------------------------------------------------------ policies


def _policy_path(history: History) -> str:
    return f"/api/v1/preparedness/policies/{history.district}/{history.item}"


async def test_stock_policy_min_max_versioned_audited_scoped(api: Api, seeded: History) -> None:
    path = _policy_path(seeded)
    none = await api.call("GET", path, "auditor")
    assert none.status_code == 404

    for bad in (
        {"min_quantity": 50, "max_quantity": 10},
        {"min_quantity": 5},
        {"reorder_mos": 2, "target_mos": 4, "min_quantity": 1, "max_quantity": 9},
        {"reorder_mos": 5, "target_mos": 3},
        {},
    ):
        refused = await api.call("PUT", path, "warehouse", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    assert (await api.call("GET", path, "auditor")).status_code == 404  # nothing changed

    dy = await api.client.put(
        path, headers=as_(api, "DY"), json={"min_quantity": 10, "max_quantity": 300}
    )
    assert dy.status_code == 403
    assert (await api.call("PUT", path, "auditor", json={"min_quantity": 1})).status_code == 403

    created = await api.call(
        "PUT", path, "warehouse", json={"min_quantity": 10, "max_quantity": 300}
    )
    assert created.status_code == 200, created.text
    assert created.headers["etag"] == '"1"'
    level = await _level(api, seeded.district, seeded.item)
    # fill to max: 300 − (197 + 0 + 12 − 157) = 248; 209 in the pipeline ≥ min 10: not below
    assert (level["policy_source"], level["target_quantity"], level["suggested_quantity"]) == (
        "item",
        300,
        248,
    )
    assert level["lead_time_days"] == 14  # the category's
    # held by min/max quantities: the heat map has no months to read the cell against
    cell = await _district_cell(api, seeded)
    assert (cell["reorder_mos"], cell["target_mos"]) == (None, None)

    change = {"reorder_mos": 1, "target_mos": 5, "lead_time_days": 5}
    missing = await api.call("PUT", path, "warehouse", json=change)
    assert missing.status_code == 428
    stale = await api.call("PUT", path, "warehouse", json=change, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    changed = await api.call("PUT", path, "warehouse", json=change, headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    level = await _level(api, seeded.district, seeded.item)
    # lead time 5 days: A2 (expiring in 10) no longer counts; 54.35 × 5 = 271.75 − 209 → 63
    assert (level["expiring_within_lead"], level["suggested_quantity"]) == (0, 63)
    cell = await _district_cell(api, seeded)  # the warehouse's own months now
    assert (cell["reorder_mos"], cell["target_mos"]) == (1.0, 5.0)

    audit = await api.ok(
        "GET",
        "/api/v1/audit-log",
        "auditor",
        params={"entity_id": f"{seeded.district}/{seeded.item}"},
    )
    actions = [row["action"] for row in audit["items"]]
    assert actions == ["preparedness.policy_set", "preparedness.policy_set"]

    assert (await api.call("DELETE", path, "warehouse")).status_code == 428
    gone = await api.call("DELETE", path, "warehouse", headers={"If-Match": "2"})
    assert gone.status_code == 204
    assert (await api.call("GET", path, "auditor")).status_code == 404
    level = await _level(api, seeded.district, seeded.item)
    assert level["suggested_quantity"] == 166


async def test_category_policy_district_approvers_only(api: Api, seeded: History) -> None:
    path = "/api/v1/preparedness/category-policies/hygiene"
    current = await api.call("GET", path, "auditor")
    assert current.status_code == 200
    version = int(current.headers["etag"].strip('"'))
    body = {"reorder_mos": 1.5, "target_mos": 3, "lead_time_days": 10}
    keeper = await api.call("PUT", path, "warehouse", json=body, headers={"If-Match": str(version)})
    assert keeper.status_code == 403
    town = await api.client.put(
        path, json=body, headers=as_(api, "DY", "approver") | {"If-Match": str(version)}
    )
    assert town.status_code == 403
    assert (await api.call("PUT", path, "approver", json=body)).status_code == 428
    inverted = {"reorder_mos": 4, "target_mos": 3, "lead_time_days": 10}
    bad = await api.call("PUT", path, "approver", json=inverted, headers={"If-Match": str(version)})
    assert bad.status_code == 422
    unknown = await api.call(
        "PUT",
        "/api/v1/preparedness/category-policies/toys",
        "approver",
        json=body,
        headers={"If-Match": "1"},
    )
    assert unknown.status_code == 404
    done = await api.call("PUT", path, "approver", json=body, headers={"If-Match": str(version)})
    assert done.status_code == 200, done.text
    assert (done.json()["reorder_mos"], done.json()["version"]) == (1.5, version + 1)
    listed = await api.ok("GET", "/api/v1/preparedness/category-policies", "dispatcher")
    assert {p["category"] for p in listed["items"]} >= {"food", "hygiene", "shelter"}
    audit = await api.ok(
        "GET", "/api/v1/audit-log", "auditor", params={"entity_id": "hygiene", "limit": 1}
    )
    assert audit["items"][0]["action"] == "preparedness.category_policy_set"
    restore = {"reorder_mos": 2, "target_mos": 4, "lead_time_days": 14}
    await api.ok("PUT", path, "approver", json=restore, headers={"If-Match": str(version + 1)})


async def test_unknown_filters_list_nothing(api: Api, seeded: History) -> None:
    page = await api.ok("GET", LEVELS, "auditor", params={"warehouse_code": uniq("NOPE")})
    assert page == {"items": [], "next_cursor": None}
    bad = await api.call("GET", LEVELS, "auditor", params={"format": "pdf"})
    assert bad.status_code == 422
