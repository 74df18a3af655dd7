"""Daily reconciliation (对账): each gateway's statement of a day held against our books.

:func:`reconcile` fetches one channel's statement of one day (Asia/Shanghai), reads what our
books say of that channel's orders — those paid that day and any other the statement names —
and keeps the differences :func:`donation.domain.reconciliation.match` finds as findings of the
day's run (one run per channel and day: ``UNIQUE (channel, day)``, written with ``ON CONFLICT``,
so a rerun, or two instances at once, update the same row under its lock). A rerun replaces
the run's open findings and keeps the resolved ones; a difference found again that was already
resolved is not opened again. Finance resolves each finding with a note
(:func:`resolve_finding`). Every run and resolution is in the audit log.

:func:`run_nightly` (one per instance) reconciles yesterday for each configured channel once,
after ``reconcile_after_hour`` (the gateways publish a day's statement in the morning of the
next: WeChat Pay from 10:00, Alipay from 09:00).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, delete, or_
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select

from donation.adapters.orm import (
    Donation,
    OnlineOrder,
    ReconciliationFinding,
    ReconciliationRun,
)
from donation.config import DonationSettings
from donation.domain.payments import GatewayError, GatewayRefused, PaymentGateway, StatementLine
from donation.domain.reconciliation import Finding, MatchResult, OurPayment, match
from donation.service_layer.common import LOCAL_TZ, audit, local_date, lock_row, now
from donation.service_layer.online_giving import Gateways
from shared.aio import stop_if_cancelled
from shared.errors import AppError, Conflict, ServiceUnavailable, ValidationFailed
from shared.pagination import decode_cursor, encode_cursor
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork

log = logging.getLogger("donation.reconciliation")

NIGHTLY_ACTOR = "system:reconciliation"
NIGHTLY_CHECK_S = 300.0
RESOLUTION_MAX = 500
# WeChat Pay answers a day without a successful trade with this refusal: an empty statement.
EMPTY_DAY = {"wechat_pay": frozenset({"NO_STATEMENT_EXIST"}), "alipay": frozenset[str]()}


@dataclass(frozen=True)
class RunResult:
    run: ReconciliationRun
    findings: list[ReconciliationFinding]  # the run's, open and resolved


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), LOCAL_TZ)
    return start, start + timedelta(days=1)


async def fetch_statement(gateway: PaymentGateway, day: date) -> list[StatementLine]:
    try:
        return await gateway.statement(day)
    except GatewayRefused as exc:
        if exc.code in EMPTY_DAY.get(gateway.channel, frozenset()):
            return []
        raise statement_failed(gateway, day, exc) from exc
    except GatewayError as exc:
        raise statement_failed(gateway, day, exc) from exc


def statement_failed(gateway: PaymentGateway, day: date, exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"无法获取 {day} 的对账单，请稍后再试 "
        f"(the {gateway.channel} statement of {day} could not be fetched: {exc})"
    )


async def our_payments(
    uow: SqlUnitOfWork, channel: str, day: date, lines: list[StatementLine]
) -> list[OurPayment]:
    """The channel's orders paid that day, and any other order the statement names."""
    start, end = day_bounds(day)
    paid_that_day = and_(
        col(OnlineOrder.status) == "paid",
        col(OnlineOrder.paid_at) >= start,
        col(OnlineOrder.paid_at) < end,
    )
    named = {line.out_trade_no for line in lines}
    transactions = {line.transaction_id for line in lines if line.transaction_id}
    which = [paid_that_day]
    if named:
        which.append(col(OnlineOrder.out_trade_no).in_(sorted(named)))
    if transactions:
        which.append(col(OnlineOrder.transaction_id).in_(sorted(transactions)))
    rows = await uow.session.execute(
        select(OnlineOrder, col(Donation.refunded_fen))
        .outerjoin(Donation, col(Donation.id) == col(OnlineOrder.donation_id))
        .where(col(OnlineOrder.channel) == channel, or_(*which))
    )
    return [
        OurPayment(
            out_trade_no=order.out_trade_no,
            transaction_id=order.transaction_id,
            paid_fen=order.paid_fen if order.status == "paid" else None,
            donation_id=order.donation_id,
            paid_that_day=order.status == "paid"
            and order.paid_at is not None
            and local_date(order.paid_at) == day,
            refunded_fen=refunded or 0,
        )
        for order, refunded in rows.all()
    ]


def check_day(day: date) -> None:
    if day > local_date(now()):
        raise ValidationFailed(f"对账日期不能晚于今天 (the day {day} is in the future)")


