"""Disclosure timeliness without reading the whole feed: a delay histogram and two indexes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

``GET /api/v1/public/timeliness`` evaluated exact percentiles over every entry's delay and
read every entry published more than an hour after its fact into Python, at each request.

- ``feed_delay_deltas`` / ``feed_delay_totals`` (``feed_delay_rows``: both): the number of
  entries per kind and delay bucket, kept by statement-level triggers in the inserting
  transaction (appended, folded by the checkpoint task, as the summary's deltas). A bucket is
  the delay in microseconds cut to its first three digits (``feed_delay_bucket``: at most 1 %
  wide; everything under a millisecond, negative delays included, in one bucket).
- ``ix_feed_delay`` (kind, delay): a percentile is found by locating its rank's bucket in the
  histogram and stepping through that bucket only, in this index; the cumulative counts at
  the endpoint's bucket bounds likewise.
- ``ix_feed_slow_disclosures``: the entries published more than an hour after their fact (the
  only ones that can miss a deadline), in feed order, for the list of late entries.

The delay is ``published_at - occurred_at`` in whole microseconds, NULL when a timestamp is
infinite (an expression that cannot fail, since it is evaluated on every insert).
``TRUNCATE feed_entries`` (a rebuild) empties the histogram. Existing feeds are backfilled.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Must stay identical to notification.service_layer.timeliness.DELAY_US (index matching).
DELAY_US = (
    "(CASE WHEN isfinite(published_at) AND isfinite(occurred_at) THEN "
    "(extract(epoch FROM published_at - occurred_at) * 1000000)::bigint END)"
)
SLOW_US = 3_600_000_000  # an hour: no deadline is shorter


def _histogram(table: str, sign: str) -> str:
    """Add (``sign`` "") or take away ("-") the rows of ``table`` in the histogram."""
    return f"""
        INSERT INTO feed_delay_deltas (kind, bucket, n)
        SELECT kind, feed_delay_bucket(delay_us), {sign}count(*)
        FROM (SELECT kind, {DELAY_US} AS delay_us FROM {table}) d
        WHERE delay_us IS NOT NULL
        GROUP BY 1, 2;
    """  # noqa: S608 - constant table names


DDL = [
    """
    CREATE FUNCTION feed_delay_bucket(delay_us BIGINT) RETURNS BIGINT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT CASE
            WHEN delay_us < 1000 THEN -9223372036854775807 - 1
            ELSE rpad(left(delay_us::text, 3), length(delay_us::text), '0')::bigint
        END
    $$
    """,
    """
    CREATE TABLE feed_delay_deltas (
        kind TEXT NOT NULL,
        bucket BIGINT NOT NULL,
        n BIGINT NOT NULL
    )
    """,
    "CREATE TABLE feed_delay_totals (LIKE feed_delay_deltas)",
    "CREATE UNIQUE INDEX ux_feed_delay_totals ON feed_delay_totals (kind, bucket)",
    """
    CREATE VIEW feed_delay_rows AS
        SELECT kind, bucket, n FROM feed_delay_totals
        UNION ALL
        SELECT kind, bucket, n FROM feed_delay_deltas
    """,
    f"CREATE INDEX ix_feed_delay ON feed_entries (kind, {DELAY_US})",
    f"CREATE INDEX ix_feed_slow_disclosures ON feed_entries (seq) WHERE {DELAY_US} > {SLOW_US}",
    f"""
    CREATE FUNCTION feed_delays_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_histogram("new_entries", "")}
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER feed_delays_inserted AFTER INSERT ON feed_entries "
    "REFERENCING NEW TABLE AS new_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION feed_delays_inserted()",
    # append-only, but should rows change with that trigger disabled, the histogram follows
    f"""
    CREATE FUNCTION feed_delays_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_histogram("old_entries", "-")}
        {_histogram("new_entries", "")}
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER feed_delays_updated AFTER UPDATE ON feed_entries "
    "REFERENCING OLD TABLE AS old_entries NEW TABLE AS new_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION feed_delays_updated()",
    f"""
    CREATE FUNCTION feed_delays_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_histogram("old_entries", "-")}
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER feed_delays_deleted AFTER DELETE ON feed_entries "
    "REFERENCING OLD TABLE AS old_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION feed_delays_deleted()",
    """
    CREATE FUNCTION feed_delays_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE feed_delay_deltas, feed_delay_totals;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER feed_delays_truncated AFTER TRUNCATE ON feed_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION feed_delays_truncated()",
    # --- backfill (an existing feed) -----------------------------------------------------------
    f"""
    INSERT INTO feed_delay_totals (kind, bucket, n)
    SELECT kind, feed_delay_bucket(delay_us), count(*)
    FROM (SELECT kind, {DELAY_US} AS delay_us FROM feed_entries) d
    WHERE delay_us IS NOT NULL
    GROUP BY 1, 2
    """,  # noqa: S608
]


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    for event in ("inserted", "updated", "deleted", "truncated"):
        op.execute(f"DROP TRIGGER feed_delays_{event} ON feed_entries")
        op.execute(f"DROP FUNCTION feed_delays_{event}()")
    op.execute("DROP INDEX ix_feed_slow_disclosures")
    op.execute("DROP INDEX ix_feed_delay")
    op.execute("DROP VIEW feed_delay_rows")
    op.execute("DROP TABLE feed_delay_totals")
    op.execute("DROP TABLE feed_delay_deltas")
    op.execute("DROP FUNCTION feed_delay_bucket(BIGINT)")
