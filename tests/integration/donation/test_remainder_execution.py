"""A closed project's remainder is executed, not only noted: "transfer" moves each gift's
remaining fen to the target project with its donor's consent (the others wait, listed, until a
consent is recorded or the money is refunded); "return to donors" refunds them (above the
four-eyes threshold, after a second person's approval). The moved fen fund the target's
disbursements traceably to the original gifts, each move is published, and the donor's
tracking page shows where the fen went. Projects belong to an organisation."""

from __future__ import annotations

from typing import Any

import pytest

from shared.contracts.donation import (
    DONATION_REFUNDED,
    FUNDS_DISBURSED,
    REMAINDER_TRANSFERRED,
)
from tests.integration.donation.conftest import Api, EventLog, gift, new_project, unique

pytestmark = pytest.mark.integration


def disbursement(amount: int, **overrides: Any) -> dict[str, Any]:
    return {
        "amount_fen": amount,
        "purpose": "受灾群众生活救助",
        "recipient_type": "organization",
        "recipient_name": "溪口镇人民政府",
        "town": "溪口镇",
        "voucher_no": unique("RV-"),
        "disbursed_on": "2026-10-20",
    } | overrides


def consent(donation_id: str, method: str = "phone") -> dict[str, Any]:
    return {
        "donation_id": donation_id,
        "method": method,
        "obtained_by": "周主任",
        "obtained_at": "2026-11-05T10:00:00+08:00",
        "note": "电话联系捐赠人，同意转入",
    }


async def _spend(api: Api, code: str, amount: int) -> dict[str, Any]:
    entered = await api.ok(
        "POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(amount)
    )
    result: dict[str, Any] = await api.ok(
        "POST", f"/api/v1/disbursements/{entered['id']}/approve", "approver"
    )
    return result


