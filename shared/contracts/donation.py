"""Events produced by the donation service (topic ``donation.events``, key = donation id).

Public payloads carry the masked display name only: no phone, e-mail, ID number or a private
person's full name ever appears here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload
from shared.contracts.registry import EventContract

PREFIX = "org.redcross.fenghua.donation"
DONATION_RECEIVED = f"{PREFIX}.received.v1"

DonationKind = Literal["money", "goods"]
DisplayChoice = Literal["named", "surname", "anonymous"]
Channel = Literal["bank_transfer", "wechat_pay", "alipay", "cash", "cheque", "on_site"]


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
    tracking_code: str
    kind: DonationKind
    amount_fen: int = Field(ge=0, description="Money in fen; for goods, the estimated value")
    channel: Channel
    project_code: str | None = None
    display: DisplayChoice
    display_name: str = Field(description="Donor name as the donor chose to be shown, masked")
    donor_type: Literal["individual", "organization"]
    received_at: AwareDatetime
    items: list[DonatedItemV1] = Field(default_factory=list)


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
]
