"""Public API (no login): the 阳光红会 disclosure feed, its summary, open data and live stream.

Every response is built from ``feed_entries`` only, which hold masked public facts.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel
from sqlalchemy import text

from notification.log.entry import iso
from notification.log.store import ENTRY_COLUMNS, document_of, latest_head
from notification.service_layer.feed_metrics import DELAY_BUCKETS, SHANGHAI, deadline_for
from notification.service_layer.feed_runtime import BROADCASTER, Broadcaster, reads
from notification.service_layer.projections import tracking_hash
from notification.service_layer.summary import SummaryCache
from notification.service_layer.summary import build_summary as build_summary
from shared.errors import NotFound, ValidationFailed
from shared.openapi import raises
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor
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


@router.get("/feed", response_model=FeedPage, summary="公示信息 The public feed, newest first")
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
    responses=raises((NotFound, "No public entry for this tracking code")),
)
async def track(request: Request, tracking_code: str) -> FeedPage:
    """A gift's public entries (received, receipted, used, corrected) by its tracking code.

    Entries store only the SHA-256 of the code, never the code itself."""
    where, params = _filters(None, None, None, None, tracking_code)
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


@router.get("/timeliness", summary="公示及时性 Disclosure delay distribution and late facts")
async def timeliness(request: Request) -> dict[str, Any]:
    runtime = _runtime(request)
    settings: Any = runtime.settings
    async with runtime.session_factory() as session:
        stats = await session.execute(
            text(
                "WITH d AS (SELECT kind, extract(epoch FROM published_at - occurred_at) AS s "
                "FROM feed_entries) SELECT kind, count(*) AS n, "
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY s) AS p50, "
                "percentile_cont(0.9) WITHIN GROUP (ORDER BY s) AS p90, "
                "percentile_cont(0.99) WITHIN GROUP (ORDER BY s) AS p99, max(s) AS max "
                "FROM d GROUP BY kind ORDER BY kind"
            )
        )
        by_kind: dict[str, dict[str, Any]] = {
            r.kind: {
                "count": int(r.n),
                "p50_s": round(float(r.p50), 3),
                "p90_s": round(float(r.p90), 3),
                "p99_s": round(float(r.p99), 3),
                "max_s": round(float(r.max), 3),
            }
            for r in stats
        }
        buckets = ", ".join(
            f"count(*) FILTER (WHERE s <= {float(b)}) AS le_{i}"
            for i, b in enumerate(DELAY_BUCKETS)
        )
        histogram = await session.execute(
            text(
                "WITH d AS (SELECT kind, extract(epoch FROM published_at - occurred_at) AS s "  # noqa: S608 - bucket bounds are constants
                f"FROM feed_entries) SELECT kind, {buckets} FROM d GROUP BY kind"
            )
        )
        for r in histogram:
            by_kind[r.kind]["cumulative_buckets_s"] = {
                str(b): int(getattr(r, f"le_{i}")) for i, b in enumerate(DELAY_BUCKETS)
            }
        candidates = await session.execute(
            text(
                "SELECT id, kind, title, occurred_at, published_at, project_code, incident_ref "
                "FROM feed_entries WHERE published_at - occurred_at > interval '1 hour' "
                "ORDER BY seq"
            )
        )
        late = []
        for r in candidates:
            due, rule = deadline_for(
                r.kind,
                r.occurred_at,
                refs=(r.incident_ref, r.project_code),
                major_disaster_refs=settings.major_disaster_refs,
                holidays=settings.public_holidays,
                routine_working_days=settings.routine_disclosure_working_days,
                disaster_hours=settings.disaster_disclosure_hours,
            )
            if due is not None and r.published_at > due:
                late.append(
                    {
                        "id": str(r.id),
                        "kind": r.kind,
                        "title": r.title,
                        "occurred_at": iso(r.occurred_at),
                        "published_at": iso(r.published_at),
                        "deadline": iso(due),
                        "rule": rule,
                        "late_by_s": round((r.published_at - due).total_seconds(), 3),
                    }
                )
    return {
        "rules": {
            "gift_routine": f"{settings.routine_disclosure_working_days} working days",
            "gift_major_disaster": f"{settings.disaster_disclosure_hours} hours",
            "use_of_funds_and_goods": "30 days (24 hours in a declared major disaster)",
            "major_disaster_refs": settings.major_disaster_refs,
        },
        "delay_by_kind": by_kind,
        "late": late,
    }


# --- open data export -------------------------------------------------------------------------


def iati(row: Any) -> tuple[int | None, int | None]:
    """IATI transaction type and value (fen) of an entry, if it is a transaction.

    1 incoming funds: a money gift (a cancellation or refund of one: negative value);
    3 disbursement: funds passed to an organisation; 4 expenditure: spent for a person."""
    data = row.data
    if row.kind == "donation.received" and data.get("donation_kind") == "money":
        return 1, int(data["amount_fen"])
    if row.kind == "donation.refunded" or (
        row.kind == "correction" and data.get("correction") == "cancelled"
    ):
        amount = abs(int(data.get("amount_fen") or 0))
        return (1, -amount) if amount else (None, None)
    if row.kind == "funds.disbursed":
        code = 3 if data.get("recipient_type") == "organization" else 4
        return code, int(data["amount_fen"])
    return None, None


EXPORT_FIELDS = (
    "leaf_index",
    "id",
    "kind",
    "title",
    "occurred_at",
    "published_at",
    "project_code",
    "town",
    "incident_ref",
    "corrects",
    "tracking_code_hash",
    "amount_fen",
    "iati_transaction_type",
    "iati_value_cny",
)


def _export_row(row: Any) -> dict[str, Any]:
    code, value = iati(row)
    amount = row.data.get("amount_fen")
    return {
        "leaf_index": row.leaf_index,
        "id": str(row.id),
        "kind": row.kind,
        "title": row.title,
        "occurred_at": iso(row.occurred_at),
        "published_at": iso(row.published_at),
        "project_code": row.project_code,
        "town": row.town,
        "incident_ref": row.incident_ref,
        "corrects": str(row.corrects_id) if row.corrects_id else None,
        "tracking_code_hash": row.tracking_code_hash,
        "amount_fen": amount if isinstance(amount, int) else None,
        "iati_transaction_type": code,
        "iati_value_cny": f"{value / 100:.2f}" if value is not None else None,
    }


async def _export_rows(
    request: Request,
    kind: str | None,
    project: str | None,
    town: str | None,
    period: str | None,
) -> list[Any]:
    where, params = _filters(kind, project, town, period, None)
    return await _select(_runtime(request), where, params, "ORDER BY e.seq")


@router.get("/export.json", summary="开放数据 Open-data export (JSON, with IATI types)")
async def export_json(
    request: Request,
    kind: Kind = None,
    project: Project = None,
    town: Town = None,
    period: Period = None,
) -> dict[str, Any]:
    rows = await _export_rows(request, kind, project, town, period)
    return {
        "publisher": "奉化区红十字会 Fenghua District Red Cross",
        "iati_transaction_types": {"1": "Incoming Funds", "3": "Disbursement", "4": "Expenditure"},
        "entries": [_export_row(r) | {"data": r.data} for r in rows],
    }


@router.get(
    "/export.csv",
    summary="开放数据 Open-data export (CSV, with IATI types)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def export_csv(
    request: Request,
    kind: Kind = None,
    project: Project = None,
    town: Town = None,
    period: Period = None,
) -> Response:
    rows = await _export_rows(request, kind, project, town, period)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(_export_row(r))
    return Response(
        "\ufeff" + buffer.getvalue(),  # BOM so spreadsheet programs read the UTF-8 Chinese
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
