"""The wire shapes of the notification API: what its routes accept and answer.

The read side (``notification.service_layer.queries``) builds the answers in these shapes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# --- alerts ----------------------------------------------------------------------------------

AlertStatusFilter = Literal["open", "acknowledged", "resolved", "unresolved"]


class AlertOut(BaseModel):
    id: uuid.UUID
    kind: str
    label: str = Field(description="预警类型中文名 (the kind, in Chinese)")
    status: str
    warehouse_code: str
    warehouse_name: str
    item_code: str
    item_name: str
    details: dict[str, Any]
    occurrence: int
    previous_alert_id: uuid.UUID | None
    raised_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledge_note: str | None
    escalated_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=1000, description="处理说明 What is being done")

    @field_validator("note")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("note must not be blank")
        return value.strip()


# --- notices ---------------------------------------------------------------------------------

NoticeStatusFilter = Literal["pending", "delivered", "failed", "undeliverable"]
AudienceFilter = Literal["donor", "staff"]
DeliveryStatusFilter = Literal["pending", "sent", "dead"]


class DeliveryOut(BaseModel):
    id: uuid.UUID
    channel: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    sent_at: datetime | None
    dead_at: datetime | None
    webhook_url: str | None = None


class NoticeOut(BaseModel):
    id: uuid.UUID
    notice_key: str
    audience: str
    kind: str
    status: str
    subject: str | None
    alert_id: uuid.UUID | None
    donation_id: uuid.UUID | None
    created_at: datetime
    completed_at: datetime | None
    scrubbed_at: datetime | None
    deliveries: list[DeliveryOut]


class NoticePage(BaseModel):
    items: list[NoticeOut]
    next_cursor: str | None


# --- public feed -----------------------------------------------------------------------------


class FeedEntryOut(BaseModel):
    id: uuid.UUID
    seq: int
    leaf_index: int | None
    kind: str
    title: str
    data: dict[str, Any]
    project_code: str | None
    town: str | None
    incident_ref: str | None
    occurred_at: datetime
    published_at: datetime
    corrects_seq: int | None
    corrects: uuid.UUID | None
    tracking_code_hash: str | None
    entry: dict[str, Any]


class FeedPage(BaseModel):
    items: list[FeedEntryOut]
    next_cursor: str | None
