"""The recipients register (issue 17) over HTTP, on the real database and broker: a person,
a household and an organisation registered (an ID number checked, then kept only as its keyed
fingerprint and last 4), a person registered twice found (409 naming the first), the scope of
a town branch, corrections with If-Match; a disbursement naming recipients, with the repeat
receipts its approver sees (hand-computed) and the people and households it reached. No
identity number, phone or full name of a person in any event, the audit log or the
idempotency store. The warehouse (in process here) keeps a masked copy of the register and
names recipients at a delivery's sign-off; the donation service counts whom each delivered
dispatch reached, per project."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from donation.domain.identity_numbers import check_character
from shared.auth import StaffPrincipal
from shared.config import ServiceSettings
from shared.contracts.donation import RECIPIENT_REGISTERED
from tests.integration.conftest import eventually
from tests.integration.donation.conftest import Api, EventLog, gift, new_project, unique
from tests.integration.warehouse.conftest import Api as WarehouseApi
from tests.integration.warehouse.conftest import make_item, make_warehouse, receive, uniq
from warehouse.config import WarehouseSettings
from warehouse.main import create_app as warehouse_app

pytestmark = pytest.mark.integration


def resident_id(region: str, birth: str, seq: str) -> str:
    """A valid 居民身份证号码 (GB 11643 check character) from its parts."""
    first17 = region + birth + seq
    return first17 + check_character(first17)


_seq = iter(range(100, 1000))


def new_id(birth: str = "19800101") -> str:
    return resident_id("330283", birth, f"{next(_seq):03d}")


def _wrong_check(first17: str) -> str:
    return first17 + ("1" if check_character(first17) != "1" else "2")


def town_headers(api: Api, user: str, org: str, *roles: str) -> dict[str, str]:
    token = api.issuer.issue(
        StaffPrincipal(username=user, roles=frozenset(roles or (user,)), org=org)
    )
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": unique("k")}


async def register(api: Api, body: dict[str, Any], user: str = "finance") -> dict[str, Any]:
    result: dict[str, Any] = await api.ok(
        "POST", "/api/v1/recipients", user, headers={"Idempotency-Key": unique("k")}, json=body
    )
    return result


def person(name: str, id_number: str, **more: Any) -> dict[str, Any]:
    return {"kind": "person", "name": name, "id_number": id_number, "town": "溪口镇"} | more


async def db_text(api: Api, query: str) -> str:
    conn = await asyncpg.connect(api.settings.asyncpg_dsn)
    try:
        return "\n".join(str(tuple(r)) for r in await conn.fetch(query))
    finally:
        await conn.close()


async def test_register_find_and_refuse_a_person_twice(api: Api, event_log: EventLog) -> None:
    number = new_id("19671203")
    tag = unique("")
    name = f"竺{tag}明"
    phone = f"139{int(tag) % 100_000_000:08d}"
    created = await register(api, person(name, number, phone=phone, address="溪口镇畸山村 12 号"))
    rid = created["id"]
    assert created["name_masked"] == f"竺{'*' * len(tag)}明"
    assert created["name"] == name  # finance handles relief: the full name in the answer
    assert created["id_last4"] == number[-4:]
    assert (created["people"], created["households"], created["household_size"]) == (1, 1, 1)
    assert created["org_code"] == "FH"
    assert created["version"] == 1

    # the same number again, written with spaces and a lower-case x if it has one: 409 naming it
    spaced = f"{number[:6]} {number[6:14]} {number[14:].lower()}"
    again = await api.call(
        "POST",
        "/api/v1/recipients",
        headers={"Idempotency-Key": unique("k")},
        json=person("另一个名字", spaced),
    )
    assert again.status_code == 409, again.text
    assert again.json()["error"]["details"]["recipient_id"] == rid
    assert rid in again.json()["error"]["message"]

    # a household whose head has the number is not the same recipient as the person
    household = await register(
        api,
        {
            "kind": "household",
            "name": name,
            "id_number": number,
            "household_size": 4,
            "town": "溪口镇",
        },
    )
    assert (household["people"], household["households"]) == (4, 1)

    # found by the number (its fingerprint), by name; the list masks and hides contact details
    found = await api.ok("GET", "/api/v1/recipients", params={"id_number": spaced})
    assert {r["id"] for r in found["items"]} == {rid, household["id"]}
    by_name = await api.ok("GET", "/api/v1/recipients", params={"q": tag, "kind": "person"})
    assert [r["id"] for r in by_name["items"]] == [rid]
    (listed,) = by_name["items"]
    assert listed["name"] is None
    assert listed["phone"] is None
    assert listed["address"] is None
    assert listed["name_masked"] == created["name_masked"]
    assert listed["id_last4"] == number[-4:]
    none = await api.ok("GET", "/api/v1/recipients", params={"q": tag, "town": "大堰镇"})
    assert none["items"] == []

    # the single read: in full for the relief roles, masked for the auditor and the warehouse
    full = await api.ok("GET", f"/api/v1/recipients/{rid}", "approver")
    assert (full["name"], full["phone"]) == (name, phone)
    for role in ("auditor", "warehouse"):
        masked = await api.ok("GET", f"/api/v1/recipients/{rid}", role)
        assert masked["name"] is None
        assert masked["phone"] is None
        assert masked["address"] is None

    (event,) = await event_log.wait(RECIPIENT_REGISTERED, recipient_id=rid)
    assert event.data["name_masked"] == created["name_masked"]
    assert event.data["household_size"] == 1
    published = str(event.data)
    for secret in (name, phone, number[-4:], "畸山村"):
        assert secret not in published

    # nothing of the number but its last 4 anywhere in the database's text
    for table in ("recipients", "audit_log", "outbox", "idempotency_keys"):
        text = await db_text(api, f"SELECT * FROM {table}")
        assert number not in text, table
        assert number[:14] not in text, table
    audit = await db_text(
        api,
        f"SELECT action, after FROM audit_log WHERE entity_id = '{rid}'",
    )
    assert "recipient.register" in audit
    assert number[-4:] in audit  # the last 4, to tell two people apart
    assert name not in audit
    assert phone not in audit


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        (_wrong_check("33028319800101123"), "校验位"),
        (resident_id("330283", "19800230", "123"), "出生日期"),  # 30 February
        ("33028319800101123", "18 位"),
        ("33028319800101123Y", "末位"),
    ],
)
async def test_an_invalid_id_number_is_a_422_that_says_why(
    api: Api, number: str, problem: str
) -> None:
    response = await api.call(
        "POST",
        "/api/v1/recipients",
        headers={"Idempotency-Key": unique("k")},
        json=person("王小明", number),
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert problem in error["message"]
    assert number not in response.text


async def test_organisation_household_and_kind_rules(api: Api) -> None:
    site = await register(
        api,
        {
            "kind": "organisation",
            "name": "溪口镇博爱家园（畸山村）",
            "org_kind": "boai_jiayuan",
            "credit_code": "91350100M000100Y43",
            "town": "溪口镇",
        },
    )
    assert site["name_masked"] == "溪口镇博爱家园（畸山村）"  # an organisation by its name
    assert (site["people"], site["households"], site["household_size"]) == (0, 0, None)
    assert site["id_last4"] is None
    for body, problem in [
        ({"kind": "organisation", "name": "某学校", "town": "溪口镇"}, "org_kind"),
        (
            {
                "kind": "organisation",
                "name": "某学校",
                "org_kind": "school",
                "town": "溪口镇",
                "credit_code": "91350100M000100Y44",
            },
            "校验位",
        ),
        ({"kind": "household", "name": "王小明", "town": "溪口镇"}, "household_size"),
        ({"kind": "person", "name": "王小明", "town": "溪口镇"}, "id_number"),
        (person("王小明", new_id(), household_size=3), "household_size"),
        (person("王小明", new_id(), town="奉化区"), "town"),
    ]:
        response = await api.call(
            "POST", "/api/v1/recipients", headers={"Idempotency-Key": unique("k")}, json=body
        )
        assert response.status_code == 422, (body, response.text)
        assert problem in response.text, response.text
    refused = await api.call(
        "POST",
        "/api/v1/recipients",
        "approver",
        headers={"Idempotency-Key": unique("k")},
        json={"kind": "household", "name": "王小明", "household_size": 2, "town": "溪口镇"},
    )
    assert refused.status_code == 403, refused.text


async def test_a_town_branch_sees_and_registers_only_its_own(api: Api) -> None:
    xk = town_headers(api, "dispatcher-xk", "XK", "dispatcher")
    own = await api.client.post(
        "/api/v1/recipients",
        headers=xk,
        json={"kind": "household", "name": "胡春花", "household_size": 2, "town": "溪口镇"},
    )
    assert own.status_code == 201, own.text
    assert own.json()["org_code"] == "XK"
    elsewhere = await api.client.post(
        "/api/v1/recipients",
        headers=town_headers(api, "dispatcher-xk", "XK", "dispatcher"),
        json={"kind": "household", "name": "胡春花", "household_size": 2, "town": "大堰镇"},
    )
    assert elsewhere.status_code == 422, elsewhere.text
    other_org = await api.client.post(
        "/api/v1/recipients",
        headers=town_headers(api, "dispatcher-xk", "XK", "dispatcher"),
        json={
            "kind": "household",
            "name": "胡春花",
            "household_size": 2,
            "town": "大堰镇",
            "org_code": "DY",
        },
    )
    assert other_org.status_code == 403, other_org.text
    district = await register(
        api, {"kind": "household", "name": "胡秋月", "household_size": 3, "town": "大堰镇"}
    )

    listed = await api.client.get(
        "/api/v1/recipients", headers=town_headers(api, "dispatcher-xk", "XK", "dispatcher")
    )
    assert listed.status_code == 200, listed.text
    assert {r["org_code"] for r in listed.json()["items"]} == {"XK"}
    assert own.json()["id"] in {r["id"] for r in listed.json()["items"]}
    theirs = await api.client.get(
        f"/api/v1/recipients/{district['id']}",
        headers=town_headers(api, "dispatcher-xk", "XK", "dispatcher"),
    )
    assert theirs.status_code == 403, theirs.text
    patched = await api.client.patch(
        f"/api/v1/recipients/{district['id']}",
        headers=town_headers(api, "dispatcher-xk", "XK", "dispatcher") | {"If-Match": '"1"'},
        json={"household_size": 4},
    )
    assert patched.status_code == 403, patched.text
    # the district's staff reach every organisation's
    everyone = await api.ok("GET", f"/api/v1/recipients/{own.json()['id']}", "dispatcher")
    assert everyone["name"] == "胡春花"


async def test_corrections_with_if_match(api: Api, event_log: EventLog) -> None:
    family = await register(
        api,
        {
            "kind": "household",
            "name": "林阿大",
            "household_size": 3,
            "town": "溪口镇",
            "phone": "13900001234",
        },
    )
    fid = family["id"]
    path = f"/api/v1/recipients/{fid}"
    unversioned = await api.call("PATCH", path, json={"household_size": 5})
    assert unversioned.status_code == 428, unversioned.text
    stale = await api.call("PATCH", path, headers={"If-Match": '"9"'}, json={"household_size": 5})
    assert stale.status_code == 412, stale.text
    no_id = await api.call("PATCH", path, headers={"If-Match": '"1"'}, json={"id_number": new_id()})
    assert no_id.status_code == 422, no_id.text
    changed = await api.ok(
        "PATCH",
        path,
        headers={"If-Match": '"1"'},
        json={"name": "林阿二", "household_size": 5, "phone": None},
    )
    assert changed["version"] == 2
    assert changed["name"] == "林阿二"
    assert changed["name_masked"] == "林*二"
    assert changed["phone"] is None
    assert (changed["people"], changed["households"]) == (5, 1)
    events = await event_log.wait(RECIPIENT_REGISTERED, count=2, recipient_id=fid)
    assert [(e.data["version"], e.data["household_size"]) for e in events] == [(1, 3), (2, 5)]
    audit = await db_text(
        api,
        f"SELECT before, after FROM audit_log WHERE entity_id = '{fid}' "
        "AND action = 'recipient.update'",
    )
    assert "林*大" in audit
    assert "林*二" in audit
    assert "林阿" not in audit
    assert "13900001234" not in audit

    one = await register(api, person("林小妹", new_id("20010203")))
    resized = await api.call(
        "PATCH",
        f"/api/v1/recipients/{one['id']}",
        headers={"If-Match": '"1"'},
        json={"household_size": 2},
    )
    assert resized.status_code == 422, resized.text


# --- disbursements naming recipients -------------------------------------------------------


async def _funded(api: Api, category: str) -> str:
    project = await new_project(api, category=category)
    code = str(project["code"])
    await api.ok(
        "POST",
        "/api/v1/donations",
        headers={"Idempotency-Key": unique("k")},
        json=gift(amount_fen=1_000_000, project_code=code),
    )
    return code


async def _disburse(
    api: Api,
    code: str,
    on: str,
    recipients: list[dict[str, Any]] | None,
    *,
    approve: bool = True,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount_fen": 30_000,
        "purpose": "困难家庭慰问金",
        "recipient_type": "person",
        "recipient_name": "受助群众",
        "voucher_no": unique("V"),
        "disbursed_on": on,
    }
    if recipients is not None:
        body["recipients"] = recipients
    entered: dict[str, Any] = await api.ok(
        "POST",
        f"/api/v1/projects/{code}/disbursements",
        headers={"Idempotency-Key": unique("k")},
        json=body,
    )
    if approve:
        entered = await api.ok("POST", f"/api/v1/disbursements/{entered['id']}/approve", "approver")
    return entered


async def test_disbursement_names_recipients_and_the_approver_sees_repeats(api: Api) -> None:
    # hand-computed: the window is 365 days; the pending disbursement is dated 2026-03-01
    a = (await register(api, person("郑一", new_id("19500505"))))["id"]
    b = (
        await register(
            api, {"kind": "household", "name": "郑二", "household_size": 4, "town": "溪口镇"}
        )
    )["id"]
    c = (
        await register(
            api,
            {
                "kind": "organisation",
                "name": "溪口镇中心小学",
                "org_kind": "school",
                "town": "溪口镇",
            },
        )
    )["id"]
    pending_project = await _funded(api, "song_wan_jia")
    same_kind = await _funded(api, "song_wan_jia")
    other_kind = await _funded(api, "wan_ren_xing")
    d1 = await _disburse(api, same_kind, "2026-03-01", [{"recipient_id": a, "amount_fen": 10_000}])
    await _disburse(api, other_kind, "2026-03-05", [{"recipient_id": a}])  # another category
    d3 = await _disburse(
        api, same_kind, "2025-03-02", [{"recipient_id": a}, {"recipient_id": b}]
    )  # 364 days before
    await _disburse(api, same_kind, "2025-03-01", [{"recipient_id": b}])  # 365 days: outside
    await _disburse(api, same_kind, "2026-02-01", [{"recipient_id": c}], approve=False)  # pending
    later = await _disburse(api, same_kind, "2027-02-28", [{"recipient_id": c}])  # 364 after

    pending = await _disburse(
        api,
        pending_project,
        "2026-03-01",
        [
            {"recipient_id": a, "amount_fen": 10_000},
            {"recipient_id": b, "amount_fen": 20_000},
            {"recipient_id": c},
        ],
        approve=False,
    )
    view = await api.ok("GET", f"/api/v1/disbursements/{pending['id']}", "approver")
    by_id = {r["recipient_id"]: r for r in view["recipients"]}
    assert [r["recipient_id"] for r in view["recipients"]] == [a, b, c]  # registration order
    assert [
        (x["disbursement_id"], x["days_apart"], x["amount_fen"])
        for x in by_id[a]["repeat_receipts"]
    ] == [(d1["id"], 0, 10_000), (d3["id"], 364, None)]
    assert [(x["disbursement_id"], x["days_apart"]) for x in by_id[b]["repeat_receipts"]] == [
        (d3["id"], 364)
    ]
    assert [(x["disbursement_id"], x["days_apart"]) for x in by_id[c]["repeat_receipts"]] == [
        (later["id"], 364)
    ]
    assert (view["people_reached"], view["households_reached"]) == (1 + 4 + 0, 1 + 1 + 0)
    assert [(r["people"], r["households"]) for r in view["recipients"]] == [(1, 1), (4, 1), (0, 0)]
    assert by_id[a]["name_masked"] == "郑*"
    assert "郑一" not in str(view["recipients"])

    approved = await api.ok(
        "POST",
        f"/api/v1/disbursements/{pending['id']}/approve",
        "approver",
        headers={"Idempotency-Key": unique("k")},
        json={"repeat_acknowledged": True},
    )
    assert approved["status"] == "approved"
    assert approved["repeat_acknowledged"] is True
    assert all(r["repeat_receipts"] is None for r in approved["recipients"])  # decided
    audit = await db_text(
        api,
        "SELECT after FROM audit_log WHERE action = 'disbursement.approve' "
        f"AND entity_id = '{pending['id']}'",
    )
    assert '"repeat_acknowledged": true' in audit

    # the household grows later: the disbursement keeps whom it reached then
    await api.ok(
        "PATCH", f"/api/v1/recipients/{b}", headers={"If-Match": '"1"'}, json={"household_size": 6}
    )
    kept = await api.ok("GET", f"/api/v1/disbursements/{pending['id']}")
    assert kept["people_reached"] == 5
    reach = await api.ok(
        "GET", "/api/v1/recipients/reach", params={"project_code": pending_project}
    )
    assert reach["disbursements"] == {"people": 5, "households": 2, "recipients": 3}
    assert reach["deliveries"] == {"people": 0, "households": 0, "recipients": 0}
    assert reach["total"] == {"people": 1 + 6, "households": 2, "recipients": 3}  # current sizes


async def test_recipients_are_optional_and_checked(api: Api) -> None:
    code = await _funded(api, "other")
    plain = await _disburse(api, code, "2026-05-01", None)  # an older client: no recipients
    assert plain["recipients"] == []
    assert (plain["people_reached"], plain["households_reached"]) == (0, 0)
    assert plain["repeat_acknowledged"] is False
    someone = (await register(api, person("钱三", new_id("19900909"))))["id"]
    for recipients, problem in [
        ([{"recipient_id": str(uuid.uuid4())}], "未登记"),
        ([{"recipient_id": someone}, {"recipient_id": someone}], "重复"),
        ([{"recipient_id": someone, "amount_fen": 30_001}], "超过"),
    ]:
        response = await api.call(
            "POST",
            f"/api/v1/projects/{code}/disbursements",
            headers={"Idempotency-Key": unique("k")},
            json={
                "amount_fen": 30_000,
                "purpose": "困难家庭慰问金",
                "recipient_type": "person",
                "recipient_name": "钱三",
                "voucher_no": unique("V"),
                "disbursed_on": "2026-05-02",
                "recipients": recipients,
            },
        )
        assert response.status_code == 422, response.text
        assert problem in response.json()["error"]["message"]
    listed = await api.ok("GET", f"/api/v1/projects/{code}/disbursements")
    assert [d["id"] for d in listed["items"]] == [plain["id"]]  # nothing else written


# --- the warehouse names recipients at delivery --------------------------------------------


@pytest.fixture(scope="module")
async def warehouse(
    databases: dict[str, ServiceSettings], kafka_topics: list[str], api: Api
) -> AsyncIterator[WarehouseApi]:
    """The warehouse service in process beside the donation service: its consumer copies the
    register from ``donation.events``; the donation service reads its ``warehouse.events``."""
    settings = databases["warehouse"]
    assert isinstance(settings, WarehouseSettings)
    app = warehouse_app(
        settings.model_copy(
            update={
                "run_expiry_scan": False,
                "run_preparedness_sweep": False,
                "relay_poll_interval_s": 0.2,
            }
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://warehouse") as client:
            yield WarehouseApi(client, api.issuer)


async def _rows(settings: ServiceSettings, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def _copied(settings: ServiceSettings, ids: list[str], version: int = 1) -> None:
    async def there() -> bool:
        rows = await _rows(
            settings,
            "SELECT id FROM recipients WHERE id = ANY($1::uuid[]) AND version >= $2",
            [uuid.UUID(i) for i in ids],
            version,
        )
        return len(rows) == len(ids)

    await eventually(there, timeout=30)


async def _deliver(
    warehouse: WarehouseApi,
    wh: str,
    item: str,
    project_code: str,
    recipient_ids: list[str],
    *,
    status: int = 200,
) -> dict[str, Any]:
    dispatch = await warehouse.ok(
        "POST",
        "/api/v1/dispatches",
        "dispatcher",
        201,
        json={
            "from_warehouse_code": wh,
            "destination": {"kind": "site", "name": "岩头村安置点", "town": "溪口镇"},
            "urgency": "urgent",
            "project_code": project_code,
            "lines": [{"item_code": item, "quantity": 5}],
        },
    )
    path = f"/api/v1/dispatches/{dispatch['id']}"
    await warehouse.ok("POST", path + "/approve", "approver")
    await warehouse.ok("POST", path + "/pick", "warehouse")
    await warehouse.ok("POST", path + "/ship", "warehouse", json={"waybill_no": uniq("WB")})
    response = await warehouse.call(
        "POST",
        path + "/deliver",
        "dispatcher",
        json={"recipient_name": "应大伯", "recipient_ids": recipient_ids},
    )
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body | {"dispatch_id": dispatch["id"]}


async def test_a_delivery_names_recipients_and_the_project_counts_them(
    api: Api, warehouse: WarehouseApi, databases: dict[str, ServiceSettings]
) -> None:
    code = await _funded(api, "emergency")
    family = await register(
        api,
        {
            "kind": "household",
            "name": "应大伯",
            "household_size": 3,
            "town": "溪口镇",
            "phone": "13911112222",
            "address": "溪口镇岩头村 7 号",
        },
    )
    number = new_id("19450817")
    elder = await register(api, person("应阿婆", number))
    site = await register(
        api,
        {
            "kind": "organisation",
            "name": "岩头村村民委员会",
            "org_kind": "village_committee",
            "town": "溪口镇",
        },
    )
    ids = [family["id"], elder["id"], site["id"]]
    wh_db = databases["warehouse"]
    await _copied(wh_db, ids)
    copy = "\n".join(str(tuple(r)) for r in await _rows(wh_db, "SELECT * FROM recipients"))
    assert "应*伯" in copy
    assert "岩头村村民委员会" in copy  # an organisation by its name
    for secret in ("应大伯", "应阿婆", "13911112222", "7 号", number[-4:]):
        assert secret not in copy

    wh = await make_warehouse(warehouse)
    item = await make_item(warehouse, category="food")
    await receive(warehouse, wh, [{"item_code": item, "quantity": 100, "unit_value_fen": 500}])

    unknown = str(uuid.uuid4())
    refused = await _deliver(warehouse, wh, item, code, [ids[0], unknown], status=422)
    assert unknown in refused["error"]["message"]
    twice = await _deliver(warehouse, wh, item, code, [ids[0], ids[0]], status=422)
    assert "重复" in twice["error"]["message"]

    first = await _deliver(warehouse, wh, item, code, ids)
    assert first["status"] == "delivered"
    assert first["recipient_ids"] == ids
    assert (first["people_reached"], first["households_reached"]) == (3 + 1 + 0, 1 + 1 + 0)
    second = await _deliver(warehouse, wh, item, code, [ids[0]])  # the same family again
    assert (second["people_reached"], second["households_reached"]) == (3, 1)
    plain = await _deliver(warehouse, wh, item, code, [])  # naming nobody still works
    assert (plain["people_reached"], plain["recipient_ids"]) == (0, [])

    # the donation service keeps, per delivered dispatch, whom it reached
    async def counted() -> bool:
        reach = await api.ok("GET", "/api/v1/recipients/reach", params={"project_code": code})
        return bool(reach["delivered_dispatches"] == 3)

    await eventually(counted, timeout=30)
    reach = await api.ok("GET", "/api/v1/recipients/reach", params={"project_code": code})
    assert reach["deliveries"] == {"people": 4 + 3, "households": 2 + 1, "recipients": 3}
    assert reach["total"] == {"people": 4, "households": 2, "recipients": 3}  # each once

    # a disbursement of the project to the family and someone new adds only the new one
    other = (await register(api, person("应小弟", new_id("20100101"))))["id"]
    await _disburse(api, code, "2026-06-01", [{"recipient_id": ids[0]}, {"recipient_id": other}])
    reach = await api.ok("GET", "/api/v1/recipients/reach", params={"project_code": code})
    assert reach["disbursements"] == {"people": 3 + 1, "households": 2, "recipients": 2}
    assert reach["total"] == {"people": 4 + 1, "households": 3, "recipients": 4}

    # a household that grew is announced again; the warehouse counts its new size
    await api.ok(
        "PATCH",
        f"/api/v1/recipients/{ids[0]}",
        headers={"If-Match": '"1"'},
        json={"household_size": 5},
    )
    await _copied(wh_db, [ids[0]], version=2)
    grown = await _deliver(warehouse, wh, item, code, [ids[0]])
    assert grown["people_reached"] == 5
