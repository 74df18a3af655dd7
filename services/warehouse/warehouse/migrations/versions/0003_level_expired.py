"""Stock levels remember the expired units they were last published with.

``stock_levels.expired``: the unreserved units of the level's lots that were past their expiry
date when the level was last written (its ``version``). Movements keep it current; the
expiry-levels task re-publishes a level whose lots crossed their expiry date since (it compares
this column with the lots), so the column is what makes that task idempotent. Existing levels
start at 0 and are corrected by the task's start-up run.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE stock_levels ADD COLUMN expired INTEGER NOT NULL DEFAULT 0"
        " CONSTRAINT stock_levels_expired_check"
        " CHECK (expired >= 0 AND expired <= on_hand - reserved)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE stock_levels DROP COLUMN expired")
