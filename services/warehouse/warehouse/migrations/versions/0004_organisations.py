"""Organisations: every warehouse belongs to one (the district branch or a town branch).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from alembic import op  # noqa: F401 - filled in by the organisation-scope change

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
