"""Preparedness alerts (smart preparedness, 智慧备灾): ``below_reorder`` and ``plan_gap``.

- ``alerts.kind`` also allows ``below_reorder`` (an item in a warehouse below its reorder
  threshold in months of stock) and ``plan_gap`` (a town holding less than the active season
  plan targets). A plan gap's alert is keyed by ``warehouse_code = <plan_code>/<town>`` and
  the item code, so the one-unresolved-alert index covers it unchanged.
- ``alert_preparedness_signals``: the latest signal per (kind, key) read from
  ``warehouse.events`` (highest ``version`` wins), so a redelivered or late signal cannot
  reopen an alert a newer one resolved.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD_KINDS = "'low_stock', 'out_of_stock', 'near_expiry', 'expired'"
NEW_KINDS = f"{OLD_KINDS}, 'below_reorder', 'plan_gap'"


def upgrade() -> None:
    op.execute("ALTER TABLE alerts DROP CONSTRAINT alerts_kind_check")
    op.execute(f"ALTER TABLE alerts ADD CONSTRAINT alerts_kind_check CHECK (kind IN ({NEW_KINDS}))")
    op.execute(
        """
        CREATE TABLE alert_preparedness_signals (
            kind VARCHAR(20) NOT NULL CHECK (kind IN ('below_reorder', 'plan_gap')),
            signal_key VARCHAR(200) NOT NULL,
            active BOOLEAN NOT NULL,
            version BIGINT NOT NULL CHECK (version >= 1),
            assessed_at TIMESTAMPTZ NOT NULL,
            event_id VARCHAR(200) NOT NULL,
            PRIMARY KEY (kind, signal_key)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE alert_preparedness_signals")
    op.execute(
        """
        DELETE FROM notice_deliveries WHERE notice_id IN (
            SELECT n.id FROM notices n JOIN alerts a ON a.id = n.alert_id
            WHERE a.kind IN ('below_reorder', 'plan_gap')
        )
        """
    )
    op.execute(
        "DELETE FROM notices WHERE alert_id IN "
        "(SELECT id FROM alerts WHERE kind IN ('below_reorder', 'plan_gap'))"
    )
    op.execute(
        "UPDATE alerts SET previous_alert_id = NULL WHERE kind IN ('below_reorder', 'plan_gap')"
    )
    op.execute("DELETE FROM alerts WHERE kind IN ('below_reorder', 'plan_gap')")
    op.execute("ALTER TABLE alerts DROP CONSTRAINT alerts_kind_check")
    op.execute(f"ALTER TABLE alerts ADD CONSTRAINT alerts_kind_check CHECK (kind IN ({OLD_KINDS}))")
