"""The summary as it was computed before migration 0005: from the whole feed at every request.

Kept as the oracle the aggregate-based summary is compared with (``test_feed_summary.py``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_FLOWS = """
WITH gifts AS (
    SELECT g.subject_id, g.data->>'donation_kind' AS kind, g.occurred_at,
           (g.data->>'amount_fen')::bigint AS amount,
           CASE WHEN dc.data IS NULL THEN g.project_code
                ELSE dc.data->>'to_project_code' END AS project_code
    FROM feed_entries g
    LEFT JOIN LATERAL (
        SELECT c.data FROM feed_entries c
        WHERE c.subject_id = g.subject_id AND c.kind = 'correction'
          AND c.data->>'correction' = 'designation_changed'
        ORDER BY c.seq DESC LIMIT 1
    ) dc ON true
    WHERE g.kind = 'donation.received'
), adjustments AS (
    SELECT subject_id, occurred_at, -abs((data->>'amount_fen')::bigint) AS amount
    FROM feed_entries
    WHERE (kind = 'correction' AND data->>'correction' = 'cancelled') OR kind = 'donation.refunded'
), towns AS (
    SELECT DISTINCT ON (project_code) project_code, town FROM feed_entries
    WHERE kind = 'project.opened' ORDER BY project_code, seq
), received AS (
    SELECT g.kind, g.project_code, g.occurred_at, g.amount FROM gifts g
    UNION ALL
    SELECT g.kind, g.project_code, a.occurred_at, a.amount
    FROM adjustments a JOIN gifts g USING (subject_id)
), used AS (
    SELECT 'money' AS kind, project_code, occurred_at, (data->>'amount_fen')::bigint AS amount,
           town
    FROM feed_entries e WHERE kind = 'funds.disbursed'
    AND NOT EXISTS (  -- reversed, or corrected (its replacement counts instead)
        SELECT 1 FROM feed_entries r
        WHERE r.corrects_seq = e.seq AND r.kind = 'correction'
          AND r.data->>'correction' IN ('disbursement_reversed', 'disbursement_corrected')
    )
)
"""


async def _grouped(session: Any, source: str, key: str) -> list[dict[str, Any]]:
    keys = {
        "month": "to_char(f.occurred_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')",
        "project": "f.project_code",
        "kind": "f.kind",
        "town": "f.town" if source == "used" else "t.town",
    }
    join = "" if source == "used" else " LEFT JOIN towns t ON t.project_code = f.project_code"
    sql = (
        _FLOWS
        + f"SELECT {keys[key]} AS k, sum(f.amount)::bigint AS amount_fen, count(*) AS n "
        + f"FROM {source} f{join} GROUP BY 1 ORDER BY 1 NULLS LAST"
    )
    rows = await session.execute(text(sql))
    return [{key: r.k, "amount_fen": int(r.amount_fen), "count": int(r.n)} for r in rows]


_GOODS = """
SELECT e.town, coalesce(cat.category, 'uncategorised') AS category, line->>'item_name' AS item,
       line->>'unit' AS unit, sum((line->>'delivered_quantity')::bigint)::bigint AS quantity
FROM feed_entries e
CROSS JOIN LATERAL jsonb_array_elements(e.data->'lines') AS line
LEFT JOIN feed_item_categories cat ON cat.item_code = line->>'item_code'
WHERE e.kind = 'goods.delivered'
GROUP BY 1, 2, 3, 4 ORDER BY 1 NULLS LAST, 2, 3, 4
"""


async def reference_summary(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    async with session_factory() as session:
        summary: dict[str, Any] = {"currency": "CNY", "amounts_in": "fen"}
        for source in ("received", "used"):
            summary[source] = {
                f"by_{key}": await _grouped(session, source, key)
                for key in ("month", "project", "kind", "town")
            }
            summary[source]["total_fen"] = sum(
                row["amount_fen"] for row in summary[source]["by_kind"]
            )
        summary["goods_distributed"] = [
            {
                "town": r.town,
                "category": r.category,
                "item": r.item,
                "unit": r.unit,
                "quantity": int(r.quantity),
            }
            for r in await session.execute(text(_GOODS))
        ]
        counts = await session.execute(
            text("SELECT kind, count(*) AS n FROM feed_entries GROUP BY kind ORDER BY kind")
        )
        summary["entries_by_kind"] = {r.kind: int(r.n) for r in counts}
    return summary
