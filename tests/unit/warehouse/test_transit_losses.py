"""Spreading a transfer's short and damaged units over the lots shipped: latest expiry first,
short before damaged, and the stated quantities must add up to what was shipped."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import pytest

from shared.errors import ValidationFailed
from warehouse.service_layer.transit import ReceivedLine, spread_losses

ITEM = uuid.uuid4()
EARLY, LATE, NONE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


@dataclass(frozen=True)
class Alloc:
    lot_id: uuid.UUID
    item_id: uuid.UUID
    item_code: str
    quantity: int
    expiry_date: date | None


SHIPPED = [
    Alloc(EARLY, ITEM, "A", 6, date(2027, 3, 1)),
    Alloc(LATE, ITEM, "A", 4, date(2028, 3, 1)),
    Alloc(NONE, ITEM, "A", 2, None),
]


def test_losses_come_off_the_latest_expiry_first_short_then_damaged() -> None:
    losses = spread_losses(SHIPPED, [ReceivedLine("A", 5, short=5, damaged=2, reason="路上")])
    assert [(x.lot_id, x.kind, x.quantity) for x in losses] == [
        (NONE, "short", 2),  # no expiry date counts as the latest
        (LATE, "short", 3),
        (LATE, "damaged", 1),
        (EARLY, "damaged", 1),
    ]
    assert sum(x.quantity for x in losses) == 7


def test_received_in_full_loses_nothing() -> None:
    assert spread_losses(SHIPPED, [ReceivedLine("A", 12)]) == []
    assert spread_losses(SHIPPED, []) == []


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (ReceivedLine("A", 11), "shipped"),  # 11 ≠ 12
        (ReceivedLine("A", 10, short=3, reason="x"), "shipped"),  # 13 ≠ 12
        (ReceivedLine("B", 1), "not on this transfer"),
        (ReceivedLine("A", 10, damaged=2), "reason"),
    ],
)
def test_what_does_not_add_up_is_refused(line: ReceivedLine, why: str) -> None:
    with pytest.raises(ValidationFailed, match=why):
        spread_losses(SHIPPED, [line])


def test_an_item_named_twice_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="each item once"):
        spread_losses(SHIPPED, [ReceivedLine("A", 12), ReceivedLine("A", 12)])
