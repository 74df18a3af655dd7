"""The disclosure-timeliness report, from the delay histogram (migration 0007), not the feed.

What it shows (unchanged from the whole-feed query it replaces): per kind the number of
entries, the exact p50/p90/p99 (``percentile_cont``) and maximum of the delay between a fact
and its entry, and cumulative counts at ``DELAY_BUCKETS``; then every entry published after
its deadline, in feed order.

How it stays bounded as the feed grows:

- the histogram (entries per kind and delay bucket, at most 1 % wide) gives every kind's
  count and the bucket that holds any rank; a rank's delay is then read by stepping through
  that bucket only, in the (kind, delay) index; a cumulative count at a bound is the
  histogram below the bound's bucket plus the entries of that bucket up to the bound. All of
  it in one REPEATABLE READ snapshot, so the histogram and the index agree;
- late entries can only be among those published more than an hour after their fact; a
  partial index holds exactly those, and they are read in keyset batches of ``BATCH``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from notification.log.entry import iso
from notification.log.store import Reader
from notification.service_layer.feed_metrics import DELAY_BUCKETS, DeadlineRules, deadline_for

# Identical to migration 0007's index expressions (otherwise the indexes are not used).
DELAY_US = (
    "(CASE WHEN isfinite(published_at) AND isfinite(occurred_at) THEN "
    "(extract(epoch FROM published_at - occurred_at) * 1000000)::bigint END)"
)
SLOW = f"{DELAY_US} > 3600000000"  # the partial index's predicate: slower than an hour
PERCENTILES = (0.5, 0.9, 0.99)
BATCH = 1000
UNDER_A_MILLISECOND = -(2**63)  # feed_delay_bucket's bucket of every delay under 1 ms

_HISTOGRAM = (
    "SELECT kind, bucket, sum(n)::bigint AS n FROM feed_delay_rows "
    "GROUP BY kind, bucket HAVING sum(n) <> 0 ORDER BY kind, bucket"
)
# the delays at a rank and the next one: (kind, bucket start, rank within the bucket onwards)
_AT_RANKS = f"""
    SELECT q.i, d.us
    FROM unnest(CAST(:kinds AS text[]), CAST(:starts AS bigint[]), CAST(:skips AS bigint[]))
        WITH ORDINALITY AS q(kind, start, skip, i)
    CROSS JOIN LATERAL (
        SELECT {DELAY_US} AS us FROM feed_entries
        WHERE kind = q.kind AND {DELAY_US} >= q.start
        ORDER BY {DELAY_US} OFFSET q.skip LIMIT 2
    ) d
    ORDER BY q.i, d.us
"""  # noqa: S608 - constant expressions; values are bound parameters
# entries of kind with a delay in [start, bound]
_IN_RANGES = f"""
    SELECT q.i, (
        SELECT count(*) FROM feed_entries
        WHERE kind = q.kind AND {DELAY_US} >= q.start AND {DELAY_US} <= q.bound
    ) AS n
    FROM unnest(CAST(:kinds AS text[]), CAST(:starts AS bigint[]), CAST(:bounds AS bigint[]))
        WITH ORDINALITY AS q(kind, start, bound, i)
    ORDER BY q.i
"""  # noqa: S608
_SLOW_ENTRIES = f"""
    SELECT seq, id, kind, title, occurred_at, published_at, project_code, incident_ref
    FROM feed_entries
    WHERE {SLOW} AND seq > :after
    ORDER BY seq LIMIT :limit
"""  # noqa: S608


# Fold the appended deltas into one row per (kind, bucket) (the checkpoint task).
_FOLD = text(
    """
    WITH gone AS (DELETE FROM feed_delay_deltas RETURNING kind, bucket, n)
    INSERT INTO feed_delay_totals AS t (kind, bucket, n)
    SELECT kind, bucket, sum(n) FROM gone GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (kind, bucket) DO UPDATE SET n = t.n + EXCLUDED.n
    """
)
FOLD_LOCK = 0x5EED_DE1A


async def fold(session: AsyncSession) -> None:
    """Fold the histogram's deltas (keeps its reads small); one folder at a time."""
    if await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": FOLD_LOCK}):
        await session.execute(_FOLD)


def delay_bucket(delay_us: int) -> int:
    """The histogram bucket (its first microsecond) of a delay: ``feed_delay_bucket``."""
    if delay_us < 1000:
        return UNDER_A_MILLISECOND
    digits = str(delay_us)
    return int(digits[:3].ljust(len(digits), "0"))


@dataclass
class KindHistogram:
    """One kind's entries per delay bucket, buckets in ascending order."""

    kind: str
    starts: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts)

    def locate(self, rank: int) -> tuple[int, int]:
        """The bucket holding the ``rank``-th smallest delay (0-based), and the rank's
        position from that bucket's start."""
        below = list(accumulate(self.counts))
        index = bisect.bisect_right(below, rank)
        before = below[index - 1] if index else 0
        return self.starts[index], rank - before

    def count_below(self, start: int) -> int:
        """Entries in the buckets before the one starting at (or holding) ``start``."""
        index = bisect.bisect_left(self.starts, start)
        return sum(self.counts[:index])


