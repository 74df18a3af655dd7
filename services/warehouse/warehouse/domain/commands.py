"""Commands: what staff ask the warehouse to do (imperative names), one per write.

A route builds one from the HTTP body, headers and principal; a service-layer function of the
same name (``warehouse.service_layer``) carries it out in a unit of work. ``actor`` is the
staff member asking, ``actor_org`` their organisation (what they may reach: the service layer
checks it, ``warehouse.service_layer.scope``); ``expected_version`` the version they read
(``If-Match``), if they sent it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from warehouse.domain import clock


def _now() -> datetime:
    """The warehouse clock (``clock.travel`` moves it when seeding history), not the wall's."""
    return clock.now()


# ----------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class CreateWarehouse:
    code: str
    name: str
    kind: str  # district | station
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)
    town: str | None = None
    address: str | None = None
    active: bool = True
    # the organisation it belongs to; None: its town's branch (a station), FH (the district's)
    org_code: str | None = None


@dataclass(frozen=True)
class UpdateWarehouse:
    """Change the fields in ``changes`` of the warehouse ``code``, last read at ``version``."""

    code: str
    changes: Mapping[str, Any]
    version: int
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)


@dataclass(frozen=True)
class CreateItem:
    code: str
    name: str
    category: str
    unit: str
    actor: str
    lot_tracked: bool = False
    unit_value_fen: int = 0
    default_safety_stock: int = 0
    active: bool = True


@dataclass(frozen=True)
class UpdateItem:
    """Change the fields in ``changes`` of the item ``code``, last read at ``version``."""

    code: str
    changes: Mapping[str, Any]
    version: int
    actor: str


@dataclass(frozen=True)
class SetSafetyStock:
    warehouse_code: str
    item_code: str
    safety_stock: int
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)


# ----------------------------------------------------------------------------- inbound


@dataclass(frozen=True)
class ExpectedLine:
    item_code: str
    quantity: int
    unit_value_fen: int | None = None
    lot_no: str | None = None
    expiry_date: date | None = None


@dataclass(frozen=True)
class RegisterProcurement:
    """Announce a procurement delivery: an expected inbound."""

    warehouse_code: str
    procurement_order: str
    lines: tuple[ExpectedLine, ...]
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)
    supplier: str | None = None
    note: str | None = None
    # the approved disbursement whose donated money paid for the goods (lineage to the gifts)
    disbursement_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ConfirmLine:
    line_no: int | None  # 1-based index into the expected lines; None for an unannounced line
    item_code: str | None
    received_quantity: int
    damaged_quantity: int = 0
    damage_reason: str | None = None
    lot_no: str | None = None
    expiry_date: date | None = None
    expired_reason: str | None = None
    unit_value_fen: int | None = None


@dataclass(frozen=True)
class ConfirmInbound:
    """Confirm what arrived of an expected inbound: lots received into stock."""

    inbound_id: uuid.UUID
    warehouse_code: str | None
    lines: tuple[ConfirmLine, ...]
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)
    note: str | None = None
    expected_version: int | None = None
    today: date | None = None
    received_at: datetime = field(default_factory=_now)


# ----------------------------------------------------------------------------- stock


@dataclass(frozen=True)
class CountLine:
    counted_quantity: int
    reason: str | None = None
    lot_id: uuid.UUID | None = None
    # for goods found outside any lot:
    item_code: str | None = None
    lot_no: str | None = None
    expiry_date: date | None = None
    note: str | None = None


@dataclass(frozen=True)
class RecordStockCount:
    """A stock count (盘点): each difference becomes an adjustment with its reason."""

    warehouse_code: str
    lines: tuple[CountLine, ...]
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)
    note: str | None = None
    counted_at: datetime = field(default_factory=_now)
    # a decrease worth more than this (units × the item's unit value, fen) waits for a second
    # person (WAREHOUSE_WRITE_OFF_FOUR_EYES_FEN)
    four_eyes_above_fen: int = 50_000


@dataclass(frozen=True)
class RunExpiryScan:
    """Run the daily expiry scan for ``scan_date``, flagging lots expiring within
    ``window_days``; recorded in the audit log as run by ``actor``."""

    scan_date: date
    window_days: int
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)


# ----------------------------------------------------------------------------- dispatch


@dataclass(frozen=True)
class Destination:
    kind: str
    name: str | None = None
    town: str | None = None
    warehouse_code: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class RequestDispatch:
    from_warehouse_code: str
    destination: Destination
    lines: tuple[tuple[str, int], ...]  # (item code, quantity)
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)
    urgency: str = "normal"
    incident_code: str | None = None
    incident_name: str | None = None
    note: str | None = None
    requested_at: datetime = field(default_factory=_now)
    project_code: str | None = None  # the project it serves: it may pick lots designated to it


@dataclass(frozen=True)
class ApproveDispatch:
    dispatch_id: uuid.UUID
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)
    expected_version: int | None = None
    # the approver lets it pick lots designated to another project (or any, if it names none)
    designated_override_reason: str | None = None


@dataclass(frozen=True)
class RejectDispatch:
    dispatch_id: uuid.UUID
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)
    reason: str
    expected_version: int | None = None


@dataclass(frozen=True)
class CancelDispatch:
    dispatch_id: uuid.UUID
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)
    reason: str
    expected_version: int | None = None


@dataclass(frozen=True)
class PickDispatch:
    """Pick the lines FEFO, never a lot with fewer than ``min_days`` of shelf life left."""

    dispatch_id: uuid.UUID
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)
    min_days: int
    expected_version: int | None = None
    today: date | None = None


@dataclass(frozen=True)
class ShipDispatch:
    dispatch_id: uuid.UUID
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)
    waybill_no: str
    carrier: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class ReturnLine:
    item_code: str
    quantity: int
    lot_id: uuid.UUID | None = None


@dataclass(frozen=True)
class DeliverDispatch:
    """Sign-off: what was delivered, and what came back (``returns``)."""

    dispatch_id: uuid.UUID
    recipient_name: str
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)
    recipient_phone: str | None = None
    recipient_org: str | None = None
    note: str | None = None
    returns: tuple[ReturnLine, ...] = ()
    delivered_at: datetime = field(default_factory=_now)
    expected_version: int | None = None
    recipient_ids: tuple[uuid.UUID, ...] = ()  # the register's recipients the goods reached


# ----------------------------------------------------------------------------- write-offs


@dataclass(frozen=True)
class ApproveWriteOff:
    """Apply a pending write-off (four eyes): someone other than the person who counted."""

    adjustment_id: uuid.UUID
    actor: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)
    expected_version: int | None = None


@dataclass(frozen=True)
class RejectWriteOff:
    """Refuse a pending write-off: the stock stays as it is."""

    adjustment_id: uuid.UUID
    actor: str
    reason: str
    actor_org: str = field(kw_only=True)  # the actor's organisation (scope)
    expected_version: int | None = None
