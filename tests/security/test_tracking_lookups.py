"""Public look-ups by tracking code (issue 13, point 6): the donation service and the public
feed read a typed code the same way, refuse a malformed one with the same ``422``, and hold
the same per-client limit — on the feed counted in the notification service's own database,
so it holds across its instances.

The services run in process (real PostgreSQL and Kafka): the donation service records the
gift, its ``donation.received`` event is produced to the feed's own topics, and each client
is an address of its own (198.18.0.0/15, the benchmarking range), so no other test's count
meets these.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import text

from donation.config import DonationSettings
from donation.entrypoints.api.public import TRACK_LIMIT
from donation.main import create_app as donation_app
from notification.config import NotificationSettings
from notification.main import create_app as notification_app
from notification.service_layer.projections import tracking_hash
from shared.auth import StaffPrincipal, TokenIssuer
from shared.config import ServiceSettings
from shared.contracts import donation as d
from shared.db import create_engine
from shared.ids import new_tracking_code
from shared.messaging.envelope import CloudEvent
from shared.messaging.topics import DONATION_EVENTS, all_topics, ensure_topics
from shared.public_lookups import TRACKING_LOOKUP_LIMIT
from tests import conftest as root
from tests.conftest import KAFKA_BOOTSTRAP, TOPIC_PREFIX

pytestmark = pytest.mark.integration

PREFIX = f"{TOPIC_PREFIX}sec-track."  # the feed's own topics and consumer groups
LIMIT, WINDOW = TRACKING_LOOKUP_LIMIT


@dataclass
class Services:
    donation: FastAPI
    feed: FastAPI  # the notification service, consuming
    other_feed: FastAPI  # a second instance on the same database (API only)
    feed_settings: NotificationSettings
    staff: dict[str, str]
    code: str  # a gift known to both

    def client(self, app: FastAPI, address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://service", timeout=30)


def staff_headers(keys_dir: Path, settings: ServiceSettings) -> dict[str, str]:
    issuer = TokenIssuer(
        keys_dir / "jwt_private.pem",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(hours=1),
    )
    principal = StaffPrincipal("sec-finance", frozenset({"finance"}), display_name="安全")
    return {"Authorization": f"Bearer {issuer.issue(principal)}"}


async def record_gift(app: FastAPI, headers: dict[str, str]) -> dict[str, Any]:
    body = {
        "amount_fen": 8_800,
        "channel": "wechat_pay",
        "display": "surname",
        "donor": {"name": "钱安全", "phone": "13700007777"},
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://donation") as staff:
        answer = await staff.post("/api/v1/donations", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    gift: dict[str, Any] = answer.json()
    return gift


async def publish_received(gift: dict[str, Any]) -> None:
    payload = d.DonationReceivedV1(
        donation_id=uuid.UUID(gift["id"]),
        tracking_code=gift["tracking_code"],
        kind="money",
        amount_fen=gift["amount_fen"],
        channel="wechat_pay",
        project_code=None,
        display="surname",
        display_name=gift["display_name"],
        donor_type="individual",
        received_at=datetime.now(UTC),
        items=[],
    )
    event = CloudEvent(
        id=str(uuid.uuid4()),
        type=d.DONATION_RECEIVED,
        source="/sunshine/donation",
        time=datetime.now(UTC),
        data=payload.model_dump(mode="json"),
        subject=gift["id"],
    )
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            PREFIX + DONATION_EVENTS,
            value=event.value(),
            key=gift["id"].encode(),
            headers=event.headers(),
        )
    finally:
        await producer.stop()


async def wait_for_entry(settings: NotificationSettings, code: str, timeout: float = 30) -> None:
    """Until the feed holds the gift (read in the database: a look-up would count)."""
    engine = create_engine(settings, application_name="security-tests")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                found = await conn.scalar(
                    text("SELECT count(*) FROM feed_entries WHERE tracking_code_hash = :h"),
                    {"h": tracking_hash(code)},
                )
            if found:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"no feed entry for {code} within {timeout}s")
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def services(
    databases: dict[str, ServiceSettings],
    kafka_topics: list[str],
    keys_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Services]:
    names = all_topics(PREFIX)
    await ensure_topics(KAFKA_BOOTSTRAP, names, timeout_s=30)
    root._extra_topics.extend(names)  # deleted with the run's topics
    donation, notification = databases["donation"], databases["notification"]
    assert isinstance(donation, DonationSettings)
    assert isinstance(notification, NotificationSettings)
    donation = donation.model_copy(
        update={"run_relay": False, "run_consumers": False, "seed_demo_staff": False}
    )
    feed_settings = notification.model_copy(
        update={
            "topic_prefix": PREFIX,
            "run_relay": False,
            "run_feed_log": False,
            "run_delivery": False,
            "log_signing_key_file": tmp_path_factory.mktemp("sec-feed") / "feed_log_signing.pem",
        }
    )
    apps = {
        "donation": donation_app(donation),
        "feed": notification_app(feed_settings),
        "other_feed": notification_app(feed_settings.model_copy(update={"run_consumers": False})),
    }
    async with (
        apps["donation"].router.lifespan_context(apps["donation"]),
        apps["feed"].router.lifespan_context(apps["feed"]),
        apps["other_feed"].router.lifespan_context(apps["other_feed"]),
    ):
        staff = staff_headers(keys_dir, donation)
        gift = await record_gift(apps["donation"], staff)
        await publish_received(gift)
        await wait_for_entry(feed_settings, gift["tracking_code"])
        yield Services(
            apps["donation"],
            apps["feed"],
            apps["other_feed"],
            feed_settings,
            staff,
            gift["tracking_code"],
        )


def sloppy(code: str) -> list[str]:
    """How donors type a code: lower case, no dashes, spaces, O for 0 and l for 1."""
    bare = code.replace("-", "")
    return [
        bare.lower(),
        " " + code.lower() + " ",
        " ".join(code.split("-")),
        bare[:-1].replace("0", "o").replace("1", "l") + bare[-1],
    ]


async def test_a_typed_code_is_read_the_same_by_both_services(services: Services) -> None:
    async with (
        services.client(services.donation, "198.18.0.1") as donation,
        services.client(services.feed, "198.18.0.1") as feed,
    ):
        for typed in sloppy(services.code):
            gift = await donation.get(f"/api/v1/track/{typed}")
            assert gift.status_code == 200, (typed, gift.text)
            assert gift.json()["tracking_code"] == services.code
            entries = await feed.get(f"/api/v1/public/track/{typed}")
            assert entries.status_code == 200, (typed, entries.text)
            assert [i["kind"] for i in entries.json()["items"]] == ["donation.received"]
            filtered = await feed.get("/api/v1/public/feed", params={"tracking_code": typed})
            assert filtered.status_code == 200, (typed, filtered.text)
            assert [i["kind"] for i in filtered.json()["items"]] == ["donation.received"]


MALFORMED = [
    "NOPE-0000",  # too short
    "1MFB-V2RH-TWEX-7RZY-152D-7-9",  # too long
    "1MFB-V2RH-TWEX-7RZY-152D-!",  # not a check symbol
    "1MFB-V2RH-TWEX-7RZY-152U-7",  # U is a check symbol only
    "x" * 300,
]


def a_wrong_check_symbol(code: str) -> str:
    """The code with another check symbol: a typo the check symbol catches."""
    symbols = "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U"
    return code[:-1] + next(s for s in symbols if s != code[-1])


def assert_malformed(answer: httpx.Response) -> None:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_failed"
    assert "查询码格式无效" in error["message"]
    assert "malformed tracking code" in error["message"]


async def test_a_malformed_code_is_a_422_on_both_services(services: Services) -> None:
    async with (
        services.client(services.donation, "198.18.0.2") as donation,
        services.client(services.feed, "198.18.0.2") as feed,
    ):
        for typed in [*MALFORMED, a_wrong_check_symbol(services.code)]:
            assert_malformed(await donation.get(f"/api/v1/track/{typed}"))
            assert_malformed(await feed.get(f"/api/v1/public/track/{typed}"))
            assert_malformed(
                await feed.get("/api/v1/public/feed", params={"tracking_code": typed[:64]})
            )
            listed = await donation.get(
                "/api/v1/donations", params={"tracking_code": typed[:64]}, headers=services.staff
            )
            assert_malformed(listed)
        # a well-formed code nobody was given: not found, on both
        unknown = new_tracking_code()
        assert (await donation.get(f"/api/v1/track/{unknown}")).status_code == 404
        assert (await feed.get(f"/api/v1/public/track/{unknown}")).status_code == 404
        nothing = await feed.get("/api/v1/public/feed", params={"tracking_code": unknown})
        assert nothing.json()["items"] == []


def assert_limited(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert 0 < int(answer.headers["Retry-After"]) <= WINDOW + 1
    error = answer.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"]["retry_after_s"] == int(answer.headers["Retry-After"])


def a_lookup(feed: httpx.AsyncClient, i: int) -> Any:
    """Look-ups on the feed, by either route (they share one count)."""
    if i % 2:
        return feed.get(f"/api/v1/public/track/{new_tracking_code()}")
    return feed.get("/api/v1/public/feed", params={"tracking_code": new_tracking_code()})


async def test_the_feed_limits_look_ups_as_the_donation_service_does(services: Services) -> None:
    assert TRACK_LIMIT == TRACKING_LOOKUP_LIMIT  # the donation service's limit is the one
    async with (
        services.client(services.feed, "198.18.0.3") as noisy,
        services.client(services.feed, "198.18.0.4") as calm,
    ):
        answers = [await a_lookup(noisy, i) for i in range(LIMIT)]
        assert {a.status_code for a in answers} <= {200, 404}
        for i in range(2):
            assert_limited(await a_lookup(noisy, i))
        # malformed codes count too and are refused alike: no free probing
        assert_limited(await noisy.get("/api/v1/public/track/NOPE"))
        # other clients, and the feed without a code, are not limited
        assert (await calm.get(f"/api/v1/public/track/{services.code}")).status_code == 200
        assert (await noisy.get("/api/v1/public/feed", params={"limit": 5})).status_code == 200
        assert (await noisy.get("/api/v1/public/feed", params={"tracking_code": ""})).is_success


async def test_the_feed_limit_holds_across_its_instances(services: Services) -> None:
    address = "198.18.0.5"
    async with (
        services.client(services.feed, address) as first,
        services.client(services.other_feed, address) as second,
    ):
        half = LIMIT // 2
        answers = [await a_lookup(first, i) for i in range(half)]
        answers += [await a_lookup(second, i) for i in range(LIMIT - half)]
        assert {a.status_code for a in answers} <= {200, 404}
        assert_limited(await a_lookup(second, 0))
        assert_limited(await a_lookup(first, 1))
    # counted in the notification service's own database, the address only as a keyed hash
    engine = create_engine(services.feed_settings, application_name="security-tests")
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT client_key, cardinality(hits) FROM rate_limit_hits"
                        " WHERE limiter = 'track'"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert LIMIT in {n for _, n in rows}
    assert address not in str(rows)
