"""Events produced by the donation service.

Topic ``donation.events`` (key = donation id, project code or disbursement id as stated)
carries public facts: the masked display name only; no phone, e-mail, ID number or a private
person's full name ever appears there. Topic ``donation.private`` carries one event,
``notice_requested.v1``, with the contact details the notification service needs to send one
notice to one donor; nothing else may read it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload, ProjectCode, Town, TrackingCode
from shared.contracts.registry import EventContract

PREFIX = "org.redcross.fenghua.donation"
DONATION_RECEIVED = f"{PREFIX}.received.v1"
DONATION_PLEDGED = f"{PREFIX}.pledged.v1"
DONATION_RECEIPTED = f"{PREFIX}.receipted.v1"
DONATION_RECEIPT_VOIDED = f"{PREFIX}.receipt_voided.v1"
DONATION_CANCELLED = f"{PREFIX}.cancelled.v1"
DONATION_REFUNDED = f"{PREFIX}.refunded.v1"
DONATION_STATUS_CHANGED = f"{PREFIX}.status_changed.v1"
DONATION_GOODS_TRACKED = f"{PREFIX}.goods_tracked.v1"
FUNDS_DISBURSED = f"{PREFIX}.funds_disbursed.v1"
PROJECT_OPENED = f"{PREFIX}.project_opened.v1"
PROJECT_CLOSED = f"{PREFIX}.project_closed.v1"
REMAINDER_DECIDED = f"{PREFIX}.remainder_decided.v1"
FOLLOW_UP_RECORDED = f"{PREFIX}.follow_up_recorded.v1"
NOTICE_REQUESTED = f"{PREFIX}.notice_requested.v1"
DESIGNATION_CHANGED = f"{PREFIX}.designation_changed.v1"
REMAINDER_TRANSFERRED = f"{PREFIX}.remainder_transferred.v1"
DISBURSEMENT_REVERSED = f"{PREFIX}.disbursement_reversed.v1"
INCIDENT_RECORDED = f"{PREFIX}.incident_recorded.v1"
RECIPIENT_REGISTERED = f"{PREFIX}.recipient_registered.v1"

DonationKind = Literal["money", "goods"]
DisplayChoice = Literal["named", "surname", "anonymous"]
Channel = Literal["bank_transfer", "wechat_pay", "alipay", "cash", "cheque", "on_site"]

# String bounds: the donation API's request limits (services/donation/.../api/schemas.py), or
# for what the service generates or derives, the column it stores the value in first.
NAME_MAX = 100  # a donor's name (DonorIn.name); the public display name derives from it
REASON_MAX = 500  # void / cancel / refund / designation reason
RECEIPT_NO_MAX = 20  # generated YYYY-NNNNNN; the receipts column
PROJECT_NAME_MAX = 100
LONG_TEXT_MAX = 2000  # project description, remainder note, follow-up summary
PURPOSE_MAX = 500
RECIPIENT_MAX = 200  # a disbursement's recipient (an organisation, or a masked person)
VOUCHER_NO_MAX = 64
ITEMS_MAX = 200  # goods lines of one gift
EMAIL_MAX = 254
PHONE_MAX = 32
INCIDENT_NAME_MAX = 100

INCIDENT_CODE_MAX = 32  # the donation API's incident code pattern: 2 to 32 characters
IncidentCode = Annotated[str, Field(max_length=INCIDENT_CODE_MAX)]
IncidentKind = Literal[
    "typhoon",
    "flood",
    "rainstorm",
    "landslide",
    "fire",
    "earthquake",
    "epidemic",
    "drought",
    "cold_wave",
    "accident",
    "other",
]


class DonatedItemV1(EventPayload):
    item_code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    quantity: int = Field(gt=0)
    unit: str = Field(max_length=20)
    lot_no: str | None = Field(default=None, max_length=64)
    expiry_date: date | None = None
    value_fen: int = Field(ge=0)


class DonationReceivedV1(EventPayload):
    donation_id: uuid.UUID
    tracking_code: TrackingCode
    kind: DonationKind
    amount_fen: int = Field(ge=0, description="Money in fen; for goods, the estimated value")
    channel: Channel
    project_code: ProjectCode | None = None
    display: DisplayChoice
    display_name: str = Field(
        max_length=NAME_MAX, description="Donor name as the donor chose to be shown, masked"
    )
    donor_type: Literal["individual", "organization"]
    received_at: AwareDatetime
    items: list[DonatedItemV1] = Field(default_factory=list, max_length=ITEMS_MAX)
    incident_code: IncidentCode | None = Field(
        default=None, description="The disaster incident it belongs to (incident_recorded.v1)"
    )


GiftStatus = Literal[
    "pledged",
    "received",
    "receipted",
    "allocated",
    "in_stock",
    "used",
    "completed",
    "cancelled",
    "refunded",
]
ProjectCategory = Literal["song_wan_jia", "wan_ren_xing", "boai_jiayuan", "emergency", "other"]
RemainderDecision = Literal["carry_forward", "transfer", "return_to_donors", "other"]
NoticeMilestone = Literal[
    "received", "first_use", "goods_distributed", "project_completed", "lookup_code"
]


class DonationPledgedV1(EventPayload):
    """A gift was promised but has not arrived yet (key = donation id)."""

    donation_id: uuid.UUID
    tracking_code: TrackingCode
    kind: DonationKind
    amount_fen: int = Field(ge=0)
    channel: Channel
    project_code: ProjectCode | None = None
    display: DisplayChoice
    display_name: str = Field(max_length=NAME_MAX)
    donor_type: Literal["individual", "organization"]
    pledged_at: AwareDatetime


class DonationReceiptedV1(EventPayload):
    """A 公益事业捐赠票据 was issued (key = donation id)."""

    donation_id: uuid.UUID
    tracking_code: TrackingCode
    receipt_no: str = Field(
        max_length=RECEIPT_NO_MAX, description="Gapless per year, e.g. 2026-000123"
    )
    receipt_year: int
    sequence: int = Field(ge=1)
    amount_fen: int = Field(ge=0)
    anonymous: bool = Field(description="Issued to an anonymous donor (recorded internally)")
    declined: bool = Field(description="The donor declined the receipt; the number is recorded")
    display_name: str = Field(max_length=NAME_MAX)
    issued_at: AwareDatetime


class DonationReceiptVoidedV1(EventPayload):
    """A receipt was voided; its number stays used (key = donation id)."""

    donation_id: uuid.UUID
    tracking_code: TrackingCode
    receipt_no: str = Field(max_length=RECEIPT_NO_MAX)
    receipt_year: int
    reason: str = Field(max_length=REASON_MAX)
    voided_at: AwareDatetime


class DonationCancelledV1(EventPayload):
    """A pledged or received gift was cancelled (key = donation id)."""

    donation_id: uuid.UUID
    tracking_code: TrackingCode
    previous_status: GiftStatus
    amount_fen: int = Field(ge=0)
    reason: str = Field(max_length=REASON_MAX)
    cancelled_at: AwareDatetime


class DonationRefundedV1(EventPayload):
    """A gift's unused money was returned to the donor (key = donation id)."""

    donation_id: uuid.UUID
    tracking_code: TrackingCode
    previous_status: GiftStatus
    amount_fen: int = Field(ge=0, description="The amount refunded (the unused remainder)")
    reason: str = Field(max_length=REASON_MAX)
    refunded_at: AwareDatetime


