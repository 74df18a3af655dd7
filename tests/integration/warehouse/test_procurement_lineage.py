"""Goods bought with donated money, across both services on the real database and broker: a
procurement inbound names the disbursement that paid for it; its lots carry it, and so does
every warehouse event that lists them (received, picked, shipped, delivered, adjusted). The
donation service (in process here, its lineage consumer reading this run's
``warehouse.events``) records those lots against the disbursement, and the tracking page of a
gift the disbursement drew on follows the donor's fen into the goods and to the people who
signed for them (masked)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from donation.main import create_app as donation_app
from shared.auth import StaffPrincipal, TokenIssuer
from shared.config import ServiceSettings
from tests.integration.conftest import eventually
from tests.integration.warehouse.conftest import Api, EventLog, make_item, make_warehouse, uniq

pytestmark = pytest.mark.integration


class Donation:
    """The donation service's API, as ``user`` with ``roles`` (default: a role of that name)."""

    def __init__(self, client: httpx.AsyncClient, issuer: TokenIssuer) -> None:
        self.client, self.issuer = client, issuer

    async def ok(self, method: str, path: str, user: str = "finance", **kw: Any) -> Any:
        token = self.issuer.issue(StaffPrincipal(user, frozenset({user}), display_name=user))
        response = await self.client.request(
            method, path, headers={"Authorization": f"Bearer {token}"}, **kw
        )
        assert response.status_code in (200, 201), response.text
        return response.json()


