"""Benchmark 5 — public reads with 1,000,000 feed entries stored.

1. Loads a bench notification database with N feed entries (default 1,000,000), or reuses it
   when it already holds them (``--reload`` forces a new one). The rows are the real
   projection's: generated events (gifts, receipts, allocations, disbursements, corrections,
   refunds, projects, deliveries) go through ``notification.service_layer.projections``
   with a stand-in session that collects the rows it stages; they are then COPYed, with the
   log's leaves (leaf hash = SHA-256 of the JCS document, in the checkpoint's order) and every
   complete aligned subtree node, and one signed tree head over the whole log.
2. Checks one inclusion proof with the real verifier (``python -m notification.verify``).
3. Starts the notification service as a process and offers a fixed rate (open loop: request
   i is due at ``start + i / rate``; its latency counts from that moment, so queueing counts)
   over a mix of feed pages (first page and random deep cursors), the summary and inclusion
   proofs of random leaves; prints the rate achieved and p50/p95/p99 per endpoint.

    .local/venv/bin/python -m bench.public_reads [--entries 1000000] [--rate 500]
        [--seconds 30] [--reload]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx

from bench.common import LOGS, PG_PORT, fresh_database, keys, percentile, start_service, stop
from bench.common import wait_ready as wait_ready_sync
from notification.config import NotificationSettings
from notification.log.entry import document_leaf_hash
from notification.log.merkle import Frontier
from notification.log.signing import LogSigner
from notification.log.store import document_of
from notification.main import MIGRATIONS
from notification.service_layer import projections
from notification.service_layer.summary import _FOLD
from shared.contracts import donation as d
from shared.contracts import warehouse as w
from shared.messaging.envelope import CloudEvent
from shared.pagination import encode_cursor

DB_NAME = "notification_bench5"
PORT = 19035
URL = f"http://127.0.0.1:{PORT}"
PUBLIC = URL + "/api/v1/public"
EXAMPLES: dict[str, Any] = {c.type: c.example for c in [*d.CONTRACTS, *w.CONTRACTS]}
TOWNS = ["溪口镇", "萧王庙街道", "锦屏街道", "岳林街道", "江口街道", "西坞街道", "莼湖街道"]
START = datetime(2024, 1, 1, tzinfo=UTC)


# --- synthetic events -----------------------------------------------------------------------


def _event(type_: str, payload: Any, at: datetime, key: str) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.UUID(int=random.getrandbits(128), version=4)),
        type=type_,
        source="/bench",
        time=at,
        data=payload.model_dump(mode="json"),
        subject=key,
    )


def events(count: int, seed: int = 5) -> Iterator[CloudEvent]:
    """About ``count`` public facts over two years: mostly gifts, with what follows them."""
    random.seed(seed)
    projects = [f"P{n:03d}" for n in range(60)]
    gifts: list[tuple[uuid.UUID, str, str | None]] = []
    step = timedelta(days=730) / count
    at = START
    for i, opened in enumerate(projects):
        yield _event(
            d.PROJECT_OPENED,
            EXAMPLES[d.PROJECT_OPENED].model_copy(
                update={"project_code": opened, "name": f"项目{i}", "town": TOWNS[i % 7]}
            ),
            at,
            opened,
        )
        at += step
    items = [("QUILT", "棉被", "床", "clothing_bedding"), ("RICE", "大米", "袋", "food")]
    for code, _name, _unit, category in items:
        lot = (
            EXAMPLES[w.STOCK_RECEIVED]
            .lots[0]
            .model_copy(update={"item_code": code, "category": category})
        )
        yield _event(
            w.STOCK_RECEIVED,
            EXAMPLES[w.STOCK_RECEIVED].model_copy(update={"lots": [lot]}),
            at,
            code,
        )
    n = len(projects)
    while n < count:
        at += step
        roll = random.random()
        if roll < 0.84 or len(gifts) < 100:
            gift_id = uuid.UUID(int=random.getrandbits(128), version=4)
            code = f"B{len(gifts):07d}"
            project = random.choice(projects) if random.random() < 0.6 else None
            goods = random.random() < 0.05
            payload = d.DonationReceivedV1(
                donation_id=gift_id,
                tracking_code=code,
                kind="goods" if goods else "money",
                amount_fen=random.randint(100, 2_000_000),
                channel="on_site" if goods else random.choice(["wechat_pay", "alipay", "cash"]),
                project_code=project,
                display=random.choice(["named", "surname", "anonymous"]),
                display_name=random.choice(["王某", "李某", "爱心人士", "溪口镇商会"]),
                donor_type="individual",
                received_at=at,
                items=[
                    d.DonatedItemV1(
                        item_code="QUILT", name="棉被", quantity=20, unit="床", value_fen=10_000
                    )
                ]
                if goods
                else [],
            )
            gifts.append((gift_id, code, project))
            yield _event(d.DONATION_RECEIVED, payload, at, str(gift_id))
            n += 1
            continue
        gift_id, code, project = random.choice(gifts)
        key = str(gift_id)
        if roll < 0.92:
            update = {"donation_id": gift_id, "tracking_code": code, "issued_at": at}
            yield _event(
                d.DONATION_RECEIPTED,
                EXAMPLES[d.DONATION_RECEIPTED].model_copy(update=update),
                at,
                key,
            )
        elif roll < 0.95:
            update = {"donation_id": gift_id, "tracking_code": code, "changed_at": at}
            yield _event(
                d.DONATION_STATUS_CHANGED,
                EXAMPLES[d.DONATION_STATUS_CHANGED].model_copy(update=update),
                at,
                key,
            )
        elif roll < 0.97:
            share = d.AllocationShareV1(donation_id=gift_id, tracking_code=code, amount_fen=5_000)
            update = {
                "disbursement_id": uuid.UUID(int=random.getrandbits(128), version=4),
                "project_code": project or random.choice(projects),
                "amount_fen": random.randint(10_000, 500_000),
                "town": random.choice(TOWNS),
                "disbursed_on": at.date(),
                "approved_at": at,
                "allocations": [share],
            }
            yield _event(
                d.FUNDS_DISBURSED, EXAMPLES[d.FUNDS_DISBURSED].model_copy(update=update), at, key
            )
        elif roll < 0.975:
            update = {
                "donation_id": gift_id,
                "tracking_code": code,
                "amount_fen": 10_000,
                "cancelled_at": at,
            }
            yield _event(
                d.DONATION_CANCELLED,
                EXAMPLES[d.DONATION_CANCELLED].model_copy(update=update),
                at,
                key,
            )
        elif roll < 0.98:
            update = {
                "donation_id": gift_id,
                "tracking_code": code,
                "amount_fen": 5_000,
                "refunded_at": at,
            }
            yield _event(
                d.DONATION_REFUNDED,
                EXAMPLES[d.DONATION_REFUNDED].model_copy(update=update),
                at,
                key,
            )
        elif roll < 0.985:
            update = {
                "donation_id": gift_id,
                "tracking_code": code,
                "from_project_code": project,
                "to_project_code": random.choice(projects),
                "changed_at": at,
            }
            yield _event(
                d.DESIGNATION_CHANGED,
                EXAMPLES[d.DESIGNATION_CHANGED].model_copy(update=update),
                at,
                key,
            )
        elif roll < 0.99:
            update = {"donation_id": gift_id, "tracking_code": code, "voided_at": at}
            yield _event(
                d.DONATION_RECEIPT_VOIDED,
                EXAMPLES[d.DONATION_RECEIPT_VOIDED].model_copy(update=update),
                at,
                key,
            )
        else:
            delivered = EXAMPLES[w.DISPATCH_DELIVERED].model_dump()
            dispatch = uuid.UUID(int=random.getrandbits(128), version=4)
            delivered.update(dispatch_id=dispatch, delivered_at=at)
            delivered["destination"]["town"] = random.choice(TOWNS)
            for line in delivered["lines"]:
                for lot in line["lots"]:
                    lot.update(donation_id=gift_id, tracking_code=code)
            yield _event(
                w.DISPATCH_DELIVERED,
                w.DispatchDeliveredV1.model_validate(delivered),
                at,
                str(dispatch),
            )
        n += 1


# --- the projection, without a database --------------------------------------------------------


class Collector:
    """Stands in for the session the projection handlers get: keeps the rows they stage (in
    the staged-tuple order of ``projections._COLUMNS``) and answers their feed lookups."""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {projections._HOOKED: True}
        self.rows: list[tuple[Any, ...]] = []  # with seq prepended
        self.latest: dict[tuple[str, str], int] = {}  # (subject, kind) -> seq
        self.categories: dict[str, str] = {}

    def flush(self) -> None:
        for row in self.info.pop(projections._STAGED, []):
            seq = len(self.rows) + 1
            self.rows.append((seq, *row))
            self.latest[row[3], row[2]] = seq

    async def execute(self, statement: Any, params: dict[str, Any] | None = None) -> None:
        if statement is projections._INSERT_ENTRIES:
            raise AssertionError("staged rows are collected, not inserted")
        if params and "i" in params:  # feed_item_categories
            self.categories.setdefault(params["i"], params["c"])

    async def scalar(self, _statement: Any, params: dict[str, Any]) -> int | None:
        self.flush()
        return self.latest.get((params["s"], params["k"]))


async def project_rows(count: int) -> Collector:
    collector = Collector()
    original = projections.write_staged

    async def collect(session: Any) -> None:
        session.flush()

    projections.write_staged = collect  # type: ignore[assignment]
    try:
        for event in events(count):
            handler = projections.FEED_HANDLERS.get(event.type)
            if handler is not None:
                await handler(collector, event)  # type: ignore[arg-type]
                collector.flush()
    finally:
        projections.write_staged = original  # type: ignore[assignment]
    return collector


# --- loading --------------------------------------------------------------------------------


def _copy_text(value: Any) -> str:
    """A value in COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