async def histograms(db: Reader) -> list[KindHistogram]:
    by_kind: dict[str, KindHistogram] = {}
    for row in await db.rows(_HISTOGRAM, {}):
        histogram = by_kind.setdefault(row.kind, KindHistogram(row.kind))
        histogram.starts.append(int(row.bucket))
        histogram.counts.append(int(row.n))
    return [h for h in by_kind.values() if h.total > 0]


def _ranks(n: int) -> list[int]:
    """The ranks whose delays the percentiles and the maximum need (each read with the next)."""
    return sorted({math.floor(p * (n - 1)) for p in PERCENTILES} | {n - 1})


def percentile_cont(p: float, n: int, at_rank: dict[int, list[float]]) -> float:
    """PostgreSQL's ``percentile_cont`` (the same float8 arithmetic) from the delays at
    ``floor(p * (n - 1))`` and the next rank."""
    position = p * (n - 1)
    first, second = math.floor(position), math.ceil(position)
    values = at_rank[first]
    if second == first:
        return values[0]
    return values[0] + (position - first) * (values[1] - values[0])


async def _delays_at_ranks(db: Reader, histogram: KindHistogram) -> dict[int, list[float]]:
    ranks = _ranks(histogram.total)
    located = [histogram.locate(rank) for rank in ranks]
    rows = await db.rows(
        _AT_RANKS,
        {
            "kinds": [histogram.kind] * len(ranks),
            "starts": [start for start, _ in located],
            "skips": [skip for _, skip in located],
        },
    )
    values: dict[int, list[float]] = {rank: [] for rank in ranks}
    for row in rows:
        values[ranks[row.i - 1]].append(row.us / 1_000_000)
    return values


async def _cumulative(db: Reader, histogram: KindHistogram) -> dict[str, int]:
    bounds = [bound * 1_000_000 for bound in DELAY_BUCKETS]
    starts = [delay_bucket(bound) for bound in bounds]
    rows = await db.rows(
        _IN_RANGES,
        {"kinds": [histogram.kind] * len(bounds), "starts": starts, "bounds": bounds},
    )
    in_bucket = {row.i: int(row.n) for row in rows}
    return {
        str(bound): histogram.count_below(start) + in_bucket[i]
        for i, (bound, start) in enumerate(zip(DELAY_BUCKETS, starts, strict=True), start=1)
    }


async def kind_stats(db: Reader, histogram: KindHistogram) -> dict[str, Any]:
    n = histogram.total
    at_rank = await _delays_at_ranks(db, histogram)
    stats: dict[str, Any] = {"count": n}
    for p in PERCENTILES:
        stats[f"p{round(p * 100)}_s"] = round(percentile_cont(p, n, at_rank), 3)
    stats["max_s"] = round(at_rank[n - 1][0], 3)
    stats["cumulative_buckets_s"] = await _cumulative(db, histogram)
    return stats


async def delay_by_kind(db: Reader) -> dict[str, dict[str, Any]]:
    """Per kind (in the database's order of kinds): count, percentiles, maximum, cumulative
    counts. ``db`` must be one snapshot (``PoolReader.snapshot()``)."""
    return {h.kind: await kind_stats(db, h) for h in await histograms(db)}


def rules_of(settings: Any) -> DeadlineRules:
    """The deadline rules of a service's settings (``NOTIFICATION_…``)."""
    return DeadlineRules(
        major_disaster_refs=list(settings.major_disaster_refs),
        holidays=list(settings.public_holidays),
        routine_working_days=settings.routine_disclosure_working_days,
        disaster_hours=settings.disaster_disclosure_hours,
    )


def rules_json(rules: DeadlineRules) -> dict[str, Any]:
    return {
        "gift_routine": f"{rules.routine_working_days} working days",
        "gift_major_disaster": f"{rules.disaster_hours} hours",
        "use_of_funds_and_goods": "30 days (24 hours in a declared major disaster)",
        "major_disaster_refs": rules.major_disaster_refs,
        "declared_major_incidents": {
            code: iso(at) for code, at in sorted(rules.declared_major.items())
        },
    }


def late_entry(row: Any, rules: DeadlineRules) -> dict[str, Any] | None:
    """The report's line for an entry published after its deadline, else None."""
    due, rule = deadline_for(
        row.kind,
        row.occurred_at,
        refs=(row.incident_ref, row.project_code),
        major_disaster_refs=rules.major_disaster_refs,
        holidays=rules.holidays,
        routine_working_days=rules.routine_working_days,
        disaster_hours=rules.disaster_hours,
        declared_major=rules.declared_major,
    )
    if due is None or row.published_at <= due:
        return None
    return {
        "id": str(row.id),
        "kind": row.kind,
        "title": row.title,
        "occurred_at": iso(row.occurred_at),
        "published_at": iso(row.published_at),
        "deadline": iso(due),
        "rule": rule,
        "late_by_s": round((row.published_at - due).total_seconds(), 3),
    }


async def late_entries(
    db: Reader, rules: DeadlineRules, batch: int = BATCH
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every entry published after its deadline, in feed order, a batch at a time (each
    batch one query: no connection is held between batches)."""
    after = 0
    while True:
        rows = await db.rows(_SLOW_ENTRIES, {"after": after, "limit": batch})
        late = [line for row in rows if (line := late_entry(row, rules)) is not None]
        if late:
            yield late
        if len(rows) < batch:
            return
        after = rows[-1].seq
