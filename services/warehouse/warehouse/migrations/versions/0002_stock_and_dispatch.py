"""Warehouses, items, lots, inbounds, stock levels and card, counts, dispatches, audit log.

Expected inbounds from 0001 move into ``inbounds`` (status ``expected``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DDL = [
    "CREATE SEQUENCE receipt_no_seq",
    "CREATE SEQUENCE dispatch_no_seq",
    """
    CREATE TABLE warehouses (
        id UUID PRIMARY KEY,
        code VARCHAR(32) NOT NULL UNIQUE,
        name VARCHAR(100) NOT NULL,
        kind VARCHAR(20) NOT NULL CHECK (kind IN ('district', 'station')),
        town VARCHAR(20),
        address VARCHAR(200),
        active BOOLEAN NOT NULL DEFAULT true,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE items (
        id UUID PRIMARY KEY,
        code VARCHAR(64) NOT NULL UNIQUE,
        name VARCHAR(100) NOT NULL,
        category VARCHAR(20) NOT NULL CHECK (category IN ('shelter', 'food', 'water',
            'medical', 'lighting_power', 'clothing_bedding', 'hygiene')),
        unit VARCHAR(20) NOT NULL,
        lot_tracked BOOLEAN NOT NULL DEFAULT false,
        unit_value_fen INTEGER NOT NULL DEFAULT 0 CHECK (unit_value_fen >= 0),
        default_safety_stock INTEGER NOT NULL DEFAULT 0 CHECK (default_safety_stock >= 0),
        active BOOLEAN NOT NULL DEFAULT true,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE stock_levels (
        warehouse_id UUID NOT NULL REFERENCES warehouses(id),
        item_id UUID NOT NULL REFERENCES items(id),
        on_hand INTEGER NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
        reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= on_hand),
        safety_stock INTEGER NOT NULL DEFAULT 0 CHECK (safety_stock >= 0),
        version INTEGER NOT NULL DEFAULT 0,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (warehouse_id, item_id)
    )
    """,
    """
    CREATE TABLE inbounds (
        id UUID PRIMARY KEY,
        receipt_no VARCHAR(32) UNIQUE,
        status VARCHAR(20) NOT NULL CHECK (status IN ('expected', 'received', 'cancelled')),
        source_kind VARCHAR(20) NOT NULL
            CHECK (source_kind IN ('donation', 'procurement', 'transfer')),
        warehouse_id UUID REFERENCES warehouses(id),
        donation_id UUID UNIQUE,
        tracking_code VARCHAR(32),
        donor_display_name VARCHAR(200),
        procurement_order VARCHAR(64),
        supplier VARCHAR(200),
        transfer_dispatch_id UUID UNIQUE,
        lines JSONB NOT NULL,
        received_lines JSONB,
        note TEXT,
        announced_at TIMESTAMPTZ NOT NULL,
        received_at TIMESTAMPTZ,
        received_by VARCHAR(64),
        created_by VARCHAR(64),
        version INTEGER NOT NULL DEFAULT 1
    )
    """,
    "CREATE INDEX inbounds_status ON inbounds (status, announced_at DESC, id DESC)",
    """
    INSERT INTO inbounds (id, status, source_kind, donation_id, tracking_code,
                          donor_display_name, lines, announced_at)
    SELECT id, status, 'donation', donation_id, tracking_code, donor_display_name, lines,
           announced_at
    FROM expected_inbounds
    """,
    "DROP TABLE expected_inbounds",
    """
    CREATE TABLE lots (
        id UUID PRIMARY KEY,
        lot_no VARCHAR(64) NOT NULL,
        item_id UUID NOT NULL REFERENCES items(id),
        warehouse_id UUID NOT NULL REFERENCES warehouses(id),
        expiry_date DATE,
        on_hand INTEGER NOT NULL CHECK (on_hand >= 0),
        reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= on_hand),
        received_quantity INTEGER NOT NULL CHECK (received_quantity >= 0),
        unit_value_fen INTEGER NOT NULL DEFAULT 0 CHECK (unit_value_fen >= 0),
        source_kind VARCHAR(20) NOT NULL
            CHECK (source_kind IN ('donation', 'procurement', 'transfer', 'count')),
        donation_id UUID,
        tracking_code VARCHAR(32),
        procurement_order VARCHAR(64),
        transfer_dispatch_id UUID,
        inbound_id UUID REFERENCES inbounds(id),
        received_at TIMESTAMPTZ NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX lots_pick ON lots (warehouse_id, item_id, expiry_date)",
    "CREATE INDEX lots_expiry ON lots (expiry_date) WHERE on_hand > 0",
    "CREATE INDEX lots_donation ON lots (donation_id) WHERE donation_id IS NOT NULL",
    """
    CREATE TABLE stock_movements (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id UUID NOT NULL UNIQUE,
        warehouse_id UUID NOT NULL REFERENCES warehouses(id),
        item_id UUID NOT NULL REFERENCES items(id),
        lot_id UUID REFERENCES lots(id),
        movement VARCHAR(20) NOT NULL,
        on_hand_delta INTEGER NOT NULL,
        reserved_delta INTEGER NOT NULL,
        on_hand_after INTEGER NOT NULL CHECK (on_hand_after >= 0),
        reserved_after INTEGER NOT NULL CHECK (reserved_after >= 0),
        reference_type VARCHAR(20),
        reference_id UUID,
        reference_no VARCHAR(32),
        note TEXT,
        actor VARCHAR(64) NOT NULL,
        at TIMESTAMPTZ NOT NULL
    )
    """,
    "CREATE INDEX stock_movements_card ON stock_movements (warehouse_id, item_id, seq)",
    """
    CREATE TABLE stock_counts (
        id UUID PRIMARY KEY,
        warehouse_id UUID NOT NULL REFERENCES warehouses(id),
        note TEXT,
        counted_by VARCHAR(64) NOT NULL,
        counted_at TIMESTAMPTZ NOT NULL
    )
    """,
    """
    CREATE TABLE stock_adjustments (
        id UUID PRIMARY KEY,
        stock_count_id UUID REFERENCES stock_counts(id),
        lot_id UUID NOT NULL REFERENCES lots(id),
        reason VARCHAR(20) NOT NULL
            CHECK (reason IN ('lost', 'damaged', 'expired', 'found', 'correction')),
        quantity_before INTEGER NOT NULL,
        quantity_after INTEGER NOT NULL CHECK (quantity_after >= 0),
        note TEXT,
        actor VARCHAR(64) NOT NULL,
        at TIMESTAMPTZ NOT NULL
    )
    """,
    """
    CREATE TABLE dispatches (
        id UUID PRIMARY KEY,
        dispatch_no VARCHAR(32) NOT NULL UNIQUE,
        kind VARCHAR(20) NOT NULL CHECK (kind IN ('dispatch', 'transfer')),
        status VARCHAR(20) NOT NULL CHECK (status IN ('requested', 'approved', 'picked',
            'shipped', 'delivered', 'rejected', 'cancelled')),
        from_warehouse_id UUID NOT NULL REFERENCES warehouses(id),
        destination_kind VARCHAR(20) NOT NULL
            CHECK (destination_kind IN ('warehouse', 'station', 'shelter', 'site')),
        destination_name VARCHAR(200) NOT NULL,
        destination_town VARCHAR(20),
        destination_address VARCHAR(200),
        destination_warehouse_id UUID REFERENCES warehouses(id),
        incident_code VARCHAR(32),
        incident_name VARCHAR(100),
        urgency VARCHAR(20) NOT NULL CHECK (urgency IN ('normal', 'urgent', 'critical')),
        lines JSONB NOT NULL,
        note TEXT,
        requested_by VARCHAR(64) NOT NULL,
        requested_at TIMESTAMPTZ NOT NULL,
        approved_by VARCHAR(64),
        approved_at TIMESTAMPTZ,
        decided_reason TEXT,
        picked_by VARCHAR(64),
        picked_at TIMESTAMPTZ,
        waybill_no VARCHAR(64),
        carrier VARCHAR(100),
        shipped_by VARCHAR(64),
        shipped_at TIMESTAMPTZ,
        recipient_name VARCHAR(100),
        recipient_phone VARCHAR(32),
        recipient_org VARCHAR(200),
        delivery_note TEXT,
        delivered_at TIMESTAMPTZ,
        delivered_by VARCHAR(64),
        closed_by VARCHAR(64),
        closed_at TIMESTAMPTZ,
        version INTEGER NOT NULL DEFAULT 1,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX dispatches_list ON dispatches (requested_at DESC, id DESC)",
    "CREATE INDEX dispatches_status ON dispatches (status)",
    """
    CREATE TABLE dispatch_allocations (
        id UUID PRIMARY KEY,
        dispatch_id UUID NOT NULL REFERENCES dispatches(id),
        item_id UUID NOT NULL REFERENCES items(id),
        lot_id UUID NOT NULL REFERENCES lots(id),
        quantity INTEGER NOT NULL CHECK (quantity > 0),
        delivered_quantity INTEGER CHECK (delivered_quantity >= 0),
        returned_quantity INTEGER CHECK (returned_quantity >= 0),
        UNIQUE (dispatch_id, lot_id)
    )
    """,
    """
    CREATE TABLE audit_log (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at TIMESTAMPTZ NOT NULL DEFAULT now(),
        actor VARCHAR(64) NOT NULL,
        action VARCHAR(64) NOT NULL,
        entity_type VARCHAR(32) NOT NULL,
        entity_id VARCHAR(64) NOT NULL,
        detail JSONB NOT NULL DEFAULT '{}'::jsonb
    )
    """,
    "CREATE INDEX audit_entity ON audit_log (entity_type, entity_id, seq)",
    """
    CREATE TABLE expiry_notices (
        lot_id UUID NOT NULL REFERENCES lots(id),
        scan_date DATE NOT NULL,
        kind VARCHAR(20) NOT NULL CHECK (kind IN ('near_expiry', 'expired')),
        PRIMARY KEY (lot_id, scan_date, kind)
    )
    """,
]


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute(
        """
        CREATE TABLE expected_inbounds (
            id UUID PRIMARY KEY,
            donation_id UUID NOT NULL UNIQUE,
            tracking_code VARCHAR(32) NOT NULL,
            donor_display_name VARCHAR(200) NOT NULL,
            lines JSONB NOT NULL,
            status VARCHAR(20) NOT NULL DEFAULT 'expected',
            announced_at TIMESTAMPTZ NOT NULL
        )
        """
    )
    op.execute(
        """
        INSERT INTO expected_inbounds
        SELECT id, donation_id, tracking_code, donor_display_name, lines, status, announced_at
        FROM inbounds WHERE source_kind = 'donation' AND status = 'expected'
        """
    )
    for table in (
        "expiry_notices",
        "audit_log",
        "dispatch_allocations",
        "dispatches",
        "stock_adjustments",
        "stock_counts",
        "stock_movements",
        "lots",
        "inbounds",
        "stock_levels",
        "items",
        "warehouses",
    ):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP SEQUENCE dispatch_no_seq")
    op.execute("DROP SEQUENCE receipt_no_seq")
