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
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from notification.config import NotificationSettings
from notification.entrypoints.api.schemas import FeedEntryOut, FeedPage
from notification.service_layer import open_data
from notification.service_layer.feed_runtime import BROADCASTER, Broadcaster
from notification.service_layer.queries import feed as queries
from shared import public_lookups
from shared.errors import NotFound, TooManyRequests
from shared.openapi import raises
from shared.pagination import Cursor, Limit
from shared.public_lookups import TRACKING_LOOKUP_LIMIT, client_of, derived_secret, shared_limiter
from shared.rate_limit import SharedRateLimiter
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/api/v1/public", tags=["public"])

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
    page = await queries.feed_page(
        _runtime(request),
        limit=limit,
        cursor=cursor,
        kind=kind,
        project=project,
        town=town,
        period=period,
        tracking_code=tracking_code,
    )
    return _json(page)


@router.get(
    "/entries/{entry_id}",
    response_model=FeedEntryOut,
    summary="单条公示 One entry",
    responses=raises((NotFound, "No such entry")),
)
async def one_entry(request: Request, entry_id: uuid.UUID) -> FeedEntryOut:
    return await queries.entry(_runtime(request), entry_id)


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
    return await queries.tracked_entries(_runtime(request), code)


# --- summary ---------------------------------------------------------------------------------


@router.get(
    "/summary",
    response_model=dict[str, Any],
    summary="汇总 Totals received and used; goods distributed",
)
async def summary(request: Request) -> Response:
    """Received (gifts, net of cancellations and refunds) and used (disbursements), each by
    month (Asia/Shanghai), project, kind and town; goods delivered by town and category."""
    body = await queries.summary_json(_runtime(request))
    return Response(body, media_type="application/json")


# --- timeliness ---------------------------------------------------------------------------


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
    head, late = await queries.timeliness(_runtime(request))
    return StreamingResponse(
        open_data.json_array_stream(head, "late", late), media_type="application/json"
    )


# --- open data export -------------------------------------------------------------------------

_EXPORT_DESCRIPTION = (
    "Every entry matching the filters, oldest first, streamed in batches of "
    f"{queries.BULK_BATCH} entries (memory stays bounded whatever the size of the feed). Each "
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
    batches = await queries.export_batches(_runtime(request), kind, project, town, period)
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
    batches = await queries.export_batches(_runtime(request), kind, project, town, period)
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
        after = await queries.latest_seq(runtime)
    queue = broadcaster.subscribe()

    async def events(start: int) -> AsyncIterator[str]:
        cursor = start
        try:
            yield f"retry: 3000\n: connected, after {cursor}\n\n"
            while True:
                entries = await queries.entries_after(runtime, cursor)
                for entry in entries:
                    body = json.dumps(entry.model_dump(mode="json"), ensure_ascii=False)
                    yield f"id: {entry.seq}\nevent: entry\ndata: {body}\n\n"
                    cursor = entry.seq
                if len(entries) == queries.STREAM_BATCH:
                    continue
                try:
                    async with asyncio.timeout(KEEPALIVE_S):  # not wait_for: see shared.aio
                        messages = [await queue.get()]
                    while not queue.empty():
                        messages.append(queue.get_nowait())
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                if any(kind == "head" for kind, _ in messages):
                    head = await queries.latest_head_json(runtime)
                    if head is not None:
                        yield f"event: head\ndata: {json.dumps(head)}\n\n"
        finally:
            broadcaster.unsubscribe(queue)

    return StreamingResponse(
        events(after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
