"""Money and goods that must never get stuck: four eyes on large write-offs, designated
goods, goods bought with donated money.

- ``stock_adjustments`` gains a life cycle: ``status`` ``applied`` (every adjustment so far,
  and one below the four-eyes threshold), ``pending`` (a write-off worth more than
  ``WAREHOUSE_WRITE_OFF_FOUR_EYES_FEN``, waiting for a second person), ``rejected``; the
  requested ``delta``, its ``value_fen``, who decided, when and why, and a ``version``. At most
  one pending write-off per lot.
- ``inbounds`` and ``lots`` carry ``designated_project`` (the project a goods gift was
  designated to) and ``disbursement_id`` (the disbursement whose money bought the goods).
- ``dispatches`` name the ``project_code`` they serve, and record an approver's override of
  the designation (``designated_override_reason``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE stock_adjustments
            ADD COLUMN status VARCHAR(10) NOT NULL DEFAULT 'applied'
                CHECK (status IN ('applied', 'pending', 'rejected')),
            ADD COLUMN delta INTEGER,
            ADD COLUMN value_fen BIGINT CHECK (value_fen >= 0),
            ADD COLUMN decided_by VARCHAR(64),
            ADD COLUMN decided_at TIMESTAMPTZ,
            ADD COLUMN decided_reason TEXT,
            ADD COLUMN version INTEGER NOT NULL DEFAULT 1
        """
    )
    op.execute("UPDATE stock_adjustments SET delta = quantity_after - quantity_before")
    op.execute("ALTER TABLE stock_adjustments ALTER COLUMN delta SET NOT NULL")
    op.execute(
        "CREATE UNIQUE INDEX stock_adjustments_one_pending ON stock_adjustments (lot_id) "
        "WHERE status = 'pending'"
    )
    op.execute(
        "CREATE INDEX stock_adjustments_pending ON stock_adjustments (at) WHERE status = 'pending'"
    )
    for table in ("inbounds", "lots"):
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN designated_project VARCHAR(32), "
            "ADD COLUMN disbursement_id UUID"
        )
    op.execute(
        "CREATE INDEX lots_disbursement ON lots (disbursement_id) WHERE disbursement_id IS NOT NULL"
    )
    op.execute(
        "ALTER TABLE dispatches ADD COLUMN project_code VARCHAR(32), "
        "ADD COLUMN designated_override_reason TEXT"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE dispatches DROP COLUMN designated_override_reason, DROP COLUMN project_code"
    )
    op.execute("DROP INDEX lots_disbursement")
    for table in ("lots", "inbounds"):
        op.execute(
            f"ALTER TABLE {table} DROP COLUMN disbursement_id, DROP COLUMN designated_project"
        )
    op.execute("DROP INDEX stock_adjustments_pending")
    op.execute("DROP INDEX stock_adjustments_one_pending")
    op.execute("DELETE FROM stock_adjustments WHERE status <> 'applied'")
    op.execute(
        """
        ALTER TABLE stock_adjustments
            DROP COLUMN version,
            DROP COLUMN decided_reason,
            DROP COLUMN decided_at,
            DROP COLUMN decided_by,
            DROP COLUMN value_fen,
            DROP COLUMN delta,
            DROP COLUMN status
        """
    )
