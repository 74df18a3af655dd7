"""Registering a donor, without a database: the row is the command's, the audit entry names
no personal data, no event is published, and the donor is flushed before it is answered."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from donation.adapters.orm import AuditEntry, Donor
from donation.domain.commands import RegisterDonor
from donation.service_layer.donors import register_donor
from shared.uow import SqlUnitOfWork


class RecordingSession:
    """Keeps what is added and counts flushes (all ``register_donor`` asks of a session)."""

    def __init__(self) -> None:
        self.added: list[object] = []
        self.flushes = 0

    def add(self, row: object) -> None:
        self.added.append(row)

    async def flush(self) -> None:
        self.flushes += 1


async def test_a_registered_donor_is_audited_without_contact_details() -> None:
    session = RecordingSession()
    uow = SqlUnitOfWork(cast(Any, None), source="donation")
    uow.session = cast(AsyncSession, session)
    command = RegisterDonor(
        donor_type="individual",
        name="王小明",
        phone="13800000000",
        email="wang@example.cn",
        display="surname",
        notify="sms",
        actor="finance",
    )

    donor = await register_donor(uow, command)

    assert session.flushes == 1
    donors = [r for r in session.added if isinstance(r, Donor)]
    entries = [r for r in session.added if isinstance(r, AuditEntry)]
    assert donors == [donor]
    assert (donor.name, donor.phone, donor.email) == ("王小明", "13800000000", "wang@example.cn")
    assert (donor.donor_type, donor.display, donor.notify) == ("individual", "surname", "sms")
    assert donor.created_at.tzinfo is not None
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor, entry.action, entry.entity) == ("finance", "donor.create", "donor")
    assert entry.entity_id == str(donor.id)
    assert entry.after == {"donor_type": "individual", "display": "surname"}
    assert entry.before is None
    assert uow.staged_events == []  # personal data is never in an event
