"""Projects, four-eyes disbursements allocated to gifts, follow-ups, closing with the
remainder's disclosure date, and reports that reconcile — each event read from Kafka."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest

from shared.contracts.donation import (
    DESIGNATION_CHANGED,
    DONATION_STATUS_CHANGED,
    FOLLOW_UP_RECORDED,
    FUNDS_DISBURSED,
    NOTICE_REQUESTED,
    PROJECT_CLOSED,
    PROJECT_OPENED,
    REMAINDER_DECIDED,
)
from tests.integration.donation.conftest import Api, EventLog, gift, new_project, unique

pytestmark = pytest.mark.integration


def disbursement(amount: int, **overrides: Any) -> dict[str, Any]:
    return {
        "amount_fen": amount,
        "purpose": "慰问困难家庭",
        "recipient_type": "person",
        "recipient_name": "张小明",
        "town": "溪口镇",
        "voucher_no": unique("V-"),
        "disbursed_on": "2026-11-20",
    } | overrides


async def test_standing_projects_exist_and_are_announced(api: Api, event_log: EventLog) -> None:
    listed = await api.ok("GET", "/api/v1/projects", params={"limit": 100})
    codes = {p["code"] for p in listed["items"]}
    assert {"BOAI-SWJ", "BOAI-WRX", "BOAI-JY", "YJJZ", "BOAI-JY-XK"} <= codes
    towns = await api.ok("GET", "/api/v1/projects", params={"category": "boai_jiayuan"})
    assert len([p for p in towns["items"] if p["town"]]) == 12
    (event,) = await event_log.wait(PROJECT_OPENED, project_code="BOAI-SWJ")
    assert event.data["name"] == "博爱送万家"


async def test_project_create_conflict_and_edit(api: Api, event_log: EventLog) -> None:
    project = await new_project(api, name="博爱家园（试点）", budget_fen=1_000_000)
    (event,) = await event_log.wait(PROJECT_OPENED, project_code=project["code"])
    assert event.data["budget_fen"] == 1_000_000
    again = await api.call(
        "POST",
        "/api/v1/projects",
        json={
            "code": project["code"],
            "name": "重名",
            "category": "other",
            "starts_on": "2026-01-01",
        },
    )
    assert again.status_code == 409
    path = f"/api/v1/projects/{project['code']}"
    edited = await api.ok("PATCH", path, json={"budget_fen": 2_000_000}, headers={"If-Match": "1"})
    assert edited["version"] == 2
    stale = await api.call("PATCH", path, json={"name": "旧的名字"}, headers={"If-Match": "1"})
    assert stale.status_code == 412
    bad = await api.call(
        "POST",
        "/api/v1/projects",
        json={
            "code": unique("X-"),
            "name": "反了",
            "category": "other",
            "starts_on": "2026-05-01",
            "ends_on": "2026-01-01",
        },
    )
    assert bad.status_code == 422
    unknown = await api.call("POST", "/api/v1/donations", json=gift(project_code="NOPE-404"))
    assert unknown.status_code == 422


async def test_four_eyes_allocation_and_funds_disbursed(api: Api, event_log: EventLog) -> None:
    project = await new_project(api)
    code = project["code"]
    older = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(
            project_code=code,
            amount_fen=30_000,
            received_at="2026-03-01T10:00:00+08:00",
            donor={"name": "赵敏", "phone": "13700000001"},
        ),
    )
    newer = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(project_code=code, amount_fen=50_000, received_at="2026-04-01T10:00:00+08:00"),
    )
    await api.ok("POST", f"/api/v1/donations/{older['id']}/receipt")
    entered = await api.ok(
        "POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(40_000)
    )
    assert entered["status"] == "pending"
    assert entered["allocations"] == []
    assert entered["recipient_display"] == "张*明"
    own = await api.call("POST", f"/api/v1/disbursements/{entered['id']}/approve")
    assert own.status_code == 403  # the person who entered it
    assert (
        await api.call("POST", f"/api/v1/disbursements/{entered['id']}/approve", "auditor")
    ).status_code == 403
    approved = await api.ok("POST", f"/api/v1/disbursements/{entered['id']}/approve", "approver")
    assert approved["status"] == "approved"
    assert approved["approved_by"] == "approver"
    assert [(a["donation_id"], a["amount_fen"]) for a in approved["allocations"]] == [
        (older["id"], 30_000),
        (newer["id"], 10_000),
    ]
    twice = await api.call("POST", f"/api/v1/disbursements/{entered['id']}/approve", "approver")
    assert twice.status_code == 409
    assert "approved" in twice.json()["error"]["message"]

    first = await api.ok("GET", f"/api/v1/donations/{older['id']}")
    second = await api.ok("GET", f"/api/v1/donations/{newer['id']}")
    assert (first["status"], first["used_fen"], first["remaining_fen"]) == ("used", 30_000, 0)
    assert (second["status"], second["used_fen"], second["remaining_fen"]) == (
        "allocated",
        10_000,
        40_000,
    )

    (event,) = await event_log.wait(FUNDS_DISBURSED, disbursement_id=entered["id"])
    assert event.data["recipient"] == "张*明"
    assert "张小明" not in str(event.data)
    shares = event.data["allocations"]
    assert sum(s["amount_fen"] for s in shares) == event.data["amount_fen"] == 40_000
    assert {s["tracking_code"] for s in shares} == {older["tracking_code"], newer["tracking_code"]}
    moves = await event_log.wait(DONATION_STATUS_CHANGED, donation_id=older["id"])
    assert (moves[0].data["from_status"], moves[0].data["to_status"]) == ("receipted", "used")
    notices = await event_log.wait(NOTICE_REQUESTED, donation_id=older["id"], milestone="first_use")
    assert notices[0].data["facts"]["used_fen"] == 30_000
    assert notices[0].data["facts"]["receipt_no"] is not None

    figures = (await api.ok("GET", f"/api/v1/projects/{code}"))["figures"]
    assert figures["designated_fen"] == 80_000
    assert figures["used_fen"] == 40_000
    assert figures["remaining_fen"] == 40_000


@pytest.mark.parametrize(
    "same_account",
    ["Finance", "FINANCE", " finance", "finance\t"],
    ids=["capitalised", "upper-case", "leading-space", "trailing-tab"],
)
async def test_four_eyes_sees_one_account_however_the_token_spells_it(
    api: Api, same_account: str
) -> None:
    """The account that entered a disbursement cannot approve or reject it under another
    spelling of its subject (an OIDC provider may send ``Finance`` or `` finance``): the
    service compares subjects as accounts (shared.subjects.same_subject), not as strings."""
    project = await new_project(api)
    code = project["code"]
    await api.ok("POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=1_000))
    entered = await api.ok(
        "POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(1_000)
    )
    assert entered["entered_by"] == "finance"
    path = f"/api/v1/disbursements/{entered['id']}"
    # the approver role, so only the four-eyes rule can refuse
    approve = await api.call("POST", f"{path}/approve", same_account, "approver")
    assert approve.status_code == 403, approve.text
    assert "four eyes" in approve.json()["error"]["message"]
    reject = await api.call(
        "POST", f"{path}/reject", same_account, "approver", json={"reason": "凭证不全"}
    )
    assert reject.status_code == 403, reject.text
    assert "four eyes" in reject.json()["error"]["message"]
    unchanged = await api.ok("GET", path)
    assert (unchanged["status"], unchanged["approved_by"], unchanged["allocations"]) == (
        "pending",
        None,
        [],
    )
    # another account may (and uses the designated gift up, leaving no money for later tests)
    approved = await api.ok("POST", f"{path}/approve", "approver")
    assert approved["status"] == "approved"


async def test_beyond_available_is_409_and_nothing_changes(api: Api) -> None:
    project = await new_project(api)
    code = project["code"]
    await api.ok("POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=1_000))
    too_much = await api.call(
        "POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(10**13)
    )
    assert too_much.status_code == 422  # above any plausible amount: refused as input
    huge = 9 * 10**11
    response = await api.call(
        "POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(huge)
    )
    assert response.status_code == 409
    assert "available" in response.json()["error"]["message"]
    listed = await api.ok("GET", f"/api/v1/projects/{code}/disbursements")
    assert listed["items"] == []


async def test_designated_then_unrestricted_oldest_first(api: Api, event_log: EventLog) -> None:
    """The oldest unrestricted gift in the database funds what designated gifts cannot."""
    project = await new_project(api)
    code = project["code"]
    designated = await api.ok(
        "POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=1_000)
    )
    oldest = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(amount_fen=700, received_at="1990-01-01T00:00:00+08:00"),
    )
    second_oldest = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(amount_fen=700, received_at="1990-01-02T00:00:00+08:00"),
    )
    d = await api.ok("POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(2_000))
    approved = await api.ok("POST", f"/api/v1/disbursements/{d['id']}/approve", "approver")
    assert [(a["donation_id"], a["amount_fen"]) for a in approved["allocations"]] == [
        (designated["id"], 1_000),
        (oldest["id"], 700),
        (second_oldest["id"], 300),
    ]
    # use up the rest so later tests see no leftover old unrestricted money
    rest = await api.ok("POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(400))
    done = await api.ok("POST", f"/api/v1/disbursements/{rest['id']}/approve", "approver")
    assert [(a["donation_id"], a["amount_fen"]) for a in done["allocations"]] == [
        (second_oldest["id"], 400)
    ]


async def test_reject_follow_up_close_and_remainder(api: Api, event_log: EventLog) -> None:
    project = await new_project(api, ends_on="2026-10-31")
    code = project["code"]
    target = await new_project(api)
    g = await api.ok("POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=5_000))
    d1 = await api.ok(
        "POST",
        f"/api/v1/projects/{code}/disbursements",
        json=disbursement(1_000, recipient_type="organization", recipient_name="溪口镇政府"),
    )
    d2 = await api.ok("POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(500))
    early = await api.call("POST", f"/api/v1/projects/{code}/close", json={})
    assert early.status_code == 409  # pending disbursements
    await api.ok("POST", f"/api/v1/disbursements/{d1['id']}/approve", "approver")
    rejected = await api.ok(
        "POST", f"/api/v1/disbursements/{d2['id']}/reject", "approver", json={"reason": "凭证不全"}
    )
    assert rejected["status"] == "rejected"
    no_visit = await api.call(
        "POST",
        "/api/v1/follow-ups",
        json={
            "disbursement_id": d2["id"],
            "visited_on": "2026-11-25",
            "summary": "x1",
            "visitor": "周",
        },
    )
    assert no_visit.status_code == 409

    visit = await api.ok(
        "POST",
        "/api/v1/follow-ups",
        json={
            "disbursement_id": d1["id"],
            "visited_on": "2026-11-25",
            "summary": "物资已发放到户，群众满意",
            "visitor": "周主任",
        },
    )
    (event,) = await event_log.wait(FOLLOW_UP_RECORDED, follow_up_id=visit["id"])
    assert event.data["town"] == "溪口镇"
    assert event.data["project_code"] == code
    on_gift = await api.ok(
        "POST",
        "/api/v1/follow-ups",
        json={
            "donation_id": g["id"],
            "visited_on": "2026-11-26",
            "summary": "电话回访捐赠人",
            "visitor": "陈",
        },
    )
    listed = await api.ok("GET", "/api/v1/follow-ups", params={"project_code": code})
    assert {f["id"] for f in listed["items"]} == {visit["id"], on_gift["id"]}
    both = await api.call(
        "POST",
        "/api/v1/follow-ups",
        json={
            "donation_id": g["id"],
            "disbursement_id": d1["id"],
            "visited_on": "2026-11-26",
            "summary": "两者",
            "visitor": "陈",
        },
    )
    assert both.status_code == 422

    early_remainder = await api.call(
        "POST",
        f"/api/v1/projects/{code}/remainder",
        json={"decision": "carry_forward", "note": "结转"},
    )
    assert early_remainder.status_code == 409
    closed = await api.ok("POST", f"/api/v1/projects/{code}/close", json={})
    assert closed["status"] == "closed"
    assert closed["closed_on"] == "2026-10-31"
    assert closed["disclosure_due"] == "2027-01-31"
    assert closed["figures"]["remaining_fen"] == 4_000
    (event,) = await event_log.wait(PROJECT_CLOSED, project_code=code)
    assert event.data["remainder_fen"] == 4_000
    assert event.data["disclosure_due"] == "2027-01-31"
    late = await api.call("POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(100))
    assert late.status_code == 409
    designate = await api.call("POST", "/api/v1/donations", json=gift(project_code=code))
    assert designate.status_code == 409

    bad = await api.call(
        "POST", f"/api/v1/projects/{code}/remainder", json={"decision": "transfer", "note": "转"}
    )
    assert bad.status_code == 422
    decided = await api.ok(
        "POST",
        f"/api/v1/projects/{code}/remainder",
        json={
            "decision": "transfer",
            "target_project_code": target["code"],
            "note": "经理事会决议，结余转入新项目",
        },
    )
    assert decided["remainder"]["remainder_fen"] == 4_000
    assert decided["remainder"]["disclosure_due"] == "2027-01-31"
    (event,) = await event_log.wait(REMAINDER_DECIDED, project_code=code)
    assert event.data["target_project_code"] == target["code"]
    again = await api.call(
        "POST", f"/api/v1/projects/{code}/remainder", json={"decision": "other", "note": "再来"}
    )
    assert again.status_code == 409


async def test_closing_completes_fully_used_gifts(api: Api, event_log: EventLog) -> None:
    project = await new_project(api)
    code = project["code"]
    g = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(
            project_code=code, amount_fen=2_000, donor={"name": "林小雨", "email": "l@example.com"}
        ),
    )
    d = await api.ok("POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(2_000))
    await api.ok("POST", f"/api/v1/disbursements/{d['id']}/approve", "approver")
    closed = await api.ok(
        "POST", f"/api/v1/projects/{code}/close", json={"closed_on": "2026-11-28"}
    )
    assert closed["disclosure_due"] is None  # nothing left to disclose
    assert (await api.ok("GET", f"/api/v1/donations/{g['id']}"))["status"] == "completed"
    notices = await event_log.wait(
        NOTICE_REQUESTED, donation_id=g["id"], milestone="project_completed"
    )
    assert notices[0].data["channels"] == ["email"]


async def test_reports_reconcile_exactly_and_export_csv(api: Api) -> None:
    project = await new_project(api)
    code = project["code"]
    await api.ok("POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=12_345))
    refunded = await api.ok(
        "POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=1_000)
    )
    await api.ok("POST", f"/api/v1/donations/{refunded['id']}/refund", json={"reason": "重复支付"})
    d = await api.ok("POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(10_000))
    await api.ok("POST", f"/api/v1/disbursements/{d['id']}/approve", "approver")

    mine = await api.ok(
        "GET", "/api/v1/reports/totals", params={"group_by": "project", "project_code": code}
    )
    (row,) = mine["rows"]
    assert row["key"] == code
    assert row["gross_fen"] == 13_345
    assert row["refunded_fen"] == 1_000
    assert row["received_fen"] == 12_345
    assert row["used_fen"] == 10_000
    assert row["remaining_fen"] == 2_345

    for group_by in ("month", "project", "channel", "kind", "total"):
        report = await api.ok("GET", "/api/v1/reports/totals", params={"group_by": group_by})
        for r in [*report["rows"], report["total"]]:
            assert r["received_fen"] == r["allocated_fen"] + r["unallocated_fen"], r
            assert (
                r["allocated_fen"] == r["used_fen"] + r["written_off_fen"] + r["remaining_fen"]
            ), r
            assert r["gross_fen"] == r["received_fen"] + r["refunded_fen"], r
        total = report["total"]
        for column in ("gifts", "received_fen", "used_fen", "remaining_fen"):
            assert total[column] == sum(r[column] for r in report["rows"])
    overall = (await api.ok("GET", "/api/v1/reports/totals"))["total"]
    by_kind = (await api.ok("GET", "/api/v1/reports/totals", params={"group_by": "kind"}))["total"]
    assert overall == by_kind

    csv_response = await api.call(
        "GET", "/api/v1/reports/totals", "auditor", params={"group_by": "channel", "format": "csv"}
    )
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_response.text.lstrip("\ufeff"))))
    assert rows[-1]["key"] == "合计 total"
    assert int(rows[-1]["received_fen"]) == sum(int(r["received_fen"]) for r in rows[:-1])


async def test_receipt_register_and_disbursement_listing(api: Api) -> None:
    g = await api.ok("POST", "/api/v1/donations", json=gift())
    receipt = await api.ok("POST", f"/api/v1/donations/{g['id']}/receipt")
    register = await api.ok("GET", "/api/v1/receipts", params={"year": receipt["year"], "limit": 3})
    assert register["items"][0]["seq"] >= receipt["seq"]
    assert (
        await api.call("GET", "/api/v1/disbursements", params={"status": "bogus"})
    ).status_code == 422
    pending = await api.ok("GET", "/api/v1/disbursements", params={"status": "pending"})
    assert all(d["status"] == "pending" for d in pending["items"])
    missing = await api.call("GET", f"/api/v1/disbursements/{uuid.uuid4()}")
    assert missing.status_code == 404


async def test_designation_change_is_published_as_a_correction(
    api: Api, event_log: EventLog
) -> None:
    project = await new_project(api)
    g = await api.ok("POST", "/api/v1/donations", json=gift())
    path = f"/api/v1/donations/{g['id']}"
    changed = await api.ok(
        "PATCH",
        path,
        json={"project_code": project["code"], "reason": "捐赠人来电要求定向"},
        headers={"If-Match": '"1"'},
    )
    assert changed["project_code"] == project["code"]
    (event,) = await event_log.wait(DESIGNATION_CHANGED, donation_id=g["id"])
    assert event.data["from_project_code"] is None
    assert event.data["to_project_code"] == project["code"]
    assert event.data["reason"] == "捐赠人来电要求定向"
    # once any of it is used the designation is fixed
    d = await api.ok(
        "POST", f"/api/v1/projects/{project['code']}/disbursements", json=disbursement(100)
    )
    await api.ok("POST", f"/api/v1/disbursements/{d['id']}/approve", "approver")
    version = (await api.ok("GET", path))["version"]
    fixed = await api.call(
        "PATCH", path, json={"project_code": None}, headers={"If-Match": str(version)}
    )
    assert fixed.status_code == 409


async def test_uses_report_splits_by_source_and_matches_gift_use(api: Api) -> None:
    project = await new_project(api)
    code = project["code"]
    await api.ok("POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=3_000))
    d = await api.ok(
        "POST",
        f"/api/v1/projects/{code}/disbursements",
        json=disbursement(2_500, town="松岙镇"),
    )
    await api.ok("POST", f"/api/v1/disbursements/{d['id']}/approve", "approver")
    mine = await api.ok(
        "GET", "/api/v1/reports/uses", params={"group_by": "project", "project_code": code}
    )
    assert mine["rows"] == [
        {
            "key": code,
            "disbursements": 1,
            "used_fen": 2_500,
            "from_designated_fen": 2_500,
            "from_unrestricted_fen": 0,
        }
    ]
    for group_by in ("project", "month", "town", "total"):
        report = await api.ok("GET", "/api/v1/reports/uses", params={"group_by": group_by})
        for r in [*report["rows"], report["total"]]:
            assert r["used_fen"] == r["from_designated_fen"] + r["from_unrestricted_fen"]
    used_by_projects = (await api.ok("GET", "/api/v1/reports/uses"))["total"]["used_fen"]
    used_by_gifts = (await api.ok("GET", "/api/v1/reports/totals"))["total"]["used_fen"]
    goods_used = (await api.ok("GET", "/api/v1/reports/totals", params={"kind": "goods"}))["total"][
        "used_fen"
    ]
    assert used_by_projects == used_by_gifts - goods_used
    csv_text = (
        await api.call("GET", "/api/v1/reports/uses", params={"group_by": "town", "format": "csv"})
    ).text
    assert csv_text.lstrip("\ufeff").startswith("key,disbursements,used_fen")


async def test_pending_disbursement_can_be_corrected_with_if_match(api: Api) -> None:
    project = await new_project(api)
    code = project["code"]
    await api.ok("POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=5_000))
    d = await api.ok("POST", f"/api/v1/projects/{code}/disbursements", json=disbursement(1_000))
    path = f"/api/v1/disbursements/{d['id']}"
    fixed = await api.ok(
        "PATCH",
        path,
        json={"amount_fen": 1_200, "recipient_name": "李四海"},
        headers={"If-Match": '"1"'},
    )
    assert (fixed["amount_fen"], fixed["recipient_display"], fixed["version"]) == (
        1_200,
        "李*海",
        2,
    )
    stale = await api.call("PATCH", path, json={"purpose": "旧版本"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    approved = await api.ok("POST", f"{path}/approve", "approver")
    assert sum(a["amount_fen"] for a in approved["allocations"]) == 1_200
    late = await api.call(
        "PATCH", path, json={"purpose": "批后修改"}, headers={"If-Match": str(approved["version"])}
    )
    assert late.status_code == 409
    assert "approved" in late.json()["error"]["message"]
