"""Smart preparedness (智慧备灾): stock policies, season plans, requisitions, transit
discrepancies, and the last published preparedness signals.

- ``category_policies``: per category the default reorder and target months of stock and the
  lead time (seeded with documented defaults, changed by API, audited).
- ``stock_policies``: per warehouse and item, an override: reorder/target MOS, or min/max
  quantities, and a lead time.
- ``preparedness_plans`` with ``plan_towns`` (people to serve per town), ``plan_norms``
  (quantity per person per item) and ``plan_targets`` (a target entered directly for a town
  and item, instead of people × norm).
- ``requisitions`` (请领): a station asks the district for stock; approved, partly approved or
  refused with a reason; an approved one names the transfer dispatch it became.
- ``transfer_discrepancies``: what did not arrive (short) or arrived damaged, per lot, with a
  reason, recorded when the receiving station confirms a transfer.
- ``preparedness_signals``: the last state published per signal (below reorder threshold,
  plan gap), so that an unchanged state is not published again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Defaults per category (reorder MOS, target MOS, lead time in days); see docs/preparedness.md
DEFAULTS = {
    "shelter": (3, 6, 30),
    "food": (2, 4, 14),
    "water": (2, 4, 14),
    "medical": (2, 4, 30),
    "lighting_power": (3, 6, 30),
    "clothing_bedding": (3, 6, 30),
    "hygiene": (2, 4, 14),
}


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE category_policies (
            category VARCHAR(20) PRIMARY KEY,
            reorder_mos NUMERIC(5, 2) NOT NULL CHECK (reorder_mos >= 0),
            target_mos NUMERIC(5, 2) NOT NULL CHECK (target_mos > 0),
            lead_time_days INTEGER NOT NULL CHECK (lead_time_days >= 0),
            version INTEGER NOT NULL DEFAULT 1,
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            updated_by VARCHAR(64) NOT NULL DEFAULT 'migration',
            CHECK (target_mos >= reorder_mos)
        )
        """
    )
    defaults = sa.table(
        "category_policies",
        sa.column("category", sa.String),
        sa.column("reorder_mos", sa.Numeric),
        sa.column("target_mos", sa.Numeric),
        sa.column("lead_time_days", sa.Integer),
    )
    op.bulk_insert(
        defaults,
        [
            {"category": c, "reorder_mos": r, "target_mos": t, "lead_time_days": lead}
            for c, (r, t, lead) in DEFAULTS.items()
        ],
    )
    op.execute(
        """
        CREATE TABLE stock_policies (
            warehouse_id UUID NOT NULL REFERENCES warehouses (id),
            item_id UUID NOT NULL REFERENCES items (id),
            reorder_mos NUMERIC(5, 2) CHECK (reorder_mos >= 0),
            target_mos NUMERIC(5, 2) CHECK (target_mos > 0),
            min_quantity INTEGER CHECK (min_quantity >= 0),
            max_quantity INTEGER CHECK (max_quantity > 0),
            lead_time_days INTEGER CHECK (lead_time_days >= 0),
            version INTEGER NOT NULL DEFAULT 1,
            updated_at TIMESTAMPTZ NOT NULL,
            updated_by VARCHAR(64) NOT NULL,
            PRIMARY KEY (warehouse_id, item_id),
            CHECK ((min_quantity IS NULL) = (max_quantity IS NULL)),
            CHECK (max_quantity IS NULL OR max_quantity >= min_quantity),
            CHECK (target_mos IS NULL OR reorder_mos IS NULL OR target_mos >= reorder_mos)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE preparedness_plans (
            id UUID PRIMARY KEY,
            code VARCHAR(32) NOT NULL UNIQUE,
            name VARCHAR(100) NOT NULL,
            season_start DATE NOT NULL,
            season_end DATE NOT NULL,
            status VARCHAR(10) NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'active', 'closed')),
            source_warehouse_id UUID REFERENCES warehouses (id),
            note TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            created_by VARCHAR(64) NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            CHECK (season_end >= season_start)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE plan_towns (
            plan_id UUID NOT NULL REFERENCES preparedness_plans (id) ON DELETE CASCADE,
            town VARCHAR(20) NOT NULL,
            people INTEGER NOT NULL CHECK (people >= 0),
            PRIMARY KEY (plan_id, town)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE plan_norms (
            plan_id UUID NOT NULL REFERENCES preparedness_plans (id) ON DELETE CASCADE,
            item_id UUID NOT NULL REFERENCES items (id),
            per_person NUMERIC(10, 3) NOT NULL CHECK (per_person >= 0),
            PRIMARY KEY (plan_id, item_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE plan_targets (
            plan_id UUID NOT NULL REFERENCES preparedness_plans (id) ON DELETE CASCADE,
            town VARCHAR(20) NOT NULL,
            item_id UUID NOT NULL REFERENCES items (id),
            quantity INTEGER NOT NULL CHECK (quantity >= 0),
            PRIMARY KEY (plan_id, town, item_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE requisitions (
            id UUID PRIMARY KEY,
            requisition_no VARCHAR(32) NOT NULL UNIQUE,
            warehouse_id UUID NOT NULL REFERENCES warehouses (id),
            source_warehouse_id UUID REFERENCES warehouses (id),
            status VARCHAR(20) NOT NULL
                CHECK (status IN ('requested', 'approved', 'partly_approved', 'refused',
                                  'cancelled')),
            lines JSONB NOT NULL,
            reason TEXT NOT NULL,
            urgency VARCHAR(20) NOT NULL DEFAULT 'normal',
            plan_id UUID REFERENCES preparedness_plans (id),
            requested_by VARCHAR(64) NOT NULL,
            requested_at TIMESTAMPTZ NOT NULL,
            decided_by VARCHAR(64),
            decided_at TIMESTAMPTZ,
            decided_reason TEXT,
            dispatch_id UUID REFERENCES dispatches (id),
            version INTEGER NOT NULL DEFAULT 1,
            updated_at TIMESTAMPTZ NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX requisitions_status ON requisitions (status, requested_at)")
    op.execute(
        """
        CREATE TABLE transfer_discrepancies (
            id UUID PRIMARY KEY,
            dispatch_id UUID NOT NULL REFERENCES dispatches (id),
            item_id UUID NOT NULL REFERENCES items (id),
            lot_id UUID NOT NULL REFERENCES lots (id),
            kind VARCHAR(10) NOT NULL CHECK (kind IN ('short', 'damaged')),
            quantity INTEGER NOT NULL CHECK (quantity > 0),
            value_fen BIGINT NOT NULL CHECK (value_fen >= 0),
            reason TEXT NOT NULL,
            recorded_by VARCHAR(64) NOT NULL,
            recorded_at TIMESTAMPTZ NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX transfer_discrepancies_dispatch ON transfer_discrepancies (dispatch_id)"
    )
    op.execute(
        """
        CREATE TABLE preparedness_signals (
            key VARCHAR(160) PRIMARY KEY,
            kind VARCHAR(20) NOT NULL CHECK (kind IN ('below_reorder', 'plan_gap')),
            active BOOLEAN NOT NULL,
            detail JSONB NOT NULL,
            version INTEGER NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        )
        """
    )
    # consumption reads shipments by warehouse, item and time
    op.execute(
        "CREATE INDEX stock_movements_consumption ON stock_movements "
        "(warehouse_id, item_id, at) INCLUDE (movement, on_hand_delta, on_hand_after, "
        "reference_id)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS stock_movements_consumption")
    for table in (
        "preparedness_signals",
        "transfer_discrepancies",
        "requisitions",
        "plan_targets",
        "plan_norms",
        "plan_towns",
        "preparedness_plans",
        "stock_policies",
        "category_policies",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table}")
