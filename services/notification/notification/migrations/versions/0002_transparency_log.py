"""The verifiable public feed: Merkle log (RFC 9162), signed tree heads, filter columns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

- ``feed_entries`` gains the columns the public filters and the summary read (project, town,
  incident, money amount, IATI type), and a NOTIFY on insert for the live stream.
- ``feed_log_leaves`` gives each sequenced entry its leaf index (the log order).
- ``feed_log_nodes`` stores the hash of every complete, aligned subtree (level 0 = leaf
  hashes), so proofs read O(log n) rows instead of rehashing the log.
- ``feed_tree_heads`` keeps every signed tree head (Ed25519).
All of them are append-only (a trigger refuses UPDATE and DELETE).
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DDL = [
    "ALTER TABLE feed_entries ADD COLUMN project_code VARCHAR(64)",
    "ALTER TABLE feed_entries ADD COLUMN town VARCHAR(64)",
    "ALTER TABLE feed_entries ADD COLUMN incident_ref VARCHAR(64)",
    "ALTER TABLE feed_entries ADD COLUMN event_type VARCHAR(200)",
    "ALTER TABLE feed_entries ADD COLUMN event_time TIMESTAMPTZ",
    "CREATE INDEX ix_feed_unsequenced ON feed_entries (event_time, source_event_id)",
    "CREATE INDEX ix_feed_kind ON feed_entries (kind, seq)",
    "CREATE INDEX ix_feed_project ON feed_entries (project_code, seq)",
    "CREATE INDEX ix_feed_town ON feed_entries (town, seq)",
    "CREATE INDEX ix_feed_occurred ON feed_entries (occurred_at)",
    # tracking-code lookup of the uses of a gift (funded_by / from_gifts hold code hashes)
    "CREATE INDEX ix_feed_data ON feed_entries USING gin (data jsonb_path_ops)",
    """
    CREATE TABLE feed_log_leaves (
        leaf_index BIGINT PRIMARY KEY,
        entry_seq BIGINT NOT NULL UNIQUE REFERENCES feed_entries (seq),
        sequenced_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE feed_log_nodes (
        level SMALLINT NOT NULL,
        idx BIGINT NOT NULL,
        hash BYTEA NOT NULL,
        PRIMARY KEY (level, idx)
    )
    """,
    """
    CREATE TABLE feed_tree_heads (
        tree_size BIGINT PRIMARY KEY,
        root_hash BYTEA NOT NULL,
        timestamp_ms BIGINT NOT NULL,
        key_id VARCHAR(64) NOT NULL,
        signature BYTEA NOT NULL
    )
    """,
    """
    CREATE FUNCTION feed_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
    END $$
    """,
    "CREATE TRIGGER feed_log_leaves_no_update BEFORE UPDATE OR DELETE ON feed_log_leaves "
    "FOR EACH ROW EXECUTE FUNCTION feed_log_append_only()",
    "CREATE TRIGGER feed_log_nodes_no_update BEFORE UPDATE OR DELETE ON feed_log_nodes "
    "FOR EACH ROW EXECUTE FUNCTION feed_log_append_only()",
    "CREATE TRIGGER feed_tree_heads_no_update BEFORE UPDATE OR DELETE ON feed_tree_heads "
    "FOR EACH ROW EXECUTE FUNCTION feed_log_append_only()",
    # Item categories, read from warehouse events, for "goods distributed by category"
    # (joined at query time, never part of a hashed entry).
    """
    CREATE TABLE feed_item_categories (
        item_code VARCHAR(64) PRIMARY KEY,
        category VARCHAR(64) NOT NULL
    )
    """,
    # Live stream: wake listeners after the inserting transaction commits.
    """
    CREATE FUNCTION feed_entries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('feed_entries', NEW.seq::text);
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER feed_entries_notify AFTER INSERT ON feed_entries "
    "FOR EACH ROW EXECUTE FUNCTION feed_entries_notify()",
]


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER feed_entries_notify ON feed_entries")
    op.execute("DROP FUNCTION feed_entries_notify()")
    op.execute("DROP TABLE feed_item_categories")
    op.execute("DROP TABLE feed_tree_heads")
    op.execute("DROP TABLE feed_log_nodes")
    op.execute("DROP TABLE feed_log_leaves")
    op.execute("DROP FUNCTION feed_log_append_only()")
    for index in (
        "ix_feed_kind",
        "ix_feed_project",
        "ix_feed_town",
        "ix_feed_occurred",
        "ix_feed_data",
    ):
        op.execute(f"DROP INDEX {index}")
    op.execute("DROP INDEX ix_feed_unsequenced")
    for column in ("project_code", "town", "incident_ref", "event_type", "event_time"):
        op.execute(f"ALTER TABLE feed_entries DROP COLUMN {column}")
