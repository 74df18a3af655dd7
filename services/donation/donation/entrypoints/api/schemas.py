"""Request and response bodies of the donation API."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from donation.domain.credit_code import normalise_credit_code
from shared.contracts.donation import Channel, DisplayChoice, DonationKind

MAX_AMOUNT_FEN = 10_000_000_000_00  # ten billion yuan: far above any real gift
Fen = Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT_FEN)]
ItemCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
ProjectCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")]
IncidentCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")]
Notify = Literal["none", "sms", "email", "all"]
Town = Literal[
    "锦屏街道",
    "岳林街道",
    "江口街道",
    "西坞街道",
    "萧王庙街道",
    "方桥街道",
    "尚田街道",
    "莼湖街道",
    "溪口镇",
    "大堰镇",
    "松岙镇",
    "裘村镇",
]
Reason = Annotated[str, Field(min_length=2, max_length=500)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DonorIn(StrictModel):
    donor_type: Literal["individual", "organization"] = "individual"
    name: str = Field(min_length=1, max_length=100, description="捐赠人姓名或单位名称")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 -]{5,19}$")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    notify: Notify = Field(
        default="all", description="通知偏好：none 不通知 / sms / email / all（仅限已留的联系方式）"
    )


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
    incident_code: IncidentCode | None = Field(
        default=None, description="所属灾情事件（默认取项目的） (default: the project's incident)"
    )
    display: DisplayChoice = "named"
    donor: DonorIn | None = Field(
        default=None, description="新捐赠人；或用 donor_id 引用已有捐赠人"
    )
    donor_id: uuid.UUID | None = None
    pledged: bool = Field(default=False, description="认捐（尚未到账）：到账后调用 /receive")
    items: list[DonationItemIn] = Field(default_factory=list, max_length=200)
    received_at: AwareDatetime | None = Field(default=None, description="到账时间，默认现在")
    note: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _check_kind(self) -> DonationCreate:
        if (self.donor is None) == (self.donor_id is None):
            raise ValueError("give exactly one of donor, donor_id (捐赠人信息或捐赠人编号二选一)")
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
    display: str | None = None
    notify: str | None = None
    version: int | None = None
    created_at: datetime | None = None


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
    incident_code: str | None = None
    items: list[DonationItemOut]
    note: str | None
    received_at: datetime
    created_at: datetime
    created_by: str
    version: int
    used_fen: int = 0
    refunded_fen: int = 0
    written_off_fen: int = Field(
        default=0, description="物资捐赠在仓库报损/过期核销部分的价值（分）"
    )
    remaining_fen: int = 0
    status_reason: str | None = None
    receipt_no: str | None = None
    updated_at: datetime | None = None


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
    org: str = Field(default="FH", description="所属组织代码 (the account's organisation)")


class DonationPatch(StrictModel):
    note: str | None = Field(default=None, max_length=1000)
    project_code: ProjectCode | None = Field(
        default=None, description="改定向（null = 非定向）；仅限尚未使用的捐赠，发布更正说明"
    )
    reason: str | None = Field(default=None, max_length=500, description="修改原因")
    version: int | None = Field(default=None, description="或使用 If-Match 头")


class ReceiveIn(StrictModel):
    received_at: AwareDatetime | None = None


class ReceiptIn(StrictModel):
    declined: bool = Field(default=False, description="捐赠人不要票据（号码照常登记）")
    payer_name: str | None = Field(default=None, max_length=200, description="票据抬头，默认捐赠人")


class ReasonIn(StrictModel):
    reason: Reason


class ReceiptOut(BaseModel):
    id: uuid.UUID
    donation_id: uuid.UUID
    receipt_no: str
    year: int
    seq: int
    amount_fen: int
    payer_name: str | None
    anonymous: bool
    declined: bool
    issued_at: datetime
    issued_by: str
    voided_at: datetime | None
    void_reason: str | None
    voided_by: str | None


class RegisterEntryOut(BaseModel):
    """A line of the receipt register: one gift's receipt, or a month's combined receipt
    (``kind="combined"``: no gift of its own, ``month`` and ``gift_count`` instead). Both take
    their numbers from the one series of the year."""

    kind: Literal["gift", "combined"]
    id: uuid.UUID
    donation_id: uuid.UUID | None
    month: str | None
    gift_count: int
    receipt_no: str
    year: int
    seq: int
    amount_fen: int
    payer_name: str | None
    anonymous: bool
    declined: bool
    issued_at: datetime
    issued_by: str
    voided_at: datetime | None
    void_reason: str | None
    voided_by: str | None


class ReceiptPage(BaseModel):
    items: list[RegisterEntryOut]
    next_cursor: str | None


class DonorCreate(DonorIn):
    display: DisplayChoice = "named"


class DonorPatch(StrictModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 -]{5,19}$")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    display: DisplayChoice | None = None
    notify: Notify | None = None
    version: int | None = None


class DonorPage(BaseModel):
    items: list[DonorOut]
    next_cursor: str | None


ProjectCategory = Literal["song_wan_jia", "wan_ren_xing", "boai_jiayuan", "emergency", "other"]


class ProjectCreate(StrictModel):
    code: ProjectCode
    name: str = Field(min_length=2, max_length=100)
    category: ProjectCategory
    town: Town | None = None
    description: str = Field(default="", max_length=2000)
    starts_on: date
    ends_on: date | None = None
    budget_fen: int | None = Field(default=None, strict=True, ge=0, le=MAX_AMOUNT_FEN)
    org_code: str = Field(
        default="FH", pattern=r"^[A-Z][A-Z0-9]{1,15}$", description="项目所属机构，默认区红十字会"
    )
    incident_code: IncidentCode | None = Field(
        default=None, description="救灾募捐所针对的灾情事件 (the incident the appeal is for)"
    )


class ProjectPatch(StrictModel):
    name: str | None = Field(default=None, min_length=2, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    ends_on: date | None = None
    budget_fen: int | None = Field(default=None, strict=True, ge=0, le=MAX_AMOUNT_FEN)
    incident_code: IncidentCode | None = Field(
        default=None, description="改所属灾情事件（null = 无）；之后的捐赠与拨付随之"
    )
    version: int | None = None


class ProjectFiguresOut(BaseModel):
    designated_fen: int
    designated_used_fen: int
    unrestricted_used_fen: int
    used_fen: int
    remaining_fen: int
    available_fen: int
    pending_fen: int
    transferred_in_fen: int = 0
    transferred_out_fen: int = 0


class RemainderMoveOut(BaseModel):
    """What the remainder decision did with one gift's remaining fen."""

    donation_id: uuid.UUID
    tracking_code: str
    outcome: Literal["transferred", "waiting", "refund_pending", "refunded"]
    to_project_code: str | None
    amount_fen: int
    consent_method: str | None
    refund_request_id: uuid.UUID | None
    moved_at: datetime | None


