"""Season plans (备灾计划): the arithmetic of a town's target, gap and coverage.

A town's target for an item is the people it must serve × the plan's per-person norm of the
item, rounded up to whole units — unless a target was entered directly for that town and item,
which wins. What the town holds counts against it; the gap is what is missing, never negative.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

DRAFT, ACTIVE, CLOSED = "draft", "active", "closed"
PLAN_STATUS_ZH = {DRAFT: "草稿", ACTIVE: "执行中", CLOSED: "已结束"}

# action → (statuses it is allowed from, the status after it)
PLAN_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "activate": (frozenset({DRAFT}), ACTIVE),
    "close": (frozenset({ACTIVE}), CLOSED),
}


def norm_target(people: int, per_person: Decimal) -> int:
    """People × per-person norm, rounded up to a whole unit (1.2 blankets is 2 blankets)."""
    if people < 0 or per_person < 0:
        raise ValueError("people and per_person must not be negative")
    return math.ceil(Decimal(people) * per_person)


def gap_of(target: int, held: int) -> int:
    """What is missing to reach ``target``: ``target - held``, never below zero."""
    return max(0, target - held)


def coverage_of(lines: Iterable[tuple[int, int]]) -> float | None:
    """The share of a town's target in place over its (target, held) lines: the units covered
    (each line's held up to its target, so a surplus of one item hides no other gap) over the
    units targeted; None when nothing is targeted."""
    target = covered = 0
    for line_target, held in lines:
        target += line_target
        covered += min(held, line_target)
    return None if target == 0 else covered / target


def next_plan_status(current: str, action: str) -> str:
    """The status after ``action``, or ValueError naming why it is not allowed."""
    allowed, after = PLAN_TRANSITIONS[action]
    if current not in allowed:
        raise ValueError(
            f"计划当前状态为「{PLAN_STATUS_ZH.get(current, current)}」，不能{_ACTION_ZH[action]}"
            f" (cannot {action} a plan in status {current})"
        )
    return after


_ACTION_ZH = {"activate": "启用", "close": "结束"}
