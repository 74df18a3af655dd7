"""Optimistic concurrency over HTTP: every answer that is one versioned record (a create, a GET
of one, a PATCH, a dispatch step, an inbound confirmation) carries ``ETag: "<version>"``, a
replayed POST the stored answer's; the next step sent with that ETag as ``If-Match`` goes
through, a stale one is refused with 409 and the current version, and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.integration.warehouse.conftest import (
    Api,
    dispatch_to,
    make_item,
    make_warehouse,
    receive,
    uniq,
)

pytestmark = pytest.mark.integration


def tag(response: httpx.Response) -> str:
    """The response's ETag, checked to name the version in its body."""
    assert response.headers["ETag"] == f'"{response.json()["version"]}"', response.headers
    return response.headers["ETag"]


async def step(
    api: Api, dispatch: str, name: str, user: str, etag: str | None, **kw: Any
) -> httpx.Response:
    headers = {"If-Match": etag} if etag is not None else {}
    return await api.call(
        "POST", f"/api/v1/dispatches/{dispatch}/{name}", user, headers=headers, **kw
    )


async def stocked(api: Api, quantity: int = 10) -> tuple[str, str]:
    wh = await make_warehouse(api)
    item = await make_item(api)
    await receive(api, wh, [{"item_code": item, "quantity": quantity}])
    return wh, item


async def test_each_step_answers_the_etag_the_next_step_sends(api: Api) -> None:
    wh, item = await stocked(api)
    body = {
        "from_warehouse_code": wh,
        "destination": {"kind": "shelter", "name": "溪口镇中心小学安置点", "town": "溪口镇"},
        "lines": [{"item_code": item, "quantity": 4}],
    }
    created = await api.call("POST", "/api/v1/dispatches", "dispatcher", key=uniq("dp"), json=body)
    assert created.status_code == 201, created.text
    etag = tag(created)
    assert etag == '"1"'
    did = created.json()["id"]
    seen = [etag]
    for name, user, kw in [
        ("approve", "approver", {}),
        ("pick", "warehouse", {}),
        ("ship", "warehouse", {"json": {"waybill_no": "SF-ETAG-1", "carrier": "顺丰速运"}}),
        ("deliver", "dispatcher", {"json": {"recipient_name": "李建华"}}),
    ]:
        done = await step(api, did, name, user, etag, **kw)
        assert done.status_code == 200, (name, done.text)
        etag = tag(done)
        seen.append(etag)
        read = await api.call("GET", f"/api/v1/dispatches/{did}", "auditor")
        assert read.status_code == 200
        assert tag(read) == etag
    assert seen == ['"1"', '"2"', '"3"', '"4"', '"5"']
    assert done.json()["status"] == "delivered"


async def test_a_stale_etag_is_refused_and_changes_nothing(api: Api) -> None:
    wh, item = await stocked(api)
    did = (await dispatch_to(api, wh, [(item, 3)]))["id"]
    first = tag(await api.call("GET", f"/api/v1/dispatches/{did}", "auditor"))
    approved = await step(api, did, "approve", "approver", first)
    assert approved.status_code == 200
    # someone still holding the first version may not act on it
    stale = await step(api, did, "pick", "warehouse", first)
    assert stale.status_code == 409, stale.text
    assert stale.json()["error"]["details"] == {"current_version": 2}
    assert "ETag" not in stale.headers
    stale_cancel = await step(api, did, "cancel", "dispatcher", first, json={"reason": "过时"})
    assert stale_cancel.status_code == 409
    read = await api.call("GET", f"/api/v1/dispatches/{did}", "auditor")
    assert read.json()["status"] == "approved"
    assert tag(read) == tag(approved) == '"2"'
    # the weak form of the current one is accepted too
    picked = await step(api, did, "pick", "warehouse", "W/" + tag(approved))
    assert picked.status_code == 200, picked.text
    assert tag(picked) == '"3"'


