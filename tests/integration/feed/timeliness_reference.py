"""The timeliness report and the open-data exports as they were computed before migration
0007: every request read the whole feed (the delay percentiles sorted every entry, the late
candidates were read into Python, the exports built the whole document in memory).

Kept verbatim (under ``/reference``) as the oracle the bounded implementations are compared
with, byte for byte, in ``test_feed_timeliness.py``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import text

from notification.entrypoints.api.public import Kind, Period, Project, Town
from notification.log.entry import iso
from notification.service_layer.feed_metrics import DELAY_BUCKETS, deadline_for
from notification.service_layer.queries.feed import filters, select_entries
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/reference")


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


# --- timeliness ---------------------------------------------------------------------------


@router.get("/timeliness")
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
                "WITH d AS (SELECT kind, extract(epoch FROM published_at - occurred_at) AS s "
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
        declared = {
            r.code: r.declared_major_at
            for r in await session.execute(
                text("SELECT code, declared_major_at FROM feed_incidents WHERE major")
            )
        }
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
                declared_major=declared,
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
            "declared_major_incidents": {code: iso(at) for code, at in sorted(declared.items())},
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
    where, params = filters(kind, project, town, period, None)
    return await select_entries(_runtime(request), where, params, "ORDER BY e.seq")


@router.get("/export.json")
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


@router.get("/export.csv", response_class=Response)
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
