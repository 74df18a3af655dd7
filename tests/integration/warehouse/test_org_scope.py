"""Organisation scope in the warehouse, through the HTTP API on the real PostgreSQL and Kafka.

Every warehouse belongs to one organisation (``org_code``: its town's branch for a station,
the district branch FH for the district warehouse, unless another registered one is named).
A town branch's staff (token ``org`` claim) see only their organisation's warehouses, stock,
lots, stock card, counts, inbounds and dispatches (a transfer also to its destination's);
reading or changing one of another organisation's is a 403 that names both organisations.
District staff see and change everything; the auditor reads everything. The warehouse's copy
of the organisation register follows ``organisation.registered.v1`` on ``staff.events``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.auth import StaffPrincipal
from shared.contracts.donation import DonatedItemV1
from shared.contracts.staff import ORGANISATION_REGISTERED, OrganisationRegisteredV1
from shared.messaging.envelope import CloudEvent
from shared.messaging.relay import create_producer
from shared.messaging.topics import STAFF_EVENTS
from tests.conftest import KAFKA_BOOTSTRAP, TOPIC_PREFIX
from tests.integration.conftest import eventually
from tests.integration.warehouse.conftest import Api, make_item, receive, uniq
from tests.integration.warehouse.test_inbound import (
    expected_inbound,
    gift_event,
    goods_gift,
    publish,
)

pytestmark = pytest.mark.integration

XK, DY = "溪口镇红十字会", "大堰镇红十字会"


def as_(api: Api, org: str, *roles: str) -> dict[str, str]:
    """Headers of a staff member of ``org`` with ``roles`` (default: warehouse keeper)."""
    roles = roles or ("warehouse",)
    user = f"{'-'.join(roles)}-{org.lower()}"
    token = api.issuer.issue(StaffPrincipal(user, frozenset(roles), org=org))
    return {"Authorization": f"Bearer {token}"}


async def station(api: Api, town: str, **extra: Any) -> dict[str, Any]:
    """A new station in ``town``, created by the district's keeper; its body."""
    code = uniq("ST")
    body = {"code": code, "name": f"{town}测试站{code}", "kind": "station", "town": town} | extra
    response = await api.client.post("/api/v1/warehouses", headers=as_(api, "FH"), json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def refused(response: httpx.Response, warehouse: str, theirs: str, mine: str) -> None:
    """A 403 whose message says whose warehouse it is and whom the caller acts for."""
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    for says in (warehouse, theirs, mine):
        assert says in error["message"], f"{says!r} not in {error['message']!r}"


async def get(api: Api, path: str, who: dict[str, str], **params: Any) -> Any:
    response = await api.client.get(path, headers=who, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_warehouse_belongs_to_its_towns_branch_unless_another_is_named(
    api: Api,
) -> None:
    fh = as_(api, "FH")
    assert (await station(api, "大堰镇"))["org_code"] == "DY"
    assert (await station(api, "溪口镇"))["org_code"] == "XK"
    assert (await station(api, "大堰镇", org_code="FH"))["org_code"] == "FH"
    code = uniq("WH")
    district = await api.client.post(
        "/api/v1/warehouses",
        headers=fh,
        json={"code": code, "name": "区仓库", "kind": "district", "town": "岳林街道"},
    )
    assert district.status_code == 201, district.text
    assert district.json()["org_code"] == "FH"
    assert (await get(api, f"/api/v1/warehouses/{code}", fh))["org_code"] == "FH"
    unknown = await api.client.post(
        "/api/v1/warehouses",
        headers=fh,
        json={
            "code": uniq("ST"),
            "name": "x",
            "kind": "station",
            "town": "大堰镇",
            "org_code": "ZZ",
        },
    )
    assert unknown.status_code == 422, unknown.text
    assert "ZZ" in unknown.json()["error"]["message"]
    moved = await station(api, "大堰镇")
    patched = await api.client.patch(
        f"/api/v1/warehouses/{moved['code']}",
        headers=fh,
        json={"version": moved["version"], "org_code": "XK"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["org_code"] == "XK"
    nulled = await api.client.patch(
        f"/api/v1/warehouses/{moved['code']}",
        headers=fh,
        json={"version": patched.json()["version"], "org_code": None},
    )
    assert nulled.status_code == 422, nulled.text


async def test_a_town_keeper_lists_only_their_organisations_things(api: Api) -> None:
    """Warehouses, stock, lots, the stock card, counts and inbounds (and the CSV exports) of
    a town keeper hold only their organisation's warehouses; the district's keeper and the
    auditor of a town branch see both."""
    fh, xk = as_(api, "FH"), as_(api, "XK")
    mine, theirs = await station(api, "溪口镇"), await station(api, "大堰镇")
    item = await make_item(api)
    lots = {}
    for place in (mine, theirs):
        confirmed = await receive(api, place["code"], [{"item_code": item, "quantity": 10}])
        lots[place["code"]] = confirmed["received_lines"][0]["lot_id"]
        count = await api.client.post(
            "/api/v1/stock-counts",
            headers=fh,
            json={
                "warehouse_code": place["code"],
                "lines": [{"lot_id": lots[place["code"]], "counted_quantity": 9, "reason": "lost"}],
            },
        )
        assert count.status_code == 201, count.text
    both = {mine["code"], theirs["code"]}

    async def codes(path: str, who: dict[str, str], **params: Any) -> set[str]:
        page = await get(api, path, who, item_code=item, limit=100, **params)
        return {row["warehouse_code"] for row in page["items"]}

    for path in ("/api/v1/stock", "/api/v1/lots", "/api/v1/stock/movements", "/api/v1/stock/card"):
        assert await codes(path, xk) == {mine["code"]}, path
        assert await codes(path, fh) == both, path
        assert await codes(path, as_(api, "XK", "auditor")) == both, path
    warehouses = await get(api, "/api/v1/warehouses", xk, limit=100)
    assert {w["org_code"] for w in warehouses["items"]} == {"XK"}
    assert mine["code"] in {w["code"] for w in warehouses["items"]}
    for path in ("/api/v1/stock-counts", "/api/v1/inbounds"):
        listed = await get(api, path, xk, limit=100)
        assert theirs["code"] not in {r["warehouse_code"] for r in listed["items"]}, path
        assert mine["code"] in {r["warehouse_code"] for r in listed["items"]}, path
        assert {r["warehouse_code"] for r in listed["items"]} - {None} <= {
            w["code"] for w in warehouses["items"]
        }, path
    for path in ("/api/v1/stock/export.csv", "/api/v1/stock/movements/export.csv"):
        response = await api.client.get(path, headers=xk, params={"item_code": item})
        assert response.status_code == 200, response.text
        assert mine["code"] in response.text, path
        assert theirs["code"] not in response.text, path
        everything = await api.client.get(path, headers=fh, params={"item_code": item})
        assert theirs["code"] in everything.text, path


async def test_reading_another_organisations_things_is_refused_with_the_reason(
    api: Api,
) -> None:
    fh, xk = as_(api, "FH"), as_(api, "XK")
    theirs = await station(api, "大堰镇")
    code = theirs["code"]
    item = await make_item(api)
    confirmed = await receive(api, code, [{"item_code": item, "quantity": 4}])
    count = await api.client.post(
        "/api/v1/stock-counts",
        headers=fh,
        json={
            "warehouse_code": code,
            "lines": [{"lot_id": confirmed["received_lines"][0]["lot_id"], "counted_quantity": 4}],
        },
    )
    assert count.status_code == 201, count.text
    dispatch = await api.client.post(
        "/api/v1/dispatches",
        headers=as_(api, "FH", "dispatcher"),
        json={
            "from_warehouse_code": code,
            "destination": {"kind": "shelter", "name": "大堰镇安置点", "town": "大堰镇"},
            "lines": [{"item_code": item, "quantity": 1}],
        },
    )
    assert dispatch.status_code == 201, dispatch.text
    reads = [
        f"/api/v1/warehouses/{code}",
        f"/api/v1/inbounds/{confirmed['id']}",
        f"/api/v1/stock-counts/{count.json()['id']}",
        f"/api/v1/dispatches/{dispatch.json()['id']}",
        f"/api/v1/stock?warehouse_code={code}",
        f"/api/v1/lots?warehouse_code={code}",
        f"/api/v1/stock/movements?warehouse_code={code}",
        f"/api/v1/stock-counts?warehouse_code={code}",
        f"/api/v1/inbounds?warehouse_code={code}",
    ]
    for path in reads:
        refused(await api.client.get(path, headers=xk), code, DY, XK)
        assert (await api.client.get(path, headers=fh)).status_code == 200, path
        # the auditor (监事会) reads everything, whatever branch the account belongs to
        assert (await api.client.get(path, headers=as_(api, "XK", "auditor"))).status_code == 200
    assert (await api.client.get(reads[0], headers=as_(api, "DY"))).status_code == 200
    listed = await get(api, "/api/v1/dispatches", xk, limit=100)
    assert dispatch.json()["id"] not in {d["id"] for d in listed["items"]}


async def test_a_town_branch_changes_nothing_of_another_organisation(api: Api) -> None:
    fh, xk = as_(api, "FH"), as_(api, "XK")
    theirs, mine = await station(api, "大堰镇"), await station(api, "溪口镇")
    item = await make_item(api)
    code = theirs["code"]
    writes: list[tuple[str, str, dict[str, str], dict[str, Any]]] = [
        (
            "POST",
            "/api/v1/safety-stocks",
            xk,
            {"warehouse_code": code, "item_code": item, "safety_stock": 5},
        ),
        ("PATCH", f"/api/v1/warehouses/{code}", xk, {"version": theirs["version"], "name": "改名"}),
        (
            "POST",
            "/api/v1/inbounds",
            xk,
            {
                "warehouse_code": code,
                "procurement_order": uniq("PO"),
                "lines": [{"item_code": item, "quantity": 1}],
            },
        ),
        (
            "POST",
            "/api/v1/dispatches",
            as_(api, "XK", "dispatcher"),
            {
                "from_warehouse_code": code,
                "destination": {"kind": "shelter", "name": "安置点", "town": "溪口镇"},
                "lines": [{"item_code": item, "quantity": 1}],
            },
        ),
    ]
    for method, path, who, body in writes:
        refused(await api.client.request(method, path, headers=who, json=body), code, DY, XK)
    after = await get(api, f"/api/v1/warehouses/{code}", fh)
    assert (after["name"], after["version"]) == (theirs["name"], theirs["version"])
    # a station of another branch cannot be created, nor given to it
    for body in (
        {"code": uniq("ST"), "name": "x", "kind": "station", "town": "大堰镇"},
        {"code": uniq("ST"), "name": "x", "kind": "station", "town": "溪口镇", "org_code": "DY"},
    ):
        response = await api.client.post("/api/v1/warehouses", headers=xk, json=body)
        assert response.status_code == 403, response.text
        assert DY in response.json()["error"]["message"]
    move = await api.client.patch(
        f"/api/v1/warehouses/{mine['code']}",
        headers=xk,
        json={"version": mine["version"], "org_code": "DY"},
    )
    assert move.status_code == 403, move.text
    own = await api.client.post(
        "/api/v1/warehouses",
        headers=xk,
        json={"code": uniq("ST"), "name": "溪口新站", "kind": "station", "town": "溪口镇"},
    )
    assert own.status_code == 201, own.text
    assert own.json()["org_code"] == "XK"
    ok = await api.client.post(
        "/api/v1/safety-stocks",
        headers=xk,
        json={"warehouse_code": mine["code"], "item_code": item, "safety_stock": 5},
    )
    assert ok.status_code == 200, ok.text
    scan = await api.client.post("/api/v1/expiry-scans", headers=xk)
    assert scan.status_code == 403, scan.text
    assert XK in scan.json()["error"]["message"]


async def test_a_dispatch_is_its_source_organisations_and_a_transfer_lands_with_the_other(
    api: Api,
) -> None:
    """A transfer from 大堰镇's station to 溪口镇's: 溪口镇 reads it and signs it off (the goods
    land at its station), but does not approve, pick, ship or cancel it; 大堰镇's keeper picks
    and ships; the district's approver approves."""
    theirs, mine = await station(api, "大堰镇"), await station(api, "溪口镇")
    item = await make_item(api)
    await receive(api, theirs["code"], [{"item_code": item, "quantity": 6}])
    created = await api.client.post(
        "/api/v1/dispatches",
        headers=as_(api, "DY", "dispatcher"),
        json={
            "from_warehouse_code": theirs["code"],
            "destination": {"kind": "warehouse", "warehouse_code": mine["code"]},
            "lines": [{"item_code": item, "quantity": 6}],
        },
    )
    assert created.status_code == 201, created.text
    dispatch_id = created.json()["id"]
    xk_reads = await get(api, f"/api/v1/dispatches/{dispatch_id}", as_(api, "XK"))
    assert xk_reads["kind"] == "transfer"
    listed = await get(api, "/api/v1/dispatches", as_(api, "XK"), limit=100)
    assert dispatch_id in {d["id"] for d in listed["items"]}

    async def step(name: str, who: dict[str, str], body: dict[str, Any] | None = None) -> Any:
        return await api.client.post(
            f"/api/v1/dispatches/{dispatch_id}/{name}", headers=who, json=body
        )

    refused(await step("approve", as_(api, "XK", "approver")), theirs["code"], DY, XK)
    assert (await step("approve", as_(api, "FH", "approver"))).status_code == 200
    refused(await step("pick", as_(api, "XK")), theirs["code"], DY, XK)
    refused(await step("cancel", as_(api, "XK"), {"reason": "不要了"}), theirs["code"], DY, XK)
    assert (await step("pick", as_(api, "DY"))).status_code == 200
    refused(await step("ship", as_(api, "XK"), {"waybill_no": "W1"}), theirs["code"], DY, XK)
    assert (await step("ship", as_(api, "DY"), {"waybill_no": uniq("W")})).status_code == 200
    # another town's keeper cannot sign it off; the destination's can
    signed_off = {"recipient_name": "王五"}
    refused(await step("deliver", as_(api, "QC"), signed_off), theirs["code"], DY, "裘村镇红十字会")
    delivered = await step("deliver", as_(api, "XK"), signed_off)
    assert delivered.status_code == 200, delivered.text
    stock = await get(
        api, "/api/v1/stock", as_(api, "XK"), warehouse_code=mine["code"], item_code=item
    )
    assert [row["on_hand"] for row in stock["items"]] == [6]


async def publish_organisation(org: OrganisationRegisteredV1) -> None:
    """As the donation service's relay publishes it."""
    event = CloudEvent(
        id=str(uuid.uuid4()),
        type=ORGANISATION_REGISTERED,
        source="/sunshine/donation",
        time=datetime.now(UTC),
        data=org.model_dump(mode="json"),
        subject=org.code,
    )
    producer = create_producer(KAFKA_BOOTSTRAP)
    await producer.start()
    try:
        await producer.send_and_wait(
            TOPIC_PREFIX + STAFF_EVENTS,
            value=event.value(),
            key=org.code.encode(),
            headers=event.headers(),
        )
    finally:
        await producer.stop()


async def test_the_register_follows_organisation_registered_events(api: Api) -> None:
    """An organisation the donation service registers can own warehouses once its event is
    read (before, it is unknown: 422); a renamed one is named so in a refusal."""
    code = "T" + uuid.uuid4().hex[:6].upper()
    fh = as_(api, "FH")

    async def create() -> httpx.Response:
        return await api.client.post(
            "/api/v1/warehouses",
            headers=fh,
            json={
                "code": uniq("ST"),
                "name": "新站",
                "kind": "station",
                "town": "溪口镇",
                "org_code": code,
            },
        )

    assert (await create()).status_code == 422
    await publish_organisation(
        OrganisationRegisteredV1(code=code, name="测试镇红十字会", kind="town", town=None)
    )

    async def known() -> bool:
        return (await create()).status_code == 201

    await eventually(known, timeout=30)
    await publish_organisation(
        OrganisationRegisteredV1(code=code, name="测试镇红十字会（更名）", kind="town", town=None)
    )
    theirs = await station(api, "大堰镇")

    async def renamed() -> bool:
        response = await api.client.get(
            f"/api/v1/warehouses/{theirs['code']}", headers=as_(api, code)
        )
        return response.status_code == 403 and "测试镇红十字会（更名）" in response.text

    await eventually(renamed, timeout=30)


async def test_a_goods_gift_not_yet_received_is_every_branchs_until_one_receives_it(
    api: Api,
) -> None:
    """An expected goods gift (no warehouse yet) is listed to every branch; the one that
    receives it confirms it into its own station (not into another's), and from then on it is
    that organisation's inbound."""
    mine, theirs = await station(api, "溪口镇"), await station(api, "大堰镇")
    item = await make_item(api)
    gift = goods_gift(
        [DonatedItemV1(item_code=item, name="棉被", quantity=3, unit="床", value_fen=900)]
    )
    await publish([gift_event(gift)], str(gift.donation_id))
    inbound = await expected_inbound(api, gift.donation_id)
    for org in ("XK", "DY"):
        listed = await get(
            api, "/api/v1/inbounds", as_(api, org), donation_id=str(gift.donation_id)
        )
        assert [i["id"] for i in listed["items"]] == [inbound["id"]], org
        assert (
            await api.client.get(f"/api/v1/inbounds/{inbound['id']}", headers=as_(api, org))
        ).status_code == 200
    body = {"lines": [{"line_no": 1, "received_quantity": 3}]}
    path = f"/api/v1/inbounds/{inbound['id']}/confirm"
    into_theirs = await api.client.post(
        path, headers=as_(api, "XK"), json=body | {"warehouse_code": theirs["code"]}
    )
    refused(into_theirs, theirs["code"], DY, XK)
    confirmed = await api.client.post(
        path, headers=as_(api, "XK"), json=body | {"warehouse_code": mine["code"]}
    )
    assert confirmed.status_code == 200, confirmed.text
    refused(
        await api.client.get(f"/api/v1/inbounds/{inbound['id']}", headers=as_(api, "DY")),
        mine["code"],
        XK,
        DY,
    )
    listed = await get(api, "/api/v1/inbounds", as_(api, "DY"), donation_id=str(gift.donation_id))
    assert listed["items"] == []
