"""Donation service tables (SQLModel). Schema changes go through Alembic migrations."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ARRAY, BigInteger, Column, DateTime, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared.organisations import DISTRICT


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_users"

    username: str = Field(primary_key=True, max_length=64)
    display_name: str = Field(max_length=100)
    password_hash: str
    roles: list[str] = Field(sa_column=Column(ARRAY(String(32)), nullable=False))
    active: bool = True
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    org_code: str = Field(default=DISTRICT, foreign_key="organisations.code", max_length=16)
    must_change_password: bool = False
    password_changed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    disabled_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    tokens_not_before: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    version: int = 1
    created_by: str | None = Field(default=None, max_length=64)
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Organisation(SQLModel, table=True):
    __tablename__ = "organisations"

    code: str = Field(primary_key=True, max_length=16)
    name: str = Field(max_length=100, unique=True)
    kind: str = Field(max_length=10)  # district | town
    town: str | None = Field(default=None, max_length=20)
    active: bool = True
    version: int = 1
    announced_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_by: str = Field(default="migration", max_length=64)
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Donor(SQLModel, table=True):
    __tablename__ = "donors"

    id: uuid.UUID = Field(primary_key=True)
    donor_type: str = Field(max_length=20)
    name: str = Field(max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    display: str = Field(max_length=20)
    notify: str = Field(default="all", max_length=10)
    version: int = 1
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


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
    used_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    refunded_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    # a goods gift's units written off in the warehouse, at the donor's value per unit
    written_off_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    status_reason: str | None = Field(default=None, max_length=500)
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # where its unused fen belong once a closed project's remainder moved them (else project_code)
    moved_to_project_code: str | None = Field(default=None, max_length=32)
    incident_code: str | None = Field(default=None, max_length=32)  # the project's, or its own


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


class ReceiptCounter(SQLModel, table=True):
    __tablename__ = "receipt_counters"

    year: int = Field(primary_key=True)
    last_seq: int


class Receipt(SQLModel, table=True):
    __tablename__ = "receipts"

    id: uuid.UUID = Field(primary_key=True)
    donation_id: uuid.UUID = Field(foreign_key="donations.id")
    year: int
    seq: int
    receipt_no: str = Field(max_length=20)
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    payer_name: str | None = Field(default=None, max_length=200)
    anonymous: bool = False
    declined: bool = False
    issued_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    issued_by: str = Field(max_length=64)
    voided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    void_reason: str | None = Field(default=None, max_length=500)
    voided_by: str | None = Field(default=None, max_length=64)
    payer_credit_code: str | None = Field(default=None, max_length=18)


class Project(SQLModel, table=True):
    __tablename__ = "projects"

    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=100)
    category: str = Field(max_length=20)
    town: str | None = Field(default=None, max_length=20)
    description: str = Field(default="", max_length=2000)
    starts_on: date
    ends_on: date | None = None
    budget_fen: int | None = Field(default=None, sa_column=Column(BigInteger))
    status: str = Field(default="open", max_length=10)
    closed_on: date | None = None
    disclosure_due: date | None = None
    announced_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_by: str = Field(max_length=64)
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    version: int = 1
    org_code: str = Field(default="FH", max_length=16)
    incident_code: str | None = Field(default=None, max_length=32)  # the appeal's incident


class Incident(SQLModel, table=True):
    """A disaster incident (typhoon, flood, ...): appeals, gifts and disbursements point to it;
    declaring it major gives its facts the 24-hour disclosure deadline."""

    __tablename__ = "incidents"

    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=20)
    towns: list[str] = Field(sa_column=Column(ARRAY(String(20)), nullable=False))
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    major: bool = False
    declared_major_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    declared_major_by: str | None = Field(default=None, max_length=64)
    major_reason: str | None = Field(default=None, max_length=500)
    description: str = Field(default="", max_length=2000)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_by: str = Field(max_length=64)
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    version: int = 1


class Disbursement(SQLModel, table=True):
    __tablename__ = "disbursements"

    id: uuid.UUID = Field(primary_key=True)
    project_code: str = Field(foreign_key="projects.code", max_length=32)
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    purpose: str = Field(max_length=500)
    recipient_type: str = Field(max_length=20)
    recipient_name: str = Field(max_length=200)
    recipient_display: str = Field(max_length=200)
    town: str | None = Field(default=None, max_length=20)
    voucher_no: str = Field(max_length=64)
    disbursed_on: date
    status: str = Field(default="pending", max_length=10)
    entered_by: str = Field(max_length=64)
    approved_by: str | None = Field(default=None, max_length=64)
    approved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    reject_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    version: int = 1
    corrects_id: uuid.UUID | None = Field(default=None)  # the disbursement this one replaces
    incident_code: str | None = Field(default=None, max_length=32)  # the project's, or its own
    repeat_acknowledged: bool = False  # the approver saw its recipients' repeat receipts


class Allocation(SQLModel, table=True):
    __tablename__ = "allocations"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True)
    )
    disbursement_id: uuid.UUID = Field(foreign_key="disbursements.id")
    donation_id: uuid.UUID = Field(foreign_key="donations.id")
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class FollowUp(SQLModel, table=True):
    __tablename__ = "follow_ups"

    id: uuid.UUID = Field(primary_key=True)
    disbursement_id: uuid.UUID | None = Field(default=None, foreign_key="disbursements.id")
    donation_id: uuid.UUID | None = Field(default=None, foreign_key="donations.id")
    project_code: str | None = Field(default=None, max_length=32)
    visited_on: date
    summary: str = Field(max_length=2000)
    town: str | None = Field(default=None, max_length=20)
    visitor: str = Field(max_length=100)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_by: str = Field(max_length=64)
    dispatch_id: uuid.UUID | None = None  # a planned visit after a delivery (0014)


class RemainderDecision(SQLModel, table=True):
    __tablename__ = "remainder_decisions"

    project_code: str = Field(primary_key=True, foreign_key="projects.code", max_length=32)
    remainder_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    decision: str = Field(max_length=20)
    target_project_code: str | None = Field(default=None, max_length=32)
    note: str = Field(max_length=2000)
    disclosure_due: date
    decided_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    decided_by: str = Field(max_length=64)


class GoodsLineage(SQLModel, table=True):
    __tablename__ = "goods_lineage"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True)
    )
    # a goods gift's goods, or goods a disbursement's money bought (migration 0007)
    donation_id: uuid.UUID | None = Field(default=None, foreign_key="donations.id")
    disbursement_id: uuid.UUID | None = Field(default=None, foreign_key="disbursements.id")
    stage: str = Field(max_length=12)
    item_code: str = Field(max_length=64)
    item_name: str | None = Field(default=None, max_length=200)
    quantity: int
    unit: str | None = Field(default=None, max_length=20)
    lot_id: str | None = Field(default=None, max_length=64)
    dispatch_id: str | None = Field(default=None, max_length=64)
    destination: str | None = Field(default=None, max_length=200)
    signed_by: str | None = Field(default=None, max_length=100)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    source_event_id: str = Field(max_length=64)


class LookupCode(SQLModel, table=True):
    __tablename__ = "lookup_codes"

    id: uuid.UUID = Field(primary_key=True)
    contact_hash: str = Field(max_length=64)
    code_hash: str = Field(max_length=64)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    attempts: int = 0
    used_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class RemainderConsent(SQLModel, table=True):
    __tablename__ = "remainder_consents"

    id: uuid.UUID = Field(primary_key=True)
    project_code: str = Field(max_length=32)
    donation_id: uuid.UUID = Field(foreign_key="donations.id")
    method: str = Field(max_length=20)
    obtained_by: str = Field(max_length=100)
    obtained_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    note: str | None = Field(default=None, max_length=500)
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    recorded_by: str = Field(max_length=64)


class RemainderMove(SQLModel, table=True):
    __tablename__ = "remainder_moves"

    id: uuid.UUID = Field(primary_key=True)
    project_code: str = Field(max_length=32)
    donation_id: uuid.UUID = Field(foreign_key="donations.id")
    outcome: str = Field(max_length=16)
    to_project_code: str | None = Field(default=None, max_length=32)
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    consent_id: uuid.UUID | None = None
    refund_request_id: uuid.UUID | None = None
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_by: str = Field(max_length=64)
    moved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class DisbursementReversal(SQLModel, table=True):
    __tablename__ = "disbursement_reversals"

    id: uuid.UUID = Field(primary_key=True)
    disbursement_id: uuid.UUID = Field(foreign_key="disbursements.id")
    kind: str = Field(max_length=10)
    replacement_id: uuid.UUID | None = None
    reason: str = Field(max_length=500)
    status: str = Field(default="pending", max_length=10)
    entered_by: str = Field(max_length=64)
    approved_by: str | None = Field(default=None, max_length=64)
    approved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    reject_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    version: int = 1


class AllocationRelease(SQLModel, table=True):
    __tablename__ = "allocation_releases"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True)
    )
    reversal_id: uuid.UUID = Field(foreign_key="disbursement_reversals.id")
    disbursement_id: uuid.UUID = Field(foreign_key="disbursements.id")
    donation_id: uuid.UUID = Field(foreign_key="donations.id")
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class RefundRequest(SQLModel, table=True):
    __tablename__ = "refund_requests"

    id: uuid.UUID = Field(primary_key=True)
    donation_id: uuid.UUID = Field(foreign_key="donations.id")
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    reason: str = Field(max_length=500)
    source: str = Field(default="refund", max_length=12)
    status: str = Field(default="pending", max_length=10)
    requested_by: str = Field(max_length=64)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    reject_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    version: int = 1


class OnlineOrder(SQLModel, table=True):
    """A payment order a donor started on ``/give`` (migration 0008)."""

    __tablename__ = "online_orders"

    id: uuid.UUID = Field(primary_key=True)
    out_trade_no: str = Field(max_length=32, unique=True)
    channel: str = Field(max_length=20)
    scene: str = Field(max_length=10)
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    project_code: str | None = Field(default=None, max_length=32, foreign_key="projects.code")
    display: str = Field(max_length=20)
    donor_type: str = Field(max_length=20)
    donor_name: str = Field(max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    credit_code: str | None = Field(default=None, max_length=18)
    notify: str = Field(default="all", max_length=10)
    want_receipt: bool = True
    status: str = Field(max_length=10)
    pay_url: str | None = None
    show_as_qr: bool = False
    client_ip: str = Field(max_length=64)
    transaction_id: str | None = Field(default=None, max_length=64)
    paid_fen: int | None = Field(default=None, sa_column=Column(BigInteger))
    paid_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    donation_id: uuid.UUID | None = Field(default=None, foreign_key="donations.id")
    close_reason: str | None = Field(default=None, max_length=200)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    checked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    receipt_combined: bool = False  # receipted in the month's combined receipt (0011)


class PaymentEvent(SQLModel, table=True):
    """A verified statement of a gateway about an order, and what it did (migration 0008)."""

    __tablename__ = "payment_events"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True)
    )
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    channel: str = Field(max_length=20)
    source: str = Field(max_length=10)
    out_trade_no: str = Field(max_length=64)
    transaction_id: str | None = Field(default=None, max_length=64)
    outcome: str = Field(max_length=24)
    amount_fen: int | None = Field(default=None, sa_column=Column(BigInteger))
    detail: dict[str, object] | None = Field(default=None, sa_column=Column(JSONB))


class ReconciliationRun(SQLModel, table=True):
    """One channel's statement of one day held against our books (migration 0009)."""

    __tablename__ = "reconciliation_runs"

    id: uuid.UUID = Field(primary_key=True)
    channel: str = Field(max_length=20)
    day: date
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    lines: int = 0
    matched: int = 0
    findings: int = 0
    run_by: str = Field(max_length=64)


