"""The live-stream NOTIFY once per INSERT statement instead of once per entry.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

The feed consumer writes a batch of entries in one multi-row INSERT; listeners only need to
be woken (they read ``seq > last seen`` themselves), so one notification carrying the highest
new ``seq`` replaces one per row.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP TRIGGER feed_entries_notify ON feed_entries")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION feed_entries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            top BIGINT;
        BEGIN
            SELECT max(seq) INTO top FROM new_entries;
            IF top IS NOT NULL THEN
                PERFORM pg_notify('feed_entries', top::text);
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER feed_entries_notify AFTER INSERT ON feed_entries "
        "REFERENCING NEW TABLE AS new_entries "
        "FOR EACH STATEMENT EXECUTE FUNCTION feed_entries_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER feed_entries_notify ON feed_entries")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION feed_entries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('feed_entries', NEW.seq::text);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER feed_entries_notify AFTER INSERT ON feed_entries "
        "FOR EACH ROW EXECUTE FUNCTION feed_entries_notify()"
    )
