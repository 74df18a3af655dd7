"""In-memory stand-ins for a transaction and the dispatch rows: the dispatch steps run
without PostgreSQL (``warehouse.service_layer.dispatch_rows.DispatchRows``)."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession


class _NoDatabase:
    """A session that fails the test if a step reaches for SQL."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the step used the database (session.{name})")


@dataclass(frozen=True)
class Published:
    topic: str
    key: str
    type: str
    payload: BaseModel
    subject: str | None


class FakeTx:
    """A :class:`warehouse.service_layer.tx.Tx` that only collects what is published."""

    def __init__(self) -> None:
        self.session = cast(AsyncSession, _NoDatabase())
        self.published: list[Published] = []

    def publish(
        self, *, topic: str, key: str, type: str, payload: BaseModel, subject: str | None = None
    ) -> None:
        self.published.append(Published(topic, key, type, payload, subject))


@dataclass(frozen=True)
class DispatchRow:
    """The columns of a ``dispatches`` row a decision reads, and what the lock joins."""

    id: uuid.UUID
    dispatch_no: str
    status: str
    requested_by: str
    version: int = 1
    kind: str = "dispatch"
    from_warehouse_id: uuid.UUID = field(default_factory=uuid.uuid4)
    destination_kind: str = "shelter"
    destination_name: str = "溪口镇中心小学临时安置点"
    destination_town: str | None = "溪口镇"
    destination_warehouse_id: uuid.UUID | None = None
    incident_code: str | None = None
    incident_name: str | None = None
    urgency: str = "normal"
    lines: tuple[dict[str, Any], ...] = (
        {"item_code": "QUILT", "item_name": "棉被", "unit": "床", "quantity": 10},
    )
    updated_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    approved_by: str | None = None
    approved_at: datetime | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    decided_reason: str | None = None
    project_code: str | None = None
    designated_override_reason: str | None = None
    # joined by the lock
    source_code: str = "WH-FH"
    source_name: str = "区备灾救灾中心仓库"
    source_org: str = "FH"
    target_code: str | None = None
    target_org: str | None = None


@dataclass
class FakeDispatchRows:
    """Dispatches in a dict; the audit entries in a list."""

    rows: dict[uuid.UUID, DispatchRow] = field(default_factory=dict)
    audit_log: list[dict[str, Any]] = field(default_factory=list)

    def put(self, row: DispatchRow) -> DispatchRow:
        self.rows[row.id] = row
        return row

    async def next_number(self) -> int:
        return len(self.rows) + 1

    async def add(self, values: dict[str, Any]) -> Any:
        return self.put(DispatchRow(**values))

    async def lock(self, dispatch_id: uuid.UUID) -> Any | None:
        return self.rows.get(dispatch_id)

    async def save(self, dispatch_id: uuid.UUID, values: dict[str, Any]) -> Any:
        row = self.rows[dispatch_id]
        return self.put(dataclasses.replace(row, version=row.version + 1, **values))

    async def allocations(self, dispatch_id: uuid.UUID) -> list[Any]:
        return []  # nothing is allocated before picking

    async def audit(
        self,
        *,
        actor: str,
        action: str,
        entity_id: str,
        at: datetime,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.audit_log.append(
            {"actor": actor, "action": action, "entity_id": entity_id, "detail": detail or {}}
        )
