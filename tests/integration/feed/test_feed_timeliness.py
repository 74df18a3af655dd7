"""``GET timeliness`` and the exports without reading the whole feed (migration 0007) answer
byte for byte what the whole-feed implementations answered (``timeliness_reference.py``).

The data: entries of every kind with delays from negative to months, many equal delays,
delays on the histogram's bucket bounds and on the report's cumulative bounds, and facts
published exactly at, just before and just after their deadlines (routine gifts over a
holiday week and a weekend, gifts and goods of a declared major disaster by project and by
incident, disbursements at 30 days), inserted in statements of random sizes (as consumer
batches) with the histogram's deltas folded at random points. Both implementations run in
one FastAPI app against one database; the streamed ones also with tiny batches.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from notification.adapters.feed_reads import create_reader, positional
from notification.entrypoints.api import public
from notification.main import MIGRATIONS
from notification.service_layer import timeliness
from notification.service_layer.feed_metrics import SHANGHAI, deadline_for
from notification.service_layer.feed_runtime import READS
from notification.service_layer.queries import feed
from shared.db import create_engine, create_session_factory
from shared.errors import install_error_handlers
from tests.conftest import PORT_BASE, TOPIC_PREFIX, _reset_database
from tests.integration.feed import timeliness_reference
from tests.integration.feed.conftest import feed_settings

pytestmark = pytest.mark.integration

HOLIDAYS = [date(2026, 10, 1) + timedelta(days=i) for i in range(7)]
DISASTER_PROJECT = "YJJZ-2026-TY"  # in feed_settings' major_disaster_refs
DISASTER_INCIDENT = "TY-2026-14"
PROJECTS = ["P-A", "P-B", DISASTER_PROJECT, None]
TOWNS = ["溪口镇", "锦屏街道", "萧王庙街道", None]
KINDS = [
    "donation.received",
    "donation.receipted",
    "donation.allocated",
    "donation.refunded",
    "correction",
    "funds.disbursed",
    "goods.dispatched",
    "goods.delivered",
    "project.opened",
    "follow_up",
]
COLUMNS = (
    ("seq", "bigint"),
    ("id", "uuid"),
    ("source_event_id", "varchar"),
    ("kind", "varchar"),
    ("subject_id", "varchar"),
    ("tracking_code_hash", "varchar"),
    ("title", "varchar"),
    ("data", "jsonb"),
    ("occurred_at", "timestamptz"),
    ("published_at", "timestamptz"),
    ("corrects_seq", "bigint"),
    ("project_code", "varchar"),
    ("town", "varchar"),
    ("incident_ref", "varchar"),
)
NAMES = ", ".join(name for name, _ in COLUMNS)
INSERT = (
    f"INSERT INTO feed_entries ({NAMES}) SELECT "
    + ", ".join(f"{name}::jsonb" if kind == "jsonb" else name for name, kind in COLUMNS)
    + " FROM unnest("
    + ", ".join(
        f"${i}::{'text' if kind == 'jsonb' else kind}[]" for i, (_, kind) in enumerate(COLUMNS, 1)
    )
    + f") AS staged({NAMES})"
)
FOLD = (  # the checkpoint task's fold (notification.service_layer.timeliness.fold)
    "WITH gone AS (DELETE FROM feed_delay_deltas RETURNING kind, bucket, n) "
    "INSERT INTO feed_delay_totals AS t (kind, bucket, n) "
    "SELECT kind, bucket, sum(n) FROM gone GROUP BY 1, 2 "
    "ON CONFLICT (kind, bucket) DO UPDATE SET n = t.n + EXCLUDED.n"
)
RANDOM = "random"


@dataclass
class Harness:
    conn: asyncpg.Connection
    http: httpx.AsyncClient
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    seq: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)

    async def insert(self, rows: list[dict[str, Any]]) -> None:
        """One statement per batch of random size, as the consumer writes them."""
        i = 0
        while i < len(rows):
            size = self.rng.randint(1, 300)
            batch = rows[i : i + size]
            columns = [[row[name] for row in batch] for name, _ in COLUMNS]
            await self.conn.execute(INSERT, *columns)
            i += size
            if self.rng.random() < 0.2:
                await self.conn.execute(FOLD)

    def entry(
        self,
        kind: str,
        occurred_at: datetime,
        delay: timedelta,
        *,
        project: str | None = RANDOM,
        incident: str | None = None,
    ) -> dict[str, Any]:
        self.seq += self.rng.randint(1, 3)  # gaps, as rolled-back inserts leave them
        rng = self.rng
        row = {
            "seq": self.seq,
            "id": uuid.uuid4(),
            "source_event_id": str(uuid.uuid4()),
            "kind": kind,
            "subject_id": f"S-{rng.randint(1, 400)}",
            "tracking_code_hash": rng.choice([None, uuid.uuid4().hex * 2]),
            "title": rng.choice(TITLES),
            "data": json.dumps(data_of(kind, rng), ensure_ascii=False),
            "occurred_at": occurred_at,
            "published_at": occurred_at + delay,
            "corrects_seq": (
                rng.choice(self.rows)["seq"] if kind == "correction" and self.rows else None
            ),
            "project_code": rng.choice(PROJECTS) if project == RANDOM else project,
            "town": rng.choice(TOWNS),
            "incident_ref": incident,
        }
        self.rows.append(row)
        return row

    async def both(self, path: str, **params: Any) -> tuple[httpx.Response, httpx.Response]:
        new = await self.http.get(f"/api/v1/public/{path}", params=params)
        old = await self.http.get(f"/reference/{path}", params=params)
        return new, old

    async def assert_same(self, path: str, **params: Any) -> bytes:
        new, old = await self.both(path, **params)
        assert old.status_code == 200, old.text
        assert new.status_code == 200, new.text
        assert new.headers["content-type"] == old.headers["content-type"]
        assert new.headers.get("content-disposition") == old.headers.get("content-disposition")
        assert new.content == old.content, f"{path} {params}"
        return new.content


TITLES = [
    "王某 捐款 ¥500.00",
    'A title, with "quotes", commas',
    "两行\n第二行",
    "emoji 🌀 台风",
    "",
]


def data_of(kind: str, rng: random.Random) -> dict[str, Any]:
    amount = rng.randint(1, 10_000_000)
    if kind == "donation.received":
        if rng.random() < 0.7:
            return {"donation_kind": "money", "amount_fen": amount, "channel": "wechat_pay"}
        return {"donation_kind": "goods", "items": [{"item_name": "棉被", "quantity": 3}]}
    if kind == "correction":
        return rng.choice(
            [
                {"correction": "cancelled", "amount_fen": amount},
                {"correction": "cancelled"},
                {"correction": "designation_changed", "to_project_code": "P-B"},
                {"correction": "receipt_voided", "ratio": 0.1, "tiny": 5e-324},
            ]
        )
    if kind == "donation.refunded":
        return {"amount_fen": rng.choice([amount, str(amount), 0])}
    if kind == "funds.disbursed":
        return {
            "amount_fen": amount,
            "recipient_type": rng.choice(["person", "organization"]),
            "purpose": '慰问金, "春节"\n第二行',
        }
    if kind == "goods.delivered":
        return {"lines": [{"item_code": "QUILT", "item_name": "棉被", "delivered_quantity": 5}]}
    return {"note": rng.choice(["回访", None, 1.5, [1, "二", {"三": 3}]])}


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = feed_settings(tmp_path, "timeliness", PORT_BASE + 47, TOPIC_PREFIX)
    settings = settings.model_copy(update={"public_holidays": HOLIDAYS})
    await _reset_database(settings, MIGRATIONS)
    engine = create_engine(settings, application_name="tests")
    reader = await create_reader(settings, size=2)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(public.router)
    app.include_router(timeliness_reference.router)
    app.state.runtime = SimpleNamespace(
        settings=settings,
        session_factory=create_session_factory(engine),
        extras={READS: reader},
    )
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://feed") as http:
            yield Harness(conn=conn, http=http)
    finally:
        await conn.close()
        await reader.pool.close()
        await engine.dispose()


def local(y: int, m: int, d: int, hour: int = 10) -> datetime:
    return datetime(y, m, d, hour, tzinfo=SHANGHAI)


def due(kind: str, at: datetime, refs: tuple[str | None, ...]) -> datetime:
    deadline, _ = deadline_for(
        kind,
        at,
        refs=refs,
        major_disaster_refs=[DISASTER_PROJECT, DISASTER_INCIDENT],
        holidays=HOLIDAYS,
    )
    assert deadline is not None
    return deadline


US = timedelta(microseconds=1)


def deadline_edges(h: Harness) -> dict[str, dict[str, Any]]:
    """Facts published exactly at, 1 µs before and 1 µs after their deadlines."""
    cases = {
        # Wednesday before the National Day week: 7 working days run to Friday 16 October
        "routine gift": ("donation.received", local(2026, 9, 30), None, None),
        # a Friday: the weekend does not count
        "routine gift, weekend": ("donation.received", local(2026, 3, 13, 23), "P-A", None),
        "disaster gift (project)": ("donation.received", local(2026, 7, 1), DISASTER_PROJECT, None),
        "disaster goods (incident)": (
            "goods.dispatched",
            local(2026, 7, 2),
            "P-A",
            DISASTER_INCIDENT,
        ),
        "goods, 30 days": ("goods.dispatched", local(2026, 5, 31), "P-A", None),
        "disbursement, 30 days": ("funds.disbursed", local(2026, 2, 1, 0), "P-B", None),
        "delivery, disaster": ("goods.delivered", local(2026, 7, 3), None, DISASTER_INCIDENT),
    }
    made: dict[str, dict[str, Any]] = {}
    for name, (kind, at, project, incident) in cases.items():
        deadline = due(kind, at, (incident, project))
        for label, shift in (("at", timedelta(0)), ("before", -US), ("after", US)):
            delay = deadline - at + shift
            made[f"{name} {label}"] = h.entry(kind, at, delay, project=project, incident=incident)
    return made


def edge_delays(h: Harness) -> list[dict[str, Any]]:
    """Delays on the histogram's and the report's bounds, negative, sub-millisecond, an hour."""
    delays_us = [-5_000_000, -1, 0, 1, 999, 1000, 1001, 9999, 10_000, 99_999, 100_000]
    delays_us += [
        b * 1_000_000 + d for b in (1, 10, 60, 3600, 86_400, 7 * 86_400) for d in (-1, 0, 1)
    ]
    delays_us += [2_592_000_000_000 + d for d in (-1, 0, 1)]  # 30 days, a bound off the grid
    at = local(2026, 4, 1)
    return [
        h.entry(kind, at, timedelta(microseconds=us))
        for us in delays_us
        for kind in ("donation.received", "goods.dispatched", "project.opened")
    ]


def random_entries(h: Harness, count: int) -> list[dict[str, Any]]:
    rng = h.rng
    rows = []
    for _ in range(count):
        kind = rng.choice(KINDS)
        at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 330 * 86_400))
        roll = rng.random()
        if roll < 0.15:
            delay = timedelta(seconds=2.5)  # many equal delays: ranks inside a run of ties
        elif roll < 0.2:
            delay = -timedelta(microseconds=rng.randint(1, 10**9))
        else:
            delay = timedelta(microseconds=int(10 ** rng.uniform(2, 13.3)))
        refs = rng.choice([(RANDOM, None), (DISASTER_PROJECT, None), (None, DISASTER_INCIDENT)])
        rows.append(h.entry(kind, at, delay, project=refs[0], incident=refs[1]))
    return rows


async def sequence_some(h: Harness) -> None:
    """A log covering part of the feed (``leaf_index`` in the exports)."""
    await h.conn.execute(
        "INSERT INTO feed_log_leaves (leaf_index, entry_seq) "
        "SELECT row_number() OVER (ORDER BY occurred_at, seq) - 1, seq FROM feed_entries "
        "WHERE seq % 5 <> 0"
    )


async def test_timeliness_equals_the_whole_feed_report(harness: Harness) -> None:
    h = harness
    assert json.loads(await h.assert_same("timeliness"))["delay_by_kind"] == {}
    edges = deadline_edges(h)
    await h.insert(list(edges.values()))
    await h.assert_same("timeliness")
    await h.insert(edge_delays(h) + random_entries(h, 2500))
    body = json.loads(await h.assert_same("timeliness"))
    late = {line["id"] for line in body["late"]}
    for name, row in edges.items():
        assert (str(row["id"]) in late) == name.endswith(" after"), name
    assert body["delay_by_kind"]["project.opened"]["count"] > 1
    # all folded, then entries arriving after the fold (deltas on top of totals)
    await h.conn.execute(FOLD)
    await h.assert_same("timeliness")
    await h.insert(random_entries(h, 300))
    await h.assert_same("timeliness")


async def test_timeliness_in_small_batches_and_single_entries(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    monkeypatch.setattr(feed, "BULK_BATCH", 3)
    await h.insert([h.entry("follow_up", local(2026, 1, 5), timedelta(days=400))])
    await h.assert_same("timeliness")
    await h.insert(list(deadline_edges(h).values()) + random_entries(h, 200))
    await h.assert_same("timeliness")


async def test_exports_equal_the_whole_feed_exports(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    for path in ("export.json", "export.csv"):
        await h.assert_same(path)  # empty feed
    await h.insert(random_entries(h, 2300) + edge_delays(h))
    await sequence_some(h)
    filters: list[dict[str, str]] = [
        {},
        {"kind": "funds.disbursed"},
        {"kind": "no.such.kind"},
        {"project": "P-A"},
        {"town": "溪口镇"},
        {"period": "2026"},
        {"period": "2026-03"},
        {"period": "2026-03-15"},
        {"period": "2026-02..2026-06-10"},
        {"kind": "donation.received", "period": "2026-05", "project": "P-B"},
        {"town": "锦屏街道", "project": DISASTER_PROJECT},
    ]
    for batch in (feed.BULK_BATCH, 7):
        monkeypatch.setattr(feed, "BULK_BATCH", batch)
        for params in filters:
            for path in ("export.json", "export.csv"):
                await h.assert_same(path, **params)
    full = json.loads(await h.assert_same("export.json"))
    assert len(full["entries"]) == len(h.rows)


async def test_bad_period_is_the_same_clear_422(harness: Harness) -> None:
    for path in ("export.json", "export.csv"):
        new, old = await harness.both(path, period="2026-13")
        assert new.status_code == old.status_code == 422
        assert new.json() == old.json()
        assert new.json()["error"]["code"] == "validation_failed"


async def test_an_infinite_fact_time_never_blocks_an_insert(harness: Harness) -> None:
    """The delay the indexes and the histogram keep cannot fail on odd timestamps (the
    consumer's insert must not); such an entry has no delay in the report."""
    h = harness
    row = h.entry("donation.received", local(2026, 1, 5), timedelta(hours=2))
    await h.insert([row, h.entry("donation.received", local(2026, 1, 5), timedelta(days=20))])
    await h.conn.execute(
        "INSERT INTO feed_entries (id, source_event_id, kind, subject_id, title, data,"
        " occurred_at, published_at) VALUES ($1, 'x', 'donation.received', 's', 't', '{}',"
        " '-infinity', now())",
        uuid.uuid4(),
    )
    response = await h.http.get("/api/v1/public/timeliness")
    assert response.status_code == 200
    assert response.json()["delay_by_kind"]["donation.received"]["count"] == 2


async def test_bucket_function_matches_sql(harness: Harness) -> None:
    values = [-(2**62), -1, 0, 1, 999, 1000, 1001, 1009, 1010, 99_999, 100_000, 123_456_789]
    values += [10**k + d for k in range(3, 18) for d in (-1, 0, 1)]
    got = await harness.conn.fetch(
        "SELECT v, feed_delay_bucket(v) AS b FROM unnest($1::bigint[]) v", values
    )
    assert {r["v"]: r["b"] for r in got} == {v: timeliness.delay_bucket(v) for v in values}


async def explain(conn: asyncpg.Connection, sql: str, params: dict[str, Any]) -> str:
    query, names = positional(sql)
    rows = await conn.fetch("EXPLAIN " + query, *(params[n] for n in names))
    return "\n".join(r[0] for r in rows)


async def test_queries_use_the_indexes_not_the_feed(harness: Harness) -> None:
    """The report's queries match migration 0007's index expressions (a drift would mean a
    scan of the whole feed again)."""
    conn = harness.conn
    await conn.execute("SET enable_seqscan = off")
    kinds = ["donation.received"]
    plan = await explain(
        conn, timeliness._AT_RANKS, {"kinds": kinds, "starts": [1000], "skips": [0]}
    )
    assert "ix_feed_delay" in plan, plan
    plan = await explain(
        conn, timeliness._IN_RANGES, {"kinds": kinds, "starts": [1000], "bounds": [2000]}
    )
    assert "ix_feed_delay" in plan, plan
    plan = await explain(conn, timeliness._SLOW_ENTRIES, {"after": 0, "limit": 1000})
    assert "ix_feed_slow_disclosures" in plan, plan
