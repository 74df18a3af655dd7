"""Small anonymous online gifts receipted in one combined receipt a month (爱心人士).

When the branch sets ``DONATION_COMBINED_RECEIPT_BELOW_FEN``, an anonymous online gift below it
gets no receipt of its own when paid; finance issues one combined receipt per month for all
such gifts not yet receipted, numbered from the same gapless yearly sequence as every receipt.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE combined_receipts (
            id UUID PRIMARY KEY,
            month VARCHAR(7) NOT NULL UNIQUE,
            year INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            receipt_no VARCHAR(20) NOT NULL UNIQUE,
            amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
            gift_count INTEGER NOT NULL CHECK (gift_count > 0),
            issued_at TIMESTAMPTZ NOT NULL,
            issued_by VARCHAR(64) NOT NULL
        )
        """
    )
    op.execute(
        """
        CREATE TABLE combined_receipt_gifts (
            donation_id UUID PRIMARY KEY REFERENCES donations (id),
            combined_receipt_id UUID NOT NULL REFERENCES combined_receipts (id),
            amount_fen BIGINT NOT NULL
        )
        """
    )
    op.execute(
        "ALTER TABLE online_orders ADD COLUMN receipt_combined BOOLEAN NOT NULL DEFAULT FALSE"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE online_orders DROP COLUMN receipt_combined")
    op.execute("DROP TABLE combined_receipt_gifts")
    op.execute("DROP TABLE combined_receipts")