async def _track(api: Api, tracking_code: str) -> dict[str, Any]:
    async with api.public_client(f"10.14.{len(tracking_code) % 200}.7") as public:
        response = await public.get(f"/api/v1/track/{tracking_code}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_transfer_moves_consented_gifts_and_the_rest_wait(
    api: Api, event_log: EventLog
) -> None:
    closing = await new_project(api, ends_on="2026-10-31", name="台风救灾测试")
    code = closing["code"]
    target = await new_project(api, name="应急救灾测试")
    first = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(project_code=code, amount_fen=30_000, received_at="2026-09-02T10:00:00+08:00"),
    )
    second = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(project_code=code, amount_fen=20_000, received_at="2026-09-03T10:00:00+08:00"),
    )
    await _spend(api, code, 10_000)  # from the first (oldest) gift
    closed = await api.ok("POST", f"/api/v1/projects/{code}/close", json={})
    assert closed["figures"]["remaining_fen"] == 40_000

    # a consent before the decision is kept for it; one for a gift elsewhere is refused
    await api.ok("POST", f"/api/v1/projects/{code}/remainder/consents", json=consent(first["id"]))
    again = await api.call(
        "POST", f"/api/v1/projects/{code}/remainder/consents", json=consent(first["id"])
    )
    assert again.status_code == 409
    elsewhere = await api.ok(
        "POST", "/api/v1/donations", json=gift(project_code=target["code"], amount_fen=1_000)
    )
    wrong = await api.call(
        "POST", f"/api/v1/projects/{code}/remainder/consents", json=consent(elsewhere["id"])
    )
    assert wrong.status_code == 422

    decided = await api.ok(
        "POST",
        f"/api/v1/projects/{code}/remainder",
        json={
            "decision": "transfer",
            "target_project_code": target["code"],
            "note": "经理事会决议，结余转入应急救灾项目",
        },
    )
    moves = {m["donation_id"]: m for m in decided["remainder"]["moves"]}
    assert (moves[first["id"]]["outcome"], moves[first["id"]]["amount_fen"]) == (
        "transferred",
        20_000,
    )
    assert moves[first["id"]]["to_project_code"] == target["code"]
    assert moves[first["id"]]["consent_method"] == "phone"
    assert (moves[second["id"]]["outcome"], moves[second["id"]]["amount_fen"]) == (
        "waiting",
        20_000,
    )
    assert decided["figures"]["remaining_fen"] == 20_000  # the waiting gift stays
    assert decided["figures"]["transferred_out_fen"] == 20_000
    (event,) = await event_log.wait(REMAINDER_TRANSFERRED, donation_id=first["id"])
    assert event.data["from_project_code"] == code
    assert event.data["to_project_code"] == target["code"]
    assert event.data["amount_fen"] == 20_000
    assert event.data["tracking_code"] == first["tracking_code"]
    assert event.data["consent"] == "phone"
    assert not event_log.of(REMAINDER_TRANSFERRED, donation_id=second["id"])

    # the donor of the waiting gift agrees later: it moves at once
    await api.ok(
        "POST",
        f"/api/v1/projects/{code}/remainder/consents",
        json=consent(second["id"], "written"),
    )
    after = await api.ok("GET", f"/api/v1/projects/{code}")
    assert {m["outcome"] for m in after["remainder"]["moves"]} == {"transferred"}
    assert after["figures"]["remaining_fen"] == 0
    assert after["figures"]["transferred_out_fen"] == 40_000
    await event_log.wait(REMAINDER_TRANSFERRED, donation_id=second["id"])

    arrived = await api.ok("GET", f"/api/v1/projects/{target['code']}")
    assert arrived["figures"]["transferred_in_fen"] == 40_000
    assert arrived["figures"]["remaining_fen"] == 40_000 + 1_000

    # the moved fen fund the target's disbursements, traceable to the original gifts
    used = await _spend(api, target["code"], 25_000)
    assert [(a["donation_id"], a["amount_fen"]) for a in used["allocations"]] == [
        (first["id"], 20_000),
        (second["id"], 5_000),
    ]
    (spent,) = await event_log.wait(FUNDS_DISBURSED, disbursement_id=used["id"])
    assert {a["tracking_code"] for a in spent.data["allocations"]} == {
        first["tracking_code"],
        second["tracking_code"],
    }
    # a moved gift keeps its designation on record and cannot be re-designated or cancelled
    donation = await api.ok("GET", f"/api/v1/donations/{first['id']}")
    assert donation["project_code"] == code
    assert donation["used_fen"] == 30_000

    tracked = await _track(api, first["tracking_code"])
    (moved,) = tracked["remainder"]
    assert (moved["outcome"], moved["to_project_code"], moved["amount_fen"]) == (
        "transferred",
        target["code"],
        20_000,
    )
    assert {u["project_code"] for u in tracked["uses"]} == {code, target["code"]}
    assert any(e["event"] == "remainder_transferred" for e in tracked["timeline"])
    assert "转入 应急救灾测试" in next(
        e["text"] for e in tracked["timeline"] if e["event"] == "remainder_transferred"
    )


