"""The donor's view: the public tracking endpoint and the look-up by contact + one-time code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.contracts.donation import NOTICE_REQUESTED
from shared.ids import new_tracking_code
from tests.integration.donation.conftest import Api, EventLog, gift, new_project, unique

pytestmark = pytest.mark.integration


async def test_tracking_shows_receipt_project_and_each_use(api: Api) -> None:
    project = await new_project(api, name="博爱送万家（测试）")
    code = project["code"]
    donor = {"name": "孙丽娟", "phone": "13600002222", "email": "slj@example.com"}
    g = await api.ok(
        "POST", "/api/v1/donations", json=gift(project_code=code, amount_fen=8_000, donor=donor)
    )
    receipt = await api.ok("POST", f"/api/v1/donations/{g['id']}/receipt")
    d = await api.ok(
        "POST",
        f"/api/v1/projects/{code}/disbursements",
        json={
            "amount_fen": 5_000,
            "purpose": "春节慰问困难家庭",
            "recipient_type": "organization",
            "recipient_name": "萧王庙街道社会事务办",
            "town": "萧王庙街道",
            "voucher_no": unique("V-"),
            "disbursed_on": "2026-11-21",
        },
    )
    await api.ok("POST", f"/api/v1/disbursements/{d['id']}/approve", "approver")
    await api.ok(
        "POST",
        "/api/v1/follow-ups",
        json={
            "disbursement_id": d["id"],
            "visited_on": "2026-11-27",
            "summary": "已发放到户",
            "visitor": "周",
        },
    )
    async with api.public_client("203.0.113.10") as public:
        # no login; the code is accepted in any case and without dashes
        raw = g["tracking_code"].replace("-", "").lower()
        response = await public.get(f"/api/v1/track/{raw}")
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["receipt"]["receipt_no"] == receipt["receipt_no"]
    assert view["project"] == {"code": code, "name": "博爱送万家（测试）"}
    assert view["donor"] == "孙某"
    (use,) = view["uses"]
    assert use["amount_fen"] == 5_000
    assert use["purpose"] == "春节慰问困难家庭"
    assert use["disbursed_on"] == "2026-11-21"
    assert use["recipient"] == "萧王庙街道社会事务办"
    assert view["used_fen"] == 5_000
    assert view["remaining_fen"] == 3_000
    events = [e["event"] for e in view["timeline"]]
    assert sorted(events) == ["follow_up", "receipted", "received", "used"]
    assert events.index("received") < events.index("receipted") < events.index("used")
    assert [e["at"] for e in view["timeline"]] == sorted(e["at"] for e in view["timeline"])
    assert view["follow_ups"][0]["summary"] == "已发放到户"
    text = json.dumps(view, ensure_ascii=False)
    for secret in ("孙丽娟", "13600002222", "slj@example.com", g["id"], g["donor"]["id"]):
        assert secret not in text


async def test_unknown_codes_all_answer_the_same_404(api: Api) -> None:
    async with api.public_client("203.0.113.11") as public:
        answers = [await public.get(f"/api/v1/track/{new_tracking_code()}") for _ in range(3)]
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1


async def test_malformed_codes_all_answer_the_same_422(api: Api) -> None:
    async with api.public_client("203.0.113.14") as public:
        answers = [
            await public.get(f"/api/v1/track/{code}")
            for code in ("NOT-A-CODE", "x" * 300, "1234", new_tracking_code()[:-1] + "!")
        ]
    assert {a.status_code for a in answers} == {422}
    assert len({a.text for a in answers}) == 1
    assert answers[0].json()["error"]["code"] == "validation_failed"


async def test_tracking_is_rate_limited_per_client(api: Api) -> None:
    async with (
        api.public_client("203.0.113.12") as noisy,
        api.public_client("203.0.113.13") as calm,
    ):
        codes = [
            (await noisy.get(f"/api/v1/track/{new_tracking_code()}")).status_code for _ in range(31)
        ]
        assert codes[:30] == [404] * 30
        assert codes[30] == 429
        limited = await noisy.get(f"/api/v1/track/{new_tracking_code()}")
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) > 0
        assert (await calm.get(f"/api/v1/track/{new_tracking_code()}")).status_code == 404


async def test_donor_looks_up_all_gifts_with_a_one_time_code(api: Api, event_log: EventLog) -> None:
    phone = f"135{unique('')[-8:]:0>8}"
    donor: dict[str, Any] = {"name": "胡志强", "phone": phone, "notify": "none"}
    first = await api.ok("POST", "/api/v1/donations", json=gift(donor=donor, amount_fen=1_000))
    second = await api.ok("POST", "/api/v1/donations", json=gift(donor=donor, amount_fen=2_000))
    async with api.public_client("203.0.113.20") as public:
        unknown = await public.post("/api/v1/donor-lookup/code", json={"contact": "13999999999"})
        retry = {"Idempotency-Key": unique("code-")}
        sent = await public.post(
            "/api/v1/donor-lookup/code", json={"contact": phone}, headers=retry
        )
        again = await public.post(
            "/api/v1/donor-lookup/code", json={"contact": phone}, headers=retry
        )
        assert again.json() == sent.json()
        assert unknown.status_code == sent.status_code == 202
        assert unknown.json() == sent.json()  # no hint whether the contact is known

        notices = await event_log.wait(NOTICE_REQUESTED, milestone="lookup_code")
        mine = [n for n in notices if n.data["recipient"]["phone"] == phone]
        assert len(mine) == 1  # sent although the donor opted out of milestone notices
        notice = mine[0].data
        assert notice["channels"] == ["sms"]
        assert notice["donation_id"] is None
        code = notice["facts"]["one_time_code"]
        assert len(code) == 6

        wrong = "000000" if code != "000000" else "111111"
        async with api.public_client("203.0.113.21") as other:
            bad = await other.post(
                "/api/v1/donor-lookup/verify", json={"contact": phone, "code": wrong}
            )
            assert bad.status_code == 404
            good = await other.post(
                "/api/v1/donor-lookup/verify", json={"contact": f"+86 {phone}", "code": code}
            )
            assert good.status_code == 200, good.text
            codes = {g["tracking_code"] for g in good.json()["gifts"]}
            assert codes == {first["tracking_code"], second["tracking_code"]}
            reused = await other.post(
                "/api/v1/donor-lookup/verify", json={"contact": phone, "code": code}
            )
            assert reused.status_code == 404  # one time only
        # by name alone there is no look-up at all
        by_name = await public.post("/api/v1/donor-lookup/code", json={"contact": "胡志强"})
        assert by_name.status_code == 422


async def test_no_contact_detail_on_the_public_topic(api: Api, event_log: EventLog) -> None:
    """Everything this run published on donation.events so far: no phone, no e-mail, no
    private full name; contact details appear only on donation.private."""
    import re

    created = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(donor={"name": "隐私测试", "phone": "13700009999", "email": "p@example.com"}),
    )
    await event_log.wait(NOTICE_REQUESTED, milestone="received", donation_id=created["id"])
    public = [json.dumps(e.data, ensure_ascii=False) for e in event_log.on("donation.events")]
    assert public
    phone = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
    for text in public:
        assert not phone.search(text), text
        assert "@" not in text, text
        assert "隐私测试" not in text
    private = [json.dumps(e.data, ensure_ascii=False) for e in event_log.on("donation.private")]
    assert any("13700009999" in text for text in private)
