"""Request and response bodies of ``/api/v1/follow-up-visits`` (follow-ups as a plan)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from donation.entrypoints.api.schemas import StrictModel

VisitListState = Literal["open", "due", "overdue", "done", "cancelled", "all"]
ShownState = Literal["due", "overdue", "on_time", "late", "cancelled"]


class VisitOutcomeIn(StrictModel):
    visited_on: date = Field(description="回访日期（不晚于今天，不早于拨付或送达日期）")
    outcome: Literal["reached", "not_reached", "problem"] = Field(
        description="reached 已回访 / not_reached 未联系上 / problem 发现问题"
    )
    satisfaction: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=5,
        description="满意度 1–5：已回访（reached）时必填，其他情况不填",
    )
    notes: str | None = Field(
        default=None, max_length=2000, description="回访记录（仅工作人员可见，不公示）"
    )
    visitor: str = Field(min_length=1, max_length=100, description="回访人")
    version: int | None = Field(
        default=None, description="读取到的版本号（或用 If-Match 头）(the version you read)"
    )


class VisitPhotoOut(BaseModel):
    sha256: str = Field(description="照片内容的 SHA-256（也是其 ETag）")
    content_type: Literal["image/jpeg", "image/png"]
    size_bytes: int
    uploaded_by: str
    uploaded_at: datetime


class FollowUpVisitOut(BaseModel):
    id: uuid.UUID
    project_code: str
    project_name: str
    org_code: str
    category: str
    trigger: Literal["disbursement", "delivery"]
    disbursement_id: uuid.UUID | None
    dispatch_id: uuid.UUID | None
    dispatch_no: str | None
    recipient_id: uuid.UUID | None
    recipient_name_masked: str | None = Field(description="受助对象（脱敏）")
    seq: int = Field(description="第几次回访")
    of_visits: int = Field(description="该规则共几次回访")
    triggered_on: date = Field(description="拨付（审批）或送达日期")
    due_on: date
    last_day: date = Field(description="按期的最后一天（due_on + 宽限天数）")
    state: ShownState = Field(
        description="due 待回访 / overdue 逾期 / on_time 按期完成 / late 逾期完成 / "
        "cancelled 已取消"
    )
    town: str | None
    done_on: date | None
    outcome: Literal["reached", "not_reached", "problem"] | None
    satisfaction: int | None
    notes: str | None
    visitor: str | None
    follow_up_id: uuid.UUID | None
    recorded_by: str | None
    recorded_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    photos: list[VisitPhotoOut]
    created_at: datetime
    updated_at: datetime | None
    version: int


class FollowUpVisitPage(BaseModel):
    as_of: date = Field(description="状态按此日计算 (the day states are computed for)")
    items: list[FollowUpVisitOut]
    next_cursor: str | None