class RemainderOut(BaseModel):
    remainder_fen: int
    decision: str
    target_project_code: str | None
    note: str
    disclosure_due: date
    decided_at: datetime
    decided_by: str
    moves: list[RemainderMoveOut] = Field(default_factory=list)


class ProjectOut(BaseModel):
    code: str
    name: str
    category: str
    town: str | None
    description: str
    starts_on: date
    ends_on: date | None
    budget_fen: int | None
    status: str
    closed_on: date | None
    disclosure_due: date | None
    created_at: datetime
    created_by: str
    version: int
    org_code: str = "FH"
    incident_code: str | None = None
    figures: ProjectFiguresOut | None = None
    remainder: RemainderOut | None = None


class ProjectPage(BaseModel):
    items: list[ProjectOut]
    next_cursor: str | None


class CloseIn(StrictModel):
    closed_on: date | None = Field(default=None, description="结项日期，默认计划结束日或今天")
    version: int | None = None


class RemainderIn(StrictModel):
    decision: Literal["carry_forward", "transfer", "return_to_donors", "other"]
    target_project_code: ProjectCode | None = None
    note: str = Field(min_length=2, max_length=2000)


class DisbursementRecipientIn(StrictModel):
    recipient_id: uuid.UUID = Field(description="受助登记中的对象 (POST /api/v1/recipients)")
    amount_fen: Fen | None = Field(default=None, description="该对象所得金额（分），可不填")


