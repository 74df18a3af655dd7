"""Request and response bodies of the donation API."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.contracts.donation import Channel, DisplayChoice, DonationKind

MAX_AMOUNT_FEN = 10_000_000_000_00  # ten billion yuan: far above any real gift
Fen = Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT_FEN)]
ItemCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
ProjectCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DonorIn(StrictModel):
    donor_type: Literal["individual", "organization"] = "individual"
    name: str = Field(min_length=1, max_length=100, description="捐赠人姓名或单位名称")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 -]{5,19}$")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DonationItemIn(StrictModel):
    item_code: ItemCode
    name: str = Field(min_length=1, max_length=200)
    quantity: int = Field(strict=True, gt=0, le=10_000_000)
    unit: str = Field(min_length=1, max_length=20)
    lot_no: str | None = Field(default=None, max_length=64)
    expiry_date: date | None = None
    value_fen: int = Field(strict=True, ge=0, le=MAX_AMOUNT_FEN)


class DonationCreate(StrictModel):
    kind: DonationKind = "money"
    amount_fen: Fen | None = Field(
        default=None,
        description="金额（分）。Money: required. Goods: defaults to the items' value.",
    )
    channel: Channel
    external_ref: str | None = Field(
        default=None, min_length=1, max_length=100, description="付款流水号，同一渠道内唯一"
    )
    project_code: ProjectCode | None = Field(default=None, description="定向捐赠的项目编号")
    display: DisplayChoice = "named"
    donor: DonorIn
    items: list[DonationItemIn] = Field(default_factory=list, max_length=200)
    received_at: AwareDatetime | None = Field(default=None, description="到账时间，默认现在")
    note: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _check_kind(self) -> DonationCreate:
        if self.kind == "money":
            if self.amount_fen is None:
                raise ValueError("amount_fen is required for a money gift (金额必填)")
            if self.items:
                raise ValueError("a money gift has no items (货币捐赠不能包含物资明细)")
        else:
            if not self.items:
                raise ValueError("a goods gift needs at least one item (物资捐赠至少一项)")
            total = sum(item.value_fen for item in self.items)
            if self.amount_fen is not None and self.amount_fen != total:
                raise ValueError(
                    f"amount_fen {self.amount_fen} differs from the items' value {total}"
                )
        if self.received_at is not None and self.received_at > datetime.now(UTC) + timedelta(
            minutes=5
        ):
            raise ValueError("received_at is in the future (到账时间不能晚于现在)")
        return self


class DonorOut(BaseModel):
    id: uuid.UUID
    donor_type: str
    name: str
    phone: str | None
    email: str | None


class DonationItemOut(BaseModel):
    line_no: int
    item_code: str
    name: str
    quantity: int
    unit: str
    lot_no: str | None
    expiry_date: date | None
    value_fen: int


class DonationOut(BaseModel):
    id: uuid.UUID
    tracking_code: str
    kind: str
    status: str
    amount_fen: int
    channel: str
    external_ref: str | None
    project_code: str | None
    display: str
    display_name: str
    donor: DonorOut
    items: list[DonationItemOut]
    note: str | None
    received_at: datetime
    created_at: datetime
    created_by: str
    version: int


class DonationPage(BaseModel):
    items: list[DonationOut]
    next_cursor: str | None


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int


class StaffOut(BaseModel):
    username: str
    display_name: str | None
    roles: list[str]
