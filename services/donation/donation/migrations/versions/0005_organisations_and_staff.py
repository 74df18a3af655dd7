"""Organisations (the district branch and the town branches) and staff accounts that belong to
one, with the columns account management needs.

- ``organisations``: the register (code, name, kind district|town, the town it serves, active),
  versioned for optimistic concurrency; ``announced_at`` is when it was last announced on
  ``staff.events`` (NULL: never, so the service announces it at start). Seeded from
  ``shared.organisations.SEED``.
- ``staff_users`` gains its organisation (existing accounts belong to the district branch),
  ``must_change_password`` (an initial or reset password), ``password_changed_at``,
  ``disabled_at``, ``tokens_not_before`` (tokens issued before it are refused), ``version``,
  ``created_by`` and ``updated_at``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from shared.organisations import DISTRICT, SEED

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE organisations (
            code VARCHAR(16) PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9]{1,15}$'),
            name VARCHAR(100) NOT NULL,
            kind VARCHAR(10) NOT NULL CHECK (kind IN ('district', 'town')),
            town VARCHAR(20),
            active BOOLEAN NOT NULL DEFAULT true,
            version INTEGER NOT NULL DEFAULT 1,
            announced_at TIMESTAMPTZ,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            created_by VARCHAR(64) NOT NULL DEFAULT 'migration',
            updated_at TIMESTAMPTZ,
            CONSTRAINT ck_organisations_town CHECK ((kind = 'district') = (town IS NULL)),
            CONSTRAINT uq_organisations_name UNIQUE (name)
        )
        """
    )
    insert = sa.text(
        "INSERT INTO organisations (code, name, kind, town) VALUES (:code, :name, :kind, :town)"
    )
    for org in SEED:
        op.execute(insert.bindparams(code=org.code, name=org.name, kind=org.kind, town=org.town))

    op.execute(
        f"""
        ALTER TABLE staff_users
            ADD COLUMN org_code VARCHAR(16) NOT NULL DEFAULT '{DISTRICT}'
                REFERENCES organisations (code),
            ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT false,
            ADD COLUMN password_changed_at TIMESTAMPTZ,
            ADD COLUMN disabled_at TIMESTAMPTZ,
            ADD COLUMN tokens_not_before TIMESTAMPTZ,
            ADD COLUMN version INTEGER NOT NULL DEFAULT 1,
            ADD COLUMN created_by VARCHAR(64),
            ADD COLUMN updated_at TIMESTAMPTZ
        """
    )
    # existing accounts belong to the district branch; new ones name their organisation
    op.execute("ALTER TABLE staff_users ALTER COLUMN org_code DROP DEFAULT")
    op.execute("CREATE INDEX ix_staff_users_org ON staff_users (org_code)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_staff_users_org")
    for column in (
        "updated_at",
        "created_by",
        "version",
        "tokens_not_before",
        "disabled_at",
        "password_changed_at",
        "must_change_password",
        "org_code",
    ):
        op.execute(f"ALTER TABLE staff_users DROP COLUMN {column}")
    op.execute("DROP TABLE organisations")
