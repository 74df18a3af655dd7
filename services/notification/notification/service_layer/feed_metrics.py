"""Disclosure timeliness: the delay between a fact and its publication, and the deadlines.

Deadlines (DESIGN §7, the stricter figures): a gift must be disclosed within 7 working days
(Monday–Friday, minus configured public holidays), or within 24 hours when it belongs to a
declared major disaster; the use of funds (disbursements) and goods distributed within one
month (30 days). A fact belongs to a declared major disaster when its incident reference or
its project code is listed in ``NOTIFICATION_MAJOR_DISASTER_REFS``, or its incident was
declared major in the donation service's register (``incident_recorded.v1``): then it is due
24 hours after the later of the fact and the declaration, or by its routine deadline if that
comes first (a declaration only ever tightens a deadline).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import Counter, Gauge, Histogram

SHANGHAI = ZoneInfo("Asia/Shanghai")

DELAY_BUCKETS = (
    1,
    10,
    60,
    600,
    3600,
    6 * 3600,
    24 * 3600,
    3 * 86400,
    7 * 86400,
    14 * 86400,
    30 * 86400,
    90 * 86400,
)
DISCLOSURE_DELAY = Histogram(
    "sunshine_feed_disclosure_delay_seconds",
    "Delay between a public fact happening and its entry being published, by entry kind",
    ["kind"],
    buckets=DELAY_BUCKETS,
)
DISCLOSURE_LATE = Counter(
    "sunshine_feed_disclosure_late_total",
    "Entries published after their disclosure deadline (see /api/v1/public/timeliness)",
    ["kind"],
)

LOG_TREE_SIZE = Gauge(
    "sunshine_feed_log_tree_size", "Entries in the signed transparency log (latest head)"
)

_DELAY_BY_KIND: dict[str, Histogram] = {}  # labelled children (``labels()`` is not cheap)

GIFT_KINDS = {"donation.received"}
USE_KINDS = {"funds.disbursed", "goods.dispatched", "goods.delivered"}


def add_working_days(start: datetime, days: int, holidays: Iterable[date] = ()) -> datetime:
    """``start`` plus ``days`` working days (local calendar), same time of day."""
    off = set(holidays)
    local = start.astimezone(SHANGHAI)
    current = local
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current.date() not in off:
            remaining -= 1
    return current


def deadline_for(
    kind: str,
    occurred_at: datetime,
    *,
    refs: Iterable[str | None],
    major_disaster_refs: Iterable[str],
    holidays: Iterable[date] = (),
    routine_working_days: int = 7,
    disaster_hours: int = 24,
    declared_major: Mapping[str, datetime] | None = None,
) -> tuple[datetime | None, str | None]:
    """The deadline of an entry and the rule's name, or ``(None, None)`` if none applies.

    ``declared_major`` maps an incident code to when it was declared major."""
    named = {r for r in refs if r}
    disaster = bool(named & set(major_disaster_refs))
    declared = [at for r, at in (declared_major or {}).items() if r in named]
    if declared and not disaster:
        routine, routine_rule = deadline_for(
            kind,
            occurred_at,
            refs=(),
            major_disaster_refs=(),
            holidays=holidays,
            routine_working_days=routine_working_days,
            disaster_hours=disaster_hours,
        )
        tight = max(occurred_at, min(declared)) + timedelta(hours=disaster_hours)
        if kind in GIFT_KINDS | USE_KINDS and (routine is None or tight < routine):
            return tight, f"{disaster_hours}h_disaster"
        return routine, routine_rule
    if kind in GIFT_KINDS or (disaster and kind in USE_KINDS):
        if disaster:
            return occurred_at + timedelta(hours=disaster_hours), f"{disaster_hours}h_disaster"
        return (
            add_working_days(occurred_at, routine_working_days, holidays),
            f"{routine_working_days}_working_days",
        )
    if kind in USE_KINDS:
        return occurred_at + timedelta(days=30), "30_days_use_of_funds"
    return None, None


@dataclass
class DeadlineRules:
    major_disaster_refs: list[str] = field(default_factory=list)
    holidays: list[date] = field(default_factory=list)
    routine_working_days: int = 7
    disaster_hours: int = 24
    declared_major: dict[str, datetime] = field(default_factory=dict)  # incident → declared at

    def earliest_deadline_s(self) -> float:
        """No rule's deadline comes sooner after the fact than this (a working day is at
        least a calendar day)."""
        return float(min(self.disaster_hours * 3600, self.routine_working_days * 86400, 30 * 86400))


RULES = DeadlineRules()


def configure(settings: Any) -> None:
    """Take the deadline rules from the service settings (called at start-up)."""
    RULES.major_disaster_refs = list(settings.major_disaster_refs)
    RULES.holidays = list(settings.public_holidays)
    RULES.routine_working_days = settings.routine_disclosure_working_days
    RULES.disaster_hours = settings.disaster_disclosure_hours


def observe_disclosure(
    kind: str, occurred_at: datetime, published_at: datetime, refs: Iterable[str | None] = ()
) -> None:
    delay = max((published_at - occurred_at).total_seconds(), 0.0)
    histogram = _DELAY_BY_KIND.get(kind)
    if histogram is None:
        histogram = _DELAY_BY_KIND[kind] = DISCLOSURE_DELAY.labels(kind)
    histogram.observe(delay)
    if delay <= RULES.earliest_deadline_s():
        return  # within the shortest deadline any rule gives: on time, no calendar needed
    due, _ = deadline_for(
        kind,
        occurred_at,
        refs=refs,
        major_disaster_refs=RULES.major_disaster_refs,
        holidays=RULES.holidays,
        routine_working_days=RULES.routine_working_days,
        disaster_hours=RULES.disaster_hours,
        declared_major=RULES.declared_major,
    )
    if due is not None and published_at > due:
        DISCLOSURE_LATE.labels(kind).inc()
