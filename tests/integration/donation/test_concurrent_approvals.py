"""Concurrent approvals never overspend: approvals that together exceed what a project may
draw are refused (409) one by one, and every gift's used amount stays within its amount."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.integration.donation.conftest import Api, gift, new_project, unique

pytestmark = pytest.mark.integration


async def test_concurrent_approvals_never_overspend(api: Api) -> None:
    project = await new_project(api)
    code = project["code"]
    await api.ok("POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=10_000))
    available = (await api.ok("GET", f"/api/v1/projects/{code}"))["figures"]["available_fen"]
    share = available // 2  # two fit, a third does not
    entered = [
        await api.ok(
            "POST",
            f"/api/v1/projects/{code}/disbursements",
            json={
                "amount_fen": share,
                "purpose": "并发审批测试",
                "recipient_type": "organization",
                "recipient_name": "测试单位",
                "voucher_no": unique("CC-"),
                "disbursed_on": "2026-11-28",
            },
        )
        for _ in range(3)
    ]
    answers = await asyncio.gather(
        *(api.call("POST", f"/api/v1/disbursements/{d['id']}/approve", "approver") for d in entered)
    )
    assert sorted(a.status_code for a in answers) == [200, 200, 409]
    refused = next(a for a in answers if a.status_code == 409)
    assert "available" in refused.json()["error"]["message"]
    for answer in answers:
        if answer.status_code == 200:
            assert sum(x["amount_fen"] for x in answer.json()["allocations"]) == share

    conn = await asyncpg.connect(api.settings.asyncpg_dsn)
    try:
        overspent = await conn.fetchval(
            "SELECT count(*) FROM donations WHERE used_fen + refunded_fen > amount_fen"
        )
        # a money gift's use is its allocations less what reversals released (a goods gift's
        # is counted per unit delivered, from the warehouse's events)
        mismatched = await conn.fetchval(
            "SELECT count(*) FROM donations d WHERE kind = 'money' AND used_fen <> "
            "(SELECT coalesce(sum(amount_fen), 0) FROM allocations a WHERE a.donation_id = d.id)"
            " - (SELECT coalesce(sum(amount_fen), 0) FROM allocation_releases r"
            " WHERE r.donation_id = d.id)"
        )
    finally:
        await conn.close()
    assert overspent == 0
    assert mismatched == 0
