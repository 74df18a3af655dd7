"""Request and response bodies of ``/api/v1/recipients`` (the recipients register) and of the
recipients a disbursement names."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from donation.domain.credit_code import normalise_credit_code
from donation.domain.recipients import OrganisationKind, RecipientKind
from donation.entrypoints.api.schemas import OrgCode, StrictModel, Town

PHONE_PATTERN = r"^\+?[0-9][0-9 -]{5,19}$"
ID_NUMBER_HELP = (
    "居民身份证号码（18 位，GB 11643 校验）：只保存其加密指纹与末 4 位，从不保存号码本身 "
    "(the resident ID number: only its keyed fingerprint and last 4 characters are kept)"
)


class RecipientCreate(StrictModel):
    kind: RecipientKind = Field(
        description="person 个人 / household 家庭（户主） / organisation 机构"
    )
    name: str = Field(min_length=1, max_length=100, description="姓名、户主姓名或机构名称")
    id_number: str | None = Field(
        default=None, min_length=1, max_length=30, description=ID_NUMBER_HELP
    )
    household_size: int | None = Field(
        default=None, strict=True, ge=1, le=100, description="家庭人口数（个人为 1）"
    )
    town: Town
    address: str | None = Field(default=None, max_length=200, description="村（社区）与地址")
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    org_code: OrgCode | None = Field(
        default=None, description="登记机构（默认本人所属机构；镇街只能登记本机构的）"
    )
    org_kind: OrganisationKind | None = Field(
        default=None,
        description="机构类别：boai_jiayuan 博爱家园 / school 学校 / "
        "village_committee 村（居）委会 / other 其他",
    )
    credit_code: str | None = Field(
        default=None, max_length=24, description="机构的统一社会信用代码（可选，GB 32100 校验）"
    )

    @model_validator(mode="after")
    def _check_kind(self) -> RecipientCreate:
        if self.kind == "organisation":
            if self.org_kind is None:
                raise ValueError("机构请选择类别 org_kind (an organisation names its kind)")
            if self.id_number is not None:
                raise ValueError("机构没有身份证号码 (an organisation has no id_number)")
            if self.household_size is not None:
                raise ValueError("机构没有家庭人口数 (an organisation has no household_size)")
            if self.credit_code is not None:
                self.credit_code = normalise_credit_code(self.credit_code)
            return self
        if self.org_kind is not None or self.credit_code is not None:
            raise ValueError(
                "org_kind 与 credit_code 仅用于机构 "
                "(only an organisation has org_kind and credit_code)"
            )
        if self.kind == "person":
            if self.id_number is None:
                raise ValueError("个人请填写身份证号码 (a person is registered with id_number)")
            if self.household_size not in (None, 1):
                raise ValueError("个人的人口数为 1 (a person's household_size is 1)")
            self.household_size = 1
        elif self.household_size is None:
            raise ValueError("家庭请填写人口数 household_size (a household gives its size)")
        return self


class RecipientPatch(StrictModel):
    """What may change: never the kind, the town or the identity number (a new registration)."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    address: str | None = Field(default=None, max_length=200)
    household_size: int | None = Field(default=None, strict=True, ge=1, le=100)
    version: int | None = None


class RecipientOut(BaseModel):
    id: uuid.UUID
    kind: RecipientKind
    name_masked: str = Field(description="个人、户主脱敏（王*明）；机构为名称")
    name: str | None = Field(
        default=None, description="全名：仅在单条查询中、且仅对经办救助的角色给出 (full name)"
    )
    id_last4: str | None = Field(default=None, description="身份证号码末 4 位")
    household_size: int | None
    people: int = Field(description="计入的受益人数（个人 1、家庭为人口数、机构 0）")
    households: int = Field(description="计入的户数（个人、家庭 1，机构 0）")
    town: str
    address: str | None = Field(default=None, description="仅单条查询、经办角色可见")
    phone: str | None = Field(default=None, description="仅单条查询、经办角色可见")
    org_code: str
    org_kind: OrganisationKind | None = None
    credit_code: str | None = None
    created_at: datetime
    created_by: str
    updated_at: datetime | None = None
    updated_by: str | None = None
    version: int


class RecipientPage(BaseModel):
    items: list[RecipientOut]
    next_cursor: str | None


class ApproveDisbursementIn(StrictModel):
    repeat_acknowledged: bool = Field(
        default=False,
        description="审批人已看到受助对象的重复受助记录 (the approver saw the repeat receipts)",
    )


class ReachOut(BaseModel):
    people: int
    households: int
    recipients: int = Field(description="不同的受助对象数")


class ProjectReachOut(BaseModel):
    """Whom a project reached: through its approved disbursements that name recipients, and
    through its delivered dispatches (the warehouse's sign-off naming them)."""

    project_code: str
    disbursements: ReachOut = Field(description="已审批拨付所列对象（按拨付时的人口数）")
    deliveries: ReachOut = Field(description="已签收调拨所列对象（按签收时的人口数）")
    delivered_dispatches: int
    total: ReachOut = Field(
        description="不重复计算：每个对象计一次（按登记中的当前人口数）",
    )


RecipientKindFilter = Literal["person", "household", "organisation"]