class RepeatReceiptOut(BaseModel):
    """An approved disbursement of the same project category to the same recipient, within the
    window (``DONATION_REPEAT_RECEIPT_WINDOW_DAYS``) of the one awaiting approval."""

    disbursement_id: uuid.UUID
    project_code: str
    voucher_no: str
    disbursed_on: date
    days_apart: int = Field(description="与本次拨付日期相隔天数")
    amount_fen: int | None = Field(description="该对象在那次拨付中所得（未分列为 null）")


class DisbursementRecipientOut(BaseModel):
    recipient_id: uuid.UUID
    kind: Literal["person", "household", "organisation"]
    name_masked: str
    id_last4: str | None
    town: str
    amount_fen: int | None
    people: int
    households: int
    repeat_receipts: list[RepeatReceiptOut] | None = Field(
        default=None,
        description="待审批时：同类项目窗口期内已获的拨付（提醒审批人，不阻止审批）；否则 null",
    )


class DisbursementCreate(StrictModel):
    amount_fen: Fen
    purpose: str = Field(min_length=2, max_length=500)
    recipient_type: Literal["organization", "person"]
    recipient_name: str = Field(min_length=1, max_length=200)
    town: Town | None = None
    voucher_no: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_/-]{0,63}$")
    disbursed_on: date
    incident_code: IncidentCode | None = Field(
        default=None, description="所属灾情事件（默认取项目的） (default: the project's incident)"
    )
    recipients: list[DisbursementRecipientIn] = Field(
        default_factory=list,
        max_length=500,
        description="受助登记中的对象（发给个人、家庭时列出；可不填）(the register's recipients)",
    )


class DisbursementPatch(StrictModel):
    amount_fen: Fen | None = None
    purpose: str | None = Field(default=None, min_length=2, max_length=500)
    recipient_type: Literal["organization", "person"] | None = None
    recipient_name: str | None = Field(default=None, min_length=1, max_length=200)
    town: Town | None = None
    voucher_no: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_/-]{0,63}$")
    disbursed_on: date | None = None
    version: int | None = None


class AllocationOut(BaseModel):
    donation_id: uuid.UUID
    tracking_code: str
    amount_fen: int


class DisbursementOut(BaseModel):
    id: uuid.UUID
    project_code: str
    incident_code: str | None = None
    amount_fen: int
    purpose: str
    recipient_type: str
    recipient_name: str
    recipient_display: str
    town: str | None
    voucher_no: str
    disbursed_on: date
    status: str
    entered_by: str
    approved_by: str | None
    approved_at: datetime | None
    reject_reason: str | None
    created_at: datetime
    version: int
    allocations: list[AllocationOut]
    corrects_id: uuid.UUID | None = Field(default=None, description="更正：被替代的原拨付")
    reversal: ReversalOut | None = Field(default=None, description="冲销或更正记录（未驳回的）")
    recipients: list[DisbursementRecipientOut] = Field(
        default_factory=list, description="所列受助对象（脱敏），待审批时附重复受助记录"
    )
    people_reached: int = Field(default=0, description="所列对象的受益人数（个人 1、家庭为人口数）")
    households_reached: int = Field(default=0, description="所列对象的户数")
    repeat_acknowledged: bool = Field(
        default=False, description="审批人已确认看到重复受助记录 (the approver saw them)"
    )


class DisbursementPage(BaseModel):
    items: list[DisbursementOut]
    next_cursor: str | None


class FollowUpCreate(StrictModel):
    disbursement_id: uuid.UUID | None = None
    donation_id: uuid.UUID | None = None
    visited_on: date
    summary: str = Field(min_length=2, max_length=2000)
    town: Town | None = None
    visitor: str = Field(min_length=1, max_length=100, description="回访人")


class FollowUpOut(BaseModel):
    id: uuid.UUID
    disbursement_id: uuid.UUID | None
    donation_id: uuid.UUID | None
    dispatch_id: uuid.UUID | None = Field(default=None, description="计划回访所随的调拨（送达后）")
    project_code: str | None
    visited_on: date
    summary: str
    town: str | None
    visitor: str
    created_at: datetime
    created_by: str


