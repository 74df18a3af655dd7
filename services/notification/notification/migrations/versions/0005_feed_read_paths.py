"""Read paths that stay fast with millions of entries: summary aggregates, a sequencing queue.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

- The public summary no longer scans the feed. A statement-level trigger on ``feed_entries``
  keeps, in the inserting transaction:
  - ``feed_received_parts``: per gift (subject), its contributions to "received" grouped by
    (gift kind, current project, month): the gift itself and its cancellations and refunds,
    under the project of its latest re-designation. A batch that touches a gift recomputes
    that gift's parts (a correction can arrive in the same batch as, or before, its gift);
  - ``feed_summary_deltas``: the change of every aggregate the summary shows (received by
    kind, project and month; used by project, month and town; goods delivered by town and
    item; entries by kind), appended without locks, so concurrent consumers never wait on
    each other; the checkpoint task folds them into ``feed_summary_totals`` (one row per
    group). ``feed_summary_rows`` is both.
- ``feed_log_pending``: the entries not yet in the Merkle log, so a checkpoint reads the new
  entries instead of anti-joining the whole feed with the whole log (truncating the leaves,
  a log rebuilt from scratch, makes every entry pending again).
- ``TRUNCATE feed_entries`` (a rebuild) empties all of them.
Existing databases are backfilled from the feed.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

GROUP = "source, kind, project_code, month, town, item_code, item, unit"


def _received(*tables: str) -> str:
    """Recompute the "received" parts of the gifts the rows of ``tables`` belong to."""
    gifts = "WHERE kind IN ('donation.received', 'donation.refunded', 'correction')"
    subjects = " UNION ".join(f"SELECT subject_id FROM {t} {gifts}" for t in tables)  # noqa: S608
    return f"PERFORM feed_summary_received(ARRAY({subjects}));"


def _aggregates(table: str, sign: str) -> str:
    """Add (``sign`` "") or take away ("-") the rows of ``table`` in the other aggregates."""
    return f"""
        INSERT INTO feed_summary_deltas (source, kind, project_code, month, town, amount, n)
        SELECT 'used', 'money', project_code,
               to_char(occurred_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'), town,
               {sign}sum(coalesce((data->>'amount_fen')::bigint, 0)), {sign}count(*)
        FROM {table} WHERE kind = 'funds.disbursed'
        GROUP BY 3, 4, 5;
        INSERT INTO feed_summary_deltas (source, town, item_code, item, unit, amount, n)
        SELECT 'goods', e.town, line->>'item_code', line->>'item_name', line->>'unit',
               {sign}sum(coalesce((line->>'delivered_quantity')::bigint, 0)), {sign}count(*)
        FROM {table} e CROSS JOIN LATERAL jsonb_array_elements(e.data->'lines') AS line
        WHERE e.kind = 'goods.delivered'
        GROUP BY 2, 3, 4, 5;
        INSERT INTO feed_summary_deltas (source, kind, amount, n)
        SELECT 'entries', kind, 0, {sign}count(*) FROM {table} GROUP BY kind;
    """  # noqa: S608 - constant table names


DDL = [
    """
    CREATE TABLE feed_received_parts (
        subject_id VARCHAR(64) NOT NULL,
        kind TEXT,
        project_code TEXT,
        month TEXT,
        amount BIGINT NOT NULL,
        n BIGINT NOT NULL
    )
    """,
    "CREATE INDEX ix_feed_received_parts_subject ON feed_received_parts (subject_id)",
    """
    CREATE TABLE feed_summary_deltas (
        source TEXT NOT NULL,
        kind TEXT,
        project_code TEXT,
        month TEXT,
        town TEXT,
        item_code TEXT,
        item TEXT,
        unit TEXT,
        amount BIGINT NOT NULL,
        n BIGINT NOT NULL
    )
    """,
    "CREATE TABLE feed_summary_totals (LIKE feed_summary_deltas)",
    f"CREATE UNIQUE INDEX ux_feed_summary_totals ON feed_summary_totals ({GROUP}) "
    "NULLS NOT DISTINCT",
    f"""
    CREATE VIEW feed_summary_rows AS
        SELECT {GROUP}, amount, n FROM feed_summary_totals
        UNION ALL
        SELECT {GROUP}, amount, n FROM feed_summary_deltas
    """,  # noqa: S608 - constant column names
    "CREATE TABLE feed_log_pending (entry_seq BIGINT PRIMARY KEY)",
    # A gift's contributions to "received", recomputed for the given subjects (the same
    # definition the summary used to evaluate over the whole feed at every request).
    """
    CREATE FUNCTION feed_summary_received(subjects VARCHAR[]) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        IF cardinality(subjects) = 0 THEN
            RETURN;
        END IF;
        WITH affected AS (
            SELECT DISTINCT s AS subject_id FROM unnest(subjects) AS s
        ), old AS (
            DELETE FROM feed_received_parts p USING affected a
            WHERE p.subject_id = a.subject_id
            RETURNING p.kind, p.project_code, p.month, p.amount, p.n
        ), gifts AS (
            SELECT g.subject_id, g.data->>'donation_kind' AS kind, g.occurred_at,
                   coalesce((g.data->>'amount_fen')::bigint, 0) AS amount,
                   CASE WHEN dc.data IS NULL THEN g.project_code
                        ELSE dc.data->>'to_project_code' END AS project_code
            FROM affected a
            JOIN feed_entries g ON g.subject_id = a.subject_id
            LEFT JOIN LATERAL (
                SELECT c.data FROM feed_entries c
                WHERE c.subject_id = g.subject_id AND c.kind = 'correction'
                  AND c.data->>'correction' = 'designation_changed'
                ORDER BY c.seq DESC LIMIT 1
            ) dc ON true
            WHERE g.kind = 'donation.received'
        ), adjustments AS (
            SELECT e.subject_id, e.occurred_at,
                   -abs(coalesce((e.data->>'amount_fen')::bigint, 0)) AS amount
            FROM affected a
            JOIN feed_entries e ON e.subject_id = a.subject_id
            WHERE (e.kind = 'correction' AND e.data->>'correction' = 'cancelled')
               OR e.kind = 'donation.refunded'
        ), received AS (
            SELECT subject_id, kind, project_code, occurred_at, amount FROM gifts
            UNION ALL
            SELECT g.subject_id, g.kind, g.project_code, a.occurred_at, a.amount
            FROM adjustments a JOIN gifts g USING (subject_id)
        ), fresh AS (
            INSERT INTO feed_received_parts (subject_id, kind, project_code, month, amount, n)
            SELECT subject_id, kind, project_code,
                   to_char(occurred_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'),
                   sum(amount), count(*)
            FROM received GROUP BY 1, 2, 3, 4
            RETURNING kind, project_code, month, amount, n
        )
        INSERT INTO feed_summary_deltas (source, kind, project_code, month, amount, n)
        SELECT 'received', kind, project_code, month, sum(amount), sum(n)
        FROM (
            SELECT kind, project_code, month, -amount AS amount, -n AS n FROM old
            UNION ALL
            SELECT kind, project_code, month, amount, n FROM fresh
        ) change
        GROUP BY kind, project_code, month
        HAVING sum(n) <> 0 OR sum(amount) <> 0;
    END $$
    """,
    f"""
    CREATE FUNCTION feed_entries_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_received("new_entries")}
        {_aggregates("new_entries", "")}
        INSERT INTO feed_log_pending (entry_seq) SELECT seq FROM new_entries
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$
    """,  # noqa: S608
    "CREATE TRIGGER feed_entries_inserted AFTER INSERT ON feed_entries "
    "REFERENCING NEW TABLE AS new_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION feed_entries_inserted()",
    # The feed is append-only (a trigger refuses UPDATE and DELETE); should rows change with
    # that trigger disabled, the aggregates follow the table all the same.
    f"""
    CREATE FUNCTION feed_entries_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_received("old_entries", "new_entries")}
        {_aggregates("old_entries", "-")}
        {_aggregates("new_entries", "")}
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER feed_entries_updated AFTER UPDATE ON feed_entries "
    "REFERENCING OLD TABLE AS old_entries NEW TABLE AS new_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION feed_entries_updated()",
    f"""
    CREATE FUNCTION feed_entries_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_received("old_entries")}
        {_aggregates("old_entries", "-")}
        DELETE FROM feed_log_pending WHERE entry_seq IN (SELECT seq FROM old_entries);
        RETURN NULL;
    END $$
    """,  # noqa: S608
    "CREATE TRIGGER feed_entries_deleted AFTER DELETE ON feed_entries "
    "REFERENCING OLD TABLE AS old_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION feed_entries_deleted()",
    """
    CREATE FUNCTION feed_entries_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE feed_received_parts, feed_summary_deltas, feed_summary_totals,
            feed_log_pending;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER feed_entries_truncated AFTER TRUNCATE ON feed_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION feed_entries_truncated()",
    # a log rebuilt from scratch (its leaves truncated): every entry is pending again
    """
    CREATE FUNCTION feed_log_leaves_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO feed_log_pending (entry_seq) SELECT seq FROM feed_entries
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER feed_log_leaves_truncated AFTER TRUNCATE ON feed_log_leaves "
    "FOR EACH STATEMENT EXECUTE FUNCTION feed_log_leaves_truncated()",
    # --- backfill (an existing feed) -----------------------------------------------------------
    f"""
    DO $$
    BEGIN
        {_received("feed_entries")}
        {_aggregates("feed_entries", "")}
    END $$
    """,
    """
    INSERT INTO feed_log_pending (entry_seq)
    SELECT e.seq FROM feed_entries e
    LEFT JOIN feed_log_leaves l ON l.entry_seq = e.seq
    WHERE l.entry_seq IS NULL
    """,
]


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER feed_log_leaves_truncated ON feed_log_leaves")
    op.execute("DROP FUNCTION feed_log_leaves_truncated()")
    op.execute("DROP TRIGGER feed_entries_truncated ON feed_entries")
    op.execute("DROP FUNCTION feed_entries_truncated()")
    for event in ("inserted", "updated", "deleted"):
        op.execute(f"DROP TRIGGER feed_entries_{event} ON feed_entries")
        op.execute(f"DROP FUNCTION feed_entries_{event}()")
    op.execute("DROP FUNCTION feed_summary_received(VARCHAR[])")
    op.execute("DROP TABLE feed_log_pending")
    op.execute("DROP VIEW feed_summary_rows")
    op.execute("DROP TABLE feed_summary_totals")
    op.execute("DROP TABLE feed_summary_deltas")
    op.execute("DROP TABLE feed_received_parts")
