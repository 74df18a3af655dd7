"""Request and response bodies of ``/api/v1/preparedness``.

Rates (AMC, MOS, the policies' months) are JSON numbers with at most 2 decimals (computed
exactly as ``Decimal``, rounded half up, then written as numbers for charts); a MOS of
``null`` means no consumption (months of stock unbounded).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field

from warehouse.domain.preparedness import RotationLot
from warehouse.service_layer.preparedness import HeatCell, LevelAssessment, RotationRow

# months of stock as sent: 0–120 with at most 2 decimals (the columns are NUMERIC(5, 2))
Months = Annotated[Decimal, Field(ge=0, le=120, max_digits=5, decimal_places=2)]


def _number(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


class LevelOut(BaseModel):
    warehouse_code: str
    warehouse_name: str
    town: str | None
    org_code: str
    item_code: str
    item_name: str
    category: str
    unit: str
    on_hand: int
    available: int
    amc: float = Field(description="月均消耗 average monthly consumption (2 decimals)")
    mos: float | None = Field(description="可用月数 months of stock; null: no consumption")
    days_out_of_stock: int
    in_transit: int
    on_order: int
    expiring_within_lead: int
    suggested_quantity: int
    target_quantity: int
    reorder_mos: float
    target_mos: float
    lead_time_days: int
    min_quantity: int | None
    max_quantity: int | None
    policy_source: str = Field(description="category | item")
    below_reorder: bool

    @classmethod
    def of(cls, a: LevelAssessment) -> LevelOut:
        return cls(
            warehouse_code=a.warehouse_code,
            warehouse_name=a.warehouse_name,
            town=a.town,
            org_code=a.org_code,
            item_code=a.item_code,
            item_name=a.item_name,
            category=a.category,
            unit=a.unit,
            on_hand=a.on_hand,
            available=a.available,
            amc=float(a.amc),
            mos=_number(a.mos),
            days_out_of_stock=a.days_out_of_stock,
            in_transit=a.in_transit,
            on_order=a.on_order,
            expiring_within_lead=a.expiring_within_lead,
            suggested_quantity=a.suggestion.quantity,
            target_quantity=a.suggestion.target_quantity,
            reorder_mos=float(a.policy.reorder_mos),
            target_mos=float(a.policy.target_mos),
            lead_time_days=a.policy.lead_time_days,
            min_quantity=a.policy.min_quantity,
            max_quantity=a.policy.max_quantity,
            policy_source=a.policy.source,
            below_reorder=a.below_reorder,
        )


class LevelPage(BaseModel):
    items: list[LevelOut]
    next_cursor: str | None


class HeatItem(BaseModel):
    code: str
    name: str
    unit: str


class HeatCellOut(BaseModel):
    town: str
    item_code: str
    available: int
    amc: float
    mos: float | None
    reorder_mos: float | None = Field(
        description="Highest reorder MOS among the town's months-based policies for the item"
    )
    target_mos: float | None = Field(
        description="Highest target MOS among the town's months-based policies for the item"
    )

    @classmethod
    def of(cls, cell: HeatCell) -> HeatCellOut:
        return cls(
            town=cell.town,
            item_code=cell.item_code,
            available=cell.available,
            amc=float(cell.amc),
            mos=_number(cell.mos),
            reorder_mos=_number(cell.reorder_mos),
            target_mos=_number(cell.target_mos),
        )


class HeatmapOut(BaseModel):
    towns: list[str]
    items: list[HeatItem]
    cells: list[HeatCellOut]


class RotationOut(BaseModel):
    warehouse_code: str
    warehouse_name: str
    town: str | None
    item_code: str
    item_name: str
    category: str
    unit: str
    amc: float
    lot_id: str
    lot_no: str
    expiry_date: date
    available: int
    consumed_before_expiry: int
    surplus: int
    action: str = Field(description="dispatch_first | transfer | donate_on")
    transfer_to_code: str | None
    transfer_to_name: str | None

    @classmethod
    def of(cls, row: RotationRow) -> RotationOut:
        lot: RotationLot = row.lot
        return cls(
            warehouse_code=row.warehouse_code,
            warehouse_name=row.warehouse_name,
            town=row.town,
            item_code=row.item_code,
            item_name=row.item_name,
            category=row.category,
            unit=row.unit,
            amc=float(row.amc),
            lot_id=str(lot.lot_id),
            lot_no=lot.lot_no,
            expiry_date=lot.expiry_date,
            available=lot.available,
            consumed_before_expiry=lot.consumed_before_expiry,
            surplus=lot.surplus,
            action=lot.action,
            transfer_to_code=row.transfer_to_code,
            transfer_to_name=row.transfer_to_name,
        )


class RotationPage(BaseModel):
    items: list[RotationOut]
    next_cursor: str | None


class CategoryPolicyIn(BaseModel):
    reorder_mos: Months = Field(description="补货点（月）reorder at this many months")
    target_mos: Months = Field(description="目标（月）fill up to this many months")
    lead_time_days: int = Field(ge=0, le=365, description="补货周期（天）lead time in days")


class CategoryPolicyOut(BaseModel):
    category: str
    category_name: str
    reorder_mos: float
    target_mos: float
    lead_time_days: int
    version: int
    updated_at: datetime
    updated_by: str


class CategoryPolicyList(BaseModel):
    items: list[CategoryPolicyOut]
    next_cursor: str | None = None


class StockPolicyIn(BaseModel):
    """Either ``reorder_mos`` + ``target_mos`` or ``min_quantity`` + ``max_quantity``."""

    reorder_mos: Months | None = None
    target_mos: Months | None = None
    min_quantity: int | None = Field(None, ge=0, le=10_000_000)
    max_quantity: int | None = Field(None, ge=1, le=10_000_000)
    lead_time_days: int | None = Field(
        None, ge=0, le=365, description="空：按类别默认 (empty: the category's)"
    )


class StockPolicyOut(BaseModel):
    warehouse_code: str
    item_code: str
    reorder_mos: float | None
    target_mos: float | None
    min_quantity: int | None
    max_quantity: int | None
    lead_time_days: int | None
    version: int
    updated_at: datetime
    updated_by: str
