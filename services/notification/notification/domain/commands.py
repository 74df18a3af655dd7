"""Commands: what staff ask the notification service to do (imperative names)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class AcknowledgeAlert:
    """A warehouse handler takes an open alert on, saying what is being done."""

    alert_id: uuid.UUID
    actor: str
    note: str


@dataclass(frozen=True)
class RetryDelivery:
    """An admin queues a dead-lettered delivery again (its notice is pending again)."""

    delivery_id: uuid.UUID
