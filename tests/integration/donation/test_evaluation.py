"""A project's performance evaluation over HTTP (issue 17), on a scenario computed by hand:

Project P, budget ¥1,000. Gifts: A ¥600 received 20 days ago, B ¥400 received 10 days ago,
both designated to P; C ¥50 to another project (not P's). Disbursements approved now, oldest
gift first: D1 ¥500 to a household of 4 and a person → one share of A (20 days); D2 ¥300 →
A's last ¥100 (20 days) and ¥200 of B (10 days). A third, D3 ¥100, is approved and reversed:
it counts nothing.

So: raised ¥1,000; used ¥800; budget execution 0.8; gift → use days [10, 20, 20]: p50 20,
p90 20 (percentile_cont); people reached 5, households 2. Follow-ups: the plan's visits of
the period (rules by category) — due, none made yet. Scores (default table, weights
30/20/15/15/10/10): people 30 (target 1), follow-ups not yet owed 0, p90 20 ≤ 30 days 15,
disclosure not measured 0, satisfaction none 0, budget 0.8 × 10 = 8 → 53, 差.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.integration.donation.conftest import Api, gift, new_project, unique
from tests.integration.donation.test_recipients import new_id, person, register

pytestmark = pytest.mark.integration


def _disbursement(amount: int, **more: Any) -> dict[str, Any]:
    return {
        "amount_fen": amount,
        "purpose": "慰问困难家庭",
        "recipient_type": "organization",
        "recipient_name": "溪口镇社会事务办",
        "town": "溪口镇",
        "voucher_no": unique("V-"),
        "disbursed_on": datetime.now(UTC).date().isoformat(),
    } | more


async def _approve(api: Api, code: str, amount: int, **more: Any) -> dict[str, Any]:
    entered = await api.ok(
        "POST",
        f"/api/v1/projects/{code}/disbursements",
        json=_disbursement(amount, **more),
        headers={"Idempotency-Key": unique("k")},
    )
    approved: dict[str, Any] = await api.ok(
        "POST", f"/api/v1/disbursements/{entered['id']}/approve", "approver"
    )
    return approved


async def test_a_projects_evaluation_matches_the_hand_computed_figures(api: Api) -> None:
    now = datetime.now(UTC)
    project = await new_project(api, budget_fen=100_000, starts_on="2026-01-01")
    code = project["code"]
    other = await new_project(api)
    for amount, days in ((60_000, 20), (40_000, 10)):
        await api.ok(
            "POST",
            "/api/v1/donations",
            json=gift(
                project_code=code,
                amount_fen=amount,
                received_at=(now - timedelta(days=days)).isoformat(),
            ),
        )
    await api.ok(
        "POST", "/api/v1/donations", json=gift(project_code=other["code"], amount_fen=5_000)
    )
    household = await register(
        api, {"kind": "household", "name": "胡春花", "household_size": 4, "town": "溪口镇"}
    )
    single = await register(api, person("王小明", new_id("19500101")))
    await _approve(
        api,
        code,
        50_000,
        recipients=[{"recipient_id": household["id"]}, {"recipient_id": single["id"]}],
    )
    await _approve(api, code, 30_000)
    reversed_one = await _approve(api, code, 10_000)
    # (there is nothing left after D3: it draws the last ¥100 of B)
    reversal = await api.call(
        "POST",
        f"/api/v1/disbursements/{reversed_one['id']}/reverse",
        json={"reason": "重复录入，冲销"},
        headers={"Idempotency-Key": unique("k")},
    )
    assert reversal.status_code in (200, 201, 202), reversal.text
    if reversal.json().get("status") != "reversed":  # four eyes: a second person confirms
        confirm = await api.call(
            "POST",
            f"/api/v1/disbursement-reversals/{reversal.json()['id']}/approve",
            "approver",
            headers={"Idempotency-Key": unique("k")},
        )
        assert confirm.status_code == 200, confirm.text

    report = await api.ok("GET", f"/api/v1/projects/{code}/evaluation", "auditor")
    figures = report["figures"]
    assert figures["raised_fen"] == 100_000
    assert figures["used_fen"] == 80_000
    assert figures["budget_execution"] == 0.8
    assert figures["people_reached"] == 5
    assert figures["households_reached"] == 2
    assert figures["gift_to_use_p50_days"] == pytest.approx(20, abs=0.01)
    assert figures["gift_to_use_p90_days"] == pytest.approx(20, abs=0.01)
    assert figures["goods_delivered_fen"] == 0
    assert figures["disclosure"]["measured"] is False
    scores = {i["code"]: i for i in report["evaluation"]["indicators"]}
    assert scores["people_reached"]["score"] == 30
    assert scores["gift_to_use_p90_days"]["score"] == 15
    assert scores["budget_execution"]["score"] == 8
    assert scores["disclosure_on_time"]["measured"] is False
    assert scores["disclosure_on_time"]["score"] == 0
    assert scores["satisfaction"]["measured"] is False
    assert report["evaluation"]["total"] == 53
    assert report["evaluation"]["grade"] == "差"

    xlsx = await api.call(
        "GET", f"/api/v1/projects/{code}/evaluation", "auditor", params={"format": "xlsx"}
    )
    assert xlsx.status_code == 200
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["概况", "项目指标", "绩效评价"]
    values = [c.value for sheet in book for row in sheet.iter_rows() for c in row]
    assert code in values
    assert 1000 in values  # raised ¥1,000.00, written from fen exactly


async def test_bad_periods_and_unknown_projects(api: Api) -> None:
    project = await new_project(api)
    backwards = await api.call(
        "GET",
        f"/api/v1/projects/{project['code']}/evaluation",
        params={"from": "2026-06-01", "to": "2026-05-01"},
    )
    assert backwards.status_code == 422
    assert "to is before from" in backwards.text
    too_long = await api.call(
        "GET",
        f"/api/v1/projects/{project['code']}/evaluation",
        params={"from": "2010-01-01", "to": "2026-05-01"},
    )
    assert too_long.status_code == 422
    unknown = await api.call("GET", "/api/v1/projects/NO-SUCH-P/evaluation")
    assert unknown.status_code == 404
    forbidden = await api.call("GET", f"/api/v1/projects/{project['code']}/evaluation", "warehouse")
    assert forbidden.status_code == 403
