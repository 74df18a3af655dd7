"""Daily reconciliation (对账): the sandbox's statements of today held against the gifts.

Other tests of this package pay orders today too (some with differences of their own), so
each test looks only at the findings about its own orders."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.giving.conftest import Giving

pytestmark = pytest.mark.integration
SHANGHAI = ZoneInfo("Asia/Shanghai")


def today() -> str:
    return datetime.now(SHANGHAI).date().isoformat()


async def paid_order(giving: Giving, channel: str, amount_fen: int) -> dict[str, Any]:
    scene = "native" if channel == "wechat_pay" else "wap"
    order = await giving.start(channel=channel, scene=scene, amount_fen=amount_fen)
    await giving.pay(order)
    row = await giving.until_status(order["out_trade_no"], "paid")
    return order | {"transaction_id": row["transaction_id"], "donation_id": row["donation_id"]}


async def adjust(giving: Giving, channel: str, **body: Any) -> None:
    gateway = "wechat" if channel == "wechat_pay" else "alipay"
    response = await giving.sandbox.post(f"/sandbox/{gateway}/statement/adjust", json=body)
    assert response.status_code == 200, response.text


async def run(giving: Giving, channel: str, day: str, *roles: str) -> dict[str, Any]:
    response = await giving.client.post(
        "/api/v1/reconciliation/runs",
        json={"channel": channel, "day": day},
        headers=giving.staff(*roles),
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def about(findings: list[dict[str, Any]], *orders: dict[str, Any]) -> list[tuple[Any, ...]]:
    mine = {o["out_trade_no"] for o in orders}
    return sorted(
        (f["channel"], f["kind"], f["out_trade_no"], f["statement_fen"], f["our_fen"], f["status"])
        for f in findings
        if f["out_trade_no"] in mine
    )


async def open_findings(giving: Giving, **params: str) -> list[dict[str, Any]]:
    response = await giving.client.get(
        "/api/v1/reconciliation/findings",
        params={"status": "open", "limit": "100"} | params,
        headers=giving.staff("auditor"),
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_statements_that_differ_make_exactly_the_expected_findings(giving: Giving) -> None:
    wechat = await paid_order(giving, "wechat_pay", 6600)
    alipay = await paid_order(giving, "alipay", 4321)
    wechat_clean = await paid_order(giving, "wechat_pay", 1200)
    alipay_clean = await paid_order(giving, "alipay", 1300)
    await adjust(giving, "wechat_pay", out_trade_no=wechat["out_trade_no"], amount_fen=6000)
    await adjust(giving, "alipay", out_trade_no=alipay["out_trade_no"], omit=True)
    day = today()
    ours = (wechat, alipay, wechat_clean, alipay_clean)

    first_wechat = await run(giving, "wechat_pay", day)
    first_alipay = await run(giving, "alipay", day)
    expected = [
        ("alipay", "gift_not_paid", alipay["out_trade_no"], None, 4321, "open"),
        ("wechat_pay", "amount_differs", wechat["out_trade_no"], 6000, 6600, "open"),
    ]
    assert about(first_wechat["items"] + first_alipay["items"], *ours) == expected
    assert first_wechat["channel"] == "wechat_pay"
    assert first_wechat["day"] == day
    assert first_wechat["run_by"] == "finance"
    assert first_wechat["lines"] >= 2  # the adjusted line and the clean one at least
    assert first_wechat["findings"] == len(first_wechat["items"])
    amount = next(f for f in first_wechat["items"] if f["out_trade_no"] == wechat["out_trade_no"])
    assert amount["donation_id"] == str(wechat["donation_id"])
    assert amount["transaction_id"] == wechat["transaction_id"]

    # a rerun finds the same, in place of the open ones: no duplicates
    again = await run(giving, "wechat_pay", day)
    await run(giving, "alipay", day)
    assert again["id"] == first_wechat["id"]
    listed = await open_findings(giving, day=day)
    assert about(listed, *ours) == expected
    stored = await giving.rows(
        "SELECT kind FROM reconciliation_findings WHERE out_trade_no = ANY($1::text[])",
        [o["out_trade_no"] for o in ours],
    )
    assert sorted(r["kind"] for r in stored) == ["amount_differs", "gift_not_paid"]
    runs = await giving.rows(
        "SELECT channel FROM reconciliation_runs WHERE day = $1::date",
        datetime.now(SHANGHAI).date(),
    )
    assert sorted(r["channel"] for r in runs) == ["alipay", "wechat_pay"]

    # resolve one: once; a rerun keeps it resolved and does not open it again
    finding = next(f for f in listed if f["out_trade_no"] == wechat["out_trade_no"])
    note = {"resolution": "微信对账单金额有误，已与微信支付核实，以订单金额为准"}
    path = f"/api/v1/reconciliation/findings/{finding['id']}/resolve"
    resolved = await giving.client.post(path, json=note, headers=giving.staff())
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_by"] == "finance"
    twice = await giving.client.post(path, json=note, headers=giving.staff())
    assert twice.status_code == 409, twice.text
    empty = await giving.client.post(path, json={"resolution": ""}, headers=giving.staff())
    assert empty.status_code == 422
    too_long = await giving.client.post(
        path, json={"resolution": "x" * 501}, headers=giving.staff()
    )
    assert too_long.status_code == 422
    rerun = await run(giving, "wechat_pay", day)
    assert about(rerun["items"], *ours) == [
        ("wechat_pay", "amount_differs", wechat["out_trade_no"], 6000, 6600, "resolved")
    ]
    assert about(await open_findings(giving, channel="wechat_pay"), *ours) == []

    audited = await giving.rows(
        "SELECT action FROM audit_log WHERE entity_id = $1 OR entity_id = $2",
        finding["id"],
        first_wechat["id"],
    )
    actions = [r["action"] for r in audited]
    assert "reconciliation_finding.resolved" in actions
    assert actions.count("reconciliation.run") >= 3


async def test_auditor_reads_but_does_not_run_or_resolve(giving: Giving) -> None:
    auditor = giving.staff("auditor")
    refused = await giving.client.post(
        "/api/v1/reconciliation/runs",
        json={"channel": "alipay", "day": today()},
        headers=auditor,
    )
    assert refused.status_code == 403, refused.text
    listed = await giving.client.get("/api/v1/reconciliation/runs", headers=auditor)
    assert listed.status_code == 200, listed.text
    findings = await giving.client.get("/api/v1/reconciliation/findings", headers=auditor)
    assert findings.status_code == 200
    warehouse = await giving.client.get(
        "/api/v1/reconciliation/findings", headers=giving.staff("warehouse")
    )
    assert warehouse.status_code == 403
    anyone = await giving.client.get("/api/v1/reconciliation/runs")
    assert anyone.status_code == 401
    missing = await giving.client.post(
        "/api/v1/reconciliation/findings/00000000-0000-0000-0000-000000000000/resolve",
        json={"resolution": "n/a"},
        headers=giving.staff(),
    )
    assert missing.status_code == 404


async def test_a_clean_day_has_no_findings_and_the_future_is_refused(giving: Giving) -> None:
    clean = await paid_order(giving, "wechat_pay", 2500)
    result = await run(giving, "wechat_pay", today())
    assert about(result["items"], clean) == []

    past = (datetime.now(SHANGHAI).date() - timedelta(days=40)).isoformat()
    for channel in ("wechat_pay", "alipay"):
        empty = await run(giving, channel, past)
        assert (empty["lines"], empty["matched"], empty["findings"], empty["items"]) == (
            0,
            0,
            0,
            [],
        )
    runs = await giving.client.get(
        "/api/v1/reconciliation/runs",
        params={"channel": "alipay", "limit": "1"},
        headers=giving.staff("auditor"),
    )
    page = runs.json()
    assert [r["channel"] for r in page["items"]] == ["alipay"]
    if page["next_cursor"]:
        more = await giving.client.get(
            "/api/v1/reconciliation/runs",
            params={"channel": "alipay", "cursor": page["next_cursor"]},
            headers=giving.staff("auditor"),
        )
        assert more.status_code == 200
        assert all(r["day"] < page["items"][0]["day"] for r in more.json()["items"])

    tomorrow = (datetime.now(SHANGHAI).date() + timedelta(days=1)).isoformat()
    future = await giving.client.post(
        "/api/v1/reconciliation/runs",
        json={"channel": "wechat_pay", "day": tomorrow},
        headers=giving.staff(),
    )
    assert future.status_code == 422, future.text


async def test_the_nightly_run_reconciles_yesterday_once_per_channel(giving: Giving) -> None:
    now = datetime.now(SHANGHAI)
    if now.hour < giving.settings.reconcile_after_hour:
        pytest.skip("before the hour of the nightly run")
    yesterday = now.date() - timedelta(days=1)
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        runs = await giving.rows(
            "SELECT channel, run_by, finished_at FROM reconciliation_runs WHERE day = $1",
            yesterday,
        )
        if len([r for r in runs if r["finished_at"] is not None]) == 2:
            break
        assert asyncio.get_running_loop().time() < deadline, runs
        await asyncio.sleep(0.2)
    assert sorted(r["channel"] for r in runs) == ["alipay", "wechat_pay"]
    assert {r["run_by"] for r in runs} == {"system:reconciliation"}
