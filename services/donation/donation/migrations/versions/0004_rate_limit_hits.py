"""Public rate limits shared by every instance of the service: one row per (limiter, client)
holding the times of its accepted requests still inside the window (a sliding window).

UNLOGGED: the counts are short-lived, written on every public request, and not worth WAL; a
database crash or a fail-over forgets them, which only lifts the limit for one window.
No index besides the key, so the per-request update stays a HOT update; the purge of idle
clients (``expires_at`` passed) scans this small table once a minute per instance.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE UNLOGGED TABLE rate_limit_hits (
            limiter VARCHAR(32) NOT NULL,
            client_key VARCHAR(64) NOT NULL,
            hits TIMESTAMPTZ[] NOT NULL,
            allowed BOOLEAN NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (limiter, client_key)
        ) WITH (fillfactor = 70)
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE rate_limit_hits")