async def reconcile(
    uow: SqlUnitOfWork, gateway: PaymentGateway, day: date, actor: str
) -> RunResult:
    """Reconcile one channel's day; the caller commits."""
    check_day(day)
    lines = await fetch_statement(gateway, day)  # before any row is locked
    channel = gateway.channel
    result = match(lines, await our_payments(uow, channel, day, lines))
    at = now()
    run_id = await uow.session.scalar(
        insert(ReconciliationRun)
        .values(id=uuid.uuid4(), channel=channel, day=day, started_at=at, run_by=actor[:64])
        .on_conflict_do_update(
            index_elements=["channel", "day"],
            set_={"started_at": at, "finished_at": None, "run_by": actor[:64]},
        )
        .returning(col(ReconciliationRun.id))
    )
    assert run_id is not None
    await uow.session.execute(
        delete(ReconciliationFinding).where(
            col(ReconciliationFinding.run_id) == run_id,
            col(ReconciliationFinding.status) == "open",
        )
    )
    resolved = {
        _key(f)
        for f in (
            await uow.session.execute(
                select(ReconciliationFinding).where(col(ReconciliationFinding.run_id) == run_id)
            )
        ).scalars()
    }
    for finding in result.findings:
        if finding.key in resolved:
            continue  # found again, explained already
        uow.session.add(_finding_row(finding, run_id, channel, day, at))
    run = await uow.session.get(ReconciliationRun, run_id, populate_existing=True)
    assert run is not None
    run.lines, run.matched, run.findings = result.lines, result.matched, len(result.findings)
    run.finished_at = now()
    await uow.session.flush()
    audit(
        uow.session,
        actor=actor,
        action="reconciliation.run",
        entity="reconciliation_run",
        entity_id=str(run_id),
        after={"channel": channel, "day": day, **_counts(result)},
    )
    if result.findings:
        log.warning(
            "reconciliation found differences",
            extra={"channel": channel, "day": str(day), **_counts(result)},
        )
    return RunResult(run, await run_findings(uow, run_id))


def _counts(result: MatchResult) -> dict[str, object]:
    kinds: dict[str, int] = {}
    for finding in result.findings:
        kinds[finding.kind] = kinds.get(finding.kind, 0) + 1
    return {
        "lines": result.lines,
        "matched": result.matched,
        "findings": len(result.findings),
        "kinds": kinds,
    }


def _key(row: ReconciliationFinding) -> tuple[str, str, str | None, int | None, int | None]:
    return (row.kind, row.out_trade_no, row.transaction_id, row.statement_fen, row.our_fen)


def _finding_row(
    finding: Finding, run_id: uuid.UUID, channel: str, day: date, at: datetime
) -> ReconciliationFinding:
    return ReconciliationFinding(
        id=uuid.uuid4(),
        run_id=run_id,
        channel=channel,
        day=day,
        kind=finding.kind,
        out_trade_no=finding.out_trade_no[:64],
        transaction_id=finding.transaction_id[:64] if finding.transaction_id else None,
        statement_fen=finding.statement_fen,
        our_fen=finding.our_fen,
        donation_id=finding.donation_id,
        status="open",
        created_at=at,
    )