async def test_return_to_donors_refunds_each_gift_four_eyes_above_the_threshold(
    api: Api, event_log: EventLog
) -> None:
    threshold = int(getattr(api.settings, "refund_four_eyes_fen", 100_000))
    closing = await new_project(api, ends_on="2026-10-31")
    code = closing["code"]
    small = await api.ok(
        "POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=8_000)
    )
    large = await api.ok(
        "POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=threshold + 50_000)
    )
    await api.ok("POST", f"/api/v1/projects/{code}/close", json={})
    decided = await api.ok(
        "POST",
        f"/api/v1/projects/{code}/remainder",
        json={"decision": "return_to_donors", "note": "项目结束，结余原路退还捐赠人"},
    )
    moves = {m["donation_id"]: m for m in decided["remainder"]["moves"]}
    assert moves[small["id"]]["outcome"] == "refunded"
    assert moves[large["id"]]["outcome"] == "refund_pending"
    request_id = moves[large["id"]]["refund_request_id"]
    assert request_id is not None
    (refunded,) = await event_log.wait(DONATION_REFUNDED, donation_id=small["id"])
    assert refunded.data["amount_fen"] == 8_000
    assert not event_log.of(DONATION_REFUNDED, donation_id=large["id"])
    assert (await api.ok("GET", f"/api/v1/donations/{small['id']}"))["status"] == "refunded"

    own = await api.call("POST", f"/api/v1/refund-requests/{request_id}/approve")
    assert own.status_code == 403  # the account that decided asked for it
    approved = await api.ok("POST", f"/api/v1/refund-requests/{request_id}/approve", "approver")
    assert (approved["status"], approved["source"]) == ("approved", "remainder")
    (event,) = await event_log.wait(DONATION_REFUNDED, donation_id=large["id"])
    assert event.data["amount_fen"] == threshold + 50_000
    after = await api.ok("GET", f"/api/v1/projects/{code}")
    assert {m["outcome"] for m in after["remainder"]["moves"]} == {"refunded"}
    assert after["figures"]["remaining_fen"] == 0

    tracked = await _track(api, large["tracking_code"])
    assert tracked["status"] == "refunded"
    assert tracked["refunded_fen"] == threshold + 50_000
    assert tracked["remainder"][0]["outcome"] == "refunded"


async def test_a_waiting_gift_returned_through_the_refund_route(
    api: Api, event_log: EventLog
) -> None:
    closing = await new_project(api, ends_on="2026-10-31")
    code = closing["code"]
    target = await new_project(api)
    waiting = await api.ok(
        "POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=6_000)
    )
    await api.ok("POST", f"/api/v1/projects/{code}/close", json={})
    await api.ok(
        "POST",
        f"/api/v1/projects/{code}/remainder",
        json={"decision": "transfer", "target_project_code": target["code"], "note": "转入"},
    )
    refunded = await api.ok(
        "POST", f"/api/v1/donations/{waiting['id']}/refund", json={"reason": "捐赠人不同意转入"}
    )
    assert refunded["status"] == "refunded"
    after = await api.ok("GET", f"/api/v1/projects/{code}")
    (move,) = after["remainder"]["moves"]
    assert (move["outcome"], move["amount_fen"]) == ("refunded", 6_000)
    assert after["figures"]["remaining_fen"] == 0
    # a consent after the refund moves nothing
    late = await api.call(
        "POST", f"/api/v1/projects/{code}/remainder/consents", json=consent(waiting["id"])
    )
    assert late.status_code == 201
    assert not event_log.of(REMAINDER_TRANSFERRED, donation_id=waiting["id"])


async def test_a_project_belongs_to_a_known_organisation(api: Api) -> None:
    district = await new_project(api)
    assert district["org_code"] == "FH"
    town = await new_project(api, org_code="XK")
    assert town["org_code"] == "XK"
    assert (await api.ok("GET", f"/api/v1/projects/{town['code']}"))["org_code"] == "XK"
    # the migrations' projects: a town's 博爱家园 is its branch's, the standing ones the district's
    assert (await api.ok("GET", "/api/v1/projects/BOAI-JY-XK"))["org_code"] == "XK"
    assert (await api.ok("GET", "/api/v1/projects/BOAI-JY-SA"))["org_code"] == "SA"
    assert (await api.ok("GET", "/api/v1/projects/BOAI-JY"))["org_code"] == "FH"
    unknown = await api.call(
        "POST",
        "/api/v1/projects",
        json={
            "code": unique("T-"),
            "name": "未知机构",
            "category": "other",
            "starts_on": "2026-01-01",
            "org_code": "NOPE",
        },
    )
    assert unknown.status_code == 422
    assert "NOPE" in unknown.json()["error"]["message"]
