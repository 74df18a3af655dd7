"""The warehouse's copy of the recipients register, and the recipients a sign-off names.

- ``recipients``: kept from the donation service's ``recipient_registered.v1`` (masked: the
  name as 王*明, never a name in clear, phone, address or ID fragment), the latest version.
- ``dispatches.recipient_ids``, ``people_reached``, ``households_reached``: the register's
  recipients a delivery's sign-off named, and the people and households they make (a person
  1 in 1 household, a household its size in 1, an organisation neither), as published on
  ``dispatch.delivered.v1``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE recipients (
            id UUID PRIMARY KEY,
            kind VARCHAR(12) NOT NULL CHECK (kind IN ('person', 'household', 'organisation')),
            name_masked VARCHAR(200) NOT NULL,
            org_kind VARCHAR(20),
            town VARCHAR(20) NOT NULL,
            household_size INTEGER CHECK (household_size >= 1),
            org_code VARCHAR(16) NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            recorded_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        )
        """
    )
    op.execute(
        """
        ALTER TABLE dispatches
            ADD COLUMN recipient_ids UUID[] NOT NULL DEFAULT '{}',
            ADD COLUMN people_reached INTEGER NOT NULL DEFAULT 0 CHECK (people_reached >= 0),
            ADD COLUMN households_reached INTEGER NOT NULL DEFAULT 0
                CHECK (households_reached >= 0)
        """
    )


def downgrade() -> None:
    for column in ("households_reached", "people_reached", "recipient_ids"):
        op.execute(f"ALTER TABLE dispatches DROP COLUMN {column}")
    op.execute("DROP TABLE recipients")
