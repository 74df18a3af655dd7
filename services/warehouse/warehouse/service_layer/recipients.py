"""The warehouse's copy of the recipients register (the donation service owns it).

Kept from ``recipient_registered.v1`` on ``donation.events``: masked (王*明), never a name in
clear, a phone, an address or any part of an identity number. An event older than the copy
(a lower version, a redelivery) changes nothing. A delivery's sign-off names recipients from
it (``DeliverIn.recipient_ids``): each must be known (else 422), and the people and
households they make are counted as the donation service counts them (a person 1 in 1
household, a household its size in 1, an organisation neither) and carried on
``dispatch.delivered.v1``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.donation import RecipientRegisteredV1
from shared.errors import ValidationFailed
from shared.messaging.envelope import CloudEvent
from warehouse.adapters.orm import recipients


@dataclass(frozen=True)
class Reached:
    people: int = 0
    households: int = 0


def reach_of(kind: str, household_size: int | None) -> Reached:
    """Whom one recipient stands for (the donation service's ``domain.recipients.reach_of``)."""
    if kind == "person":
        return Reached(1, 1)
    if kind == "household":
        return Reached(household_size or 1, 1)
    return Reached(0, 0)


async def on_recipient_registered(session: AsyncSession, event: CloudEvent) -> None:
    """A recipient registered or changed: insert it, or bring an older copy up to date."""
    r = RecipientRegisteredV1.model_validate(event.data)
    values = {
        "kind": r.kind,
        "name_masked": r.name_masked,
        "org_kind": r.org_kind,
        "town": r.town,
        "household_size": r.household_size,
        "org_code": r.org_code,
        "version": r.version,
        "recorded_at": r.recorded_at,
        "updated_at": datetime.now(UTC),
    }
    insert = pg_insert(recipients).values(id=r.recipient_id, **values)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["id"],
            set_=values,
            where=recipients.c.version < insert.excluded.version,
        )
    )


async def recipients_reached(session: AsyncSession, ids: Sequence[uuid.UUID]) -> Reached:
    """The people and households the named recipients make; a 422 for one named twice or
    not (yet) in our copy of the register."""
    if not ids:
        return Reached()
    twice = sorted({str(i) for i in ids if list(ids).count(i) > 1})
    if twice:
        raise ValidationFailed(
            f"同一受助对象重复列出 (recipient named twice: {', '.join(twice)})",
            details={"recipient_ids": twice},
        )
    rows = (
        await session.execute(
            select(recipients.c.id, recipients.c.kind, recipients.c.household_size).where(
                recipients.c.id.in_(list(ids))
            )
        )
    ).all()
    known = {row.id: reach_of(row.kind, row.household_size) for row in rows}
    unknown = [str(i) for i in ids if i not in known]
    if unknown:
        raise ValidationFailed(
            f"受助对象未登记或尚未同步 (not in the recipients register: {', '.join(unknown)}; "
            "register them in the donation service first)",
            details={"recipient_ids": unknown},
        )
    return Reached(
        people=sum(r.people for r in known.values()),
        households=sum(r.households for r in known.values()),
    )