@pytest.fixture(scope="module")
async def donation(
    databases: dict[str, ServiceSettings], kafka_topics: list[str], keys_dir: Path
) -> AsyncIterator[Donation]:
    settings = databases["donation"]
    app = donation_app(settings)  # type: ignore[arg-type]
    issuer = TokenIssuer(
        keys_dir / "jwt_private.pem",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(hours=1),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://donation") as client:
            yield Donation(client, issuer)


async def _funded_disbursement(donation: Donation) -> tuple[str, str]:
    """A project, a money gift designated to it and an approved disbursement drawing on the
    gift: (the disbursement's id, the gift's tracking code)."""
    code = uniq("BUY")
    await donation.ok(
        "POST",
        "/api/v1/projects",
        json={
            "code": code,
            "name": "台风救灾物资采购",
            "category": "emergency",
            "description": "integration test",
            "starts_on": "2026-01-01",
            "ends_on": "2026-12-31",
        },
    )
    gift = await donation.ok(
        "POST",
        "/api/v1/donations",
        json={
            "kind": "money",
            "amount_fen": 100_000,
            "channel": "wechat_pay",
            "display": "surname",
            "project_code": code,
            "donor": {"name": "王建国", "phone": "13800001111"},
        },
    )
    entered = await donation.ok(
        "POST",
        f"/api/v1/projects/{code}/disbursements",
        json={
            "amount_fen": 60_000,
            "purpose": "采购棉被",
            "recipient_type": "organization",
            "recipient_name": "宁波某被服厂",
            "voucher_no": uniq("V"),
            "disbursed_on": "2026-11-20",
        },
    )
    approved = await donation.ok(
        "POST", f"/api/v1/disbursements/{entered['id']}/approve", "approver"
    )
    assert [a["donation_id"] for a in approved["allocations"]] == [gift["id"]]
    return str(entered["id"]), str(gift["tracking_code"])


async def test_goods_bought_with_a_disbursement_carry_its_lineage_to_the_donor(
    api: Api, warehouse_events: EventLog, donation: Donation
) -> None:
    disbursement_id, tracking_code = await _funded_disbursement(donation)
    wh = await make_warehouse(api)
    item = await make_item(api, category="clothing_bedding", unit="床")
    inbound = await api.ok(
        "POST",
        "/api/v1/inbounds",
        "warehouse",
        201,
        json={
            "warehouse_code": wh,
            "procurement_order": uniq("PO"),
            "disbursement_id": disbursement_id,
            "lines": [{"item_code": item, "quantity": 100, "unit_value_fen": 600}],
        },
    )
    assert inbound["disbursement_id"] == disbursement_id
    await api.ok(
        "POST",
        f"/api/v1/inbounds/{inbound['id']}/confirm",
        "warehouse",
        json={"lines": [{"line_no": 1, "received_quantity": 100}]},
    )
    lots = await api.ok(
        "GET", "/api/v1/lots", "auditor", params={"warehouse_code": wh, "item_code": item}
    )
    (lot,) = lots["items"]
    assert lot["disbursement_id"] == disbursement_id
    (received,) = await warehouse_events.wait("stock.received.v1", inbound_id=inbound["id"])
    assert received.data["source"]["disbursement_id"] == disbursement_id
    assert received.data["lots"][0]["disbursement_id"] == disbursement_id

    body = {
        "from_warehouse_code": wh,
        "destination": {"kind": "shelter", "name": "溪口镇中心小学安置点", "town": "溪口镇"},
        "lines": [{"item_code": item, "quantity": 30}],
    }
    created = await api.ok("POST", "/api/v1/dispatches", "dispatcher", 201, json=body)
    did = created["id"]
    await api.ok("POST", f"/api/v1/dispatches/{did}/approve", "approver")
    picked = await api.ok("POST", f"/api/v1/dispatches/{did}/pick", "warehouse")
    assert picked["allocations"][0]["disbursement_id"] == disbursement_id
    await api.ok("POST", f"/api/v1/dispatches/{did}/ship", "warehouse", json={"waybill_no": "B1"})
    await api.ok(
        "POST",
        f"/api/v1/dispatches/{did}/deliver",
        "warehouse",
        json={
            "recipient_name": "李建华",
            "recipient_org": "溪口镇人民政府",
            "returns": [{"item_code": item, "quantity": 2}],
        },
    )
    (shipped,) = await warehouse_events.wait("dispatch.shipped.v1", dispatch_id=did)
    assert shipped.data["lines"][0]["lots"][0]["disbursement_id"] == disbursement_id
    (delivered,) = await warehouse_events.wait("dispatch.delivered.v1", dispatch_id=did)
    assert delivered.data["lines"][0]["lots"][0]["disbursement_id"] == disbursement_id
    # 3 found damaged in a count (¥18: below the four-eyes threshold, applied at once)
    await api.ok(
        "POST",
        "/api/v1/stock-counts",
        "warehouse",
        201,
        json={
            "warehouse_code": wh,
            "lines": [{"lot_id": lot["id"], "counted_quantity": 69, "reason": "damaged"}],
        },
    )
    (adjusted,) = await warehouse_events.wait("stock.adjusted.v1", lot_id=lot["id"])
    assert adjusted.data["disbursement_id"] == disbursement_id

    # the donor's page: their fen → the disbursement → the goods → who signed for them
    seen: dict[str, Any] = {}

    async def followed() -> bool:
        view = await donation.ok("GET", f"/api/v1/track/{tracking_code}")
        seen.update(view)
        return len(view["uses"][0]["goods"]) == 4

    await eventually(followed, timeout=40, interval=0.2)
    (use,) = seen["uses"]
    assert use["disbursement_id"] == disbursement_id
    assert [(g["stage"], g["quantity"]) for g in use["goods"]] == [
        ("in_stock", 100),
        ("dispatched", 30),
        ("signed", 28),
        ("written_off", 3),
    ]
    signed = use["goods"][2]
    assert signed["signed_by"] == "溪口镇人民政府 李*华"  # masked, never the full name
    assert "李建华" not in str(seen)
    assert signed["destination"] == "溪口镇"
    events = [e["event"] for e in seen["timeline"]]
    assert {"bought_in_stock", "bought_dispatched", "bought_signed"} <= set(events)
    text = next(e["text"] for e in seen["timeline"] if e["event"] == "bought_signed")
    assert "采购棉被" in text
    assert "已签收" in text


async def test_an_unknown_disbursement_is_kept_in_the_warehouse_and_passed_over(
    api: Api, warehouse_events: EventLog, donation: Donation
) -> None:
    """The warehouse cannot check another service's ids: it records what the keeper typed;
    the donation service ignores a disbursement it does not know (nothing breaks)."""
    unknown = str(uuid.uuid4())
    wh = await make_warehouse(api)
    item = await make_item(api)
    inbound = await api.ok(
        "POST",
        "/api/v1/inbounds",
        "warehouse",
        201,
        json={
            "warehouse_code": wh,
            "procurement_order": uniq("PO"),
            "disbursement_id": unknown,
            "lines": [{"item_code": item, "quantity": 5}],
        },
    )
    await api.ok(
        "POST",
        f"/api/v1/inbounds/{inbound['id']}/confirm",
        "warehouse",
        json={"lines": [{"line_no": 1, "received_quantity": 5}]},
    )
    (received,) = await warehouse_events.wait("stock.received.v1", inbound_id=inbound["id"])
    assert received.data["lots"][0]["disbursement_id"] == unknown
    # the donation service still follows later events (its consumer did not stop on this one)
    disbursement_id, tracking_code = await _funded_disbursement(donation)
    second = await api.ok(
        "POST",
        "/api/v1/inbounds",
        "warehouse",
        201,
        json={
            "warehouse_code": wh,
            "procurement_order": uniq("PO"),
            "disbursement_id": disbursement_id,
            "lines": [{"item_code": item, "quantity": 7}],
        },
    )
    await api.ok(
        "POST",
        f"/api/v1/inbounds/{second['id']}/confirm",
        "warehouse",
        json={"lines": [{"line_no": 1, "received_quantity": 7}]},
    )

    async def followed() -> bool:
        view = await donation.ok("GET", f"/api/v1/track/{tracking_code}")
        return [(g["stage"], g["quantity"]) for g in view["uses"][0]["goods"]] == [("in_stock", 7)]

    await eventually(followed, timeout=40, interval=0.2)
