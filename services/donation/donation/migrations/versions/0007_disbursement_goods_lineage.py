"""Goods bought with donated money: the goods lineage follows a disbursement too.

A procurement inbound in the warehouse can name the disbursement that paid for it; its lots
carry it and the warehouse's events say so. ``goods_lineage`` records those lots' movements
(received, dispatched, signed for, written off) against the disbursement
(``disbursement_id``) rather than a goods gift, so ``donation_id`` becomes optional: a row
belongs to a goods gift or to a disbursement (at least one). A donor's tracking page follows
their fen from each disbursement that drew on their gift into those goods.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE goods_lineage ADD COLUMN disbursement_id UUID REFERENCES disbursements (id)"
    )
    op.execute("ALTER TABLE goods_lineage ALTER COLUMN donation_id DROP NOT NULL")
    op.execute(
        "ALTER TABLE goods_lineage ADD CONSTRAINT goods_lineage_owner_check "
        "CHECK (donation_id IS NOT NULL OR disbursement_id IS NOT NULL)"
    )
    op.execute(
        "CREATE INDEX ix_goods_lineage_disbursement ON goods_lineage (disbursement_id, at) "
        "WHERE disbursement_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_goods_lineage_disbursement")
    op.execute("DELETE FROM goods_lineage WHERE donation_id IS NULL")
    op.execute("ALTER TABLE goods_lineage DROP CONSTRAINT goods_lineage_owner_check")
    op.execute("ALTER TABLE goods_lineage ALTER COLUMN donation_id SET NOT NULL")
    op.execute("ALTER TABLE goods_lineage DROP COLUMN disbursement_id")
