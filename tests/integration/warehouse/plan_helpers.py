"""Helpers of the season-plan, requisition and transit tests: stations, staff of a town
branch, and a transfer moved along to shipped."""

from __future__ import annotations

from typing import Any

from shared.auth import StaffPrincipal
from tests.integration.warehouse.conftest import Api, make_warehouse, uniq


def as_(api: Api, org: str, *roles: str, user: str | None = None) -> dict[str, str]:
    """Headers of a staff member of ``org`` with ``roles`` (default: warehouse keeper)."""
    roles = roles or ("warehouse",)
    name = user or f"{'-'.join(roles)}-{org.lower()}"
    token = api.issuer.issue(StaffPrincipal(name, frozenset(roles), org=org))
    return {"Authorization": f"Bearer {token}"}


async def station(api: Api, town: str) -> str:
    """A new station in ``town`` (it belongs to the town's branch)."""
    return await make_warehouse(api, kind="station", town=town)


async def transfer(
    api: Api, source: str, target: str, lines: list[tuple[str, int]], *, until: str = "shipped"
) -> dict[str, Any]:
    """A transfer ``source`` → ``target``, requested, approved, picked and (by default) shipped."""
    created: dict[str, Any] = await api.ok(
        "POST",
        "/api/v1/dispatches",
        "dispatcher",
        201,
        json={
            "from_warehouse_code": source,
            "destination": {"kind": "warehouse", "warehouse_code": target},
            "lines": [{"item_code": c, "quantity": q} for c, q in lines],
        },
    )
    did = created["id"]
    body = created
    for step, user, payload in (
        ("approve", "approver", None),
        ("pick", "warehouse", None),
        ("ship", "warehouse", {"waybill_no": uniq("WB")}),
    ):
        body = await api.ok("POST", f"/api/v1/dispatches/{did}/{step}", user, json=payload)
        if body["status"] == until:
            break
    return body