class DonationStatusChangedV1(EventPayload):
    """A gift moved along its life cycle (key = donation id); the specific events above carry
    the details, this one the plain transition (allocated, in_stock, used, completed)."""

    donation_id: uuid.UUID
    tracking_code: TrackingCode
    kind: DonationKind
    from_status: GiftStatus
    to_status: GiftStatus
    changed_at: AwareDatetime


class DesignationChangedV1(EventPayload):
    """A correction: the project a gift is designated to changed before any of it was used
    (key = donation id). The earlier ``received`` stays as published; this note corrects it."""

    donation_id: uuid.UUID
    tracking_code: TrackingCode
    from_project_code: ProjectCode | None
    to_project_code: ProjectCode | None
    reason: str | None = Field(default=None, max_length=REASON_MAX)
    changed_at: AwareDatetime


class DonationGoodsTrackedV1(EventPayload):
    """The goods of a gift moved: into stock, onto a dispatch, signed for, or were written off
    in the warehouse (lost, damaged, expired) (key = donation id).

    Derived from the warehouse's events, so the gift's public timeline can be rebuilt."""

    donation_id: uuid.UUID
    tracking_code: TrackingCode
    stage: Literal["in_stock", "dispatched", "signed", "written_off"]
    # copied from the warehouse's events into the goods_lineage columns, then published
    item_code: str = Field(max_length=64)
    item_name: str | None = Field(default=None, max_length=200)
    quantity: int = Field(ge=0)
    unit: str | None = Field(default=None, max_length=20)
    lot_id: str | None = Field(default=None, max_length=64)
    dispatch_id: str | None = Field(default=None, max_length=64)
    destination: str | None = Field(
        default=None, max_length=200, description="Town or station, public"
    )
    signed_by: str | None = Field(default=None, max_length=100, description="Masked signer (王*)")
    at: AwareDatetime


