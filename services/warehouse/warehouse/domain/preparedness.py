"""Smart preparedness (智慧备灾), the pure rules: average monthly consumption, months of stock,
the reorder suggestion and the near-expiry rotation list. No I/O; rates are ``Decimal``.

* **AMC** (average monthly consumption, 月均消耗) like mSupply's: what left the warehouse in the
  look-back window, per month of :data:`MONTH_DAYS` days, counted over the days the item was
  *in stock* only — a stock-out hides demand, so those days are left out of the denominator.
  ``AMC = consumed × MONTH_DAYS / (window_days − days_out)``, 0 when the item was out of stock
  the whole window. Rounded to 2 places, half up.
* **MOS** (months of stock, 可用月数) = available ÷ AMC; ``None`` when nothing is consumed.
* **Suggestion**: enough to reach the target (``AMC × target MOS``, or the max quantity of a
  min/max policy) counting what is available, in transit and on order, minus what expires
  within the lead time (it will not be there to be used).
* **Rotation**: walking the lots first-expiry-first-out at the current AMC per day, the units
  of a lot that will still be there on its expiry date are its surplus: dispatch it first,
  transfer it where it is used, or donate it on.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from warehouse.domain.model import LotStock, fefo_order

MONTH_DAYS = Decimal("30.4375")  # 365.25 / 12
TWO_PLACES = Decimal("0.01")
SECONDS_PER_DAY = 86_400

POLICY_SOURCES = ("category", "item")
ROTATION_ACTIONS = ("dispatch_first", "transfer", "donate_on")


def _round2(value: Decimal) -> Decimal:
    return value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


# ------------------------------------------------------------------------------- consumption


@dataclass(frozen=True)
class Issue:
    """Units that left the warehouse (``quantity > 0``): a shipment net of what came back at
    sign-off. ``transfer``: to another of our warehouses; ``incident``: for a named incident
    (an emergency dispatch, not the everyday demand)."""

    at: datetime
    quantity: int
    transfer: bool
    incident: bool


def days_out_of_stock(
    levels: Sequence[tuple[datetime, int]],
    *,
    start: datetime,
    end: datetime,
    on_hand_at_start: int,
) -> int:
    """The days of ``[start, end)`` during which on hand was 0: the total time at zero, from the
    level after each movement (``levels``: (at, on hand after), in the order booked), as whole
    days, *rounded down* (not calendar days: a stock-out from 18:00 to 06:00 is half a day).
    Movements outside the window are ignored except for the level they leave at ``start``,
    which the caller passes as ``on_hand_at_start``."""
    if end <= start:
        return 0
    zero_seconds = 0.0
    level, since = on_hand_at_start, start
    for at, on_hand_after in levels:
        if at < start:
            continue
        if at >= end:
            break
        if level == 0:
            zero_seconds += (at - since).total_seconds()
        level, since = on_hand_after, at
    if level == 0:
        zero_seconds += (end - since).total_seconds()
    return int(zero_seconds // SECONDS_PER_DAY)


def consumed(issues: Iterable[Issue], *, exclude_transfers: bool, exclude_incidents: bool) -> int:
    """The units that count as consumption: transfers and incident dispatches left out when
    asked (a transfer moves stock, it does not use it; an incident is not the everyday rate)."""
    return sum(
        issue.quantity
        for issue in issues
        if not (exclude_transfers and issue.transfer) and not (exclude_incidents and issue.incident)
    )


def average_monthly_consumption(
    issues: Iterable[Issue],
    *,
    window_days: int,
    days_out: int,
    exclude_transfers: bool,
    exclude_incidents: bool,
) -> Decimal:
    """``consumed / window_days × MONTH_DAYS × window_days / (window_days − days_out)``, i.e.
    the consumption per month over the days in stock; 0 when there were none."""
    in_stock_days = window_days - days_out
    if in_stock_days <= 0:
        return Decimal("0.00")
    units = consumed(
        issues, exclude_transfers=exclude_transfers, exclude_incidents=exclude_incidents
    )
    if units <= 0:
        return Decimal("0.00")
    return _round2(Decimal(units) * MONTH_DAYS / Decimal(in_stock_days))


def months_of_stock(available: int, amc: Decimal) -> Decimal | None:
    """``available / amc`` to 2 places; ``None`` when there is no consumption (infinite)."""
    if amc <= 0:
        return None
    return _round2(Decimal(max(available, 0)) / amc)


# ------------------------------------------------------------------------------- suggestions


@dataclass(frozen=True)
class Policy:
    """How much to hold. MOS based: reorder when below ``reorder_mos`` months, fill up to
    ``target_mos``. With ``min_quantity``/``max_quantity`` set (an item policy): reorder below
    min, fill up to max. ``source``: ``category`` (the default of the item's category) or
    ``item`` (a warehouse+item override)."""

    reorder_mos: Decimal
    target_mos: Decimal
    lead_time_days: int
    min_quantity: int | None = None
    max_quantity: int | None = None
    source: str = "category"

    @property
    def min_max(self) -> bool:
        return self.min_quantity is not None and self.max_quantity is not None


@dataclass(frozen=True)
class Suggestion:
    """The reorder suggestion and the figures it comes from."""

    quantity: int
    target_quantity: int
    amc: Decimal
    target_mos: Decimal
    available: int
    in_transit: int
    on_order: int
    expiring_within_lead: int

    @property
    def position(self) -> int:
        """What will be there to use: available + in transit + on order − expiring."""
        return self.available + self.in_transit + self.on_order - self.expiring_within_lead


def target_quantity(amc: Decimal, policy: Policy) -> int:
    """The max quantity of a min/max policy, else ``AMC × target MOS`` rounded up."""
    if policy.min_max:
        assert policy.max_quantity is not None
        return policy.max_quantity
    return math.ceil(amc * policy.target_mos)


def suggest(
    amc: Decimal,
    policy: Policy,
    *,
    available: int,
    in_transit: int,
    on_order: int,
    expiring_within_lead: int,
) -> Suggestion:
    """``ceil(target − (available + in transit + on order − expiring within lead))``, never
    negative. The target is ``AMC × target MOS`` (exact, not rounded first) or the max."""
    position = available + in_transit + on_order - expiring_within_lead
    if policy.min_max:
        assert policy.max_quantity is not None
        gap = Decimal(policy.max_quantity - position)
    else:
        gap = amc * policy.target_mos - Decimal(position)
    return Suggestion(
        quantity=max(math.ceil(gap), 0),
        target_quantity=target_quantity(amc, policy),
        amc=amc,
        target_mos=policy.target_mos,
        available=available,
        in_transit=in_transit,
        on_order=on_order,
        expiring_within_lead=expiring_within_lead,
    )


def below_reorder(
    amc: Decimal, policy: Policy, *, available: int, in_transit: int, on_order: int
) -> bool:
    """Min/max: available + in transit + on order < min. Otherwise the months of stock of
    available + in transit + on order below ``reorder_mos`` (never with no consumption)."""
    pipeline = available + in_transit + on_order
    if policy.min_max:
        assert policy.min_quantity is not None
        return pipeline < policy.min_quantity
    if amc <= 0:
        return False
    return Decimal(pipeline) / amc < policy.reorder_mos


# ---------------------------------------------------------------------------------- rotation


@dataclass(frozen=True)
class RotationLot:
    """A lot that will not be used up before it expires at the current consumption."""

    lot_id: uuid.UUID
    lot_no: str
    expiry_date: date
    available: int
    consumed_before_expiry: int
    surplus: int
    action: str


def rotation(
    lots: Sequence[LotStock],
    amc: Decimal,
    *,
    today: date,
    used_elsewhere: bool = False,
) -> list[RotationLot]:
    """The lots with a surplus at expiry, FEFO. Consumption runs at ``AMC / MONTH_DAYS`` units
    a day from ``today``; the lots are used first-expiry-first-out, so a later lot only gets
    what its predecessors leave: by the end of day ``expiry_date`` (the last day it may be
    used, see ``is_expired``) at most ``rate × (days to expiry + 1)`` units have been used in
    all, minus what the earlier lots took. Lots without expiry are never listed; an already
    expired lot has nothing available (it is written off, not rotated).

    ``action``: ``dispatch_first`` when part of the lot is used in time (ship this one first),
    else ``transfer`` when ``used_elsewhere`` (another warehouse consumes the item), else
    ``donate_on``."""
    rate = amc / MONTH_DAYS if amc > 0 else Decimal(0)
    used_so_far = 0
    listed: list[RotationLot] = []
    for lot in fefo_order(lots):
        if lot.expiry_date is None:
            continue
        if lot.expiry_date < today or lot.available <= 0:
            continue
        days = (lot.expiry_date - today).days + 1
        capacity = math.floor(rate * days) - used_so_far
        used = max(min(lot.available, capacity), 0)
        used_so_far += used
        surplus = lot.available - used
        if surplus <= 0:
            continue
        if used > 0:
            action = "dispatch_first"
        elif used_elsewhere:
            action = "transfer"
        else:
            action = "donate_on"
        listed.append(
            RotationLot(
                lot_id=lot.lot_id,
                lot_no=lot.lot_no,
                expiry_date=lot.expiry_date,
                available=lot.available,
                consumed_before_expiry=used,
                surplus=surplus,
                action=action,
            )
        )
    return listed


def expiring_within(lots: Iterable[LotStock], *, today: date, lead_time_days: int) -> int:
    """Available units of the lots that expire before ``today + lead_time_days`` (still usable
    today): a replenishment ordered now arrives after they are gone."""
    horizon = date.fromordinal(today.toordinal() + lead_time_days)
    return sum(
        lot.available
        for lot in lots
        if lot.expiry_date is not None and today <= lot.expiry_date < horizon and lot.available > 0
    )
