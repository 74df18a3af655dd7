"""Benchmark 8: the district's preparedness assessment (``assess``) against one SQL aggregate.

Seeds a scratch database (``warehouse_bench_preparedness``) with set-wise INSERTs — this is a
benchmark, not a test: the rows are generated, not booked through the domain — 13
warehouses × 500 items, two years of movements per pair (a receipt every 30 days, a shipment
every 3 days, some pairs shipping faster than they receive so that they run out of stock,
one dispatch in ten for an incident, one in twenty a transfer), lots with expiry dates, a few
hundred item policies. Then times, in the same run:

* ``assess(session, settings)`` for the whole district (every pair: AMC with stock-out days,
  months of stock, in transit, on order, expiring lots, policy, suggestion), and
* the floor: one SQL aggregate over the same movements (units shipped per warehouse and item
  in the window), which any AMC must at least read,

printing both (best and median of ``--runs``) and the ratio.

    .local/venv/bin/python -m bench.preparedness            # seeds once, then reuses
    .local/venv/bin/python -m bench.preparedness --reseed   # a fresh database
    .local/venv/bin/python -m bench.preparedness --profile  # cProfile of one assess
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import text

from bench.common import PG_PORT
from bench.dispatch_contention import fresh_bench_database
from shared.db import create_engine, create_session_factory
from warehouse.config import WarehouseSettings
from warehouse.domain.preparedness import Issue, average_monthly_consumption, days_out_of_stock
from warehouse.service_layer.preparedness import LevelAssessment, assess

DB = "warehouse_bench_preparedness"
WAREHOUSES = 13
ITEMS = 500
DAYS = 730
TOWNS = [
    "锦屏街道",
    "岳林街道",
    "江口街道",
    "西坞街道",
    "萧王庙街道",
    "溪口镇",
    "大堰镇",
    "莼湖街道",
    "裘村镇",
    "尚田街道",
    "松岙镇",
    "莼湖镇",
]

SEED_SQL = [
    # 1 district warehouse, 12 stations
    f"""
    INSERT INTO warehouses (id, code, name, kind, town, org_code)
    SELECT gen_random_uuid(), 'BW' || lpad(n::text, 2, '0'),
           CASE WHEN n = 0 THEN '区仓库' ELSE '站点' || n END,
           CASE WHEN n = 0 THEN 'district' ELSE 'station' END,
           CASE WHEN n = 0 THEN NULL ELSE (ARRAY{TOWNS!r}::text[])[n] END, 'FH'
    FROM generate_series(0, {WAREHOUSES - 1}) n
    """,
    f"""
    INSERT INTO items (id, code, name, category, unit, lot_tracked)
    SELECT gen_random_uuid(), 'BI' || lpad(n::text, 4, '0'), '物资' || n,
           (ARRAY['shelter','food','water','medical','lighting_power','clothing_bedding',
                  'hygiene'])[1 + n % 7], '件', true
    FROM generate_series(1, {ITEMS}) n
    """,
    # one dispatch per warehouse and shipment day (every 3 days); 1 in 10 an incident's,
    # 1 in 20 a transfer to the district warehouse
    f"""
    INSERT INTO dispatches (id, dispatch_no, kind, status, from_warehouse_id, destination_kind,
        destination_name, destination_warehouse_id, incident_code, urgency, lines,
        requested_by, requested_at, shipped_at, version, updated_at)
    SELECT gen_random_uuid(), 'BD-' || w.code || '-' || d,
           CASE WHEN d % 20 = 7 THEN 'transfer' ELSE 'dispatch' END,
           'delivered', w.id,
           CASE WHEN d % 20 = 7 THEN 'warehouse' ELSE 'shelter' END, '安置点',
           CASE WHEN d % 20 = 7 THEN (SELECT id FROM warehouses WHERE code = 'BW00') END,
           CASE WHEN d % 10 = 3 THEN 'TY-' || d END, 'normal', '[]'::jsonb,
           'bench', :start + d * interval '1 day', :start + d * interval '1 day', 1, now()
    FROM warehouses w, generate_series(0, {DAYS - 1}, 3) d
    """,
    # the movements: receipts every 30 days (+100), shipments every 3 days (1–12 units, a
    # third of the pairs 3–40 so that they run out); a shipment larger than what is there ships
    # what is there
    f"""
    WITH pairs AS (
        SELECT w.id AS warehouse_id, i.id AS item_id,
               (abs(hashtext(w.code || i.code)) % 3 = 0) AS heavy,
               abs(hashtext(i.code || w.code)) AS h
        FROM warehouses w, items i
    ), events AS (
        SELECT p.warehouse_id, p.item_id, :start + d * interval '1 day' + interval '1 hour' AS at,
               'receipt' AS movement, 100 AS delta, NULL::uuid AS dispatch_id
        FROM pairs p, generate_series(0, {DAYS - 1}, 30) d
        UNION ALL
        SELECT p.warehouse_id, p.item_id, :start + d * interval '1 day', 'shipment',
               -(CASE WHEN p.heavy THEN 3 + (p.h + d) % 38 ELSE 1 + (p.h + d) % 12 END),
               ds.id
        FROM pairs p
        CROSS JOIN generate_series(0, {DAYS - 1}, 3) d
        JOIN warehouses w ON w.id = p.warehouse_id
        JOIN dispatches ds ON ds.dispatch_no = 'BD-' || w.code || '-' || d
    ), ordered AS (
        SELECT *, row_number() OVER (PARTITION BY warehouse_id, item_id ORDER BY at) AS k
        FROM events
    ), walk AS (
        SELECT *, sum(delta) OVER w AS s
        FROM ordered WINDOW w AS (PARTITION BY warehouse_id, item_id ORDER BY k)
    ), levels AS (
        -- what a shipment can ship is what is there: the level is the running sum reflected
        -- at 0 (s − its running minimum, when below 0), so every row stays consistent
        SELECT *, s - least(0, min(s) OVER w) AS level
        FROM walk WINDOW w AS (PARTITION BY warehouse_id, item_id ORDER BY k)
    ), booked AS (
        SELECT *, level - coalesce(lag(level) OVER w, 0) AS booked_delta
        FROM levels WINDOW w AS (PARTITION BY warehouse_id, item_id ORDER BY k)
    )
    INSERT INTO stock_movements (id, warehouse_id, item_id, movement, on_hand_delta,
        reserved_delta, on_hand_after, reserved_after, reference_type, reference_id, actor, at)
    SELECT gen_random_uuid(), warehouse_id, item_id, movement, booked_delta, 0, level, 0,
           CASE WHEN dispatch_id IS NULL THEN 'inbound' ELSE 'dispatch' END, dispatch_id,
           'bench', at
    FROM booked ORDER BY at
    """,
    """
    INSERT INTO stock_levels (warehouse_id, item_id, on_hand, reserved, safety_stock, version)
    SELECT DISTINCT ON (warehouse_id, item_id) warehouse_id, item_id, on_hand_after, 0, 0, 1
    FROM stock_movements ORDER BY warehouse_id, item_id, at DESC, seq DESC
    """,
    # two lots per level: one expiring within weeks to months, one in a year
    """
    INSERT INTO lots (id, lot_no, item_id, warehouse_id, expiry_date, on_hand, reserved,
        received_quantity, unit_value_fen, source_kind, received_at)
    SELECT gen_random_uuid(),
           'L' || k || '-' || substr(md5(l.warehouse_id::text || l.item_id::text), 1, 8),
           l.item_id, l.warehouse_id,
           CASE WHEN k = 1 THEN current_date + (abs(hashtext(l.item_id::text)) % 120)
                ELSE current_date + 365 END,
           CASE WHEN k = 1 THEN l.on_hand / 2 ELSE l.on_hand - l.on_hand / 2 END, 0,
           l.on_hand, 100, 'procurement', now()
    FROM stock_levels l, generate_series(1, 2) k
    WHERE l.on_hand > 0
    """,
    """
    INSERT INTO stock_policies (warehouse_id, item_id, min_quantity, max_quantity, version,
        updated_at, updated_by)
    SELECT warehouse_id, item_id, 20, 200, 1, now(), 'bench'
    FROM stock_levels WHERE abs(hashtext(item_id::text || warehouse_id::text)) % 20 = 0
    """,
    "ANALYZE",
]

BASELINE_SQL = """
SELECT warehouse_id, item_id, SUM(-on_hand_delta) AS shipped
FROM stock_movements
WHERE movement = 'shipment' AND at >= :start AND at < :end
GROUP BY warehouse_id, item_id
"""


def timings(seconds: list[float]) -> str:
    best, median = min(seconds) * 1000, statistics.median(seconds) * 1000
    return f"  best {best:.0f} ms, median {median:.0f} ms"


async def seed(settings: WarehouseSettings) -> None:
    await fresh_bench_database(settings)
    start = datetime.now(UTC) - timedelta(days=DAYS)
    connection = await asyncpg.connect(settings.asyncpg_dsn)
    try:
        for statement in SEED_SQL:
            began = time.perf_counter()
            sql = statement.replace(":start", "$1::timestamptz")
            if "$1" in sql:
                await connection.execute(sql, start)
            else:
                await connection.execute(sql)
            words = statement.split()
            label = words[2] if words[0] == "INSERT" else words[0]
            print(f"  {label}: {time.perf_counter() - began:.1f} s")
        movements = await connection.fetchval("SELECT count(*) FROM stock_movements")
        print(f"  {movements:,} movements")
    finally:
        await connection.close()


async def seeded(settings: WarehouseSettings) -> bool:
    try:
        connection = await asyncpg.connect(settings.asyncpg_dsn)
    except asyncpg.InvalidCatalogNameError:
        return False
    try:
        count = await connection.fetchval("SELECT count(*) FROM stock_levels")
        if count != WAREHOUSES * ITEMS:
            return False
        await connection.execute("ANALYZE")  # a seed cut off before its last step
        return True
    except asyncpg.UndefinedTableError:
        return False
    finally:
        await connection.close()


CHECK_SQL = """
SELECT m.at, m.on_hand_after, m.on_hand_delta, m.movement, d.kind, d.incident_code
FROM stock_movements m LEFT JOIN dispatches d ON d.id = m.reference_id
WHERE m.warehouse_id = :w AND m.item_id = :i ORDER BY m.at, m.seq
"""


async def check_against_the_domain(
    sessions: Any, settings: WarehouseSettings, result: list[LevelAssessment], sample: int = 25
) -> int:
    """Recompute days out and AMC of ``sample`` pairs from their whole card with the pure
    functions; the number of pairs that differ from ``assess`` (0 expected)."""
    end = datetime.now(UTC)
    start = end - timedelta(days=settings.amc_lookback_days)
    wrong = 0
    async with sessions() as session:
        for a in result[:: max(1, len(result) // sample)]:
            rows = (
                await session.execute(text(CHECK_SQL), {"w": a.warehouse_id, "i": a.item_id})
            ).all()
            before = [r.on_hand_after for r in rows if r.at < start]
            levels = [(r.at, r.on_hand_after) for r in rows if r.at >= start]
            days = days_out_of_stock(
                levels, start=start, end=end, on_hand_at_start=before[-1] if before else 0
            )
            issues = [
                Issue(r.at, -r.on_hand_delta, r.kind == "transfer", r.incident_code is not None)
                for r in rows
                if r.at >= start and r.movement in ("shipment", "return") and r.kind
            ]
            amc = average_monthly_consumption(
                issues,
                window_days=settings.amc_lookback_days,
                days_out=days,
                exclude_transfers=settings.amc_exclude_transfers,
                exclude_incidents=settings.amc_exclude_incidents,
            )
            if (days, amc) != (a.days_out_of_stock, a.amc):
                wrong += 1
                print(
                    f"  differs: {a.warehouse_code}/{a.item_code} {days, amc} vs "
                    f"{a.days_out_of_stock, a.amc}"
                )
    return wrong


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    settings = WarehouseSettings(db_name=DB, db_port=PG_PORT, run_expiry_scan=False)
    if args.reseed or not await seeded(settings):
        print(f"seeding {DB}: {WAREHOUSES} warehouses × {ITEMS} items × {DAYS} days")
        await seed(settings)
    engine = create_engine(settings, application_name="bench-preparedness")
    sessions = create_session_factory(engine)
    try:
        assess_s: list[float] = []
        floor_s: list[float] = []
        pairs = 0
        for _ in range(args.runs + 1):  # the first of each is a warm-up
            async with sessions() as session:
                began = time.perf_counter()
                result = await assess(session, settings)
                assess_s.append(time.perf_counter() - began)
                pairs = len(result)
            async with sessions() as session:
                end = datetime.now(UTC)
                began = time.perf_counter()
                rows = await session.execute(
                    text(BASELINE_SQL),
                    {"start": end - timedelta(days=settings.amc_lookback_days), "end": end},
                )
                shipped = len(rows.all())
                floor_s.append(time.perf_counter() - began)
        assess_s, floor_s = assess_s[1:], floor_s[1:]
        below = sum(1 for a in result if a.below_reorder)
        ordering = sum(1 for a in result if a.suggestion.quantity > 0)
        print(f"assess(): {pairs} pairs ({below} below reorder, {ordering} with a suggestion)")
        print(timings(assess_s))
        print(f"aggregate of shipments: {shipped} pairs")
        print(timings(floor_s))
        print(
            f"ratio assess / aggregate: {min(assess_s) / min(floor_s):.1f} (best), "
            f"{statistics.median(assess_s) / statistics.median(floor_s):.1f} (median)"
        )
        wrong = await check_against_the_domain(sessions, settings, result)
        print(f"check: days out and AMC of sampled pairs recomputed by the domain: {wrong} differ")
        if args.profile:
            profiler = cProfile.Profile()
            async with sessions() as session:
                profiler.enable()
                await assess(session, settings)
                profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            print(out.getvalue())
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
