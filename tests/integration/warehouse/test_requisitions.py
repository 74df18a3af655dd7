"""Requisitions (请领) through the API on the real PostgreSQL: a town station's keeper asks, the
district's approver approves in full or in part (a reason required) — the transfer it becomes
was requested by the station's keeper and approved by the approver, so it goes straight to
picking — or refuses with a reason; the requester cancels; four eyes, organisation scope,
versions and validation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.warehouse.conftest import Api, make_item, make_warehouse, receive
from tests.integration.warehouse.plan_helpers import as_, station

pytestmark = pytest.mark.integration

BASE = "/api/v1/requisitions"
XK_KEEPER = "keeper-xk"


def xk(api: Api, *roles: str, user: str = XK_KEEPER) -> dict[str, str]:
    return as_(api, "XK", *(roles or ("warehouse",)), user=user)


async def raise_one(
    api: Api, warehouse: str, lines: list[tuple[str, int]], **extra: Any
) -> dict[str, Any]:
    response = await api.client.post(
        BASE,
        headers=xk(api),
        json={
            "warehouse_code": warehouse,
            "lines": [{"item_code": c, "quantity": q} for c, q in lines],
            "reason": "台风季前补充库存",
            "urgency": "urgent",
        }
        | extra,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def message(response: httpx.Response) -> str:
    text: str = response.json()["error"]["message"]
    return text


async def test_approve_in_full_becomes_an_approved_transfer(api: Api) -> None:
    source = await make_warehouse(api, kind="district", town=None)
    st = await station(api, "溪口镇")
    a, b = await make_item(api), await make_item(api)
    await receive(api, source, [{"item_code": a, "quantity": 50}, {"item_code": b, "quantity": 50}])
    rq = await raise_one(api, st, [(a, 10), (b, 4)])
    assert rq["status"] == "requested"
    assert rq["requisition_no"].startswith("RQ-")
    assert rq["requested_by"] == XK_KEEPER

    # the requester, even holding the approver role, may not approve it
    own = await api.client.post(
        f"{BASE}/{rq['id']}/approve",
        headers=as_(api, "FH", "approver", user=XK_KEEPER),
        json={"source_warehouse_code": source},
    )
    assert own.status_code == 403, own.text
    # a town's approver decides nothing
    town = await api.client.post(
        f"{BASE}/{rq['id']}/approve", headers=xk(api, "approver", user="appr-xk"), json={}
    )
    assert town.status_code == 403, town.text

    approved = await api.ok(
        "POST",
        f"{BASE}/{rq['id']}/approve",
        "approver",
        json={"source_warehouse_code": source},
        headers={"If-Match": f'"{rq["version"]}"'},
    )
    assert approved["status"] == "approved"
    assert approved["version"] == rq["version"] + 1
    assert approved["decided_by"] == "approver"
    assert [(x["item_code"], x["approved_quantity"]) for x in approved["lines"]] == [
        (a, 10),
        (b, 4),
    ]
    dispatch = await api.ok("GET", f"/api/v1/dispatches/{approved['dispatch_id']}", "auditor")
    assert dispatch["dispatch_no"] == approved["dispatch_no"]
    assert (dispatch["kind"], dispatch["status"]) == ("transfer", "approved")
    assert (dispatch["requested_by"], dispatch["approved_by"]) == (XK_KEEPER, "approver")
    assert dispatch["from_warehouse_code"] == source
    assert dispatch["destination"]["warehouse_code"] == st
    picked = await api.ok("POST", f"/api/v1/dispatches/{dispatch['id']}/pick", "warehouse")
    assert sorted((x["item_code"], x["quantity"]) for x in picked["allocations"]) == sorted(
        [(a, 10), (b, 4)]
    )

    # decided: nothing more
    for step, body in (("approve", {}), ("refuse", {"reason": "x"}), ("cancel", {})):
        again = await api.call(
            "POST",
            f"{BASE}/{rq['id']}/{step}",
            "approver",
            json=body,
            headers=xk(api) if step == "cancel" else {},
        )
        assert again.status_code == 409, (step, again.text)


async def test_partly_approved_needs_a_reason(api: Api) -> None:
    source = await make_warehouse(api, kind="district", town=None)
    st = await station(api, "溪口镇")
    a, b = await make_item(api), await make_item(api)
    await receive(api, source, [{"item_code": a, "quantity": 50}, {"item_code": b, "quantity": 50}])
    rq = await raise_one(api, st, [(a, 10), (b, 4)])
    path = f"{BASE}/{rq['id']}/approve"
    less = {"source_warehouse_code": source, "lines": [{"item_code": a, "approved_quantity": 6}]}
    for body in (
        less,  # no reason
        less | {"lines": [{"item_code": a, "approved_quantity": 11}], "reason": "多给"},
        less | {"lines": [{"item_code": "NOT-ON-IT", "approved_quantity": 1}], "reason": "x"},
        less
        | {
            "lines": [
                {"item_code": a, "approved_quantity": 0},
                {"item_code": b, "approved_quantity": 0},
            ],
            "reason": "都不给",
        },
    ):
        refused = await api.call("POST", path, "approver", json=body)
        assert refused.status_code == 422, (body, refused.text)
    assert (await api.ok("GET", f"{BASE}/{rq['id']}", "auditor"))["status"] == "requested"
    stale = await api.call(
        "POST", path, "approver", json=less | {"reason": "库存紧张"}, headers={"If-Match": '"9"'}
    )
    assert stale.status_code == 409

    done = await api.ok("POST", path, "approver", json=less | {"reason": "库存紧张，先发一半"})
    assert done["status"] == "partly_approved"
    assert done["decided_reason"] == "库存紧张，先发一半"
    assert {x["item_code"]: x["approved_quantity"] for x in done["lines"]} == {a: 6, b: 4}
    dispatch = await api.ok("GET", f"/api/v1/dispatches/{done['dispatch_id']}", "auditor")
    assert sorted((x["item_code"], x["quantity"]) for x in dispatch["lines"]) == sorted(
        [(a, 6), (b, 4)]
    )


async def test_refuse_and_cancel(api: Api) -> None:
    st = await station(api, "溪口镇")
    a = await make_item(api)
    rq = await raise_one(api, st, [(a, 3)])
    no_reason = await api.call("POST", f"{BASE}/{rq['id']}/refuse", "approver", json={})
    assert no_reason.status_code == 422
    refused = await api.ok(
        "POST", f"{BASE}/{rq['id']}/refuse", "approver", json={"reason": "区库存不足"}
    )
    assert (refused["status"], refused["decided_reason"]) == ("refused", "区库存不足")
    assert refused["dispatch_id"] is None

    other = await raise_one(api, st, [(a, 3)])
    by_another = await api.client.post(
        f"{BASE}/{other['id']}/cancel", headers=xk(api, user="someone-else"), json={}
    )
    assert by_another.status_code == 403, by_another.text
    assert "申请人" in message(by_another)
    cancelled = await api.client.post(
        f"{BASE}/{other['id']}/cancel", headers=xk(api), json={"reason": "已从别处调到"}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"


async def test_scope_and_validation(api: Api) -> None:
    xk_station, dy_station = await station(api, "溪口镇"), await station(api, "大堰镇")
    district = await make_warehouse(api, kind="district", town=None)
    a = await make_item(api)
    mine = await raise_one(api, xk_station, [(a, 2)])
    # a 溪口镇 keeper cannot raise one for a 大堰镇 station: 403 that names both organisations
    theirs = await api.client.post(
        BASE,
        headers=xk(api),
        json={
            "warehouse_code": dy_station,
            "lines": [{"item_code": a, "quantity": 1}],
            "reason": "x",
        },
    )
    assert theirs.status_code == 403, theirs.text
    assert "大堰镇红十字会" in message(theirs)
    assert "溪口镇红十字会" in message(theirs)
    for body, status in (
        ({"warehouse_code": xk_station, "lines": [], "reason": "x"}, 422),
        (
            {
                "warehouse_code": xk_station,
                "lines": [{"item_code": a, "quantity": 0}],
                "reason": "x",
            },
            422,
        ),
        ({"warehouse_code": xk_station, "lines": [{"item_code": a, "quantity": 1}]}, 422),
        (
            {
                "warehouse_code": xk_station,
                "lines": [{"item_code": a, "quantity": 1}] * 2,
                "reason": "x",
            },
            422,
        ),
        (
            {
                "warehouse_code": xk_station,
                "lines": [{"item_code": "NOPE", "quantity": 1}],
                "reason": "x",
            },
            404,
        ),
        (
            {
                "warehouse_code": xk_station,
                "lines": [{"item_code": a, "quantity": 1}],
                "reason": "x",
                "plan_code": "NO-PLAN",
            },
            404,
        ),
    ):
        response = await api.client.post(BASE, headers=xk(api), json=body)
        assert response.status_code == status, (body, response.text)
    district_asks = await api.call(
        "POST",
        BASE,
        "warehouse",
        json={
            "warehouse_code": district,
            "lines": [{"item_code": a, "quantity": 1}],
            "reason": "x",
        },
    )
    assert district_asks.status_code == 422
    # a town sees its own; reading another town's is a 403; district staff see all
    dy_one = await api.ok(
        "POST",
        BASE,
        "warehouse",
        201,
        json={
            "warehouse_code": dy_station,
            "lines": [{"item_code": a, "quantity": 1}],
            "reason": "x",
        },
    )
    listed = (await api.client.get(BASE, headers=xk(api), params={"limit": 100})).json()
    codes = {r["warehouse_code"] for r in listed["items"]}
    assert xk_station in codes
    assert dy_station not in codes
    peek = await api.client.get(f"{BASE}/{dy_one['id']}", headers=xk(api))
    assert peek.status_code == 403
    filtered = await api.ok("GET", BASE, "auditor", params={"warehouse_code": xk_station})
    assert [r["id"] for r in filtered["items"]] == [mine["id"]]
    one = await api.call("GET", f"{BASE}/{mine['id']}", "auditor")
    assert one.headers["ETag"] == f'"{mine["version"]}"'


async def test_approving_more_than_the_source_can_give_is_a_409_that_names_the_item(
    api: Api,
) -> None:
    source = await make_warehouse(api, kind="district", town=None)
    st = await station(api, "溪口镇")
    a, b = await make_item(api), await make_item(api)
    await receive(api, source, [{"item_code": a, "quantity": 30}, {"item_code": b, "quantity": 50}])
    first = await raise_one(api, st, [(a, 20)])
    await api.ok(
        "POST", f"{BASE}/{first['id']}/approve", "approver", json={"source_warehouse_code": source}
    )
    # 30 on hand, 20 promised to the first requisition's transfer: 10 left to give
    second = await raise_one(api, st, [(a, 12), (b, 5)])
    path = f"{BASE}/{second['id']}/approve"
    short = await api.call("POST", path, "approver", json={"source_warehouse_code": source})
    assert short.status_code == 409, short.text
    assert a in message(short)
    assert "可调 10" in message(short)
    assert b not in message(short)
    assert (await api.ok("GET", f"{BASE}/{second['id']}", "auditor"))["status"] == "requested"

    done = await api.ok(
        "POST",
        path,
        "approver",
        json={
            "source_warehouse_code": source,
            "lines": [{"item_code": a, "approved_quantity": 10}],
            "reason": "区仓库只剩 10",
        },
    )
    assert done["status"] == "partly_approved"
