"""Follow-ups (回访) as a plan: which visits fall due after a disbursement or a delivery, and
whether each was made on time (issue 17).

A rule per project category says after which fact visits are due (a disbursement approved, a
dispatch delivered), how many days after it the first visit is due, how many visits and how
far apart. A visit is on time when it is made on or before its due date plus the rule's grace
days; a visit not yet made is ``due`` until then and ``overdue`` after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Trigger = Literal["disbursement", "delivery"]
VisitState = Literal["due", "overdue", "on_time", "late"]


@dataclass(frozen=True)
class FollowUpRule:
    category: str
    trigger: Trigger
    first_after_days: int
    visits: int = 1
    every_days: int = 0  # between visits, when there are several
    grace_days: int = 0

    def __post_init__(self) -> None:
        if self.first_after_days < 0 or self.grace_days < 0 or self.every_days < 0:
            raise ValueError(f"{self.category}/{self.trigger}: days cannot be negative")
        if self.visits < 1:
            raise ValueError(f"{self.category}/{self.trigger}: at least one visit")
        if self.visits > 1 and self.every_days == 0:
            raise ValueError(f"{self.category}/{self.trigger}: several visits need every_days")


# Defaults until a branch sets its own: emergency relief is checked on within a week of
# delivery and again after a month; winter-warmth (送温暖) households within a month of the
# money; 博爱家园 community projects a quarter after each disbursement, for a year.
DEFAULT_RULES: tuple[FollowUpRule, ...] = (
    FollowUpRule("emergency", "delivery", 7, visits=2, every_days=23, grace_days=3),
    FollowUpRule("emergency", "disbursement", 14, grace_days=7),
    FollowUpRule("song_wan_jia", "disbursement", 30, grace_days=7),
    FollowUpRule("boai_jiayuan", "disbursement", 90, visits=4, every_days=91, grace_days=14),
    FollowUpRule("wan_ren_xing", "disbursement", 30, grace_days=7),
    FollowUpRule("other", "disbursement", 30, grace_days=7),
)


def due_dates(rule: FollowUpRule, happened_on: date) -> list[date]:
    """The days the rule's visits fall due after a fact of ``happened_on``."""
    first = happened_on + timedelta(days=rule.first_after_days)
    return [first + timedelta(days=rule.every_days * n) for n in range(rule.visits)]


def rules_for(
    rules: tuple[FollowUpRule, ...] | list[FollowUpRule], category: str, trigger: Trigger
) -> list[FollowUpRule]:
    return [r for r in rules if r.category == category and r.trigger == trigger]


def visit_state(due_on: date, grace_days: int, visited_on: date | None, today: date) -> VisitState:
    """Where one planned visit stands: made on time or late, or still due or overdue."""
    last_day = due_on + timedelta(days=grace_days)
    if visited_on is not None:
        return "on_time" if visited_on <= last_day else "late"
    return "due" if today <= last_day else "overdue"


def on_time_share(states: list[VisitState]) -> tuple[int, int]:
    """(visits made on time, visits that were owed by now): ``due`` visits are not owed yet."""
    owed = [s for s in states if s != "due"]
    return sum(1 for s in owed if s == "on_time"), len(owed)
