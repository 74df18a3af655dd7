"""The service layer answers each refusal of the domain as the API always has: the same
``shared.errors`` class, status, ``code``, message and details."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from shared.errors import Conflict, Forbidden
from warehouse.domain.model import LotStock
from warehouse.service_layer.errors import (
    InsufficientStock,
    approver_allowed,
    pick_lots,
    transition,
)

TODAY = date(2026, 11, 29)


def test_a_refused_transition_is_a_409_conflict_with_the_status_and_action() -> None:
    assert transition("requested", "approve") == "approved"
    with pytest.raises(Conflict) as caught:
        transition("shipped", "cancel")
    assert (caught.value.status_code, caught.value.code) == (409, "conflict")
    assert caught.value.details == {"status": "shipped", "action": "cancel"}
    assert caught.value.message == (
        "调拨单当前状态为「已发运」，不能执行该操作 (cannot cancel a dispatch in status shipped)"
    )


def test_self_approval_is_a_403_forbidden() -> None:
    approver_allowed("dispatcher", "approver")
    with pytest.raises(Forbidden) as caught:
        approver_allowed("dispatcher", "Dispatcher")
    assert (caught.value.status_code, caught.value.code) == (403, "forbidden")
    assert caught.value.message == (
        "审批人不能是申请人本人 (a dispatch must be approved by someone other than the requester)"
    )
    assert caught.value.details == {}


def test_insufficient_stock_keeps_its_wire_code() -> None:
    lot = LotStock(uuid.uuid4(), "A", date(2026, 12, 31), 4, 0, datetime(2026, 1, 1, tzinfo=UTC))
    assert pick_lots([lot], 4, today=TODAY, min_days=7, item="WATER") == [(lot, 4)]
    with pytest.raises(InsufficientStock) as caught:
        pick_lots([lot], 5, today=TODAY, min_days=7, item="WATER")
    assert isinstance(caught.value, Conflict)
    assert (caught.value.status_code, caught.value.code) == (409, "insufficient_stock")
    assert caught.value.details == {"item_code": "WATER", "requested": 5, "pickable": 4}
