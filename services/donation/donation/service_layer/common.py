"""Helpers every handler uses: audit entries, notices to donors, errors of this service."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, select

from donation.adapters.orm import AuditEntry, Donation, Donor
from shared.contracts.donation import (
    NOTICE_REQUESTED,
    NoticeFactsV1,
    NoticeMilestone,
    NoticeRecipientV1,
    NoticeRequestedV1,
)
from shared.errors import NotFound, PreconditionFailed, PreconditionRequired
from shared.messaging.topics import DONATION_PRIVATE
from shared.uow import SqlUnitOfWork

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
NOTICE_NAMESPACE = uuid.UUID("6f1d3a52-3c1e-4b7e-9a57-6b2b8f0c1d01")


Row = TypeVar("Row", bound=SQLModel)


async def lock_row(uow: SqlUnitOfWork, model: type[Row], key: object, not_found: str) -> Row:
    """The row of ``model`` whose primary key is ``key``, locked until the transaction ends
    and read afresh (not from the session's cache); ``NotFound(not_found)`` if there is none."""
    (primary_key,) = inspect(model).primary_key
    row = await uow.session.scalar(
        select(model)
        .where(primary_key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound(not_found)
    return row


def now() -> datetime:
    return datetime.now(UTC)


def local_date(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def audit_entry(
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry(
        at=now(),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        before=_jsonable(before),
        after=_jsonable(after),
    )


def audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(
        audit_entry(
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=before,
            after=after,
        )
    )


def _jsonable(data: dict[str, Any] | None) -> dict[str, object] | None:
    if data is None:
        return None
    out: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, uuid.UUID | datetime | date):
            out[key] = value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
        else:
            out[key] = value
    return out


def check_version(current: int, expected: int | None) -> None:
    """Optimistic concurrency: the caller sends the version it read (If-Match or body)."""
    if expected is None:
        raise PreconditionRequired(
            "更新需要 If-Match 版本号 (send If-Match with the version you read)"
        )
    if expected != current:
        raise PreconditionFailed(
            f"记录已被他人修改：当前版本 {current}，您提交的版本 {expected} "
            f"(version mismatch: the record is at version {current}, you sent {expected}); "
            "请刷新后重试 (reload and retry)",
            details={"current_version": current},
        )


def notice_channels(donor: Donor) -> list[str]:
    wanted = {"all": {"sms", "email"}, "sms": {"sms"}, "email": {"email"}}.get(donor.notify, set())
    channels = []
    if "sms" in wanted and donor.phone:
        channels.append("sms")
    if "email" in wanted and donor.email:
        channels.append("email")
    return channels


def request_notice(
    uow: SqlUnitOfWork,
    *,
    donor: Donor,
    donation: Donation | None,
    milestone: NoticeMilestone,
    facts: NoticeFactsV1,
    notice_id: uuid.UUID | None = None,
    force: bool = False,
) -> bool:
    """Stage a ``notice_requested`` on the private topic, if the donor wants notices.

    ``notice_id`` is stable per (gift, milestone), so the same notice is never sent twice.
    ``force`` is for a notice the donor asked for (a lookup code): sent on every channel the
    contact exists for.
    """
    channels = (
        [c for c, v in (("sms", donor.phone), ("email", donor.email)) if v]
        if force
        else notice_channels(donor)
    )
    if not channels:
        return False
    subject = str(donation.id) if donation is not None else str(donor.id)
    payload = NoticeRequestedV1(
        notice_id=notice_id or uuid.uuid5(NOTICE_NAMESPACE, f"{subject}:{milestone}"),
        milestone=milestone,
        donation_id=donation.id if donation is not None else None,
        tracking_code=donation.tracking_code if donation is not None else None,
        recipient=NoticeRecipientV1(name=donor.name, email=donor.email, phone=donor.phone),
        channels=channels,  # type: ignore[arg-type]
        facts=facts,
        requested_at=now(),
    )
    uow.publish(
        topic=DONATION_PRIVATE, key=subject, type=NOTICE_REQUESTED, subject=subject, payload=payload
    )
    return True


def mask_person(name: str) -> str:
    """王小明 → 王*明, 王明 → 王*; for a private recipient or signer."""
    from donation.domain.model import display_name

    return display_name(name, display="named", donor_type="individual")
