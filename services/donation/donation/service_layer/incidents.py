"""Disaster incidents (灾情事件): registered by staff, changed, declared major; every change is
audited and announced as ``incident_recorded.v1`` (the whole record, with its version) so the
notification service knows, without a restart, which facts are due within 24 hours.

A project (appeal) may point to an incident; a gift or a disbursement of that project takes the
project's incident unless it names its own (:func:`incident_of`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import tuple_
from sqlmodel import col, select

from donation.adapters.orm import Incident
from donation.service_layer.common import audit, check_version, lock_row, now
from shared.contracts.donation import INCIDENT_RECORDED, IncidentRecordedV1
from shared.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from shared.messaging.topics import DONATION_EVENTS
from shared.pagination import decode_cursor, read_page
from shared.uow import SqlUnitOfWork

EDITABLE = frozenset({"name", "kind", "towns", "started_at", "ended_at", "description"})


@dataclass(frozen=True)
class RegisterIncident:
    code: str
    name: str
    kind: str
    started_at: datetime
    actor: str
    towns: tuple[str, ...] = ()
    ended_at: datetime | None = None
    description: str = ""


@dataclass(frozen=True)
class UpdateIncident:
    code: str
    actor: str
    expected_version: int | None
    changes: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class DeclareMajor:
    code: str
    actor: str
    reason: str
    expected_version: int | None = None


def recorded_payload(incident: Incident) -> IncidentRecordedV1:
    return IncidentRecordedV1(
        incident_code=incident.code,
        name=incident.name,
        kind=incident.kind,  # type: ignore[arg-type]
        towns=list(incident.towns),
        started_at=incident.started_at,
        ended_at=incident.ended_at,
        major=incident.major,
        declared_major_at=incident.declared_major_at,
        version=incident.version,
        recorded_at=incident.updated_at or incident.created_at,
    )


def _announce(uow: SqlUnitOfWork, incident: Incident) -> None:
    uow.publish(
        topic=DONATION_EVENTS,
        key=incident.code,
        type=INCIDENT_RECORDED,
        subject=incident.code,
        payload=recorded_payload(incident),
    )


def _check_dates(started_at: datetime, ended_at: datetime | None) -> None:
    if ended_at is not None and ended_at < started_at:
        raise ValidationFailed("结束时间早于开始时间 (ended_at is before started_at)")


async def _locked(uow: SqlUnitOfWork, code: str) -> Incident:
    return await lock_row(uow, Incident, code, f"事件不存在 (incident {code} not found)")


def _snapshot(incident: Incident) -> dict[str, object]:
    return incident.model_dump(exclude={"created_at", "updated_at"})


async def register_incident(uow: SqlUnitOfWork, cmd: RegisterIncident) -> Incident:
    if await uow.session.get(Incident, cmd.code) is not None:
        raise Conflict(f"事件编号已存在 (incident {cmd.code} already exists)")
    _check_dates(cmd.started_at, cmd.ended_at)
    incident = Incident(
        code=cmd.code,
        name=cmd.name,
        kind=cmd.kind,
        towns=sorted(set(cmd.towns)),
        started_at=cmd.started_at,
        ended_at=cmd.ended_at,
        description=cmd.description,
        created_at=now(),
        created_by=cmd.actor,
    )
    uow.session.add(incident)
    audit(
        uow.session,
        actor=cmd.actor,
        action="incident.register",
        entity="incident",
        entity_id=incident.code,
        after=_snapshot(incident),
    )
    _announce(uow, incident)
    await uow.session.flush()
    return incident


async def update_incident(uow: SqlUnitOfWork, cmd: UpdateIncident) -> Incident:
    unknown = set(cmd.changes) - EDITABLE
    if unknown:
        raise ValidationFailed(f"不能修改这些字段 (not editable: {', '.join(sorted(unknown))})")
    emptied = sorted(k for k, v in cmd.changes.items() if v is None and k != "ended_at")
    if emptied:
        raise ValidationFailed(f"这些字段不能为空 (cannot be null: {', '.join(emptied)})")
    incident = await lock_row(
        uow, Incident, cmd.code, f"事件不存在 (incident {cmd.code} not found)"
    )
    check_version(incident.version, cmd.expected_version)
    before = {k: getattr(incident, k) for k in cmd.changes}
    for key, value in cmd.changes.items():
        setattr(incident, key, sorted(set(value)) if key == "towns" else value)  # type: ignore[call-overload]
    _check_dates(incident.started_at, incident.ended_at)
    incident.version += 1
    incident.updated_at = now()
    audit(
        uow.session,
        actor=cmd.actor,
        action="incident.update",
        entity="incident",
        entity_id=incident.code,
        before=before,
        after=dict(cmd.changes),
    )
    _announce(uow, incident)
    return incident


async def declare_major(uow: SqlUnitOfWork, cmd: DeclareMajor) -> Incident:
    """Declare an incident a major disaster (重大灾害): from now on its gifts and uses are due for
    disclosure within 24 hours. A declaration is not undone (a correction is a new incident)."""
    incident = await lock_row(
        uow, Incident, cmd.code, f"事件不存在 (incident {cmd.code} not found)"
    )
    if cmd.expected_version is not None and cmd.expected_version != incident.version:
        raise PreconditionFailed(
            f"版本不一致：当前为 {incident.version} (version mismatch: it is {incident.version})"
        )
    if incident.major:
        raise Conflict(
            f"事件已宣布为重大灾害 (incident {cmd.code} was declared major at "
            f"{incident.declared_major_at:%Y-%m-%d %H:%M} UTC)",
            details={"declared_major_at": str(incident.declared_major_at)},
        )
    incident.major = True
    incident.declared_major_at = now()
    incident.declared_major_by = cmd.actor
    incident.major_reason = cmd.reason
    incident.version += 1
    incident.updated_at = incident.declared_major_at
    audit(
        uow.session,
        actor=cmd.actor,
        action="incident.declare_major",
        entity="incident",
        entity_id=incident.code,
        before={"major": False},
        after={"major": True, "reason": cmd.reason},
    )
    _announce(uow, incident)
    return incident


async def require_incident(uow: SqlUnitOfWork, code: str | None) -> str | None:
    """``code`` if it names a registered incident (None passes), else a 422 that says so."""
    if code is None:
        return None
    if await uow.session.get(Incident, code) is None:
        raise ValidationFailed(
            f"灾情事件不存在 (incident {code} is not registered: POST /api/v1/incidents first)",
            details={"incident_code": code},
        )
    return code


def incident_of(own: str | None, project_incident: str | None) -> str | None:
    """The incident a gift or disbursement belongs to: its own if named, else its project's."""
    return own if own is not None else project_incident


async def list_incidents(
    uow: SqlUnitOfWork, *, major: bool | None, cursor: str | None, limit: int
) -> tuple[list[Incident], str | None]:
    """Newest first (by start, then code), keyset-paged."""
    query = select(Incident).order_by(col(Incident.started_at).desc(), col(Incident.code).desc())
    if major is not None:
        query = query.where(col(Incident.major) == major)
    if cursor is not None:
        started, code = decode_cursor(cursor, 2, datetime.fromisoformat, str)
        query = query.where(
            tuple_(col(Incident.started_at), col(Incident.code)) < tuple_(started, code)
        )
    rows, next_cursor = await read_page(
        uow.session, query, limit, lambda r: (r[0].started_at.isoformat(), r[0].code)
    )
    return [r[0] for r in rows], next_cursor


async def incident_json(uow: SqlUnitOfWork, code: str) -> dict[str, object]:
    """The incident as the API answers it (JSON types), or a 404."""
    incident = await uow.session.get(Incident, code)
    if incident is None:
        raise NotFound(f"事件不存在 (incident {code} not found)")
    return incident.model_dump(mode="json")