class ReconciliationFinding(SQLModel, table=True):
    """A difference between a gateway's statement and our books (migration 0009)."""

    __tablename__ = "reconciliation_findings"

    id: uuid.UUID = Field(primary_key=True)
    run_id: uuid.UUID = Field(foreign_key="reconciliation_runs.id")
    channel: str = Field(max_length=20)
    day: date
    kind: str = Field(max_length=20)
    out_trade_no: str = Field(max_length=64)
    transaction_id: str | None = Field(default=None, max_length=64)
    statement_fen: int | None = Field(default=None, sa_column=Column(BigInteger))
    our_fen: int | None = Field(default=None, sa_column=Column(BigInteger))
    donation_id: uuid.UUID | None = Field(default=None, foreign_key="donations.id")
    status: str = Field(default="open", max_length=10)
    resolution: str | None = None
    resolved_by: str | None = Field(default=None, max_length=64)
    resolved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class OnlineRefund(SQLModel, table=True):
    """A booked refund of an online gift, to be sent back through its gateway (0010)."""

    __tablename__ = "gateway_refunds"

    id: uuid.UUID = Field(primary_key=True)
    out_refund_no: str = Field(max_length=32, unique=True)
    donation_id: uuid.UUID = Field(foreign_key="donations.id")
    channel: str = Field(max_length=20)
    out_trade_no: str = Field(max_length=32)
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    total_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    reason: str = Field(max_length=80)
    status: str = Field(max_length=12)
    refund_id: str | None = Field(default=None, max_length=64)
    failure: str | None = Field(default=None, max_length=500)
    attempts: int = 0
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    succeeded_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class CombinedReceipt(SQLModel, table=True):
    """One month's combined receipt for small anonymous online gifts (0011)."""

    __tablename__ = "combined_receipts"

    id: uuid.UUID = Field(primary_key=True)
    month: str = Field(max_length=7, unique=True)
    year: int
    seq: int
    receipt_no: str = Field(max_length=20, unique=True)
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    gift_count: int
    issued_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    issued_by: str = Field(max_length=64)


