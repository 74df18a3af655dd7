"""Rate limits that hold across every instance of a service: the counts live in the service's
own database (table ``rate_limit_hits``, one per service, created by its own migrations), not
in process memory.

A sliding window: a client may make ``limit`` requests in any ``window_s`` seconds; a refused
request does not count. One row per (limiter, client) keeps the times of its accepted
requests still inside the window. A check is one statement (``INSERT … ON CONFLICT DO UPDATE
… RETURNING``) on a pooled connection in autocommit, outside the request's own transaction;
the row lock that ``ON CONFLICT`` takes serialises the concurrent requests of one client, so
no instance ever lets one request too many through. Times are the database's clock, the one
clock every instance shares.

A counted request can be given back (``release``): a limit on failures (the login throttle)
takes a slot before the attempt, so parallel attempts cannot pass it, and returns the slot
when the attempt succeeds. ``forget`` empties one client's window (an admin lifts a login
lockout).

If the database cannot be reached the check falls back to this instance's in-process window
(logged at most once a minute per limiter): the limit then holds per instance, and the request
itself meets the database next and gets its ``503``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.errors import TooManyRequests

log = logging.getLogger("sunshine.rate_limit")


def too_many(retry_after_s: int) -> TooManyRequests:
    """The one answer of every public look-up limit (``429`` with ``Retry-After``)."""
    return TooManyRequests(
        f"查询过于频繁，请 {retry_after_s} 秒后再试 (too many requests; retry in {retry_after_s}s)",
        details={"retry_after_s": retry_after_s},
    )


class RateLimiter:
    """A per-client sliding window (in process): ``limit`` requests per ``window_s``.

    The fallback of ``SharedRateLimiter`` while the database cannot be reached."""

    def __init__(self, limit: int, window_s: float, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        self._hits: OrderedDict[str, list[float]] = OrderedDict()

    def take(self, client: str) -> int | None:
        """Count one request; None if accepted, else the seconds until one more fits."""
        t = time.monotonic()
        hits = [h for h in self._hits.pop(client, []) if t - h < self.window_s]
        self._hits[client] = hits
        if len(hits) >= self.limit:
            return int(self.window_s - (t - hits[0])) + 1
        hits.append(t)
        while len(self._hits) > self.max_clients:
            self._hits.popitem(last=False)
        return None

    def give_back(self, client: str) -> None:
        """Forget the client's latest counted request."""
        hits = self._hits.get(client)
        if hits:
            hits.pop()


# ``excluded.hits[1]`` is this request's time; "room" (written out three times) is whether
# fewer than ``limit`` accepted requests are still inside the window before it.
HIT = text(
    """
    WITH t AS (SELECT coalesce(CAST(:at AS timestamptz), clock_timestamp()) AS now)
    INSERT INTO rate_limit_hits AS r (limiter, client_key, hits, allowed, expires_at)
    SELECT :limiter, :client, ARRAY[t.now], true, t.now + make_interval(secs => :window)
    FROM t
    ON CONFLICT (limiter, client_key) DO UPDATE SET
        hits = ARRAY(
            SELECT h
            FROM unnest(
                r.hits || CASE
                    WHEN (SELECT count(*) FROM unnest(r.hits) AS o
                          WHERE o > excluded.hits[1] - make_interval(secs => :window)) < :limit
                    THEN excluded.hits
                    ELSE '{}'::timestamptz[]
                END
            ) AS h
            WHERE h > excluded.hits[1] - make_interval(secs => :window)
            ORDER BY h
        ),
        allowed = (SELECT count(*) FROM unnest(r.hits) AS o
                   WHERE o > excluded.hits[1] - make_interval(secs => :window)) < :limit,
        expires_at = CASE
            WHEN (SELECT count(*) FROM unnest(r.hits) AS o
                  WHERE o > excluded.hits[1] - make_interval(secs => :window)) < :limit
            THEN excluded.expires_at
            ELSE r.expires_at
        END
    RETURNING allowed, hits, (SELECT now FROM t) AS now
    """
)

# One accepted request given back: the first hit at its time leaves the array.
RELEASE = text(
    """
    UPDATE rate_limit_hits
    SET hits = hits[1:array_position(hits, CAST(:at AS timestamptz)) - 1]
               || hits[array_position(hits, CAST(:at AS timestamptz)) + 1:]
    WHERE limiter = :limiter AND client_key = :client
      AND array_position(hits, CAST(:at AS timestamptz)) IS NOT NULL
    """
)

