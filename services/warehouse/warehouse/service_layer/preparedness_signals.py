"""The preparedness sweep: publish the "below reorder threshold" and "plan gap" signals that
changed, through the outbox (smart preparedness, 智慧备灾).

Every sweep assesses every item in every warehouse (``preparedness.assess``) and every town of
the active plans (``plans.active_plan_gaps``), compares each signal with the last state
published for it (table ``preparedness_signals``) and publishes only a change:

* a signal turning **on** (below the reorder threshold; a plan gap opening),
* turning **off**,
* staying on but **materially different**: the suggested quantity moved by
  :data:`MATERIAL_CHANGE` (10 %) or more of the last published one (and by at least one
  unit), or the plan gap changed size at all (a gap is a count staff act on unit by unit);
* a key that is no longer assessed (item deactivated, plan closed) while its signal is on is
  published once as off.

A signal that was never on is neither published nor stored. The stored ``detail`` is the last
*published* payload, so small moves cannot creep past the threshold unnoticed. The whole sweep
is one transaction under an advisory lock: two sweeps (the loop of two processes, the staff
route) never publish the same change twice, and a second run publishes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, Protocol

from prometheus_client import Counter, Histogram
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.warehouse import (
    PLAN_GAP_SIGNAL,
    REORDER_SIGNAL,
    TOPIC,
    PlanGapSignalV1,
    ReorderSignalV1,
    level_key,
    plan_gap_key,
)
from shared.runtime import ServiceRuntime
from warehouse.adapters.orm import preparedness_signals
from warehouse.config import WarehouseSettings
from warehouse.service_layer import clock, plans, preparedness
from warehouse.service_layer.tx import Tx

log = logging.getLogger("sunshine.warehouse.preparedness_sweep")

SignalKind = Literal["below_reorder", "plan_gap"]
Transition = Literal["on", "off", "changed"]
MATERIAL_CHANGE = Decimal("0.10")
_CENT = Decimal("0.01")
_LOCK_KEY = "warehouse.preparedness_sweep"

SIGNALS_PUBLISHED = Counter(
    "sunshine_preparedness_signals_published_total",
    "Preparedness signals published by the sweep, by kind and transition (on, off, changed)",
    ["kind", "state"],
)
SWEEP_SECONDS = Histogram(
    "sunshine_preparedness_sweep_seconds",
    "Time one preparedness sweep took (assess, compare, publish, commit)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
SWEEP_FAILURES = Counter(
    "sunshine_preparedness_sweep_failures_total", "Preparedness sweeps that failed (retried)"
)


# --------------------------------------------------------------------------- what is read


class PolicyLike(Protocol):
    @property
    def reorder_mos(self) -> Decimal | None: ...
    @property
    def target_mos(self) -> Decimal | None: ...
    @property
    def min_quantity(self) -> int | None: ...
    @property
    def max_quantity(self) -> int | None: ...
    @property
    def source(self) -> str: ...


class SuggestionLike(Protocol):
    @property
    def quantity(self) -> int: ...


class AssessmentLike(Protocol):
    """What the sweep reads of ``preparedness.LevelAssessment``."""

    @property
    def warehouse_code(self) -> str: ...
    @property
    def warehouse_name(self) -> str: ...
    @property
    def town(self) -> str | None: ...
    @property
    def item_code(self) -> str: ...
    @property
    def item_name(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def available(self) -> int: ...
    @property
    def in_transit(self) -> int: ...
    @property
    def on_order(self) -> int: ...
    @property
    def amc(self) -> Decimal: ...
    @property
    def mos(self) -> Decimal | None: ...
    @property
    def policy(self) -> PolicyLike: ...
    @property
    def suggestion(self) -> SuggestionLike: ...
    @property
    def below_reorder(self) -> bool: ...


class TownGapLike(Protocol):
    """What the sweep reads of ``plans.TownGap``."""

    @property
    def plan_code(self) -> str: ...
    @property
    def plan_name(self) -> str: ...
    @property
    def town(self) -> str: ...
    @property
    def item_code(self) -> str: ...
    @property
    def item_name(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def target(self) -> int: ...
    @property
    def held(self) -> int: ...
    @property
    def in_transit(self) -> int: ...
    @property
    def gap(self) -> int: ...


Assess = Callable[..., Awaitable[Sequence[AssessmentLike]]]
PlanGaps = Callable[..., Awaitable[Sequence[TownGapLike]]]


# --------------------------------------------------------------------------- change detection


@dataclass(frozen=True)
class Signal:
    """One signal as assessed now: its payload without the on/off flag, version and time."""

    kind: SignalKind
    key: str  # the Kafka key
    active: bool
    detail: dict[str, Any]  # JSON-ready

    @property
    def row_key(self) -> str:
        return f"{self.kind}:{self.key}"


@dataclass(frozen=True)
class Published:
    """The last state published for a signal (a row of ``preparedness_signals``)."""

    kind: SignalKind
    key: str
    active: bool
    detail: dict[str, Any]
    version: int


@dataclass(frozen=True)
class Change:
    signal: Signal
    version: int
    transition: Transition


def measure(kind: SignalKind, detail: Mapping[str, Any]) -> int:
    """The figure whose move makes a signal that stays on worth publishing again."""
    return int(detail["suggested_quantity"] if kind == "below_reorder" else detail["gap"])


def material(kind: SignalKind, before: Mapping[str, Any], now: Mapping[str, Any]) -> bool:
    """Did a signal that stays on change enough to tell the consumers again?"""
    old, new = measure(kind, before), measure(kind, now)
    if new == old:
        return False
    if kind == "plan_gap":
        return True
    return Decimal(abs(new - old)) >= MATERIAL_CHANGE * old


def detect_changes(known: Mapping[str, Published], current: Iterable[Signal]) -> list[Change]:
    """What to publish: ``known`` by row key (``kind:key``), ``current`` as assessed now."""
    changes: list[Change] = []
    seen: set[str] = set()
    for signal in current:
        seen.add(signal.row_key)
        before = known.get(signal.row_key)
        if before is None:
            if signal.active:
                changes.append(Change(signal, 1, "on"))
        elif before.active != signal.active:
            changes.append(Change(signal, before.version + 1, "on" if signal.active else "off"))
        elif signal.active and material(signal.kind, before.detail, signal.detail):
            changes.append(Change(signal, before.version + 1, "changed"))
    for row_key, before in sorted(known.items()):
        if row_key not in seen and before.active:
            gone = Signal(before.kind, before.key, False, dict(before.detail))
            changes.append(Change(gone, before.version + 1, "off"))
    return changes


# --------------------------------------------------------------------------- signals and events


def _cents(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return str(Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP))


def reorder_signal(a: AssessmentLike) -> Signal:
    """A min/max policy (both quantities set) has no months thresholds: they are left null."""
    policy = a.policy
    min_max = policy.min_quantity is not None and policy.max_quantity is not None
    detail = {
        "warehouse_code": a.warehouse_code,
        "warehouse_name": a.warehouse_name,
        "town": a.town,
        "item_code": a.item_code,
        "item_name": a.item_name,
        "category": a.category,
        "unit": a.unit,
        "available": max(int(a.available), 0),
        "in_transit": max(int(a.in_transit), 0),
        "on_order": max(int(a.on_order), 0),
        "amc": _cents(a.amc),
        "mos": _cents(a.mos),
        "reorder_mos": None if min_max else _cents(policy.reorder_mos),
        "target_mos": None if min_max else _cents(policy.target_mos),
        "min_quantity": policy.min_quantity if min_max else None,
        "max_quantity": policy.max_quantity if min_max else None,
        "suggested_quantity": max(int(a.suggestion.quantity), 0),
        "policy_source": policy.source,
    }
    key = level_key(a.warehouse_code, a.item_code)
    return Signal("below_reorder", key, bool(a.below_reorder), detail)


def plan_gap_signal(g: TownGapLike) -> Signal:
    gap = max(int(g.gap), 0)
    detail = {
        "plan_code": g.plan_code,
        "plan_name": g.plan_name,
        "town": g.town,
        "item_code": g.item_code,
        "item_name": g.item_name,
        "unit": g.unit,
        "target": max(int(g.target), 0),
        "held": max(int(g.held), 0),
        "in_transit": max(int(g.in_transit), 0),
        "gap": gap,
    }
    return Signal("plan_gap", plan_gap_key(g.plan_code, g.town, g.item_code), gap > 0, detail)


def event_of(change: Change, at: datetime) -> ReorderSignalV1 | PlanGapSignalV1:
    signal = change.signal
    common = {"version": change.version, "assessed_at": at}
    if signal.kind == "below_reorder":
        return ReorderSignalV1.model_validate(
            {**signal.detail, **common, "below_reorder": signal.active}
        )
    return PlanGapSignalV1.model_validate({**signal.detail, **common, "open": signal.active})


# --------------------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class SweepResult:
    assessed: int  # item-warehouse levels assessed
    plan_gaps: int  # plan town-item lines assessed
    reorder_on: int
    reorder_off: int
    reorder_changed: int
    gap_open: int
    gap_closed: int
    gap_changed: int
    assessed_at: datetime

    @property
    def published(self) -> int:
        return (
            self.reorder_on
            + self.reorder_off
            + self.reorder_changed
            + self.gap_open
            + self.gap_closed
            + self.gap_changed
        )

    def counts(self) -> dict[str, int]:
        return {
            "assessed": self.assessed,
            "plan_gaps": self.plan_gaps,
            "reorder_on": self.reorder_on,
            "reorder_off": self.reorder_off,
            "reorder_changed": self.reorder_changed,
            "gap_open": self.gap_open,
            "gap_closed": self.gap_closed,
            "gap_changed": self.gap_changed,
            "published": self.published,
        }


async def load_published(session: AsyncSession) -> dict[str, Published]:
    rows = (await session.execute(select(preparedness_signals))).all()
    return {
        row.key: Published(
            row.kind, row.key.split(":", 1)[1], row.active, dict(row.detail), row.version
        )
        for row in rows
    }


async def _store(session: AsyncSession, change: Change, at: datetime) -> None:
    signal = change.signal
    values = {
        "key": signal.row_key,
        "kind": signal.kind,
        "active": signal.active,
        "detail": signal.detail,
        "version": change.version,
        "updated_at": at,
    }
    stmt = pg_insert(preparedness_signals).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["key"], set_={k: stmt.excluded[k] for k in values if k != "key"}
        )
    )


async def _real_assess(
    session: AsyncSession, settings: WarehouseSettings, *, today: date | None
) -> Sequence[AssessmentLike]:
    return await preparedness.assess(session, settings, today=today)


async def _real_plan_gaps(session: AsyncSession, *, today: date | None) -> Sequence[TownGapLike]:
    return await plans.active_plan_gaps(session, today=today)


async def sweep(
    tx: Tx,
    settings: WarehouseSettings,
    *,
    today: date | None = None,
    assess: Assess | None = None,
    plan_gaps: PlanGaps | None = None,
) -> SweepResult:
    """Assess, compare with what was published, stage the changes on ``tx`` and store them.
    ``assess`` and ``plan_gaps`` default to the real computations (tests may pass fakes)."""
    session = tx.session
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": _LOCK_KEY}
    )
    levels = await (assess or _real_assess)(session, settings, today=today)
    gaps = await (plan_gaps or _real_plan_gaps)(session, today=today)
    current = [reorder_signal(a) for a in levels] + [plan_gap_signal(g) for g in gaps]
    changes = detect_changes(await load_published(session), current)
    at = clock.now()
    tally: dict[tuple[SignalKind, Transition], int] = {}
    for change in changes:
        await _store(session, change, at)
        tx.publish(
            topic=TOPIC,
            key=change.signal.key,
            subject=change.signal.key,
            type=REORDER_SIGNAL if change.signal.kind == "below_reorder" else PLAN_GAP_SIGNAL,
            payload=event_of(change, at),
        )
        slot = (change.signal.kind, change.transition)
        tally[slot] = tally.get(slot, 0) + 1
    return SweepResult(
        assessed=len(levels),
        plan_gaps=len(gaps),
        reorder_on=tally.get(("below_reorder", "on"), 0),
        reorder_off=tally.get(("below_reorder", "off"), 0),
        reorder_changed=tally.get(("below_reorder", "changed"), 0),
        gap_open=tally.get(("plan_gap", "on"), 0),
        gap_closed=tally.get(("plan_gap", "off"), 0),
        gap_changed=tally.get(("plan_gap", "changed"), 0),
        assessed_at=at,
    )


def count_published(result: SweepResult) -> None:
    """Count a committed sweep's signals in the metrics."""
    for kind, state, n in (
        ("below_reorder", "on", result.reorder_on),
        ("below_reorder", "off", result.reorder_off),
        ("below_reorder", "changed", result.reorder_changed),
        ("plan_gap", "on", result.gap_open),
        ("plan_gap", "off", result.gap_closed),
        ("plan_gap", "changed", result.gap_changed),
    ):
        if n:
            SIGNALS_PUBLISHED.labels(kind, state).inc(n)


