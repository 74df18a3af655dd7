"""The goods value report (``GET /api/v1/reports/goods-value`` and ``.xlsx``) through the API,
on a history seeded through the real commands at back-dated times (``clock.travel``) in March
2011, a month no other test writes in, so the report of that month holds this history alone.

District warehouse D (organisation FH) and station S (大堰镇, organisation DY). Items: quilts
Q (clothing_bedding), water W (water), not lot-tracked. All times 12:00 Asia/Shanghai.

===========  =====================================================================================
 2011-02-20  D receives a goods gift of 20 Q worth 240,000 fen: lot unit value 12,000
 2011-02-25  D ships 5 Q to a shelter (not signed for before March)
 ----------  opening 2011-03-01: D/Q on hand 15 (180,000), in transit 5 (60,000)
 2011-03-02  the shelter signs for 4 Q (48,000), hands 1 back (12,000)
 2011-03-05  D receives a purchase of 100 W at 300 fen (30,000)
 2011-03-10  D ships a transfer of 10 Q (120,000) to S
 2011-03-11  S confirms 9 Q received (108,000), 1 damaged (12,000, lost on the way)
 2011-03-15  D's count: W 100 → 97, damaged (write-off 900, under the four-eyes threshold)
 2011-03-20  S's count: Q 9 → 11, found (count gain 24,000)
 2011-03-25  D ships 20 W (6,000) to a shelter: not signed for by the end of March
 2011-04-02  D receives a purchase of 10 W (3,000): after the period, in no figure
===========  =====================================================================================

By hand, March 2011 (fen):

* D/Q: opening 15 on hand 180,000 + 5 in transit 60,000; returned 12,000, delivered 48,000,
  shipped 120,000, transferred out 108,000, lost in transit 12,000; closing on hand 15 + 1 − 10
  = 6 (72,000), in transit 5 − 4 − 1 + 10 − 9 − 1 = 0. Books: 240,000 − 48,000 − 108,000 −
  12,000 = 72,000.
* D/W: procured 30,000, written off 900, shipped 6,000; closing on hand 77 (23,100), in
  transit 20 (6,000). Books: 30,000 − 900 = 29,100 = 23,100 + 6,000.
* S/Q: transferred in 108,000, count gain 24,000; closing on hand 11 (132,000).
* D: closing on hand 83 (95,100), in transit 20 (6,000). Category Q: closing on hand 17
  (204,000). Overall: opening 240,000 held; closing on hand 94 (227,100) + in transit 20
  (6,000) = 233,100 = 240,000 + 30,000 + 108,000 + 24,000 − 48,000 − 108,000 − 12,000 − 900.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from shared.auth import StaffPrincipal
from shared.contracts.donation import DonatedItemV1
from tests.integration.warehouse.conftest import Api, make_item, receive, uniq
from tests.integration.warehouse.test_inbound import (
    expected_inbound,
    gift_event,
    goods_gift,
    publish,
)
from warehouse.domain.model import SHANGHAI
from warehouse.entrypoints.api.goods_value import COLUMNS
from warehouse.service_layer import clock

pytestmark = pytest.mark.integration

REPORT = "/api/v1/reports/goods-value"
MARCH = {"from": "2011-03-01", "to": "2011-03-31"}
ZERO_FIGURES = {key: 0 for key, _, _ in COLUMNS}


def noon(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=SHANGHAI)


def as_(api: Api, org: str, *roles: str) -> dict[str, str]:
    roles = roles or ("warehouse",)
    token = api.issuer.issue(StaffPrincipal(f"{'-'.join(roles)}-{org}", frozenset(roles), org=org))
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Scene:
    district: str
    station: str
    quilt: str
    water: str


async def _ship(
    api: Api, source: str, item: str, quantity: int, destination: dict[str, Any]
) -> str:
    created = await api.ok(
        "POST",
        "/api/v1/dispatches",
        "dispatcher",
        201,
        json={
            "from_warehouse_code": source,
            "destination": destination,
            "lines": [{"item_code": item, "quantity": quantity}],
        },
    )
    did: str = created["id"]
    await api.ok("POST", f"/api/v1/dispatches/{did}/approve", "approver")
    await api.ok("POST", f"/api/v1/dispatches/{did}/pick", "warehouse")
    await api.ok(
        "POST", f"/api/v1/dispatches/{did}/ship", "warehouse", json={"waybill_no": uniq("WB")}
    )
    return did


SHELTER = {"kind": "shelter", "name": "溪口镇中心小学安置点", "town": "溪口镇"}


async def _lot_id(api: Api, warehouse: str, item: str) -> str:
    page = await api.ok(
        "GET", "/api/v1/lots", "auditor", params={"warehouse_code": warehouse, "item_code": item}
    )
    (lot,) = page["items"]
    return str(lot["id"])


async def _count(api: Api, warehouse: str, item: str, counted: int, reason: str) -> None:
    lot_id = await _lot_id(api, warehouse, item)
    body = {
        "warehouse_code": warehouse,
        "lines": [{"lot_id": lot_id, "counted_quantity": counted, "reason": reason}],
    }
    count = await api.ok("POST", "/api/v1/stock-counts", "warehouse", 201, json=body)
    assert [a["status"] for a in count["adjustments"]] == ["applied"]


@pytest.fixture(scope="module")
async def scene(api: Api) -> Scene:
    fh = as_(api, "FH")
    district, station = uniq("GD"), uniq("GS")
    for code, name, kind, town in (
        (district, f"区仓库{district}", "district", None),
        (station, f"大堰镇站{station}", "station", "大堰镇"),
    ):
        created = await api.client.post(
            "/api/v1/warehouses",
            headers=fh,
            json={"code": code, "name": name, "kind": kind, "town": town},
        )
        assert created.status_code == 201, created.text
    quilt = await make_item(api, category="clothing_bedding", unit="床")
    water = await make_item(api, category="water", unit="箱")

    gift = goods_gift(
        [DonatedItemV1(item_code=quilt, name="棉被", quantity=20, unit="床", value_fen=240_000)]
    )
    await publish([gift_event(gift)], str(gift.donation_id))
    inbound = await expected_inbound(api, gift.donation_id)
    with clock.travel(noon("2011-02-20")):
        await api.ok(
            "POST",
            f"/api/v1/inbounds/{inbound['id']}/confirm",
            "warehouse",
            json={"warehouse_code": district, "lines": [{"line_no": 1, "received_quantity": 20}]},
        )
    with clock.travel(noon("2011-02-25")):
        to_shelter = await _ship(api, district, quilt, 5, SHELTER)
    with clock.travel(noon("2011-03-02")):
        await api.ok(
            "POST",
            f"/api/v1/dispatches/{to_shelter}/deliver",
            "dispatcher",
            json={"recipient_name": "王五", "returns": [{"item_code": quilt, "quantity": 1}]},
        )
    with clock.travel(noon("2011-03-05")):
        await receive(api, district, [{"item_code": water, "quantity": 100, "unit_value_fen": 300}])
    with clock.travel(noon("2011-03-10")):
        transfer = await _ship(
            api, district, quilt, 10, {"kind": "station", "warehouse_code": station}
        )
    with clock.travel(noon("2011-03-11")):
        await api.ok(
            "POST",
            f"/api/v1/dispatches/{transfer}/receive",
            "warehouse",
            headers=as_(api, "DY"),
            json={
                "recipient_name": "李四",
                "lines": [
                    {
                        "item_code": quilt,
                        "received_quantity": 9,
                        "damaged_quantity": 1,
                        "reason": "雨淋受潮",
                    }
                ],
            },
        )
    with clock.travel(noon("2011-03-15")):
        await _count(api, district, water, 97, "damaged")
    with clock.travel(noon("2011-03-20")):
        await _count(api, station, quilt, 11, "found")
    with clock.travel(noon("2011-03-25")):
        await _ship(api, district, water, 20, SHELTER)
    with clock.travel(noon("2011-04-02")):
        await receive(api, district, [{"item_code": water, "quantity": 10, "unit_value_fen": 300}])
    return Scene(district, station, quilt, water)


def figures(**given: int) -> dict[str, int]:
    return ZERO_FIGURES | given


D_QUILT = figures(
    opening_on_hand_quantity=15,
    opening_on_hand_value_fen=180_000,
    opening_in_transit_quantity=5,
    opening_in_transit_value_fen=60_000,
    returned_value_fen=12_000,
    delivered_value_fen=48_000,
    shipped_value_fen=120_000,
    transferred_out_value_fen=108_000,
    lost_in_transit_value_fen=12_000,
    closing_on_hand_quantity=6,
    closing_on_hand_value_fen=72_000,
)
D_WATER = figures(
    received_procured_value_fen=30_000,
    written_off_value_fen=900,
    shipped_value_fen=6_000,
    closing_on_hand_quantity=77,
    closing_on_hand_value_fen=23_100,
    closing_in_transit_quantity=20,
    closing_in_transit_value_fen=6_000,
)
S_QUILT = figures(
    received_transfer_value_fen=108_000,
    count_gain_value_fen=24_000,
    closing_on_hand_quantity=11,
    closing_on_hand_value_fen=132_000,
)


def added(*many: dict[str, int]) -> dict[str, int]:
    return {key: sum(f[key] for f in many) for key in ZERO_FIGURES}


def only_figures(row: dict[str, Any]) -> dict[str, int]:
    return {key: row[key] for key in ZERO_FIGURES}


async def test_every_figure_is_the_hand_computed_one(api: Api, scene: Scene) -> None:
    report = await api.ok("GET", REPORT, "auditor", params=MARCH)
    assert (report["from"], report["to"], report["timezone"]) == (
        "2011-03-01",
        "2011-03-31",
        "Asia/Shanghai",
    )
    rows = {(r["warehouse_code"], r["category"]): r for r in report["rows"]}
    assert list(rows) == [
        (scene.district, "water"),
        (scene.district, "clothing_bedding"),
        (scene.station, "clothing_bedding"),
    ]  # warehouses by code, categories in the catalogue's order
    assert only_figures(rows[scene.district, "clothing_bedding"]) == D_QUILT
    assert only_figures(rows[scene.district, "water"]) == D_WATER
    assert only_figures(rows[scene.station, "clothing_bedding"]) == S_QUILT
    station = rows[scene.station, "clothing_bedding"]
    assert (station["org_code"], station["org_name"]) == ("DY", "大堰镇红十字会")
    assert station["warehouse_name"] == f"大堰镇站{scene.station}"
    assert station["category_name"] == "衣被类"
    assert rows[scene.district, "water"]["org_code"] == "FH"

    by_warehouse = {w["warehouse_code"]: w for w in report["warehouses"]}
    assert only_figures(by_warehouse[scene.district]) == added(D_QUILT, D_WATER)
    assert by_warehouse[scene.district]["closing_on_hand_value_fen"] == 95_100
    assert only_figures(by_warehouse[scene.station]) == S_QUILT
    assert by_warehouse[scene.station]["org_code"] == "DY"

    by_category = {c["category"]: c for c in report["categories"]}
    assert list(by_category) == ["water", "clothing_bedding"]
    assert only_figures(by_category["clothing_bedding"]) == added(D_QUILT, S_QUILT)
    assert by_category["clothing_bedding"]["closing_on_hand_value_fen"] == 204_000
    assert only_figures(by_category["water"]) == D_WATER

    total = report["total"]
    assert total == added(D_QUILT, D_WATER, S_QUILT)
    assert (total["closing_on_hand_value_fen"], total["closing_in_transit_value_fen"]) == (
        227_100,
        6_000,
    )
    # the books balance, overall: 240,000 + 162,000 in − 168,000 out − 900 = 233,100
    into = sum(
        total[k]
        for k in (
            "received_donated_value_fen",
            "received_procured_value_fen",
            "received_transfer_value_fen",
            "count_gain_value_fen",
        )
    )
    out = sum(
        total[k]
        for k in (
            "delivered_value_fen",
            "transferred_out_value_fen",
            "lost_in_transit_value_fen",
            "written_off_value_fen",
        )
    )
    opening = total["opening_on_hand_value_fen"] + total["opening_in_transit_value_fen"]
    closing = total["closing_on_hand_value_fen"] + total["closing_in_transit_value_fen"]
    assert (opening, into, out, closing) == (240_000, 162_000, 168_900, 233_100)
    assert opening + into - out == closing


async def test_february_holds_the_gift_and_the_shipment_on_the_way(api: Api, scene: Scene) -> None:
    report = await api.ok(
        "GET", REPORT, "auditor", params={"from": "2011-02-01", "to": "2011-02-28"}
    )
    (row,) = report["rows"]
    assert only_figures(row) == figures(
        received_donated_value_fen=240_000,
        shipped_value_fen=60_000,
        closing_on_hand_quantity=15,
        closing_on_hand_value_fen=180_000,
        closing_in_transit_quantity=5,
        closing_in_transit_value_fen=60_000,
    )
    # one day, both ends the same: the 2 April purchase alone
    april = await api.ok(
        "GET", REPORT, "auditor", params={"from": "2011-04-02", "to": "2011-04-02"}
    )
    water = next(r for r in april["rows"] if r["category"] == "water")
    assert water["received_procured_value_fen"] == 3_000
    assert water["opening_on_hand_value_fen"] == 23_100


async def test_the_xlsx_holds_the_same_figures_in_yuan(api: Api, scene: Scene) -> None:
    report = await api.ok("GET", REPORT, "auditor", params=MARCH)
    response = await api.call("GET", f"{REPORT}.xlsx", "auditor", params=MARCH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    assert book.sheetnames == ["物资价值", "按仓库", "按类别", "说明"]

    def read(sheet: str, labels: int) -> tuple[list[list[Any]], list[dict[str, int]]]:
        header, *lines = [list(r) for r in book[sheet].iter_rows(values_only=True)]
        assert header[labels:] == [h for _, h, _ in COLUMNS]
        parsed = []
        for line in lines:
            values: dict[str, int] = {}
            for (key, _, kind), cell in zip(COLUMNS, line[labels:], strict=True):
                assert isinstance(cell, int | float)
                values[key] = round(Decimal(str(cell)) * 100) if kind == "fen" else int(cell)
            parsed.append(values)
        return [line[:labels] for line in lines], parsed

    labels, values = read("物资价值", 4)
    assert labels == [
        [r["warehouse_code"], r["warehouse_name"], r["org_name"], r["category_name"]]
        for r in report["rows"]
    ] + [["合计", None, None, None]]
    assert values == [only_figures(r) for r in report["rows"]] + [report["total"]]
    labels, values = read("按仓库", 3)
    assert [x[0] for x in labels] == [w["warehouse_code"] for w in report["warehouses"]] + ["合计"]
    assert values == [only_figures(w) for w in report["warehouses"]] + [report["total"]]
    labels, values = read("按类别", 1)
    assert [x[0] for x in labels] == ["饮用水", "衣被类", "合计"]
    assert values == [only_figures(c) for c in report["categories"]] + [report["total"]]
    # yuan, two decimals: 72,000 fen is 720.00
    cell = book["物资价值"].cell(row=3, column=4 + 16)  # D/Q closing on hand value
    assert cell.value == 720
    assert cell.number_format == "#,##0.00"
    about = dict(book["说明"].iter_rows(values_only=True))
    assert about["期间"].startswith("2011-03-01 至 2011-03-31")


async def test_a_town_keeper_sees_only_their_warehouse(api: Api, scene: Scene) -> None:
    dy = await api.client.get(REPORT, headers=as_(api, "DY"), params=MARCH)
    assert dy.status_code == 200, dy.text
    report = dy.json()
    assert [(r["warehouse_code"], r["category"]) for r in report["rows"]] == [
        (scene.station, "clothing_bedding")
    ]
    assert [w["warehouse_code"] for w in report["warehouses"]] == [scene.station]
    assert report["total"] == S_QUILT
    xlsx = await api.client.get(f"{REPORT}.xlsx", headers=as_(api, "DY"), params=MARCH)
    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True)["物资价值"]
    codes = [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert codes == [scene.station, "合计"]
    # another town's keeper: nothing of either
    xk = await api.client.get(REPORT, headers=as_(api, "XK"), params=MARCH)
    assert xk.json()["rows"] == []
    assert xk.json()["total"] == ZERO_FIGURES
    # the district's staff and every reading role see both
    for headers in (as_(api, "FH"), as_(api, "FH", "finance"), as_(api, "FH", "dispatcher")):
        seen = (await api.client.get(REPORT, headers=headers, params=MARCH)).json()
        assert {r["warehouse_code"] for r in seen["rows"]} == {scene.district, scene.station}


@pytest.mark.parametrize("path", [REPORT, f"{REPORT}.xlsx"])
@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"from": "2011-03-31", "to": "2011-03-01"}, "早于开始日期"),
        ({"from": "2006-03-01", "to": "2011-03-31"}, "不能超过 5 年"),
        ({"from": "0001-01-01", "to": "0001-01-31"}, "1900"),
        ({"from": "2011-02-30"}, "from"),
    ],
)
async def test_bad_dates_are_a_clear_422_that_changes_nothing(
    api: Api, scene: Scene, path: str, params: dict[str, str], says: str
) -> None:
    before = await api.ok("GET", REPORT, "auditor", params=MARCH)
    stock = await api.ok(
        "GET", "/api/v1/stock", "auditor", params={"warehouse_code": scene.district}
    )
    response = await api.call("GET", path, "auditor", params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert says in error["message"] or says in str(error["details"])
    assert await api.ok("GET", REPORT, "auditor", params=MARCH) == before
    assert (
        await api.ok("GET", "/api/v1/stock", "auditor", params={"warehouse_code": scene.district})
        == stock
    )


async def test_by_default_this_year_to_today(api: Api, scene: Scene) -> None:
    report = await api.ok("GET", REPORT, "auditor")
    today = datetime.now(SHANGHAI).date()
    assert (report["from"], report["to"]) == (f"{today.year}-01-01", today.isoformat())
    # the 2011 history is opening stock by now: no flow of it falls in this year
    rows = [r for r in report["rows"] if r["warehouse_code"] in (scene.district, scene.station)]
    assert sum(r["opening_on_hand_value_fen"] for r in rows) == 72_000 + 26_100 + 132_000
    assert sum(r["opening_in_transit_value_fen"] for r in rows) == 6_000
    assert all(r["delivered_value_fen"] == 0 for r in rows)
