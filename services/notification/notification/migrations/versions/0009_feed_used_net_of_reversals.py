"""The summary's "used" is net of reversed disbursements.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

A reversed (or corrected) disbursement is published as a ``correction`` entry (``data.correction``
``disbursement_reversed`` or ``disbursement_corrected``, ``amount_fen`` negative) that refers to
its ``funds.disbursed`` entry (``corrects_seq``). The summary triggers of 0005 now take it away
from "used" where the original was counted (the original's project, month and town), amount and
count, so a reversed disbursement counts nothing and a correction counts only its replacement.
The triggers are otherwise those of 0005 (``feed_summary_received`` is 0006's).
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

REVERSALS = "('disbursement_reversed', 'disbursement_corrected')"


def _received(*tables: str) -> str:
    gifts = "WHERE kind IN ('donation.received', 'donation.refunded', 'correction')"
    subjects = " UNION ".join(f"SELECT subject_id FROM {t} {gifts}" for t in tables)  # noqa: S608
    return f"PERFORM feed_summary_received(ARRAY({subjects}));"


def _aggregates(table: str, sign: str, *, reversals: bool = True) -> str:
    """0005's aggregates of ``table``'s rows (``sign`` "" adds, "-" takes away), and with
    ``reversals`` the reversed disbursements taken from "used"."""
    taken = f"""
        INSERT INTO feed_summary_deltas (source, kind, project_code, month, town, amount, n)
        SELECT 'used', 'money', coalesce(o.project_code, r.project_code),
               to_char(coalesce(o.occurred_at, r.occurred_at) AT TIME ZONE 'Asia/Shanghai',
                       'YYYY-MM'),
               CASE WHEN o.seq IS NULL THEN r.town ELSE o.town END,
               {sign}sum(-abs(coalesce((r.data->>'amount_fen')::bigint, 0))),
               {sign}(0 - count(*))
        FROM {table} r LEFT JOIN feed_entries o ON o.seq = r.corrects_seq
        WHERE r.kind = 'correction' AND r.data->>'correction' IN {REVERSALS}
        GROUP BY 3, 4, 5;
    """  # noqa: S608 - constant table names
    return (
        f"""
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
        + (taken if reversals else "")
    )


def _functions(reversals: bool) -> list[str]:
    return [
        f"""
        CREATE OR REPLACE FUNCTION feed_entries_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_received("new_entries")}
            {_aggregates("new_entries", "", reversals=reversals)}
            INSERT INTO feed_log_pending (entry_seq) SELECT seq FROM new_entries
            ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$
        """,  # noqa: S608
        f"""
        CREATE OR REPLACE FUNCTION feed_entries_updated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_received("old_entries", "new_entries")}
            {_aggregates("old_entries", "-", reversals=reversals)}
            {_aggregates("new_entries", "", reversals=reversals)}
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE OR REPLACE FUNCTION feed_entries_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_received("old_entries")}
            {_aggregates("old_entries", "-", reversals=reversals)}
            DELETE FROM feed_log_pending WHERE entry_seq IN (SELECT seq FROM old_entries);
            RETURN NULL;
        END $$
        """,  # noqa: S608
    ]


BACKFILL = f"""
    INSERT INTO feed_summary_deltas (source, kind, project_code, month, town, amount, n)
    SELECT 'used', 'money', coalesce(o.project_code, r.project_code),
           to_char(coalesce(o.occurred_at, r.occurred_at) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'),
           CASE WHEN o.seq IS NULL THEN r.town ELSE o.town END,
           sum(-abs(coalesce((r.data->>'amount_fen')::bigint, 0))), 0 - count(*)
    FROM feed_entries r LEFT JOIN feed_entries o ON o.seq = r.corrects_seq
    WHERE r.kind = 'correction' AND r.data->>'correction' IN {REVERSALS}
    GROUP BY 3, 4, 5
"""  # noqa: S608


def upgrade() -> None:
    for statement in _functions(reversals=True):
        op.execute(statement)
    op.execute(BACKFILL)


def downgrade() -> None:
    for statement in _functions(reversals=False):
        op.execute(statement)
    op.execute(BACKFILL.replace("sum(-abs(", "sum(abs(").replace("0 - count(*)", "count(*)"))
