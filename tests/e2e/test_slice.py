"""The vertical slice over HTTP with the three services running as processes:
a gift recorded at the donation service appears, masked, in the notification service's
public feed; a goods gift becomes an expected inbound at the warehouse; retries with the
same Idempotency-Key record one gift; bad input is refused and writes nothing."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import httpx
import pytest

from shared.messaging.topics import DONATION_EVENTS
from tests.conftest import TOPIC_PREFIX
from tests.e2e.conftest import Stack, token, wait_for
from tests.integration.conftest import read_all

pytestmark = pytest.mark.e2e

PHONE, EMAIL = "13912345678", "lihua.donor@example.com"


def auth(t: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {t}"}


def feed_entry_for(stack: Stack, donation_id: str) -> dict[str, Any] | None:
    cursor = None
    for _ in range(20):
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = httpx.get(stack.url("notification") + "/api/v1/public/feed", params=params).json()
        for entry in page["items"]:
            if entry["data"].get("donation_id") == donation_id:
                return dict(entry)
        cursor = page["next_cursor"]
        if cursor is None:
            return None
    return None


def test_money_gift_reaches_the_public_feed_masked(stack: Stack) -> None:
    finance = token(stack, "finance")
    body = {
        "kind": "money",
        "amount_fen": 123456,
        "channel": "wechat_pay",
        "display": "surname",
        "project_code": "BOAI-SWJ",
        "donor": {"name": "李华明", "phone": PHONE, "email": EMAIL},
    }
    key = str(uuid.uuid4())
    created = httpx.post(
        stack.url("donation") + "/api/v1/donations",
        json=body,
        headers=auth(finance) | {"Idempotency-Key": key},
    )
    assert created.status_code == 201, created.text
    gift = created.json()
    assert re.fullmatch(r"([0-9A-Z]{4}-){5}[0-9A-Z*~$=U]", gift["tracking_code"])
    assert gift["display_name"] == "李某"

    entry = wait_for(lambda: feed_entry_for(stack, gift["id"]))
    assert isinstance(entry, dict)
    assert entry["data"]["donor"] == "李某"
    assert entry["data"]["amount_fen"] == 123456
    assert entry["data"]["project_code"] == "BOAI-SWJ"
    assert entry["title"] == "李某 捐款 ¥1,234.56"
    public = json.dumps(entry, ensure_ascii=False)
    for secret in (PHONE, EMAIL, "李华明", gift["tracking_code"]):
        assert secret not in public

    # Contact details never travel on the public event topic either.
    records: list[Any] = asyncio.run(
        read_all(TOPIC_PREFIX + DONATION_EVENTS, expect=1_000_000, timeout=3)
    )
    ours = [r for r in records if r.key.decode() == gift["id"]]
    assert len(ours) == 1
    raw = ours[0].value.decode()
    assert "李某" in raw
    for secret in (PHONE, EMAIL, "李华明"):
        assert secret not in raw


def test_retry_with_the_same_idempotency_key_records_one_gift(stack: Stack) -> None:
    finance = token(stack, "finance")
    body = {
        "amount_fen": 5000,
        "channel": "bank_transfer",
        "external_ref": f"BANK-{uuid.uuid4().hex[:12]}",
        "donor": {"name": "奉化某公司", "donor_type": "organization"},
    }
    headers = auth(finance) | {"Idempotency-Key": str(uuid.uuid4())}
    first = httpx.post(stack.url("donation") + "/api/v1/donations", json=body, headers=headers)
    second = httpx.post(stack.url("donation") + "/api/v1/donations", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"

    changed = httpx.post(
        stack.url("donation") + "/api/v1/donations",
        json=body | {"amount_fen": 6000},
        headers=headers,
    )
    assert changed.status_code == 409

    # The same bank reference under a new key is a duplicate payment, not a new gift.
    again = httpx.post(
        stack.url("donation") + "/api/v1/donations",
        json=body,
        headers=auth(finance) | {"Idempotency-Key": str(uuid.uuid4())},
    )
    assert again.status_code == 409
    assert "already recorded" in again.json()["error"]["message"]


def test_goods_gift_becomes_an_expected_inbound(stack: Stack) -> None:
    finance, keeper = token(stack, "finance"), token(stack, "warehouse")
    body = {
        "kind": "goods",
        "channel": "on_site",
        "display": "named",
        "donor": {"name": "溪口镇商会", "donor_type": "organization"},
        "items": [
            {
                "item_code": "QUILT",
                "name": "棉被",
                "quantity": 40,
                "unit": "床",
                "value_fen": 480000,
            },
            {
                "item_code": "WATER-550",
                "name": "饮用水",
                "quantity": 100,
                "unit": "箱",
                "value_fen": 300000,
                "expiry_date": "2027-06-30",
            },
        ],
    }
    created = httpx.post(
        stack.url("donation") + "/api/v1/donations", json=body, headers=auth(finance)
    )
    assert created.status_code == 201, created.text
    gift = created.json()
    assert gift["amount_fen"] == 780000

    def expected() -> dict[str, Any] | None:
        rows = httpx.get(
            stack.url("warehouse") + "/api/v1/expected-inbounds", headers=auth(keeper)
        ).json()
        return next((r for r in rows if r["donation_id"] == gift["id"]), None)

    inbound = wait_for(expected)
    assert isinstance(inbound, dict)
    assert [(line["item_code"], line["quantity"]) for line in inbound["lines"]] == [
        ("QUILT", 40),
        ("WATER-550", 100),
    ]
    entry = wait_for(lambda: feed_entry_for(stack, gift["id"]))
    assert isinstance(entry, dict)
    assert entry["title"] == "溪口镇商会 捐赠物资：棉被40床、饮用水100箱"


def _count(stack: Stack) -> int:
    auditor = token(stack, "auditor")
    total, cursor = 0, None
    while True:
        params: dict[str, Any] = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = httpx.get(
            stack.url("donation") + "/api/v1/donations", params=params, headers=auth(auditor)
        ).json()
        total += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return total


GOOD = {"amount_fen": 100, "channel": "cash", "donor": {"name": "王五"}}


@pytest.mark.parametrize(
    ("case", "body", "role", "status"),
    [
        ("negative amount", GOOD | {"amount_fen": -1}, "finance", 422),
        ("zero amount", GOOD | {"amount_fen": 0}, "finance", 422),
        ("float amount", GOOD | {"amount_fen": 1.5}, "finance", 422),
        ("unknown channel", GOOD | {"channel": "paypal"}, "finance", 422),
        ("oversize name", GOOD | {"donor": {"name": "名" * 101}}, "finance", 422),
        ("oversize note", GOOD | {"note": "x" * 1001}, "finance", 422),
        ("malformed json", "{not json", "finance", 422),
        ("missing token", GOOD, None, 401),
        ("wrong role", GOOD, "warehouse", 403),
        ("read-only role", GOOD, "auditor", 403),
    ],
)
def test_bad_input_gets_a_clear_4xx_and_writes_nothing(
    stack: Stack, case: str, body: Any, role: str | None, status: int
) -> None:
    before = _count(stack)
    headers = {"Content-Type": "application/json"} | (auth(token(stack, role)) if role else {})
    content = body if isinstance(body, str) else json.dumps(body)
    response = httpx.post(
        stack.url("donation") + "/api/v1/donations", content=content, headers=headers
    )
    assert response.status_code == status, (case, response.text)
    error = response.json()["error"]
    assert error["code"], case
    assert error["message"], case
    assert _count(stack) == before


def test_wrong_password_and_bad_tokens_are_refused(stack: Stack) -> None:
    wrong = httpx.post(
        stack.url("donation") + "/api/v1/auth/token",
        data={"username": "finance", "password": "nope"},
    )
    assert wrong.status_code == 401
    forged = httpx.get(
        stack.url("warehouse") + "/api/v1/expected-inbounds", headers=auth("not.a.jwt")
    )
    assert forged.status_code == 401


def test_every_service_reports_health_readiness_and_metrics(stack: Stack) -> None:
    for service in ("donation", "warehouse", "notification"):
        assert httpx.get(stack.url(service) + "/healthz").json() == {"status": "ok"}
        ready = httpx.get(stack.url(service) + "/readyz").json()
        assert ready == {
            "status": "ready",
            "checks": {"database": True, "kafka": True, "revocations": True},
        }
        metrics = httpx.get(stack.url(service) + "/metrics").text
        assert "sunshine_http_requests_total" in metrics
    assert "sunshine_outbox_published_total" in httpx.get(stack.url("donation") + "/metrics").text
    consumed = httpx.get(stack.url("notification") + "/metrics").text
    assert re.search(r'sunshine_events_consumed_total\{.*outcome="applied".*\} [1-9]', consumed)


def test_feed_pagination_walks_every_entry_once_newest_first(stack: Stack) -> None:
    finance = token(stack, "finance")
    for n in range(5):
        created = httpx.post(
            stack.url("donation") + "/api/v1/donations",
            json={
                "amount_fen": 100 + n,
                "channel": "alipay",
                "display": "anonymous",
                "donor": {"name": "赵六"},
            },
            headers=auth(finance),
        )
        assert created.status_code == 201
    last_id = created.json()["id"]
    wait_for(lambda: feed_entry_for(stack, last_id))
    seqs: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = httpx.get(stack.url("notification") + "/api/v1/public/feed", params=params).json()
        assert len(page["items"]) <= 2
        seqs += [e["seq"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seqs == sorted(seqs, reverse=True)
    assert len(seqs) == len(set(seqs)) >= 5
    bad = httpx.get(stack.url("notification") + "/api/v1/public/feed", params={"cursor": "!!"})
    assert bad.status_code == 422
    too_big = httpx.get(stack.url("notification") + "/api/v1/public/feed", params={"limit": 1000})
    assert too_big.status_code == 422
