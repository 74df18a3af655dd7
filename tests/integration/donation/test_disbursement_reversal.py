"""An approved disbursement is never edited: it is reversed, or corrected (reversed and replaced
by a new disbursement), as a new entry one account enters and another approves. Approval gives
the gifts their fen back, publishes the reversal (a correction naming the original), allocates a
correction's replacement; the donor's tracking page shows it."""

from __future__ import annotations

from typing import Any

import pytest

from shared.contracts.donation import DISBURSEMENT_REVERSED, FUNDS_DISBURSED
from tests.integration.donation.conftest import Api, EventLog, gift, new_project, unique

pytestmark = pytest.mark.integration


def disbursement(amount: int, **overrides: Any) -> dict[str, Any]:
    return {
        "amount_fen": amount,
        "purpose": "慰问困难家庭",
        "recipient_type": "organization",
        "recipient_name": "大堰镇人民政府",
        "town": "大堰镇",
        "voucher_no": unique("DV-"),
        "disbursed_on": "2026-11-20",
    } | overrides


async def _funded(api: Api) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A project, two designated gifts (30,000 + 20,000 fen), and an approved 40,000 fen
    disbursement drawing 30,000 from the first and 10,000 from the second."""
    code = (await new_project(api))["code"]
    first = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(project_code=code, amount_fen=30_000, received_at="2026-05-01T10:00:00+08:00"),
    )
    await api.ok("POST", f"/api/v1/donations/{first['id']}/receipt")
    second = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(project_code=code, amount_fen=20_000, received_at="2026-05-02T10:00:00+08:00"),
    )
    entered = await api.ok(
        "POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(40_000)
    )
    approved = await api.ok("POST", f"/api/v1/disbursements/{entered['id']}/approve", "approver")
    return code, first, second, approved


async def test_reversal_is_four_eyes_and_releases_the_allocations(
    api: Api, event_log: EventLog
) -> None:
    code, first, second, original = await _funded(api)
    pending = await api.ok(
        "POST",
        f"/api/v1/disbursements/{original['id']}/reverse",
        json={"reason": "受助单位重复申领，款项已退回"},
    )
    assert (pending["kind"], pending["status"], pending["entered_by"]) == (
        "reversal",
        "pending",
        "finance",
    )
    # nothing changes until a second person approves
    assert (await api.ok("GET", f"/api/v1/donations/{first['id']}"))["used_fen"] == 30_000
    twice = await api.call(
        "POST", f"/api/v1/disbursements/{original['id']}/reverse", json={"reason": "再来一次"}
    )
    assert twice.status_code == 409
    own = await api.call("POST", f"/api/v1/disbursement-reversals/{pending['id']}/approve")
    assert own.status_code == 403
    spelled = await api.call(
        "POST", f"/api/v1/disbursement-reversals/{pending['id']}/approve", " FINANCE", "finance"
    )
    assert spelled.status_code == 403  # the same account, however the token spells it
    listed = await api.ok("GET", "/api/v1/disbursement-reversals", params={"status": "pending"})
    assert pending["id"] in {r["id"] for r in listed["items"]}

    approved = await api.ok(
        "POST", f"/api/v1/disbursement-reversals/{pending['id']}/approve", "approver"
    )
    assert approved["status"] == "approved"
    assert [(r["donation_id"], r["amount_fen"]) for r in approved["released"]] == [
        (first["id"], 30_000),
        (second["id"], 10_000),
    ]
    reread = await api.ok("GET", f"/api/v1/disbursements/{original['id']}")
    assert reread["status"] == "reversed"
    assert reread["amount_fen"] == 40_000  # the original entry is not edited
    assert [a["amount_fen"] for a in reread["allocations"]] == [30_000, 10_000]
    assert reread["reversal"]["id"] == pending["id"]
    g1 = await api.ok("GET", f"/api/v1/donations/{first['id']}")
    g2 = await api.ok("GET", f"/api/v1/donations/{second['id']}")
    assert (g1["status"], g1["used_fen"]) == ("receipted", 0)
    assert (g2["status"], g2["used_fen"]) == ("received", 0)
    figures = (await api.ok("GET", f"/api/v1/projects/{code}"))["figures"]
    assert (figures["used_fen"], figures["remaining_fen"]) == (0, 50_000)

    (event,) = await event_log.wait(DISBURSEMENT_REVERSED, disbursement_id=original["id"])
    assert event.data["kind"] == "reversal"
    assert event.data["amount_fen"] == 40_000
    assert event.data["replacement_disbursement_id"] is None
    assert sum(r["amount_fen"] for r in event.data["released"]) == 40_000

    # the released fen fund the next disbursement
    again = await api.ok(
        "POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(50_000)
    )
    spent = await api.ok("POST", f"/api/v1/disbursements/{again['id']}/approve", "approver")
    assert sum(a["amount_fen"] for a in spent["allocations"]) == 50_000

    async with api.public_client("10.15.0.9") as public:
        tracked = (await public.get(f"/api/v1/track/{first['tracking_code']}")).json()
    reversed_use = next(u for u in tracked["uses"] if u["disbursement_id"] == original["id"])
    assert reversed_use["reversed"] is True
    assert any(e["event"] == "use_reversed" for e in tracked["timeline"])


async def test_correction_replaces_the_disbursement_when_approved(
    api: Api, event_log: EventLog
) -> None:
    code, first, second, original = await _funded(api)
    bad = await api.call(
        "POST",
        f"/api/v1/disbursements/{original['id']}/correct",
        json={"reason": "金额录入错误", "replacement": disbursement(900_000_000_000)},
    )
    assert bad.status_code == 409  # beyond what the project would have
    assert (await api.ok("GET", f"/api/v1/disbursements/{original['id']}"))["reversal"] is None
    replacement = disbursement(35_000, purpose="慰问困难家庭（更正金额）")
    pending = await api.ok(
        "POST",
        f"/api/v1/disbursements/{original['id']}/correct",
        json={"reason": "金额录入错误，应为 350 元", "replacement": replacement},
    )
    assert (pending["kind"], pending["status"]) == ("correction", "pending")
    new = await api.ok("GET", f"/api/v1/disbursements/{pending['replacement_id']}")
    assert (new["status"], new["corrects_id"]) == ("pending", original["id"])
    alone = await api.call("POST", f"/api/v1/disbursements/{new['id']}/approve", "approver")
    assert alone.status_code == 409  # approved with its reversal, not alone

    approved = await api.ok(
        "POST", f"/api/v1/disbursement-reversals/{pending['id']}/approve", "approver"
    )
    assert approved["status"] == "approved"
    assert (await api.ok("GET", f"/api/v1/disbursements/{original['id']}"))["status"] == "reversed"
    new = await api.ok("GET", f"/api/v1/disbursements/{pending['replacement_id']}")
    assert new["status"] == "approved"
    assert [(a["donation_id"], a["amount_fen"]) for a in new["allocations"]] == [
        (first["id"], 30_000),
        (second["id"], 5_000),
    ]
    figures = (await api.ok("GET", f"/api/v1/projects/{code}"))["figures"]
    assert (figures["used_fen"], figures["remaining_fen"]) == (35_000, 15_000)

    (event,) = await event_log.wait(DISBURSEMENT_REVERSED, disbursement_id=original["id"])
    assert event.data["kind"] == "correction"
    assert event.data["replacement_disbursement_id"] == new["id"]
    (replaced,) = await event_log.wait(FUNDS_DISBURSED, disbursement_id=new["id"])
    assert replaced.data["amount_fen"] == 35_000


async def test_rejected_correction_changes_nothing(api: Api) -> None:
    code, first, _, original = await _funded(api)
    pending = await api.ok(
        "POST",
        f"/api/v1/disbursements/{original['id']}/correct",
        json={"reason": "金额录入错误", "replacement": disbursement(20_000)},
    )
    rejected = await api.ok(
        "POST",
        f"/api/v1/disbursement-reversals/{pending['id']}/reject",
        "approver",
        json={"reason": "原拨付无误"},
    )
    assert rejected["status"] == "rejected"
    assert (await api.ok("GET", f"/api/v1/disbursements/{original['id']}"))["status"] == "approved"
    assert (await api.ok("GET", f"/api/v1/disbursements/{pending['replacement_id']}"))[
        "status"
    ] == "rejected"
    assert (await api.ok("GET", f"/api/v1/donations/{first['id']}"))["used_fen"] == 30_000
    # only an approved disbursement can be reversed; a rejected reversal allows a new one
    pending_one = await api.ok(
        "POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(1_000)
    )
    not_approved = await api.call(
        "POST", f"/api/v1/disbursements/{pending_one['id']}/reverse", json={"reason": "未审批"}
    )
    assert not_approved.status_code == 409
    await api.ok(
        "POST", f"/api/v1/disbursements/{original['id']}/reverse", json={"reason": "重新冲销"}
    )
