"""Donation service tables (SQLModel). Schema changes go through Alembic migrations."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ARRAY, BigInteger, Column, DateTime, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_users"

    username: str = Field(primary_key=True, max_length=64)
    display_name: str = Field(max_length=100)
    password_hash: str
    roles: list[str] = Field(sa_column=Column(ARRAY(String(32)), nullable=False))
    active: bool = True
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Donor(SQLModel, table=True):
    __tablename__ = "donors"

    id: uuid.UUID = Field(primary_key=True)
    donor_type: str = Field(max_length=20)
    name: str = Field(max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    display: str = Field(max_length=20)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Donation(SQLModel, table=True):
    __tablename__ = "donations"

    id: uuid.UUID = Field(primary_key=True)
    tracking_code: str = Field(max_length=32, unique=True)
    kind: str = Field(max_length=10)
    status: str = Field(max_length=20)
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    channel: str = Field(max_length=20)
    external_ref: str | None = Field(default=None, max_length=100)
    project_code: str | None = Field(default=None, max_length=32)
    display: str = Field(max_length=20)
    display_name: str = Field(max_length=200)
    donor_id: uuid.UUID = Field(foreign_key="donors.id")
    note: str | None = Field(default=None, max_length=1000)
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_by: str = Field(max_length=64)
    version: int = 1


class DonationItem(SQLModel, table=True):
    __tablename__ = "donation_items"

    id: uuid.UUID = Field(primary_key=True)
    donation_id: uuid.UUID = Field(foreign_key="donations.id", index=True)
    line_no: int
    item_code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    quantity: int
    unit: str = Field(max_length=20)
    lot_no: str | None = Field(default=None, max_length=64)
    expiry_date: date | None = None
    value_fen: int = Field(sa_column=Column(BigInteger, nullable=False))


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True)
    )
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=64)
    entity_id: str = Field(max_length=64)
    before: dict[str, object] | None = Field(default=None, sa_column=Column(JSONB))
    after: dict[str, object] | None = Field(default=None, sa_column=Column(JSONB))
