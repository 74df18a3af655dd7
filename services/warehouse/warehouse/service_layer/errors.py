"""The API's answer to each refusal of the warehouse's rules (``warehouse.domain.errors``).

The domain raises plain exceptions; these functions call its rules and answer a refusal with
the ``shared.errors`` error the API has always given: the same status, ``code``, message and
details.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from shared.errors import Conflict, Forbidden
from warehouse.domain import errors as domain
from warehouse.domain.model import (
    LotStock,
    check_approver,
    check_write_off_approver,
    next_status,
    pick_fefo,
)


class InsufficientStock(Conflict):
    """409 ``insufficient_stock``: not enough pickable stock for a line; nothing was picked."""

    code = "insufficient_stock"


def transition(current: str, action: str) -> str:
    """:func:`next_status`; a 409 Conflict (with the status and action) where it is refused."""
    try:
        return next_status(current, action)
    except domain.TransitionNotAllowed as exc:
        raise Conflict(exc.message, details=exc.details) from exc


def approver_allowed(requested_by: str, approver: str) -> None:
    """:func:`check_approver`; a 403 Forbidden if the approver is the requester."""
    try:
        check_approver(requested_by, approver)
    except domain.SelfApproval as exc:
        raise Forbidden(exc.message, details=exc.details) from exc


def pick_lots(
    lots: Sequence[LotStock], quantity: int, *, today: date, min_days: int, item: str
) -> list[tuple[LotStock, int]]:
    """:func:`pick_fefo`; a 409 :class:`InsufficientStock` if the line cannot be picked."""
    try:
        return pick_fefo(lots, quantity, today=today, min_days=min_days, item=item)
    except domain.InsufficientStock as exc:
        raise InsufficientStock(exc.message, details=exc.details) from exc


def write_off_approver_allowed(counted_by: str, approver: str) -> None:
    """:func:`check_write_off_approver`; a 403 Forbidden if the approver counted it."""
    try:
        check_write_off_approver(counted_by, approver)
    except domain.SelfApproval as exc:
        raise Forbidden(exc.message, details=exc.details) from exc
