"""Approving, rejecting and cancelling a dispatch, through the same service functions the API
calls, on in-memory dispatch rows and a fake transaction: the row written, the event published
and the audit entry, and what is refused (nothing written, nothing published)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from shared.contracts import warehouse as contracts
from shared.errors import Conflict, Forbidden, NotFound
from shared.organisations import DISTRICT as FH
from tests.unit.warehouse.fakes import DispatchRow, FakeDispatchRows, FakeTx
from warehouse.domain.commands import ApproveDispatch, CancelDispatch, RejectDispatch
from warehouse.service_layer.dispatch import approve_dispatch, cancel_dispatch, reject_dispatch

T = TypeVar("T")
DISPATCH_ID = uuid.UUID("01900000-0000-7000-8000-000000000001")


def run(step: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(step)


def given(status: str, *, requested_by: str = "dispatcher") -> FakeDispatchRows:
    rows = FakeDispatchRows()
    rows.put(DispatchRow(DISPATCH_ID, "DP-2026-000001", status, requested_by))
    return rows


def test_approving_writes_the_approval_publishes_it_and_audits_it() -> None:
    tx, rows = FakeTx(), given("requested")
    done = run(approve_dispatch(tx, ApproveDispatch(DISPATCH_ID, "approver", actor_org=FH), rows))
    row = rows.rows[DISPATCH_ID]
    assert (row.status, row.version, row.approved_by) == ("approved", 2, "approver")
    assert done.row == row
    assert done.allocations == []
    assert done.codes == {row.from_warehouse_id: "WH-FH"}
    [event] = tx.published
    assert (event.topic, event.type) == (contracts.TOPIC, contracts.DISPATCH_APPROVED)
    assert event.key == event.subject == str(DISPATCH_ID)
    assert isinstance(event.payload, contracts.DispatchApprovedV1)
    assert event.payload.approved_at == row.approved_at
    assert event.payload.from_warehouse_code == "WH-FH"
    assert [(line.item_code, line.quantity) for line in event.payload.lines] == [("QUILT", 10)]
    assert rows.audit_log == [
        {
            "actor": "approver",
            "action": "dispatch.approve",
            "entity_id": str(DISPATCH_ID),
            "detail": {},
        }
    ]


@pytest.mark.parametrize("approver", ["dispatcher", "Dispatcher", " DISPATCHER"])
def test_the_requester_cannot_approve_or_reject(approver: str) -> None:
    tx, rows = FakeTx(), given("requested")
    with pytest.raises(Forbidden):
        run(approve_dispatch(tx, ApproveDispatch(DISPATCH_ID, approver, actor_org=FH), rows))
    with pytest.raises(Forbidden):
        run(reject_dispatch(tx, RejectDispatch(DISPATCH_ID, approver, "no", actor_org=FH), rows))
    assert rows.rows[DISPATCH_ID].version == 1
    assert tx.published == []
    assert rows.audit_log == []


def test_a_stale_version_is_a_conflict_that_names_the_current_one() -> None:
    tx, rows = FakeTx(), given("requested")
    with pytest.raises(Conflict) as caught:
        run(approve_dispatch(tx, ApproveDispatch(DISPATCH_ID, "approver", 7, actor_org=FH), rows))
    assert caught.value.details == {"current_version": 1}
    assert tx.published == []
    assert rows.rows[DISPATCH_ID].status == "requested"


def test_an_unknown_dispatch_is_not_found() -> None:
    with pytest.raises(NotFound):
        run(
            approve_dispatch(
                FakeTx(),
                ApproveDispatch(uuid.uuid4(), "approver", actor_org=FH),
                given("requested"),
            )
        )


def test_approving_twice_is_refused_by_the_state_machine() -> None:
    tx, rows = FakeTx(), given("approved")
    with pytest.raises(Conflict) as caught:
        run(approve_dispatch(tx, ApproveDispatch(DISPATCH_ID, "approver", actor_org=FH), rows))
    assert caught.value.code == "conflict"
    assert caught.value.details == {"status": "approved", "action": "approve"}
    assert tx.published == []


def test_rejecting_closes_with_the_reason_and_releases_nothing_before_picking() -> None:
    tx, rows = FakeTx(), given("requested")
    run(
        reject_dispatch(tx, RejectDispatch(DISPATCH_ID, "approver", "重复申请", actor_org=FH), rows)
    )
    row = rows.rows[DISPATCH_ID]
    assert (row.status, row.closed_by, row.decided_reason) == ("rejected", "approver", "重复申请")
    [event] = tx.published
    assert event.type == contracts.DISPATCH_REJECTED
    assert isinstance(event.payload, contracts.DispatchRejectedV1)
    assert (event.payload.reason, event.payload.released) == ("重复申请", [])
    assert event.payload.rejected_at == row.closed_at
    [entry] = rows.audit_log
    assert entry["action"] == "dispatch.reject"
    assert entry["detail"] == {"reason": "重复申请", "from_status": "requested", "released": 0}


def test_the_requester_may_cancel_an_approved_dispatch() -> None:
    tx, rows = FakeTx(), given("approved")
    run(
        cancel_dispatch(
            tx, CancelDispatch(DISPATCH_ID, "dispatcher", "灾情解除", 1, actor_org=FH), rows
        )
    )
    assert rows.rows[DISPATCH_ID].status == "cancelled"
    [event] = tx.published
    assert event.type == contracts.DISPATCH_CANCELLED
    assert isinstance(event.payload, contracts.DispatchCancelledV1)
    assert event.payload.cancelled_at == rows.rows[DISPATCH_ID].closed_at
    assert rows.audit_log[0]["detail"]["from_status"] == "approved"


@pytest.mark.parametrize("status", ["shipped", "delivered", "rejected", "cancelled"])
def test_nothing_is_cancelled_after_shipping_or_closing(status: str) -> None:
    tx, rows = FakeTx(), given(status)
    with pytest.raises(Conflict):
        run(cancel_dispatch(tx, CancelDispatch(DISPATCH_ID, "dispatcher", "x", actor_org=FH), rows))
    assert rows.rows[DISPATCH_ID].version == 1
    assert tx.published == []
    assert rows.audit_log == []
