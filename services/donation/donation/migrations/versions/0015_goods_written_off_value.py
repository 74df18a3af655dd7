"""A goods gift's units written off in the warehouse (damaged, lost, expired) count by value
(``donations.written_off_fen``), at the value the donor's line gave each unit, so they are no
longer shown as "remaining" until the gift completes (issue 14). Filled here from the goods
lineage already recorded, with the same rule as :func:`donation.domain.figures.goods_used_fen`:
lines of one item are one pool; at most the pledged quantity counts; never beyond what is
neither used nor refunded.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE donations ADD COLUMN written_off_fen BIGINT NOT NULL DEFAULT 0 "
        "CHECK (written_off_fen >= 0)"
    )
    op.execute(
        """
        WITH lines AS (
            SELECT donation_id, item_code, sum(quantity) AS q, sum(value_fen) AS v
            FROM donation_items GROUP BY donation_id, item_code
        ), gone AS (
            SELECT donation_id, item_code, sum(quantity) AS q
            FROM goods_lineage
            WHERE stage = 'written_off' AND donation_id IS NOT NULL
            GROUP BY donation_id, item_code
        ), valued AS (
            SELECT l.donation_id, sum(l.v * least(g.q, l.q) / l.q) AS fen
            FROM lines l JOIN gone g USING (donation_id, item_code)
            WHERE l.q > 0 AND g.q > 0
            GROUP BY l.donation_id
        )
        UPDATE donations d
        SET written_off_fen = greatest(
            0, least(valued.fen, d.amount_fen - d.used_fen - d.refunded_fen))
        FROM valued
        WHERE d.id = valued.donation_id AND d.kind = 'goods'
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE donations DROP COLUMN written_off_fen")
