"""Every public fact becomes one entry; corrections point at what they correct; the summary,
filters, tracking-code lookup, export (with IATI types), timeliness and the live stream; and
no private data in any entry or any public response."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.contracts import donation as d
from shared.ids import new_tracking_code
from tests.integration.feed.conftest import FeedStack
from tests.integration.feed.facts import (
    PRIVATE_EMAILS,
    PRIVATE_IDS,
    PRIVATE_NAMES,
    PRIVATE_PHONES,
    Story,
    code,
    gift,
    publish_story,
)

pytestmark = pytest.mark.integration

PHONE = re.compile(r"(?<![\w+/])1[3-9]\d{9}(?![\w+/])")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
ID_NO = re.compile(r"(?<![\w+/])\d{17}[\dXx](?![\w+/])")


@pytest.fixture(scope="module")
async def story(feed_stack: FeedStack) -> Story:
    story = await publish_story(feed_stack)
    await feed_stack.wait_for_entries(1 + story.entries)
    return story


def assert_no_private_data(text: str, where: str) -> None:
    for pattern in (PHONE, EMAIL, ID_NO):
        match = pattern.search(text)
        assert match is None, f"{where}: private-looking data {match.group()!r}"
    for secret in PRIVATE_NAMES + PRIVATE_PHONES + PRIVATE_EMAILS + PRIVATE_IDS:
        assert secret not in text, f"{where}: leaked {secret!r}"


async def all_items(stack: FeedStack, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 7, **params} | ({"cursor": cursor} if cursor else {})
        page = await stack.get("/api/v1/public/feed", **query)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_one_entry_per_public_fact(feed_stack: FeedStack, story: Story) -> None:
    items = await all_items(feed_stack)
    kinds = sorted(i["kind"] for i in items)
    assert kinds == sorted(
        ["project.opened"] * 2
        + ["donation.received"] * 5
        + ["correction"]  # designation changed
        + ["donation.receipted", "correction", "donation.allocated"]
        + ["correction", "donation.refunded"]
        + ["funds.disbursed"] * 2
        + ["goods.dispatched", "goods.delivered", "goods.adjusted"]
        + ["follow_up", "project.closed", "project.remainder"]
    )
    by_id = {i["id"]: i for i in items}
    assert len(by_id) == len(items)
    # newest first, seq strictly decreasing across pages
    seqs = [i["seq"] for i in items]
    assert seqs == sorted(seqs, reverse=True)

    received = {i["data"]["donation_id"]: i for i in items if i["kind"] == "donation.received"}
    ga, _ = story.gifts["a"]
    gc, _ = story.gifts["c"]
    receipted = next(i for i in items if i["kind"] == "donation.receipted")
    voided = next(i for i in items if i["data"].get("correction") == "receipt_voided")
    assert voided["corrects"] == receipted["id"]
    assert voided["corrects_seq"] == receipted["seq"]
    cancelled = next(i for i in items if i["data"].get("correction") == "cancelled")
    assert cancelled["corrects"] == received[str(gc)]["id"]
    assert received[str(ga)]["title"] == "王某 捐款 ¥500.00"
    gd, _ = story.gifts["d"]
    redesignated = next(i for i in items if i["data"].get("correction") == "designation_changed")
    assert redesignated["corrects"] == received[str(gd)]["id"]
    assert redesignated["project_code"] == "BOAI-JY-XK"

    disbursed = next(
        i
        for i in items
        if i["kind"] == "funds.disbursed" and i["entry"]["subject"] == str(story.disbursement_id)
    )
    assert disbursed["town"] == "溪口镇"
    assert disbursed["data"]["recipient"] == "李*"
    assert disbursed["data"]["amount_fen"] == 300_000
    assert disbursed["project_code"] == "BOAI-JY-XK"
    delivered = next(i for i in items if i["kind"] == "goods.delivered")
    assert delivered["data"]["signed_by"] == "赵*"
    assert delivered["town"] == "溪口镇"
    assert delivered["incident_ref"] == "TY-2026-14"
    dispatched = next(i for i in items if i["kind"] == "goods.dispatched")
    assert dispatched["data"]["lines"][0]["quantity"] == 30


async def test_entries_are_append_only(feed_stack: FeedStack, story: Story) -> None:
    import asyncpg

    await feed_stack.wait_for_head(1 + story.entries)
    conn = await feed_stack.db()
    try:
        for statement in (
            "UPDATE feed_entries SET title = 'x'",
            "DELETE FROM feed_entries",
            "UPDATE feed_log_nodes SET hash = 'x'",
            "DELETE FROM feed_log_leaves",
            "DELETE FROM feed_tree_heads",
        ):
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute(statement)
    finally:
        await conn.close()


async def test_filters_and_tracking_code(feed_stack: FeedStack, story: Story) -> None:
    gifts = await all_items(feed_stack, kind="donation.received")
    assert len(gifts) == 5
    project = await all_items(feed_stack, project="BOAI-JY-XK")
    assert {i["project_code"] for i in project} == {"BOAI-JY-XK"}
    assert len(project) >= 5
    town = await all_items(feed_stack, town="溪口镇")
    assert {i["kind"] for i in town} >= {"funds.disbursed", "goods.delivered", "goods.dispatched"}
    # period: the gift received 10 days ago is not in this month... unless month boundary
    late_month = (await all_items(feed_stack, kind="donation.received"))[-1]
    assert late_month
    none = await all_items(feed_stack, period="2001-01")
    assert none == []
    span = await all_items(feed_stack, period="2001-01-01..2100-12-31")
    assert len(span) == 1 + story.entries
    bad = await feed_stack.http.get("/api/v1/public/feed", params={"period": "2026-13"})
    assert bad.status_code == 422

    _, code_a = story.gifts["a"]
    track = (await feed_stack.get(f"/api/v1/public/track/{code_a}"))["items"]
    kinds = sorted(i["kind"] for i in track)
    # the gift, its receipt, the voided receipt, allocation, and the disbursement it funded
    assert kinds == sorted(
        [
            "donation.received",
            "donation.receipted",
            "correction",
            "donation.allocated",
            "funds.disbursed",
        ]
    )
    assert all(code_a not in json.dumps(i, ensure_ascii=False) for i in track)
    _, code_goods = story.gifts["goods"]
    goods_track = [
        i["kind"] for i in (await feed_stack.get(f"/api/v1/public/track/{code_goods}"))["items"]
    ]
    assert sorted(goods_track) == [
        "donation.received",
        "goods.adjusted",
        "goods.delivered",
        "goods.dispatched",
    ]
    missing = await feed_stack.http.get(f"/api/v1/public/track/{new_tracking_code()}")
    assert missing.status_code == 404
    malformed = await feed_stack.http.get("/api/v1/public/track/NOPE-0000")
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "validation_failed"


async def test_summary(feed_stack: FeedStack, story: Story) -> None:
    summary = await feed_stack.get("/api/v1/public/summary")
    received = summary["received"]
    # gifts 500 + 10000 + 200 + 2400 (goods) + 300 − 200 cancelled − 1000 refunded
    assert received["total_fen"] == (
        50_000 + 1_000_000 + 20_000 + 240_000 + 30_000 - 20_000 - 100_000
    )
    by_kind = {r["kind"]: r["amount_fen"] for r in received["by_kind"]}
    assert by_kind == {"money": 50_000 + 1_000_000 + 30_000 - 100_000, "goods": 240_000}
    by_project = {r["project"]: r["amount_fen"] for r in received["by_project"]}
    # the re-designated gift counts for its new project only
    assert by_project["BOAI-JY-XK"] == 50_000 + 1_000_000 + 30_000 - 100_000
    assert "BOAI-SWJ" not in by_project
    by_town = {r["town"]: r["amount_fen"] for r in received["by_town"]}
    assert by_town["溪口镇"] == 50_000 + 1_000_000 + 30_000 - 100_000
    assert sum(r["amount_fen"] for r in received["by_month"]) == received["total_fen"]
    used = summary["used"]
    assert used["total_fen"] == 700_000
    assert {r["town"]: r["amount_fen"] for r in used["by_town"]} == {
        "溪口镇": 300_000,
        "萧王庙街道": 400_000,
    }
    goods = summary["goods_distributed"]
    assert {(g["town"], g["category"], g["item"]) for g in goods} == {
        ("溪口镇", "clothing_bedding", "棉被")
    }


async def test_export_with_iati_types(feed_stack: FeedStack, story: Story) -> None:
    exported = await feed_stack.get("/api/v1/public/export.json")
    rows = exported["entries"]
    assert len(rows) == 1 + story.entries
    types = sorted(
        (r["kind"], r["iati_transaction_type"], r["iati_value_cny"])
        for r in rows
        if r["iati_transaction_type"] is not None
    )
    assert types == sorted(
        [
            ("donation.received", 1, "500.00"),
            ("donation.received", 1, "10000.00"),
            ("donation.received", 1, "200.00"),
            ("donation.received", 1, "300.00"),
            ("correction", 1, "-200.00"),
            ("donation.refunded", 1, "-1000.00"),
            ("funds.disbursed", 4, "3000.00"),  # to a person: expenditure
            ("funds.disbursed", 3, "4000.00"),  # to an organisation: disbursement
        ]
    )
    response = await feed_stack.http.get(
        "/api/v1/public/export.csv", params={"kind": "funds.disbursed"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert len(table) == 2
    assert {r["iati_transaction_type"] for r in table} == {"3", "4"}


async def test_timeliness_flags_late_gifts(feed_stack: FeedStack, story: Story) -> None:
    # a gift to a declared major disaster's appeal, received 30 hours ago: 24-hour rule
    gid = uuid.uuid4()
    received = datetime.now(UTC) - timedelta(hours=30)
    await feed_stack.publish(
        d.DONATION_RECEIVED,
        gift(gid, code(7), amount_fen=5_000, at=received, project_code="YJJZ-2026-TY"),
        key=str(gid),
    )
    story.entries += 1
    await feed_stack.wait_for_entries(1 + story.entries)
    report = await feed_stack.get("/api/v1/public/timeliness")
    late = sorted((e["kind"], e["rule"]) for e in report["late"])
    assert late == [("donation.received", "24h_disaster"), ("donation.received", "7_working_days")]
    stats = report["delay_by_kind"]["donation.received"]
    assert stats["count"] == 6
    assert stats["max_s"] >= 15 * 86400 - 60
    assert stats["cumulative_buckets_s"]["60"] == 4  # four published within a minute
    assert stats["cumulative_buckets_s"]["7776000"] == 6
    assert report["rules"]["major_disaster_refs"] == ["TY-2026-14", "YJJZ-2026-TY"]
    metrics = (await feed_stack.http.get("/metrics")).text
    assert 'sunshine_feed_disclosure_delay_seconds_bucket{kind="donation.received"' in metrics
    assert "sunshine_feed_log_tree_size" in metrics
    late_counter = re.search(
        r'sunshine_feed_disclosure_late_total\{kind="donation.received"\} (\d+)', metrics
    )
    assert late_counter is not None
    assert float(late_counter.group(1)) >= 2


async def sse_events(url: str, ready: asyncio.Event) -> AsyncIterator[dict[str, Any]]:
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("GET", url + "/api/v1/public/stream") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict[str, Any] = {}
        async for line in response.aiter_lines():
            if line.startswith(": connected"):
                ready.set()
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif line.startswith("event: "):
                event["event"] = line[7:]
            elif line.startswith("id: "):
                event["id"] = int(line[4:])
            elif line == "" and "data" in event:
                yield event
                event = {}


async def test_live_stream(feed_stack: FeedStack, story: Story) -> None:
    from shared.contracts import donation as d
    from tests.integration.feed.conftest import project

    ready = asyncio.Event()
    received: list[dict[str, Any]] = []

    async def listen() -> None:
        async for event in sse_events(feed_stack.url, ready):
            received.append(event)
            if event["event"] == "head" and event["data"]["tree_size"] >= 1 + story.entries:
                return

    task = asyncio.create_task(listen())
    await asyncio.wait_for(ready.wait(), 10)
    await feed_stack.publish(
        d.PROJECT_OPENED, project("AED-2026", "AED 公共场所配置", town="岳林街道"), key="AED-2026"
    )
    story.entries += 1
    await asyncio.wait_for(task, 30)
    entries = [e for e in received if e["event"] == "entry"]
    assert entries[0]["data"]["kind"] == "project.opened"
    assert entries[0]["data"]["project_code"] == "AED-2026"
    # then the signed head that covers it, pushed as well
    head = received[-1]["data"]
    assert head["tree_size"] == 1 + story.entries
    assert head["key_id"] == (await feed_stack.get("/api/v1/public/log-key"))["key_id"]


async def test_no_private_data_anywhere(feed_stack: FeedStack, story: Story) -> None:
    await feed_stack.wait_for_head(1 + story.entries)
    conn = await feed_stack.db()
    try:
        rows = await conn.fetch("SELECT title, data::text AS data FROM feed_entries")
    finally:
        await conn.close()
    for row in rows:
        assert_no_private_data(row["title"] + row["data"], "feed_entries")
    items = await all_items(feed_stack)
    paths = [
        "/api/v1/public/feed?limit=100",
        "/api/v1/public/summary",
        "/api/v1/public/timeliness",
        "/api/v1/public/export.json",
        "/api/v1/public/export.csv",
        "/api/v1/public/tree-head",
        "/api/v1/public/log-key",
        "/api/v1/public/log/entries",
        "/api/v1/public/proofs/consistency?first=1&second=3",
        *[f"/api/v1/public/entries/{i['id']}" for i in items],
        *[f"/api/v1/public/proofs/inclusion?entry={i['id']}" for i in items],
        *[f"/api/v1/public/track/{c}" for _, c in story.gifts.values()],
    ]
    for path in paths:
        response = await feed_stack.http.get(path)
        assert response.status_code in (200, 404), (path, response.text)
        assert_no_private_data(response.text, path)