async def copy(conn: asyncpg.Connection, table: str, columns: list[str], rows: Any) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_text(v) for v in row))
        buffer.write("\n")
    await conn.copy_to_table(
        table, source=io.BytesIO(buffer.getvalue().encode()), columns=columns, format="text"
    )


async def load(settings: NotificationSettings, count: int, signer: LogSigner) -> None:
    started = time.perf_counter()
    collector = await project_rows(count)
    rows = collector.rows
    print(f"  projected {len(rows)} entries in {time.perf_counter() - started:.0f}s")
    await fresh_database(settings, MIGRATIONS)
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    try:
        indexes = [
            (r["indexname"], r["def"])
            for r in await conn.fetch(
                "SELECT c.relname AS indexname, pg_get_indexdef(i.indexrelid) AS def "
                "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = 'feed_entries'::regclass AND NOT i.indisunique "
                "AND c.relname <> 'ix_feed_subject'"  # the summary trigger looks gifts up
            )
        ]
        # The triggers run as for the consumer's inserts (summary aggregates, pending
        # queue); the other indexes are built once after the load, not row by row.
        for name, _ in indexes:
            await conn.execute(f'DROP INDEX "{name}"')
        columns = ["seq", *(name for name, _ in projections._COLUMNS)]
        for i in range(0, len(rows), 50_000):
            await copy(conn, "feed_entries", columns, rows[i : i + 50_000])
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('feed_entries', 'seq'), max(seq)) "
            "FROM feed_entries"
        )
        for _, definition in indexes:
            await conn.execute(definition)
        await copy(
            conn, "feed_item_categories", ["item_code", "category"], collector.categories.items()
        )
        print(f"  entries stored in {time.perf_counter() - started:.0f}s")

        # the log, in the checkpoint's order: (event time, event id)
        by_seq = {row[0]: row for row in rows}
        ids = {row[0]: row[1] for row in rows}
        order = sorted(rows, key=lambda r: (r[15] or r[8], r[2]))
        frontier = Frontier()
        leaves: list[tuple[int, int]] = []
        nodes: list[tuple[int, int, str]] = []
        for row in order:
            leaves.append((frontier.size, row[0]))
            document = document_of(_row_view(row, ids))
            for level, index, digest in frontier.append(document_leaf_hash(document)):
                nodes.append((level, index, "\\x" + digest.hex()))
        assert len(by_seq) == frontier.size
        await copy(conn, "feed_log_leaves", ["leaf_index", "entry_seq"], leaves)
        await copy(conn, "feed_log_nodes", ["level", "idx", "hash"], nodes)
        await conn.execute("DELETE FROM feed_log_pending")  # all of them are in the log now
        head = signer.sign(frontier.size, int(time.time() * 1000), frontier.root())
        await conn.execute(
            "INSERT INTO feed_tree_heads (tree_size, root_hash, timestamp_ms, key_id, signature) "
            "VALUES ($1, $2, $3, $4, $5)",
            head.tree_size,
            head.root_hash,
            head.timestamp_ms,
            head.key_id,
            head.signature,
        )
        await conn.execute(_FOLD.text)  # as the checkpoint task does
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    print(f"  log of {frontier.size} leaves signed in {time.perf_counter() - started:.0f}s")


