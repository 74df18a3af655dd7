"""Warehouse service tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class ExpectedInbound(SQLModel, table=True):
    """Goods announced by a gift, waiting for staff to confirm what actually arrived."""

    __tablename__ = "expected_inbounds"

    id: uuid.UUID = Field(primary_key=True)
    donation_id: uuid.UUID = Field(unique=True)
    tracking_code: str = Field(max_length=32)
    donor_display_name: str = Field(max_length=200)
    lines: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    status: str = Field(max_length=20, default="expected")
    announced_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
