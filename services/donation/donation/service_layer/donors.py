"""The donor register's writes: register a donor, edit one (personal data stays out of the
audit log's values and out of every event)."""

from __future__ import annotations

from donation.adapters.orm import Donor
from donation.domain.commands import RegisterDonor, UpdateDonor
from donation.service_layer.common import audit, check_version, lock_row, now
from shared.errors import ValidationFailed
from shared.ids import uuid7
from shared.uow import SqlUnitOfWork


async def register_donor(uow: SqlUnitOfWork, cmd: RegisterDonor) -> Donor:
    """Add a donor (audited by type and display choice only) and flush it."""
    donor = Donor(
        id=uuid7(),
        donor_type=cmd.donor_type,
        name=cmd.name,
        phone=cmd.phone,
        email=cmd.email,
        display=cmd.display,
        notify=cmd.notify,
        created_at=now(),
    )
    uow.session.add(donor)
    audit(
        uow.session,
        actor=cmd.actor,
        action="donor.create",
        entity="donor",
        entity_id=str(donor.id),
        after={"donor_type": donor.donor_type, "display": donor.display},
    )
    await uow.flush()
    return donor


async def update_donor(uow: SqlUnitOfWork, cmd: UpdateDonor) -> Donor:
    """Edit a donor at the version the caller read; the audit log records which contact
    fields changed, not their values."""
    donor_id, changes = cmd.donor_id, cmd.changes
    donor = await lock_row(uow, Donor, donor_id, f"捐赠人不存在 (donor {donor_id} not found)")
    check_version(donor.version, cmd.expected_version)
    if "name" in changes and not str(changes["name"]).strip():
        raise ValidationFailed("姓名不能为空 (name must not be empty)")
    before = {k: getattr(donor, k) for k in changes if k not in ("phone", "email")}
    for key, value in changes.items():
        setattr(donor, key, value)
    donor.version += 1
    donor.updated_at = now()
    # Personal data stays out of the audit log's values: record which fields changed.
    audit(
        uow.session,
        actor=cmd.actor,
        action="donor.update",
        entity="donor",
        entity_id=str(donor.id),
        before=before,
        after={k: ("(changed)" if k in ("phone", "email") else v) for k, v in changes.items()},
    )
    # Published gifts keep their masked name (nothing published is edited in place); gifts
    # recorded from now on use the new details.
    return donor
