"""Season plans through the API on the real PostgreSQL: targets from people × norm (rounded up)
or entered directly (which wins), held = the towns' stations' available stock plus transfers in
transit (the district warehouse excluded, even in the town), the gap and coverage per town,
CSV/xlsx exports read back, and "fill the gap" requesting transfers that the normal four-eyes
approval then moves."""

from __future__ import annotations

import csv
import io
import math
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from openpyxl import load_workbook

from shared.pagination import encode_cursor
from tests.integration.warehouse.conftest import Api, make_item, make_warehouse, receive, uniq
from tests.integration.warehouse.plan_helpers import as_, station, transfer
from warehouse.service_layer.plans import active_plan_gaps

pytestmark = pytest.mark.integration

XK, DY = "溪口镇", "大堰镇"
BASE = "/api/v1/preparedness/plans"


async def new_plan(api: Api, source: str, **extra: Any) -> dict[str, Any]:
    code = uniq("PL")
    body = {
        "code": code,
        "name": f"{code} 台风季备灾",
        "season_start": "2027-07-01",
        "season_end": "2027-09-30",
        "source_warehouse_code": source,
    } | extra
    plan: dict[str, Any] = await api.ok("POST", BASE, "dispatcher", 201, json=body)
    return plan


def line_of(cov: dict[str, Any], town: str, item: str) -> dict[str, Any]:
    (found,) = [t for t in cov["towns"] if t["town"] == town]
    (line,) = [x for x in found["lines"] if x["item_code"] == item]
    return dict(line)


def town_of(cov: dict[str, Any], town: str) -> dict[str, Any]:
    (found,) = [t for t in cov["towns"] if t["town"] == town]
    return dict(found)


async def seeded(api: Api) -> dict[str, Any]:
    """A district source, two stations in 溪口镇 and one in 大堰镇, a district-kind warehouse in
    溪口镇 (never counted), two items; a plan: 溪口镇 101 people, 大堰镇 10; norms A 0.5, B 2;
    溪口镇's target of B entered as 30."""
    source = await make_warehouse(api, kind="district", town=None)
    xk1, xk2, dy = await station(api, XK), await station(api, XK), await station(api, DY)
    in_town_district = await make_warehouse(api, kind="district", town=XK)
    a, b = await make_item(api), await make_item(api)
    await receive(
        api, source, [{"item_code": a, "quantity": 100}, {"item_code": b, "quantity": 15}]
    )
    await receive(api, xk1, [{"item_code": a, "quantity": 20}, {"item_code": b, "quantity": 10}])
    await receive(api, xk2, [{"item_code": a, "quantity": 5}])
    await receive(api, in_town_district, [{"item_code": a, "quantity": 100}])
    moving = await transfer(api, source, xk1, [(a, 6)])  # shipped, not received: in transit
    plan = await new_plan(api, source)
    code = plan["code"]
    etag = plan["version"]
    for path, body in (
        (f"towns/{XK}", {"people": 101}),
        (f"towns/{DY}", {"people": 10}),
        (f"norms/{a}", {"per_person": "0.5"}),
        (f"norms/{b}", {"per_person": "2"}),
        (f"targets/{XK}/{b}", {"quantity": 30}),
    ):
        changed = await api.ok(
            "PUT",
            f"{BASE}/{code}/{path}",
            "dispatcher",
            json=body,
            headers={"If-Match": f'"{etag}"'},
        )
        assert changed["version"] == etag + 1
        etag = changed["version"]
    return {"code": code, "source": source, "a": a, "b": b, "xk1": xk1, "dy": dy, "moving": moving}


