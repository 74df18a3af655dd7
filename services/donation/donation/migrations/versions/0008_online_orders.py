"""Online giving: the donor's own orders, paid through WeChat Pay or Alipay.

``online_orders`` holds one row per payment order a donor started on ``/give``: what they
chose (project, amount, display, contact, receipt details), the gateway's order number
(``out_trade_no``, ours, random), its state, and once paid the gateway's trade number and
the gift it became (``donation_id``). ``payment_events`` records every verified statement of
a gateway about an order (a notification, a query by the sweeper or the result page) and
what it did: applied, a duplicate, an unknown order, an amount that differs. Receipts gain the
payer's 统一社会信用代码 for organisation donors.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE online_orders (
            id UUID PRIMARY KEY,
            out_trade_no VARCHAR(32) NOT NULL UNIQUE,
            channel VARCHAR(20) NOT NULL CHECK (channel IN ('wechat_pay', 'alipay')),
            scene VARCHAR(10) NOT NULL CHECK (scene IN ('native', 'h5', 'wap', 'page')),
            amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
            project_code VARCHAR(32) REFERENCES projects (code),
            display VARCHAR(20) NOT NULL,
            donor_type VARCHAR(20) NOT NULL,
            donor_name VARCHAR(200) NOT NULL,
            phone VARCHAR(32),
            email VARCHAR(254),
            credit_code VARCHAR(18),
            notify VARCHAR(10) NOT NULL DEFAULT 'all',
            want_receipt BOOLEAN NOT NULL DEFAULT TRUE,
            status VARCHAR(10) NOT NULL CHECK (status IN ('pending', 'paid', 'closed')),
            pay_url TEXT,
            show_as_qr BOOLEAN NOT NULL DEFAULT FALSE,
            client_ip VARCHAR(64) NOT NULL,
            transaction_id VARCHAR(64),
            paid_fen BIGINT,
            paid_at TIMESTAMPTZ,
            donation_id UUID REFERENCES donations (id),
            close_reason VARCHAR(200),
            expires_at TIMESTAMPTZ NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ,
            checked_at TIMESTAMPTZ,
            CHECK (status <> 'paid' OR donation_id IS NOT NULL)
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_online_orders_pending ON online_orders (created_at) "
        "WHERE status = 'pending'"
    )
    op.execute(
        "CREATE UNIQUE INDEX ux_online_orders_transaction ON online_orders "
        "(channel, transaction_id) WHERE transaction_id IS NOT NULL"
    )
    op.execute(
        """
        CREATE TABLE payment_events (
            id BIGSERIAL PRIMARY KEY,
            at TIMESTAMPTZ NOT NULL,
            channel VARCHAR(20) NOT NULL,
            source VARCHAR(10) NOT NULL,
            out_trade_no VARCHAR(64) NOT NULL,
            transaction_id VARCHAR(64),
            outcome VARCHAR(24) NOT NULL,
            amount_fen BIGINT,
            detail JSONB
        )
        """
    )
    op.execute("CREATE INDEX ix_payment_events_order ON payment_events (out_trade_no, at)")
    op.execute("ALTER TABLE receipts ADD COLUMN payer_credit_code VARCHAR(18)")


def downgrade() -> None:
    op.execute("ALTER TABLE receipts DROP COLUMN payer_credit_code")
    op.execute("DROP TABLE payment_events")
    op.execute("DROP TABLE online_orders")