class AllocationShareV1(EventPayload):
    donation_id: uuid.UUID
    tracking_code: TrackingCode
    amount_fen: int = Field(gt=0)


class FundsDisbursedV1(EventPayload):
    """An approved disbursement (拨付) and the exact share of every gift that funds it
    (key = disbursement id)."""

    disbursement_id: uuid.UUID
    project_code: ProjectCode
    project_name: str = Field(max_length=PROJECT_NAME_MAX)
    amount_fen: int = Field(gt=0)
    purpose: str = Field(max_length=PURPOSE_MAX)
    recipient_type: Literal["organization", "person"]
    recipient: str = Field(
        max_length=RECIPIENT_MAX, description="An organisation's name or a masked person (王*)"
    )
    town: Town | None = None
    voucher_no: str = Field(max_length=VOUCHER_NO_MAX)
    disbursed_on: date
    approved_at: AwareDatetime
    allocations: list[AllocationShareV1] = Field(
        description="Per-gift shares; their amount_fen sum to the disbursement's amount_fen"
    )
    incident_code: IncidentCode | None = Field(
        default=None, description="The disaster incident it belongs to (incident_recorded.v1)"
    )


class IncidentRecordedV1(EventPayload):
    """A disaster incident as it now stands (key = incident code; the latest version wins):
    registered, changed, or declared major. From its declaration a major incident's gifts and
    uses are due for disclosure within 24 hours."""

    incident_code: IncidentCode
    name: str = Field(max_length=INCIDENT_NAME_MAX)
    kind: IncidentKind
    towns: list[Town] = Field(default_factory=list, max_length=12)
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    major: bool
    declared_major_at: AwareDatetime | None = Field(
        default=None, description="When it was declared a major disaster (set iff major)"
    )
    version: int = Field(ge=1, description="Grows with every change; apply only a newer one")
    recorded_at: AwareDatetime


RECIPIENT_NAME_MAX = 200  # the register's name column (a person masked, an organisation)
ORG_CODE_MAX = 16


class RecipientRegisteredV1(EventPayload):
    """A recipient of the register as it now stands (key = recipient id; the latest version
    wins): registered or changed. Never the name of a person in clear, a phone, an address or
    any part of an identity number: a person or household only masked (王*明)."""

    recipient_id: uuid.UUID
    kind: Literal["person", "household", "organisation"]
    name_masked: str = Field(
        max_length=RECIPIENT_NAME_MAX,
        description="A person or household head masked (王*明); an organisation by name",
    )
    org_kind: Literal["boai_jiayuan", "school", "village_committee", "other"] | None = Field(
        default=None, description="An organisation's kind; null for a person or household"
    )
    town: Town
    household_size: int | None = Field(
        default=None, ge=1, description="People in the household (a person 1, organisation null)"
    )
    org_code: str = Field(max_length=ORG_CODE_MAX, description="The organisation that keeps it")
    version: int = Field(ge=1, description="Grows with every change; apply only a newer one")
    recorded_at: AwareDatetime


class ProjectOpenedV1(EventPayload):
    """A relief project was opened (key = project code)."""

    project_code: ProjectCode
    name: str = Field(max_length=PROJECT_NAME_MAX)
    category: ProjectCategory
    town: Town | None = None
    description: str = Field(max_length=LONG_TEXT_MAX)
    starts_on: date
    ends_on: date | None = None
    budget_fen: int | None = Field(default=None, ge=0)
    opened_at: AwareDatetime
    incident_code: IncidentCode | None = Field(
        default=None, description="The disaster incident it belongs to (incident_recorded.v1)"
    )


class ProjectClosedV1(EventPayload):
    """A relief project ended (key = project code); what it raised, used and has left."""

    project_code: ProjectCode
    name: str = Field(max_length=PROJECT_NAME_MAX)
    closed_on: date
    received_fen: int = Field(ge=0, description="Designated gifts plus unrestricted funds used")
    used_fen: int = Field(ge=0)
    remainder_fen: int = Field(ge=0, description="Designated funds left unspent")
    disclosure_due: date | None = Field(
        default=None, description="Remainder disclosure deadline: 3 months after the end"
    )
    closed_at: AwareDatetime


