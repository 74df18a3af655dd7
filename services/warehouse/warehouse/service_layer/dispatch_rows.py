"""The port the dispatch steps read and write a dispatch through: :class:`DispatchRows`.

The SQL implementation is ``warehouse.adapters.dispatch_rows.SqlDispatchRows``
(:func:`rows_of` gives it for a transaction); a unit test hands the steps an in-memory one.
A row is read by attribute (``row.status``, ``row.version``, ...: the ``dispatches`` columns).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

from warehouse.adapters.dispatch_rows import SqlDispatchRows
from warehouse.service_layer.tx import Tx


class DispatchRows(Protocol):
    """The dispatches, and the audit entries of their steps."""

    async def next_number(self) -> int:
        """The next number of the year's ``DP-<year>-<number>`` sequence."""
        ...

    async def add(self, values: dict[str, Any]) -> Any:
        """Insert a dispatch (all its columns); the row as written."""
        ...

    async def lock(self, dispatch_id: uuid.UUID) -> Any | None:
        """The dispatch locked for a step, with ``source_code``, ``source_name``,
        ``target_code`` (its warehouses' codes and the source's name) and ``source_org``,
        ``target_org`` (their organisations); None if there is none."""
        ...

    async def save(self, dispatch_id: uuid.UUID, values: dict[str, Any]) -> Any:
        """Write ``values`` and the next version; the row as written."""
        ...

    async def allocations(self, dispatch_id: uuid.UUID) -> list[Any]:
        """The lots picked for the dispatch (``adapters.dispatch_rows.allocations_of``)."""
        ...

    async def audit(
        self,
        *,
        actor: str,
        action: str,
        entity_id: str,
        at: datetime,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """An audit-log entry about the dispatch ``entity_id``."""
        ...


def rows_of(tx: Tx) -> DispatchRows:
    """The dispatch rows of ``tx``'s database transaction."""
    return SqlDispatchRows(tx.session)
