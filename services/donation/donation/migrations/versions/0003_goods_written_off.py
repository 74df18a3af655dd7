"""Goods lineage: donated goods written off in the warehouse (lost, damaged, expired).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE goods_lineage DROP CONSTRAINT goods_lineage_stage_check")
    op.execute(
        "ALTER TABLE goods_lineage ADD CONSTRAINT goods_lineage_stage_check "
        "CHECK (stage IN ('in_stock', 'dispatched', 'signed', 'written_off'))"
    )


def downgrade() -> None:
    op.execute("DELETE FROM goods_lineage WHERE stage = 'written_off'")
    op.execute("ALTER TABLE goods_lineage DROP CONSTRAINT goods_lineage_stage_check")
    op.execute(
        "ALTER TABLE goods_lineage ADD CONSTRAINT goods_lineage_stage_check "
        "CHECK (stage IN ('in_stock', 'dispatched', 'signed'))"
    )
