"""The organisation-scope rule of the warehouse (service_layer/scope.py) without PostgreSQL:
who reads what, what a list is limited to, and that an allowed step reads nothing more."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from shared.auth import StaffPrincipal
from shared.errors import Forbidden
from tests.unit.warehouse.fakes import DispatchRow, FakeDispatchRows, FakeTx
from warehouse.adapters.orm import warehouses
from warehouse.domain.commands import ApproveDispatch
from warehouse.service_layer import scope
from warehouse.service_layer.dispatch import approve_dispatch

DISPATCH_ID = uuid.UUID("01900000-0000-7000-8000-0000000000aa")


@pytest.mark.parametrize(
    ("org", "roles", "limited_to"),
    [
        ("FH", {"warehouse"}, None),
        ("XK", {"warehouse"}, "XK"),
        ("XK", {"dispatcher", "approver"}, "XK"),
        ("XK", {"auditor"}, None),  # 监事会 reads everything
        ("DY", {"auditor", "warehouse"}, None),  # reads all; its writes are still scoped
    ],
)
def test_read_scope(org: str, roles: set[str], limited_to: str | None) -> None:
    assert scope.read_scope(StaffPrincipal("someone", frozenset(roles), org=org)) == limited_to


def test_a_list_is_limited_to_the_readers_organisation_and_unchanged_for_the_district() -> None:
    query = select(warehouses)
    assert scope.within(query, None, warehouses.c.org_code) is query
    assert scope.within(query, "FH", warehouses.c.org_code) is query
    limited = scope.within(query, "XK", warehouses.c.org_code)
    assert "warehouses.org_code = :org_code_1" in str(limited)
    assert limited.compile().params == {"org_code_1": "XK"}


def test_only_the_district_runs_what_covers_every_warehouse() -> None:
    scope.ensure_district("FH", "运行全区效期扫描", "run the district's expiry scan")
    with pytest.raises(Forbidden) as refused:
        scope.ensure_district("XK", "运行全区效期扫描", "run the district's expiry scan")
    assert "溪口镇红十字会" in refused.value.message
    assert "only the district branch's staff" in refused.value.message


@pytest.mark.parametrize(("actor_org", "source_org"), [("FH", "DY"), ("XK", "XK")])
def test_a_step_on_a_dispatch_it_reaches_reads_nothing_more(
    actor_org: str, source_org: str
) -> None:
    """The district's approver on any dispatch, a town's on its own: allowed without a query
    (the fake session fails on any SQL)."""
    rows = FakeDispatchRows()
    rows.put(
        DispatchRow(DISPATCH_ID, "DP-2026-000009", "requested", "dispatcher", source_org=source_org)
    )
    done = asyncio.run(
        approve_dispatch(
            FakeTx(), ApproveDispatch(DISPATCH_ID, "approver", actor_org=actor_org), rows
        )
    )
    assert done.row.status == "approved"