def log_sweep(result: SweepResult, seconds: float, *, actor: str) -> None:
    log.info(
        "preparedness sweep",
        extra={**result.counts(), "seconds": round(seconds, 3), "actor": actor},
    )


async def run_sweep(runtime: ServiceRuntime, *, today: date | None = None) -> SweepResult:
    """One sweep in its own transaction, timed, counted and logged (the background loop)."""
    settings = runtime.settings
    assert isinstance(settings, WarehouseSettings)
    started = time.perf_counter()
    async with runtime.unit_of_work() as uow:
        result = await sweep(uow, settings, today=today)
        await uow.commit()
    seconds = time.perf_counter() - started
    SWEEP_SECONDS.observe(seconds)
    count_published(result)
    log_sweep(result, seconds, actor="system:preparedness")
    return result


def next_delay(interval_s: float, rng: random.Random | None = None) -> float:
    """The interval, jittered by ±10 %, so the processes of a deployment do not sweep in step."""
    return interval_s * (rng or random).uniform(0.9, 1.1)


async def sweep_loop(runtime: ServiceRuntime) -> None:
    """Sweep every ``preparedness_sweep_seconds`` (jittered), the first one a jittered interval
    after start-up; a failure is logged and counted, never ends the loop."""
    settings = runtime.settings
    assert isinstance(settings, WarehouseSettings)
    interval = float(settings.preparedness_sweep_seconds)
    while True:
        await asyncio.sleep(next_delay(interval))
        try:
            await run_sweep(runtime)
        except asyncio.CancelledError:
            raise
        except Exception:
            SWEEP_FAILURES.inc()
            log.exception("preparedness sweep failed; retrying at the next interval")
