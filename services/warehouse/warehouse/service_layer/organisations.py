"""The warehouse's copy of the organisation register (the donation service owns it).

Seeded by migration 0004 with :data:`shared.organisations.SEED`, then kept current from
``organisation.registered.v1`` on ``staff.events``: an organisation registered or renamed is
upserted here (idempotent: a redelivery writes the same row). A warehouse may only belong to
an organisation in this table (``warehouses.org_code`` references it).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.staff import OrganisationRegisteredV1
from shared.messaging.envelope import CloudEvent
from warehouse.adapters.orm import organisations


async def on_organisation_registered(session: AsyncSession, event: CloudEvent) -> None:
    """An organisation exists (or was renamed): insert it, or bring our copy up to date."""
    org = OrganisationRegisteredV1.model_validate(event.data)
    values = {
        "name": org.name,
        "kind": org.kind,
        "town": org.town,
        "active": org.active,
        "updated_at": datetime.now(UTC),
    }
    await session.execute(
        pg_insert(organisations)
        .values(code=org.code, **values)
        .on_conflict_do_update(index_elements=["code"], set_=values)
    )
