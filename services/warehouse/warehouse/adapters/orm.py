"""Warehouse service tables (SQLAlchemy Core, mirroring the hand-written migrations).

Core rather than ORM objects: stock changes are conditional ``UPDATE``s and row locks, and
nothing is expired or lazily loaded behind a handler's back.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()


def _uuid(name: str, **kw: object) -> Column[object]:
    return Column(name, UUID(as_uuid=True), **kw)  # type: ignore[arg-type]


warehouses = Table(
    "warehouses",
    metadata,
    _uuid("id", primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("town", String(20)),
    Column("address", String(200)),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # the organisation the warehouse belongs to (migration 0004): who may see and change it
    Column("org_code", String(16), ForeignKey("organisations.code"), nullable=False),
)

# the warehouse's copy of the organisation register (migration 0004), kept current from
# ``organisation.registered.v1`` events on ``staff.events``
organisations = Table(
    "organisations",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("town", String(20)),
    Column("active", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

items = Table(
    "items",
    metadata,
    _uuid("id", primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("category", String(20), nullable=False),
    Column("unit", String(20), nullable=False),
    Column("lot_tracked", Boolean, nullable=False),
    Column("unit_value_fen", Integer, nullable=False),
    Column("default_safety_stock", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

stock_levels = Table(
    "stock_levels",
    metadata,
    _uuid("warehouse_id", primary_key=True),
    _uuid("item_id", primary_key=True),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    Column("safety_stock", Integer, nullable=False),
    # unreserved units in expired lots when the level was last written (migration 0003)
    Column("expired", Integer, nullable=False, server_default="0"),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

inbounds = Table(
    "inbounds",
    metadata,
    _uuid("id", primary_key=True),
    Column("receipt_no", String(32)),
    Column("status", String(20), nullable=False),
    Column("source_kind", String(20), nullable=False),
    _uuid("warehouse_id"),
    _uuid("donation_id"),
    Column("tracking_code", String(32)),
    Column("donor_display_name", String(200)),
    Column("procurement_order", String(64)),
    Column("supplier", String(200)),
    _uuid("transfer_dispatch_id"),
    Column("lines", JSONB, nullable=False),
    Column("received_lines", JSONB),
    Column("note", Text),
    Column("announced_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True)),
    Column("received_by", String(64)),
    Column("created_by", String(64)),
    Column("version", Integer, nullable=False),
    # the project a goods gift was designated to; the disbursement that paid for a purchase
    # (migration 0005): both carried on to the lots received
    Column("designated_project", String(32)),
    _uuid("disbursement_id"),
)

lots = Table(
    "lots",
    metadata,
    _uuid("id", primary_key=True),
    Column("lot_no", String(64), nullable=False),
    _uuid("item_id", nullable=False),
    _uuid("warehouse_id", nullable=False),
    Column("expiry_date", Date),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    Column("received_quantity", Integer, nullable=False),
    Column("unit_value_fen", Integer, nullable=False),
    Column("source_kind", String(20), nullable=False),
    _uuid("donation_id"),
    Column("tracking_code", String(32)),
    Column("procurement_order", String(64)),
    _uuid("transfer_dispatch_id"),
    _uuid("inbound_id"),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True)),
    # migration 0005: picked only for a dispatch serving that project (or by an override)
    Column("designated_project", String(32)),
    _uuid("disbursement_id"),  # the disbursement whose money bought the lot
)

stock_movements = Table(
    "stock_movements",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    _uuid("id", nullable=False),
    _uuid("warehouse_id", nullable=False),
    _uuid("item_id", nullable=False),
    _uuid("lot_id"),
    Column("movement", String(20), nullable=False),
    Column("on_hand_delta", Integer, nullable=False),
    Column("reserved_delta", Integer, nullable=False),
    Column("on_hand_after", Integer, nullable=False),
    Column("reserved_after", Integer, nullable=False),
    Column("reference_type", String(20)),
    _uuid("reference_id"),
    Column("reference_no", String(32)),
    Column("note", Text),
    Column("actor", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

stock_counts = Table(
    "stock_counts",
    metadata,
    _uuid("id", primary_key=True),
    _uuid("warehouse_id", nullable=False),
    Column("note", Text),
    Column("counted_by", String(64), nullable=False),
    Column("counted_at", DateTime(timezone=True), nullable=False),
)

stock_adjustments = Table(
    "stock_adjustments",
    metadata,
    _uuid("id", primary_key=True),
    _uuid("stock_count_id"),
    _uuid("lot_id", nullable=False),
    Column("reason", String(20), nullable=False),
    Column("quantity_before", Integer, nullable=False),
    Column("quantity_after", Integer, nullable=False),
    Column("note", Text),
    Column("actor", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    # migration 0005: a write-off above the four-eyes threshold waits (pending) for a second
    # person to apply or reject it
    Column("status", String(10), nullable=False, server_default="applied"),
    Column("delta", Integer, nullable=False),
    Column("value_fen", BigInteger),
    Column("decided_by", String(64)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_reason", Text),
    Column("version", Integer, nullable=False, server_default="1"),
)

dispatches = Table(
    "dispatches",
    metadata,
    _uuid("id", primary_key=True),
    Column("dispatch_no", String(32), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    _uuid("from_warehouse_id", nullable=False),
    Column("destination_kind", String(20), nullable=False),
    Column("destination_name", String(200), nullable=False),
    Column("destination_town", String(20)),
    Column("destination_address", String(200)),
    _uuid("destination_warehouse_id"),
    Column("incident_code", String(32)),
    Column("incident_name", String(100)),
    Column("urgency", String(20), nullable=False),
    Column("lines", JSONB, nullable=False),
    Column("note", Text),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("approved_by", String(64)),
    Column("approved_at", DateTime(timezone=True)),
    Column("decided_reason", Text),
    Column("picked_by", String(64)),
    Column("picked_at", DateTime(timezone=True)),
    Column("waybill_no", String(64)),
    Column("carrier", String(100)),
    Column("shipped_by", String(64)),
    Column("shipped_at", DateTime(timezone=True)),
    Column("recipient_name", String(100)),
    Column("recipient_phone", String(32)),
    Column("recipient_org", String(200)),
    Column("delivery_note", Text),
    Column("delivered_at", DateTime(timezone=True)),
    Column("delivered_by", String(64)),
    Column("closed_by", String(64)),
    Column("closed_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # migration 0005: the project the dispatch serves; an approver's reason to let it pick
    # lots designated to another project
    Column("project_code", String(32)),
    Column("designated_override_reason", Text),
    # migration 0007: the register's recipients the sign-off named, and whom they make
    Column("recipient_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    Column("people_reached", Integer, nullable=False, server_default="0"),
    Column("households_reached", Integer, nullable=False, server_default="0"),
)

# The warehouse's copy of the donation service's recipients register (migration 0007), kept
# from ``recipient_registered.v1``: masked, never a name in clear, phone, address or ID.
recipients = Table(
    "recipients",
    metadata,
    _uuid("id", primary_key=True),
    Column("kind", String(12), nullable=False),
    Column("name_masked", String(200), nullable=False),
    Column("org_kind", String(20)),
    Column("town", String(20), nullable=False),
    Column("household_size", Integer),
    Column("org_code", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

dispatch_allocations = Table(
    "dispatch_allocations",
    metadata,
    _uuid("id", primary_key=True),
    _uuid("dispatch_id", nullable=False),
    _uuid("item_id", nullable=False),
    _uuid("lot_id", nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("delivered_quantity", Integer),
    Column("returned_quantity", Integer),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity_type", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("detail", JSONB, nullable=False),
)

expiry_notices = Table(
    "expiry_notices",
    metadata,
    _uuid("lot_id", primary_key=True),
    Column("scan_date", Date, primary_key=True),
    Column("kind", String(20), primary_key=True),
)


# ------------------------------------------------------------------ preparedness (0006)

category_policies = Table(
    "category_policies",
    metadata,
    Column("category", String(20), primary_key=True),
    Column("reorder_mos", Numeric(5, 2), nullable=False),
    Column("target_mos", Numeric(5, 2), nullable=False),
    Column("lead_time_days", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(64), nullable=False),
)

stock_policies = Table(
    "stock_policies",
    metadata,
    _uuid("warehouse_id", primary_key=True),
    _uuid("item_id", primary_key=True),
    Column("reorder_mos", Numeric(5, 2)),
    Column("target_mos", Numeric(5, 2)),
    Column("min_quantity", Integer),
    Column("max_quantity", Integer),
    Column("lead_time_days", Integer),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(64), nullable=False),
)

preparedness_plans = Table(
    "preparedness_plans",
    metadata,
    _uuid("id", primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("season_start", Date, nullable=False),
    Column("season_end", Date, nullable=False),
    Column("status", String(10), nullable=False),
    _uuid("source_warehouse_id"),  # where "fill the gap" transfers come from (the district)
    Column("note", Text),
    Column("version", Integer, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

plan_towns = Table(
    "plan_towns",
    metadata,
    _uuid("plan_id", primary_key=True),
    Column("town", String(20), primary_key=True),
    Column("people", Integer, nullable=False),
)

plan_norms = Table(
    "plan_norms",
    metadata,
    _uuid("plan_id", primary_key=True),
    _uuid("item_id", primary_key=True),
    Column("per_person", Numeric(10, 3), nullable=False),
)

plan_targets = Table(
    "plan_targets",
    metadata,
    _uuid("plan_id", primary_key=True),
    Column("town", String(20), primary_key=True),
    _uuid("item_id", primary_key=True),
    Column("quantity", Integer, nullable=False),
)

requisitions = Table(
    "requisitions",
    metadata,
    _uuid("id", primary_key=True),
    Column("requisition_no", String(32), nullable=False, unique=True),
    _uuid("warehouse_id", nullable=False),  # the station that asks
    _uuid("source_warehouse_id"),  # the warehouse that gives (set when approved)
    Column("status", String(20), nullable=False),
    Column("lines", JSONB, nullable=False),  # [{item_code, quantity, approved_quantity}]
    Column("reason", Text, nullable=False),
    Column("urgency", String(20), nullable=False),
    _uuid("plan_id"),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(64)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_reason", Text),
    _uuid("dispatch_id"),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

transfer_discrepancies = Table(
    "transfer_discrepancies",
    metadata,
    _uuid("id", primary_key=True),
    _uuid("dispatch_id", nullable=False),
    _uuid("item_id", nullable=False),
    _uuid("lot_id", nullable=False),
    Column("kind", String(10), nullable=False),  # short | damaged
    Column("quantity", Integer, nullable=False),
    Column("value_fen", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("recorded_by", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

preparedness_signals = Table(
    "preparedness_signals",
    metadata,
    Column("key", String(160), primary_key=True),
    Column("kind", String(20), nullable=False),  # below_reorder | plan_gap
    Column("active", Boolean, nullable=False),
    Column("detail", JSONB, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
