"""The public summary, read from the aggregates the feed keeps as entries are inserted.

The triggers of migration 0005 keep ``feed_summary_rows`` (totals plus not yet folded deltas)
per (source, kind, project, month, town, item): a request groups a few thousand rows instead
of the whole feed, and is answered from a per-process cache while the feed has not changed
(its version: the number of entries and of known item categories, read in the same snapshot
as the summary).

What it shows (unchanged): ``received`` (gifts net of cancellations and refunds; a gift and its
adjustments count for its latest project, a re-designation moves them) and ``used``
(disbursements), each by month (Asia/Shanghai), project, kind and town (a gift's town is its
project's, from the project's first ``project.opened``); goods delivered by town, category
(from the warehouse's stock events, joined when read) and item; entries by kind.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification.log.store import Reader

KEYS = {"month": "month", "project": "project_code", "kind": "kind", "town": "town"}

_GROUPED = (
    "SELECT {column} AS k, sum(amount)::bigint AS amount_fen, sum(n)::bigint AS n "
    "FROM feed_summary_rows WHERE source = :source "
    "GROUP BY 1 HAVING sum(n) > 0 ORDER BY 1 NULLS LAST"
)
_RECEIVED_BY_TOWN = text(
    """
    WITH towns AS (
        SELECT DISTINCT ON (project_code) project_code, town FROM feed_entries
        WHERE kind = 'project.opened' ORDER BY project_code, seq
    ), projects AS (
        SELECT project_code, sum(amount) AS amount, sum(n) AS n FROM feed_summary_rows
        WHERE source = 'received' GROUP BY project_code HAVING sum(n) > 0
    )
    SELECT t.town AS k, sum(p.amount)::bigint AS amount_fen, sum(p.n)::bigint AS n
    FROM projects p LEFT JOIN towns t ON t.project_code = p.project_code
    GROUP BY 1 ORDER BY 1 NULLS LAST
    """
)
_GOODS = text(
    """
    WITH goods AS (
        SELECT town, item_code, item, unit, sum(amount) AS quantity FROM feed_summary_rows
        WHERE source = 'goods' GROUP BY 1, 2, 3, 4 HAVING sum(n) > 0
    )
    SELECT g.town, coalesce(cat.category, 'uncategorised') AS category, g.item, g.unit,
           sum(g.quantity)::bigint AS quantity
    FROM goods g LEFT JOIN feed_item_categories cat ON cat.item_code = g.item_code
    GROUP BY 1, 2, 3, 4 ORDER BY 1 NULLS LAST, 2, 3, 4
    """
)
_BY_KIND = text(
    "SELECT kind, sum(n)::bigint AS n FROM feed_summary_rows WHERE source = 'entries' "
    "GROUP BY kind HAVING sum(n) > 0 ORDER BY kind"
)
VERSION = (
    "SELECT (SELECT coalesce(sum(n), 0) FROM feed_summary_rows WHERE source = 'entries')"
    " AS entries, (SELECT count(*) FROM feed_item_categories) AS categories"
)
_VERSION = text(VERSION)
# Fold the deltas into the totals (the checkpoint task, one writer at a time).
_FOLD = text(
    """
    WITH gone AS (DELETE FROM feed_summary_deltas RETURNING *)
    INSERT INTO feed_summary_totals AS t
        (source, kind, project_code, month, town, item_code, item, unit, amount, n)
    SELECT source, kind, project_code, month, town, item_code, item, unit, sum(amount), sum(n)
    FROM gone GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (source, kind, project_code, month, town, item_code, item, unit)
    DO UPDATE SET amount = t.amount + EXCLUDED.amount, n = t.n + EXCLUDED.n
    """
)

Version = tuple[int, int]


async def _grouped(session: AsyncSession, source: str, key: str) -> list[dict[str, Any]]:
    if source == "received" and key == "town":
        rows = await session.execute(_RECEIVED_BY_TOWN)
    else:
        sql = _GROUPED.format(column=KEYS[key])
        rows = await session.execute(text(sql), {"source": source})
    return [{key: r.k, "amount_fen": int(r.amount_fen), "count": int(r.n)} for r in rows]


async def read_summary(session: AsyncSession) -> tuple[Version, dict[str, Any]]:
    """The summary and its version, read in the session's current transaction."""
    version_row = (await session.execute(_VERSION)).one()  # same snapshot as the summary
    summary: dict[str, Any] = {"currency": "CNY", "amounts_in": "fen"}
    for source in ("received", "used"):
        summary[source] = {
            f"by_{key}": await _grouped(session, source, key)
            for key in ("month", "project", "kind", "town")
        }
        summary[source]["total_fen"] = sum(row["amount_fen"] for row in summary[source]["by_kind"])
    summary["goods_distributed"] = [
        {
            "town": r.town,
            "category": r.category,
            "item": r.item,
            "unit": r.unit,
            "quantity": int(r.quantity),
        }
        for r in await session.execute(_GOODS)
    ]
    summary["entries_by_kind"] = {r.kind: int(r.n) for r in await session.execute(_BY_KIND)}
    return (int(version_row.entries), int(version_row.categories)), summary


async def _snapshot(session: AsyncSession) -> None:
    await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))


async def build_summary(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """The summary, every part of it from one snapshot."""
    async with session_factory() as session, session.begin():
        await _snapshot(session)
        _, summary = await read_summary(session)
    return summary


def encode(summary: dict[str, Any]) -> bytes:
    """As FastAPI's JSONResponse encodes it."""
    return json.dumps(summary, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


@dataclass
class SummaryCache:
    """The encoded summary of one feed version; recomputed once (not per request) when the
    feed changed."""

    version: Version | None = None
    body: bytes = b""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(
        self, session_factory: async_sessionmaker[AsyncSession], reader: Reader | None = None
    ) -> bytes:
        """``reader``: for the version check, on every request (the public read pool); the
        summary itself is read in one REPEATABLE READ transaction of ``session_factory``."""
        if reader is None:
            async with session_factory() as session:
                row = (await session.execute(_VERSION)).one()
            current = (int(row.entries), int(row.categories))
        else:
            (row,) = await reader.rows(VERSION, {})
            current = (int(row.entries), int(row.categories))
        if current == self.version:
            return self.body
        async with self.lock:  # one computation; the requests that waited reuse it
            if current == self.version:
                return self.body
            async with session_factory() as session, session.begin():
                await _snapshot(session)
                version, summary = await read_summary(session)
            self.version, self.body = version, encode(summary)
            return self.body


FOLD_LOCK = 0x5EED_F01D


async def fold(session: AsyncSession) -> None:
    """Fold the appended deltas into one row per group (keeps the summary's reads small).
    One folder at a time: another process's fold in progress makes this one a no-op."""
    if await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": FOLD_LOCK}):
        await session.execute(_FOLD)
