"""Refunds above ``DONATION_REFUND_FOUR_EYES_FEN`` need a second person: the refund route answers
202 with a request, another account approves it (booked and published then) or rejects it;
at or below the threshold a refund is booked at once, as it always was."""

from __future__ import annotations

import pytest

from shared.contracts.donation import DONATION_REFUNDED
from tests.integration.donation.conftest import Api, EventLog, gift, new_project

pytestmark = pytest.mark.integration


def _threshold(api: Api) -> int:
    value = getattr(api.settings, "refund_four_eyes_fen", None)
    assert isinstance(value, int)
    return value


async def test_a_small_refund_is_booked_at_once(api: Api, event_log: EventLog) -> None:
    code = (await new_project(api))["code"]
    at_threshold = await api.ok(
        "POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=_threshold(api))
    )
    response = await api.call(
        "POST", f"/api/v1/donations/{at_threshold['id']}/refund", json={"reason": "误转原路退回"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "refunded"
    assert response.json()["refunded_fen"] == _threshold(api)
    await event_log.wait(DONATION_REFUNDED, donation_id=at_threshold["id"])


async def test_a_large_refund_needs_a_second_person(api: Api, event_log: EventLog) -> None:
    code = (await new_project(api))["code"]
    amount = _threshold(api) + 1
    large = await api.ok(
        "POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=amount)
    )
    asked = await api.call(
        "POST",
        f"/api/v1/donations/{large['id']}/refund",
        json={"reason": "捐赠人要求退回"},
        headers={"Idempotency-Key": f"refund-{large['id']}"},
    )
    assert asked.status_code == 202, asked.text
    request = asked.json()
    assert (request["status"], request["amount_fen"], request["requested_by"]) == (
        "pending",
        amount,
        "finance",
    )
    assert request["tracking_code"] == large["tracking_code"]
    replay = await api.call(
        "POST",
        f"/api/v1/donations/{large['id']}/refund",
        json={"reason": "捐赠人要求退回"},
        headers={"Idempotency-Key": f"refund-{large['id']}"},
    )
    assert (replay.status_code, replay.json()["id"]) == (202, request["id"])
    assert replay.headers.get("Idempotent-Replayed") == "true"
    twice = await api.call(
        "POST", f"/api/v1/donations/{large['id']}/refund", json={"reason": "再次申请"}
    )
    assert twice.status_code == 409  # one pending request per gift
    gift_now = await api.ok("GET", f"/api/v1/donations/{large['id']}")
    assert (gift_now["status"], gift_now["refunded_fen"]) == ("received", 0)
    assert not event_log.of(DONATION_REFUNDED, donation_id=large["id"])

    # a pending refund keeps the gift's fen from funding a disbursement
    entered = await api.ok(
        "POST",
        f"/api/v1/projects/{code}/disbursements",
        json={
            "amount_fen": 1_000,
            "purpose": "慰问困难家庭",
            "recipient_type": "organization",
            "recipient_name": "松岙镇人民政府",
            "voucher_no": f"RF-{large['id'][:8]}",
            "disbursed_on": "2026-11-20",
        },
    )
    drawn = await api.call("POST", f"/api/v1/disbursements/{entered['id']}/approve", "approver")
    if drawn.status_code == 200:  # from the unrestricted pool, if the run has any
        assert large["id"] not in {a["donation_id"] for a in drawn.json()["allocations"]}
    else:
        assert drawn.status_code == 409
    assert (await api.ok("GET", f"/api/v1/donations/{large['id']}"))["used_fen"] == 0

    own = await api.call("POST", f"/api/v1/refund-requests/{request['id']}/approve")
    assert own.status_code == 403
    assert "four eyes" in own.json()["error"]["message"]
    spelled = await api.call(
        "POST", f"/api/v1/refund-requests/{request['id']}/approve", "Finance ", "finance"
    )
    assert spelled.status_code == 403
    auditor = await api.call("POST", f"/api/v1/refund-requests/{request['id']}/approve", "auditor")
    assert auditor.status_code == 403
    pending = await api.ok("GET", "/api/v1/refund-requests", params={"status": "pending"})
    assert request["id"] in {r["id"] for r in pending["items"]}

    approved = await api.ok("POST", f"/api/v1/refund-requests/{request['id']}/approve", "approver")
    assert (approved["status"], approved["decided_by"]) == ("approved", "approver")
    gift_now = await api.ok("GET", f"/api/v1/donations/{large['id']}")
    assert (gift_now["status"], gift_now["refunded_fen"]) == ("refunded", amount)
    (event,) = await event_log.wait(DONATION_REFUNDED, donation_id=large["id"])
    assert event.data["amount_fen"] == amount
    again = await api.call("POST", f"/api/v1/refund-requests/{request['id']}/approve", "approver")
    assert again.status_code == 409


async def test_a_rejected_refund_request_leaves_the_gift(api: Api, event_log: EventLog) -> None:
    code = (await new_project(api))["code"]
    large = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(project_code=code, amount_fen=_threshold(api) * 2),
    )
    asked = await api.call(
        "POST", f"/api/v1/donations/{large['id']}/refund", json={"reason": "捐赠人要求退回"}
    )
    assert asked.status_code == 202
    request_id = asked.json()["id"]
    rejected = await api.ok(
        "POST",
        f"/api/v1/refund-requests/{request_id}/reject",
        "approver",
        json={"reason": "捐赠人已撤回退款要求"},
    )
    assert (rejected["status"], rejected["reject_reason"]) == ("rejected", "捐赠人已撤回退款要求")
    gift_now = await api.ok("GET", f"/api/v1/donations/{large['id']}")
    assert (gift_now["status"], gift_now["refunded_fen"]) == ("received", 0)
    assert not event_log.of(DONATION_REFUNDED, donation_id=large["id"])
    # asked again, it can be approved
    asked = await api.call(
        "POST", f"/api/v1/donations/{large['id']}/refund", json={"reason": "捐赠人再次要求"}
    )
    assert asked.status_code == 202
    await api.ok("POST", f"/api/v1/refund-requests/{asked.json()['id']}/approve", "approver")
    await event_log.wait(DONATION_REFUNDED, donation_id=large["id"])