class RemainderDecidedV1(EventPayload):
    """What happens to a finished project's leftover funds (key = project code)."""

    project_code: ProjectCode
    remainder_fen: int = Field(ge=0)
    decision: RemainderDecision
    target_project_code: ProjectCode | None = None
    note: str = Field(max_length=LONG_TEXT_MAX)
    disclosure_due: date
    decided_at: AwareDatetime


ConsentMethod = Literal["phone", "written", "email", "in_person", "online"]


class RemainderTransferredV1(EventPayload):
    """A closed project's remainder decision moved what was left of one gift to another project,
    with its donor's consent (key = donation id). The gift keeps its designation on record; its
    remaining fen now fund the target project's disbursements, traceable to the gift."""

    donation_id: uuid.UUID
    tracking_code: TrackingCode
    from_project_code: ProjectCode
    from_project_name: str = Field(max_length=PROJECT_NAME_MAX)
    to_project_code: ProjectCode
    to_project_name: str = Field(max_length=PROJECT_NAME_MAX)
    amount_fen: int = Field(gt=0, description="The gift's remaining fen that moved")
    consent: ConsentMethod = Field(description="How the donor's consent was obtained")
    transferred_at: AwareDatetime


class DisbursementReversedV1(EventPayload):
    """An approved disbursement was reversed, approved by a second person (key = disbursement
    id of the original). The fen of every gift that funded it are available again
    (``released``); a correction names the disbursement that replaces it, published as its own
    ``funds_disbursed``."""

    reversal_id: uuid.UUID
    disbursement_id: uuid.UUID
    kind: Literal["reversal", "correction"]
    project_code: ProjectCode
    project_name: str = Field(max_length=PROJECT_NAME_MAX)
    amount_fen: int = Field(gt=0, description="The original disbursement's amount, reversed")
    recipient_type: Literal["organization", "person"]
    voucher_no: str = Field(max_length=VOUCHER_NO_MAX)
    town: Town | None = None
    reason: str = Field(max_length=REASON_MAX)
    replacement_disbursement_id: uuid.UUID | None = None
    released: list[AllocationShareV1] = Field(
        description="Per-gift fen given back; their amount_fen sum to amount_fen"
    )
    reversed_at: AwareDatetime


class FollowUpRecordedV1(EventPayload):
    """A follow-up visit (回访) (key = disbursement id, or donation id for a gift)."""

    follow_up_id: uuid.UUID
    disbursement_id: uuid.UUID | None = None
    donation_id: uuid.UUID | None = None
    project_code: ProjectCode | None = None
    visited_on: date
    summary: str = Field(max_length=LONG_TEXT_MAX, description="Public summary; no personal data")
    town: Town | None = None
    recorded_at: AwareDatetime


class NoticeRecipientV1(EventPayload):
    name: str = Field(
        max_length=NAME_MAX, description="The donor's name as given: private, for the salutation"
    )
    email: str | None = Field(default=None, max_length=EMAIL_MAX)
    phone: str | None = Field(default=None, max_length=PHONE_MAX)


class NoticeFactsV1(EventPayload):
    """What the notice says; every field optional, filled as the milestone needs."""

    kind: DonationKind | None = None
    amount_fen: int | None = None
    receipt_no: str | None = Field(default=None, max_length=RECEIPT_NO_MAX)
    project_code: ProjectCode | None = None
    project_name: str | None = Field(default=None, max_length=PROJECT_NAME_MAX)
    used_fen: int | None = Field(default=None, description="first_use: fen of this gift used")
    purpose: str | None = Field(default=None, max_length=PURPOSE_MAX)
    disbursed_on: date | None = None
    # destination (a town, or every town the goods went to) and items ("name quantityunit")
    # are composed by the service, not bounded by a request: left unbounded
    destination: str | None = None
    items: list[str] = Field(default_factory=list, description="e.g. 棉被 20床")
    one_time_code: str | None = Field(default=None, max_length=6, description="lookup_code only")
    code_expires_at: AwareDatetime | None = None


