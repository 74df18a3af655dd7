"""Base model for event payloads, and the string bounds the contracts share.

A string field of an event is bounded where the producing API (or, for a value the producer
generates or derives, the column it is stored in before it is published) bounds it, with the
same limit: every event a valid request produces validates, and an oversize one fails its
contract at the consumer, which dead-letters it (``ValidationError``) instead of storing it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

TRACKING_CODE_MAX = 32  # generated codes are 26 characters; the columns hold 32
PROJECT_CODE_MAX = 32  # the donation API's project code pattern: 2 to 32 characters
TOWN_MAX = 20  # one of Fenghua's 12 towns/subdistricts (the APIs take only those)

TrackingCode = Annotated[str, Field(max_length=TRACKING_CODE_MAX)]
ProjectCode = Annotated[str, Field(max_length=PROJECT_CODE_MAX)]
Town = Annotated[str, Field(max_length=TOWN_MAX)]


class EventPayload(BaseModel):
    """Frozen; unknown fields ignored so producers may add optional fields within a version."""

    model_config = ConfigDict(frozen=True, extra="ignore")
