"""The allocation engine: which gifts fund a disbursement, to the fen (no I/O).

Rules: a designated gift (定向捐赠) funds only its own project; an unrestricted gift funds any
project; the project's own designated gifts are used first, then unrestricted ones; within
each, oldest first (received_at, then id); no gift is ever used beyond what is left of it; a
disbursement beyond the funds available to its project is refused.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Fund:
    donation_id: uuid.UUID
    project_code: str | None  # None: unrestricted
    received_at: datetime
    available_fen: int


@dataclass(frozen=True)
class Share:
    donation_id: uuid.UUID
    amount_fen: int


class InsufficientFunds(Exception):
    def __init__(self, project_code: str, requested_fen: int, available_fen: int) -> None:
        self.project_code = project_code
        self.requested_fen = requested_fen
        self.available_fen = available_fen
        super().__init__(
            f"项目 {project_code} 可用资金不足：申请 {requested_fen} 分，可用 {available_fen} 分 "
            f"(disbursement of {requested_fen} fen exceeds the {available_fen} fen available "
            f"to project {project_code})"
        )


def eligible(funds: list[Fund], project_code: str) -> list[Fund]:
    """The funds a project may draw on, in the order they are used."""
    usable = [
        f
        for f in funds
        if f.available_fen > 0 and (f.project_code is None or f.project_code == project_code)
    ]
    return sorted(
        usable,
        key=lambda f: (f.project_code is None, f.received_at, f.donation_id.bytes),
    )


def available(funds: list[Fund], project_code: str) -> int:
    return sum(f.available_fen for f in eligible(funds, project_code))


def allocate(funds: list[Fund], project_code: str, amount_fen: int) -> list[Share]:
    if amount_fen <= 0:
        raise ValueError("amount_fen must be positive")
    ordered = eligible(funds, project_code)
    total = sum(f.available_fen for f in ordered)
    if amount_fen > total:
        raise InsufficientFunds(project_code, amount_fen, total)
    shares: list[Share] = []
    left = amount_fen
    for fund in ordered:
        if left == 0:
            break
        take = min(fund.available_fen, left)
        shares.append(Share(fund.donation_id, take))
        left -= take
    return shares


# --- a closed project's remainder ------------------------------------------------------------


@dataclass(frozen=True)
class Remnant:
    """What is left of one gift in a closed project, and whether its donor agreed it moves."""

    donation_id: uuid.UUID
    left_fen: int
    consented: bool


@dataclass(frozen=True)
class Move:
    donation_id: uuid.UUID
    outcome: str  # "transfer" | "wait" | "refund"
    amount_fen: int


def plan_remainder(remnants: list[Remnant], decision: str) -> list[Move]:
    """What a remainder decision does with each gift's remaining fen.

    ``transfer``: a gift moves with its donor's consent only (every gift left in a project is
    designated to it); without one it waits (it stays in the closed project until a consent is
    recorded, or the money is returned). ``return_to_donors``: every gift's remaining fen are
    refunded. Other decisions (carry forward, other) move nothing.
    """
    moves: list[Move] = []
    for r in remnants:
        if r.left_fen <= 0:
            continue
        if decision == "transfer":
            moves.append(Move(r.donation_id, "transfer" if r.consented else "wait", r.left_fen))
        elif decision == "return_to_donors":
            moves.append(Move(r.donation_id, "refund", r.left_fen))
    return moves


def needs_second_person(amount_fen: int, threshold_fen: int | None) -> bool:
    """Four eyes on a refund: above the threshold (None: no threshold) a second account
    approves it."""
    return threshold_fen is not None and amount_fen > threshold_fen
