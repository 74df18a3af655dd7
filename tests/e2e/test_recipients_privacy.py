"""The privacy scan of every public output, extended to the recipients register (issue 17),
with the three services running as processes: a person registered with a distinctive name,
phone, address and ID number receives a disbursement (approved, on the feed) and goods (the
sign-off names them and is signed by them); then no public output — the feed page by page,
each entry, the summary, timeliness, both exports, the transparency log, the donor's tracking
views, the public pages — holds their name, phone, address, ID number, its last 4 or even
their recipient id. The masked name (诸*岚) may appear."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import httpx
import pytest

from donation.domain.identity_numbers import check_character
from tests.e2e.conftest import Stack, token, wait_for

pytestmark = pytest.mark.e2e

NAME = "诸葛晓岚"
MASKED = "诸葛*岚"
PHONE = "13766668888"
ADDRESS = "畸山村九十九号"
PHONE_RE = re.compile(r"(?<![\w+/])1[3-9]\d{9}(?![\w+/])")
ID_RE = re.compile(r"(?<![\w+/])\d{17}[\dXx](?![\w+/])")


def _id_number() -> str:
    """A valid number whose check character is X: its last 4 (…NNNX) is no amount or hash."""
    for seq in range(100, 1000):
        first17 = f"33028319670823{seq:03d}"
        if check_character(first17) == "X":
            return first17 + "X"
    raise AssertionError("no such sequence")


def call(
    stack: Stack, service: str, method: str, path: str, tok: str, status: int = 200, **kw: Any
) -> Any:
    headers = {"Authorization": f"Bearer {tok}", "Idempotency-Key": str(uuid.uuid4())}
    response = httpx.request(method, stack.url(service) + path, headers=headers, timeout=15, **kw)
    assert response.status_code == status, response.text
    return response.json()


def public(stack: Stack, service: str, path: str, **params: Any) -> httpx.Response:
    for _ in range(20):  # the public endpoints are rate limited: wait, never fail on a 429
        response = httpx.get(stack.url(service) + path, params=params, timeout=15)
        if response.status_code != 429:
            assert response.status_code == 200, (path, response.text)
            return response
        time.sleep(3)
    raise AssertionError(f"{path}: still rate limited")


def test_no_recipient_detail_reaches_any_public_output(stack: Stack) -> None:
    finance, approver = token(stack, "finance"), token(stack, "approver")
    dispatcher, keeper = token(stack, "dispatcher"), token(stack, "warehouse")
    number = _id_number()
    recipient = call(
        stack,
        "donation",
        "POST",
        "/api/v1/recipients",
        finance,
        201,
        json={
            "kind": "person",
            "name": NAME,
            "id_number": number,
            "town": "溪口镇",
            "phone": PHONE,
            "address": ADDRESS,
        },
    )
    assert recipient["name_masked"] == MASKED
    rid = recipient["id"]

    # money: a gift to a project, a disbursement to the person, approved
    tag = uuid.uuid4().hex[:6].upper()
    project = f"E2E-RCP-{tag}"
    call(
        stack,
        "donation",
        "POST",
        "/api/v1/projects",
        finance,
        201,
        json={
            "code": project,
            "name": "困难群众救助（测试）",
            "category": "song_wan_jia",
            "starts_on": "2026-01-01",
        },
    )
    gift = call(
        stack,
        "donation",
        "POST",
        "/api/v1/donations",
        finance,
        201,
        json={
            "kind": "money",
            "amount_fen": 200_000,
            "channel": "bank_transfer",
            "display": "named",
            "project_code": project,
            "donor": {"name": "宁波某爱心企业", "donor_type": "organization"},
        },
    )
    entered = call(
        stack,
        "donation",
        "POST",
        f"/api/v1/projects/{project}/disbursements",
        finance,
        201,
        json={
            "amount_fen": 50_000,
            "purpose": "困难群众生活救助金",
            "recipient_type": "person",
            "recipient_name": NAME,
            "town": "溪口镇",
            "voucher_no": f"V-{tag}",
            "disbursed_on": "2026-11-20",
            "recipients": [{"recipient_id": rid, "amount_fen": 50_000}],
        },
    )
    call(stack, "donation", "POST", f"/api/v1/disbursements/{entered['id']}/approve", approver)

    # goods: received, dispatched for the project, signed for by the person, naming them
    wh, item = f"E2E-RWH-{tag}", f"E2E-RICE-{tag}"
    call(
        stack,
        "warehouse",
        "POST",
        "/api/v1/warehouses",
        keeper,
        201,
        json={"code": wh, "name": "溪口镇救灾物资站（测试）", "kind": "station", "town": "溪口镇"},
    )
    call(
        stack,
        "warehouse",
        "POST",
        "/api/v1/items",
        keeper,
        201,
        json={"code": item, "name": "大米", "category": "food", "unit": "袋"},
    )
    inbound = call(
        stack,
        "warehouse",
        "POST",
        "/api/v1/inbounds",
        keeper,
        201,
        json={
            "warehouse_code": wh,
            "procurement_order": f"PO-{tag}",
            "lines": [{"item_code": item, "quantity": 10, "unit_value_fen": 5000}],
        },
    )
    call(
        stack,
        "warehouse",
        "POST",
        f"/api/v1/inbounds/{inbound['id']}/confirm",
        keeper,
        json={"lines": [{"line_no": 1, "received_quantity": 10}]},
    )
    dispatch = call(
        stack,
        "warehouse",
        "POST",
        "/api/v1/dispatches",
        dispatcher,
        201,
        json={
            "from_warehouse_code": wh,
            "destination": {"kind": "site", "name": "畸山村村委会", "town": "溪口镇"},
            "urgency": "normal",
            "project_code": project,
            "lines": [{"item_code": item, "quantity": 2}],
        },
    )
    path = f"/api/v1/dispatches/{dispatch['id']}"
    call(stack, "warehouse", "POST", path + "/approve", approver)
    call(stack, "warehouse", "POST", path + "/pick", keeper)
    call(stack, "warehouse", "POST", path + "/ship", keeper, json={"waybill_no": f"W-{tag}"})

    def delivered() -> dict[str, Any] | None:
        # the warehouse learns of the recipient from donation.events: until then, a 422
        response = httpx.post(
            stack.url("warehouse") + path + "/deliver",
            headers={"Authorization": f"Bearer {dispatcher}"},
            json={"recipient_name": NAME, "recipient_phone": PHONE, "recipient_ids": [rid]},
            timeout=15,
        )
        if response.status_code == 422:
            return None
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    signed = wait_for(delivered, timeout=45, interval=0.5)
    assert isinstance(signed, dict)
    assert (signed["people_reached"], signed["households_reached"]) == (1, 1)

    # both facts on the public feed
    def on_feed() -> list[dict[str, Any]] | None:
        page = public(stack, "notification", "/api/v1/public/feed", limit=100).json()
        subjects = {e["entry"]["subject"] for e in page["items"]}
        if {entered["id"], dispatch["id"]} <= subjects:
            return list(page["items"])
        return None

    wait_for(on_feed, timeout=45, interval=1.0)

    outputs: dict[str, str] = {}
    cursor, n = None, 0
    while True:
        params: dict[str, Any] = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = public(stack, "notification", "/api/v1/public/feed", **params).json()
        outputs[f"feed page {n}"] = json.dumps(page, ensure_ascii=False)
        for entry in page["items"]:
            if entry["entry"]["subject"] in (entered["id"], dispatch["id"]):
                outputs[f"entry {entry['id']}"] = public(
                    stack, "notification", f"/api/v1/public/entries/{entry['id']}"
                ).text
        cursor, n = page["next_cursor"], n + 1
        if cursor is None:
            break
    for path_ in (
        "/api/v1/public/summary",
        "/api/v1/public/timeliness",
        "/api/v1/public/export.json",
        "/api/v1/public/export.csv",
        "/api/v1/public/log/entries",
        f"/api/v1/public/track/{gift['tracking_code']}",
        "/",
    ):
        outputs[f"notification {path_}"] = public(stack, "notification", path_).text
    for path_ in (
        f"/api/v1/track/{gift['tracking_code']}",
        "/track",
        f"/track/{gift['tracking_code']}",
        "/api/v1/giving/options",
    ):
        outputs[f"donation {path_}"] = public(stack, "donation", path_).text

    disbursed = json.dumps(
        [json.loads(v) for k, v in outputs.items() if k.startswith("entry ")], ensure_ascii=False
    )
    assert MASKED in disbursed or "诸*" in disbursed  # the facts are there, masked
    last4 = number[-4:]
    for where, text in outputs.items():
        text = text.replace(gift["tracking_code"], "")  # base32 could hold NNNX by chance
        for secret in (NAME, PHONE, ADDRESS, number, number[:14], last4, rid):
            assert secret not in text, f"{where}: leaked {secret!r}"
        for pattern in (PHONE_RE, ID_RE):
            match = pattern.search(text)
            assert match is None, f"{where}: private-looking {match.group()!r}"