# Clients idle for a whole window: nothing of theirs counts any more.
PURGE = text(
    "DELETE FROM rate_limit_hits WHERE limiter = :limiter "
    "AND expires_at < coalesce(CAST(:at AS timestamptz), clock_timestamp())"
)

# Every counted request of one client forgotten (a lockout lifted).
FORGET = text("DELETE FROM rate_limit_hits WHERE limiter = :limiter AND client_key = :client")

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Taken:
    """One accepted request, to give back with ``SharedRateLimiter.release``."""

    client: str
    at: datetime | None  # its time in the database; None: counted in process (fallback)


class SharedRateLimiter:
    """``limit`` requests per ``window_s`` per client, counted in the service's database."""

    def __init__(
        self,
        engine: AsyncEngine,
        name: str,
        limit: int,
        window_s: float,
        *,
        secret: str,
        clock: Clock | None = None,
        purge_every_s: float = 60.0,
        warn_every_s: float = 60.0,
    ) -> None:
        self.engine = engine
        self.name = name
        self.limit = limit
        self.window_s = window_s
        self.secret = secret.encode()
        self.clock = clock  # tests only; None is the database's clock
        self.purge_every_s = purge_every_s
        self.warn_every_s = warn_every_s
        self.fallback = RateLimiter(limit, window_s)
        self._next_purge = time.monotonic() + purge_every_s
        self._next_warning = 0.0

    def client_key(self, client: str) -> str:
        # A keyed hash: client addresses (and user names) are not stored.
        return hmac.new(self.secret, client.encode(), hashlib.sha256).hexdigest()[:32]

    async def check(self, client: str) -> None:
        """Count one request of ``client``; ``TooManyRequests`` (not counted) if over."""
        taken = await self.acquire(client)
        if isinstance(taken, int):
            raise too_many(taken)

    async def acquire(self, client: str) -> Taken | int:
        """Count one request of ``client``: what to give back, or (refused, not counted) the
        seconds until the client may try again."""
        try:
            retry, at = await self._hit(self.client_key(client))
        except Exception as exc:  # noqa: BLE001 - a limit must not fail the request
            self._warn(exc)
            retry, at = self.fallback.take(client), None
        return Taken(client, at) if retry is None else retry

    async def release(self, taken: Taken) -> None:
        """Give back an accepted request: it no longer counts (best effort)."""
        if taken.at is None:
            self.fallback.give_back(taken.client)
            return
        params = {"limiter": self.name, "client": self.client_key(taken.client), "at": taken.at}
        try:
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(RELEASE, params)
        except Exception as exc:  # noqa: BLE001 - the slot then expires with its window
            self._warn(exc)

    async def forget(self, client: str) -> None:
        """Forget every counted request of ``client`` (an admin lifts a lockout): its window
        starts empty, on every instance (this instance's fallback window too)."""
        self.fallback._hits.pop(client, None)
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(FORGET, {"limiter": self.name, "client": self.client_key(client)})

    async def _hit(self, key: str) -> tuple[int | None, datetime]:
        """(Seconds until the client may try again or None when accepted, the request's time)."""
        at = self.clock() if self.clock is not None else None
        params: dict[str, Any] = {
            "limiter": self.name,
            "client": key,
            "limit": self.limit,
            "window": float(self.window_s),
            "at": at,
        }
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            allowed, hits, now = (await conn.execute(HIT, params)).one()
            if time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + self.purge_every_s
                await conn.execute(PURGE, {"limiter": self.name, "at": at})
        if allowed:
            return None, now
        # The request that must leave the window before one more fits.
        blocking: datetime = hits[max(len(hits) - self.limit, 0)]
        return int(self.window_s - (now - blocking).total_seconds()) + 1, now

    def _warn(self, exc: Exception) -> None:
        t = time.monotonic()
        if t < self._next_warning:
            return
        self._next_warning = t + self.warn_every_s
        log.warning(
            "rate limit store unavailable, counting in this instance only",
            extra={"limiter": self.name, "error": f"{type(exc).__name__}: {exc}"[:300]},
        )
