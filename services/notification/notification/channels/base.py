"""The channel interface every way of reaching a person implements."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class OutgoingMessage:
    """One notice for one address on one channel."""

    delivery_id: uuid.UUID
    notice_id: uuid.UUID
    notice_key: str
    kind: str
    audience: str
    address: str
    subject: str
    body: str
    created_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


class DeliveryFailed(Exception):
    """The channel could not deliver. ``permanent`` failures are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(ABC):
    """A way to reach a person. ``send`` returns on success or raises :class:`DeliveryFailed`.

    ``contact`` names which contact detail of a donor the channel uses (``email`` or
    ``phone``); staff channels take their addresses from settings.
    """

    name: str = "channel"
    contact: str | None = None

    @abstractmethod
    async def send(self, message: OutgoingMessage) -> None: ...

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has none."""