async def test_targets_held_gap_and_coverage(api: Api) -> None:
    s = await seeded(api)
    code, a, b = s["code"], s["a"], s["b"]
    cov = await api.ok("GET", f"{BASE}/{code}/coverage", "auditor")
    assert cov["plan"]["code"] == code
    # 溪口镇: A = ceil(101 × 0.5) = 51 from the norm; held 20 + 5 on hand + 6 in transit = 31
    assert line_of(cov, XK, a) == line_of(cov, XK, a) | {
        "target": math.ceil(Decimal(101) * Decimal("0.5")),
        "held": 31,
        "in_transit": 6,
        "gap": 20,
        "source": "norm",
    }
    # B entered as 30 (not 101 × 2): held 10, gap 20
    assert {k: line_of(cov, XK, b)[k] for k in ("target", "held", "gap", "source")} == {
        "target": 30,
        "held": 10,
        "gap": 20,
        "source": "entered",
    }
    xk = town_of(cov, XK)
    assert (xk["people"], xk["target_units"], xk["held_units"], xk["gap_units"]) == (
        101,
        81,
        41,
        40,
    )
    assert xk["coverage"] == pytest.approx(41 / 81)
    # 大堰镇: A = ceil(10 × 0.5) = 5, B = 20; nothing held
    dy = town_of(cov, DY)
    assert [(x["item_code"], x["target"], x["gap"]) for x in dy["lines"]] == sorted(
        [(a, 5, 5), (b, 20, 20)]
    )
    assert dy["coverage"] == 0

    # deleting the entered target falls back to people × norm: 202
    plan = await api.ok("GET", f"{BASE}/{code}", "auditor")
    await api.ok(
        "DELETE",
        f"{BASE}/{code}/targets/{XK}/{b}",
        "dispatcher",
        headers={"If-Match": f'"{plan["version"]}"'},
    )
    cov = await api.ok("GET", f"{BASE}/{code}/coverage", "auditor")
    assert (line_of(cov, XK, b)["target"], line_of(cov, XK, b)["source"]) == (202, "norm")
    # a stale If-Match is a 409 and changes nothing
    stale = await api.call(
        "PUT",
        f"{BASE}/{code}/towns/{XK}",
        "dispatcher",
        json={"people": 1},
        headers={"If-Match": f'"{plan["version"]}"'},
    )
    assert stale.status_code == 409, stale.text
    assert town_of(await api.ok("GET", f"{BASE}/{code}/coverage", "auditor"), XK)["people"] == 101

    # a town branch reads its own town only
    mine = await api.client.get(f"{BASE}/{code}/coverage", headers=as_(api, "XK"))
    assert [t["town"] for t in mine.json()["towns"]] == [XK]


