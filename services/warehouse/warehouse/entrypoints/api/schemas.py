"""Request and response bodies of the warehouse API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from shared.contracts.warehouse import RECIPIENTS_MAX
from shared.organisations import ORG_CODE_PATTERN

Code = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
ItemCode = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
Category = Literal[
    "shelter", "food", "water", "medical", "lighting_power", "clothing_bedding", "hygiene"
]
Reason = Literal["lost", "damaged", "expired", "found", "correction"]
MAX_VERSION = 2**31 - 1  # versions are INTEGER columns
# An update field that may be left out but not set to null (a NOT NULL column) is typed
# ``Annotated[T, Field(<constraints>)] | Omitted = None``: the model still takes ``None`` (it means
# "left out", and lets :func:`refuse_nulls` answer a 422 naming the field), but the OpenAPI does
# not offer null, so the documented schema is what the server takes. The constraints go inside
# ``Annotated`` so that they never meet the ``None``.
Omitted = SkipJsonSchema[None]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def refuse_nulls(model: BaseModel, *fields: str) -> None:
    """An update may leave these fields out, but not set them to null (their columns are NOT
    NULL: the database would refuse it as a 500)."""
    nulls = [f for f in fields if f in model.model_fields_set and getattr(model, f) is None]
    if nulls:
        names = ", ".join(nulls)
        raise ValueError(f"{names} 不能为 null (cannot be null; leave the field out to keep it)")


# --------------------------------------------------------------------------- catalogue


class WarehouseCreate(Strict):
    code: str = Code
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["district", "station"]
    town: str | None = Field(default=None, max_length=20)
    address: str | None = Field(default=None, max_length=200)
    active: bool = True
    org_code: str | None = Field(
        default=None,
        max_length=16,
        pattern=ORG_CODE_PATTERN,
        description="所属组织编码；缺省为所在镇街的红十字会（镇级救灾站）或区红十字会 FH"
        " (the organisation it belongs to; default: its town's branch for a station, FH)",
    )


class WarehouseUpdate(Strict):
    version: int = Field(
        ge=1, le=MAX_VERSION, description="乐观锁：读取时的版本号 (the version you read)"
    )
    name: Annotated[str, Field(min_length=1, max_length=100)] | Omitted = None
    town: str | None = Field(default=None, max_length=20)
    address: str | None = Field(default=None, max_length=200)
    active: bool | Omitted = None
    org_code: Annotated[str, Field(max_length=16, pattern=ORG_CODE_PATTERN)] | Omitted = None

    @model_validator(mode="after")
    def _not_null(self) -> WarehouseUpdate:
        refuse_nulls(self, "name", "active", "org_code")
        return self


class WarehouseOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    kind: str
    town: str | None
    address: str | None
    active: bool
    org_code: str  # the organisation it belongs to (who may see and change it)
    version: int


class WarehousePage(BaseModel):
    items: list[WarehouseOut]
    next_cursor: str | None


class ItemCreate(Strict):
    code: str = ItemCode
    name: str = Field(min_length=1, max_length=100)
    category: Category
    unit: str = Field(min_length=1, max_length=20)
    lot_tracked: bool = Field(False, description="批次/效期必填 (lot and expiry mandatory)")
    unit_value_fen: int = Field(0, ge=0, le=100_000_000)
    default_safety_stock: int = Field(0, ge=0, le=10_000_000)
    active: bool = True


class ItemUpdate(Strict):
    version: int = Field(ge=1, le=MAX_VERSION)
    name: Annotated[str, Field(min_length=1, max_length=100)] | Omitted = None
    category: Category | Omitted = None
    unit: Annotated[str, Field(min_length=1, max_length=20)] | Omitted = None
    lot_tracked: bool | Omitted = None
    unit_value_fen: Annotated[int, Field(ge=0, le=100_000_000)] | Omitted = None
    default_safety_stock: Annotated[int, Field(ge=0, le=10_000_000)] | Omitted = None
    active: bool | Omitted = None

    @model_validator(mode="after")
    def _not_null(self) -> ItemUpdate:
        refuse_nulls(
            self,
            "name",
            "category",
            "unit",
            "lot_tracked",
            "unit_value_fen",
            "default_safety_stock",
            "active",
        )
        return self


class ItemOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    category: str
    unit: str
    lot_tracked: bool
    unit_value_fen: int
    default_safety_stock: int
    active: bool
    version: int


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None


class SafetyStockSet(Strict):
    warehouse_code: str = Code
    item_code: str = ItemCode
    safety_stock: int = Field(ge=0, le=10_000_000)


# --------------------------------------------------------------------------- stock


class StockLevelOut(BaseModel):
    warehouse_code: str
    warehouse_name: str
    item_code: str
    item_name: str
    category: str
    unit: str
    on_hand: int = Field(description="在库（含过期批次）(on hand, expired lots included)")
    reserved: int = Field(description="已占用：已拣货未发运 (reserved by picked dispatches)")
    expired: int = Field(
        description="已过期未占用：在库但不可用，待盘点报废 (unreserved units in expired lots)"
    )
    available: int = Field(
        description="可用 = 在库 - 已占用 - 已过期 (on_hand - reserved - expired)"
    )
    safety_stock: int
    below_safety_stock: bool = Field(description="available < safety_stock")
    version: int


class StockPage(BaseModel):
    items: list[StockLevelOut]
    next_cursor: str | None


class LotOut(BaseModel):
    id: uuid.UUID
    lot_no: str
    item_code: str
    item_name: str
    unit: str
    warehouse_code: str
    expiry_date: date | None
    expired: bool = Field(description="已过期（上海日期）：不可拣货 (past its expiry date)")
    on_hand: int
    reserved: int
    available: int = Field(
        description="可用：过期批次为 0，否则在库 - 已占用 (0 if expired, else on_hand - reserved)"
    )
    received_quantity: int
    unit_value_fen: int
    source_kind: str
    donation_id: uuid.UUID | None
    tracking_code: str | None
    procurement_order: str | None
    transfer_dispatch_id: uuid.UUID | None
    inbound_id: uuid.UUID | None
    received_at: datetime
    designated_project: str | None = Field(
        description="定向项目：只用于该项目的调拨 (designated: only for that project's dispatches)"
    )
    disbursement_id: uuid.UUID | None = Field(
        description="采购资金来源的拨付 (the disbursement whose donated money bought it)"
    )


class LotPage(BaseModel):
    items: list[LotOut]
    next_cursor: str | None


class MovementOut(BaseModel):
    seq: int
    at: datetime
    warehouse_code: str
    item_code: str
    lot_id: uuid.UUID | None
    lot_no: str | None
    movement: str
    on_hand_delta: int
    reserved_delta: int
    balance: int = Field(description="结存：变动后该物资在本仓库的在库数量 (running balance)")
    reserved_after: int
    reference_type: str | None
    reference_id: uuid.UUID | None
    reference_no: str | None
    note: str | None
    actor: str


class MovementPage(BaseModel):
    items: list[MovementOut]
    next_cursor: str | None


class CountLineIn(Strict):
    lot_id: uuid.UUID | None = None
    item_code: str | None = Field(default=None, max_length=64)
    lot_no: str | None = Field(default=None, max_length=64)
    expiry_date: date | None = None
    counted_quantity: int = Field(ge=0, le=10_000_000)
    reason: Reason | None = None
    note: str | None = Field(default=None, max_length=500)


class StockCountCreate(Strict):
    warehouse_code: str = Code
    note: str | None = Field(default=None, max_length=500)
    lines: list[CountLineIn] = Field(min_length=1, max_length=500)


class StockCountOut(BaseModel):
    id: uuid.UUID
    warehouse_code: str
    counted_by: str
    counted_at: datetime
    adjustments: list[dict[str, Any]]


class StockCountPage(BaseModel):
    items: list[StockCountOut]
    next_cursor: str | None


class StockAdjustmentOut(BaseModel):
    """One difference a stock count found; a write-off above the four-eyes threshold is
    ``pending`` until an approver (not the counter) applies or rejects it."""

    id: uuid.UUID
    stock_count_id: uuid.UUID | None
    lot_id: uuid.UUID
    lot_no: str
    item_code: str
    item_name: str
    unit: str
    warehouse_code: str
    reason: str
    status: Literal["applied", "pending", "rejected"]
    quantity_before: int = Field(description="在库：盘点时（已执行：执行时）(on hand before)")
    quantity_after: int
    delta: int
    value_fen: int | None = Field(description="核减价值 = 数量 × 物资单价 (units × unit value)")
    note: str | None
    counted_by: str
    counted_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decided_reason: str | None
    version: int


class StockAdjustmentPage(BaseModel):
    items: list[StockAdjustmentOut]
    next_cursor: str | None


# --------------------------------------------------------------------------- inbound


class ProcurementLineIn(Strict):
    item_code: str = ItemCode
    quantity: int = Field(gt=0, le=10_000_000)
    unit_value_fen: int | None = Field(default=None, ge=0, le=100_000_000)
    lot_no: str | None = Field(default=None, max_length=64)
    expiry_date: date | None = None


class InboundCreate(Strict):
    source_kind: Literal["procurement"] = "procurement"
    warehouse_code: str = Code
    procurement_order: str = Field(min_length=1, max_length=64)
    supplier: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=500)
    lines: list[ProcurementLineIn] = Field(min_length=1, max_length=200)
    disbursement_id: uuid.UUID | None = Field(
        default=None,
        description="用捐款采购：支付这批物资的拨付 id，批次带上其资金来源 "
        "(bought with donated money: the disbursement that paid; its lots carry that lineage)",
    )


class ConfirmLineIn(Strict):
    line_no: int | None = Field(default=None, ge=1, description="对应预期行 (1-based)")
    item_code: str | None = Field(default=None, max_length=64)
    received_quantity: int = Field(ge=0, le=10_000_000, description="实际到货（含损坏）")
    damaged_quantity: int = Field(0, ge=0, le=10_000_000)
    damage_reason: str | None = Field(default=None, max_length=200)
    lot_no: str | None = Field(default=None, max_length=64)
    expiry_date: date | None = None
    expired_reason: str | None = Field(default=None, max_length=200)
    unit_value_fen: int | None = Field(default=None, ge=0, le=100_000_000)


class InboundConfirm(Strict):
    warehouse_code: str | None = Field(default=None, max_length=32)
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    note: str | None = Field(default=None, max_length=500)
    lines: list[ConfirmLineIn] = Field(min_length=1, max_length=200)


class InboundOut(BaseModel):
    id: uuid.UUID
    receipt_no: str | None
    status: str
    source_kind: str
    warehouse_code: str | None
    donation_id: uuid.UUID | None
    tracking_code: str | None
    donor_display_name: str | None
    procurement_order: str | None
    supplier: str | None
    transfer_dispatch_id: uuid.UUID | None
    designated_project: str | None = None
    disbursement_id: uuid.UUID | None = None
    lines: list[dict[str, Any]]
    received_lines: list[dict[str, Any]] | None
    note: str | None
    announced_at: datetime
    received_at: datetime | None
    received_by: str | None
    version: int


class InboundPage(BaseModel):
    items: list[InboundOut]
    next_cursor: str | None


class ExpectedInboundOut(BaseModel):
    id: uuid.UUID
    donation_id: uuid.UUID | None
    tracking_code: str | None
    donor_display_name: str | None
    lines: list[dict[str, Any]]
    status: str
    announced_at: datetime


# --------------------------------------------------------------------------- dispatch


class DestinationIn(Strict):
    kind: Literal["warehouse", "station", "shelter", "site"]
    name: str | None = Field(default=None, max_length=200)
    town: str | None = Field(default=None, max_length=20)
    warehouse_code: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=200)


class DispatchLineIn(Strict):
    item_code: str = ItemCode
    quantity: int = Field(gt=0, le=10_000_000)


class DispatchCreate(Strict):
    from_warehouse_code: str = Code
    destination: DestinationIn
    incident_code: str | None = Field(default=None, max_length=32)
    incident_name: str | None = Field(default=None, max_length=100)
    urgency: Literal["normal", "urgent", "critical"] = "normal"
    note: str | None = Field(default=None, max_length=500)
    lines: list[DispatchLineIn] = Field(min_length=1, max_length=100)
    project_code: str | None = Field(
        default=None,
        min_length=2,
        max_length=32,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$",
        description="服务的项目：可使用定向给该项目的捐赠物资 "
        "(the project it serves: it may pick goods designated to it)",
    )


class ApproveIn(Strict):
    designated_override_reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="特批使用定向给其他项目的物资的理由（记入审计）"
        " (let it pick lots designated to another project: the reason, audited)",
    )


class ReasonIn(Strict):
    reason: str = Field(min_length=1, max_length=500)


class ShipIn(Strict):
    waybill_no: str = Field(min_length=1, max_length=64)
    carrier: str | None = Field(default=None, max_length=100)


class ReturnIn(Strict):
    item_code: str = ItemCode
    quantity: int = Field(gt=0, le=10_000_000)
    lot_id: uuid.UUID | None = None


class DeliverIn(Strict):
    recipient_name: str = Field(min_length=1, max_length=100)
    recipient_phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\- ]{5,32}$")
    recipient_org: str | None = Field(default=None, max_length=200)
    delivered_at: AwareDatetime | None = Field(
        default=None, description="签收时间（含时区），默认当前时间 (with time zone; default now)"
    )
    note: str | None = Field(default=None, max_length=500)
    returns: list[ReturnIn] = Field(default_factory=list, max_length=200)
    recipient_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=RECIPIENTS_MAX,
        description="受助登记中的对象（捐赠服务 /api/v1/recipients），可不填 "
        "(the recipients the goods reached; each must be known, else 422)",
    )


class AllocationOut(BaseModel):
    lot_id: uuid.UUID
    lot_no: str
    item_code: str
    quantity: int
    expiry_date: date | None
    source_kind: str
    donation_id: uuid.UUID | None
    tracking_code: str | None
    delivered_quantity: int | None
    returned_quantity: int | None
    designated_project: str | None = None
    disbursement_id: uuid.UUID | None = None


class DispatchOut(BaseModel):
    id: uuid.UUID
    dispatch_no: str
    kind: str
    status: str
    from_warehouse_code: str
    destination: dict[str, Any]
    incident_code: str | None
    incident_name: str | None
    urgency: str
    lines: list[dict[str, Any]]
    allocations: list[AllocationOut]
    note: str | None
    project_code: str | None = None
    designated_override_reason: str | None = Field(
        default=None, description="审批时特批使用他项目定向物资的理由 (the approver's override)"
    )
    requested_by: str
    requested_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    decided_reason: str | None
    picked_by: str | None
    picked_at: datetime | None
    waybill_no: str | None
    carrier: str | None
    shipped_by: str | None
    shipped_at: datetime | None
    recipient_name: str | None
    recipient_phone: str | None
    recipient_org: str | None
    delivery_note: str | None
    delivered_by: str | None
    delivered_at: datetime | None
    closed_by: str | None
    closed_at: datetime | None
    discrepancies: list[dict[str, Any]] = Field(
        default_factory=list,
        description="收货确认记录的短少/破损（调拨，按批次） (a transfer's short/damaged units)",
    )
    recipient_ids: list[uuid.UUID] = Field(
        default_factory=list, description="签收时所列受助对象 (the recipients it reached)"
    )
    people_reached: int = Field(default=0, description="受益人数（个人 1、家庭为人口数）")
    households_reached: int = Field(default=0, description="受益户数")
    version: int


class DispatchPage(BaseModel):
    items: list[DispatchOut]
    next_cursor: str | None


class AuditOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None


class ScanOut(BaseModel):
    scan_date: date
    near_expiry: int
    expired: int