async def run_findings(uow: SqlUnitOfWork, run_id: uuid.UUID) -> list[ReconciliationFinding]:
    rows = await uow.session.execute(
        select(ReconciliationFinding)
        .where(col(ReconciliationFinding.run_id) == run_id)
        .order_by(col(ReconciliationFinding.kind), col(ReconciliationFinding.out_trade_no))
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def resolve_finding(
    uow: SqlUnitOfWork, finding_id: uuid.UUID, resolution: str, actor: str
) -> ReconciliationFinding:
    """Close a finding with finance's note; the caller commits."""
    note = resolution.strip()
    if not note:
        raise ValidationFailed("请填写处理说明 (a resolution note is required)")
    if len(note) > RESOLUTION_MAX:
        raise ValidationFailed(
            f"处理说明不能超过 {RESOLUTION_MAX} 字 (at most {RESOLUTION_MAX} characters)"
        )
    finding = await lock_row(
        uow,
        ReconciliationFinding,
        finding_id,
        f"对账差异不存在 (reconciliation finding {finding_id} not found)",
    )
    if finding.status != "open":
        raise Conflict(
            f"该差异已于 {finding.resolved_at} 由 {finding.resolved_by} 处理 "
            "(the finding is already resolved)"
        )
    finding.status = "resolved"
    finding.resolution = note
    finding.resolved_by = actor[:64]
    finding.resolved_at = now()
    audit(
        uow.session,
        actor=actor,
        action="reconciliation_finding.resolved",
        entity="reconciliation_finding",
        entity_id=str(finding.id),
        before={"status": "open"},
        after={"status": "resolved", "resolution": note, "kind": finding.kind},
    )
    await uow.session.flush()
    return finding


# reading


async def list_runs(
    uow: SqlUnitOfWork, *, channel: str | None, limit: int, cursor: str | None
) -> tuple[list[ReconciliationRun], str | None]:
    """Runs, newest day first (then by channel)."""
    query = select(ReconciliationRun)
    if channel:
        query = query.where(col(ReconciliationRun.channel) == channel)
    if cursor is not None:
        day, last = decode_cursor(cursor, 2, date.fromisoformat, str)
        query = query.where(
            or_(
                col(ReconciliationRun.day) < day,
                and_(col(ReconciliationRun.day) == day, col(ReconciliationRun.channel) > last),
            )
        )
    query = query.order_by(col(ReconciliationRun.day).desc(), col(ReconciliationRun.channel))
    rows = list((await uow.session.execute(query.limit(limit + 1))).scalars())
    page = rows[:limit]
    next_cursor = (
        encode_cursor(page[-1].day.isoformat(), page[-1].channel) if len(rows) > limit else None
    )
    return page, next_cursor


async def list_findings(
    uow: SqlUnitOfWork,
    *,
    status: str | None,
    channel: str | None,
    day: date | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[ReconciliationFinding], str | None]:
    """Findings, newest first."""
    query = select(ReconciliationFinding)
    if status:
        query = query.where(col(ReconciliationFinding.status) == status)
    if channel:
        query = query.where(col(ReconciliationFinding.channel) == channel)
    if day is not None:
        query = query.where(col(ReconciliationFinding.day) == day)
    if cursor is not None:
        at, last = decode_cursor(cursor, 2, datetime.fromisoformat, uuid.UUID)
        query = query.where(
            or_(
                col(ReconciliationFinding.created_at) < at,
                and_(
                    col(ReconciliationFinding.created_at) == at,
                    col(ReconciliationFinding.id) < last,
                ),
            )
        )
    query = query.order_by(
        col(ReconciliationFinding.created_at).desc(), col(ReconciliationFinding.id).desc()
    )
    rows = list((await uow.session.execute(query.limit(limit + 1))).scalars())
    page = rows[:limit]
    next_cursor = (
        encode_cursor(page[-1].created_at.isoformat(), str(page[-1].id))
        if len(rows) > limit
        else None
    )
    return page, next_cursor


# the nightly run


async def finished_run(uow: SqlUnitOfWork, channel: str, day: date) -> bool:
    found = await uow.session.scalar(
        select(col(ReconciliationRun.id)).where(
            col(ReconciliationRun.channel) == channel,
            col(ReconciliationRun.day) == day,
            col(ReconciliationRun.finished_at).is_not(None),
        )
    )
    return found is not None


async def nightly_once(runtime: ServiceRuntime, gateways: Gateways, at: datetime) -> list[str]:
    """Reconcile yesterday for each channel not yet done, once past the hour; the channels
    reconciled now. A failure (the statement not ready, the gateway down) is tried again at
    the next check."""
    settings = runtime.settings
    assert isinstance(settings, DonationSettings)
    local = at.astimezone(LOCAL_TZ)
    if local.hour < settings.reconcile_after_hour:
        return []
    day = local.date() - timedelta(days=1)
    done: list[str] = []
    for channel in gateways.channels():
        stop_if_cancelled()
        async with runtime.unit_of_work() as uow:
            if await finished_run(uow, channel, day):
                continue
        try:
            async with runtime.unit_of_work() as uow:
                result = await reconcile(uow, gateways.get(channel), day, NIGHTLY_ACTOR)
                await uow.commit()
        except AppError as exc:
            log.warning(
                "nightly reconciliation failed",
                extra={"channel": channel, "day": str(day), "error": exc.message},
            )
            continue
        log.info(
            "nightly reconciliation",
            extra={"channel": channel, "day": str(day), "findings": result.run.findings},
        )
        done.append(channel)
    return done


async def run_nightly(runtime: ServiceRuntime, gateways: Gateways) -> None:
    while True:
        stop_if_cancelled()
        await nightly_once(runtime, gateways, now())
        await asyncio.sleep(NIGHTLY_CHECK_S)
