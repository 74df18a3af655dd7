"""Follow-ups (回访) as a plan (issue 17) over HTTP, on the real database and broker: visits
planned by rule when a disbursement is approved (due dates hand-computed per category) and
when the warehouse reports a dispatch of a project delivered (its event produced to the topic;
a replay plans nothing new); the due list and its states as of a chosen day; an outcome's
rules, recorded once, published without its notes; photos stored by SHA-256 outside the
database (the same photo once, wrong type 415, too big 413, a damaged file a clear 410); the
reversal of a disbursement cancelling its open visits; the per-project summary for the
evaluation, hand-computed."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from donation.adapters.attachments import DAMAGED, AttachmentStore
from donation.service_layer.follow_up_visits import project_summary
from shared.auth import StaffPrincipal
from shared.contracts.donation import FOLLOW_UP_RECORDED
from shared.contracts.warehouse import (
    DISPATCH_DELIVERED,
    DeliveredLineV1,
    DeliveredLotV1,
    DestinationV1,
    DispatchDeliveredV1,
)
from shared.ids import uuid7
from shared.request_guard import MAX_UPLOAD_BYTES
from tests.integration.conftest import eventually
from tests.integration.donation.conftest import Api, EventLog, gift, new_project, unique
from tests.integration.donation.test_goods_lineage import produce

pytestmark = pytest.mark.integration

SHANGHAI = ZoneInfo("Asia/Shanghai")
VISITS = "/api/v1/follow-up-visits"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(255, -1, -1)) * 4


@pytest.fixture(scope="module")
def store_dir(api: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """This module's photos in a directory of its own (the service's attachment store)."""
    root = tmp_path_factory.mktemp("attachments")
    extras = api.app.state.runtime.extras
    before = extras.get("attachments")
    extras["attachments"] = AttachmentStore(root)
    yield root
    if before is None:
        extras.pop("attachments", None)
    else:
        extras["attachments"] = before


def town_headers(api: Api, user: str, org: str, *roles: str) -> dict[str, str]:
    token = api.issuer.issue(
        StaffPrincipal(username=user, roles=frozenset(roles or (user,)), org=org)
    )
    return {"Authorization": f"Bearer {token}"}


def key() -> dict[str, str]:
    return {"Idempotency-Key": unique("k")}


async def register(api: Api, name: str) -> str:
    body = {"kind": "household", "name": name, "household_size": 3, "town": "溪口镇"}
    created = await api.ok("POST", "/api/v1/recipients", headers=key(), json=body)
    return str(created["id"])


async def funded(api: Api, category: str, **project: Any) -> str:
    code = str((await new_project(api, category=category, **project))["code"])
    await api.ok(
        "POST",
        "/api/v1/donations",
        headers=key(),
        json=gift(amount_fen=1_000_000, project_code=code),
    )
    return code


async def disburse(
    api: Api, code: str, on: str, recipients: list[str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount_fen": 20_000,
        "purpose": "回访测试拨付",
        "recipient_type": "person",
        "recipient_name": "受助群众",
        "town": "溪口镇",
        "voucher_no": unique("V"),
        "disbursed_on": on,
    }
    if recipients:
        body["recipients"] = [{"recipient_id": r} for r in recipients]
    entered = await api.ok(
        "POST", f"/api/v1/projects/{code}/disbursements", headers=key(), json=body
    )
    approved: dict[str, Any] = await api.ok(
        "POST", f"/api/v1/disbursements/{entered['id']}/approve", "approver", headers=key()
    )
    return approved


async def visits(api: Api, user: str = "finance", **params: Any) -> list[dict[str, Any]]:
    page = await api.ok("GET", VISITS, user, params={"state": "all", "limit": 100} | params)
    items: list[dict[str, Any]] = page["items"]
    return items


def delivered(
    project_code: str | None,
    at: datetime,
    recipients: list[str],
    *,
    dispatch_id: uuid.UUID | None = None,
    kind: str = "dispatch",
) -> DispatchDeliveredV1:
    dispatch_id = dispatch_id or uuid7()
    return DispatchDeliveredV1(
        dispatch_id=dispatch_id,
        dispatch_no=f"DP-2026-{int(dispatch_id) % 1_000_000:06d}",
        kind=kind,  # type: ignore[arg-type]
        from_warehouse_code="WH-DISTRICT",
        from_warehouse_name="区备灾救灾中心仓库",
        destination=DestinationV1(kind="shelter", name="溪口镇中心小学安置点", town="溪口镇"),
        urgency="urgent",
        project_code=project_code,
        recipient_name_masked="王*明",
        partial=False,
        lines=[
            DeliveredLineV1(
                item_code="RICE",
                item_name="大米",
                unit="袋",
                shipped_quantity=5,
                delivered_quantity=5,
                returned_quantity=0,
                lots=[
                    DeliveredLotV1(
                        lot_id=uuid7(),
                        lot_no="P-RICE-1",
                        shipped_quantity=5,
                        delivered_quantity=5,
                        returned_quantity=0,
                    )
                ],
            )
        ],
        delivered_at=at,
        recipient_ids=[uuid.UUID(r) for r in recipients],
    )


async def db_rows(api: Api, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(api.settings.asyncpg_dsn)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def count_for_dispatch(api: Api, dispatch_id: uuid.UUID) -> int:
    rows = await db_rows(
        api, "SELECT count(*) AS n FROM follow_up_visits WHERE dispatch_id = $1", dispatch_id
    )
    return int(rows[0]["n"])


def local_today() -> date:
    return datetime.now(SHANGHAI).date()


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- planning on approval ------------------------------------------------------------------


async def test_an_approval_plans_the_visits_of_its_category(api: Api) -> None:
    first, second = await register(api, "计一"), await register(api, "计二")
    # 博爱家园: first visit 90 days after, 4 visits 91 days apart, 14 grace days; the money
    # goes on 2027-03-01 (after the approval, so the plan counts from then)
    jiayuan = await funded(api, "boai_jiayuan")
    paid = await disburse(api, jiayuan, "2027-03-01", [first, second])
    planned = await visits(api, project_code=jiayuan)
    due = ["2027-05-30", "2027-08-29", "2027-11-28", "2028-02-27"]
    by_recipient = {
        r: [
            (v["seq"], v["of_visits"], v["due_on"], v["last_day"])
            for v in planned
            if v["recipient_id"] == r
        ]
        for r in (first, second)
    }
    for recipient in (first, second):
        assert by_recipient[recipient] == [
            (n + 1, 4, on, (d(on) + timedelta(days=14)).isoformat()) for n, on in enumerate(due)
        ]
    assert len(planned) == 8
    assert {v["disbursement_id"] for v in planned} == {paid["id"]}
    assert {(v["trigger"], v["triggered_on"], v["state"]) for v in planned} == {
        ("disbursement", "2027-03-01", "due")
    }
    assert [v["due_on"] for v in planned] == sorted(v["due_on"] for v in planned)
    assert {v["recipient_name_masked"] for v in planned} == {"计*"}

    # other: one visit 30 days after; dated before the approval, it counts from the approval
    other = await funded(api, "other")
    back_dated = await disburse(api, other, "2026-11-20")
    (visit,) = await visits(api, project_code=other)
    approved_on = datetime.fromisoformat(back_dated["approved_at"]).astimezone(SHANGHAI).date()
    assert visit["triggered_on"] == approved_on.isoformat()
    assert visit["due_on"] == (approved_on + timedelta(days=30)).isoformat()
    assert visit["recipient_id"] is None
    assert visit["last_day"] == (approved_on + timedelta(days=37)).isoformat()


async def test_a_reversal_cancels_the_visits_not_yet_made(api: Api) -> None:
    code = await funded(api, "song_wan_jia")
    paid = await disburse(api, code, "2026-11-20")
    (visit,) = await visits(api, project_code=code)
    reversal = await api.ok(
        "POST",
        f"/api/v1/disbursements/{paid['id']}/reverse",
        headers=key(),
        json={"reason": "凭证录错"},
    )
    await api.ok(
        "POST",
        f"/api/v1/disbursement-reversals/{reversal['id']}/approve",
        "approver",
        headers=key(),
    )
    (cancelled,) = await visits(api, project_code=code)
    assert cancelled["id"] == visit["id"]
    assert cancelled["state"] == "cancelled"
    assert cancelled["cancel_reason"] == "拨付已冲销：凭证录错"
    assert await visits(api, project_code=code, state="open") == []
    refused = await api.call(
        "POST",
        f"{VISITS}/{visit['id']}/outcome",
        headers=key() | {"If-Match": str(cancelled["version"])},
        json={"visited_on": local_today().isoformat(), "outcome": "not_reached", "visitor": "李"},
    )
    assert refused.status_code == 409, refused.text
    assert "cancelled" in refused.json()["error"]["message"]


# --- planning on delivery ------------------------------------------------------------------


async def test_a_delivered_dispatch_plans_visits_once(api: Api) -> None:
    someone = await register(api, "送一")
    relief = await funded(api, "emergency")
    # 23:30 in Ningbo is 15:30 UTC: the day of delivery is Ningbo's
    at = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
    event = delivered(relief, at, [someone, str(uuid.uuid4())])  # one not in the register
    (event_id,) = await produce([(DISPATCH_DELIVERED, str(event.dispatch_id), event)])

    async def planned() -> bool:
        return await count_for_dispatch(api, event.dispatch_id) == 2

    await eventually(planned)
    got = await visits(api, project_code=relief)
    # emergency after a delivery: 7 days, then 23 days later; 3 grace days
    assert [(v["seq"], v["due_on"], v["last_day"], v["recipient_id"]) for v in got] == [
        (1, "2026-12-07", "2026-12-10", someone),
        (2, "2026-12-30", "2027-01-02", someone),
    ]
    assert {(v["trigger"], v["triggered_on"], v["dispatch_no"], v["town"]) for v in got} == {
        ("delivery", "2026-11-30", event.dispatch_no, "溪口镇")
    }

    # the same event again (the inbox skips it), and the same delivery as a new event (the
    # plan's unique key skips it), then a marker event to know both were consumed
    marker = delivered(relief, at, [])
    again_id = str(uuid7())
    await produce(
        [
            (DISPATCH_DELIVERED, str(event.dispatch_id), event),
            (DISPATCH_DELIVERED, str(event.dispatch_id), event),
            (DISPATCH_DELIVERED, str(marker.dispatch_id), marker),
        ],
        ids=[event_id, again_id, str(uuid7())],
    )

    async def marker_planned() -> bool:
        return await count_for_dispatch(api, marker.dispatch_id) == 2

    await eventually(marker_planned)
    assert await count_for_dispatch(api, event.dispatch_id) == 2
    # the new event was applied (not dead-lettered): it planned nothing
    applied = await db_rows(api, "SELECT consumer FROM inbox WHERE event_id = $1", again_id)
    assert [r["consumer"] for r in applied] == [f"{api.settings.topic_prefix}donation.lineage"]

    # no rule for the category, a transfer, no project, an unknown project: no visits
    no_rule = await funded(api, "wan_ren_xing")
    quiet = [
        delivered(no_rule, at, [someone]),
        delivered(relief, at, [someone], kind="transfer"),
        delivered(None, at, [someone]),
        delivered("NOPE-PROJECT", at, [someone]),
    ]
    last = delivered(relief, at, [])
    await produce([(DISPATCH_DELIVERED, str(e.dispatch_id), e) for e in [*quiet, last]])

    async def last_planned() -> bool:
        return await count_for_dispatch(api, last.dispatch_id) == 2

    await eventually(last_planned)
    for e in quiet:
        assert await count_for_dispatch(api, e.dispatch_id) == 0


# --- the due list, outcomes, the summary ---------------------------------------------------


Scenario = dict[str, dict[str, Any]]


async def _delivered_scenario(api: Api, org: str = "FH") -> tuple[str, Scenario]:
    """An emergency project with two deliveries: A on 2026-09-01 naming r1 and r2, B late on
    2026-11-30 naming nobody; answers its code and its six visits by name (r1s1 ... b2)."""
    r1, r2 = await register(api, "甲一"), await register(api, "甲二")
    code = await funded(api, "emergency", org_code=org)
    a = delivered(code, datetime(2026, 9, 1, 10, 0, tzinfo=SHANGHAI), [r1, r2])
    b = delivered(code, datetime(2026, 11, 30, 23, 30, tzinfo=SHANGHAI), [])
    await produce([(DISPATCH_DELIVERED, str(e.dispatch_id), e) for e in (a, b)])

    async def both() -> bool:
        planned = (
            await count_for_dispatch(api, a.dispatch_id),
            await count_for_dispatch(api, b.dispatch_id),
        )
        return planned == (4, 2)

    await eventually(both)
    names = {(r1, 1): "r1s1", (r2, 1): "r2s1", (r1, 2): "r1s2", (r2, 2): "r2s2"}
    found: Scenario = {}
    for v in await visits(api, project_code=code):
        if v["dispatch_id"] == str(a.dispatch_id):
            found[names[(v["recipient_id"], v["seq"])]] = v
        else:
            found[f"b{v['seq']}"] = v
    assert {n: v["due_on"] for n, v in found.items()} == {
        "r1s1": "2026-09-08",
        "r2s1": "2026-09-08",
        "r1s2": "2026-10-01",
        "r2s2": "2026-10-01",
        "b1": "2026-12-07",
        "b2": "2026-12-30",
    }
    return code, found


def in_due_order(scenario: Scenario, *names: str) -> list[str]:
    """The ids of these visits as the list orders them: by due date, then id."""
    chosen = [scenario[n] for n in names]
    return [v["id"] for v in sorted(chosen, key=lambda v: (v["due_on"], uuid.UUID(v["id"])))]


async def record(
    api: Api, visit_id: str, body: dict[str, Any], *, version: int = 1, user: str = "dispatcher"
) -> Any:
    return await api.call(
        "POST",
        f"{VISITS}/{visit_id}/outcome",
        user,
        headers=key() | {"If-Match": str(version)},
        json={"visitor": "红会 李干事"} | body,
    )


async def test_outcomes_are_checked_recorded_once_and_published_without_notes(
    api: Api, event_log: EventLog
) -> None:
    code, scenario = await _delivered_scenario(api)
    r1s1, r2s1, r1s2 = (scenario[n]["id"] for n in ("r1s1", "r2s1", "r1s2"))
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"visited_on": tomorrow, "outcome": "not_reached"}, 422, "future"),
        ({"visited_on": "2026-08-31", "outcome": "not_reached"}, 422, "before the delivery"),
        ({"visited_on": "2026-09-10", "outcome": "reached"}, 422, "required"),
        ({"visited_on": "2026-09-10", "outcome": "problem", "satisfaction": 3}, 422, "only when"),
        (
            {"visited_on": "2026-09-10", "outcome": "reached", "satisfaction": 6},
            422,
            "satisfaction",
        ),
        ({"visited_on": "2026-09-10", "outcome": "visited"}, 422, "outcome"),
    ]
    for body, status, says in cases:
        answer = await record(api, r1s1, body)
        assert answer.status_code == status, (body, answer.text)
        assert says in answer.json()["error"]["message"], answer.text
    no_version = await api.call(
        "POST",
        f"{VISITS}/{r1s1}/outcome",
        "dispatcher",
        headers=key(),
        json={"visited_on": "2026-09-10", "outcome": "not_reached", "visitor": "李"},
    )
    assert no_version.status_code == 428, no_version.text
    stale = await record(
        api, r1s1, {"visited_on": "2026-09-10", "outcome": "not_reached"}, version=7
    )
    assert stale.status_code == 412, stale.text
    auditor = await record(
        api, r1s1, {"visited_on": "2026-09-10", "outcome": "not_reached"}, user="auditor"
    )
    assert auditor.status_code == 403

    notes = "户主甲一反映屋顶漏水，电话 13900001111"
    body = {"visited_on": "2026-09-10", "outcome": "reached", "satisfaction": 5, "notes": notes}
    headers = key() | {"If-Match": "1"}
    done = await api.call(
        "POST",
        f"{VISITS}/{r1s1}/outcome",
        "dispatcher",
        headers=headers,
        json={"visitor": "李"} | body,
    )
    assert done.status_code == 200, done.text
    visit = done.json()
    assert (visit["state"], visit["done_on"], visit["satisfaction"], visit["version"]) == (
        "on_time",
        "2026-09-10",
        5,
        2,
    )
    assert visit["notes"] == notes
    assert visit["recorded_by"] == "dispatcher"
    assert done.headers["ETag"] == '"2"'
    replay = await api.call(
        "POST",
        f"{VISITS}/{r1s1}/outcome",
        "dispatcher",
        headers=headers,
        json={"visitor": "李"} | body,
    )
    assert replay.status_code == 200
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["follow_up_id"] == visit["follow_up_id"]
    twice = await record(api, r1s1, body, version=2)
    assert twice.status_code == 409, twice.text
    assert "recorded already" in twice.json()["error"]["message"]

    # the follow-up the feed shows: the visit's number, outcome and score, nothing private
    (event,) = await event_log.wait(FOLLOW_UP_RECORDED, follow_up_id=visit["follow_up_id"])
    assert event.data["summary"] == "计划回访（第 1/2 次）：已回访受助对象，满意度 5/5"
    assert event.data["project_code"] == code
    assert event.data["visited_on"] == "2026-09-10"
    assert event.data["disbursement_id"] is None
    assert event.data["donation_id"] is None
    for private in ("漏水", "1390000", "甲一", "李"):
        assert private not in str(event.data)
    listed = await api.ok("GET", "/api/v1/follow-ups", params={"project_code": code})
    (follow_up,) = listed["items"]
    assert follow_up["id"] == visit["follow_up_id"]
    assert follow_up["dispatch_id"] == visit["dispatch_id"]

    late = await record(
        api, r2s1, {"visited_on": "2026-09-12", "outcome": "reached", "satisfaction": 2}
    )
    assert late.json()["state"] == "late", late.text
    missed = await record(api, r1s2, {"visited_on": "2026-10-03", "outcome": "not_reached"})
    assert (missed.json()["state"], missed.json()["satisfaction"]) == ("on_time", None)


async def test_the_due_list_its_states_scope_and_the_summary(api: Api) -> None:
    code, scenario = await _delivered_scenario(api, org="XK")
    outcomes: list[tuple[str, dict[str, Any]]] = [
        ("r1s1", {"visited_on": "2026-09-10", "outcome": "reached", "satisfaction": 5}),
        ("r2s1", {"visited_on": "2026-09-12", "outcome": "reached", "satisfaction": 2}),
        ("r1s2", {"visited_on": "2026-10-03", "outcome": "not_reached"}),
    ]
    for name, body in outcomes:
        assert (await record(api, scenario[name]["id"], body)).status_code == 200

    async def ids(**params: Any) -> list[str]:
        return [v["id"] for v in await visits(api, project_code=code, **params)]

    def order(*names: str) -> list[str]:
        return in_due_order(scenario, *names)

    everything = order("r1s1", "r2s1", "r1s2", "r2s2", "b1", "b2")
    # as of 2026-12-08: B's first visit (due 12-07, last day 12-10) is still due
    assert await ids(state="all", as_of="2026-12-08") == everything
    states = {v["id"]: v["state"] for v in await visits(api, project_code=code, as_of="2026-12-08")}
    assert {n: states[v["id"]] for n, v in scenario.items()} == {
        "r1s1": "on_time",
        "r2s1": "late",
        "r1s2": "on_time",
        "r2s2": "overdue",
        "b1": "due",
        "b2": "due",
    }
    assert await ids(state="open", as_of="2026-12-08") == order("r2s2", "b1", "b2")
    assert await ids(state="overdue", as_of="2026-12-08") == order("r2s2")
    assert await ids(state="due", as_of="2026-12-08") == order("b1", "b2")
    assert await ids(state="overdue", as_of="2026-12-11") == order("r2s2", "b1")
    assert await ids(state="due", as_of="2026-10-04") == order("r2s2", "b1", "b2")  # last day
    assert await ids(state="overdue", as_of="2026-10-04") == []
    assert await ids(state="overdue", as_of="2026-10-05") == order("r2s2")
    assert await ids(state="done") == order("r1s1", "r2s1", "r1s2")
    assert await ids(state="all", due_before="2026-12-07") == order("r1s1", "r2s1", "r1s2", "r2s2")
    b1 = scenario["b1"]["id"]
    # pages in due order
    page = await api.ok("GET", VISITS, params={"project_code": code, "state": "all", "limit": 4})
    rest = await api.ok(
        "GET",
        VISITS,
        params={"project_code": code, "state": "all", "limit": 4, "cursor": page["next_cursor"]},
    )
    assert [v["id"] for v in page["items"] + rest["items"]] == everything
    assert rest["next_cursor"] is None

    # a town branch sees its own organisation's visits only
    xk = town_headers(api, "dispatcher-xk", "XK", "dispatcher")
    dy = town_headers(api, "dispatcher-dy", "DY", "dispatcher")
    own = await api.client.get(VISITS, headers=xk, params={"project_code": code, "state": "all"})
    assert len(own.json()["items"]) == 6
    other = await api.client.get(VISITS, headers=dy, params={"project_code": code, "state": "all"})
    assert other.json()["items"] == []
    asked = await api.client.get(VISITS, headers=dy, params={"org": "XK"})
    assert asked.status_code == 403, asked.text
    refused = await api.client.post(
        f"{VISITS}/{b1}/outcome",
        headers=dy | key() | {"If-Match": "1"},
        json={"visited_on": "2026-12-07", "outcome": "not_reached", "visitor": "王"},
    )
    assert refused.status_code == 403, refused.text
    assert (await api.client.get(f"{VISITS}/{b1}", headers=dy)).status_code == 403
    one = await api.client.get(f"{VISITS}/{b1}", headers=xk, params={"as_of": "2026-12-11"})
    assert (one.json()["state"], one.headers["ETag"]) == ("overdue", '"1"')

    # the evaluation's figures, hand-computed: as of 12-08, of the six visits two are still
    # due, two on time, one late, one overdue: 2 of the 4 owed on time; scores 5 and 2
    async with api.app.state.runtime.unit_of_work() as uow:
        whole = await project_summary(
            uow, code, due_from=d("2026-09-01"), due_to=d("2027-01-01"), today=d("2026-12-08")
        )
        september = await project_summary(
            uow, code, due_from=d("2026-09-01"), due_to=d("2026-10-01"), today=d("2026-12-08")
        )
        later = await project_summary(
            uow, code, due_from=d("2026-12-01"), due_to=d("2027-01-01"), today=d("2026-12-11")
        )
    assert (whole.planned, whole.due, whole.on_time, whole.late, whole.overdue) == (6, 2, 2, 1, 1)
    assert whole.on_time_share == Fraction(2, 4)
    assert (whole.satisfaction_count, whole.average_satisfaction) == (2, Fraction(7, 2))
    assert (september.planned, september.on_time, september.late) == (2, 1, 1)
    assert september.on_time_share == Fraction(1, 2)
    assert (later.planned, later.due, later.overdue) == (2, 1, 1)
    assert later.on_time_share == Fraction(0, 1)
    assert later.average_satisfaction is None


# --- photos --------------------------------------------------------------------------------


async def test_photos_are_stored_once_by_their_hash_and_checked_on_read(
    api: Api, store_dir: Path
) -> None:
    code = await funded(api, "other")
    await disburse(api, code, "2026-11-20")
    await disburse(api, code, "2026-11-21")
    first, second = [v["id"] for v in await visits(api, project_code=code)]
    digest = hashlib.sha256(PNG).hexdigest()
    stored = store_dir / digest[:2] / digest

    async def upload(
        visit_id: str, data: bytes, content_type: str, user: str = "dispatcher"
    ) -> Any:
        return await api.call(
            "POST",
            f"{VISITS}/{visit_id}/photos",
            user,
            content=data,
            headers={"Content-Type": content_type},
        )

    created = await upload(first, PNG, "image/png")
    assert created.status_code == 201, created.text
    assert created.json() | {"uploaded_at": None} == {
        "sha256": digest,
        "content_type": "image/png",
        "size_bytes": len(PNG),
        "uploaded_by": "dispatcher",
        "uploaded_at": None,
    }
    assert created.headers["ETag"] == f'"{digest}"'
    assert stored.read_bytes() == PNG
    again = await upload(first, PNG, "image/png")
    assert again.status_code == 200
    assert again.json()["sha256"] == digest
    elsewhere = await upload(second, PNG, "image/png")
    assert elsewhere.status_code == 201
    assert [p for p in store_dir.rglob("*") if p.is_file()] == [stored]  # one file
    rows = await db_rows(api, "SELECT visit_id FROM visit_photos WHERE sha256 = $1", digest)
    assert sorted(str(r["visit_id"]) for r in rows) == sorted([first, second])
    jpeg = await upload(first, JPEG, "image/jpeg")
    assert jpeg.status_code == 201, jpeg.text
    (listed,) = [v for v in await visits(api, project_code=code) if v["id"] == first]
    assert [p["sha256"] for p in listed["photos"]] == [digest, hashlib.sha256(JPEG).hexdigest()]

    for data, content_type, status, says in [
        (PNG, "image/gif", 415, "image/jpeg or image/png"),
        (b'{"photo": 1}', "application/json", 415, "image/jpeg or image/png"),
        (JPEG, "image/png", 422, "not a image/png image (it is image/jpeg)"),
        (b"", "image/png", 422, "empty"),
        (b"\xff\xd8\xff" + b"x" * MAX_UPLOAD_BYTES, "image/jpeg", 413, "at most"),
    ]:
        refused = await upload(first, data, content_type)
        assert refused.status_code == status, (content_type, refused.text)
        assert says in refused.json()["error"]["message"], refused.text
    assert (await upload(first, PNG, "image/png", user="auditor")).status_code == 403
    unknown = await upload(str(uuid7()), PNG, "image/png")
    assert unknown.status_code == 404

    path = f"{VISITS}/{first}/photos/{digest}"
    fetched = await api.call("GET", path, "auditor")
    assert fetched.status_code == 200
    assert fetched.content == PNG
    assert fetched.headers["content-type"] == "image/png"
    assert fetched.headers["ETag"] == f'"{digest}"'
    other_hash = hashlib.sha256(b"never uploaded").hexdigest()
    assert (await api.call("GET", f"{VISITS}/{first}/photos/{other_hash}")).status_code == 404
    assert (await api.call("GET", f"{VISITS}/{first}/photos/NOT-A-HASH")).status_code == 422

    # the file on disk damaged: a clear 410, logged and counted, never the bad bytes
    before = DAMAGED.labels("donation", "mismatch")._value.get()
    stored.write_bytes(PNG[:-1] + b"\x00")
    damaged = await api.call("GET", path)
    assert damaged.status_code == 410, damaged.text
    error = damaged.json()["error"]
    assert error["code"] == "gone"
    assert "no longer match" in error["message"]
    assert error["details"] == {"sha256": digest, "reason": "mismatch"}
    assert DAMAGED.labels("donation", "mismatch")._value.get() == before + 1
    # uploading the photo again repairs the file
    assert (await upload(first, PNG, "image/png")).status_code == 200
    assert (await api.call("GET", path)).content == PNG
    stored.unlink()
    lost = await api.call("GET", path)
    assert lost.status_code == 410
    assert lost.json()["error"]["details"]["reason"] == "missing"
