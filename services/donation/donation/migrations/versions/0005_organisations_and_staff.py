"""Organisations (the district branch and the town branches) and staff accounts that belong to
one, with the columns account management needs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from alembic import op  # noqa: F401 - filled in by the account-management change

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
