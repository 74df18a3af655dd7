"""Preparedness alerts from ``warehouse.events`` (smart preparedness, 智慧备灾).

* ``below_reorder``, from ``preparedness.reorder_signal.v1``: raised while an item in a
  warehouse is below its reorder threshold, resolved when the signal turns off.
* ``plan_gap``, from ``preparedness.plan_gap_signal.v1``: raised while a town holds less than
  the active season plan targets, resolved when the gap closes. Its alert is keyed by
  ``warehouse_code = <plan_code>/<town>`` and the item code.

State first, alerts second, as for stock alerts: the newest signal per (kind, key) is kept
(``version`` increases per key; an older or repeated one changes nothing), then the alert is
reconciled with it by :func:`notification.service_layer.alerts.reconcile` — the same
one-unresolved-alert rule, notices, re-raising (occurrence + 1) and resolution.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification.adapters.alert_tables import preparedness_signals
from notification.config import NotificationSettings
from notification.domain.alerts import AlertKind, plan_gap_place
from notification.service_layer.alerts import Place, lock_place, reconcile
from notification.service_layer.notices import Routing
from shared.contracts.warehouse import (
    PLAN_GAP_SIGNAL,
    REORDER_SIGNAL,
    PlanGapSignalV1,
    ReorderSignalV1,
    level_key,
    plan_gap_key,
)
from shared.messaging.consumer import EventHandler
from shared.messaging.envelope import CloudEvent


async def newest(
    session: AsyncSession,
    *,
    kind: AlertKind,
    key: str,
    active: bool,
    version: int,
    assessed_at: datetime,
    event_id: str,
) -> bool:
    """Keep the signal if it is newer than the one kept; ``False``: an older or the same one."""
    values = {
        "kind": kind,
        "signal_key": key,
        "active": active,
        "version": version,
        "assessed_at": assessed_at,
        "event_id": event_id,
    }
    stmt = pg_insert(preparedness_signals).values(**values)
    kept = (
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["kind", "signal_key"],
                set_={
                    k: stmt.excluded[k] for k in ("active", "version", "assessed_at", "event_id")
                },
                where=preparedness_signals.c.version < stmt.excluded.version,
            ).returning(preparedness_signals.c.signal_key)
        )
    ).first()
    return kept is not None


def reorder_details(signal: ReorderSignalV1) -> dict[str, Any]:
    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return {
        "unit": signal.unit,
        "town": signal.town,
        "category": signal.category,
        "available": signal.available,
        "in_transit": signal.in_transit,
        "on_order": signal.on_order,
        "amc": text(signal.amc),
        "mos": text(signal.mos),
        "reorder_mos": text(signal.reorder_mos),
        "target_mos": text(signal.target_mos),
        "min_quantity": signal.min_quantity,
        "max_quantity": signal.max_quantity,
        "suggested_quantity": signal.suggested_quantity,
        "policy_source": signal.policy_source,
        "version": signal.version,
    }


def plan_gap_details(signal: PlanGapSignalV1) -> dict[str, Any]:
    return {
        "unit": signal.unit,
        "plan_code": signal.plan_code,
        "plan_name": signal.plan_name,
        "town": signal.town,
        "target": signal.target,
        "held": signal.held,
        "in_transit": signal.in_transit,
        "gap": signal.gap,
        "version": signal.version,
    }


async def apply_reorder_signal(
    session: AsyncSession, routing: Routing, signal: ReorderSignalV1, event_id: str
) -> str | None:
    await lock_place(session, signal.warehouse_code, signal.item_code)
    fresh = await newest(
        session,
        kind="below_reorder",
        key=level_key(signal.warehouse_code, signal.item_code),
        active=signal.below_reorder,
        version=signal.version,
        assessed_at=signal.assessed_at,
        event_id=event_id,
    )
    if not fresh:
        return None
    place = Place(signal.warehouse_code, signal.item_code, signal.warehouse_name, signal.item_name)
    return await reconcile(
        session,
        routing,
        kind="below_reorder",
        place=place,
        holds=signal.below_reorder,
        details=reorder_details(signal),
        event_id=event_id,
        at=signal.assessed_at,
    )


async def apply_plan_gap_signal(
    session: AsyncSession, routing: Routing, signal: PlanGapSignalV1, event_id: str
) -> str | None:
    where = plan_gap_place(signal.plan_code, signal.town)
    await lock_place(session, where, signal.item_code)
    fresh = await newest(
        session,
        kind="plan_gap",
        key=plan_gap_key(signal.plan_code, signal.town, signal.item_code),
        active=signal.open,
        version=signal.version,
        assessed_at=signal.assessed_at,
        event_id=event_id,
    )
    if not fresh:
        return None
    place = Place(where, signal.item_code, f"{signal.plan_name}·{signal.town}", signal.item_name)
    return await reconcile(
        session,
        routing,
        kind="plan_gap",
        place=place,
        holds=signal.open,
        details=plan_gap_details(signal),
        event_id=event_id,
        at=signal.assessed_at,
    )


def preparedness_handlers(settings: NotificationSettings) -> dict[str, EventHandler]:
    routing = Routing.from_settings(settings)

    async def on_reorder(session: AsyncSession, event: CloudEvent) -> None:
        signal = ReorderSignalV1.model_validate(event.data)
        await apply_reorder_signal(session, routing, signal, event.id)

    async def on_plan_gap(session: AsyncSession, event: CloudEvent) -> None:
        signal = PlanGapSignalV1.model_validate(event.data)
        await apply_plan_gap_signal(session, routing, signal, event.id)

    return {REORDER_SIGNAL: on_reorder, PLAN_GAP_SIGNAL: on_plan_gap}
