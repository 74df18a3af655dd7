"""Organisations: every warehouse belongs to one (the district branch or a town branch).

``organisations`` is the warehouse's copy of the register the donation service owns: seeded
from :data:`shared.organisations.SEED` here, then kept current from
``organisation.registered.v1`` events on ``staff.events``. ``warehouses.org_code`` names the
organisation a warehouse belongs to (who may see and change it); existing warehouses are
backfilled: the district warehouse belongs to the district branch (FH), a station to the
branch of its town (the district branch when the town is unknown).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from shared.organisations import DISTRICT, SEED

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE organisations (
            code VARCHAR(16) PRIMARY KEY,
            name VARCHAR(100) NOT NULL,
            kind VARCHAR(20) NOT NULL CHECK (kind IN ('district', 'town')),
            town VARCHAR(20),
            active BOOLEAN NOT NULL DEFAULT true,
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
    )
    organisations = sa.table(
        "organisations",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("kind", sa.String),
        sa.column("town", sa.String),
        sa.column("active", sa.Boolean),
    )
    op.bulk_insert(
        organisations,
        [
            {"code": o.code, "name": o.name, "kind": o.kind, "town": o.town, "active": True}
            for o in SEED
        ],
    )
    op.execute("ALTER TABLE warehouses ADD COLUMN org_code VARCHAR(16)")
    op.execute(
        sa.text(
            """
            UPDATE warehouses w SET org_code = CASE
                WHEN w.kind = 'district' THEN :district
                ELSE COALESCE(
                    (SELECT o.code FROM organisations o WHERE o.kind = 'town' AND o.town = w.town),
                    :district
                )
            END
            """
        ).bindparams(district=DISTRICT)
    )
    op.execute(
        "ALTER TABLE warehouses ALTER COLUMN org_code SET NOT NULL,"
        " ADD CONSTRAINT warehouses_org_code_fkey"
        " FOREIGN KEY (org_code) REFERENCES organisations(code)"
    )
    op.execute("CREATE INDEX warehouses_org_code_idx ON warehouses (org_code)")


def downgrade() -> None:
    op.execute("ALTER TABLE warehouses DROP COLUMN org_code")
    op.execute("DROP TABLE organisations")
