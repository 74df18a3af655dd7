"""Declaring an incident major (the donation service's ``incident_recorded.v1``) gives its
facts the 24-hour deadline from the declaration, with no restart: the running service's
timeliness report and its late counter follow the register. A declaration only tightens a
deadline: a fact before it is due 24 hours after the declaration, unless its routine deadline
comes first."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.contracts import donation as d
from tests.integration.feed.conftest import FeedStack
from tests.integration.feed.facts import code, gift

pytestmark = pytest.mark.integration


def recorded(
    incident: str, *, major: bool, declared_at: datetime | None, version: int
) -> d.IncidentRecordedV1:
    return d.IncidentRecordedV1(
        incident_code=incident,
        name="台风“测试”",
        kind="typhoon",
        towns=["溪口镇"],
        started_at=datetime.now(UTC) - timedelta(days=5),
        major=major,
        declared_major_at=declared_at,
        version=version,
        recorded_at=datetime.now(UTC),
    )


def late_counter(metrics: str) -> float:
    match = re.search(
        r'sunshine_feed_disclosure_late_total\{kind="donation.received"\} ([0-9.]+)', metrics
    )
    return float(match.group(1)) if match else 0.0


async def test_declaring_an_incident_major_tightens_its_deadlines(feed_stack: FeedStack) -> None:
    now = datetime.now(UTC)
    early, late_declared, never = (f"INC-{uuid.uuid4().hex[:8]}" for _ in range(3))
    before = late_counter((await feed_stack.http.get("/metrics")).text)
    entries = await feed_stack.entries()
    # EARLY: registered, then declared major three days ago (versions in the wrong order
    # on purpose: the older version arriving last changes nothing)
    await feed_stack.publish(
        d.INCIDENT_RECORDED,
        recorded(early, major=True, declared_at=now - timedelta(days=3), version=2),
        key=early,
    )
    await feed_stack.publish(
        d.INCIDENT_RECORDED, recorded(early, major=False, declared_at=None, version=1), key=early
    )
    # LATE_DECLARED: declared a minute ago; NEVER: registered, not major
    await feed_stack.publish(
        d.INCIDENT_RECORDED,
        recorded(late_declared, major=True, declared_at=now - timedelta(minutes=1), version=2),
        key=late_declared,
    )
    await feed_stack.publish(
        d.INCIDENT_RECORDED, recorded(never, major=False, declared_at=None, version=1), key=never
    )
    conn = await feed_stack.db()
    try:
        for _ in range(300):  # incidents make no entry: wait for the table
            rows = await conn.fetch(
                "SELECT code, major, version FROM feed_incidents WHERE code = ANY($1)",
                [early, late_declared, never],
            )
            if len(rows) == 3 and all(r["version"] == 2 for r in rows if r["code"] != never):
                break
            await asyncio.sleep(0.1)
        by_code = {r["code"]: (r["major"], r["version"]) for r in rows}
        assert by_code == {early: (True, 2), late_declared: (True, 2), never: (False, 1)}
    finally:
        await conn.close()

    # three gifts received two days ago, one per incident, published now
    received = now - timedelta(days=2)
    gifts = {}
    for n, incident in enumerate((early, late_declared, never)):
        gid = uuid.uuid4()
        payload = gift(
            gid, code(40 + n), amount_fen=1_000 + n, at=received, project_code=None
        ).model_copy(update={"incident_code": incident})
        gifts[incident] = gid
        await feed_stack.publish(d.DONATION_RECEIVED, payload, key=str(gid))
    await feed_stack.wait_for_entries(entries + 3)

    report = await feed_stack.get("/api/v1/public/timeliness")
    declared = report["rules"]["declared_major_incidents"]
    assert early in declared
    assert late_declared in declared
    assert never not in declared
    late = {e["id"]: e for e in report["late"]}
    conn = await feed_stack.db()
    try:
        rows = await conn.fetch(
            "SELECT subject_id, id, incident_ref FROM feed_entries WHERE subject_id = ANY($1)",
            [str(g) for g in gifts.values()],
        )
        ids = {r["subject_id"]: str(r["id"]) for r in rows}
        refs = {r["subject_id"]: r["incident_ref"] for r in rows}
    finally:
        await conn.close()
    assert refs == {str(g): incident for incident, g in gifts.items()}
    # EARLY: due 24 h after the gift (declared before it): a day late
    entry = late[ids[str(gifts[early])]]
    assert entry["rule"] == "24h_disaster"
    assert datetime.fromisoformat(entry["deadline"]) == received + timedelta(hours=24)
    # LATE_DECLARED: due 24 h after the declaration, not yet; NEVER: 7 working days
    assert ids[str(gifts[late_declared])] not in late
    assert ids[str(gifts[never])] not in late
    after = late_counter((await feed_stack.http.get("/metrics")).text)
    assert after == before + 1  # the running consumer counted the one late gift