class FollowUpPage(BaseModel):
    items: list[FollowUpOut]
    next_cursor: str | None


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None


class LookupRequest(StrictModel):
    contact: str = Field(min_length=5, max_length=254, description="手机号或电子邮箱")


class LookupVerify(LookupRequest):
    code: str = Field(pattern=r"^[0-9]{6}$")


# --- organisations and staff accounts ---

OrgCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,15}$", max_length=16)]
Username = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$",
        description="小写字母、数字、. _ - (lower-case letters, digits, . _ -)",
    ),
]
StaffRole = Literal["admin", "finance", "warehouse", "dispatcher", "approver", "auditor"]
# Passwords are taken as typed: not stripped (StrictModel strips every string).
Password = Annotated[str, Field(min_length=1, max_length=128)]


class SecretModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganisationOut(BaseModel):
    code: str
    name: str
    kind: Literal["district", "town"]
    town: str | None
    active: bool
    version: int
    accounts: int = Field(description="在用账号数 (active staff accounts)")
    created_at: datetime
    updated_at: datetime | None


class OrganisationPage(BaseModel):
    items: list[OrganisationOut]


class OrganisationCreate(StrictModel):
    code: OrgCode
    name: str = Field(min_length=2, max_length=100)
    kind: Literal["district", "town"] = "town"
    town: str | None = Field(default=None, min_length=2, max_length=20)


class OrganisationPatch(StrictModel):
    name: str | None = Field(default=None, min_length=2, max_length=100)
    active: bool | None = None
    version: int | None = None

    @model_validator(mode="after")
    def _not_null(self) -> OrganisationPatch:
        for name in ("name", "active"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} 不能为空 ({name} may not be null)")
        return self


class StaffAccountOut(BaseModel):
    username: str
    display_name: str
    org_code: str
    org_name: str
    roles: list[str]
    active: bool
    must_change_password: bool
    password_changed_at: datetime | None
    disabled_at: datetime | None
    created_at: datetime
    created_by: str | None
    updated_at: datetime | None
    version: int


class StaffAccountIssued(StaffAccountOut):
    initial_password: str | None = Field(
        default=None,
        description="生成的初始密码，仅在本次回应中出现一次 (the generated initial password, "
        "answered this once; a retry with the same Idempotency-Key does not repeat it)",
    )


class StaffAccountPage(BaseModel):
    items: list[StaffAccountOut]


class StaffAccountCreate(SecretModel):
    username: Username
    display_name: Annotated[str, StringConstraints(strip_whitespace=True)] = Field(
        min_length=1, max_length=100
    )
    org_code: OrgCode
    roles: list[StaffRole] = Field(min_length=1, max_length=6)
    password: Password | None = Field(
        default=None,
        description="初始密码；不填则生成一个 (the initial password; none: one is generated)",
    )


