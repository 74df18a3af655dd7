"""The incidents the donation service registered (``incident_recorded.v1``), newest version
wins: a declared major one gives its facts the 24-hour disclosure deadline from its declaration,
without a restart (``NOTIFICATION_MAJOR_DISASTER_REFS`` stays for references set by hand).

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
        CREATE TABLE feed_incidents (
            code VARCHAR(32) PRIMARY KEY,
            name VARCHAR(100) NOT NULL,
            kind VARCHAR(20) NOT NULL,
            towns VARCHAR(20)[] NOT NULL DEFAULT '{}',
            started_at TIMESTAMPTZ NOT NULL,
            ended_at TIMESTAMPTZ,
            major BOOLEAN NOT NULL,
            declared_major_at TIMESTAMPTZ,
            version INTEGER NOT NULL,
            recorded_at TIMESTAMPTZ NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE feed_incidents")
