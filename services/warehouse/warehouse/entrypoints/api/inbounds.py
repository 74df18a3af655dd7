"""``/api/v1/expected-inbounds``: goods gifts announced and not yet received (staff)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlmodel import col, select

from shared.auth import Role, StaffPrincipal, require_roles
from shared.pagination import Limit
from shared.runtime import ServiceRuntime
from warehouse.adapters.orm import ExpectedInbound

router = APIRouter(prefix="/api/v1/expected-inbounds", tags=["inbound"])


class ExpectedInboundOut(BaseModel):
    id: uuid.UUID
    donation_id: uuid.UUID
    tracking_code: str
    donor_display_name: str
    lines: list[dict[str, Any]]
    status: str
    announced_at: datetime


@router.get("", response_model=list[ExpectedInboundOut], summary="待入库的捐赠物资")
async def list_expected(
    request: Request,
    _: StaffPrincipal = require_roles(Role.WAREHOUSE, Role.AUDITOR),
    limit: Limit = 50,
) -> list[ExpectedInboundOut]:
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.session_factory() as session:
        rows = await session.scalars(
            select(ExpectedInbound).order_by(col(ExpectedInbound.announced_at).desc()).limit(limit)
        )
        return [ExpectedInboundOut.model_validate(r, from_attributes=True) for r in rows]
