"""Events produced by the warehouse service (topic ``warehouse.events``).

Key = the aggregate id: the inbound id for receipts, the lot id for adjustments and expiry
events, the dispatch id for the dispatch flow, ``<warehouse_code>/<item_code>`` for stock
levels. Public payloads never carry a private person's full name, phone or ID number: a
recipient appears only as a masked name (张*丰); free-text notes stay in the warehouse.

Lineage: every lot carries the donation (id + public tracking code) it came from, if any, and
every dispatch line carries the lots taken, so a donor's goods can be followed from the gift to
the sign-off.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload, ProjectCode, Town
from shared.contracts.registry import EventContract

PREFIX = "org.redcross.fenghua.warehouse"
TOPIC = "warehouse.events"

STOCK_RECEIVED = f"{PREFIX}.stock.received.v1"
STOCK_ADJUSTED = f"{PREFIX}.stock.adjusted.v1"
STOCK_LEVEL_CHANGED = f"{PREFIX}.stock.level_changed.v1"
DISPATCH_REQUESTED = f"{PREFIX}.dispatch.requested.v1"
DISPATCH_APPROVED = f"{PREFIX}.dispatch.approved.v1"
DISPATCH_REJECTED = f"{PREFIX}.dispatch.rejected.v1"
DISPATCH_CANCELLED = f"{PREFIX}.dispatch.cancelled.v1"
DISPATCH_PICKED = f"{PREFIX}.dispatch.picked.v1"
DISPATCH_SHIPPED = f"{PREFIX}.dispatch.shipped.v1"
DISPATCH_DELIVERED = f"{PREFIX}.dispatch.delivered.v1"
LOT_NEAR_EXPIRY = f"{PREFIX}.lot.near_expiry.v1"
LOT_EXPIRED = f"{PREFIX}.lot.expired.v1"
REORDER_SIGNAL = f"{PREFIX}.preparedness.reorder_signal.v1"
PLAN_GAP_SIGNAL = f"{PREFIX}.preparedness.plan_gap_signal.v1"

RECIPIENTS_MAX = 500  # recipients one delivery names (DeliverIn.recipient_ids)

Category = Literal[
    "shelter", "food", "water", "medical", "lighting_power", "clothing_bedding", "hygiene"
]
SourceKind = Literal["donation", "procurement", "transfer", "count"]
AdjustmentReason = Literal["lost", "damaged", "expired", "found", "correction"]
DispatchKind = Literal["dispatch", "transfer"]
DestinationKind = Literal["warehouse", "station", "shelter", "site"]
Urgency = Literal["normal", "urgent", "critical"]
Movement = Literal[
    "receipt",
    "adjustment",
    "reservation",
    "release",
    "shipment",
    "return",
    "transfer_in",
    "safety_stock",
    "expiry",
]


def level_key(warehouse_code: str, item_code: str) -> str:
    """The Kafka key of a stock level: one partition per item and warehouse."""
    return f"{warehouse_code}/{item_code}"


def plan_gap_key(plan_code: str, town: str, item_code: str) -> str:
    """The Kafka key of a plan gap signal: one partition per plan, town and item."""
    return f"{plan_code}/{town}/{item_code}"


# --------------------------------------------------------------------------- building blocks


class LotSourceV1(EventPayload):
    """Where a lot came from: a gift (with its public tracking code), a purchase or a transfer."""

    source_kind: SourceKind
    donation_id: uuid.UUID | None = None
    tracking_code: str | None = None
    procurement_order: str | None = Field(default=None, max_length=64)
    transfer_dispatch_id: uuid.UUID | None = None
    designated_project: ProjectCode | None = Field(
        default=None, description="The project the goods gift was designated to (lots keep it)"
    )
    disbursement_id: uuid.UUID | None = Field(
        default=None, description="The disbursement whose donated money bought the goods"
    )


class ReceivedLotV1(EventPayload):
    lot_id: uuid.UUID
    lot_no: str
    item_code: str
    item_name: str
    category: Category
    unit: str
    warehouse_code: str
    quantity: int = Field(ge=0, description="Accepted into stock")
    expected_quantity: int | None = Field(default=None, ge=0)
    damaged_quantity: int = Field(default=0, ge=0, description="Arrived damaged, not stocked")
    damage_reason: str | None = None
    expiry_date: date | None = None
    expired_accepted_reason: str | None = Field(
        default=None, description="Set when an expired lot was accepted anyway, with the reason"
    )
    unit_value_fen: int = Field(ge=0)
    donation_id: uuid.UUID | None = None
    tracking_code: str | None = None
    designated_project: ProjectCode | None = Field(
        default=None, description="The project the goods gift was designated to (lots keep it)"
    )
    disbursement_id: uuid.UUID | None = Field(
        default=None, description="The disbursement whose donated money bought the goods"
    )


class DestinationV1(EventPayload):
    kind: DestinationKind
    name: str
    town: str | None = Field(default=None, description="One of Fenghua's 12 towns/subdistricts")
    warehouse_code: str | None = Field(default=None, description="Set for transfers/stations")


class RequestedLineV1(EventPayload):
    item_code: str
    item_name: str
    unit: str
    quantity: int = Field(gt=0)


class PickedLotV1(EventPayload):
    lot_id: uuid.UUID
    lot_no: str
    quantity: int = Field(gt=0)
    expiry_date: date | None = None
    source_kind: SourceKind
    donation_id: uuid.UUID | None = None
    tracking_code: str | None = None
    designated_project: ProjectCode | None = Field(
        default=None, description="The project the goods gift was designated to (lots keep it)"
    )
    disbursement_id: uuid.UUID | None = Field(
        default=None, description="The disbursement whose donated money bought the goods"
    )


class PickedLineV1(EventPayload):
    item_code: str
    item_name: str
    unit: str
    quantity: int = Field(gt=0)
    lots: list[PickedLotV1]


class DeliveredLotV1(EventPayload):
    lot_id: uuid.UUID
    lot_no: str
    shipped_quantity: int = Field(ge=0)
    delivered_quantity: int = Field(ge=0)
    returned_quantity: int = Field(ge=0)
    donation_id: uuid.UUID | None = None
    tracking_code: str | None = None
    disbursement_id: uuid.UUID | None = Field(
        default=None, description="The disbursement whose donated money bought the goods"
    )


class DeliveredLineV1(EventPayload):
    item_code: str
    item_name: str
    unit: str
    shipped_quantity: int = Field(ge=0)
    delivered_quantity: int = Field(ge=0)
    returned_quantity: int = Field(ge=0)
    lots: list[DeliveredLotV1]


class ReleasedLotV1(EventPayload):
    lot_id: uuid.UUID
    item_code: str
    quantity: int = Field(gt=0)


class DispatchHeaderV1(EventPayload):
    """Fields every dispatch event carries, so each one can be read on its own."""

    dispatch_id: uuid.UUID
    dispatch_no: str = Field(description="Human number, e.g. DP-2026-000042")
    kind: DispatchKind
    from_warehouse_code: str
    from_warehouse_name: str
    destination: DestinationV1
    incident_code: str | None = None
    incident_name: str | None = None
    urgency: Urgency
    project_code: ProjectCode | None = Field(
        default=None, description="The project the dispatch serves (picks its designated lots)"
    )


# --------------------------------------------------------------------------- events


class StockReceivedV1(EventPayload):
    inbound_id: uuid.UUID
    receipt_no: str
    warehouse_code: str
    warehouse_name: str
    town: str | None = None
    source: LotSourceV1
    received_at: AwareDatetime
    lots: list[ReceivedLotV1]


class StockAdjustedV1(EventPayload):
    adjustment_id: uuid.UUID
    stock_count_id: uuid.UUID | None = None
    lot_id: uuid.UUID
    lot_no: str
    item_code: str
    item_name: str
    unit: str
    warehouse_code: str
    reason: AdjustmentReason
    quantity_before: int = Field(ge=0)
    quantity_after: int = Field(ge=0)
    delta: int
    donation_id: uuid.UUID | None = None
    tracking_code: str | None = None
    adjusted_at: AwareDatetime
    disbursement_id: uuid.UUID | None = Field(
        default=None, description="The disbursement whose donated money bought the lot"
    )


class StockLevelChangedV1(EventPayload):
    warehouse_code: str
    warehouse_name: str
    town: str | None = None
    item_code: str
    item_name: str
    category: Category
    unit: str
    on_hand: int = Field(ge=0)
    reserved: int = Field(ge=0)
    available: int = Field(ge=0, description="on_hand - reserved - expired")
    safety_stock: int = Field(ge=0)
    below_safety_stock: bool = Field(description="available < safety_stock")
    expired: int = Field(
        default=0,
        ge=0,
        description="Unreserved units in lots past their expiry date (on the Asia/Shanghai day "
        "the level was written); counted in on_hand, never in available. Absent from older "
        "events: 0",
    )
    version: int = Field(ge=1, description="Per item and warehouse; a consumer keeps the highest")
    movement: Movement
    reference_id: uuid.UUID | None = Field(default=None, description="inbound/dispatch/adjust id")
    changed_at: AwareDatetime


class DispatchRequestedV1(DispatchHeaderV1):
    lines: list[RequestedLineV1]
    requested_at: AwareDatetime


class DispatchApprovedV1(DispatchHeaderV1):
    lines: list[RequestedLineV1]
    approved_at: AwareDatetime
    designated_override: bool = Field(
        default=False,
        description="The approver let the dispatch pick lots designated to another project "
        "(the reason stays in the warehouse's audit log)",
    )


class DispatchRejectedV1(DispatchHeaderV1):
    reason: str
    released: list[ReleasedLotV1] = Field(default_factory=list)
    rejected_at: AwareDatetime


class DispatchCancelledV1(DispatchHeaderV1):
    reason: str
    released: list[ReleasedLotV1] = Field(default_factory=list)
    cancelled_at: AwareDatetime


class DispatchPickedV1(DispatchHeaderV1):
    lines: list[PickedLineV1]
    picked_at: AwareDatetime


class DispatchShippedV1(DispatchHeaderV1):
    waybill_no: str
    carrier: str | None = None
    lines: list[PickedLineV1]
    shipped_at: AwareDatetime


class DispatchDeliveredV1(DispatchHeaderV1):
    recipient_name_masked: str = Field(description="Masked (张*丰); never the full name")
    recipient_org: str | None = Field(default=None, description="Receiving body, e.g. 镇政府")
    partial: bool = Field(description="Less than shipped was accepted")
    lines: list[DeliveredLineV1]
    returned_to_warehouse_code: str | None = None
    delivered_at: AwareDatetime
    recipient_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=RECIPIENTS_MAX,
        description="The register's recipients the goods reached (donation.recipient_registered)"
        "; absent from older events: none named",
    )
    people_reached: int = Field(
        default=0, ge=0, description="People those recipients make (person 1, household its size)"
    )
    households_reached: int = Field(
        default=0, ge=0, description="Households among them (person or household 1 each)"
    )


class LotExpiryV1(EventPayload):
    lot_id: uuid.UUID
    lot_no: str
    item_code: str
    item_name: str
    unit: str
    warehouse_code: str
    warehouse_name: str
    expiry_date: date
    days_to_expiry: int = Field(description="Negative once expired")
    on_hand: int = Field(ge=0)
    available: int = Field(ge=0)
    scan_date: date
    donation_id: uuid.UUID | None = None
    tracking_code: str | None = None


class LotNearExpiryV1(LotExpiryV1):
    window_days: int = Field(ge=0, description="The scan's configured window")


class LotExpiredV1(LotExpiryV1):
    pass


class ReorderSignalV1(EventPayload):
    """Whether one item in one warehouse is below its reorder threshold (smart preparedness)."""

    warehouse_code: str
    warehouse_name: str
    town: str | None = None
    item_code: str
    item_name: str
    category: Category
    unit: str
    below_reorder: bool = Field(description="The signal is on (true) or off (false)")
    available: int = Field(ge=0)
    in_transit: int = Field(ge=0, description="Shipped to this warehouse, not yet received")
    on_order: int = Field(ge=0, description="Asked for (requisitions) and not yet shipped")
    amc: Decimal = Field(ge=0, decimal_places=2, description="Average monthly consumption")
    mos: Decimal | None = Field(
        default=None, ge=0, decimal_places=2, description="Months of stock; null: no consumption"
    )
    reorder_mos: Decimal | None = Field(default=None, ge=0, decimal_places=2)
    target_mos: Decimal | None = Field(default=None, ge=0, decimal_places=2)
    min_quantity: int | None = Field(default=None, ge=0)
    max_quantity: int | None = Field(default=None, ge=0)
    suggested_quantity: int = Field(ge=0, description="What to bring in to reach the target")
    policy_source: str = Field(max_length=20, description="Where the thresholds came from")
    version: int = Field(ge=1, description="Per warehouse and item; a consumer keeps the highest")
    assessed_at: AwareDatetime


class PlanGapSignalV1(EventPayload):
    """Whether a town holds less of an item than the active season plan targets."""

    plan_code: str = Field(max_length=32)
    plan_name: str = Field(max_length=100)
    town: Town
    item_code: str
    item_name: str
    unit: str
    target: int = Field(ge=0)
    held: int = Field(
        ge=0, description="Available in the town's stations, plus what is in transit to them"
    )
    in_transit: int = Field(
        ge=0, description="Of held: shipped to the town's stations, not yet received"
    )
    gap: int = Field(ge=0, description="target - held, never below zero")
    open: bool = Field(description="The gap is open (true) or closed (false)")
    version: int = Field(ge=1, description="Per plan, town and item; a consumer keeps the highest")
    assessed_at: AwareDatetime


# --------------------------------------------------------------------------- examples

_WH = "WH-DISTRICT"
_WH_NAME = "区备灾救灾中心仓库"
_DONATION = uuid.UUID("01a22497-5db0-7241-aa97-3b7fd44641ef")
_CODE = "1MFB-V2RH-TWEX-7RZY-152D-7"
_LOT = uuid.UUID("01a224a0-0c11-7a01-8f00-4c2d7e5b9a10")
_LOT2 = uuid.UUID("01a224a0-0c11-7a01-8f00-4c2d7e5b9a11")
_DISPATCH = uuid.UUID("01a224b3-77aa-7c3e-9d01-2f6b1c0e4d55")
_T = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)
_HEADER = DispatchHeaderV1(
    dispatch_id=_DISPATCH,
    dispatch_no="DP-2026-000042",
    kind="dispatch",
    from_warehouse_code=_WH,
    from_warehouse_name=_WH_NAME,
    destination=DestinationV1(kind="shelter", name="溪口镇中心小学临时安置点", town="溪口镇"),
    incident_code="TY-2026-14",
    incident_name="2026年第14号台风",
    urgency="urgent",
).model_dump()
_PICKED = [
    PickedLineV1(
        item_code="QUILT",
        item_name="棉被",
        unit="床",
        quantity=30,
        lots=[
            PickedLotV1(
                lot_id=_LOT,
                lot_no="D20261128-QUILT",
                quantity=2,
                source_kind="donation",
                donation_id=_DONATION,
                tracking_code=_CODE,
            ),
            PickedLotV1(
                lot_id=_LOT2,
                lot_no="P2026-031",
                quantity=28,
                source_kind="procurement",
            ),
        ],
    )
]


_BOTH = ("donation", "notification")
_ALERTS = ("notification",)


def _c(
    type_: str,
    model: type[EventPayload],
    summary: str,
    example: EventPayload,
    consumers: tuple[str, ...] = _BOTH,
) -> EventContract:
    return EventContract(type_, TOPIC, model, "warehouse", consumers, summary, example)


CONTRACTS = [
    _c(
        STOCK_RECEIVED,
        StockReceivedV1,
        "Goods were received into a warehouse as lots, each tagged with its source.",
        StockReceivedV1(
            inbound_id=uuid.UUID("01a224a0-0b00-7000-8000-000000000001"),
            receipt_no="RK-2026-000017",
            warehouse_code=_WH,
            warehouse_name=_WH_NAME,
            town="岳林街道",
            source=LotSourceV1(source_kind="donation", donation_id=_DONATION, tracking_code=_CODE),
            received_at=_T,
            lots=[
                ReceivedLotV1(
                    lot_id=_LOT,
                    lot_no="D20261128-QUILT",
                    item_code="QUILT",
                    item_name="棉被",
                    category="clothing_bedding",
                    unit="床",
                    warehouse_code=_WH,
                    quantity=2,
                    expected_quantity=2,
                    damaged_quantity=0,
                    unit_value_fen=12000,
                    donation_id=_DONATION,
                    tracking_code=_CODE,
                )
            ],
        ),
    ),
    _c(
        STOCK_ADJUSTED,
        StockAdjustedV1,
        "A lot's quantity was corrected after a stock count, with a reason code.",
        StockAdjustedV1(
            adjustment_id=uuid.UUID("01a224c0-0000-7000-8000-000000000002"),
            stock_count_id=uuid.UUID("01a224c0-0000-7000-8000-000000000001"),
            lot_id=_LOT2,
            lot_no="P2026-031",
            item_code="QUILT",
            item_name="棉被",
            unit="床",
            warehouse_code=_WH,
            reason="damaged",
            quantity_before=120,
            quantity_after=117,
            delta=-3,
            adjusted_at=_T,
        ),
    ),
    _c(
        STOCK_LEVEL_CHANGED,
        StockLevelChangedV1,
        "The stock level of one item in one warehouse after a movement (alerts read this).",
        StockLevelChangedV1(
            warehouse_code=_WH,
            warehouse_name=_WH_NAME,
            town="岳林街道",
            item_code="QUILT",
            item_name="棉被",
            category="clothing_bedding",
            unit="床",
            on_hand=117,
            reserved=30,
            available=75,
            safety_stock=100,
            below_safety_stock=True,
            expired=12,
            version=12,
            movement="reservation",
            reference_id=_DISPATCH,
            changed_at=_T,
        ),
        _ALERTS,
    ),
    _c(
        DISPATCH_REQUESTED,
        DispatchRequestedV1,
        "A dispatcher asked for supplies to go from a warehouse to a destination.",
        DispatchRequestedV1(
            **_HEADER,
            lines=[RequestedLineV1(item_code="QUILT", item_name="棉被", unit="床", quantity=30)],
            requested_at=_T,
        ),
    ),
    _c(
        DISPATCH_APPROVED,
        DispatchApprovedV1,
        "An approver (not the requester) approved a dispatch.",
        DispatchApprovedV1(
            **_HEADER,
            lines=[RequestedLineV1(item_code="QUILT", item_name="棉被", unit="床", quantity=30)],
            approved_at=_T,
        ),
    ),
    _c(
        DISPATCH_REJECTED,
        DispatchRejectedV1,
        "An approver rejected a dispatch; any reserved quantities were released.",
        DispatchRejectedV1(**_HEADER, reason="需求已由镇级储备满足", released=[], rejected_at=_T),
    ),
    _c(
        DISPATCH_CANCELLED,
        DispatchCancelledV1,
        "A dispatch was cancelled before shipping; reserved quantities were released.",
        DispatchCancelledV1(
            **_HEADER,
            reason="台风转向，需求取消",
            released=[ReleasedLotV1(lot_id=_LOT2, item_code="QUILT", quantity=28)],
            cancelled_at=_T,
        ),
    ),
    _c(
        DISPATCH_PICKED,
        DispatchPickedV1,
        "Lots were chosen first-expiry-first-out and reserved, with lot → donation lineage.",
        DispatchPickedV1(**_HEADER, lines=_PICKED, picked_at=_T),
    ),
    _c(
        DISPATCH_SHIPPED,
        DispatchShippedV1,
        "A dispatch left the warehouse under a waybill, with lot → donation lineage per line.",
        DispatchShippedV1(
            **_HEADER, waybill_no="SF1234567890", carrier="顺丰速运", lines=_PICKED, shipped_at=_T
        ),
    ),
    _c(
        DISPATCH_DELIVERED,
        DispatchDeliveredV1,
        "The recipient signed for a dispatch (masked name); partial delivery and returns.",
        DispatchDeliveredV1(
            **_HEADER,
            recipient_name_masked="李*华",
            recipient_org="溪口镇人民政府",
            partial=True,
            lines=[
                DeliveredLineV1(
                    item_code="QUILT",
                    item_name="棉被",
                    unit="床",
                    shipped_quantity=30,
                    delivered_quantity=28,
                    returned_quantity=2,
                    lots=[
                        DeliveredLotV1(
                            lot_id=_LOT,
                            lot_no="D20261128-QUILT",
                            shipped_quantity=2,
                            delivered_quantity=2,
                            returned_quantity=0,
                            donation_id=_DONATION,
                            tracking_code=_CODE,
                        ),
                        DeliveredLotV1(
                            lot_id=_LOT2,
                            lot_no="P2026-031",
                            shipped_quantity=28,
                            delivered_quantity=26,
                            returned_quantity=2,
                        ),
                    ],
                )
            ],
            returned_to_warehouse_code=_WH,
            delivered_at=_T,
            recipient_ids=[uuid.UUID("01a22497-7b00-7c41-9a97-3b7fd4464200")],
            people_reached=4,
            households_reached=1,
        ),
    ),
    _c(
        LOT_NEAR_EXPIRY,
        LotNearExpiryV1,
        "The daily scan found a lot with stock expiring within the configured window.",
        LotNearExpiryV1(
            lot_id=_LOT,
            lot_no="D20261128-WATER",
            item_code="WATER",
            item_name="饮用水",
            unit="箱",
            warehouse_code=_WH,
            warehouse_name=_WH_NAME,
            expiry_date=date(2026, 12, 20),
            days_to_expiry=22,
            on_hand=40,
            available=40,
            scan_date=date(2026, 11, 28),
            donation_id=_DONATION,
            tracking_code=_CODE,
            window_days=30,
        ),
        _ALERTS,
    ),
    _c(
        LOT_EXPIRED,
        LotExpiredV1,
        "The daily scan found a lot past its expiry date with stock still on hand.",
        LotExpiredV1(
            lot_id=_LOT2,
            lot_no="P2025-007",
            item_code="FOOD",
            item_name="方便食品",
            unit="箱",
            warehouse_code=_WH,
            warehouse_name=_WH_NAME,
            expiry_date=date(2026, 11, 20),
            days_to_expiry=-8,
            on_hand=5,
            available=5,
            scan_date=date(2026, 11, 28),
        ),
        _ALERTS,
    ),
    _c(
        REORDER_SIGNAL,
        ReorderSignalV1,
        "An item in a warehouse went below its reorder threshold (months of stock), or back "
        "above it, or its suggested quantity moved materially (preparedness sweep).",
        ReorderSignalV1(
            warehouse_code="ST-XIKOU",
            warehouse_name="溪口镇红十字备灾点",
            town="溪口镇",
            item_code="QUILT",
            item_name="棉被",
            category="clothing_bedding",
            unit="床",
            below_reorder=True,
            available=60,
            in_transit=0,
            on_order=20,
            amc=Decimal("40.00"),
            mos=Decimal("1.50"),
            reorder_mos=Decimal("3.00"),
            target_mos=Decimal("6.00"),
            suggested_quantity=160,
            policy_source="category",
            version=3,
            assessed_at=_T,
        ),
        _ALERTS,
    ),
    _c(
        PLAN_GAP_SIGNAL,
        PlanGapSignalV1,
        "A town holds less of an item than the active season plan targets (gap open), or the "
        "gap closed, or its size changed (preparedness sweep).",
        PlanGapSignalV1(
            plan_code="TY-2027",
            plan_name="2027年台风季备灾计划",
            town="溪口镇",
            item_code="TENT",
            item_name="救灾帐篷",
            unit="顶",
            target=120,
            held=80,
            in_transit=10,
            gap=40,
            open=True,
            version=1,
            assessed_at=_T,
        ),
        _ALERTS,
    ),
]
