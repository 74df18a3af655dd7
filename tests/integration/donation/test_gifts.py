"""Gifts through the staff API against the real database; each event read back from Kafka."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.contracts.donation import (
    DONATION_CANCELLED,
    DONATION_PLEDGED,
    DONATION_RECEIPT_VOIDED,
    DONATION_RECEIPTED,
    DONATION_RECEIVED,
    DONATION_REFUNDED,
    NOTICE_REQUESTED,
)
from shared.messaging.topics import DONATION_EVENTS, DONATION_PRIVATE
from tests.integration.donation.conftest import Api, EventLog, gift, unique

pytestmark = pytest.mark.integration

PHONE, EMAIL, NAME = "13912340000", "wang.donor@example.com", "王建国"


async def test_received_gift_is_published_masked_with_a_private_notice(
    api: Api, event_log: EventLog
) -> None:
    body = gift(donor={"name": NAME, "phone": PHONE, "email": EMAIL, "notify": "all"})
    created = await api.ok("POST", "/api/v1/donations", json=body)
    assert created["status"] == "received"
    assert created["display_name"] == "王某"
    (event,) = await event_log.wait(DONATION_RECEIVED, donation_id=created["id"])
    assert event.data["display_name"] == "王某"
    public = json.dumps([e.data for e in event_log.on(DONATION_EVENTS)], ensure_ascii=False)
    for secret in (PHONE, EMAIL, NAME):
        assert secret not in public
    (notice,) = await event_log.wait(NOTICE_REQUESTED, donation_id=created["id"])
    assert notice in event_log.on(DONATION_PRIVATE)
    assert notice.data["milestone"] == "received"
    assert notice.data["recipient"] == {"name": NAME, "email": EMAIL, "phone": PHONE}
    assert sorted(notice.data["channels"]) == ["email", "sms"]
    assert notice.data["facts"]["amount_fen"] == 10000


async def test_no_notice_for_a_donor_who_opted_out(api: Api, event_log: EventLog) -> None:
    quiet = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(donor={"name": "李静", "phone": PHONE, "notify": "none"}),
    )
    email_only = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(donor={"name": "李静", "phone": PHONE, "notify": "email"}),
    )
    await event_log.wait(DONATION_RECEIVED, donation_id=quiet["id"])
    await event_log.wait(DONATION_RECEIVED, donation_id=email_only["id"])
    assert event_log.of(NOTICE_REQUESTED, donation_id=quiet["id"]) == []
    # e-mail wanted but only a phone given: no channel, no notice
    assert event_log.of(NOTICE_REQUESTED, donation_id=email_only["id"]) == []


async def test_pledge_then_receive(api: Api, event_log: EventLog) -> None:
    pledged = await api.ok("POST", "/api/v1/donations", json=gift(pledged=True))
    assert pledged["status"] == "pledged"
    await event_log.wait(DONATION_PLEDGED, donation_id=pledged["id"])
    assert event_log.of(DONATION_RECEIVED, donation_id=pledged["id"]) == []
    received = await api.ok("POST", f"/api/v1/donations/{pledged['id']}/receive")
    assert received["status"] == "received"
    await event_log.wait(DONATION_RECEIVED, donation_id=pledged["id"])
    again = await api.call("POST", f"/api/v1/donations/{pledged['id']}/receive")
    assert again.status_code == 409
    assert "received" in again.json()["error"]["message"]


async def test_receipt_void_and_reissue_keep_numbers(api: Api, event_log: EventLog) -> None:
    created = await api.ok("POST", "/api/v1/donations", json=gift())
    path = f"/api/v1/donations/{created['id']}"
    first = await api.ok("POST", path + "/receipt")
    assert first["receipt_no"].startswith(f"{first['year']}-")
    assert (await api.ok("GET", path))["status"] == "receipted"
    twice = await api.call("POST", path + "/receipt")
    assert twice.status_code == 409
    assert first["receipt_no"] in twice.json()["error"]["message"]

    voided = await api.ok("POST", path + "/receipt/void", json={"reason": "抬头错误，重开"})
    assert voided["voided_at"] is not None
    assert voided["receipt_no"] == first["receipt_no"]
    assert (await api.ok("GET", path))["status"] == "received"
    second = await api.ok("POST", path + "/receipt", json={"declined": True})
    assert second["receipt_no"] != first["receipt_no"]
    assert second["declined"] is True
    history = await api.ok("GET", path + "/receipts")
    assert [r["receipt_no"] for r in history] == [first["receipt_no"], second["receipt_no"]]

    await event_log.wait(DONATION_RECEIPTED, 2, donation_id=created["id"])
    (void,) = await event_log.wait(DONATION_RECEIPT_VOIDED, donation_id=created["id"])
    assert void.data["receipt_no"] == first["receipt_no"]
    assert void.data["reason"] == "抬头错误，重开"


async def test_anonymous_receipt_is_recorded_as_such(api: Api, event_log: EventLog) -> None:
    created = await api.ok("POST", "/api/v1/donations", json=gift(display="anonymous"))
    receipt = await api.ok("POST", f"/api/v1/donations/{created['id']}/receipt")
    assert receipt["anonymous"] is True
    assert receipt["payer_name"] is None
    (event,) = await event_log.wait(DONATION_RECEIPTED, donation_id=created["id"])
    assert event.data["anonymous"] is True
    assert event.data["display_name"] == "爱心人士"


async def test_cancel_and_refund_with_reasons_and_illegal_moves(
    api: Api, event_log: EventLog
) -> None:
    one = await api.ok("POST", "/api/v1/donations", json=gift())
    cancelled = await api.ok(
        "POST", f"/api/v1/donations/{one['id']}/cancel", json={"reason": "重复登记"}
    )
    assert cancelled["status"] == "cancelled"
    assert cancelled["status_reason"] == "重复登记"
    (event,) = await event_log.wait(DONATION_CANCELLED, donation_id=one["id"])
    assert event.data["previous_status"] == "received"
    for action, body in (
        ("receipt", None),
        ("refund", {"reason": "试试看"}),
        ("cancel", {"reason": "再取消"}),
    ):
        response = await api.call("POST", f"/api/v1/donations/{one['id']}/{action}", json=body)
        assert response.status_code == 409, (action, response.text)
        error = response.json()["error"]
        assert "cancelled" in error["message"]
        assert error["details"]["status"] == "cancelled"

    two = await api.ok("POST", "/api/v1/donations", json=gift(amount_fen=23456))
    await api.ok("POST", f"/api/v1/donations/{two['id']}/receipt")
    refunded = await api.ok(
        "POST", f"/api/v1/donations/{two['id']}/refund", json={"reason": "重复转账，原路退回"}
    )
    assert refunded["status"] == "refunded"
    assert refunded["refunded_fen"] == 23456
    assert refunded["remaining_fen"] == 0
    (event,) = await event_log.wait(DONATION_REFUNDED, donation_id=two["id"])
    assert event.data["amount_fen"] == 23456
    assert event.data["reason"] == "重复转账，原路退回"
    cancel = await api.call(
        "POST", f"/api/v1/donations/{two['id']}/cancel", json={"reason": "不行"}
    )
    assert cancel.status_code == 409
    assert "refunded" in cancel.json()["error"]["message"]


async def test_missing_reason_is_422_and_unknown_gift_404(api: Api) -> None:
    one = await api.ok("POST", "/api/v1/donations", json=gift())
    response = await api.call("POST", f"/api/v1/donations/{one['id']}/cancel", json={})
    assert response.status_code == 422
    response = await api.call(
        "POST", f"/api/v1/donations/{uuid.uuid4()}/cancel", json={"reason": "不存在"}
    )
    assert response.status_code == 404


async def test_idempotent_actions(api: Api, event_log: EventLog) -> None:
    one = await api.ok("POST", "/api/v1/donations", json=gift())
    key = unique("rcpt-")
    headers = {"Idempotency-Key": key}
    first = await api.call("POST", f"/api/v1/donations/{one['id']}/receipt", headers=headers)
    again = await api.call("POST", f"/api/v1/donations/{one['id']}/receipt", headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json() == again.json()
    await event_log.wait(DONATION_RECEIPTED, donation_id=one["id"])
    assert len(event_log.of(DONATION_RECEIPTED, donation_id=one["id"])) == 1


async def test_duplicate_payment_reference_is_409(api: Api) -> None:
    ref = unique("BANK-")
    await api.ok("POST", "/api/v1/donations", json=gift(channel="bank_transfer", external_ref=ref))
    again = await api.call(
        "POST", "/api/v1/donations", json=gift(channel="bank_transfer", external_ref=ref)
    )
    assert again.status_code == 409
    other_channel = await api.call(
        "POST", "/api/v1/donations", json=gift(channel="alipay", external_ref=ref)
    )
    assert other_channel.status_code == 201


async def test_optimistic_concurrency_on_edits(api: Api) -> None:
    one = await api.ok("POST", "/api/v1/donations", json=gift())
    path = f"/api/v1/donations/{one['id']}"
    read = await api.call("GET", path)
    assert read.headers["ETag"] == f'"{one["version"]}"'
    missing = await api.call("PATCH", path, json={"note": "无版本"})
    assert missing.status_code == 428
    ok = await api.call("PATCH", path, json={"note": "银行回单已核对"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    assert ok.json()["version"] == 2
    assert ok.headers["ETag"] == '"2"'
    stale = await api.call("PATCH", path, json={"note": "旧版本"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["error"]["details"]["current_version"] == 2
    by_body = await api.call("PATCH", path, json={"note": "正文版本", "version": 2})
    assert by_body.status_code == 200


async def test_donor_register_crud_and_reuse(api: Api) -> None:
    donor = await api.ok(
        "POST",
        "/api/v1/donors",
        json={"name": "奉化区爱心企业联合会", "donor_type": "organization", "display": "named"},
    )
    gift_body = gift(donor=None, donor_id=donor["id"], display="named")
    created = await api.ok("POST", "/api/v1/donations", json=gift_body)
    assert created["donor"]["id"] == donor["id"]
    assert created["display_name"] == "奉化区爱心企业联合会"
    listed = await api.ok("GET", "/api/v1/donations", params={"donor_id": donor["id"]})
    assert [d["id"] for d in listed["items"]] == [created["id"]]
    path = f"/api/v1/donors/{donor['id']}"
    patched = await api.ok(
        "PATCH", path, json={"email": "ahq@example.com"}, headers={"If-Match": '"1"'}
    )
    assert patched["email"] == "ahq@example.com"
    stale = await api.call("PATCH", path, json={"notify": "none"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    found = await api.ok("GET", "/api/v1/donors", params={"q": "爱心企业联合"})
    assert donor["id"] in [d["id"] for d in found["items"]]


async def test_listing_filters_and_pagination(api: Api) -> None:
    project = unique("F-")
    await api.ok(
        "POST",
        "/api/v1/projects",
        json={"code": project, "name": "筛选", "category": "other", "starts_on": "2026-01-01"},
    )
    ids = []
    for n in range(5):
        created = await api.ok(
            "POST",
            "/api/v1/donations",
            json=gift(project_code=project, channel="cash", amount_fen=100 + n),
        )
        ids.append(created["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"project_code": project, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await api.ok("GET", "/api/v1/donations", params=params)
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    none = await api.ok(
        "GET", "/api/v1/donations", params={"project_code": project, "channel": "alipay"}
    )
    assert none["items"] == []
    one = await api.ok("GET", f"/api/v1/donations/{ids[0]}")
    receipt = await api.ok("POST", f"/api/v1/donations/{ids[0]}/receipt")
    for params in (
        {"tracking_code": one["tracking_code"].replace("-", "").lower()},
        {"receipt_no": receipt["receipt_no"]},
        {"donor_name": "建国", "project_code": project, "channel": "cash", "limit": 1},
    ):
        found = await api.ok("GET", "/api/v1/donations", params=params)
        assert found["items"][0]["id"] in ids, params
    by_code = await api.ok(
        "GET", "/api/v1/donations", params={"tracking_code": one["tracking_code"]}
    )
    assert [d["id"] for d in by_code["items"]] == [ids[0]]
    bad = await api.call("GET", "/api/v1/donations", params={"cursor": "garbage!!"})
    assert bad.status_code == 422


async def test_roles_and_audit_log(api: Api) -> None:
    denied = await api.call("POST", "/api/v1/donations", "auditor", json=gift())
    assert denied.status_code == 403
    assert (
        await api.call("POST", "/api/v1/donations", "warehouse", json=gift())
    ).status_code == 403
    created = await api.ok("POST", "/api/v1/donations", "chen", "finance", json=gift())
    await api.ok("POST", f"/api/v1/donations/{created['id']}/receipt", "chen", "finance")
    assert (await api.call("GET", "/api/v1/audit", "finance")).status_code == 403
    log = await api.ok(
        "GET", "/api/v1/audit", "auditor", params={"entity": "donation", "entity_id": created["id"]}
    )
    actions = [(e["actor"], e["action"]) for e in log["items"]]
    assert actions == [("chen", "receipt.issue"), ("chen", "donation.record")]
    assert log["items"][0]["before"] == {"status": "received"}
    assert log["items"][0]["after"]["status"] == "receipted"
    # read-only: no write route exists for the audit log
    assert (await api.call("DELETE", "/api/v1/audit", "admin")).status_code == 405
    # the auditor reads gifts too
    assert (
        await api.call("GET", f"/api/v1/donations/{created['id']}", "auditor")
    ).status_code == 200
