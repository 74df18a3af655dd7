"""Stock alerts and notices: alert state, the stock/lot facts alerts derive from, notices and
their per-channel deliveries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

- ``alert_stock_levels`` / ``alert_lots`` / ``alert_lot_quantities``: the latest stock level per
  (warehouse, item) (highest version wins; ``last_zero_at``: the latest time it had nothing on
  hand), the latest expiry scan per lot, and every quantity fact per lot, as read from
  ``warehouse.events``, so redelivery and reordering cannot resurrect old state.
- ``alerts``: one row per occurrence; a partial unique index allows one unresolved alert per
  (kind, item, warehouse).
- ``notices``: one logical notice (unique ``notice_key``: the donation service's notice id, or
  ``alert:<id>:<event>``); ``notice_deliveries``: one row per channel and address, claimed by
  the delivery worker with ``FOR UPDATE SKIP LOCKED``; contact details are scrubbed once a
  delivery is final.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DDL = [
    """
    CREATE TABLE alert_stock_levels (
        warehouse_code VARCHAR(64) NOT NULL,
        item_code VARCHAR(64) NOT NULL,
        warehouse_name VARCHAR(200) NOT NULL,
        item_name VARCHAR(200) NOT NULL,
        unit VARCHAR(20) NOT NULL,
        on_hand INTEGER NOT NULL,
        reserved INTEGER NOT NULL,
        available INTEGER NOT NULL,
        safety_stock INTEGER NOT NULL,
        version BIGINT NOT NULL,
        changed_at TIMESTAMPTZ NOT NULL,
        last_zero_at TIMESTAMPTZ,
        PRIMARY KEY (warehouse_code, item_code)
    )
    """,
    """
    CREATE TABLE alert_lots (
        lot_id UUID PRIMARY KEY,
        lot_no VARCHAR(64) NOT NULL,
        warehouse_code VARCHAR(64) NOT NULL,
        warehouse_name VARCHAR(200) NOT NULL,
        item_code VARCHAR(64) NOT NULL,
        item_name VARCHAR(200) NOT NULL,
        unit VARCHAR(20) NOT NULL,
        expiry_date DATE NOT NULL,
        state VARCHAR(16) NOT NULL CHECK (state IN ('near_expiry', 'expired')),
        on_hand INTEGER NOT NULL CHECK (on_hand >= 0),
        observed_at TIMESTAMPTZ NOT NULL
    )
    """,
    "CREATE INDEX ix_alert_lots_item ON alert_lots (warehouse_code, item_code)",
    # Every quantity fact about a lot, keyed by the event that told it: an absolute count
    # ('set': an expiry scan, an adjustment) or a change ('delta': a shipment). The quantity
    # on hand is the newest 'set' plus the deltas after it, so the order in which events of
    # different partitions arrive does not change the outcome.
    """
    CREATE TABLE alert_lot_quantities (
        lot_id UUID NOT NULL,
        event_id VARCHAR(200) NOT NULL,
        at TIMESTAMPTZ NOT NULL,
        kind VARCHAR(8) NOT NULL CHECK (kind IN ('set', 'delta')),
        quantity INTEGER NOT NULL,
        PRIMARY KEY (lot_id, event_id)
    )
    """,
    """
    CREATE TABLE alerts (
        id UUID PRIMARY KEY,
        kind VARCHAR(32) NOT NULL
            CHECK (kind IN ('low_stock', 'out_of_stock', 'near_expiry', 'expired')),
        warehouse_code VARCHAR(64) NOT NULL,
        item_code VARCHAR(64) NOT NULL,
        warehouse_name VARCHAR(200) NOT NULL,
        item_name VARCHAR(200) NOT NULL,
        status VARCHAR(16) NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
        details JSONB NOT NULL,
        occurrence INTEGER NOT NULL DEFAULT 1,
        previous_alert_id UUID REFERENCES alerts (id),
        raised_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        acknowledged_at TIMESTAMPTZ,
        acknowledged_by VARCHAR(100),
        acknowledge_note TEXT,
        escalated_at TIMESTAMPTZ,
        resolved_at TIMESTAMPTZ,
        resolution VARCHAR(16) CHECK (resolution IN ('cleared', 'superseded')),
        source_event_id VARCHAR(200) NOT NULL,
        resolved_by_event_id VARCHAR(200),
        CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
    )
    """,
    # The invariant: one unresolved alert per (kind, item, warehouse).
    "CREATE UNIQUE INDEX ux_alerts_one_unresolved ON alerts (kind, item_code, warehouse_code) "
    "WHERE resolved_at IS NULL",
    "CREATE INDEX ix_alerts_raised ON alerts (raised_at DESC, id DESC)",
    "CREATE INDEX ix_alerts_escalation_due ON alerts (raised_at) "
    "WHERE status = 'open' AND escalated_at IS NULL",
    """
    CREATE TABLE notices (
        id UUID PRIMARY KEY,
        notice_key VARCHAR(200) NOT NULL UNIQUE,
        audience VARCHAR(8) NOT NULL CHECK (audience IN ('donor', 'staff')),
        kind VARCHAR(40) NOT NULL,
        status VARCHAR(16) NOT NULL
            CHECK (status IN ('pending', 'delivered', 'failed', 'undeliverable')),
        subject VARCHAR(300),
        body TEXT,
        data JSONB NOT NULL DEFAULT '{}'::jsonb,
        donation_id UUID,
        alert_id UUID REFERENCES alerts (id),
        source_event_id VARCHAR(200),
        expires_at TIMESTAMPTZ,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        completed_at TIMESTAMPTZ,
        scrubbed_at TIMESTAMPTZ
    )
    """,
    "CREATE INDEX ix_notices_donation ON notices (donation_id)",
    "CREATE INDEX ix_notices_alert ON notices (alert_id)",
    """
    CREATE TABLE notice_deliveries (
        id UUID PRIMARY KEY,
        notice_id UUID NOT NULL REFERENCES notices (id),
        channel VARCHAR(32) NOT NULL,
        address TEXT,
        status VARCHAR(8) NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TIMESTAMPTZ NOT NULL,
        last_error TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        sent_at TIMESTAMPTZ,
        dead_at TIMESTAMPTZ,
        CHECK (status = 'pending' OR address IS NULL OR channel = 'webhook')
    )
    """,
    "CREATE INDEX ix_deliveries_due ON notice_deliveries (next_attempt_at) "
    "WHERE status = 'pending'",
    "CREATE INDEX ix_deliveries_notice ON notice_deliveries (notice_id)",
]


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "notice_deliveries",
        "notices",
        "alerts",
        "alert_lot_quantities",
        "alert_lots",
        "alert_stock_levels",
    ):
        op.execute(f"DROP TABLE {table}")
