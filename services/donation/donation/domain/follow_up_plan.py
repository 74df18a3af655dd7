"""Follow-ups (回访) as a plan: which visits fall due after a disbursement or a delivery, and
whether each was made on time (issue 17).

A rule per project category says after which fact visits are due (a disbursement approved, a
dispatch delivered), how many days after it the first visit is due, how many visits and how
far apart. A visit is on time when it is made on or before its due date plus the rule's grace
days; a visit not yet made is ``due`` until then and ``overdue`` after.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Literal

Trigger = Literal["disbursement", "delivery"]
VisitState = Literal["due", "overdue", "on_time", "late"]
Outcome = Literal["reached", "not_reached", "problem"]  # 已回访 / 未联系上 / 发现问题

# The project categories (``projects.category``) a rule can name.
CATEGORIES = ("song_wan_jia", "wan_ren_xing", "boai_jiayuan", "emergency", "other")


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


def rule_table(rules: Iterable[FollowUpRule]) -> tuple[FollowUpRule, ...]:
    """The rules as one table: a known category each, at most one rule per category and
    trigger (a visit's number, ``seq``, counts within its rule). ``ValueError`` says which."""
    table = tuple(rules)
    seen: set[tuple[str, str]] = set()
    for rule in table:
        if rule.category not in CATEGORIES:
            raise ValueError(
                f"{rule.category}/{rule.trigger}: unknown project category "
                f"(one of {', '.join(CATEGORIES)})"
            )
        if (rule.category, rule.trigger) in seen:
            raise ValueError(
                f"{rule.category}/{rule.trigger}: two rules (one per category and trigger)"
            )
        seen.add((rule.category, rule.trigger))
    return table


@dataclass(frozen=True)
class PlannedVisit:
    seq: int  # 1..of_visits
    of_visits: int
    due_on: date
    grace_days: int


def plan(
    rules: Sequence[FollowUpRule], category: str, trigger: Trigger, happened_on: date
) -> list[PlannedVisit]:
    """The visits a fact of ``happened_on`` makes due for a project of ``category``: none when
    no rule names the category and trigger."""
    return [
        PlannedVisit(seq, rule.visits, due_on, rule.grace_days)
        for rule in rules_for(rules, category, trigger)
        for seq, due_on in enumerate(due_dates(rule, happened_on), start=1)
    ]


def due_dates(rule: FollowUpRule, happened_on: date) -> list[date]:
    """The days the rule's visits fall due after a fact of ``happened_on``."""
    first = happened_on + timedelta(days=rule.first_after_days)
    return [first + timedelta(days=rule.every_days * n) for n in range(rule.visits)]


def rules_for(rules: Sequence[FollowUpRule], category: str, trigger: Trigger) -> list[FollowUpRule]:
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


@dataclass(frozen=True)
class VisitSummary:
    """A project's visits of a period, for the evaluation (绩效评价)."""

    planned: int  # every visit of the period, made or not
    due: int  # not made, not yet owed
    on_time: int
    late: int
    overdue: int
    on_time_share: Fraction | None  # on time of those owed by now; None when none was owed
    satisfaction_count: int  # visits that reached the recipient and scored
    average_satisfaction: Fraction | None


def summarise(visits: Iterable[tuple[VisitState, int | None]]) -> VisitSummary:
    """Counts by state, the on-time share (:func:`on_time_share`) and the average 1–5
    satisfaction of the scored visits, from each visit's state and score (or ``None``)."""
    states: list[VisitState] = []
    scores: list[int] = []
    for state, score in visits:
        states.append(state)
        if score is not None:
            scores.append(score)
    on_time, owed = on_time_share(states)
    return VisitSummary(
        planned=len(states),
        due=states.count("due"),
        on_time=on_time,
        late=states.count("late"),
        overdue=states.count("overdue"),
        on_time_share=Fraction(on_time, owed) if owed else None,
        satisfaction_count=len(scores),
        average_satisfaction=Fraction(sum(scores), len(scores)) if scores else None,
    )


@dataclass(frozen=True)
class RecordVisitOutcome:
    """A planned visit was made (or tried): what came of it. ``actor_org`` is the recording
    account's organisation (a town branch records only its own projects' visits)."""

    visit_id: uuid.UUID
    actor: str
    actor_org: str
    visited_on: date
    outcome: Outcome
    visitor: str
    satisfaction: int | None = None
    notes: str | None = None
    expected_version: int | None = None


OUTCOME_WORDS: dict[str, str] = {
    "reached": "已回访受助对象",
    "not_reached": "未能联系上受助对象",
    "problem": "回访发现问题，正在跟进",
}


def public_summary(seq: int, of_visits: int, outcome: Outcome, satisfaction: int | None) -> str:
    """What the public feed says of a planned visit: its number, the outcome and the score,
    never the notes, the recipient or the visitor (the notes stay with the staff)."""
    text = f"计划回访（第 {seq}/{of_visits} 次）：{OUTCOME_WORDS[outcome]}"
    if satisfaction is not None:
        text += f"，满意度 {satisfaction}/5"
    return text
