"""Requisitions (请领): a town station asks the district for stock; the district approves it
(in full or in part, a reason required for the part), or refuses it with a reason; the
requester may cancel it while it waits.

An approved requisition becomes a transfer through the existing dispatch commands: requested
on behalf of the requisition's requester (``requested_by`` = the station's keeper or
dispatcher, in the deciding approver's organisation, the district, which reaches the source)
and at once approved by the deciding approver — the dispatches' four-eyes rule (approver ≠
requester) holds, so the transfer goes straight to picking. A decided requisition changes no
more (409).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.ids import uuid7
from shared.subjects import same_subject
from warehouse.adapters.orm import requisitions, warehouses
from warehouse.domain.commands import ApproveDispatch, Destination, RequestDispatch
from warehouse.domain.model import local_today
from warehouse.service_layer import clock, scope
from warehouse.service_layer.dispatch import approve_dispatch, request_dispatch
from warehouse.service_layer.errors import InsufficientStock, approver_allowed
from warehouse.service_layer.fill_gap import source_pickable
from warehouse.service_layer.plans import default_source, plan_by_code
from warehouse.service_layer.stock import audit, item_by_code, warehouse_by_code
from warehouse.service_layer.tx import Tx

REQUESTED, APPROVED, PARTLY, REFUSED, CANCELLED = (
    "requested",
    "approved",
    "partly_approved",
    "refused",
    "cancelled",
)
STATUS_ZH = {
    REQUESTED: "待审批",
    APPROVED: "已批准",
    PARTLY: "部分批准",
    REFUSED: "已拒绝",
    CANCELLED: "已撤回",
}


async def _next_no(session: AsyncSession, year: int) -> str:
    """``RQ-<year>-<n>``: the year's next number (an advisory lock serialises the count)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('requisition_no'))"))
    prefix = f"RQ-{year}-"
    last = (
        await session.execute(
            select(func.max(requisitions.c.requisition_no)).where(
                requisitions.c.requisition_no.like(f"{prefix}%")
            )
        )
    ).scalar_one_or_none()
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:06d}"


async def create_requisition(
    tx: Tx,
    *,
    warehouse_code: str,
    lines: list[tuple[str, int]],
    reason: str,
    urgency: str,
    plan_code: str | None,
    actor: str,
    actor_org: str,
) -> uuid.UUID:
    """A station's requisition, waiting for the district (status requested)."""
    session = tx.session
    station = await warehouse_by_code(session, warehouse_code)
    await scope.ensure_reaches(session, actor_org, station, verb="请领")
    if station.kind != "station":
        raise ValidationFailed(
            f"只有救灾站可以请领，{warehouse_code} 是区级仓库"
            f" (only a station raises a requisition; {warehouse_code} is the district's)"
        )
    if not station.active:
        raise Conflict(f"仓库已停用：{warehouse_code} (warehouse {warehouse_code} is inactive)")
    codes = [code for code, _ in lines]
    if len(set(codes)) != len(codes):
        raise ValidationFailed("同一物资请合并为一行 (each item may appear once)")
    stored = []
    for code, quantity in lines:
        item = await item_by_code(session, code)
        if not item.active:
            raise Conflict(f"物资已停用：{code} (item {code} is inactive)")
        stored.append(
            {
                "item_id": str(item.id),
                "item_code": item.code,
                "item_name": item.name,
                "unit": item.unit,
                "quantity": quantity,
                "approved_quantity": None,
            }
        )
    plan_id = (await plan_by_code(session, plan_code)).id if plan_code else None
    now = clock.now()
    requisition_id = uuid7()
    number = await _next_no(session, now.year)
    await session.execute(
        pg_insert(requisitions).values(
            id=requisition_id,
            requisition_no=number,
            warehouse_id=station.id,
            status=REQUESTED,
            lines=stored,
            reason=reason,
            urgency=urgency,
            plan_id=plan_id,
            requested_by=actor,
            requested_at=now,
            version=1,
            updated_at=now,
        )
    )
    await _audit(session, actor, "requisition.request", requisition_id, {"no": number})
    return requisition_id


