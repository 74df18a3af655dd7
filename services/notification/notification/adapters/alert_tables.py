"""Tables of stock alerts and notices (SQLAlchemy Core; the DDL is migrations 0003 and 0010)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

stock_levels = Table(
    "alert_stock_levels",
    metadata,
    Column("warehouse_code", String(64), primary_key=True),
    Column("item_code", String(64), primary_key=True),
    Column("warehouse_name", String(200), nullable=False),
    Column("item_name", String(200), nullable=False),
    Column("unit", String(20), nullable=False),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    Column("available", Integer, nullable=False),
    Column("safety_stock", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("last_zero_at", DateTime(timezone=True)),
)

lots = Table(
    "alert_lots",
    metadata,
    Column("lot_id", UUID(as_uuid=True), primary_key=True),
    Column("lot_no", String(64), nullable=False),
    Column("warehouse_code", String(64), nullable=False),
    Column("warehouse_name", String(200), nullable=False),
    Column("item_code", String(64), nullable=False),
    Column("item_name", String(200), nullable=False),
    Column("unit", String(20), nullable=False),
    Column("expiry_date", Date, nullable=False),
    Column("state", String(16), nullable=False),
    Column("on_hand", Integer, nullable=False),
    Column("observed_at", DateTime(timezone=True), nullable=False),
)

lot_quantities = Table(
    "alert_lot_quantities",
    metadata,
    Column("lot_id", UUID(as_uuid=True), primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("quantity", Integer, nullable=False),
)

# The latest preparedness signal per (kind, key): migration 0010
preparedness_signals = Table(
    "alert_preparedness_signals",
    metadata,
    Column("kind", String(20), primary_key=True),
    Column("signal_key", String(200), primary_key=True),
    Column("active", Boolean, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("assessed_at", DateTime(timezone=True), nullable=False),
    Column("event_id", String(200), nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("warehouse_code", String(64), nullable=False),
    Column("item_code", String(64), nullable=False),
    Column("warehouse_name", String(200), nullable=False),
    Column("item_name", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("details", JSONB, nullable=False),
    Column("occurrence", Integer, nullable=False),
    Column("previous_alert_id", UUID(as_uuid=True)),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("acknowledged_by", String(100)),
    Column("acknowledge_note", Text),
    Column("escalated_at", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolution", String(16)),
    Column("source_event_id", String(200), nullable=False),
    Column("resolved_by_event_id", String(200)),
)

notices = Table(
    "notices",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("notice_key", String(200), nullable=False, unique=True),
    Column("audience", String(8), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("subject", String(300)),
    Column("body", Text),
    Column("data", JSONB, nullable=False),
    Column("donation_id", UUID(as_uuid=True)),
    Column("alert_id", UUID(as_uuid=True)),
    Column("source_event_id", String(200)),
    Column("expires_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
    Column("scrubbed_at", DateTime(timezone=True)),
)

deliveries = Table(
    "notice_deliveries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("notice_id", UUID(as_uuid=True), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("address", Text),
    Column("status", String(8), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("dead_at", DateTime(timezone=True)),
)

# LISTEN/NOTIFY channels: a committed notice wakes the delivery worker; a committed alert
# change makes the monitor recompute the open-alerts gauge.
NOTICES_CHANNEL = "sunshine_notices"
ALERTS_CHANNEL = "sunshine_alerts"