class CombinedReceiptGift(SQLModel, table=True):
    __tablename__ = "combined_receipt_gifts"

    donation_id: uuid.UUID = Field(primary_key=True, foreign_key="donations.id")
    combined_receipt_id: uuid.UUID = Field(foreign_key="combined_receipts.id")
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))


class Recipient(SQLModel, table=True):
    """The recipients register (migration 0013): never an identity number, only its keyed
    fingerprint and last 4 characters; ``name_masked`` is what lists and events show."""

    __tablename__ = "recipients"

    id: uuid.UUID = Field(primary_key=True)
    kind: str = Field(max_length=12)  # person | household | organisation
    name: str = Field(max_length=200)
    name_masked: str = Field(max_length=200)
    id_fingerprint: str | None = Field(default=None, max_length=64)
    id_last4: str | None = Field(default=None, max_length=4)
    household_size: int | None = None  # person 1, household ≥ 1, organisation None
    town: str = Field(max_length=20)
    address: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    org_code: str = Field(foreign_key="organisations.code", max_length=16)
    org_kind: str | None = Field(default=None, max_length=20)
    credit_code: str | None = Field(default=None, max_length=18)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_by: str = Field(max_length=64)
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    updated_by: str | None = Field(default=None, max_length=64)
    version: int = 1


