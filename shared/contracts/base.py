"""Base model for event payloads."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class EventPayload(BaseModel):
    """Frozen; unknown fields ignored so producers may add optional fields within a version."""

    model_config = ConfigDict(frozen=True, extra="ignore")
