"""A goods gift is used per unit delivered, over HTTP with the warehouse's events on the real
broker: 4 of 10 quilts signed for is 40 % of the gift's value used (the gift's record, the
donor's tracking page, the totals report), not ¥0 until the last one; all of it once completed.
Units written off in the warehouse count as written off at the same value per unit, not as
remaining. A cancelled gift has nothing remaining."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.contracts.warehouse import (
    DISPATCH_DELIVERED,
    STOCK_ADJUSTED,
    STOCK_RECEIVED,
    DeliveredLineV1,
    DeliveredLotV1,
    DispatchDeliveredV1,
    LotSourceV1,
    ReceivedLotV1,
    StockAdjustedV1,
    StockReceivedV1,
)
from shared.ids import uuid7
from tests.integration.conftest import eventually
from tests.integration.donation.conftest import Api, gift
from tests.integration.donation.test_goods_lineage import header, produce

pytestmark = pytest.mark.integration

T = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


async def _goods_gift(api: Api, quantity: int, value_fen: int) -> dict[str, Any]:
    created: dict[str, Any] = await api.ok(
        "POST",
        "/api/v1/donations",
        json=gift(
            kind="goods",
            amount_fen=None,
            channel="on_site",
            display="named",
            donor={"name": "奉化某某商贸有限公司", "donor_type": "organization"},
            items=[
                {
                    "item_code": "QUILT",
                    "name": "棉被",
                    "quantity": quantity,
                    "unit": "床",
                    "value_fen": value_fen,
                }
            ],
        )
        | {"amount_fen": value_fen},
    )
    return created


def _delivered(
    dispatch_id: uuid.UUID, lot_id: uuid.UUID, donation_id: uuid.UUID, code: str, quantity: int
) -> DispatchDeliveredV1:
    return DispatchDeliveredV1(
        **header(dispatch_id),
        recipient_name_masked="王*明",
        recipient_org="溪口镇人民政府",
        partial=False,
        lines=[
            DeliveredLineV1(
                item_code="QUILT",
                item_name="棉被",
                unit="床",
                shipped_quantity=quantity,
                delivered_quantity=quantity,
                returned_quantity=0,
                lots=[
                    DeliveredLotV1(
                        lot_id=lot_id,
                        lot_no="D-QUILT-U",
                        shipped_quantity=quantity,
                        delivered_quantity=quantity,
                        returned_quantity=0,
                        donation_id=donation_id,
                        tracking_code=code,
                    )
                ],
            )
        ],
        delivered_at=T + timedelta(hours=6),
    )


def _ten_quilts_received(
    donation_id: uuid.UUID, code: str, lot_id: uuid.UUID, receipt_no: str, lot_no: str
) -> StockReceivedV1:
    """The warehouse's receipt of the gift's 10 quilts (¥120 each) as one lot."""
    return StockReceivedV1(
        inbound_id=uuid7(),
        receipt_no=receipt_no,
        warehouse_code="WH-DISTRICT",
        warehouse_name="区备灾救灾中心仓库",
        source=LotSourceV1(source_kind="donation", donation_id=donation_id, tracking_code=code),
        received_at=T,
        lots=[
            ReceivedLotV1(
                lot_id=lot_id,
                lot_no=lot_no,
                item_code="QUILT",
                item_name="棉被",
                category="clothing_bedding",
                unit="床",
                warehouse_code="WH-DISTRICT",
                quantity=10,
                unit_value_fen=12_000,
                donation_id=donation_id,
                tracking_code=code,
            )
        ],
    )


async def test_a_goods_gift_is_used_per_unit_delivered(api: Api) -> None:
    created = await _goods_gift(api, 10, 120_000)  # ¥120 a quilt
    donation_id, code = uuid.UUID(created["id"]), created["tracking_code"]
    assert (created["used_fen"], created["remaining_fen"]) == (0, 120_000)
    lot_id = uuid7()
    received = _ten_quilts_received(donation_id, code, lot_id, "RK-2026-009101", "D-QUILT-U")
    await produce(
        [
            (STOCK_RECEIVED, str(lot_id), received),
            (DISPATCH_DELIVERED, str(lot_id), _delivered(uuid7(), lot_id, donation_id, code, 4)),
        ]
    )

    async def used(expected: int) -> bool:
        body = await api.ok("GET", f"/api/v1/donations/{donation_id}")
        return bool(body["used_fen"] == expected)

    await eventually(lambda: used(48_000), timeout=30)
    body = await api.ok("GET", f"/api/v1/donations/{donation_id}")
    assert (body["status"], body["used_fen"], body["remaining_fen"]) == ("used", 48_000, 72_000)
    view = (await api.client.get(f"/api/v1/track/{code}")).json()
    assert (view["used_fen"], view["remaining_fen"]) == (48_000, 72_000)
    at = datetime.fromisoformat(created["received_at"])
    report = await api.ok(
        "GET",
        "/api/v1/reports/totals",
        params={
            "group_by": "kind",
            "kind": "goods",
            "received_from": at.isoformat(),
            "received_to": (at + timedelta(milliseconds=1)).isoformat(),
        },
    )
    (row,) = report["rows"]
    assert (row["used_fen"], row["remaining_fen"]) == (48_000, 72_000)

    # the other 6: completed, all of it used, nothing left
    await produce(
        [(DISPATCH_DELIVERED, str(lot_id), _delivered(uuid7(), lot_id, donation_id, code, 6))]
    )
    await eventually(lambda: used(120_000), timeout=30)
    body = await api.ok("GET", f"/api/v1/donations/{donation_id}")
    assert (body["status"], body["remaining_fen"]) == ("completed", 0)


async def test_written_off_units_are_not_remaining(api: Api) -> None:
    """10 quilts at ¥120: 2 written off as damaged, 3 signed for → ¥360 used, ¥240 written
    off, ¥600 left; the other 5 signed for → completed, ¥960 used, ¥240 written off, ¥0 left."""
    created = await _goods_gift(api, 10, 120_000)
    donation_id, code = uuid.UUID(created["id"]), created["tracking_code"]
    lot_id = uuid7()
    received = _ten_quilts_received(donation_id, code, lot_id, "RK-2026-009102", "D-QUILT-W")
    damaged = StockAdjustedV1(
        adjustment_id=uuid7(),
        lot_id=lot_id,
        lot_no="D-QUILT-W",
        item_code="QUILT",
        item_name="棉被",
        unit="床",
        warehouse_code="WH-DISTRICT",
        reason="damaged",
        quantity_before=10,
        quantity_after=8,
        delta=-2,
        donation_id=donation_id,
        tracking_code=code,
        adjusted_at=T + timedelta(hours=1),
    )
    await produce(
        [
            (STOCK_RECEIVED, str(lot_id), received),
            (STOCK_ADJUSTED, str(lot_id), damaged),
            (DISPATCH_DELIVERED, str(lot_id), _delivered(uuid7(), lot_id, donation_id, code, 3)),
        ]
    )

    async def figures() -> tuple[str, int, int, int]:
        body = await api.ok("GET", f"/api/v1/donations/{donation_id}")
        return body["status"], body["used_fen"], body["written_off_fen"], body["remaining_fen"]

    async def reached(expected: tuple[str, int, int, int]) -> bool:
        return await figures() == expected

    await eventually(lambda: reached(("used", 36_000, 24_000, 60_000)), timeout=30)
    view = (await api.client.get(f"/api/v1/track/{code}")).json()
    assert (view["used_fen"], view["written_off_fen"], view["remaining_fen"]) == (
        36_000,
        24_000,
        60_000,
    )
    await produce(
        [(DISPATCH_DELIVERED, str(lot_id), _delivered(uuid7(), lot_id, donation_id, code, 5))]
    )
    await eventually(lambda: reached(("completed", 96_000, 24_000, 0)), timeout=30)
    at = datetime.fromisoformat(created["received_at"])
    report = await api.ok(
        "GET",
        "/api/v1/reports/totals",
        params={
            "group_by": "kind",
            "kind": "goods",
            "received_from": at.isoformat(),
            "received_to": (at + timedelta(milliseconds=1)).isoformat(),
        },
    )
    (row,) = report["rows"]
    assert (row["used_fen"], row["written_off_fen"], row["remaining_fen"]) == (96_000, 24_000, 0)
    assert row["allocated_fen"] == row["used_fen"] + row["written_off_fen"] + row["remaining_fen"]


async def test_a_cancelled_gift_shows_nothing_remaining(api: Api) -> None:
    created = await api.ok("POST", "/api/v1/donations", json=gift(amount_fen=30_000))
    cancelled = await api.ok(
        "POST",
        f"/api/v1/donations/{created['id']}/cancel",
        json={"reason": "重复登记"},
    )
    assert cancelled["status"] == "cancelled"
    assert (cancelled["used_fen"], cancelled["remaining_fen"]) == (0, 0)
    view = (await api.client.get(f"/api/v1/track/{created['tracking_code']}")).json()
    assert view["remaining_fen"] == 0
    goods = await _goods_gift(api, 3, 9_000)
    gone = await api.ok(
        "POST", f"/api/v1/donations/{goods['id']}/cancel", json={"reason": "物资未送达"}
    )
    assert gone["remaining_fen"] == 0