@pytest.mark.parametrize("action", ["reject", "cancel"])
async def test_reject_and_cancel_answer_the_new_etag(api: Api, action: str) -> None:
    wh, item = await stocked(api)
    did = (await dispatch_to(api, wh, [(item, 2)]))["id"]
    user = "approver" if action == "reject" else "dispatcher"
    stale = await step(api, did, action, user, '"7"', json={"reason": "不再需要"})
    assert stale.status_code == 409
    done = await step(api, did, action, user, '"1"', json={"reason": "不再需要"})
    assert done.status_code == 200, done.text
    assert tag(done) == '"2"'


async def test_a_replayed_step_carries_the_stored_answers_etag(api: Api) -> None:
    wh, item = await stocked(api)
    did = (await dispatch_to(api, wh, [(item, 5)]))["id"]
    await api.ok("POST", f"/api/v1/dispatches/{did}/approve", "approver")
    key = f"pick-{uuid.uuid4()}"
    picked = await step(api, did, "pick", "warehouse", '"2"', key=key)
    assert picked.status_code == 200
    again = await step(api, did, "pick", "warehouse", '"2"', key=key)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert tag(again) == tag(picked) == '"3"'
    # still the stored answer's version once the dispatch has moved on
    ship = {"json": {"waybill_no": "SF-ETAG-2"}}
    shipped = await step(api, did, "ship", "warehouse", tag(picked), **ship)
    assert tag(shipped) == '"4"'
    later = await step(api, did, "pick", "warehouse", '"2"', key=key)
    assert later.headers["Idempotent-Replayed"] == "true"
    assert tag(later) == '"3"'


async def test_warehouses_and_items_answer_their_etag(api: Api) -> None:
    code = uniq("WH")
    body = {"code": code, "name": f"测试仓库{code}", "kind": "station", "town": "溪口镇"}
    key = uniq("wh")
    created = await api.call("POST", "/api/v1/warehouses", "warehouse", key=key, json=body)
    assert created.status_code == 201
    assert tag(created) == '"1"'
    replay = await api.call("POST", "/api/v1/warehouses", "warehouse", key=key, json=body)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert tag(replay) == '"1"'
    patched = await api.call(
        "PATCH", f"/api/v1/warehouses/{code}", "warehouse", json={"version": 1, "name": "改名"}
    )
    assert patched.status_code == 200
    assert tag(patched) == '"2"'
    assert tag(await api.call("GET", f"/api/v1/warehouses/{code}", "auditor")) == '"2"'
    stale = await api.call(
        "PATCH", f"/api/v1/warehouses/{code}", "warehouse", json={"version": 1, "name": "再改"}
    )
    assert stale.status_code == 409
    assert "ETag" not in stale.headers

    item = await make_item(api)
    assert tag(await api.call("GET", f"/api/v1/items/{item}", "auditor")) == '"1"'
    patched = await api.call(
        "PATCH", f"/api/v1/items/{item}", "warehouse", json={"version": 1, "name": "新名称"}
    )
    assert patched.status_code == 200
    assert tag(patched) == '"2"'
    missing = await api.call("GET", "/api/v1/items/NO-SUCH-ITEM", "auditor")
    assert missing.status_code == 404
    assert "ETag" not in missing.headers
    # a listing is many records: no ETag
    listing = await api.call("GET", "/api/v1/items", "auditor", params={"q": item})
    assert listing.status_code == 200
    assert "ETag" not in listing.headers


async def test_inbounds_answer_their_etag(api: Api) -> None:
    wh = await make_warehouse(api)
    item = await make_item(api)
    created = await api.call(
        "POST",
        "/api/v1/inbounds",
        "warehouse",
        json={
            "warehouse_code": wh,
            "procurement_order": uniq("PO"),
            "lines": [{"item_code": item, "quantity": 3}],
        },
    )
    assert created.status_code == 201
    first = tag(created)
    inbound = created.json()["id"]
    assert tag(await api.call("GET", f"/api/v1/inbounds/{inbound}", "auditor")) == first
    confirmed = await api.call(
        "POST",
        f"/api/v1/inbounds/{inbound}/confirm",
        "warehouse",
        json={
            "version": created.json()["version"],
            "lines": [{"line_no": 1, "received_quantity": 3}],
        },
    )
    assert confirmed.status_code == 200, confirmed.text
    assert tag(confirmed) != first
    assert tag(await api.call("GET", f"/api/v1/inbounds/{inbound}", "auditor")) == tag(confirmed)
