"""``/api/v1/reconciliation``: the gateways' daily statements held against the online gifts.

- ``POST /api/v1/reconciliation/runs``: reconcile one channel's day (a rerun replaces the
  day's open findings, keeps the resolved ones); answers the run and its findings.
- ``GET /api/v1/reconciliation/runs``: the runs, newest day first.
- ``GET /api/v1/reconciliation/findings``: the findings (``status=open`` for the work list).
- ``POST /api/v1/reconciliation/findings/{id}/resolve``: close a finding with a note.

Finance (and admin) run and resolve; the auditor reads.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from donation.entrypoints.api.giving import gateways_of
from donation.entrypoints.api.schemas import StrictModel
from donation.service_layer import reconciliation
from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, NotFound, ServiceUnavailable
from shared.http_commands import RuntimeDep
from shared.openapi import raises
from shared.pagination import Cursor, Limit

router = APIRouter(prefix="/api/v1/reconciliation", tags=["reconciliation"])

Runner = require_roles(Role.FINANCE)
Reader = require_roles(Role.FINANCE, Role.AUDITOR)
Channel = Literal["wechat_pay", "alipay"]


class RunIn(StrictModel):
    channel: Channel
    day: date


class ResolveIn(StrictModel):
    resolution: Annotated[str, Field(min_length=1, max_length=500)]


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    channel: str
    day: date
    started_at: datetime
    finished_at: datetime | None
    lines: int
    matched: int
    findings: int
    run_by: str


class FindingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    run_id: uuid.UUID
    channel: str
    day: date
    kind: Literal["paid_no_gift", "gift_not_paid", "amount_differs", "refund_unmatched"]
    out_trade_no: str
    transaction_id: str | None
    statement_fen: int | None
    our_fen: int | None
    donation_id: uuid.UUID | None
    status: Literal["open", "resolved"]
    resolution: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    created_at: datetime


class RunResultOut(RunOut):
    items: list[FindingOut]  # the run's findings, open and resolved


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None = None


class FindingPage(BaseModel):
    items: list[FindingOut]
    next_cursor: str | None = None


def _result(result: reconciliation.RunResult) -> RunResultOut:
    run: Any = RunOut.model_validate(result.run).model_dump()
    return RunResultOut(**run, items=[FindingOut.model_validate(f) for f in result.findings])


@router.post(
    "/runs",
    response_model=RunResultOut,
    summary="对账 Reconcile one channel's day against its statement",
    responses=raises(
        (ServiceUnavailable, "The channel's statement could not be had from its gateway")
    ),
)
async def run(body: RunIn, runtime: RuntimeDep, staff: StaffPrincipal = Runner) -> RunResultOut:
    gateway = gateways_of(runtime).get(body.channel)
    async with runtime.unit_of_work() as uow:
        result = await reconciliation.reconcile(uow, gateway, body.day, staff.username)
        await uow.commit()
        return _result(result)


@router.get("/runs", response_model=RunPage, summary="对账记录 Reconciliation runs")
async def list_runs(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    channel: Channel | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> RunPage:
    async with runtime.unit_of_work() as uow:
        runs, next_cursor = await reconciliation.list_runs(
            uow, channel=channel, limit=limit, cursor=cursor
        )
        return RunPage(items=[RunOut.model_validate(r) for r in runs], next_cursor=next_cursor)


@router.get("/findings", response_model=FindingPage, summary="对账差异 Reconciliation findings")
async def list_findings(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    status: Annotated[str | None, Query(pattern="^(open|resolved)$")] = None,
    channel: Channel | None = None,
    day: date | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> FindingPage:
    async with runtime.unit_of_work() as uow:
        findings, next_cursor = await reconciliation.list_findings(
            uow, status=status, channel=channel, day=day, limit=limit, cursor=cursor
        )
        return FindingPage(
            items=[FindingOut.model_validate(f) for f in findings], next_cursor=next_cursor
        )


@router.post(
    "/findings/{finding_id}/resolve",
    response_model=FindingOut,
    summary="处理对账差异 Resolve a finding with a note",
    responses=raises((NotFound, "No such finding"), (Conflict, "Already resolved")),
)
async def resolve(
    finding_id: uuid.UUID, body: ResolveIn, runtime: RuntimeDep, staff: StaffPrincipal = Runner
) -> FindingOut:
    async with runtime.unit_of_work() as uow:
        finding = await reconciliation.resolve_finding(
            uow, finding_id, body.resolution, staff.username
        )
        await uow.commit()
        return FindingOut.model_validate(finding)
