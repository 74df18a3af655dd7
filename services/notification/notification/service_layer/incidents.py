"""The donation service's incident register, as this service needs it: which incidents were
declared major, and when (``feed_incidents``, newest version wins). The deadline rules
(:data:`feed_metrics.RULES`) follow it without a restart; the timeliness report reads it from
the database in the report's own snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from notification.log.store import Reader
from notification.service_layer import feed_metrics
from shared.contracts import donation as d
from shared.messaging.envelope import CloudEvent

_UPSERT = text(
    """
    INSERT INTO feed_incidents AS f (code, name, kind, towns, started_at, ended_at, major,
                                     declared_major_at, version, recorded_at)
    VALUES (:code, :name, :kind, :towns, :started_at, :ended_at, :major, :declared_major_at,
            :version, :recorded_at)
    ON CONFLICT (code) DO UPDATE SET
        name = EXCLUDED.name, kind = EXCLUDED.kind, towns = EXCLUDED.towns,
        started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at, major = EXCLUDED.major,
        declared_major_at = EXCLUDED.declared_major_at, version = EXCLUDED.version,
        recorded_at = EXCLUDED.recorded_at
    WHERE f.version < EXCLUDED.version
    """
)
_DECLARED = "SELECT code, declared_major_at FROM feed_incidents WHERE major ORDER BY code"


async def on_incident_recorded(session: AsyncSession, event: CloudEvent) -> None:
    incident = d.IncidentRecordedV1.model_validate(event.data)
    await session.execute(
        _UPSERT,
        {
            "code": incident.incident_code,
            "name": incident.name,
            "kind": incident.kind,
            "towns": list(incident.towns),
            "started_at": incident.started_at,
            "ended_at": incident.ended_at,
            "major": incident.major,
            "declared_major_at": incident.declared_major_at,
            "version": incident.version,
            "recorded_at": incident.recorded_at,
        },
    )
    if incident.major and incident.declared_major_at is not None:
        # a declaration is never undone: remembering it before the commit is safe (a retry
        # of this event remembers the same)
        feed_metrics.RULES.declared_major[incident.incident_code] = incident.declared_major_at


def declared_of(rows: Any) -> dict[str, datetime]:
    return {r.code: r.declared_major_at for r in rows}


async def declared_major(db: Reader) -> dict[str, datetime]:
    """Incident code → when it was declared major."""
    return declared_of(await db.rows(_DECLARED, {}))


async def load_declared(session: AsyncSession) -> Mapping[str, datetime]:
    """Fill the deadline rules with the incidents declared major so far (at start-up)."""
    declared = declared_of(await session.execute(text(_DECLARED)))
    feed_metrics.RULES.declared_major.update(declared)
    return declared
