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
class OpenProject:
    code: str
    name: str
    category: str
    starts_on: date
    actor: str
    town: str | None = None
    description: str = ""
    ends_on: date | None = None
    budget_fen: int | None = None


@dataclass(frozen=True)
class UpdateProject:
    """Change the fields in ``changes``; ``expected_version`` is the version the caller read."""

    code: str
    actor: str
    expected_version: int | None
    changes: dict[str, object]


@dataclass(frozen=True)
class CloseProject:
    """Close a project on ``closed_on`` (default: its planned end, else today); the version is
    checked only when one is sent."""

    code: str
    actor: str
    closed_on: date | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class DecideRemainder:
    code: str
    actor: str
    decision: str
    note: str
    target_project_code: str | None = None


@dataclass(frozen=True)
class EnterDisbursement:
    project_code: str
    actor: str
    amount_fen: int
    purpose: str
    recipient_type: str
    recipient_name: str
    town: str | None
    voucher_no: str
    disbursed_on: date


@dataclass(frozen=True)
class UpdateDisbursement:
    """Correct a pending disbursement: the fields in ``changes``, at the version read."""

    disbursement_id: uuid.UUID
    actor: str
    expected_version: int | None
    changes: dict[str, object]


@dataclass(frozen=True)
class ApproveDisbursement:
    disbursement_id: uuid.UUID
    actor: str


@dataclass(frozen=True)
class RejectDisbursement:
    disbursement_id: uuid.UUID
    actor: str
    reason: str


@dataclass(frozen=True)
class RecordFollowUp:
    """A visit on exactly one of a disbursement or a gift."""

    actor: str
    visited_on: date
    summary: str
    visitor: str
    disbursement_id: uuid.UUID | None = None
    donation_id: uuid.UUID | None = None
    town: str | None = None


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
