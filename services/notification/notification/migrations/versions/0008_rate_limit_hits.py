"""Public rate limits shared by every instance of the service (the look-ups by tracking code):
one row per (limiter, client) holding the times of its accepted requests still inside the
window (a sliding window, ``shared.rate_limit``). The donation service has the same table in
its own database (its migration 0004); no service reads another's.

UNLOGGED: the counts are short-lived, written on every limited request, and not worth WAL; a
database crash or a fail-over forgets them, which only lifts the limit for one window.
No index besides the key, so the per-request update stays a HOT update; the purge of idle
clients (``expires_at`` passed) scans this small table once a minute per instance.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from alembic import op

revision = "0008"
down_revision = "0007"
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
