"""Disabling an account through the donation API makes every service refuse its token within
the bound (docs/decisions/010-token-revocation.md), the three services running as processes.

The path is the production one: the disable commits the account's ``tokens_not_before`` and an
``AccessRevokedV1`` in the donation service's outbox; the relay publishes it on
``staff.events``; the warehouse's and the notification's revocation listeners read it. The
delay from the disable's answer to each service's first 401 is measured and printed.
"""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.e2e.conftest import Stack, token

pytestmark = pytest.mark.e2e

BOUND_S = 5.0
REVOKED = "访问令牌已撤销，请重新登录 (token revoked)"
PASSWORD = "Keeper-of-the-lots-7"  # a test account's password


def auth(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def login(stack: Stack, username: str, password: str) -> httpx.Response:
    return httpx.post(
        stack.url("donation") + "/api/v1/auth/token",
        data={"username": username, "password": password},
        timeout=10,
    )


def new_keeper(stack: Stack, admin: str) -> str:
    """An account with an initial password, changed by its holder, then logged in: a token."""
    username = f"keeper-{uuid.uuid4().hex[:8]}"
    initial = f"Initial-{uuid.uuid4().hex[:12]}"
    created = httpx.post(
        stack.url("donation") + "/api/v1/staff",
        json={
            "username": username,
            "display_name": "溪口镇仓管员",
            "org_code": "XK",
            "roles": ["warehouse"],
            "password": initial,
        },
        headers=auth(admin) | {"Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    changed = httpx.post(
        stack.url("donation") + "/api/v1/auth/password",
        json={"username": username, "old_password": initial, "new_password": PASSWORD},
        timeout=10,
    )
    assert changed.status_code == 204, changed.text
    # the change revoked the account's earlier tokens; a login right after it is not one
    response = login(stack, username, PASSWORD)
    assert response.status_code == 200, response.text
    return username


GUARDED = {  # a staff route a warehouse keeper may call, per service
    "warehouse": "/api/v1/warehouses",
    "notification": "/api/v1/alerts",
    "donation": "/api/v1/auth/me",
}


def test_a_disabled_account_is_refused_by_every_service_within_the_bound(stack: Stack) -> None:
    admin = token(stack, "admin")
    username = new_keeper(stack, admin)
    keeper = str(login(stack, username, PASSWORD).json()["access_token"])
    for service, path in GUARDED.items():  # accepted everywhere (and now in each cache)
        response = httpx.get(stack.url(service) + path, headers=auth(keeper), timeout=10)
        assert response.status_code == 200, f"{service}: {response.text}"

    disabled = httpx.post(
        stack.url("donation") + f"/api/v1/staff/{username}/disable",
        json={"reason": "离职 (left the organisation)"},
        headers=auth(admin) | {"Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    )
    assert disabled.status_code == 200, disabled.text
    at = time.monotonic()

    delays: dict[str, float] = {}
    pending = dict(GUARDED)
    while pending and time.monotonic() - at < 30:
        for service, path in list(pending.items()):
            response = httpx.get(stack.url(service) + path, headers=auth(keeper), timeout=10)
            if response.status_code == 401:
                assert response.json()["error"]["message"] == REVOKED, response.text
                delays[service] = time.monotonic() - at
                del pending[service]
            else:
                assert response.status_code == 200, f"{service}: {response.text}"
        time.sleep(0.02)
    print(
        "\nrevocation enforced after the disable's answer: "
        + ", ".join(f"{s} {d * 1000:.0f} ms" for s, d in sorted(delays.items()))
    )
    assert not pending, f"still accepted after 30 s by {sorted(pending)}"
    assert max(delays.values()) < BOUND_S, delays

    refused = login(stack, username, PASSWORD)  # and no new token for a disabled account
    assert refused.status_code in (401, 403), refused.text
    other = token(stack, "warehouse")  # other accounts are untouched
    response = httpx.get(stack.url("warehouse") + GUARDED["warehouse"], headers=auth(other))
    assert response.status_code == 200, response.text