async def test_coverage_exports(api: Api) -> None:
    s = await seeded(api)
    code, a = s["code"], s["a"]
    response = await api.call("GET", f"{BASE}/{code}/coverage", "auditor", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[1] == "镇街 town"
    found = [r for r in body if r[1] == XK and r[3] == a]
    assert [r[6:10] for r in found] == [["51", "31", "6", "20"]]
    xlsx = await api.call("GET", f"{BASE}/{code}/coverage", "auditor", params={"format": "xlsx"})
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert len(values) == len(rows)
    assert [r[6:10] for r in values if r[1] == XK and r[3] == a] == [[51, 31, 6, 20]]


async def test_fill_gap_requests_transfers_that_four_eyes_then_move(api: Api) -> None:
    s = await seeded(api)
    code, a, b, source = s["code"], s["a"], s["b"], s["source"]
    preview = await api.ok("GET", f"{BASE}/{code}/fill-gap", "auditor")
    assert preview["source_warehouse_code"] == source
    towns = {t["town"]: t for t in preview["towns"]}
    xk = {x["item_code"]: x for x in towns[XK]["lines"]}
    # the source holds 94 of A and 15 of B: 溪口镇 takes A 20 and all 15 of B (5 short) ...
    assert (xk[a]["quantity"], xk[a]["short"]) == (20, 0)
    assert (xk[b]["quantity"], xk[b]["short"]) == (15, 5)
    # ... and 大堰镇, after it, gets A 5 but no B
    dy = {x["item_code"]: x for x in towns[DY]["lines"]}
    assert (dy[a]["quantity"], dy[b]["quantity"], dy[b]["short"]) == (5, 0, 20)

    refused = await api.client.post(
        f"{BASE}/{code}/fill-gap", headers=as_(api, "XK", "dispatcher"), json={}
    )
    assert refused.status_code == 403, refused.text
    assert "区红十字会" in refused.json()["error"]["message"]

    done = await api.ok(
        "POST",
        f"{BASE}/{code}/fill-gap",
        "dispatcher",
        201,
        json={},
        headers={"Idempotency-Key": uniq("K")},
    )
    made = {d["destination"]["town"]: d for d in done["dispatches"]}
    assert set(made) == {XK, DY}
    for town, d in made.items():
        assert d["status"] == "requested"
        assert d["kind"] == "transfer"
        assert d["from_warehouse_code"] == source
        dest = await api.ok(
            "GET", f"/api/v1/warehouses/{d['destination']['warehouse_code']}", "auditor"
        )
        assert (dest["kind"], dest["town"]) == ("station", town)
    assert sorted((x["item_code"], x["quantity"]) for x in made[XK]["lines"]) == sorted(
        [(a, 20), (b, 15)]
    )
    assert [(x["item_code"], x["quantity"]) for x in made[DY]["lines"]] == [(a, 5)]

    # what is requested is not asked again
    again = await api.call("POST", f"{BASE}/{code}/fill-gap", "dispatcher", json={"town": XK})
    assert again.status_code == 409, again.text
    after = await api.ok("GET", f"{BASE}/{code}/fill-gap", "auditor", params={"town": XK})
    assert {x["item_code"]: x["already_requested"] for x in after["towns"][0]["lines"]} == {
        a: 20,
        b: 15,
    }

    # the requester may not approve it; another approver does, and it moves on as usual
    did = made[XK]["id"]
    own = await api.call(
        "POST",
        f"/api/v1/dispatches/{did}/approve",
        "dispatcher",
        headers=api.token("dispatcher", "dispatcher", "approver"),
    )
    assert own.status_code == 403
    approved = await api.ok("POST", f"/api/v1/dispatches/{did}/approve", "approver")
    assert approved["status"] == "approved"
    picked = await api.ok("POST", f"/api/v1/dispatches/{did}/pick", "warehouse")
    assert picked["status"] == "picked"


async def test_plan_lifecycle_and_validation(api: Api) -> None:
    source = await make_warehouse(api, kind="district", town=None)
    item = await make_item(api)
    plan = await new_plan(api, source)
    code = plan["code"]
    assert plan["status"] == "draft"
    assert plan["source_warehouse_code"] == source
    bad = [
        ("PUT", f"{BASE}/{code}/towns/火星镇", {"people": 3}, 422),
        ("PUT", f"{BASE}/{code}/towns/{XK}", {"people": -1}, 422),
        ("PUT", f"{BASE}/{code}/norms/{item}", {"per_person": "-0.5"}, 422),
        ("PUT", f"{BASE}/{code}/norms/NO-SUCH-ITEM", {"per_person": "1"}, 404),
        ("PUT", f"{BASE}/NO-SUCH-PLAN/towns/{XK}", {"people": 3}, 404),
        ("DELETE", f"{BASE}/{code}/targets/{XK}/{item}", None, 404),
        ("PATCH", f"{BASE}/{code}", {"action": "close"}, 409),  # a draft is not closed
        ("PATCH", f"{BASE}/{code}", {"season_end": "2027-06-01"}, 422),
    ]
    for method, path, body, status in bad:
        response = await api.call(method, path, "dispatcher", json=body)
        assert response.status_code == status, (path, body, response.text)
        assert "(" in response.json()["error"]["message"]  # zh-CN with English
    unchanged = await api.ok("GET", f"{BASE}/{code}", "auditor")
    assert unchanged["version"] == plan["version"]
    assert unchanged["towns"] == []
    dup = await api.call(
        "POST",
        BASE,
        "dispatcher",
        json={"code": code, "name": "x", "season_start": "2027-07-01", "season_end": "2027-09-30"},
    )
    assert dup.status_code == 409
    keeper = await api.call("PUT", f"{BASE}/{code}/towns/{XK}", "warehouse", json={"people": 3})
    assert keeper.status_code == 403

    active = await api.ok(
        "PATCH",
        f"{BASE}/{code}",
        "approver",
        json={"action": "activate", "name": "改名"},
        headers={"If-Match": f'"{plan["version"]}"'},
    )
    assert (active["status"], active["name"]) == ("active", "改名")
    listed = await api.ok("GET", BASE, "auditor", params={"status": "active", "limit": 100})
    assert code in [p["code"] for p in listed["items"]]
    closed = await api.ok("PATCH", f"{BASE}/{code}", "approver", json={"action": "close"})
    assert closed["status"] == "closed"
    frozen = await api.call("PUT", f"{BASE}/{code}/towns/{XK}", "dispatcher", json={"people": 3})
    assert frozen.status_code == 409


async def test_active_plan_gaps_match_the_coverage(api: Api, wh_app: FastAPI) -> None:
    """What the plan-gap sweep reads: every active plan's lines, the coverage's figures."""
    s = await seeded(api)
    code = s["code"]
    async with wh_app.state.runtime.session_factory() as session:
        assert code not in {g.plan_code for g in await active_plan_gaps(session)}  # a draft
    await api.ok("PATCH", f"{BASE}/{code}", "approver", json={"action": "activate"})
    async with wh_app.state.runtime.session_factory() as session:
        gaps = [g for g in await active_plan_gaps(session) if g.plan_code == code]
    cov = await api.ok("GET", f"{BASE}/{code}/coverage", "auditor")
    expected = {
        (t["town"], x["item_code"]): (x["target"], x["held"], x["in_transit"], x["gap"])
        for t in cov["towns"]
        for x in t["lines"]
    }
    assert {(g.town, g.item_code): (g.target, g.held, g.in_transit, g.gap) for g in gaps} == (
        expected
    )
    assert expected[(XK, s["a"])] == (51, 31, 6, 20)


async def test_a_cursor_that_does_not_name_a_season_is_a_422(api: Api) -> None:
    bad = encode_cursor("not-a-date", "FX-2027")  # well-formed, but no season start in it
    response = await api.call("GET", BASE, "auditor", params={"cursor": bad})
    assert response.status_code == 422
    assert "游标" in response.text
