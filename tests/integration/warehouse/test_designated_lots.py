"""Designated goods gifts, over HTTP on the real database and broker: a goods gift designated
to a project (``donation.received``'s ``project_code``) becomes an expected inbound and then
lots that carry ``designated_project``; a dispatch picks them only when it serves that project,
otherwise the usual 409 ``insufficient_stock`` says designated lots were held back, unless an
approver overrides the designation with a reason when approving (recorded on the dispatch,
audited, flagged on ``dispatch.approved``). A corrected designation moves the lots with it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared.contracts.donation import DESIGNATION_CHANGED, DesignationChangedV1, DonatedItemV1
from shared.messaging.envelope import CloudEvent
from tests.integration.conftest import eventually
from tests.integration.warehouse.conftest import (
    Api,
    EventLog,
    dispatch_to,
    make_item,
    make_warehouse,
    receive,
    uniq,
)
from tests.integration.warehouse.test_inbound import (
    expected_inbound,
    gift_event,
    goods_gift,
    publish,
)

pytestmark = pytest.mark.integration

TODAY = date.today()


async def _designated_gift(
    api: Api, wh: str, item: str, project: str | None, quantity: int = 20
) -> tuple[uuid.UUID, str]:
    """A goods gift designated to ``project`` announced and received into ``wh``: (its id,
    its lot's id). Its lot expires before anything else, so FEFO reaches it first."""
    gift = goods_gift(
        [
            DonatedItemV1(
                item_code=item,
                name="棉被",
                quantity=quantity,
                unit="箱",
                value_fen=quantity * 1000,
                expiry_date=TODAY + timedelta(days=60),
            )
        ]
    ).model_copy(update={"project_code": project})
    await publish([gift_event(gift)], str(gift.donation_id))
    inbound = await expected_inbound(api, gift.donation_id)
    assert inbound["designated_project"] == project
    await api.ok(
        "POST",
        f"/api/v1/inbounds/{inbound['id']}/confirm",
        "warehouse",
        json={
            "warehouse_code": wh,
            "lines": [{"line_no": 1, "received_quantity": quantity}],
        },
    )
    lots = await api.ok(
        "GET", "/api/v1/lots", "auditor", params={"donation_id": str(gift.donation_id)}
    )
    (lot,) = lots["items"]
    assert lot["designated_project"] == project
    return gift.donation_id, str(lot["id"])


async def _approve_and_pick(api: Api, dispatch_id: str, body: dict[str, Any] | None = None) -> Any:
    kw: dict[str, Any] = {"json": body} if body is not None else {}
    await api.ok("POST", f"/api/v1/dispatches/{dispatch_id}/approve", "approver", **kw)
    return await api.call("POST", f"/api/v1/dispatches/{dispatch_id}/pick", "warehouse")


async def test_designated_lots_go_only_to_their_project_unless_overridden(
    api: Api, warehouse_events: EventLog
) -> None:
    wh = await make_warehouse(api)
    item = await make_item(api)
    project, other = uniq("PRJ"), uniq("PRJ")
    _, lot_id = await _designated_gift(api, wh, item, project, quantity=20)
    # 5 undesignated units, expiring later
    await receive(
        api,
        wh,
        [
            {
                "item_code": item,
                "quantity": 5,
                "lot_no": "FREE-1",
                "expiry_date": (TODAY + timedelta(days=300)).isoformat(),
            }
        ],
    )
    received = await warehouse_events.wait("stock.received.v1", warehouse_code=wh)
    assert received[0].data["lots"][0]["designated_project"] == project
    assert received[0].data["source"]["designated_project"] == project

    # a dispatch serving no project: only the 5 undesignated units; 10 is refused, and says why
    none = await dispatch_to(api, wh, [(item, 10)])
    refused = await _approve_and_pick(api, none["id"])
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "insufficient_stock"
    assert "定向" in error["message"]
    assert "designated lots held back" in error["message"]
    assert error["details"]["designated_held_back"] == 20
    assert error["details"]["designated_projects"] == [project]
    # 5 it may take, from the undesignated lot though the designated one expires first
    small = await dispatch_to(api, wh, [(item, 5)])
    picked = await _approve_and_pick(api, small["id"])
    assert picked.status_code == 200, picked.text
    assert [(a["lot_no"], a["designated_project"]) for a in picked.json()["allocations"]] == [
        ("FREE-1", None)
    ]

    # a dispatch for another project is refused the same way
    body = {
        "from_warehouse_code": wh,
        "destination": {"kind": "shelter", "name": "溪口镇中心小学安置点", "town": "溪口镇"},
        "lines": [{"item_code": item, "quantity": 8}],
    }
    elsewhere = await api.ok(
        "POST", "/api/v1/dispatches", "dispatcher", 201, json=body | {"project_code": other}
    )
    assert elsewhere["project_code"] == other
    assert (await _approve_and_pick(api, elsewhere["id"])).status_code == 409

    # the project's own dispatch takes its designated lot
    own = await api.ok(
        "POST", "/api/v1/dispatches", "dispatcher", 201, json=body | {"project_code": project}
    )
    mine = await _approve_and_pick(api, own["id"])
    assert mine.status_code == 200, mine.text
    assert [(a["lot_id"], a["quantity"]) for a in mine.json()["allocations"]] == [(lot_id, 8)]
    (picked_event,) = await warehouse_events.wait("dispatch.picked.v1", dispatch_id=own["id"])
    assert picked_event.data["project_code"] == project
    assert picked_event.data["lines"][0]["lots"][0]["designated_project"] == project

    # an approver overrides the designation with a reason: another project's dispatch picks it
    overridden = await api.ok(
        "POST", "/api/v1/dispatches", "dispatcher", 201, json=body | {"project_code": other}
    )
    blank = await api.call(
        "POST",
        f"/api/v1/dispatches/{overridden['id']}/approve",
        "approver",
        json={"designated_override_reason": ""},
    )
    assert blank.status_code == 422  # a reason, not an empty string
    reason = "台风紧急，经项目负责人同意先行借用"
    taken = await _approve_and_pick(api, overridden["id"], {"designated_override_reason": reason})
    assert taken.status_code == 200, taken.text
    assert taken.json()["designated_override_reason"] == reason
    assert {a["lot_id"] for a in taken.json()["allocations"]} == {lot_id}
    (approved,) = await warehouse_events.wait("dispatch.approved.v1", dispatch_id=overridden["id"])
    assert approved.data["designated_override"] is True
    assert reason not in str(approved.data)  # the reason stays in the warehouse
    audit = await api.ok(
        "GET",
        "/api/v1/audit-log",
        "auditor",
        params={"entity_type": "dispatch", "entity_id": overridden["id"]},
    )
    entry = next(e for e in audit["items"] if e["action"] == "dispatch.approve")
    assert entry["detail"] == {"designated_override": reason, "project_code": other}
    # without an override the approval event says so
    (plain,) = await warehouse_events.wait("dispatch.approved.v1", dispatch_id=own["id"])
    assert plain.data["designated_override"] is False


async def test_a_corrected_designation_moves_the_lots(api: Api) -> None:
    wh = await make_warehouse(api)
    item = await make_item(api)
    project = uniq("PRJ")
    donation_id, _ = await _designated_gift(api, wh, item, None, quantity=6)
    change = DesignationChangedV1(
        donation_id=donation_id,
        tracking_code="ABCD",
        from_project_code=None,
        to_project_code=project,
        reason="捐赠人来电要求定向",
        changed_at=datetime.now(UTC),
    )
    await publish(
        [
            CloudEvent(
                id=str(uuid.uuid4()),
                type=DESIGNATION_CHANGED,
                source="/sunshine/donation",
                time=datetime.now(UTC),
                subject=str(donation_id),
                data=change.model_dump(mode="json"),
            )
        ],
        str(donation_id),
    )

    async def designated() -> bool:
        page = await api.ok(
            "GET", "/api/v1/lots", "auditor", params={"donation_id": str(donation_id)}
        )
        return bool(page["items"][0]["designated_project"] == project)

    await eventually(designated, timeout=30, interval=0.1)
    # now a dispatch serving no project may not take it
    created = await dispatch_to(api, wh, [(item, 6)])
    refused = await _approve_and_pick(api, created["id"])
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["designated_held_back"] == 6
