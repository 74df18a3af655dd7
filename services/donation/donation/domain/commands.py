"""Commands: what staff ask the donation service to do (imperative names), one per write.

A route builds one from the HTTP body, headers and principal; a service-layer function takes
it with the unit of work. ``actor`` is the staff member asking; the donor lookup's commands
come from the public (no actor), and a refused login is recorded as ``anonymous``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from donation.domain.recipients import RecipientShare


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
    incident_code: str | None = None  # else the project's


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
    org_code: str = "FH"  # the organisation the project belongs to
    incident_code: str | None = None  # the disaster incident the appeal is for


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
    # refunds ("return_to_donors") above this need a second person; None: no threshold
    refund_four_eyes_fen: int | None = None


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
    incident_code: str | None = None  # else the project's
    recipients: tuple[RecipientShare, ...] = ()  # the register's recipients it names


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
    repeat_acknowledged: bool = False  # the approver saw the recipients' repeat receipts


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


@dataclass(frozen=True)
class ReceivePledge:
    """A pledged gift arrived, at ``received_at`` (default: now)."""

    donation_id: uuid.UUID
    actor: str
    received_at: datetime | None = None


@dataclass(frozen=True)
class IssueReceipt:
    """Issue a gift's receipt; ``declined``: the donor wants none sent, the number is still
    used. ``payer_name`` replaces the donor's name on it (not on an anonymous gift's)."""

    donation_id: uuid.UUID
    actor: str
    declined: bool = False
    payer_name: str | None = None
    payer_credit_code: str | None = None


@dataclass(frozen=True)
class VoidReceipt:
    donation_id: uuid.UUID
    actor: str
    reason: str


@dataclass(frozen=True)
class CancelDonation:
    donation_id: uuid.UUID
    actor: str
    reason: str


@dataclass(frozen=True)
class RefundDonation:
    """Refund a gift's unused money; above ``four_eyes_fen`` (None: no threshold) it is only
    requested, and another account approves it (:class:`ApproveRefund`)."""

    donation_id: uuid.UUID
    actor: str
    reason: str
    four_eyes_fen: int | None = None


@dataclass(frozen=True)
class CompleteDonation:
    donation_id: uuid.UUID
    actor: str


@dataclass(frozen=True)
class UpdateDonation:
    """Change the fields in ``changes`` (a ``reason`` among them explains a new designation);
    ``expected_version`` is the version the caller read."""

    donation_id: uuid.UUID
    actor: str
    expected_version: int | None
    changes: dict[str, object]


@dataclass(frozen=True)
class RequestLookupCode:
    """Someone of the public asks for a one-time code sent to this phone or e-mail."""

    contact: str


@dataclass(frozen=True)
class VerifyLookupCode:
    """Someone of the public sends the code they received, to see the contact's gifts."""

    contact: str
    code: str


@dataclass(frozen=True)
class RecordFailedLogin:
    """A refused password login: ``username`` is the account's (none when the name typed is
    no account), ``reason`` why (``wrong_password``, ``unknown_user``, ``inactive``),
    ``client`` the caller's address, ``service`` the service that refused it."""

    reason: str
    username: str | None
    client: str
    service: str


# --- organisations and staff accounts (admins; the actor's organisation bounds their reach) ---


@dataclass(frozen=True)
class RegisterOrganisation:
    """A district admin registers a town branch (or another organisation)."""

    code: str
    name: str
    kind: str  # district | town
    town: str | None
    actor: str
    actor_org: str


@dataclass(frozen=True)
class UpdateOrganisation:
    """Rename an organisation or (de)activate it (``changes``: ``name``, ``active``)."""

    code: str
    actor: str
    actor_org: str
    expected_version: int | None
    changes: dict[str, object]


@dataclass(frozen=True)
class CreateStaffAccount:
    """An admin creates an account; ``password`` None: one is generated and answered once.
    Either way it must be changed at the first login."""

    username: str
    display_name: str
    org_code: str
    roles: tuple[str, ...]
    actor: str
    actor_org: str
    password: str | None = field(default=None, repr=False)
    # False only for the first admin of an install, whose operator typed the password
    must_change_password: bool = True


@dataclass(frozen=True)
class UpdateStaffAccount:
    """Change an account's ``display_name``, ``roles`` or ``org_code`` (``changes``)."""

    username: str
    actor: str
    actor_org: str
    expected_version: int | None
    changes: dict[str, object]


@dataclass(frozen=True)
class ResetStaffPassword:
    """A new initial password (``None``: generated), to be changed at the next login."""

    username: str
    actor: str
    actor_org: str
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DisableStaffAccount:
    username: str
    actor: str
    actor_org: str
    reason: str | None = None


@dataclass(frozen=True)
class EnableStaffAccount:
    username: str
    actor: str
    actor_org: str


@dataclass(frozen=True)
class LiftLoginLockout:
    """Forget an account's failed logins, so it may log in again at once."""

    username: str
    actor: str
    actor_org: str


@dataclass(frozen=True)
class ChangeOwnPassword:
    """The account's holder changes its password (the old one proves who they are); the way
    out of ``must_change_password``."""

    username: str
    old_password: str = field(repr=False)
    new_password: str = field(repr=False)


# --- money that never gets stuck (remainders, reversals, refunds above the threshold) -------


@dataclass(frozen=True)
class RecordRemainderConsent:
    """A donor agreed that their gift designated to the closed project ``code`` moves with its
    remainder: ``method`` (phone, written, email, in_person, online), obtained by whom, when."""

    code: str
    donation_id: uuid.UUID
    actor: str
    method: str
    obtained_by: str
    obtained_at: datetime
    note: str | None = None


@dataclass(frozen=True)
class ReverseDisbursement:
    """Reverse an approved disbursement (a new entry, approved by another account); with a
    ``replacement`` it is a correction: the reversal plus a new disbursement."""

    disbursement_id: uuid.UUID
    actor: str
    reason: str
    replacement: EnterDisbursement | None = None


@dataclass(frozen=True)
class ApproveReversal:
    reversal_id: uuid.UUID
    actor: str


@dataclass(frozen=True)
class RejectReversal:
    reversal_id: uuid.UUID
    actor: str
    reason: str


@dataclass(frozen=True)
class ApproveRefund:
    request_id: uuid.UUID
    actor: str


@dataclass(frozen=True)
class RejectRefund:
    request_id: uuid.UUID
    actor: str
    reason: str


@dataclass(frozen=True)
class StartOnlineGift:
    """A donor starts paying a gift on ``/give`` (no login: ``client_ip`` is who asked)."""

    channel: str
    scene: str
    amount_fen: int
    display: str
    donor_type: str
    donor_name: str
    client_ip: str
    notify_url: str
    return_url: str
    project_code: str | None = None
    phone: str | None = None
    email: str | None = None
    credit_code: str | None = None
    notify: str = "all"
    want_receipt: bool = True
