"""The summary trigger reads a batch's gifts by subject, whatever the table statistics say.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

0005's ``feed_summary_received`` joined the affected subjects with "every gift" and "every
correction", and PL/pgSQL kept the plan it made for the first batches (a generic plan, made
while the tables were small): every consumer batch scanned all gifts and all parts, so the
trigger's cost grew with the feed (130-200 µs per entry at 100,000 entries). Now each
subject's entries are fetched by its index (one lookup per subject) and the gift, its latest
re-designation and its adjustments are found among those rows; the parts are deleted by
subject; and the function is planned for each call (``plan_cache_mode``), with the tables'
current sizes. Same results.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION feed_summary_received(subjects VARCHAR[]) RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
    IF cardinality(subjects) = 0 THEN
        RETURN;
    END IF;
    WITH old AS (
        DELETE FROM feed_received_parts WHERE subject_id = ANY(subjects)
        RETURNING kind, project_code, month, amount, n
    ), entries AS MATERIALIZED (
        SELECT e.seq, e.kind, e.subject_id, e.data, e.occurred_at, e.project_code
        FROM (SELECT DISTINCT s AS subject_id FROM unnest(subjects) AS s) a
        CROSS JOIN LATERAL (
            SELECT seq, kind, subject_id, data, occurred_at, project_code FROM feed_entries
            WHERE subject_id = a.subject_id
        ) e
    ), designations AS MATERIALIZED (
        SELECT DISTINCT ON (subject_id) subject_id, data->>'to_project_code' AS project_code
        FROM entries
        WHERE kind = 'correction' AND data->>'correction' = 'designation_changed'
        ORDER BY subject_id, seq DESC
    ), gifts AS (
        SELECT g.subject_id, g.data->>'donation_kind' AS kind, g.occurred_at,
               coalesce((g.data->>'amount_fen')::bigint, 0) AS amount,
               CASE WHEN d.subject_id IS NULL THEN g.project_code
                    ELSE d.project_code END AS project_code
        FROM entries g LEFT JOIN designations d USING (subject_id)
        WHERE g.kind = 'donation.received'
    ), adjustments AS (
        SELECT subject_id, occurred_at,
               -abs(coalesce((data->>'amount_fen')::bigint, 0)) AS amount
        FROM entries
        WHERE (kind = 'correction' AND data->>'correction' = 'cancelled')
           OR kind = 'donation.refunded'
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
"""

PREVIOUS = """
CREATE OR REPLACE FUNCTION feed_summary_received(subjects VARCHAR[]) RETURNS void
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
"""


def upgrade() -> None:
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute(PREVIOUS)
