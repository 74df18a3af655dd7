"""Follow-up visits as a plan: due dates by rule, and on time or not (hand-worked examples)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from donation.domain.follow_up_plan import (
    DEFAULT_RULES,
    FollowUpRule,
    due_dates,
    on_time_share,
    rules_for,
    visit_state,
)


def test_an_emergency_delivery_is_visited_after_a_week_and_again_after_a_month() -> None:
    (rule,) = rules_for(DEFAULT_RULES, "emergency", "delivery")
    # delivered 2026-07-30: due 08-06 (7 days) and 08-29 (23 days later)
    assert due_dates(rule, date(2026, 7, 30)) == [date(2026, 8, 6), date(2026, 8, 29)]
    assert rules_for(DEFAULT_RULES, "song_wan_jia", "delivery") == []


def test_a_visit_is_on_time_up_to_the_grace_days() -> None:
    due = date(2026, 8, 6)
    assert visit_state(due, 3, date(2026, 8, 9), today=date(2026, 9, 1)) == "on_time"
    assert visit_state(due, 3, date(2026, 8, 10), today=date(2026, 9, 1)) == "late"
    assert visit_state(due, 3, None, today=date(2026, 8, 9)) == "due"
    assert visit_state(due, 3, None, today=date(2026, 8, 10)) == "overdue"


def test_visits_not_yet_owed_do_not_count_against_the_project() -> None:
    # two on time, one late, one overdue, one still due: 2 of the 4 owed
    assert on_time_share(["on_time", "late", "on_time", "overdue", "due"]) == (2, 4)
    assert on_time_share(["due"]) == (0, 0)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"first_after_days": -1}, "negative"),
        ({"visits": 0}, "at least one visit"),
        ({"visits": 2}, "every_days"),
    ],
)
def test_a_rule_that_makes_no_sense_is_refused(kwargs: dict[str, int], says: str) -> None:
    fields = {"first_after_days": 7} | kwargs
    with pytest.raises(ValueError, match=says):
        FollowUpRule("emergency", "delivery", **fields)


@given(
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=1, max_value=120),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
)
def test_due_dates_start_after_the_fact_and_keep_their_spacing(
    first: int, visits: int, every: int, happened: date
) -> None:
    rule = FollowUpRule("other", "disbursement", first, visits=visits, every_days=every)
    dates = due_dates(rule, happened)
    assert len(dates) == visits
    assert dates[0] == happened + timedelta(days=first)
    assert all(b - a == timedelta(days=every) for a, b in itertools.pairwise(dates))