async def _open(session: AsyncSession, requisition_id: uuid.UUID, expected: int | None) -> Any:
    """The requisition, locked; 404 if none, 409 if decided or not at ``expected``."""
    row = (
        await session.execute(
            select(requisitions).where(requisitions.c.id == requisition_id).with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound(f"请领单不存在 (requisition {requisition_id} not found)")
    if row.status != REQUESTED:
        raise Conflict(
            f"请领单已处理（{STATUS_ZH.get(row.status, row.status)}），不能再变更"
            f" (requisition is {row.status})",
            details={"status": row.status},
        )
    if expected is not None and row.version != expected:
        raise Conflict(
            "请领单已被他人修改，请刷新后重试 (version mismatch)",
            details={"current_version": row.version},
        )
    return row


async def _decide(session: AsyncSession, row: Any, status: str, **values: Any) -> None:
    now = clock.now()
    await session.execute(
        update(requisitions)
        .where(requisitions.c.id == row.id)
        .values(status=status, version=row.version + 1, updated_at=now, **values)
    )


async def approve_requisition(
    tx: Tx,
    requisition_id: uuid.UUID,
    *,
    source_warehouse_code: str | None,
    approved: dict[str, int],
    reason: str | None,
    expected: int | None,
    actor: str,
    actor_org: str,
    min_days: int,
) -> uuid.UUID:
    """Approve (``approved``: item code → quantity, items left out in full); the dispatch id.
    What is approved must be there to give: the source's pickable units (``min_days``: the
    picking rule's days to expiry) less what its open dispatches have promised, else 409."""
    scope.ensure_district(actor_org, "审批请领", "decide requisitions")
    session = tx.session
    row = await _open(session, requisition_id, expected)
    approver_allowed(row.requested_by, actor)
    requested = {line["item_code"]: line for line in row.lines}
    unknown = sorted(set(approved) - set(requested))
    if unknown:
        raise ValidationFailed(
            f"物资不在本请领单中：{', '.join(unknown)} (not on this requisition)",
            details={"item_codes": unknown},
        )
    lines = []
    for code, line in requested.items():
        quantity = approved.get(code, line["quantity"])
        if quantity > line["quantity"]:
            raise ValidationFailed(
                f"{code} 批准数量 {quantity} 超过请领数量 {line['quantity']}"
                " (approved more than requested)"
            )
        lines.append(line | {"approved_quantity": quantity})
    if all(line["approved_quantity"] == 0 for line in lines):
        raise ValidationFailed("批准数量全部为 0，请使用拒绝 (nothing approved: refuse instead)")
    partly = any(line["approved_quantity"] < line["quantity"] for line in lines)
    if partly and not (reason or "").strip():
        raise ValidationFailed(
            "部分批准须填写原因 reason (a reason is required to approve in part)"
        )
    source = (
        await warehouse_by_code(session, source_warehouse_code)
        if source_warehouse_code
        else await default_source(session)
    )
    if source is None:
        raise Conflict(
            "没有在用的区级仓库，请指定调出仓库 (no district warehouse: name the source)"
        )
    await _ensure_source_has(session, source, lines, min_days=min_days)
    target = (
        await session.execute(select(warehouses).where(warehouses.c.id == row.warehouse_id))
    ).one()
    done = await request_dispatch(
        tx,
        RequestDispatch(
            from_warehouse_code=source.code,
            destination=Destination(kind="warehouse", warehouse_code=target.code),
            lines=tuple(
                (line["item_code"], line["approved_quantity"])
                for line in lines
                if line["approved_quantity"] > 0
            ),
            actor=row.requested_by,  # the requisition's requester asked for it
            actor_org=actor_org,
            urgency=row.urgency,
            note=f"请领单 {row.requisition_no} (requisition {row.requisition_no})",
            requested_at=clock.now(),
        ),
    )
    await approve_dispatch(
        tx, ApproveDispatch(done.row.id, actor, actor_org=actor_org, expected_version=1)
    )
    now = clock.now()
    await _decide(
        session,
        row,
        PARTLY if partly else APPROVED,
        lines=lines,
        source_warehouse_id=source.id,
        decided_by=actor,
        decided_at=now,
        decided_reason=(reason or "").strip() or None,
        dispatch_id=done.row.id,
    )
    await _audit(
        session,
        actor,
        "requisition.partly_approve" if partly else "requisition.approve",
        row.id,
        {
            "dispatch_id": str(done.row.id),
            "source": source.code,
            "approved": {line["item_code"]: line["approved_quantity"] for line in lines},
            "reason": reason,
        },
    )
    return uuid.UUID(str(done.row.id))


async def _ensure_source_has(
    session: AsyncSession, source: Any, lines: list[dict[str, Any]], *, min_days: int
) -> None:
    """:class:`InsufficientStock` (409) naming every item the source cannot give in full."""
    wanted = {line["item_code"]: line["approved_quantity"] for line in lines}
    wanted = {code: q for code, q in wanted.items() if q > 0}
    ids = {code: (await item_by_code(session, code)).id for code in wanted}
    can_give = await source_pickable(
        session,
        source.id,
        set(ids.values()),
        today=local_today(clock.now()),
        min_days=min_days,
    )
    short = {
        code: {"approved": q, "pickable": can_give[ids[code]]}
        for code, q in wanted.items()
        if can_give[ids[code]] < q
    }
    if short:
        figures = "；".join(
            f"{code} 批准 {f['approved']}，可调 {f['pickable']}" for code, f in short.items()
        )
        raise InsufficientStock(
            f"调出仓库 {source.code} 可调库存不足：{figures}，请减少批准数量或换调出仓库 "
            f"(the source cannot give what is approved: approve less, or name another source)",
            details={"source_warehouse_code": source.code, "items": short},
        )


async def refuse_requisition(
    tx: Tx,
    requisition_id: uuid.UUID,
    *,
    reason: str,
    expected: int | None,
    actor: str,
    actor_org: str,
) -> None:
    scope.ensure_district(actor_org, "审批请领", "decide requisitions")
    session = tx.session
    row = await _open(session, requisition_id, expected)
    approver_allowed(row.requested_by, actor)
    await _decide(
        session, row, REFUSED, decided_by=actor, decided_at=clock.now(), decided_reason=reason
    )
    await _audit(session, actor, "requisition.refuse", row.id, {"reason": reason})


async def cancel_requisition(
    tx: Tx,
    requisition_id: uuid.UUID,
    *,
    reason: str | None,
    expected: int | None,
    actor: str,
) -> None:
    """The requester withdraws a requisition that is still waiting."""
    session = tx.session
    row = await _open(session, requisition_id, expected)
    if not same_subject(row.requested_by, actor):
        raise Forbidden(
            f"只有申请人 {row.requested_by} 可以撤回请领单"
            f" (only the requester {row.requested_by} may cancel it)"
        )
    await _decide(
        session, row, CANCELLED, decided_by=actor, decided_at=clock.now(), decided_reason=reason
    )
    await _audit(session, actor, "requisition.cancel", row.id, {"reason": reason})


async def _audit(
    session: AsyncSession, actor: str, action: str, entity_id: Any, detail: dict[str, Any]
) -> None:
    await audit(
        session,
        actor=actor,
        action=action,
        entity_type="requisition",
        entity_id=str(entity_id),
        at=clock.now(),
        detail=detail,
    )
