"""Public API (no login): the 阳光红会 disclosure feed, its summary, open data and live stream.

Every response is built from ``feed_entries`` only, which hold masked public facts. Look-ups
by tracking code (``/track/{code}``, ``/feed?tracking_code=``) read the code as the donation
service does and have its limit per client (``shared.public_lookups``), counted in this
service's own database.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel
from sqlalchemy import text

from notification.config import NotificationSettings
from notification.log.store import ENTRY_COLUMNS, document_of, latest_head
from notification.service_layer import open_data
from notification.service_layer import timeliness as timeliness_report
from notification.service_layer.feed_metrics import SHANGHAI
from notification.service_layer.feed_runtime import BROADCASTER, Broadcaster, reads
from notification.service_layer.open_data import iati as iati
from notification.service_layer.projections import tracking_hash
from notification.service_layer.summary import SummaryCache
from notification.service_layer.summary import build_summary as build_summary
from shared import public_lookups
from shared.errors import NotFound, TooManyRequests, ValidationFailed
from shared.openapi import raises
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor
from shared.public_lookups import TRACKING_LOOKUP_LIMIT, client_of, derived_secret, shared_limiter
from shared.rate_limit import SharedRateLimiter
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/api/v1/public", tags=["public"])

KINDS = (
    "donation.received",
    "donation.receipted",
    "donation.allocated",
    "donation.refunded",
    "correction",
    "funds.disbursed",
    "goods.dispatched",
    "goods.delivered",
    "project.opened",
    "project.closed",
    "project.remainder",
    "follow_up",
)
Kind = Annotated[str | None, Query(max_length=64, description="Entry kind, e.g. funds.disbursed")]
Project = Annotated[str | None, Query(max_length=64, description="Project code")]
Town = Annotated[str | None, Query(max_length=64, description="Town, e.g. 溪口镇")]
Period = Annotated[
    str | None,
    Query(
        max_length=22,
        description="YYYY, YYYY-MM, YYYY-MM-DD or FROM..TO (dates, Asia/Shanghai) of the fact",
    ),
]
TrackingCode = Annotated[
    str | None, Query(max_length=64, description="A gift's tracking code: its public entries")
]


class FeedEntryOut(BaseModel):
    id: uuid.UUID
    seq: int
    leaf_index: int | None
    kind: str
    title: str
    data: dict[str, Any]
    project_code: str | None
    town: str | None
    incident_ref: str | None
    occurred_at: datetime
    published_at: datetime
    corrects_seq: int | None
    corrects: uuid.UUID | None
    tracking_code_hash: str | None
    entry: dict[str, Any]


class FeedPage(BaseModel):
    items: list[FeedEntryOut]
    next_cursor: str | None


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def lookup_limiter(runtime: ServiceRuntime) -> SharedRateLimiter:
    """The tracking look-ups' limiter (one count for both routes), keyed with a secret every
    instance shares (derived from the webhook signing secret)."""
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    secret = derived_secret(settings.webhook_secret.get_secret_value().encode(), "rate-limits")
    return shared_limiter(runtime, "track", TRACKING_LOOKUP_LIMIT, secret=secret)


async def tracked_code(request: Request, raw: str) -> str:
    """Count one look-up of the client (``429`` over the limit), then the canonical code
    (``422`` if malformed)."""
    await lookup_limiter(_runtime(request)).check(client_of(request))
    return public_lookups.tracking_code(raw)


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


def _filters(
    kind: str | None,
    project: str | None,
    town: str | None,
    period: str | None,
    tracking_code: str | None,
) -> tuple[list[str], dict[str, Any]]:
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
    if tracking_code:  # canonical (``tracked_code``)
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


def _out(row: Any) -> FeedEntryOut:
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


async def _select(
    runtime: ServiceRuntime, where: list[str], params: dict[str, Any], tail: str
) -> list[Any]:
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " " + tail
    return list(await reads(runtime).rows(sql, params))


def _json(model: BaseModel) -> Response:
    """A model we built ourselves, serialized once (not validated again on the way out)."""
    return Response(model.model_dump_json(), media_type="application/json")


@router.get(
    "/feed",
    response_model=FeedPage,
    summary="公示信息 The public feed, newest first",
    responses=raises((TooManyRequests, "Rate limited (look-ups by tracking code)")),
)
async def feed(
    request: Request,
    limit: Limit = 20,
    cursor: Cursor = None,
    kind: Kind = None,
    project: Project = None,
    town: Town = None,
    period: Period = None,
    tracking_code: TrackingCode = None,
) -> Response:
    if tracking_code:
        tracking_code = await tracked_code(request, tracking_code)
    where, params = _filters(kind, project, town, period, tracking_code)
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
    rows = await _select(_runtime(request), where, params, "ORDER BY e.seq DESC LIMIT :limit")
    page = rows[:limit]
    return _json(
        FeedPage.model_construct(
            items=[_out(r) for r in page],
            next_cursor=encode_cursor(page[-1].seq) if len(rows) > limit else None,
        )
    )


@router.get(
    "/entries/{entry_id}",
    response_model=FeedEntryOut,
    summary="单条公示 One entry",
    responses=raises((NotFound, "No such entry")),
)
async def one_entry(request: Request, entry_id: uuid.UUID) -> FeedEntryOut:
    rows = await _select(_runtime(request), ["e.id = :id"], {"id": entry_id}, "")
    if not rows:
        raise NotFound("条目不存在 (no such entry)")
    return _out(rows[0])


@router.get(
    "/track/{tracking_code}",
    response_model=FeedPage,
    summary="按查询码查看捐赠去向",
    responses=raises(
        (NotFound, "No public entry for this tracking code"), (TooManyRequests, "Rate limited")
    ),
)
async def track(request: Request, tracking_code: str) -> FeedPage:
    """A gift's public entries (received, receipted, used, corrected) by its tracking code.

    Entries store only the SHA-256 of the code, never the code itself."""
    code = await tracked_code(request, tracking_code)
    where, params = _filters(None, None, None, None, code)
    rows = await _select(_runtime(request), where, params, "ORDER BY e.seq LIMIT 500")
    if not rows:
        raise NotFound("没有与该查询码对应的公示 (no public entry for this tracking code)")
    return FeedPage(items=[_out(r) for r in rows], next_cursor=None)


# --- summary ---------------------------------------------------------------------------------

SUMMARY_CACHE = "feed_summary_cache"


@router.get(
    "/summary",
    response_model=dict[str, Any],
    summary="汇总 Totals received and used; goods distributed",
)
async def summary(request: Request) -> Response:
    """Received (gifts, net of cancellations and refunds) and used (disbursements), each by
    month (Asia/Shanghai), project, kind and town; goods delivered by town and category."""
    runtime = _runtime(request)
    cache: SummaryCache | None = runtime.extras.get(SUMMARY_CACHE)
    if cache is None:
        cache = runtime.extras[SUMMARY_CACHE] = SummaryCache()
    body = await cache.get(runtime.session_factory, reads(runtime))
    return Response(body, media_type="application/json")


# --- timeliness ---------------------------------------------------------------------------

BULK_BATCH = 1000  # entries per query of the streamed endpoints


async def _prefetched(batches: AsyncIterator[list[Any]]) -> AsyncIterator[list[Any]]:
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


@router.get(
    "/timeliness",
    response_model=dict[str, Any],
    summary="公示及时性 Disclosure delay distribution and late facts",
)
async def timeliness(request: Request) -> StreamingResponse:
    """`delay_by_kind`: per kind the count, exact p50/p90/p99 and maximum of the delay
    between a fact and its entry (seconds), and cumulative counts at fixed bounds; `late`:
    every entry published after its deadline, in feed order.

    Computed from a delay histogram kept as entries are inserted and two indexes, never by
    reading the whole feed; `late` is streamed in batches of 1000 entries (its length is
    the number of late entries)."""
    runtime = _runtime(request)
    rules = timeliness_report.rules_of(runtime.settings)
    db = reads(runtime)
    async with db.snapshot() as snapshot:
        by_kind = await timeliness_report.delay_by_kind(snapshot)
    head = {"rules": timeliness_report.rules_json(rules), "delay_by_kind": by_kind}
    late = await _prefetched(timeliness_report.late_entries(db, rules, BULK_BATCH))
    return StreamingResponse(
        open_data.json_array_stream(head, "late", late), media_type="application/json"
    )


# --- open data export -------------------------------------------------------------------------


# The ``seq`` range an export covers. With a period, that of the period's entries, found by
# its ``occurred_at`` index (``seq + 0``: not "min/max by walking the primary key and
# filtering", which reads the feed up to the period); else the whole feed at the start.
_SPAN = "SELECT min(seq) AS first, max(seq) AS last FROM feed_entries"
_PERIOD_SPAN = (
    "SELECT min(seq + 0) AS first, max(seq + 0) AS last FROM feed_entries"
    " WHERE occurred_at >= :p_from AND occurred_at < :p_to"
)


async def _export_batches(
    request: Request,
    kind: str | None,
    project: str | None,
    town: str | None,
    period: str | None,
) -> AsyncIterator[list[Any]]:
    """The filtered entries in ``seq`` order, ``BULK_BATCH`` at a time (keyset: each batch is
    one query on the public read pool; no connection is held while a batch is sent).

    The batches stay within the ``seq`` range read first: a narrow period is not searched
    for across the whole feed, and entries inserted while the export streams are left out."""
    where, params = _filters(kind, project, town, period, None)
    runtime = _runtime(request)
    (span,) = await reads(runtime).rows(_PERIOD_SPAN if period else _SPAN, params)

    async def batches() -> AsyncIterator[list[Any]]:
        if span.first is None:
            return
        params.update(after=span.first - 1, last=span.last, limit=BULK_BATCH)
        bounded = [*where, "e.seq > :after", "e.seq <= :last"]
        while True:
            rows = await _select(runtime, bounded, params, "ORDER BY e.seq LIMIT :limit")
            if rows:
                yield rows
            if len(rows) < BULK_BATCH:
                return
            params["after"] = rows[-1].seq

    return await _prefetched(batches())


_EXPORT_DESCRIPTION = (
    "Every entry matching the filters, oldest first, streamed in batches of "
    f"{BULK_BATCH} entries (memory stays bounded whatever the size of the feed). Each "
    "row carries `iati_transaction_type`: 1 incoming funds, 3 disbursement, 4 expenditure."
)


@router.get(
    "/export.json",
    response_model=dict[str, Any],
    summary="开放数据 Open-data export (JSON, with IATI types)",
    description=_EXPORT_DESCRIPTION,
)
async def export_json(
    request: Request,
    kind: Kind = None,
    project: Project = None,
    town: Town = None,
    period: Period = None,
) -> StreamingResponse:
    batches = await _export_batches(request, kind, project, town, period)
    return StreamingResponse(open_data.json_export(batches), media_type="application/json")


@router.get(
    "/export.csv",
    summary="开放数据 Open-data export (CSV, with IATI types)",
    description=_EXPORT_DESCRIPTION + " UTF-8 with a byte-order mark.",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def export_csv(
    request: Request,
    kind: Kind = None,
    project: Project = None,
    town: Town = None,
    period: Period = None,
) -> StreamingResponse:
    batches = await _export_batches(request, kind, project, town, period)
    return StreamingResponse(
        open_data.csv_export(batches),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="sunshine-feed.csv"'},
    )


# --- live stream ------------------------------------------------------------------------------

KEEPALIVE_S = 15.0


@router.get(
    "/stream",
    summary="实时推送 Server-sent events of new entries",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def stream(
    request: Request,
    after: Annotated[
        int | None, Query(ge=0, le=2**62, description="Resume after this entry seq")
    ] = None,
) -> StreamingResponse:
    """Each new entry as an ``entry`` event (``id`` = its seq; ``Last-Event-ID`` resumes), and
    each newly signed tree head as a ``head`` event (the same JSON as ``GET tree-head``)."""
    runtime = _runtime(request)
    broadcaster: Broadcaster = runtime.extras[BROADCASTER]
    last_event = request.headers.get("last-event-id")
    if after is None and last_event and last_event.isdigit() and len(last_event) < 19:
        after = int(last_event)
    if after is None:
        async with runtime.session_factory() as session:
            after = int(
                await session.scalar(text("SELECT coalesce(max(seq), 0) FROM feed_entries")) or 0
            )
    queue = broadcaster.subscribe()

    async def events(start: int) -> AsyncIterator[str]:
        cursor = start
        try:
            yield f"retry: 3000\n: connected, after {cursor}\n\n"
            while True:
                rows = await _select(
                    runtime, ["e.seq > :after"], {"after": cursor}, "ORDER BY e.seq LIMIT 100"
                )
                for row in rows:
                    payload = _out(row).model_dump(mode="json")
                    body = json.dumps(payload, ensure_ascii=False)
                    yield f"id: {row.seq}\nevent: entry\ndata: {body}\n\n"
                    cursor = row.seq
                if len(rows) == 100:
                    continue
                try:
                    messages = [await asyncio.wait_for(queue.get(), KEEPALIVE_S)]
                    while not queue.empty():
                        messages.append(queue.get_nowait())
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                if any(kind == "head" for kind, _ in messages):
                    async with runtime.session_factory() as session:
                        head = await latest_head(session)
                    if head is not None:
                        yield f"event: head\ndata: {json.dumps(head.to_json())}\n\n"
        finally:
            broadcaster.unsubscribe(queue)

    return StreamingResponse(
        events(after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
