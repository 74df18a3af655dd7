"""Initial warehouse schema: messaging tables and expected inbounds.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from alembic import op

from shared.messaging.tables import messaging_ddl_v1, messaging_drop_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DDL = [
    """
    CREATE TABLE expected_inbounds (
        id UUID PRIMARY KEY,
        donation_id UUID NOT NULL UNIQUE,
        tracking_code VARCHAR(32) NOT NULL,
        donor_display_name VARCHAR(200) NOT NULL,
        lines JSONB NOT NULL,
        status VARCHAR(20) NOT NULL DEFAULT 'expected',
        announced_at TIMESTAMPTZ NOT NULL
    )
    """,
]


def upgrade() -> None:
    for statement in messaging_ddl_v1() + DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE expected_inbounds")
    for statement in messaging_drop_v1():
        op.execute(statement)
