"""Disaster incidents as records (issue 17): code, name, kind, towns, start and end, declared
major or not. Appeals (projects), gifts and disbursements point to one; a gift or disbursement
of a project takes the project's incident unless it names its own.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE incidents (
            code VARCHAR(32) PRIMARY KEY,
            name VARCHAR(100) NOT NULL,
            kind VARCHAR(20) NOT NULL CHECK (kind IN (
                'typhoon', 'flood', 'rainstorm', 'landslide', 'fire', 'earthquake',
                'epidemic', 'drought', 'cold_wave', 'accident', 'other')),
            towns VARCHAR(20)[] NOT NULL DEFAULT '{}',
            started_at TIMESTAMPTZ NOT NULL,
            ended_at TIMESTAMPTZ,
            major BOOLEAN NOT NULL DEFAULT false,
            declared_major_at TIMESTAMPTZ,
            declared_major_by VARCHAR(64),
            major_reason VARCHAR(500),
            description VARCHAR(2000) NOT NULL DEFAULT '',
            created_at TIMESTAMPTZ NOT NULL,
            created_by VARCHAR(64) NOT NULL,
            updated_at TIMESTAMPTZ,
            version INTEGER NOT NULL DEFAULT 1,
            CHECK (ended_at IS NULL OR ended_at >= started_at),
            CHECK (major = (declared_major_at IS NOT NULL))
        )
        """
    )
    for table in ("projects", "donations", "disbursements"):
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN incident_code VARCHAR(32) REFERENCES incidents (code)"
        )
        op.execute(
            f"CREATE INDEX ix_{table}_incident_code ON {table} (incident_code) "
            f"WHERE incident_code IS NOT NULL"
        )


def downgrade() -> None:
    for table in ("projects", "donations", "disbursements"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN incident_code")
    op.execute("DROP TABLE incidents")
