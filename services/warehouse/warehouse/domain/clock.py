"""The warehouse's clock: what time every command books its movements at.

``now()`` is the wall clock (UTC) unless a caller has set the time for its own task with
:func:`travel`. Seeding a history of months (the demo data, the preparedness tests) runs the
real commands at back-dated times this way, so every movement, level and audit row is written
by the domain as it would have been that day, never by editing rows afterwards. Nothing in a
running service sets it: a request's task starts with the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_travelled: ContextVar[datetime | None] = ContextVar("warehouse_clock", default=None)


def now() -> datetime:
    """The current time (timezone-aware, UTC), or the time set by :func:`travel`."""
    at = _travelled.get()
    return at if at is not None else datetime.now(UTC)


@contextmanager
def travel(at: datetime) -> Iterator[None]:
    """Run the block as if it were ``at`` (aware): for seeding history only."""
    if at.tzinfo is None:
        raise ValueError("travel() needs a timezone-aware time")
    token = _travelled.set(at.astimezone(UTC))
    try:
        yield
    finally:
        _travelled.reset(token)
