"""Refunds of online gifts go back through the gateway that took the money.

A refund booked for a gift paid online (``book_refund``, with four eyes above the threshold as
every refund) writes a ``gateway_refunds`` row in the same transaction: the intent to return
the money is as durable as the booking. The payment sweeper sends it (``out_refund_no`` is
fixed per row, so a retry is the same refund at the gateway), then follows it until the gateway
reports it succeeded (its query, or a refund notification); a refusal is kept as ``failed``
with the gateway's message for finance.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE gateway_refunds (
            id UUID PRIMARY KEY,
            out_refund_no VARCHAR(32) NOT NULL UNIQUE,
            donation_id UUID NOT NULL REFERENCES donations (id),
            channel VARCHAR(20) NOT NULL,
            out_trade_no VARCHAR(32) NOT NULL REFERENCES online_orders (out_trade_no),
            amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
            total_fen BIGINT NOT NULL CHECK (total_fen >= amount_fen),
            reason VARCHAR(80) NOT NULL,
            status VARCHAR(12) NOT NULL
                CHECK (status IN ('pending', 'processing', 'success', 'failed', 'closed')),
            refund_id VARCHAR(64),
            failure VARCHAR(500),
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ,
            succeeded_at TIMESTAMPTZ
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_gateway_refunds_open ON gateway_refunds (created_at) "
        "WHERE status IN ('pending', 'processing')"
    )


def downgrade() -> None:
    op.execute("DROP TABLE gateway_refunds")
