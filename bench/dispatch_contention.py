"""Benchmark 4 — dispatch under contention: many parallel dispatches, each through the real
flow (request by a dispatcher → approve by someone else → FEFO pick, which reserves → ship,
which takes the units off the shelf), at fixed concurrency, many of them after the same scarce
lot. Prints dispatches/s (requested and shipped), p50/p95/p99 per step, the refusals (409
``insufficient_stock``) and checks correctness against the database afterwards; exits 1 if a
check fails.

    .local/venv/bin/python -m bench.dispatch_contention [--dispatches 600] [--concurrency 32]
        [--profile]

Catalogue (one warehouse): SCARCE — one lot of 100 units; MEDIUM — two lots of 600 (FEFO
takes the earlier expiry first) plus a lot expiring in 3 days that must never be picked;
PLENTY — three lots of 100,000. Each dispatch asks for one of: SCARCE 1–5, MEDIUM 1–10,
PLENTY 1–50, SCARCE+PLENTY, MEDIUM+PLENTY (seeded), so SCARCE runs out early and MEDIUM
near the end.

Needs PostgreSQL and Kafka running (`scripts/infra.sh up`). Uses its own database
(warehouse_bench_dispatch), port 28002 and topic prefix (bench4.).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx

from bench.common import (
    KAFKA,
    PG_PORT,
    PySpy,
    cpu_seconds,
    env_for,
    fresh_database,
    keys,
    percentile,
    profile_report,
    rss_mb,
    staff_tokens,
    start_service,
    stop,
    wait_ready,
)
from shared.aio import wait_event
from shared.messaging.topics import all_topics, ensure_topics
from warehouse.config import WarehouseSettings
from warehouse.main import MIGRATIONS

PORT = 28002
PREFIX = "bench4."
DB = "warehouse_bench_dispatch"
WAREHOUSE = "WH-BENCH"
STEPS = ("request", "approve", "pick", "ship")
USERS = {"dispatcher1": "dispatcher", "approver1": "approver", "keeper1": "warehouse"}


def lots_to_seed(today: date) -> dict[str, list[dict[str, Any]]]:
    year = today + timedelta(days=365)
    return {
        "SCARCE": [{"quantity": 100, "lot_no": "S-1", "expiry_date": year}],
        "MEDIUM": [
            {"quantity": 600, "lot_no": "M-EARLY", "expiry_date": today + timedelta(days=90)},
            {"quantity": 600, "lot_no": "M-LATE", "expiry_date": year},
            {"quantity": 500, "lot_no": "M-NEAR", "expiry_date": today + timedelta(days=3)},
        ],
        "PLENTY": [
            {"quantity": 100_000, "lot_no": "P-1", "expiry_date": year},
            {"quantity": 100_000, "lot_no": "P-2", "expiry_date": year + timedelta(days=30)},
            {"quantity": 100_000, "lot_no": "P-3", "expiry_date": None},
        ],
        "WARMUP": [{"quantity": 100_000, "lot_no": "W-1", "expiry_date": None}],
    }


def workload(count: int, seed: int = 7) -> list[list[tuple[str, int]]]:
    rng = random.Random(seed)
    shapes = ["scarce", "medium", "plenty", "scarce+plenty", "medium+plenty"]
    weights = [25, 25, 30, 10, 10]
    out = []
    for _ in range(count):
        shape = rng.choices(shapes, weights)[0]
        lines = []
        if "scarce" in shape:
            lines.append(("SCARCE", rng.randint(1, 5)))
        if "medium" in shape:
            lines.append(("MEDIUM", rng.randint(1, 10)))
        if "plenty" in shape:
            lines.append(("PLENTY", rng.randint(1, 50)))
        out.append(lines)
    return out


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    created: int = 0
    shipped: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # id -> lines
    refused: list[tuple[list[tuple[str, int]], dict[str, Any]]] = field(default_factory=list)
    other: Counter[str] = field(default_factory=Counter)  # unexpected answers, by step+status


class Client:
    def __init__(self, client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.auth = {u: {"Authorization": f"Bearer {t}"} for u, t in tokens.items()}

    async def post(
        self, results: Results, step: str, user: str, path: str, **kw: Any
    ) -> httpx.Response:
        headers = self.auth[user] | {"Idempotency-Key": str(uuid.uuid4())} | kw.pop("headers", {})
        started = time.perf_counter()
        response = await self.client.post(path, headers=headers, **kw)
        results.latencies[step].append(time.perf_counter() - started)
        return response


async def one_dispatch(c: Client, results: Results, n: int, lines: list[tuple[str, int]]) -> None:
    body = {
        "from_warehouse_code": WAREHOUSE,
        "destination": {"kind": "shelter", "name": "溪口镇中心小学临时安置点", "town": "溪口镇"},
        "incident_code": "TY-BENCH",
        "incident_name": "压测台风",
        "urgency": "urgent",
        "lines": [{"item_code": code, "quantity": q} for code, q in lines],
    }
    r = await c.post(results, "request", "dispatcher1", "/api/v1/dispatches", json=body)
    if r.status_code != 201:
        results.other[f"request {r.status_code}"] += 1
        return
    results.created += 1
    d = r.json()
    base = f"/api/v1/dispatches/{d['id']}"
    r = await c.post(
        results, "approve", "approver1", base + "/approve", headers={"If-Match": str(d["version"])}
    )
    if r.status_code != 200:
        results.other[f"approve {r.status_code}"] += 1
        return
    r = await c.post(results, "pick", "keeper1", base + "/pick")
    if r.status_code == 409 and r.json()["error"]["code"] == "insufficient_stock":
        results.refused.append((lines, r.json()["error"].get("details") or {}))
        return
    if r.status_code != 200:
        results.other[f"pick {r.status_code} {r.text[:120]}"] += 1
        return
    r = await c.post(results, "ship", "keeper1", base + "/ship", json={"waybill_no": f"SF{n:010d}"})
    if r.status_code != 200:
        results.other[f"ship {r.status_code} {r.text[:120]}"] += 1
        return
    results.shipped[d["id"]] = lines


async def drive(
    c: Client, work: list[list[tuple[str, int]]], concurrency: int, results: Results
) -> float:
    queue = iter(enumerate(work))

    async def worker() -> None:
        for n, lines in queue:
            await one_dispatch(c, results, n, lines)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def sample_waits(dsn: str, stop_event: asyncio.Event) -> dict[str, float]:
    """Every 0.1 s: how many of the service's database sessions wait for a lock, and how many
    sit idle inside a transaction (waiting for the service to send the next statement)."""
    conn = await asyncpg.connect(dsn)
    totals: Counter[str] = Counter()
    samples = 0
    try:
        while not stop_event.is_set():
            row = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock') AS lock_wait,"
                " count(*) FILTER (WHERE state = 'idle in transaction') AS idle_in_tx,"
                " count(*) FILTER (WHERE state = 'active') AS active"
                " FROM pg_stat_activity WHERE datname = $1 AND application_name = 'warehouse-api'",
                DB,
            )
            samples += 1
            for key in ("lock_wait", "idle_in_tx", "active"):
                totals[key] += row[key]
            await wait_event(stop_event, 0.1)
    finally:
        await conn.close()
    return {k: v / max(samples, 1) for k, v in totals.items()}


async def seed(c: Client, today: date) -> None:
    auth = c.auth["keeper1"]

    async def post(path: str, body: dict[str, Any], status: int = 201) -> Any:
        r = await c.client.post(
            path, json=body, headers=auth | {"Idempotency-Key": str(uuid.uuid4())}
        )
        if r.status_code != status:
            raise RuntimeError(f"seed {path}: {r.status_code} {r.text}")
        return r.json()

    await post(
        "/api/v1/warehouses",
        {"code": WAREHOUSE, "name": "压测区仓库", "kind": "district", "town": "岳林街道"},
    )
    for code in lots_to_seed(today):
        await post(
            "/api/v1/items",
            {
                "code": code,
                "name": f"压测物资 {code}",
                "category": "food",
                "unit": "箱",
                "unit_value_fen": 1000,
            },
        )
    for code, seeded in lots_to_seed(today).items():
        lines = [
            {"item_code": code, "quantity": lot["quantity"], "lot_no": lot["lot_no"]}
            | ({"expiry_date": lot["expiry_date"].isoformat()} if lot["expiry_date"] else {})
            for lot in seeded
        ]
        inbound = await post(
            "/api/v1/inbounds",
            {"warehouse_code": WAREHOUSE, "procurement_order": f"PO-{code}", "lines": lines},
        )
        await post(
            f"/api/v1/inbounds/{inbound['id']}/confirm",
            {
                "lines": [
                    {"line_no": i, "received_quantity": line["quantity"]}
                    for i, line in enumerate(lines, start=1)
                ]
            },
            status=200,
        )


async def check(
    dsn: str, results: Results, warmup: Results, today: date, min_days: int
) -> tuple[list[str], list[str]]:
    """Returns (passed, failed) check descriptions."""
    passed: list[str] = []
    failed: list[str] = []

    def verdict(ok: bool, text: str) -> None:
        (passed if ok else failed).append(text)

    seeded = lots_to_seed(today)
    conn = await asyncpg.connect(dsn)
    try:
        lots = await conn.fetch(
            "SELECT l.id, l.lot_no, i.code AS item, l.on_hand, l.reserved, l.expiry_date"
            " FROM lots l JOIN items i ON i.id = l.item_id"
        )
        levels = {
            r["item"]: r
            for r in await conn.fetch(
                "SELECT i.code AS item, s.on_hand, s.reserved FROM stock_levels s"
                " JOIN items i ON i.id = s.item_id"
            )
        }
        shipped_alloc = {
            r["lot_id"]: r["quantity"]
            for r in await conn.fetch(
                "SELECT a.lot_id, SUM(a.quantity)::int AS quantity FROM dispatch_allocations a"
                " JOIN dispatches d ON d.id = a.dispatch_id WHERE d.status = 'shipped'"
                " GROUP BY a.lot_id"
            )
        }
        per_dispatch = await conn.fetch(
            "SELECT d.id::text AS id, i.code AS item, SUM(a.quantity)::int AS quantity"
            " FROM dispatch_allocations a JOIN dispatches d ON d.id = a.dispatch_id"
            " JOIN items i ON i.id = a.item_id GROUP BY d.id, i.code"
        )
        card = await conn.fetch(
            "SELECT i.code AS item, m.lot_id, m.on_hand_delta, m.reserved_delta,"
            " m.on_hand_after, m.reserved_after FROM stock_movements m"
            " JOIN items i ON i.id = m.item_id ORDER BY m.seq"
        )
        statuses = dict(await conn.fetch("SELECT status, count(*) FROM dispatches GROUP BY 1"))
    finally:
        await conn.close()

    initial = {(item, lot["lot_no"]): lot["quantity"] for item, ls in seeded.items() for lot in ls}
    client_shipped: Counter[str] = Counter()
    for lines in results.shipped.values():
        for code, q in lines:
            client_shipped[code] += q
    for item in ("SCARCE", "MEDIUM", "PLENTY"):
        item_lots = [r for r in lots if r["item"] == item]
        left = sum(initial[(item, r["lot_no"])] - r["on_hand"] for r in item_lots)
        verdict(
            left == client_shipped[item],
            f"{item}: units that left the lots ({left}) = sum of shipped dispatch quantities "
            f"({client_shipped[item]})",
        )
        pickable = sum(
            initial[(item, r["lot_no"])]
            for r in item_lots
            if r["expiry_date"] is None or r["expiry_date"] >= today + timedelta(days=min_days)
        )
        verdict(
            client_shipped[item] <= pickable,
            f"{item}: shipped {client_shipped[item]} <= pickable stock {pickable}",
        )
        left_pickable = pickable - client_shipped[item]
        asked = [q for lines, _ in results.refused for code, q in lines if code == item]
        named = [d for _, d in results.refused if d.get("item_code") == item and "pickable" in d]
        verdict(
            all(d["pickable"] < d["requested"] for d in named)
            and all(left_pickable < d["requested"] for d in named),
            f"{item}: every refusal naming it ({len(named)}) asked for more than was pickable "
            f"then and than is left now ({left_pickable}; smallest refused ask "
            f"{min((d['requested'] for d in named), default='-')}, lines asking {len(asked)})",
        )
    verdict(
        all(r["on_hand"] >= 0 and 0 <= r["reserved"] <= r["on_hand"] for r in lots),
        "every lot: on_hand >= 0 and 0 <= reserved <= on_hand",
    )
    verdict(
        all(r["reserved"] == 0 for r in lots),
        "nothing left reserved (every pick that succeeded was shipped)",
    )
    near = [r for r in lots if r["lot_no"] == "M-NEAR"]
    verdict(
        bool(near) and near[0]["on_hand"] == initial[("MEDIUM", "M-NEAR")],
        "the lot expiring within the pick window was never picked",
    )
    verdict(
        all(
            initial[(r["item"], r["lot_no"])] - r["on_hand"] == shipped_alloc.get(r["id"], 0)
            for r in lots
        ),
        "every lot: units gone = its allocations to shipped dispatches",
    )
    verdict(
        all(
            levels[item]["on_hand"] == sum(r["on_hand"] for r in lots if r["item"] == item)
            and levels[item]["reserved"] == sum(r["reserved"] for r in lots if r["item"] == item)
            for item in levels
        ),
        "stock levels = sum of their lots (on hand and reserved)",
    )
    wanted = {d: dict(lines) for d, lines in results.shipped.items()}
    got: dict[str, dict[str, int]] = defaultdict(dict)
    for r in per_dispatch:
        if r["id"] not in warmup.shipped:
            got[r["id"]][r["item"]] = r["quantity"]
    verdict(
        all(got.get(d) == lines for d, lines in wanted.items()) and all(d in wanted for d in got),
        f"each shipped dispatch's allocations = its requested lines ({len(wanted)} dispatches); "
        "no allocations elsewhere",
    )
    by_lot: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
    running: dict[str, list[int]] = {}
    chain_ok = True
    for m in card:
        by_lot[m["lot_id"]][0] += m["on_hand_delta"]
        by_lot[m["lot_id"]][1] += m["reserved_delta"]
        before = running.get(m["item"], [0, 0])
        after = [before[0] + m["on_hand_delta"], before[1] + m["reserved_delta"]]
        if after != [m["on_hand_after"], m["reserved_after"]] or min(after) < 0:
            chain_ok = False
        running[m["item"]] = after
    verdict(
        all(by_lot[r["id"]] == [r["on_hand"], r["reserved"]] for r in lots),
        f"stock card: each lot's movements sum to its quantities ({len(card)} movements)",
    )
    verdict(
        chain_ok
        and all(
            running.get(i, [0, 0]) == [levels[i]["on_hand"], levels[i]["reserved"]] for i in levels
        ),
        "stock card: running balance never negative, consistent, ends at the level",
    )
    shipped_db = statuses.get("shipped", 0) - len(warmup.shipped)
    verdict(
        shipped_db == len(results.shipped),
        f"dispatches shipped in the database ({shipped_db}, besides the warm-up) = answered "
        f"200 ({len(results.shipped)})",
    )
    verdict(not results.other, f"no unexpected answers ({dict(results.other) or 'none'})")
    return passed, failed


async def fresh_bench_database(settings: WarehouseSettings) -> None:
    """fresh_database, retried: right after a previous run PostgreSQL may still have a
    background worker (autovacuum) in the old database that DROP ... FORCE may not end."""
    for attempt in range(10):
        try:
            await fresh_database(settings, MIGRATIONS)
            return
        except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError):
            if attempt == 9:
                raise
            await asyncio.sleep(2)


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dispatches", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--profile", action="store_true", help="py-spy the service under load")
    args = parser.parse_args()
    key_dir = keys()
    settings = WarehouseSettings(
        db_name=DB, db_port=PG_PORT, port=PORT, topic_prefix=PREFIX, run_expiry_scan=False
    )
    await fresh_bench_database(settings)
    await ensure_topics(KAFKA, all_topics(PREFIX))
    env = env_for(
        "WAREHOUSE_",
        db_name=DB,
        db_port=PG_PORT,
        port=PORT,
        topic_prefix=PREFIX,
        jwt_public_key_file=key_dir / "jwt_public.pem",
        log_level="WARNING",
        db_pool_size=max(10, args.concurrency // 2),
        run_expiry_scan="false",
    )
    process = start_service("warehouse", env)
    url = f"http://127.0.0.1:{PORT}"
    today = date.today()
    results, warmup = Results(), Results()
    profile = None
    try:
        wait_ready(url, process)
        limits = httpx.Limits(
            max_connections=args.concurrency, max_keepalive_connections=args.concurrency
        )
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
            c = Client(http, staff_tokens(key_dir, USERS))
            await seed(c, today)
            warm = [[("WARMUP", 1)] for _ in range(64)]
            await drive(c, warm, args.concurrency, warmup)
            spy = PySpy(process.pid, "dispatch-contention") if args.profile else None
            stop_sampling = asyncio.Event()
            sampler = asyncio.create_task(sample_waits(settings.asyncpg_dsn, stop_sampling))
            cpu_before = cpu_seconds(process.pid)
            elapsed = await drive(c, workload(args.dispatches), args.concurrency, results)
            cpu = cpu_seconds(process.pid) - cpu_before
            stop_sampling.set()
            waits = await sampler
            if spy is not None:
                profile = spy.stop()
        peak_rss = rss_mb(process.pid)
        passed, failed = await check(
            settings.asyncpg_dsn, results, warmup, today, settings.pick_min_days_to_expiry
        )
    finally:
        stop(process)
    requests = sum(len(v) for v in results.latencies.values())
    print(
        f"dispatch under contention  ({args.dispatches} dispatches, concurrency "
        f"{args.concurrency}, 4 steps each: request → approve → pick → ship)"
    )
    print(f"  elapsed             {elapsed:8.2f} s   ({requests / elapsed:.1f} HTTP requests/s)")
    print(
        f"  requested           {results.created / elapsed:8.1f} dispatches/s ({results.created})"
    )
    print(
        f"  shipped (succeeded) {len(results.shipped) / elapsed:8.1f} dispatches/s "
        f"({len(results.shipped)})"
    )
    print(f"  refused at pick     {len(results.refused):8d}   (409 insufficient_stock)")
    print(f"  other answers       {sum(results.other.values()):8d}   {dict(results.other)}")
    for step in STEPS:
        ms = [v * 1000 for v in results.latencies[step]]
        print(
            f"  {step:8s} n={len(ms):4d}  p50 {percentile(ms, 50):7.1f} ms  "
            f"p95 {percentile(ms, 95):7.1f} ms  p99 {percentile(ms, 99):7.1f} ms"
        )
    print(
        f"  service CPU         {cpu:8.1f} s    ({100 * cpu / elapsed:.0f}% of one core; "
        f"{1000 * cpu / max(results.created, 1):.1f} ms per dispatch, "
        f"{1000 * cpu / max(requests, 1):.1f} ms per request)"
    )
    print(
        f"  database sessions   {waits['lock_wait']:8.1f} waiting for a lock, "
        f"{waits['idle_in_tx']:.1f} idle in transaction, {waits['active']:.1f} active (mean)"
    )
    print(f"  warehouse RSS after the run {peak_rss:.0f} MB")
    print("correctness")
    for text in passed:
        print(f"  ok    {text}")
    for text in failed:
        print(f"  FAIL  {text}")
    if profile is not None:
        print(f"profile ({profile})")
        print(profile_report(profile))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
