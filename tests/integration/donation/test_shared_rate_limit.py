"""The public rate limits hold across instances: two donation apps on one database share the
counts (sliding window, in the table ``rate_limit_hits``); concurrent requests never get one
past the limit; the window slides; an unreachable database falls back to the instance's own
count instead of failing the request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from donation.entrypoints.api.public import TRACK_LIMIT, limiter
from donation.main import create_app
from shared.errors import TooManyRequests
from shared.ids import new_tracking_code
from shared.rate_limit import SharedRateLimiter
from shared.runtime import ServiceRuntime
from tests.integration.donation.conftest import Api, unique

pytestmark = pytest.mark.integration

LIMIT, WINDOW = TRACK_LIMIT


@pytest.fixture(scope="module")
async def second(api: Api) -> AsyncIterator[Any]:
    """Another instance of the service on the same database (API only, no relay/consumers)."""
    settings = api.settings.model_copy(update={"run_relay": False, "run_consumers": False})
    app = create_app(settings)  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        yield app


def client(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://donation")


def runtime_of(app: Any) -> ServiceRuntime:
    runtime = app.state.runtime
    assert isinstance(runtime, ServiceRuntime)
    return runtime


async def rows(engine: AsyncEngine, name: str) -> list[Any]:
    async with engine.connect() as conn:
        result = await conn.execute(
            text("SELECT client_key, hits FROM rate_limit_hits WHERE limiter = :n"), {"n": name}
        )
        return list(result.all())


class FakeClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


async def refused(check: Any) -> int | None:
    """``Retry-After`` seconds if the check refuses, None if it lets the request through."""
    try:
        await check
    except TooManyRequests as exc:
        return int(exc.details["retry_after_s"])
    return None


async def test_two_instances_share_one_limit(api: Api, second: Any) -> None:
    address = "198.51.100.7"
    async with client(api.app, address) as first, client(second, address) as other:
        half = LIMIT // 2
        answers = [(await first.get(f"/api/v1/track/{new_tracking_code()}")) for _ in range(half)]
        answers += [
            (await other.get(f"/api/v1/track/{new_tracking_code()}")) for _ in range(LIMIT - half)
        ]
        assert [a.status_code for a in answers] == [404] * LIMIT
        over = await other.get(f"/api/v1/track/{new_tracking_code()}")
        assert over.status_code == 429, over.text
        assert 0 < int(over.headers["Retry-After"]) <= WINDOW + 1
        body = over.json()["error"]
        assert body["code"] == "rate_limited"
        assert "too many requests" in body["message"]
        assert body["details"]["retry_after_s"] == int(over.headers["Retry-After"])
        assert (await first.get(f"/api/v1/track/{new_tracking_code()}")).status_code == 429
    # counted in the database, under a keyed hash of the address, only the accepted requests
    track = limiter(runtime_of(api.app), "track", TRACK_LIMIT)
    stored = dict(await rows(runtime_of(api.app).engine, "track"))
    assert address not in str(stored)
    assert len(stored[track.client_key(address)]) == LIMIT
    # the other instance hashes the address the same way (same key material)
    assert limiter(runtime_of(second), "track", TRACK_LIMIT).client_key(address) == (
        track.client_key(address)
    )


async def test_parallel_requests_on_two_instances_never_pass_the_limit(
    api: Api, second: Any
) -> None:
    address = "198.51.100.8"
    async with client(api.app, address) as first, client(second, address) as other:
        answers = await asyncio.gather(
            *(
                (first if i % 2 else other).get(f"/api/v1/track/{new_tracking_code()}")
                for i in range(LIMIT + 12)
            )
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [404] * LIMIT + [429] * 12


async def test_parallel_checks_let_exactly_the_limit_through(api: Api) -> None:
    engine = runtime_of(api.app).engine
    name = unique("par-")[:32]
    shared = [SharedRateLimiter(engine, name, 7, 60, secret="s") for _ in range(3)]
    outcomes = await asyncio.gather(*(refused(shared[i % 3].check("10.0.0.1")) for i in range(40)))
    assert sum(o is None for o in outcomes) == 7
    assert all(o is not None and 0 < o <= 61 for o in outcomes if o is not None)


async def test_the_window_slides_and_refused_requests_do_not_count(api: Api) -> None:
    engine = runtime_of(api.app).engine
    clock = FakeClock()
    name = unique("win-")[:32]
    one = SharedRateLimiter(engine, name, 3, 10, secret="s", clock=clock)
    two = SharedRateLimiter(engine, name, 3, 10, secret="s", clock=clock)
    for instance in (one, two, one):  # at 0, 1 and 2 s
        assert await refused(instance.check("c")) is None
        clock.advance(1)
    assert await refused(two.check("c")) == 8  # at 3 s: the first leaves at 10 s
    clock.advance(6.9)
    assert await refused(one.check("c")) == 1  # at 9.9 s, still full
    clock.advance(0.1)
    assert await refused(two.check("c")) is None  # at 10 s the first has left: one slot
    clock.advance(0.5)
    assert await refused(one.check("c")) == 1  # at 10.5 s: the one at 1 s leaves at 11 s
    clock.advance(0.5)
    assert await refused(one.check("c")) is None  # at 11 s
    assert await refused(one.check("other client")) is None  # every client its own window


async def test_a_request_given_back_no_longer_counts(api: Api) -> None:
    engine = runtime_of(api.app).engine
    clock = FakeClock()  # every request at one instant: only one of them is given back
    name = unique("rel-")[:32]
    one, two = (SharedRateLimiter(engine, name, 2, 10, secret="s", clock=clock) for _ in "12")
    first = await one.acquire("c")
    second = await two.acquire("c")
    assert not isinstance(first, int)
    assert not isinstance(second, int)
    assert await two.acquire("c") == 11  # full
    await two.release(first)
    assert (await rows(engine, name))[0].hits == [clock.at]
    third = await one.acquire("c")
    assert not isinstance(third, int)
    assert isinstance(await one.acquire("c"), int)
    await one.release(third)
    assert len((await rows(engine, name))[0].hits) == 1


async def test_the_database_clock_by_default(api: Api) -> None:
    engine = runtime_of(api.app).engine
    name = unique("clk-")[:32]
    first, second = (SharedRateLimiter(engine, name, 1, 0.5, secret="s") for _ in range(2))
    assert await refused(first.check("c")) is None
    assert await refused(second.check("c")) == 1
    await asyncio.sleep(0.6)
    assert await refused(second.check("c")) is None


async def test_idle_clients_are_purged(api: Api) -> None:
    engine = runtime_of(api.app).engine
    clock = FakeClock()
    name = unique("pur-")[:32]
    shared = SharedRateLimiter(engine, name, 2, 10, secret="s", clock=clock, purge_every_s=0)
    await shared.check("gone")
    await shared.check("stays")
    assert len(await rows(engine, name)) == 2
    clock.advance(9)
    await shared.check("stays")
    clock.advance(2)  # "gone" idle for 11 s, "stays" for 2 s
    await shared.check("new")
    keys = {key for key, _ in await rows(engine, name)}
    assert keys == {shared.client_key("stays"), shared.client_key("new")}


@pytest.fixture
async def dead_engine() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(
        "postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none", connect_args={"timeout": 2}
    )
    yield engine
    await engine.dispose()


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def warnings_logged() -> Iterator[list[logging.LogRecord]]:
    logger = logging.getLogger("sunshine.rate_limit")
    handler = Records()
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


async def test_database_down_falls_back_to_the_instance_count(
    dead_engine: AsyncEngine, warnings_logged: list[logging.LogRecord]
) -> None:
    shared = SharedRateLimiter(dead_engine, "track", 3, 60, secret="s")
    outcomes = [await refused(shared.check("c")) for _ in range(4)]
    assert outcomes[:3] == [None, None, None]  # fail open, up to the limit of this instance
    assert outcomes[3] is not None
    assert 0 < outcomes[3] <= 61
    assert await refused(shared.check("d")) is None
    (warning,) = warnings_logged  # once, not once per request
    assert warning.levelno == logging.WARNING
    assert "rate limit store unavailable" in warning.getMessage()
    assert warning.__dict__["limiter"] == "track"


async def test_database_down_for_the_limiter_does_not_fail_the_request(
    api: Api,
    second: Any,
    dead_engine: AsyncEngine,
    warnings_logged: list[logging.LogRecord],
) -> None:
    extras = runtime_of(second).extras
    before = extras.get("limiter:track")
    extras["limiter:track"] = SharedRateLimiter(dead_engine, "track", *TRACK_LIMIT, secret="s")
    try:
        async with client(second, "198.51.100.9") as public:
            answer = await public.get(f"/api/v1/track/{new_tracking_code()}")
    finally:
        extras.pop("limiter:track")
        if before is not None:
            extras["limiter:track"] = before
    assert answer.status_code == 404, answer.text
    assert len(warnings_logged) == 1
