"""Commands: what staff ask the donation service to do (imperative names)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class DonorDetails:
    donor_type: str
    name: str
    phone: str | None
    email: str | None
    notify: str = "all"


@dataclass(frozen=True)
class GoodsLine:
    item_code: str
    name: str
    quantity: int
    unit: str
    lot_no: str | None
    expiry_date: date | None
    value_fen: int


@dataclass(frozen=True)
class RecordDonation:
    kind: str
    amount_fen: int
    channel: str
    display: str
    donor: DonorDetails
    received_at: datetime
    actor: str
    external_ref: str | None = None
    project_code: str | None = None
    note: str | None = None
    items: tuple[GoodsLine, ...] = field(default_factory=tuple)
    pledged: bool = False
    donor_id: uuid.UUID | None = None


@dataclass(frozen=True)
class RegisterDonor:
    donor_type: str
    name: str
    phone: str | None
    email: str | None
    display: str
    notify: str
    actor: str


@dataclass(frozen=True)
class UpdateDonor:
    """Change the fields in ``changes``; ``expected_version`` is the version the caller read."""

    donor_id: uuid.UUID
    actor: str
    expected_version: int | None
    changes: dict[str, object]
