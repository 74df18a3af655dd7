"""What the warehouse's rules refuse, as plain exceptions: no HTTP here.

The service layer translates each into the answer the API gives (``shared.errors``), with the
same message and details; see ``warehouse.service_layer.errors``.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the warehouse refused: ``message`` is for people, ``details`` for programs."""

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class TransitionNotAllowed(DomainError):
    """The dispatch is not in a status that allows the action."""


class SelfApproval(DomainError):
    """The approver (or rejecter) of a dispatch is the person who requested it."""


class InsufficientStock(DomainError):
    """Not enough pickable stock (FEFO, shelf life left) for a line: nothing was picked."""