def _row_view(row: tuple[Any, ...], ids: dict[int, Any]) -> SimpleNamespace:
    names = ["seq", *(name for name, _ in projections._COLUMNS)]
    view = SimpleNamespace(**dict(zip(names, row, strict=True)))
    view.corrects_id = ids.get(view.corrects_seq) if view.corrects_seq else None
    return view


async def loaded_size(settings: NotificationSettings) -> int:
    try:
        conn = await asyncpg.connect(settings.asyncpg_dsn)
    except (OSError, asyncpg.PostgresError):
        return 0
    try:
        return int(await conn.fetchval("SELECT coalesce(max(tree_size), 0) FROM feed_tree_heads"))
    except asyncpg.PostgresError:
        return 0
    finally:
        await conn.close()


# --- the load ---------------------------------------------------------------------------------


@dataclass
class Result:
    endpoint: str
    due: float
    latency_s: float
    status: int


class Http:
    """A minimal HTTP/1.1 keep-alive client for GETs: the load generator shares the machine
    with the service, and httpx costs it milliseconds of CPU per request (at a few hundred
    requests a second the client, not the service, would be measured)."""

    def __init__(self, host: str, port: int, connections: int) -> None:
        self._host, self._port = host, port
        self._idle: asyncio.LifoQueue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.LifoQueue()
        )
        self._free = connections  # connections that may still be opened

    async def get(self, target: str) -> int:
        if self._idle.empty() and self._free > 0:
            self._free -= 1
            connection = await asyncio.open_connection(self._host, self._port)
        else:
            connection = await self._idle.get()  # all busy: wait for one (queueing counts)
        reader, writer = connection
        try:
            writer.write(f"GET {target} HTTP/1.1\r\nHost: {self._host}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError):
            writer.close()
            self._free += 1
            return 0
        self._idle.put_nowait(connection)
        return int(head[9:12])

    async def close(self) -> None:
        while not self._idle.empty():
            _, writer = self._idle.get_nowait()
            writer.close()


async def drive(
    rate: float, seconds: float, size: int, max_seq: int, instances: int = 1
) -> list[Result]:
    rng = random.Random(7)
    results: list[Result] = []
    # one connection pool per instance, requests dealt round robin (a client-side balancer)
    pools = [Http("127.0.0.1", PORT + n, connections=128 // instances) for n in range(instances)]

    def request() -> tuple[str, str]:
        roll = rng.random()
        if roll < 0.25:
            return "feed (first page)", "/feed?limit=20"
        if roll < 0.5:
            cursor = encode_cursor(rng.randint(21, max_seq))
            return "feed (deep cursor)", f"/feed?limit=20&cursor={cursor}"
        if roll < 0.7:
            return "summary", "/summary"
        return "inclusion proof", f"/proofs/inclusion?entry={rng.randrange(size)}"

    async def one(due: float, http: Http, endpoint: str, path: str) -> None:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        status = await http.get("/api/v1/public" + path)
        results.append(Result(endpoint, due, time.perf_counter() - due, status))

    start = time.perf_counter() + 0.5
    total = int(rate * seconds)
    try:
        await asyncio.gather(
            *(one(start + i / rate, pools[i % instances], *request()) for i in range(total))
        )
    finally:
        for http in pools:
            await http.close()
    return results


def report(results: list[Result], rate: float, seconds: float) -> None:
    by_endpoint: dict[str, list[float]] = defaultdict(list)
    failed = [r for r in results if r.status != 200]
    for r in results:
        by_endpoint[r.endpoint].append(r.latency_s * 1000)
    first = min(r.due for r in results)
    span = max(r.due + r.latency_s for r in results) - first
    print(
        f"offered {rate:.0f} req/s for {seconds:.0f}s (open loop): {len(results)} requests, "
        f"{len(results) / span:.0f} req/s achieved, {len(failed)} not 200"
    )
    print(
        f"  {'endpoint':22s} {'n':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}"
    )
    everything = [r.latency_s * 1000 for r in results]
    for name, values in [*sorted(by_endpoint.items()), ("all", everything)]:
        print(
            f"  {name:22s} {len(values):6d} {percentile(values, 50):8.1f} "
            f"{percentile(values, 95):8.1f} {percentile(values, 99):8.1f} {max(values):8.1f}"
        )


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (the service)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def verify_one(size: int) -> None:
    """One inclusion proof (by leaf index, and by entry id) with the real verifier."""
    entry = httpx.get(f"{PUBLIC}/proofs/inclusion", params={"entry": size // 3}).json()
    command = [
        sys.executable,
        "-m",
        "notification.verify",
        "--url",
        URL,
        "--no-full",
        "--entry",
        str(size - 1),
        "--entry",
        entry["entry"]["id"],
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"verifier failed: {done.stdout}{done.stderr}")
    print(f"  verifier: {done.stdout.strip().splitlines()[-1]}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--reload", action="store_true", help="rebuild the bench database")
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="notification processes on consecutive ports, requests dealt round robin",
    )
    args = parser.parse_args()
    key_dir = keys()
    log_key = key_dir / "feed_log_signing.pem"
    settings = NotificationSettings(
        db_name=DB_NAME,
        db_port=PG_PORT,
        port=PORT,
        jwt_public_key_file=key_dir / "jwt_public.pem",
        log_signing_key_file=log_key,
    )
    signer = LogSigner.from_file(log_key, create=True)
    size = await loaded_size(settings)
    if args.reload or size < args.entries:
        print(f"loading {args.entries} entries into {DB_NAME}")
        await load(settings, args.entries, signer)
        size = await loaded_size(settings)
    else:
        print(f"reusing {DB_NAME}: {size} entries in the signed log")
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    max_seq = int(await conn.fetchval("SELECT max(seq) FROM feed_entries"))
    await conn.close()
    env = {
        "NOTIFICATION_DB_NAME": DB_NAME,
        "NOTIFICATION_DB_PORT": str(PG_PORT),
        "NOTIFICATION_PORT": str(PORT),
        "NOTIFICATION_JWT_PUBLIC_KEY_FILE": str(key_dir / "jwt_public.pem"),
        "NOTIFICATION_LOG_SIGNING_KEY_FILE": str(log_key),
        "NOTIFICATION_RUN_CONSUMERS": "false",
        "NOTIFICATION_LOG_LEVEL": "WARNING",
    }
    processes = [
        start_service("notification", env | {"NOTIFICATION_PORT": str(PORT + n)})
        for n in range(args.instances)
    ]
    try:
        for n, process in enumerate(processes):
            wait_ready_sync(f"http://127.0.0.1:{PORT + n}", process)
        verify_one(size)
        for n in range(args.instances):
            base = f"http://127.0.0.1:{PORT + n}/api/v1/public"
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                for path in ("/summary", "/feed", "/proofs/inclusion?entry=0"):
                    await client.get(path)  # warm up
        load_avg = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(
            f"public reads with {size} entries, {args.instances} service process(es); "
            f"load average {load_avg}"
        )
        cpu_before = sum(process_cpu_s(p.pid) for p in processes)
        results = await drive(args.rate, args.seconds, size, max_seq, args.instances)
        cpu = sum(process_cpu_s(p.pid) for p in processes) - cpu_before
        report(results, args.rate, args.seconds)
        print(
            f"  service processes: {cpu:.1f}s on CPU, {cpu / len(results) * 1000:.2f} ms per "
            "request"
        )
    finally:
        for process in processes:
            stop(process)
    print(f"(service log: {LOGS / 'notification.log'})")


if __name__ == "__main__":
    asyncio.run(main())