class DisbursementRecipient(SQLModel, table=True):
    """A recipient a disbursement names, its share (if given) and whom it reached then."""

    __tablename__ = "disbursement_recipients"

    disbursement_id: uuid.UUID = Field(primary_key=True, foreign_key="disbursements.id")
    recipient_id: uuid.UUID = Field(primary_key=True, foreign_key="recipients.id")
    amount_fen: int | None = Field(default=None, sa_column=Column(BigInteger))
    people: int
    households: int


class DeliveredDispatch(SQLModel, table=True):
    """A dispatch the warehouse reported delivered (not a transfer), with whom it reached."""

    __tablename__ = "delivered_dispatches"

    dispatch_id: uuid.UUID = Field(primary_key=True)
    dispatch_no: str = Field(max_length=32)
    project_code: str | None = Field(default=None, max_length=32)
    incident_code: str | None = Field(default=None, max_length=32)
    town: str | None = Field(default=None, max_length=20)
    people_reached: int
    households_reached: int
    delivered_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class DeliveredDispatchRecipient(SQLModel, table=True):
    __tablename__ = "delivered_dispatch_recipients"

    dispatch_id: uuid.UUID = Field(primary_key=True, foreign_key="delivered_dispatches.dispatch_id")
    recipient_id: uuid.UUID = Field(primary_key=True, foreign_key="recipients.id")


class FollowUpVisit(SQLModel, table=True):
    """A follow-up visit planned by rule after a disbursement or a delivery (migration 0014):
    due on ``due_on``, on time up to ``grace_days`` after; done with an outcome."""

    __tablename__ = "follow_up_visits"

    id: uuid.UUID = Field(primary_key=True)
    project_code: str = Field(foreign_key="projects.code", max_length=32)
    category: str = Field(max_length=20)
    trigger: str = Field(max_length=12)  # disbursement | delivery
    disbursement_id: uuid.UUID | None = Field(default=None, foreign_key="disbursements.id")
    dispatch_id: uuid.UUID | None = None
    dispatch_no: str | None = Field(default=None, max_length=32)
    recipient_id: uuid.UUID | None = Field(default=None, foreign_key="recipients.id")
    seq: int
    of_visits: int
    triggered_on: date
    due_on: date
    grace_days: int
    town: str | None = Field(default=None, max_length=20)
    done_on: date | None = None
    outcome: str | None = Field(default=None, max_length=12)  # reached | not_reached | problem
    satisfaction: int | None = None  # 1–5, only when reached
    notes: str | None = Field(default=None, max_length=2000)
    visitor: str | None = Field(default=None, max_length=100)
    follow_up_id: uuid.UUID | None = Field(default=None, foreign_key="follow_ups.id")
    recorded_by: str | None = Field(default=None, max_length=64)
    recorded_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    cancelled_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    cancel_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    version: int = 1


class VisitPhoto(SQLModel, table=True):
    """A photo of a visit: the file is ``DONATION_ATTACHMENTS_DIR``/<sha256[:2]>/<sha256>."""

    __tablename__ = "visit_photos"

    visit_id: uuid.UUID = Field(primary_key=True, foreign_key="follow_up_visits.id")
    sha256: str = Field(primary_key=True, max_length=64)
    content_type: str = Field(max_length=20)
    size_bytes: int
    uploaded_by: str = Field(max_length=64)
    uploaded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
