"""Notices: donor notices from ``donation.private``, staff notices for alerts.

A notice is one row with a unique ``notice_key`` (the donation service's ``notice_id`` for a
donor, ``alert:<id>:<event>`` for staff) and one delivery row per channel and address. The
insert is ``ON CONFLICT DO NOTHING``: a redelivered or re-published request changes nothing,
so each notice is sent once. The delivery worker sends them after the transaction commits
(woken by ``NOTIFY``); an admin can queue a dead-lettered delivery again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification.adapters.alert_tables import NOTICES_CHANNEL, deliveries, notices
from notification.config import NotificationSettings
from notification.domain.commands import RetryDelivery
from notification.domain.notices import render
from shared.contracts.donation import NoticeRequestedV1
from shared.errors import Conflict, NotFound
from shared.ids import uuid7
from shared.messaging.consumer import EventHandler
from shared.messaging.envelope import CloudEvent
from shared.uow import SqlUnitOfWork

# The donation contract's channel names, and which contact detail each one uses.
DONOR_CONTACTS: dict[str, str] = {"email": "email", "sms": "phone"}


def parse_routes(entries: list[str]) -> tuple[tuple[str, str, str], ...]:
    """``"WAREHOUSE_CODE=channel:address"`` → (warehouse, channel, address)."""
    routes: list[tuple[str, str, str]] = []
    for entry in entries:
        warehouse, sep, target = entry.partition("=")
        channel, colon, address = target.partition(":")
        if not sep or not colon or not warehouse.strip() or not address.strip():
            raise ValueError(
                f"alert route {entry!r}: expected 'WAREHOUSE_CODE=channel:address', "
                "e.g. 'ST-XIKOU=email:keeper@example.org'"
            )
        routes.append((warehouse.strip(), channel.strip(), address.strip()))
    return tuple(routes)


@dataclass(frozen=True)
class Routing:
    """Which channels are on, and where staff notices go: the district-wide addresses, plus
    the staff of the warehouse or station the alert is about (``alert_routes``)."""

    enabled: frozenset[str]
    alert_emails: tuple[str, ...] = ()
    alert_webhooks: tuple[str, ...] = ()
    escalation_emails: tuple[str, ...] = ()
    routes: tuple[tuple[str, str, str], ...] = ()

    @classmethod
    def from_settings(cls, settings: NotificationSettings) -> Routing:
        return cls(
            enabled=frozenset(settings.enabled_channels),
            alert_emails=tuple(settings.alert_emails),
            alert_webhooks=tuple(settings.alert_webhook_urls),
            escalation_emails=tuple(settings.escalation_emails),
            routes=parse_routes(settings.alert_routes),
        )

    def staff_addresses(
        self, *, escalation: bool, warehouse_code: str | None = None
    ) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if "email" in self.enabled:
            emails = [*self.alert_emails, *(self.escalation_emails if escalation else ())]
            found += [("email", e) for e in emails]
        if "webhook" in self.enabled:
            found += [("webhook", u) for u in self.alert_webhooks]
        found += [
            (channel, address)
            for warehouse, channel, address in self.routes
            if warehouse == warehouse_code and channel in self.enabled
        ]
        return list(dict.fromkeys(found))


async def wake_delivery(session: AsyncSession) -> None:
    """Delivered by PostgreSQL when the transaction commits."""
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTICES_CHANNEL})


async def retry_delivery(uow: SqlUnitOfWork, cmd: RetryDelivery) -> None:
    """A dead-lettered delivery is pending again, its attempts from zero, and so is its
    notice; the worker is woken when this commits. ``404`` if there is no such delivery,
    ``409`` if it is not dead or its contact details were erased."""
    session = uow.session
    row = (
        await session.execute(
            select(deliveries).where(deliveries.c.id == cmd.delivery_id).with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound(f"投递记录不存在 (delivery {cmd.delivery_id} not found)")
    if row.status != "dead":
        raise Conflict(f"只能重投死信 (only a dead delivery can be retried: {row.status})")
    if row.address is None:
        raise Conflict(
            "联系方式已按规定删除，无法重投 (the contact details were erased; cannot retry)"
        )
    now = datetime.now(UTC)
    await session.execute(
        update(deliveries)
        .where(deliveries.c.id == cmd.delivery_id)
        .values(status="pending", attempts=0, next_attempt_at=now, dead_at=None)
    )
    await session.execute(
        update(notices)
        .where(notices.c.id == row.notice_id)
        .values(status="pending", completed_at=None)
    )
    await wake_delivery(session)


async def create_notice(
    session: AsyncSession,
    *,
    key: str,
    audience: str,
    kind: str,
    subject: str | None,
    body: str | None,
    addresses: Iterable[tuple[str, str]],
    data: dict[str, Any] | None = None,
    donation_id: uuid.UUID | None = None,
    alert_id: uuid.UUID | None = None,
    source_event_id: str | None = None,
    expires_at: datetime | None = None,
) -> uuid.UUID | None:
    """Record a notice and its deliveries; None if a notice with this key exists already."""
    targets = list(dict.fromkeys(addresses))
    now = datetime.now(UTC)
    deliverable = bool(targets)
    notice_id = uuid7()
    result = await session.execute(
        pg_insert(notices)
        .values(
            id=notice_id,
            notice_key=key,
            audience=audience,
            kind=kind,
            status="pending" if deliverable else "undeliverable",
            # Nothing to send: keep no text (a donor's holds their name).
            subject=subject if deliverable else None,
            body=body if deliverable else None,
            data=data or {},
            donation_id=donation_id,
            alert_id=alert_id,
            source_event_id=source_event_id,
            expires_at=expires_at,
            created_at=now,
            completed_at=None if deliverable else now,
            scrubbed_at=None if deliverable else now,
        )
        .on_conflict_do_nothing(index_elements=["notice_key"])
        .returning(notices.c.id)
    )
    if result.scalar_one_or_none() is None:
        return None
    if targets:
        await session.execute(
            insert(deliveries),
            [
                {
                    "id": uuid7(),
                    "notice_id": notice_id,
                    "channel": channel,
                    "address": address,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for channel, address in targets
            ],
        )
        await wake_delivery(session)
    return notice_id


def donor_addresses(notice: NoticeRequestedV1, routing: Routing) -> list[tuple[str, str]]:
    """Only the channels the donor asked for, that are enabled here, with a contact detail."""
    found: list[tuple[str, str]] = []
    for channel in notice.channels:
        field = DONOR_CONTACTS.get(channel)
        address = getattr(notice.recipient, field) if field else None
        if channel in routing.enabled and address:
            found.append((channel, str(address).strip()))
    return found


async def request_donor_notice(
    session: AsyncSession, routing: Routing, event: CloudEvent
) -> uuid.UUID | None:
    notice = NoticeRequestedV1.model_validate(event.data)
    subject, body = render(notice)
    data = {
        "milestone": notice.milestone,
        "receipt_no": notice.facts.receipt_no,
        "project_code": notice.facts.project_code,
    }
    return await create_notice(
        session,
        key=f"donor:{notice.notice_id}",
        audience="donor",
        kind=notice.milestone,
        subject=subject,
        body=body,
        addresses=donor_addresses(notice, routing),
        data={k: v for k, v in data.items() if v is not None},
        donation_id=notice.donation_id,
        source_event_id=event.id,
        expires_at=notice.facts.code_expires_at if notice.milestone == "lookup_code" else None,
    )


def notice_handler(settings: NotificationSettings) -> EventHandler:
    routing = Routing.from_settings(settings)

    async def on_notice_requested(session: AsyncSession, event: CloudEvent) -> None:
        await request_donor_notice(session, routing, event)

    return on_notice_requested
