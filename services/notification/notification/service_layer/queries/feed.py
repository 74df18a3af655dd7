"""Reads of the public feed (no login): pages, one entry, a gift's entries, the summary, the
timeliness report, the open-data export's batches and the live stream's entries.

Every answer is built from ``feed_entries`` only, which hold masked public facts, and read on
the public read pool (``feed_runtime.reads``: asyncpg, autocommit). Filters are bound
parameters; a tracking code is matched by its SHA-256, never stored.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from notification.entrypoints.api.schemas import FeedEntryOut, FeedPage
from notification.log.store import ENTRY_COLUMNS, document_of, latest_head
from notification.service_layer import timeliness as timeliness_report
from notification.service_layer.feed_metrics import SHANGHAI
from notification.service_layer.feed_runtime import reads
from notification.service_layer.incidents import declared_major
from notification.service_layer.projections import tracking_hash
from notification.service_layer.summary import SummaryCache
from shared.errors import NotFound, ValidationFailed
from shared.pagination import decode_cursor, encode_cursor
from shared.runtime import ServiceRuntime

BULK_BATCH = 1000  # entries per query of the streamed answers (timeliness, exports)
STREAM_BATCH = 100  # entries per query of the live stream
SUMMARY_CACHE = "feed_summary_cache"


def parse_period(period: str) -> tuple[datetime, datetime]:
    """The half-open UTC interval of a period given in Shanghai dates."""

    def start_end(part: str) -> tuple[date, date]:
        pieces = part.split("-")
        try:
            if len(pieces) == 1:
                y = int(pieces[0])
                return date(y, 1, 1), date(y + 1, 1, 1)
            if len(pieces) == 2:
                y, m = int(pieces[0]), int(pieces[1])
                return date(y, m, 1), date(y + (m == 12), m % 12 + 1, 1)
            day = date.fromisoformat(part)
            return day, day + timedelta(days=1)
        except (ValueError, OverflowError) as exc:
            raise ValidationFailed(f"无效的期间 (invalid period): {period}") from exc

    if ".." in period:
        first, _, last = period.partition("..")
        lo, hi = start_end(first)[0], start_end(last)[1]
    else:
        lo, hi = start_end(period)

    def at(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=SHANGHAI)

    return at(lo), at(hi)


def filters(
    kind: str | None,
    project: str | None,
    town: str | None,
    period: str | None,
    tracking_code: str | None,
) -> tuple[list[str], dict[str, Any]]:
    """The ``WHERE`` conditions (on entry ``e``) and their parameters for the feed's filters;
    ``tracking_code`` canonical (a gift's own entries, the uses it funded, the goods from it)."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if kind:
        where.append("e.kind = :kind")
        params["kind"] = kind
    if project:
        where.append("e.project_code = :project")
        params["project"] = project
    if town:
        where.append("e.town = :town")
        params["town"] = town
    if period:
        params["p_from"], params["p_to"] = parse_period(period)
        where.append("e.occurred_at >= :p_from AND e.occurred_at < :p_to")
    if tracking_code:
        digest = tracking_hash(tracking_code)
        where.append(
            "(e.tracking_code_hash = :tch OR e.data @> CAST(:funded AS jsonb)"
            " OR e.data @> CAST(:lines AS jsonb))"
        )
        params["tch"] = digest
        params["funded"] = json.dumps({"funded_by": [{"tracking_code_hash": digest}]})
        params["lines"] = json.dumps({"lines": [{"from_gifts": [digest]}]})
    return where, params


_SELECT = (
    "SELECT l.leaf_index,"  # noqa: S608 - constant columns; filters are bound parameters
    + ENTRY_COLUMNS
    + " FROM feed_entries e LEFT JOIN feed_entries c ON c.seq = e.corrects_seq"
    " LEFT JOIN feed_log_leaves l ON l.entry_seq = e.seq"
)


def entry_out(row: Any) -> FeedEntryOut:
    """An entry as the API shows it (with its hashed document)."""
    # from our own table: built without validation (the schema holds by construction)
    return FeedEntryOut.model_construct(
        id=row.id,
        seq=row.seq,
        leaf_index=row.leaf_index,
        kind=row.kind,
        title=row.title,
        data=row.data,
        project_code=row.project_code,
        town=row.town,
        incident_ref=row.incident_ref,
        occurred_at=row.occurred_at,
        published_at=row.published_at,
        corrects_seq=row.corrects_seq,
        corrects=row.corrects_id,
        tracking_code_hash=row.tracking_code_hash,
        entry=document_of(row),
    )


async def select_entries(
    runtime: ServiceRuntime, where: list[str], params: dict[str, Any], tail: str
) -> list[Any]:
    """The entry rows (with their leaf index and the id of the entry they correct) matching
    ``where``, then ``tail`` (``ORDER BY …``, ``LIMIT …``)."""
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " " + tail
    return list(await reads(runtime).rows(sql, params))


async def feed_page(
    runtime: ServiceRuntime,
    *,
    limit: int,
    cursor: str | None,
    kind: str | None,
    project: str | None,
    town: str | None,
    period: str | None,
    tracking_code: str | None,
) -> FeedPage:
    """One page of the feed, newest first, and the next page's cursor (a malformed cursor or
    period is a ``422``)."""
    where, params = filters(kind, project, town, period, tracking_code)
    if cursor is not None:
        (before,) = decode_cursor(cursor, 1)
        try:
            params["before"] = int(before)
        except (TypeError, ValueError) as exc:
            raise ValidationFailed("无效的分页游标 (invalid cursor)") from exc
        if not 0 <= params["before"] <= 2**62:
            raise ValidationFailed("无效的分页游标 (invalid cursor)")
        where.append("e.seq < :before")
    params["limit"] = limit + 1
    rows = await select_entries(runtime, where, params, "ORDER BY e.seq DESC LIMIT :limit")
    page = rows[:limit]
    return FeedPage.model_construct(
        items=[entry_out(r) for r in page],
        next_cursor=encode_cursor(page[-1].seq) if len(rows) > limit else None,
    )


async def entry(runtime: ServiceRuntime, entry_id: uuid.UUID) -> FeedEntryOut:
    """One entry; ``404`` if there is none of that id."""
    rows = await select_entries(runtime, ["e.id = :id"], {"id": entry_id}, "")
    if not rows:
        raise NotFound("条目不存在 (no such entry)")
    return entry_out(rows[0])


async def tracked_entries(runtime: ServiceRuntime, code: str) -> FeedPage:
    """A gift's public entries in feed order (at most 500) by its canonical tracking code;
    ``404`` if there is none."""
    where, params = filters(None, None, None, None, code)
    rows = await select_entries(runtime, where, params, "ORDER BY e.seq LIMIT 500")
    if not rows:
        raise NotFound("没有与该查询码对应的公示 (no public entry for this tracking code)")
    return FeedPage(items=[entry_out(r) for r in rows], next_cursor=None)


async def summary_json(runtime: ServiceRuntime) -> bytes:
    """The summary's JSON, from this process's cache (rebuilt when the feed's totals moved)."""
    cache: SummaryCache | None = runtime.extras.get(SUMMARY_CACHE)
    if cache is None:
        cache = runtime.extras[SUMMARY_CACHE] = SummaryCache()
    return await cache.get(runtime.session_factory, reads(runtime))


async def prefetched(batches: AsyncIterator[list[Any]]) -> AsyncIterator[list[Any]]:
    """``batches`` with the first one already read: a failure to read (the database down)
    is an error response, not a stream cut short after its status line."""
    first = await anext(batches, None)

    async def replay() -> AsyncIterator[list[Any]]:
        if first is None:
            return
        yield first
        async for batch in batches:
            yield batch

    return replay()


async def timeliness(
    runtime: ServiceRuntime,
) -> tuple[dict[str, Any], AsyncIterator[list[dict[str, Any]]]]:
    """The timeliness report: its head (the rules, the delay distribution by kind, from one
    snapshot) and its late entries in feed order, ``BULK_BATCH`` at a time (the first batch
    read already)."""
    rules = timeliness_report.rules_of(runtime.settings)
    db = reads(runtime)
    async with db.snapshot() as snapshot:
        by_kind = await timeliness_report.delay_by_kind(snapshot)
        rules.declared_major = await declared_major(snapshot)
    head = {"rules": timeliness_report.rules_json(rules), "delay_by_kind": by_kind}
    late = await prefetched(timeliness_report.late_entries(db, rules, BULK_BATCH))
    return head, late


# The ``seq`` range an export covers. With a period, that of the period's entries, found by
# its ``occurred_at`` index (``seq + 0``: not "min/max by walking the primary key and
# filtering", which reads the feed up to the period); else the whole feed at the start.
_SPAN = "SELECT min(seq) AS first, max(seq) AS last FROM feed_entries"
_PERIOD_SPAN = (
    "SELECT min(seq + 0) AS first, max(seq + 0) AS last FROM feed_entries"
    " WHERE occurred_at >= :p_from AND occurred_at < :p_to"
)


async def export_batches(
    runtime: ServiceRuntime,
    kind: str | None,
    project: str | None,
    town: str | None,
    period: str | None,
) -> AsyncIterator[list[Any]]:
    """The filtered entries in ``seq`` order, ``BULK_BATCH`` at a time (keyset: each batch is
    one query on the public read pool; no connection is held while a batch is sent).

    The batches stay within the ``seq`` range read first: a narrow period is not searched
    for across the whole feed, and entries inserted while the export streams are left out."""
    where, params = filters(kind, project, town, period, None)
    (span,) = await reads(runtime).rows(_PERIOD_SPAN if period else _SPAN, params)

    async def batches() -> AsyncIterator[list[Any]]:
        if span.first is None:
            return
        params.update(after=span.first - 1, last=span.last, limit=BULK_BATCH)
        bounded = [*where, "e.seq > :after", "e.seq <= :last"]
        while True:
            rows = await select_entries(runtime, bounded, params, "ORDER BY e.seq LIMIT :limit")
            if rows:
                yield rows
            if len(rows) < BULK_BATCH:
                return
            params["after"] = rows[-1].seq

    return await prefetched(batches())


async def latest_seq(runtime: ServiceRuntime) -> int:
    """The newest entry's ``seq`` (0 for an empty feed): where a live stream starts."""
    async with runtime.session_factory() as session:
        return int(
            await session.scalar(text("SELECT coalesce(max(seq), 0) FROM feed_entries")) or 0
        )


async def entries_after(runtime: ServiceRuntime, after: int) -> list[FeedEntryOut]:
    """The next ``STREAM_BATCH`` entries after ``seq`` ``after``, in feed order."""
    rows = await select_entries(
        runtime, ["e.seq > :after"], {"after": after}, f"ORDER BY e.seq LIMIT {STREAM_BATCH}"
    )
    return [entry_out(row) for row in rows]


async def latest_head_json(runtime: ServiceRuntime) -> dict[str, Any] | None:
    """The latest signed tree head as ``GET tree-head`` answers it, if one was signed."""
    async with runtime.session_factory() as session:
        head = await latest_head(session)
    return None if head is None else head.to_json()
