"""Daily reconciliation (对账) of online gifts against the gateways' statements.

``reconciliation_runs`` holds one row per channel and day (``UNIQUE (channel, day)``): when it
ran, by whom, how many statement lines it read, matched, and how many findings it made. A
rerun of a day updates its row and replaces the run's open findings; resolved findings stay.
``reconciliation_findings`` holds each difference between a statement and our books: a payment
line with no paid order or gift (``paid_no_gift``), a gift the statement does not show
(``gift_not_paid``), amounts that differ (``amount_differs``), a refund line our books do not
account for (``refund_unmatched``); finance resolves each with a note.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE reconciliation_runs (
            id UUID PRIMARY KEY,
            channel VARCHAR(20) NOT NULL CHECK (channel IN ('wechat_pay', 'alipay')),
            day DATE NOT NULL,
            started_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,
            lines INTEGER NOT NULL DEFAULT 0 CHECK (lines >= 0),
            matched INTEGER NOT NULL DEFAULT 0 CHECK (matched >= 0),
            findings INTEGER NOT NULL DEFAULT 0 CHECK (findings >= 0),
            run_by VARCHAR(64) NOT NULL,
            UNIQUE (channel, day)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE reconciliation_findings (
            id UUID PRIMARY KEY,
            run_id UUID NOT NULL REFERENCES reconciliation_runs (id),
            channel VARCHAR(20) NOT NULL,
            day DATE NOT NULL,
            kind VARCHAR(20) NOT NULL CHECK (
                kind IN ('paid_no_gift', 'gift_not_paid', 'amount_differs', 'refund_unmatched')
            ),
            out_trade_no VARCHAR(64) NOT NULL,
            transaction_id VARCHAR(64),
            statement_fen BIGINT,
            our_fen BIGINT,
            donation_id UUID REFERENCES donations (id),
            status VARCHAR(10) NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
            resolution TEXT CHECK (resolution IS NULL OR length(resolution) <= 500),
            resolved_by VARCHAR(64),
            resolved_at TIMESTAMPTZ,
            created_at TIMESTAMPTZ NOT NULL,
            CHECK (status = 'open' OR (resolution IS NOT NULL AND resolved_at IS NOT NULL))
        )
        """
    )
    op.execute("CREATE INDEX ix_reconciliation_findings_run ON reconciliation_findings (run_id)")
    op.execute(
        "CREATE INDEX ix_reconciliation_findings_open ON reconciliation_findings (day, channel) "
        "WHERE status = 'open'"
    )


def downgrade() -> None:
    op.execute("DROP TABLE reconciliation_findings")
    op.execute("DROP TABLE reconciliation_runs")
