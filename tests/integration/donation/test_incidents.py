"""Disaster incidents (issue 17): registered, changed (If-Match), declared major once (an
approver's act, audited); an appeal points to one, its gifts and disbursements take it unless
they name their own; every change announced as ``incident_recorded.v1`` with a growing
version. Bad input is a 4xx that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from shared.contracts.donation import (
    DONATION_RECEIVED,
    FUNDS_DISBURSED,
    INCIDENT_RECORDED,
    PROJECT_OPENED,
)
from tests.integration.donation.conftest import Api, EventLog, gift, new_project, unique

pytestmark = pytest.mark.integration


def incident(**overrides: Any) -> dict[str, Any]:
    return {
        "code": unique("TY-"),
        "name": "台风“测试”",
        "kind": "typhoon",
        "towns": ["溪口镇", "大堰镇", "溪口镇"],
        "started_at": "2026-09-15T20:00:00+08:00",
    } | overrides


async def test_register_change_and_declare_major(api: Api, event_log: EventLog) -> None:
    body = incident()
    created = await api.ok(
        "POST", "/api/v1/incidents", "finance", headers={"Idempotency-Key": unique("k")}, json=body
    )
    code = created["code"]
    assert created["towns"] == ["大堰镇", "溪口镇"]  # once each, sorted
    assert created["major"] is False
    assert created["version"] == 1
    (first,) = await event_log.wait(INCIDENT_RECORDED, incident_code=code)
    assert first.data["version"] == 1
    assert first.data["major"] is False

    stale = await api.call(
        "PATCH", f"/api/v1/incidents/{code}", headers={"If-Match": '"7"'}, json={"name": "改名"}
    )
    assert stale.status_code == 412, stale.text
    changed = await api.ok(
        "PATCH",
        f"/api/v1/incidents/{code}",
        headers={"If-Match": '"1"'},
        json={"ended_at": "2026-09-18T08:00:00+08:00"},
    )
    assert changed["version"] == 2
    assert changed["ended_at"].startswith("2026-09-18")

    finance = await api.call(
        "POST", f"/api/v1/incidents/{code}/declare-major", json={"reason": "启动Ⅳ级应急响应"}
    )
    assert finance.status_code == 403, finance.text
    declared = await api.ok(
        "POST",
        f"/api/v1/incidents/{code}/declare-major",
        "approver",
        json={"reason": "市政府启动防台风Ⅱ级应急响应"},
    )
    assert declared["major"] is True
    assert declared["declared_major_by"] == "approver"
    assert declared["version"] == 3
    again = await api.call(
        "POST", f"/api/v1/incidents/{code}/declare-major", "approver", json={"reason": "再次"}
    )
    assert again.status_code == 409, again.text
    events = await event_log.wait(INCIDENT_RECORDED, count=3, incident_code=code)
    assert [e.data["version"] for e in events] == [1, 2, 3]
    assert events[-1].data["major"] is True
    assert events[-1].data["declared_major_at"] is not None

    audit = await api.ok("GET", "/api/v1/audit", "auditor", params={"entity": "incident"})
    actions = [e["action"] for e in audit["items"] if e["entity_id"] == code]
    assert sorted(actions) == ["incident.declare_major", "incident.register", "incident.update"]

    listed = await api.ok("GET", "/api/v1/incidents", "warehouse", params={"major": "true"})
    assert code in [i["code"] for i in listed["items"]]
    assert all(i["major"] for i in listed["items"])


async def test_bad_input_changes_nothing(api: Api) -> None:
    body = incident(ended_at="2026-09-14T00:00:00+08:00")
    backwards = await api.call("POST", "/api/v1/incidents", json=body)
    assert backwards.status_code == 422
    assert "ended_at" in backwards.text
    assert (await api.call("GET", f"/api/v1/incidents/{body['code']}")).status_code == 404
    for bad in (
        incident(kind="meteor"),
        incident(towns=["不存在镇"]),
        incident(code="台风"),
        incident(started_at="2026-09-15T20:00:00"),  # no time zone
    ):
        response = await api.call("POST", "/api/v1/incidents", json=bad)
        assert response.status_code == 422, response.text
    good = await api.ok("POST", "/api/v1/incidents", json=incident())
    emptied = await api.call(
        "PATCH",
        f"/api/v1/incidents/{good['code']}",
        headers={"If-Match": '"1"'},
        json={"name": None},
    )
    assert emptied.status_code == 422
    assert "name" in emptied.text
    taken = await api.call("POST", "/api/v1/incidents", json=incident(code=good["code"]))
    assert taken.status_code == 409
    after = await api.ok("GET", f"/api/v1/incidents/{good['code']}")
    assert after["version"] == 1
    assert after["name"] == good["name"]
    unknown = await api.call(
        "POST",
        "/api/v1/projects",
        json={
            "code": unique("P-"),
            "name": "救灾",
            "category": "emergency",
            "starts_on": "2026-09-16",
            "incident_code": "NO-SUCH-1",
        },
    )
    assert unknown.status_code == 422
    assert "NO-SUCH-1" in unknown.text


async def test_an_appeal_gives_its_gifts_and_disbursements_its_incident(
    api: Api, event_log: EventLog
) -> None:
    typhoon = await api.ok("POST", "/api/v1/incidents", json=incident())
    flood = await api.ok("POST", "/api/v1/incidents", json=incident(kind="flood", name="洪涝"))
    appeal = await new_project(api, category="emergency", incident_code=typhoon["code"])
    assert appeal["incident_code"] == typhoon["code"]
    (opened,) = await event_log.wait(PROJECT_OPENED, project_code=appeal["code"])
    assert opened.data["incident_code"] == typhoon["code"]

    inherited = await api.ok(
        "POST", "/api/v1/donations", json=gift(project_code=appeal["code"], amount_fen=50_000)
    )
    own = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(project_code=appeal["code"], amount_fen=20_000, incident_code=flood["code"]),
    )
    unrestricted = await api.ok("POST", "/api/v1/donations", json=gift(amount_fen=10_000))
    assert inherited["incident_code"] == typhoon["code"]
    assert own["incident_code"] == flood["code"]
    assert unrestricted["incident_code"] is None
    for donation, expected in ((inherited, typhoon["code"]), (own, flood["code"])):
        (received,) = await event_log.wait(DONATION_RECEIVED, donation_id=donation["id"])
        assert received.data["incident_code"] == expected

    entered = await api.ok(
        "POST",
        f"/api/v1/projects/{appeal['code']}/disbursements",
        json={
            "amount_fen": 30_000,
            "purpose": "台风受灾群众生活救助",
            "recipient_type": "organization",
            "recipient_name": "溪口镇人民政府",
            "town": "溪口镇",
            "voucher_no": unique("V-"),
            "disbursed_on": "2026-09-17",
        },
        headers={"Idempotency-Key": unique("k")},
    )
    assert entered["incident_code"] == typhoon["code"]
    await api.ok("POST", f"/api/v1/disbursements/{entered['id']}/approve", "approver")
    (disbursed,) = await event_log.wait(FUNDS_DISBURSED, disbursement_id=entered["id"])
    assert disbursed.data["incident_code"] == typhoon["code"]

    moved = await api.ok(
        "PATCH",
        f"/api/v1/projects/{appeal['code']}",
        headers={"If-Match": f'"{appeal["version"]}"'},
        json={"incident_code": flood["code"]},
    )
    assert moved["incident_code"] == flood["code"]
    later = await api.ok("POST", "/api/v1/donations", json=gift(project_code=appeal["code"]))
    assert later["incident_code"] == flood["code"]  # later gifts follow the appeal
    earlier = await api.ok("GET", f"/api/v1/donations/{inherited['id']}")
    assert earlier["incident_code"] == typhoon["code"]  # what was recorded stays
