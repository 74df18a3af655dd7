"""Request and response bodies of ``/api/v1/incidents``."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from donation.entrypoints.api.schemas import IncidentCode, StrictModel, Town
from shared.contracts.donation import IncidentKind


class IncidentCreate(StrictModel):
    code: IncidentCode = Field(description="事件编号，如 TY-2026-14 (the incident's code)")
    name: str = Field(min_length=2, max_length=100, description="如：台风“贝碧嘉”")
    kind: IncidentKind
    towns: list[Town] = Field(default_factory=list, max_length=12, description="受灾镇街")
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    description: str = Field(default="", max_length=2000)


class IncidentPatch(StrictModel):
    name: str | None = Field(default=None, min_length=2, max_length=100)
    kind: IncidentKind | None = None
    towns: list[Town] | None = Field(default=None, max_length=12)
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    description: str | None = Field(default=None, max_length=2000)
    version: int | None = None


class DeclareMajorIn(StrictModel):
    reason: str = Field(
        min_length=2, max_length=500, description="宣布为重大灾害的依据（如政府应急响应级别）"
    )


class IncidentOut(BaseModel):
    code: str
    name: str
    kind: str
    towns: list[str]
    started_at: datetime
    ended_at: datetime | None
    major: bool
    declared_major_at: datetime | None
    declared_major_by: str | None
    major_reason: str | None
    description: str
    created_at: datetime
    created_by: str
    version: int


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    next_cursor: str | None
