"""Request and response bodies of season plans, requisitions (请领) and transfers in transit."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from warehouse.entrypoints.api.schemas import Code, ItemCode, Omitted, Strict, refuse_nulls

PlanCode = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
Urgency = Literal["normal", "urgent", "critical"]

# --------------------------------------------------------------------------- plans


class PlanCreate(Strict):
    code: str = PlanCode
    name: str = Field(min_length=1, max_length=100)
    season_start: date
    season_end: date
    source_warehouse_code: str | None = Field(
        default=None,
        max_length=32,
        description="补缺口的调出仓库，缺省为区级仓库 (default: the district warehouse)",
    )
    note: str | None = Field(default=None, max_length=500)


class PlanUpdate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)] | Omitted = None
    season_start: date | Omitted = None
    season_end: date | Omitted = None
    note: str | None = Field(default=None, max_length=500)
    source_warehouse_code: Annotated[str, Field(max_length=32)] | Omitted = None
    action: Literal["activate", "close"] | Omitted = Field(
        default=None,
        description="状态流转：activate 启用 (draft→active)，close 结束 (active→closed)",
    )
    version: int | None = Field(default=None, ge=1, description="If-Match 的替代 (or If-Match)")

    @model_validator(mode="after")
    def _no_nulls(self) -> PlanUpdate:
        refuse_nulls(self, "name", "season_start", "season_end", "source_warehouse_code", "action")
        return self


class PeopleIn(Strict):
    people: int = Field(ge=0, le=10_000_000, description="该镇需保障的人数 (people to serve)")


class NormIn(Strict):
    per_person: Decimal = Field(
        ge=0, le=10_000, max_digits=10, decimal_places=3, description="每人定额 (per person)"
    )


class TargetIn(Strict):
    quantity: int = Field(ge=0, le=100_000_000, description="直接录入的目标数量 (entered target)")


class PlanOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    season_start: date
    season_end: date
    status: str
    source_warehouse_code: str | None
    note: str | None
    version: int
    created_by: str
    created_at: Any
    updated_at: Any
    towns: list[dict[str, Any]] = []
    norms: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []


class PlanPage(BaseModel):
    items: list[PlanOut]
    next_cursor: str | None


class CoverageLineOut(BaseModel):
    item_code: str
    item_name: str
    unit: str
    target: int
    held: int = Field(description="可用库存加在途 (available plus in transit)")
    in_transit: int
    gap: int
    source: Literal["norm", "entered"]


class TownCoverageOut(BaseModel):
    town: str
    people: int | None
    target_units: int
    held_units: int
    gap_units: int
    coverage: float | None = Field(
        description="覆盖率 0..1：各物资现有（不超过目标）之和 / 目标之和；无目标为 null"
    )
    lines: list[CoverageLineOut]


class CoverageOut(BaseModel):
    plan: dict[str, Any]
    towns: list[TownCoverageOut]


class FillGapIn(Strict):
    town: str | None = Field(default=None, max_length=20, description="只补该镇 (one town only)")


class FillLineOut(BaseModel):
    item_code: str
    item_name: str
    unit: str
    gap: int
    already_requested: int = Field(description="在途前已申请的调拨 (on open transfers)")
    quantity: int = Field(description="调出仓库现可调拨 (what the source can give now)")
    short: int = Field(description="调出仓库不足的数量 (what the source cannot give)")
    lots: list[dict[str, Any]]


class TownFillOut(BaseModel):
    town: str
    destination_warehouse_code: str | None
    note: str | None
    lines: list[FillLineOut]


class FillPreviewOut(BaseModel):
    plan_code: str
    source_warehouse_code: str
    towns: list[TownFillOut]


class FillGapOut(FillPreviewOut):
    dispatches: list[dict[str, Any]]


# --------------------------------------------------------------------------- requisitions


class RequisitionLineIn(Strict):
    item_code: str = ItemCode
    quantity: int = Field(gt=0, le=10_000_000)


class RequisitionCreate(Strict):
    warehouse_code: str = Code
    lines: list[RequisitionLineIn] = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500)
    urgency: Urgency = "normal"
    plan_code: str | None = Field(default=None, max_length=32)


class ApprovedLineIn(Strict):
    item_code: str = ItemCode
    approved_quantity: int = Field(ge=0, le=10_000_000)


class RequisitionApproveIn(Strict):
    source_warehouse_code: str | None = Field(default=None, max_length=32)
    lines: list[ApprovedLineIn] | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, min_length=1, max_length=500)


class RequisitionOut(BaseModel):
    id: uuid.UUID
    requisition_no: str
    warehouse_code: str
    town: str | None
    source_warehouse_code: str | None
    status: str
    lines: list[dict[str, Any]]
    reason: str
    urgency: str
    plan_code: str | None
    requested_by: str
    requested_at: Any
    decided_by: str | None
    decided_at: Any
    decided_reason: str | None
    dispatch_id: uuid.UUID | None
    dispatch_no: str | None
    version: int


class RequisitionPage(BaseModel):
    items: list[RequisitionOut]
    next_cursor: str | None


# --------------------------------------------------------------------------- transit


class ReceivedLineIn(Strict):
    item_code: str = ItemCode
    received_quantity: int = Field(ge=0, le=10_000_000)
    short_quantity: int = Field(default=0, ge=0, le=10_000_000, description="短少 (did not arrive)")
    damaged_quantity: int = Field(default=0, ge=0, le=10_000_000, description="破损 (damaged)")
    reason: str | None = Field(
        default=None, min_length=1, max_length=500, description="有短少或破损时必填"
    )

    @model_validator(mode="after")
    def _reason_when_lost(self) -> ReceivedLineIn:
        if (self.short_quantity or self.damaged_quantity) and not self.reason:
            raise ValueError(
                f"{self.item_code} 有短少或破损时须填写原因 reason"
                " (a reason is required when short or damaged > 0)"
            )
        return self


class ReceiveIn(Strict):
    recipient_name: str = Field(min_length=1, max_length=100)
    recipient_phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\- ]{5,32}$")
    received_at: AwareDatetime | None = Field(default=None, description="收货时间，默认当前时间")
    note: str | None = Field(default=None, max_length=500)
    lines: list[ReceivedLineIn] = Field(
        default_factory=list,
        max_length=200,
        description="每种物资的实收、短少、破损；未列出的物资视为全数收到"
        " (items left out: received in full)",
    )