class NoticeRequestedV1(EventPayload):
    """Topic ``donation.private`` only: send one notice to one donor (key = donation id, or
    the donor id for ``lookup_code``). Emitted only when the donor wants notices (or asked for
    a one-time code). ``notice_id`` is stable per (gift, milestone): deliver it at most once."""

    notice_id: uuid.UUID
    milestone: NoticeMilestone
    donation_id: uuid.UUID | None = None
    tracking_code: TrackingCode | None = None
    recipient: NoticeRecipientV1
    channels: list[Literal["sms", "email"]] = Field(
        description="Where the donor wants notices; only channels with a contact detail"
    )
    facts: NoticeFactsV1
    requested_at: AwareDatetime


_AT = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
_GIFT = uuid.UUID("01a22497-5db0-7241-aa97-3b7fd44641ef")
_CODE = "1MFB-V2RH-TWEX-7RZY-152D-7"
_DISBURSEMENT = uuid.UUID("01a22497-6a00-7b41-8a97-3b7fd4464100")

CONTRACTS = [
    EventContract(
        DONATION_RECEIVED,
        "donation.events",
        DonationReceivedV1,
        "donation",
        ("notification", "warehouse"),
        "A gift (money or goods) was received; donor shown only as masked display name.",
        DonationReceivedV1(
            donation_id=uuid.UUID("01a22497-5db0-7241-aa97-3b7fd44641ef"),
            tracking_code="1MFB-V2RH-TWEX-7RZY-152D-7",
            kind="goods",
            amount_fen=24000,
            channel="on_site",
            project_code="BOAI-JY",
            display="surname",
            display_name="张某",
            donor_type="individual",
            received_at=datetime(2026, 11, 28, tzinfo=UTC),
            items=[
                DonatedItemV1(
                    item_code="QUILT", name="棉被", quantity=2, unit="床", value_fen=24000
                )
            ],
        ),
    ),
    EventContract(
        DONATION_PLEDGED,
        "donation.events",
        DonationPledgedV1,
        "donation",
        ("notification",),
        "A gift was promised; it becomes received when it arrives.",
        DonationPledgedV1(
            donation_id=_GIFT,
            tracking_code=_CODE,
            kind="money",
            amount_fen=1000000,
            channel="bank_transfer",
            project_code="YJJZ",
            display="named",
            display_name="溪口镇商会",
            donor_type="organization",
            pledged_at=_AT,
        ),
    ),
    EventContract(
        DONATION_RECEIPTED,
        "donation.events",
        DonationReceiptedV1,
        "donation",
        ("notification",),
        "A donation receipt (公益事业捐赠票据) was issued, numbered gaplessly per year.",
        DonationReceiptedV1(
            donation_id=_GIFT,
            tracking_code=_CODE,
            receipt_no="2026-000123",
            receipt_year=2026,
            sequence=123,
            amount_fen=24000,
            anonymous=False,
            declined=False,
            display_name="张某",
            issued_at=_AT,
        ),
    ),
    EventContract(
        DONATION_RECEIPT_VOIDED,
        "donation.events",
        DonationReceiptVoidedV1,
        "donation",
        ("notification",),
        "A receipt was voided; the number stays used, with the reason.",
        DonationReceiptVoidedV1(
            donation_id=_GIFT,
            tracking_code=_CODE,
            receipt_no="2026-000123",
            receipt_year=2026,
            reason="抬头填写错误，重开",
            voided_at=_AT,
        ),
    ),
    EventContract(
        DONATION_CANCELLED,
        "donation.events",
        DonationCancelledV1,
        "donation",
        ("notification", "warehouse"),
        "A gift was cancelled before any of it was used.",
        DonationCancelledV1(
            donation_id=_GIFT,
            tracking_code=_CODE,
            previous_status="pledged",
            amount_fen=1000000,
            reason="捐赠方撤回意向",
            cancelled_at=_AT,
        ),
    ),
    EventContract(
        DONATION_REFUNDED,
        "donation.events",
        DonationRefundedV1,
        "donation",
        ("notification",),
        "The unused money of a gift was returned to the donor.",
        DonationRefundedV1(
            donation_id=_GIFT,
            tracking_code=_CODE,
            previous_status="receipted",
            amount_fen=50000,
            reason="重复转账，原路退回",
            refunded_at=_AT,
        ),
    ),
    EventContract(
        DONATION_STATUS_CHANGED,
        "donation.events",
        DonationStatusChangedV1,
        "donation",
        ("notification",),
        "A gift moved to allocated, in_stock, used or completed.",
        DonationStatusChangedV1(
            donation_id=_GIFT,
            tracking_code=_CODE,
            kind="money",
            from_status="receipted",
            to_status="allocated",
            changed_at=_AT,
        ),
    ),
    EventContract(
        DONATION_GOODS_TRACKED,
        "donation.events",
        DonationGoodsTrackedV1,
        "donation",
        ("notification",),
        "Goods of a gift went into stock, onto a dispatch, or were signed for.",
        DonationGoodsTrackedV1(
            donation_id=_GIFT,
            tracking_code=_CODE,
            stage="dispatched",
            item_code="QUILT",
            item_name="棉被",
            quantity=2,
            unit="床",
            lot_id="01a22497-7000-7b41-8a97-3b7fd4464111",
            dispatch_id="01a22497-7100-7b41-8a97-3b7fd4464122",
            destination="溪口镇",
            signed_by=None,
            at=_AT,
        ),
    ),
    EventContract(
        FUNDS_DISBURSED,
        "donation.events",
        FundsDisbursedV1,
        "donation",
        ("notification",),
        "An approved disbursement and the exact fen each gift contributed to it.",
        FundsDisbursedV1(
            disbursement_id=_DISBURSEMENT,
            project_code="BOAI-SWJ",
            project_name="博爱送万家",
            amount_fen=300000,
            purpose="春节慰问困难家庭 30 户",
            recipient_type="organization",
            recipient="萧王庙街道社会事务办",
            town="萧王庙街道",
            voucher_no="FH-2026-0042",
            disbursed_on=date(2026, 11, 27),
            approved_at=_AT,
            allocations=[
                AllocationShareV1(donation_id=_GIFT, tracking_code=_CODE, amount_fen=200000),
                AllocationShareV1(
                    donation_id=uuid.UUID("01a22497-5db0-7241-aa97-3b7fd44641f0"),
                    tracking_code="2NFB-V2RH-TWEX-7RZY-152D-8",
                    amount_fen=100000,
                ),
            ],
        ),
    ),
    EventContract(
        PROJECT_OPENED,
        "donation.events",
        ProjectOpenedV1,
        "donation",
        ("notification",),
        "A relief project was opened for gifts and disbursements.",
        ProjectOpenedV1(
            project_code="BOAI-JY-XK",
            name="博爱家园（溪口镇）",
            category="boai_jiayuan",
            town="溪口镇",
            description="社区防灾减灾、应急救护培训与博爱服务站建设",
            starts_on=date(2026, 1, 1),
            ends_on=date(2026, 12, 31),
            budget_fen=20000000,
            opened_at=_AT,
        ),
    ),
    EventContract(
        PROJECT_CLOSED,
        "donation.events",
        ProjectClosedV1,
        "donation",
        ("notification",),
        "A relief project ended; totals and the remainder's disclosure deadline.",
        ProjectClosedV1(
            project_code="YJJZ-2026-TY",
            name="应急救灾（台风“贝碧嘉”）",
            closed_on=date(2026, 10, 31),
            received_fen=5000000,
            used_fen=4870000,
            remainder_fen=130000,
            disclosure_due=date(2027, 1, 31),
            closed_at=_AT,
        ),
    ),
    EventContract(
        REMAINDER_DECIDED,
        "donation.events",
        RemainderDecidedV1,
        "donation",
        ("notification",),
        "How a finished project's leftover funds are handled, to be disclosed by a date.",
        RemainderDecidedV1(
            project_code="YJJZ-2026-TY",
            remainder_fen=130000,
            decision="transfer",
            target_project_code="YJJZ",
            note="经理事会决议，结余转入应急救灾项目",
            disclosure_due=date(2027, 1, 31),
            decided_at=_AT,
        ),
    ),
    EventContract(
        FOLLOW_UP_RECORDED,
        "donation.events",
        FollowUpRecordedV1,
        "donation",
        ("notification",),
        "A follow-up visit (回访) on a disbursement or a gift was recorded.",
        FollowUpRecordedV1(
            follow_up_id=uuid.UUID("01a22497-8000-7b41-8a97-3b7fd4464133"),
            disbursement_id=_DISBURSEMENT,
            donation_id=None,
            project_code="BOAI-SWJ",
            visited_on=date(2026, 12, 5),
            summary="慰问物资已全部发放到户，受助家庭反馈良好",
            town="萧王庙街道",
            recorded_at=_AT,
        ),
    ),
    EventContract(
        NOTICE_REQUESTED,
        "donation.private",
        NoticeRequestedV1,
        "donation",
        ("notification",),
        "Private: notify one donor once (contact details; never on a public topic).",
        NoticeRequestedV1(
            notice_id=uuid.UUID("01a22497-9000-7b41-8a97-3b7fd4464144"),
            milestone="first_use",
            donation_id=_GIFT,
            tracking_code=_CODE,
            recipient=NoticeRecipientV1(
                name="张建丰", email="zhang.jf@example.com", phone="13800001111"
            ),
            channels=["sms", "email"],
            facts=NoticeFactsV1(
                kind="money",
                amount_fen=240000,
                receipt_no="2026-000123",
                project_code="BOAI-SWJ",
                project_name="博爱送万家",
                used_fen=200000,
                purpose="春节慰问困难家庭 30 户",
                disbursed_on=date(2026, 11, 27),
            ),
            requested_at=_AT,
        ),
    ),
    EventContract(
        DESIGNATION_CHANGED,
        "donation.events",
        DesignationChangedV1,
        "donation",
        ("notification", "warehouse"),
        "Correction note: a gift's designated project changed before any of it was used.",
        DesignationChangedV1(
            donation_id=_GIFT,
            tracking_code=_CODE,
            from_project_code=None,
            to_project_code="YJJZ",
            reason="捐赠人来电要求定向用于应急救灾",
            changed_at=_AT,
        ),
    ),
    EventContract(
        REMAINDER_TRANSFERRED,
        "donation.events",
        RemainderTransferredV1,
        "donation",
        ("notification",),
        "A closed project's remainder: one gift's remaining fen moved to another project, "
        "with the donor's consent.",
        RemainderTransferredV1(
            donation_id=_GIFT,
            tracking_code=_CODE,
            from_project_code="YJJZ-2026-TY",
            from_project_name="应急救灾（台风“贝碧嘉”）",
            to_project_code="YJJZ",
            to_project_name="应急救灾",
            amount_fen=25850,
            consent="phone",
            transferred_at=_AT,
        ),
    ),
    EventContract(
        DISBURSEMENT_REVERSED,
        "donation.events",
        DisbursementReversedV1,
        "donation",
        ("notification",),
        "Correction: an approved disbursement was reversed (or corrected: reversed and "
        "replaced); its gifts' fen are available again.",
        DisbursementReversedV1(
            reversal_id=uuid.UUID("01a22497-6b00-7b41-8a97-3b7fd4464101"),
            disbursement_id=_DISBURSEMENT,
            kind="correction",
            project_code="BOAI-SWJ",
            project_name="博爱送万家",
            amount_fen=300000,
            recipient_type="organization",
            voucher_no="FH-2026-0042",
            town="萧王庙街道",
            reason="金额录入错误，应为 2,800 元",
            replacement_disbursement_id=uuid.UUID("01a22497-6c00-7b41-8a97-3b7fd4464102"),
            released=[
                AllocationShareV1(donation_id=_GIFT, tracking_code=_CODE, amount_fen=300000),
            ],
            reversed_at=_AT,
        ),
    ),
    EventContract(
        INCIDENT_RECORDED,
        "donation.events",
        IncidentRecordedV1,
        "donation",
        ("notification",),
        "A disaster incident as it now stands (registered, changed or declared major); "
        "a major one gives its facts the 24-hour disclosure deadline.",
        IncidentRecordedV1(
            incident_code="TY-2026-14",
            name="台风“贝碧嘉”",
            kind="typhoon",
            towns=["溪口镇", "大堰镇"],
            started_at=datetime(2026, 9, 15, 20, 0, tzinfo=UTC),
            major=True,
            declared_major_at=_AT,
            version=2,
            recorded_at=_AT,
        ),
    ),
    EventContract(
        RECIPIENT_REGISTERED,
        "donation.events",
        RecipientRegisteredV1,
        "donation",
        ("warehouse",),
        "A recipient of the register (person, household or organisation) as it now stands, "
        "masked; the warehouse keeps a copy to name recipients at delivery.",
        RecipientRegisteredV1(
            recipient_id=uuid.UUID("01a22497-7b00-7c41-9a97-3b7fd4464200"),
            kind="household",
            name_masked="王*明",
            town="溪口镇",
            household_size=4,
            org_code="XK",
            version=1,
            recorded_at=_AT,
        ),
    ),
]
