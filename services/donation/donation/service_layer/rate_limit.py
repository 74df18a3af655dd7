"""Public rate limits that hold across every instance of the service: the counts live in the
service's own database (table ``rate_limit_hits``), not in process memory.

A sliding window, as the in-process limiter it replaces: a client may make ``limit`` requests
in any ``window_s`` seconds; a refused request does not count. One row per (limiter, client)
keeps the times of its accepted requests still inside the window. A check is one statement
(``INSERT … ON CONFLICT DO UPDATE … RETURNING``) on a pooled connection in autocommit, outside
the request's own transaction; the row lock that ``ON CONFLICT`` takes serialises the
concurrent requests of one client, so no instance ever lets one request too many through.
Times are the database's clock, the one clock every instance shares.

If the database cannot be reached the check falls back to this instance's in-process window
(logged at most once a minute per limiter): the limit then holds per instance, and the request
itself meets the database next and gets its ``503``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from donation.service_layer.tracking import RateLimiter, too_many

log = logging.getLogger("sunshine.donation.rate_limit")

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

# Clients idle for a whole window: nothing of theirs counts any more.
PURGE = text(
    "DELETE FROM rate_limit_hits WHERE limiter = :limiter "
    "AND expires_at < coalesce(CAST(:at AS timestamptz), clock_timestamp())"
)

Clock = Callable[[], datetime]


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
        # A keyed hash: client addresses are not stored.
        return hmac.new(self.secret, client.encode(), hashlib.sha256).hexdigest()[:32]

    async def check(self, client: str) -> None:
        """Count one request of ``client``; ``TooManyRequests`` (not counted) if over."""
        try:
            retry = await self._hit(self.client_key(client))
        except Exception as exc:  # noqa: BLE001 - a limit must not fail the request
            self._warn(exc)
            self.fallback.check(client)
            return
        if retry is not None:
            raise too_many(retry)

    async def _hit(self, key: str) -> int | None:
        """Seconds until the client may try again, or None when the request is accepted."""
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
            return None
        # The request that must leave the window before one more fits.
        blocking: datetime = hits[max(len(hits) - self.limit, 0)]
        return int(self.window_s - (now - blocking).total_seconds()) + 1

    def _warn(self, exc: Exception) -> None:
        t = time.monotonic()
        if t < self._next_warning:
            return
        self._next_warning = t + self.warn_every_s
        log.warning(
            "rate limit store unavailable, counting in this instance only",
            extra={"limiter": self.name, "error": f"{type(exc).__name__}: {exc}"[:300]},
        )