class StaffAccountPatch(StrictModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    org_code: OrgCode | None = None
    roles: list[StaffRole] | None = Field(default=None, min_length=1, max_length=6)
    version: int | None = None

    @model_validator(mode="after")
    def _not_null(self) -> StaffAccountPatch:
        for name in ("display_name", "org_code", "roles"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} 不能为空 ({name} may not be null)")
        return self


class PasswordResetIn(SecretModel):
    password: Password | None = Field(
        default=None,
        description="新的初始密码；不填则生成一个 (the new initial password; none: generated)",
    )


class DisableIn(StrictModel):
    reason: str | None = Field(default=None, max_length=500)


class PasswordChangeIn(SecretModel):
    username: str = Field(min_length=1, max_length=64)
    old_password: Password
    new_password: Password


# --- money that never gets stuck ---------------------------------------------------------------


class ConsentIn(StrictModel):
    donation_id: uuid.UUID
    method: Literal["phone", "written", "email", "in_person", "online"] = Field(
        description="征得捐赠人同意的方式"
    )
    obtained_by: str = Field(min_length=1, max_length=100, description="征得同意的工作人员")
    obtained_at: AwareDatetime
    note: str | None = Field(default=None, max_length=500)


class ConsentOut(BaseModel):
    id: uuid.UUID
    project_code: str
    donation_id: uuid.UUID
    method: str
    obtained_by: str
    obtained_at: datetime
    note: str | None
    recorded_at: datetime
    recorded_by: str


class ReverseIn(StrictModel):
    reason: Reason


class CorrectIn(StrictModel):
    reason: Reason
    replacement: DisbursementCreate = Field(description="替代原拨付的新拨付（新凭证号）")


class ReversalOut(BaseModel):
    id: uuid.UUID
    disbursement_id: uuid.UUID
    kind: Literal["reversal", "correction"]
    replacement_id: uuid.UUID | None
    reason: str
    status: Literal["pending", "approved", "rejected"]
    entered_by: str
    approved_by: str | None
    approved_at: datetime | None
    reject_reason: str | None
    created_at: datetime
    version: int
    released: list[AllocationOut] = Field(default_factory=list)


class ReversalPage(BaseModel):
    items: list[ReversalOut]


class RefundRequestOut(BaseModel):
    id: uuid.UUID
    donation_id: uuid.UUID
    tracking_code: str
    amount_fen: int
    reason: str
    source: Literal["refund", "remainder"]
    status: Literal["pending", "approved", "rejected"]
    requested_by: str
    decided_by: str | None
    decided_at: datetime | None
    reject_reason: str | None
    created_at: datetime
    version: int


class RefundRequestPage(BaseModel):
    items: list[RefundRequestOut]


CREDIT_CODE_HELP = "统一社会信用代码（单位捐赠开票用，18 位）"


class OnlineGiftIn(StrictModel):
    """A donor's own gift on ``/give``: paid online, receipted when the payment is confirmed."""

    channel: Literal["wechat_pay", "alipay"]
    scene: Literal["native", "h5", "wap", "page"] | None = Field(
        default=None,
        description="native 微信扫码 / h5 微信手机网页 / wap 支付宝手机网页 / page 支付宝电脑网页；"
        "默认按浏览器判断（手机或电脑）",
    )
    amount_fen: int = Field(strict=True, gt=0, description="金额（分）")
    project_code: ProjectCode | None = Field(default=None, description="定向项目；不填为非定向")
    display: DisplayChoice = "named"
    donor_type: Literal["individual", "organization"] = "individual"
    name: str | None = Field(
        default=None, min_length=1, max_length=100, description="姓名或单位名称（匿名可不填）"
    )
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 -]{5,19}$")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    notify: Notify = "all"
    credit_code: str | None = Field(default=None, max_length=24, description=CREDIT_CODE_HELP)
    want_receipt: bool = Field(default=True, description="是否开具公益事业捐赠电子票据")

    @model_validator(mode="after")
    def _check_donor(self) -> OnlineGiftIn:
        if self.donor_type == "organization" and not self.name:
            raise ValueError("单位捐赠请填写单位名称 (an organisation gives its name)")
        if self.display != "anonymous" and not self.name:
            raise ValueError(
                "署名捐赠请填写姓名，或选择匿名 (a named gift needs a name; or choose anonymous)"
            )
        if self.credit_code is not None:
            if self.donor_type != "organization":
                raise ValueError("统一社会信用代码仅用于单位捐赠 (only organisations have one)")
            self.credit_code = normalise_credit_code(self.credit_code)
        return self


class OnlineOrderOut(BaseModel):
    out_trade_no: str
    status: Literal["pending", "paid", "closed"]
    channel: str
    scene: str
    amount_fen: int
    project_code: str | None
    project_name: str | None
    pay_url: str | None = Field(description="打开以付款；native 场景为二维码内容（见 qr_url）")
    show_as_qr: bool
    qr_url: str | None = Field(description="native 场景的付款二维码（SVG）")
    result_url: str
    expires_at: datetime
    paid_at: datetime | None
    tracking_code: str | None = Field(description="支付成功后生成的捐赠查询码")
    receipt_no: str | None
    close_reason: str | None


class GivingProjectOut(BaseModel):
    code: str
    name: str
    category: str
    town: str | None
    description: str


class GivingOptionsOut(BaseModel):
    channels: list[str]
    presets_fen: list[int]
    min_fen: int
    max_fen: int
    projects: list[GivingProjectOut]
