"""Notification service tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class FeedEntry(SQLModel, table=True):
    """One public fact. Append-only: corrections are new entries pointing at the old one."""

    __tablename__ = "feed_entries"

    seq: int | None = Field(
        default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True)
    )
    id: uuid.UUID = Field(unique=True)
    source_event_id: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=64)
    subject_id: str = Field(max_length=64, index=True)
    tracking_code_hash: str | None = Field(default=None, max_length=64)
    title: str = Field(max_length=300)
    data: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    published_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    corrects_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    # 0002: filters, the log order (event time, event id) and the disclosure deadline
    project_code: str | None = Field(default=None, max_length=64)
    town: str | None = Field(default=None, max_length=64)
    incident_ref: str | None = Field(default=None, max_length=64)
    event_type: str | None = Field(default=None, max_length=200)
    event_time: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
