"""The recipients register's rules (issue 17): who the help reached, without exposing them.

- A recipient is a person, a household (named by its head) or an organisation (a 博爱家园 site,
  a school, a village committee, another body).
- What a recipient counts as reached: a person 1 person in 1 household, a household its size
  in 1 household, an organisation neither (the people behind a site are not counted twice).
- A person's or household head's name is shown masked (王*明) everywhere but the single read
  of staff who handle relief; an organisation's name is public.
- A repeat receipt: an approved disbursement of the same project category to the same
  recipient dated less than the window (days) before or after this one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from donation.domain.model import display_name

RecipientKind = Literal["person", "household", "organisation"]
OrganisationKind = Literal["boai_jiayuan", "school", "village_committee", "other"]
RECIPIENT_KINDS: tuple[RecipientKind, ...] = ("person", "household", "organisation")


@dataclass(frozen=True)
class Reach:
    """The people and households a recipient (or a list of them) stands for."""

    people: int
    households: int

    def __add__(self, other: Reach) -> Reach:
        return Reach(self.people + other.people, self.households + other.households)


NOBODY = Reach(0, 0)


@dataclass(frozen=True)
class RecipientShare:
    """A recipient a disbursement names, and what it receives if stated (fen)."""

    recipient_id: uuid.UUID
    amount_fen: int | None = None


def reach_of(kind: str, household_size: int | None) -> Reach:
    """Person → 1 person, 1 household; household → its size, 1 household; organisation → 0."""
    if kind == "person":
        return Reach(1, 1)
    if kind == "household":
        if household_size is None or household_size < 1:
            raise ValueError("a household has at least one person")
        return Reach(household_size, 1)
    if kind == "organisation":
        return NOBODY
    raise ValueError(f"unknown recipient kind {kind!r}")


def total_reach(reaches: Iterable[Reach]) -> Reach:
    total = NOBODY
    for reach in reaches:
        total += reach
    return total


def masked_name(kind: str, name: str) -> str:
    """What lists, events and every other reader see of a recipient's name: a person or a
    household head masked (王小明 → 王*明, 王明 → 王*), an organisation by its name."""
    if kind == "organisation":
        return " ".join(name.split())
    return display_name(name, display="named", donor_type="individual")


def is_repeat(this_on: date, other_on: date, window_days: int) -> bool:
    """Whether a receipt dated ``other_on`` falls within ``window_days`` of ``this_on`` (either
    side, less than ``window_days`` apart: with 365, a year to the day is no longer a repeat)."""
    if window_days < 1:
        raise ValueError("the window has at least one day")
    return abs((this_on - other_on).days) < window_days
