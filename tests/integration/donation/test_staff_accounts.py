"""Staff accounts and the organisation register, through the HTTP API on the real database:
an admin creates an account (initial password set or generated), the holder must change it
before any token; the password policy's 422s; reset, disable, enable, a role change, each
revoking the account's tokens through the outbox (``AccessRevokedV1`` on ``staff.events``);
lifting a login lockout; a town branch's admin reaches only their organisation; every change
audited without a password; organisations registered, renamed and announced."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text

from shared.auth import StaffPrincipal
from shared.contracts.staff import ACCESS_REVOKED, ORGANISATION_REGISTERED
from shared.contracts.staff import TOPIC as STAFF_EVENTS
from shared.organisations import SEED
from tests.conftest import TOPIC_PREFIX
from tests.integration.donation.conftest import Api, unique

pytestmark = pytest.mark.integration

ADMIN = "root-admin"  # a district admin (the tokens' default organisation is FH)
GOOD = "Pingan-Fenghua-2026"
NEWER = "Qingshan-Lvshui-88"
_addresses = (f"198.19.{n // 250}.{n % 250 + 1}" for n in itertools.count())


def name(prefix: str = "u") -> str:
    return unique(f"{prefix}-").lower()


def admin_headers(api: Api, *, org: str = "FH", user: str = ADMIN) -> dict[str, str]:
    token = api.issuer.issue(
        StaffPrincipal(username=user, roles=frozenset({"admin"}), display_name=user, org=org)
    )
    return {"Authorization": f"Bearer {token}"}


async def admin(
    api: Api, method: str, path: str, *, org: str = "FH", **kwargs: Any
) -> httpx.Response:
    headers = admin_headers(api, org=org) | kwargs.pop("headers", {})
    return await api.client.request(method, path, headers=headers, **kwargs)


async def create(api: Api, **overrides: Any) -> dict[str, Any]:
    """An account made by a district admin: a warehouse keeper of 溪口镇 with ``GOOD``."""
    body = {
        "username": name(),
        "display_name": "测试 账号",
        "org_code": "XK",
        "roles": ["warehouse"],
        "password": GOOD,
    } | overrides
    answer = await admin(api, "POST", "/api/v1/staff", json=body)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def login(api: Api, username: str, password: str) -> httpx.Response:
    async with api.public_client(next(_addresses)) as http:
        return await http.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )


async def change_password(api: Api, username: str, old: str, new: str) -> httpx.Response:
    async with api.public_client(next(_addresses)) as http:
        return await http.post(
            "/api/v1/auth/password",
            json={"username": username, "old_password": old, "new_password": new},
        )


async def outbox(api: Api, type_: str, key: str) -> list[dict[str, Any]]:
    async with api.app.state.runtime.session_factory() as session:
        rows = await session.execute(
            text("SELECT topic, payload FROM outbox WHERE type = :t AND key = :k ORDER BY seq"),
            {"t": type_, "k": key},
        )
        found = []
        for topic, payload in rows.all():
            assert topic == TOPIC_PREFIX + STAFF_EVENTS
            found.append(payload)
        return found


async def audit_of(api: Api, entity: str, entity_id: str) -> list[dict[str, Any]]:
    page = await api.ok(
        "GET", "/api/v1/audit", "auditor", params={"entity": entity, "entity_id": entity_id}
    )
    items: list[dict[str, Any]] = page["items"]
    return items


# --- an account's first login -----------------------------------------------------------


async def test_a_new_account_changes_its_password_before_any_token(api: Api) -> None:
    account = await create(api, display_name="溪口仓管 新人")
    assert account["org_code"] == "XK"
    assert account["org_name"] == "溪口镇红十字会"
    assert account["must_change_password"] is True
    assert account["initial_password"] is None  # the admin set it
    assert "password_hash" not in account
    assert GOOD not in str(account)
    user = account["username"]

    refused = await login(api, user, GOOD)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "password_change_required"
    assert "access_token" not in refused.text

    assert (await change_password(api, user, "wrong-password-1", NEWER)).status_code == 401
    weak = await change_password(api, user, GOOD, "1234567890")
    assert weak.status_code == 422, weak.text
    same = await change_password(api, user, GOOD, GOOD)
    assert same.status_code == 422
    assert "新密码不能与旧密码相同" in same.json()["error"]["message"]
    assert (await change_password(api, user, GOOD, NEWER)).status_code == 204

    assert (await login(api, user, GOOD)).status_code == 401
    answer = await login(api, user, NEWER)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["org"] == "XK"
    assert claims["roles"] == ["warehouse"]
    me = await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["org"] == "XK"

    shown = (await admin(api, "GET", f"/api/v1/staff/{user}")).json()
    assert shown["must_change_password"] is False
    assert shown["password_changed_at"]
    (revoked,) = await outbox(api, ACCESS_REVOKED, user)
    assert revoked["reason"] == "password_changed"


async def test_a_generated_initial_password_is_answered_once(api: Api) -> None:
    user = name()
    body = {"username": user, "display_name": " 调度 ", "org_code": "DY", "roles": ["dispatcher"]}
    headers = {"Idempotency-Key": unique("k-")}
    first = await admin(api, "POST", "/api/v1/staff", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.headers["cache-control"] == "no-store"
    assert first.json()["display_name"] == "调度"
    password = first.json()["initial_password"]
    assert isinstance(password, str)
    assert len(password) >= 10

    replay = await admin(api, "POST", "/api/v1/staff", json=body, headers=headers)
    assert replay.status_code == 201
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["initial_password"] is None
    assert password not in replay.text

    answer = await login(api, user, password)
    assert answer.json()["error"]["code"] == "password_change_required"
    entries = await audit_of(api, "staff_user", user)
    assert [e["action"] for e in entries] == ["staff.create"]
    assert entries[0]["actor"] == ADMIN
    assert entries[0]["after"]["initial_password"] == "generated"
    assert password not in str(entries)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Short-1", "至少 10 个字符"),
        ("20261207123456", "不能全是数字"),
        ("{user}-2026!", "不能包含用户名"),
        ("Password123", "过于常见"),
    ],
    ids=["too-short", "only-digits", "contains-user-name", "common"],
)
async def test_the_password_policy(api: Api, password: str, problem: str) -> None:
    user = name()
    body = {
        "username": user,
        "display_name": "测试",
        "org_code": "FH",
        "roles": ["finance"],
        "password": password.format(user=user),
    }
    answer = await admin(api, "POST", "/api/v1/staff", json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_failed"
    assert problem in error["message"]
    assert "(the password does not meet the policy)" in error["message"]
    assert (await admin(api, "GET", f"/api/v1/staff/{user}")).status_code == 404


async def test_a_taken_user_name_and_an_unknown_organisation(api: Api) -> None:
    account = await create(api)
    again = await admin(
        api,
        "POST",
        "/api/v1/staff",
        json={
            "username": account["username"],
            "display_name": "x",
            "org_code": "FH",
            "roles": ["finance"],
        },
    )
    assert again.status_code == 409, again.text
    unknown = await admin(
        api,
        "POST",
        "/api/v1/staff",
        json={"username": name(), "display_name": "x", "org_code": "ZZ", "roles": ["finance"]},
    )
    assert unknown.status_code == 422
    assert "ZZ" in unknown.text


# --- reset, disable, roles: the tokens are revoked ----------------------------------------


async def ready(api: Api, **overrides: Any) -> str:
    """An account that has changed its initial password (``NEWER``) and can log in."""
    user: str = (await create(api, **overrides))["username"]
    assert (await change_password(api, user, GOOD, NEWER)).status_code == 204
    return user


async def test_a_reset_password_must_be_changed_again(api: Api) -> None:
    user = await ready(api)
    reset = await admin(
        api, "POST", f"/api/v1/staff/{user}/password-reset", json={"password": GOOD}
    )
    assert reset.status_code == 200, reset.text
    assert reset.json()["must_change_password"] is True
    assert (await login(api, user, NEWER)).status_code == 401
    assert (await login(api, user, GOOD)).json()["error"]["code"] == "password_change_required"
    reasons = [p["reason"] for p in await outbox(api, ACCESS_REVOKED, user)]
    assert reasons == ["password_changed", "password_reset"]

    generated = await admin(api, "POST", f"/api/v1/staff/{user}/password-reset")
    assert generated.status_code == 200
    assert generated.json()["initial_password"]
    actions = [e["action"] for e in await audit_of(api, "staff_user", user)]
    assert [a for a in actions if a != "login_failed"] == [
        "staff.password_reset",
        "staff.password_reset",
        "staff.password_change",
        "staff.create",
    ]
    assert GOOD not in str(await audit_of(api, "staff_user", user))


async def test_a_disabled_account_cannot_log_in_and_its_tokens_are_revoked(api: Api) -> None:
    user = await ready(api)
    assert (await login(api, user, NEWER)).status_code == 200
    disabled = await admin(
        api, "POST", f"/api/v1/staff/{user}/disable", json={"reason": "调离岗位"}
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["active"] is False
    assert disabled.json()["disabled_at"]
    assert (await login(api, user, NEWER)).status_code == 401
    revoked = (await outbox(api, ACCESS_REVOKED, user))[-1]
    assert revoked["reason"] == "disabled"
    assert revoked["username"] == user
    assert revoked["not_before"] >= disabled.json()["updated_at"][:19]

    enabled = await admin(api, "POST", f"/api/v1/staff/{user}/enable")
    assert enabled.json()["active"] is True
    assert (await login(api, user, NEWER)).status_code == 200
    actions = [e["action"] for e in await audit_of(api, "staff_user", user)]
    assert actions[:3] == ["staff.enable", "login_failed", "staff.disable"]


async def test_an_admin_cannot_disable_themselves(api: Api) -> None:
    me = await ready(api, org_code="FH", roles=["admin"])
    headers = admin_headers(api, user=me)
    answer = await api.client.post(f"/api/v1/staff/{me}/disable", headers=headers)
    assert answer.status_code == 409, answer.text


async def test_changing_roles_needs_the_version_and_revokes_tokens(api: Api) -> None:
    user = await ready(api)
    path = f"/api/v1/staff/{user}"
    assert (await admin(api, "PATCH", path, json={"roles": ["dispatcher"]})).status_code == 428
    current = (await admin(api, "GET", path)).json()["version"]
    changed = await admin(
        api,
        "PATCH",
        path,
        json={"roles": ["dispatcher", "warehouse"], "display_name": "溪口 调度兼仓管"},
        headers={"If-Match": f'"{current}"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == ["dispatcher", "warehouse"]
    assert changed.json()["version"] == current + 1
    stale = await admin(
        api, "PATCH", path, json={"org_code": "DY"}, headers={"If-Match": f'"{current}"'}
    )
    assert stale.status_code == 412
    moved = await admin(
        api, "PATCH", path, json={"org_code": "DY"}, headers={"If-Match": f'"{current + 1}"'}
    )
    assert moved.json()["org_code"] == "DY"
    reasons = [p["reason"] for p in await outbox(api, ACCESS_REVOKED, user)]
    assert reasons == ["password_changed", "roles_changed", "organisation_changed"]
    token = (await login(api, user, NEWER)).json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["org"] == "DY"
    (update, *_) = [
        e for e in await audit_of(api, "staff_user", user) if e["action"] == "staff.update"
    ]
    assert update["before"] == {"org_code": "XK"}
    assert update["after"] == {"org_code": "DY"}


# --- a login lockout, lifted ------------------------------------------------------------


async def test_an_admin_lifts_a_login_lockout(api: Api) -> None:
    user = await ready(api)
    async with api.public_client(next(_addresses)) as http:
        for _ in range(5):
            wrong = await http.post(
                "/api/v1/auth/token", data={"username": user, "password": "not-it-at-all"}
            )
            assert wrong.status_code == 401
    locked = await login(api, user, NEWER)
    assert locked.status_code == 429, locked.text
    lifted = await admin(api, "POST", f"/api/v1/staff/{user}/unlock")
    assert lifted.status_code == 200, lifted.text
    assert (await login(api, user, NEWER)).status_code == 200
    actions = [e["action"] for e in await audit_of(api, "staff_user", user)]
    assert "staff.unlock" in actions
    assert actions.count("login_failed") == 5


# --- a town branch's admin reaches only their organisation ------------------------------


async def test_a_town_admin_manages_only_their_organisation(api: Api) -> None:
    theirs = (await create(api, org_code="XK"))["username"]
    other = (await create(api, org_code="DY"))["username"]

    made = await admin(
        api,
        "POST",
        "/api/v1/staff",
        org="XK",
        json={"username": name(), "display_name": "溪口", "org_code": "XK", "roles": ["warehouse"]},
    )
    assert made.status_code == 201, made.text
    refused = await admin(
        api,
        "POST",
        "/api/v1/staff",
        org="XK",
        json={"username": name(), "display_name": "大堰", "org_code": "DY", "roles": ["warehouse"]},
    )
    assert refused.status_code == 403, refused.text
    assert "溪口镇红十字会" in refused.json()["error"]["message"]

    listed = (await admin(api, "GET", "/api/v1/staff", org="XK")).json()["items"]
    assert {a["org_code"] for a in listed} == {"XK"}
    assert theirs in {a["username"] for a in listed}
    assert (
        await admin(api, "GET", "/api/v1/staff", org="XK", params={"org": "DY"})
    ).status_code == 403
    assert (await admin(api, "GET", f"/api/v1/staff/{other}", org="XK")).status_code == 403
    cases: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", f"/api/v1/staff/{other}/disable", {}),
        ("POST", f"/api/v1/staff/{other}/password-reset", {}),
        ("POST", f"/api/v1/staff/{other}/unlock", None),
    ]
    for method, path, body in cases:
        answer = await admin(api, method, path, org="XK", json=body)
        assert answer.status_code == 403, f"{path}: {answer.text}"
    version = (await admin(api, "GET", f"/api/v1/staff/{theirs}", org="XK")).json()["version"]
    moved = await admin(
        api,
        "PATCH",
        f"/api/v1/staff/{theirs}",
        org="XK",
        json={"org_code": "DY"},
        headers={"If-Match": f'"{version}"'},
    )
    assert moved.status_code == 403, moved.text
    assert (await admin(api, "GET", f"/api/v1/staff/{other}")).json()["active"] is True
    district = (await admin(api, "GET", "/api/v1/staff")).json()["items"]
    assert {"XK", "DY", "FH"} <= {a["org_code"] for a in district}


async def test_only_admins_manage_accounts(api: Api) -> None:
    answer = await api.call("GET", "/api/v1/staff", "finance")
    assert answer.status_code == 403


# --- the organisation register ----------------------------------------------------------


async def test_the_seeded_organisations_are_listed_and_announced(api: Api) -> None:
    listed = (await api.ok("GET", "/api/v1/organisations", "warehouse"))["items"]
    seeded = [o for o in listed if o["code"] in {s.code for s in SEED}]
    assert [o["code"] for o in seeded] == ["FH", *sorted(s.code for s in SEED[1:])]
    assert seeded[0] == seeded[0] | {"code": "FH", "kind": "district", "town": None}
    xk = next(o for o in listed if o["code"] == "XK")
    assert xk["name"] == "溪口镇红十字会"
    assert xk["town"] == "溪口镇"
    assert xk["active"] is True
    for org in SEED:
        (announced, *_) = await outbox(api, ORGANISATION_REGISTERED, org.code)
        assert announced["name"] == org.name
        assert announced["kind"] == org.kind


async def test_a_district_admin_registers_and_renames_an_organisation(api: Api) -> None:
    code = "T" + unique("")[-6:]
    body = {"code": code, "name": f"测试街道红十字会{code}", "kind": "town", "town": "测试街道"}
    assert (
        await admin(api, "POST", "/api/v1/organisations", org="XK", json=body)
    ).status_code == 403
    made = await admin(api, "POST", "/api/v1/organisations", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["version"] == 1
    assert made.headers["etag"] == '"1"'
    taken = await admin(api, "POST", "/api/v1/organisations", json=body)
    assert taken.status_code == 409
    no_town = await admin(
        api, "POST", "/api/v1/organisations", json=body | {"code": code + "X", "town": None}
    )
    assert no_town.status_code == 422
    district = await admin(
        api,
        "POST",
        "/api/v1/organisations",
        json=body | {"code": code + "D", "name": "第二个区会", "kind": "district", "town": None},
    )
    assert district.status_code == 422
    assert "区红十字会只有一个" in district.json()["error"]["message"]

    renamed = await admin(
        api,
        "PATCH",
        f"/api/v1/organisations/{code}",
        json={"name": f"测试镇红十字会{code}"},
        headers={"If-Match": '"1"'},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == f"测试镇红十字会{code}"
    assert renamed.json()["version"] == 2
    events = await outbox(api, ORGANISATION_REGISTERED, code)
    assert [e["name"] for e in events] == [body["name"], f"测试镇红十字会{code}"]

    deactivated = await admin(
        api,
        "PATCH",
        f"/api/v1/organisations/{code}",
        json={"active": False},
        headers={"If-Match": '"2"'},
    )
    assert deactivated.json()["active"] is False
    assert (await outbox(api, ORGANISATION_REGISTERED, code))[-1]["active"] is False
    refused = await admin(
        api,
        "POST",
        "/api/v1/staff",
        json={"username": name(), "display_name": "x", "org_code": code, "roles": ["finance"]},
    )
    assert refused.status_code == 422
    assert "已停用" in refused.text
    actions = [e["action"] for e in await audit_of(api, "organisation", code)]
    assert actions == ["organisation.deactivate", "organisation.update", "organisation.create"]

    district = await admin(
        api,
        "PATCH",
        "/api/v1/organisations/FH",
        json={"active": False},
        headers={"If-Match": '"1"'},
    )
    assert district.status_code == 409


# --- the demo accounts of the town branches -----------------------------------------------


@pytest.mark.parametrize(
    ("user", "org", "role"),
    [
        ("keeper-xk", "XK", "warehouse"),
        ("dispatcher-xk", "XK", "dispatcher"),
        ("keeper-dy", "DY", "warehouse"),
        ("finance", "FH", "finance"),
    ],
    ids=["keeper-xk", "dispatcher-xk", "keeper-dy", "finance"],
)
async def test_demo_accounts_of_the_town_branches(api: Api, user: str, org: str, role: str) -> None:
    password = api.settings.demo_password.get_secret_value()  # type: ignore[attr-defined]
    answer = await login(api, user, password)
    assert answer.status_code == 200, answer.text
    claims = jwt.decode(answer.json()["access_token"], options={"verify_signature": False})
    assert claims["org"] == org
    assert claims["roles"] == [role]


async def test_a_login_racing_a_disable_gets_no_token(api: Api) -> None:
    """A disable in progress (the row locked FOR UPDATE, tokens_not_before set, not committed)
    holds back a login until it commits; the login then sees the disabled account. Reading the
    row without the lock, the login would get a token issued after not_before: valid for the
    token's whole lifetime although the account was disabled."""
    user = (await create(api))["username"]
    assert (await change_password(api, user, GOOD, NEWER)).status_code == 204
    async with api.app.state.runtime.session_factory() as session, session.begin():
        await session.execute(
            text("SELECT 1 FROM staff_users WHERE username = :u FOR UPDATE"), {"u": user}
        )
        await session.execute(
            text(
                "UPDATE staff_users SET active = false, disabled_at = now(),"
                " tokens_not_before = clock_timestamp() WHERE username = :u"
            ),
            {"u": user},
        )
        racing = asyncio.create_task(login(api, user, NEWER))
        await asyncio.sleep(0.5)
        assert not racing.done(), "the login did not wait for the disable in progress"
    answer = await asyncio.wait_for(racing, timeout=10)
    assert answer.status_code == 401, answer.text
    assert "access_token" not in answer.text
