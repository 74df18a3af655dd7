"""Donor notices from the private topic, delivered by the real SMTP server and a real HTTP
gateway: exactly once under redelivery, nothing for donors who opted out, contact details
erased once delivered; signed webhooks retried with backoff and dead-lettered."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from notification.channels.webhook import SignedWebhookChannel, verify_signature
from notification.config import NotificationSettings
from notification.service_layer.delivery import DeliveryWorker
from notification.service_layer.notices import create_notice
from shared.contracts.donation import NOTICE_REQUESTED
from shared.db import create_session_factory
from shared.messaging.topics import DONATION_PRIVATE
from tests.integration.alerts.conftest import (
    WEBHOOK_SECRET,
    Receiver,
    SmtpServer,
    cloud_event,
    fetch,
    send,
)
from tests.integration.conftest import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("notification_app")]


def notice_payload(
    *,
    email: str | None,
    phone: str | None = None,
    channels: list[str] | None = None,
    milestone: str = "received",
    name: str = "王建国",
    **facts: Any,
) -> dict[str, Any]:
    return {
        "notice_id": str(uuid.uuid4()),
        "milestone": milestone,
        "donation_id": str(uuid.uuid4()),
        "tracking_code": "1MFB-V2RH-TWEX-7RZY-152D-7",
        "recipient": {"name": name, "email": email, "phone": phone},
        "channels": ["email"] if channels is None else channels,
        "facts": facts
        or {
            "kind": "money",
            "amount_fen": 50000,
            "receipt_no": "2026-000777",
            "project_name": "博爱送万家",
        },
        "requested_at": datetime.now(UTC).isoformat(),
    }


def private_event(payload: dict[str, Any], event_id: str | None = None) -> Any:
    return cloud_event(NOTICE_REQUESTED, payload, event_id=event_id, source="/sunshine/donation")


async def notice_rows(db: AsyncEngine, notice_id: str) -> list[dict[str, Any]]:
    return await fetch(
        db,
        "SELECT row_to_json(n)::text AS notice, n.status, n.id FROM notices n "
        "WHERE notice_key = :key",
        key=f"donor:{notice_id}",
    )


async def delivery_rows(db: AsyncEngine, notice_id: str) -> list[dict[str, Any]]:
    return await fetch(
        db,
        "SELECT row_to_json(d)::text AS delivery, d.status, d.attempts, d.channel "
        "FROM notice_deliveries d JOIN notices n ON n.id = d.notice_id WHERE n.notice_key = :key",
        key=f"donor:{notice_id}",
    )


async def test_a_redelivered_notice_is_sent_exactly_once_then_contacts_are_erased(
    producer: AIOKafkaProducer, db: AsyncEngine, smtp_server: SmtpServer
) -> None:
    address = f"donor.{uuid.uuid4().hex[:8]}@example.com"
    payload = notice_payload(email=address)
    event = private_event(payload)
    # The same event twice (a relay re-send), and the same notice re-published under a new
    # event id (the producer retried its transaction): one notice, one e-mail.
    republished = private_event(payload)
    await send(producer, DONATION_PRIVATE, payload["donation_id"], event, event, republished)

    async def delivered() -> bool:
        rows = await notice_rows(db, payload["notice_id"])
        return bool(rows) and rows[0]["status"] == "delivered"

    await eventually(delivered)

    async def both_events_consumed() -> bool:
        rows = await fetch(
            db,
            "SELECT count(*) AS n FROM inbox WHERE consumer LIKE '%notification.notices' "
            "AND event_id IN (SELECT unnest(CAST(:ids AS text[])))",
            ids=[event.id, republished.id],
        )
        return bool(rows[0]["n"] == 2)

    await eventually(both_events_consumed)
    assert len(await notice_rows(db, payload["notice_id"])) == 1
    assert len(await delivery_rows(db, payload["notice_id"])) == 1
    await eventually(lambda: _mails(smtp_server, address, 1))
    mails = smtp_server.mailbox.to(address)
    assert len(mails) == 1
    mail = mails[0]
    assert str(mail["Subject"]) == "【奉化区红十字会】感谢您的捐赠"
    body = mail.get_content()
    assert body.startswith("尊敬的王建国：")
    assert "公益事业捐赠票据号：2026-000777" in body
    assert (await delivery_rows(db, payload["notice_id"]))[0]["status"] == "sent"

    # Nothing of the donor's contact details is kept once delivered.
    (notice,) = await notice_rows(db, payload["notice_id"])
    (delivery,) = await delivery_rows(db, payload["notice_id"])
    for secret in (address, "王建国"):
        assert secret not in notice["notice"]
        assert secret not in delivery["delivery"]
    assert json.loads(notice["notice"])["scrubbed_at"] is not None


async def _mails(smtp_server: SmtpServer, address: str, n: int) -> bool:
    return len(smtp_server.mailbox.to(address)) == n


async def test_a_donor_who_opted_out_gets_nothing_and_nothing_is_kept(
    producer: AIOKafkaProducer, db: AsyncEngine, smtp_server: SmtpServer
) -> None:
    address = f"quiet.{uuid.uuid4().hex[:8]}@example.com"
    payload = notice_payload(email=address, phone="13900002222", channels=[])
    await send(producer, DONATION_PRIVATE, payload["donation_id"], private_event(payload))

    async def recorded() -> bool:
        return bool(await notice_rows(db, payload["notice_id"]))

    await eventually(recorded)
    (notice,) = await notice_rows(db, payload["notice_id"])
    assert notice["status"] == "undeliverable"
    for secret in (address, "13900002222", "王建国"):
        assert secret not in notice["notice"]
    assert await delivery_rows(db, payload["notice_id"]) == []
    assert smtp_server.mailbox.to(address) == []


async def test_a_one_time_code_goes_to_the_donors_phone_through_the_sms_gateway(
    producer: AIOKafkaProducer, db: AsyncEngine, receiver: Receiver
) -> None:
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    payload = notice_payload(
        email=None,
        phone=phone,
        channels=["sms"],
        milestone="lookup_code",
        one_time_code="482913",
        code_expires_at=(datetime.now(UTC) + timedelta(minutes=10)).isoformat(),
    )
    await send(producer, DONATION_PRIVATE, phone, private_event(payload))

    async def texted() -> bool:
        return any(r.json()["to"] == phone for r in receiver.on("/sms"))

    await eventually(texted)
    sms = next(r for r in receiver.on("/sms") if r.json()["to"] == phone)
    assert "482913" in sms.json()["text"]
    assert verify_signature(
        WEBHOOK_SECRET.encode(),
        sms.headers["X-Sunshine-Timestamp"],
        sms.body,
        sms.headers["X-Sunshine-Signature"],
    )

    async def erased() -> bool:
        rows = await notice_rows(db, payload["notice_id"])
        return bool(rows) and rows[0]["status"] == "delivered"

    await eventually(erased)
    (notice,) = await notice_rows(db, payload["notice_id"])
    (delivery,) = await delivery_rows(db, payload["notice_id"])
    for secret in (phone, "482913", "王建国"):
        assert secret not in notice["notice"]
        assert secret not in delivery["delivery"]


# --------------------------------------------------------------------------- webhooks


@pytest.fixture
async def worker(
    alert_settings: NotificationSettings, db: AsyncEngine
) -> AsyncIterator[DeliveryWorker]:
    """A delivery worker driven by the test, configured as the app's own worker that competes
    with it for the same rows (FOR UPDATE SKIP LOCKED): both give up after 3 attempts."""
    w = DeliveryWorker(
        engine=db,
        dsn=alert_settings.asyncpg_dsn,
        channels={"webhook": SignedWebhookChannel(alert_settings)},
        max_attempts=alert_settings.delivery_max_attempts,
        backoff_s=0.05,
        backoff_max_s=0.1,
    )
    yield w
    await w.aclose()


async def staff_webhook_notice(db: AsyncEngine, url: str) -> str:
    key = f"test:{uuid.uuid4()}"
    async with create_session_factory(db)() as session, session.begin():
        await create_notice(
            session,
            key=key,
            audience="staff",
            kind="alert_raised",
            subject="【库存预警】测试",
            body="测试",
            addresses=[("webhook", url)],
            data={"test": True},
        )
    return key


async def deliveries_of(db: AsyncEngine, key: str) -> dict[str, Any]:
    (row,) = await fetch(
        db,
        "SELECT d.status, d.attempts, d.last_error, d.address, n.status AS notice_status "
        "FROM notice_deliveries d JOIN notices n ON n.id = d.notice_id WHERE n.notice_key = :k",
        k=key,
    )
    return row


async def drive(worker: DeliveryWorker, db: AsyncEngine, key: str, until: str) -> dict[str, Any]:
    row: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal row
        await worker.deliver_due()
        row = await deliveries_of(db, key)
        return bool(row["status"] == until)

    await eventually(done, timeout=20, interval=0.05)
    return row


async def test_webhook_retries_with_backoff_then_succeeds(
    worker: DeliveryWorker, db: AsyncEngine, receiver: Receiver
) -> None:
    path = f"/flaky-{uuid.uuid4().hex[:6]}"
    receiver.script[path] = [500, 503]
    key = await staff_webhook_notice(db, receiver.url + path)
    row = await drive(worker, db, key, "sent")
    assert row["attempts"] == 3
    assert row["notice_status"] == "delivered"
    hits = receiver.on(path)
    assert len(hits) == 3
    # The same delivery id on every attempt (a receiver can de-duplicate); each one signed.
    assert len({h.headers["X-Sunshine-Delivery"] for h in hits}) == 1
    for hit in hits:
        assert verify_signature(
            WEBHOOK_SECRET.encode(),
            hit.headers["X-Sunshine-Timestamp"],
            hit.body,
            hit.headers["X-Sunshine-Signature"],
        )


async def test_webhook_is_dead_lettered_after_max_attempts(
    worker: DeliveryWorker, db: AsyncEngine, receiver: Receiver
) -> None:
    path = f"/down-{uuid.uuid4().hex[:6]}"
    receiver.script[path] = [500] * 10
    key = await staff_webhook_notice(db, receiver.url + path)
    row = await drive(worker, db, key, "dead")
    assert row["attempts"] == 3
    assert row["last_error"] == "HTTP 500"
    assert row["notice_status"] == "failed"
    assert row["address"] == receiver.url + path  # a URL is configuration, kept for the record
    assert len(receiver.on(path)) == 3


async def test_a_refused_webhook_is_dead_lettered_at_once(
    worker: DeliveryWorker, db: AsyncEngine, receiver: Receiver
) -> None:
    path = f"/gone-{uuid.uuid4().hex[:6]}"
    receiver.script[path] = [410]
    key = await staff_webhook_notice(db, receiver.url + path)
    row = await drive(worker, db, key, "dead")
    assert row["attempts"] == 1
    assert row["last_error"] == "HTTP 410"


async def test_an_unreachable_webhook_is_retried(worker: DeliveryWorker, db: AsyncEngine) -> None:
    key = await staff_webhook_notice(db, "http://127.0.0.1:9/nothing-listens")
    row = await drive(worker, db, key, "dead")
    assert row["attempts"] == 3
    assert "ConnectError" in row["last_error"]


async def test_contacts_are_erased_when_the_retention_window_ends_undelivered(
    worker: DeliveryWorker, db: AsyncEngine
) -> None:
    key = f"donor:{uuid.uuid4()}"
    async with create_session_factory(db)() as session, session.begin():
        await create_notice(
            session,
            key=key,
            audience="donor",
            kind="received",
            subject="【奉化区红十字会】感谢您的捐赠",
            body="尊敬的赵六：……",
            addresses=[("email", "zhao.liu@example.com"), ("sms", "13600006666")],
        )
        # Still failing after longer than the retention window (48 h), in the same
        # transaction so that no worker sends it first.
        await session.execute(
            text(
                "UPDATE notice_deliveries SET created_at = now() - interval '3 days', "
                "next_attempt_at = now() + interval '1 day' WHERE notice_id = "
                "(SELECT id FROM notices WHERE notice_key = :k)"
            ),
            {"k": key},
        )
    await worker.expire_stale()  # (or the app's worker did it already: same outcome)
    rows = await fetch(
        db,
        "SELECT row_to_json(n)::text AS n, n.status, "
        "(SELECT json_agg(d)::text FROM notice_deliveries d WHERE d.notice_id = n.id) AS d "
        "FROM notices n WHERE notice_key = :k",
        k=key,
    )
    (row,) = rows
    assert row["status"] == "failed"
    for secret in ("zhao.liu@example.com", "13600006666", "赵六"):
        assert secret not in row["n"]
        assert secret not in row["d"]
    assert "contact retention window elapsed" in row["d"]


async def test_a_staff_notice_about_an_alert_already_resolved_is_not_sent(
    worker: DeliveryWorker, db: AsyncEngine, receiver: Receiver
) -> None:
    path = f"/late-{uuid.uuid4().hex[:6]}"
    alert_id = uuid.uuid4()
    async with db.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO alerts (id, kind, warehouse_code, item_code, warehouse_name, "
                "item_name, status, details, raised_at, updated_at, resolved_at, resolution, "
                "source_event_id) VALUES (:id, 'low_stock', 'WH-X', :item, '仓库', '物资', "
                "'resolved', '{}', now(), now(), now(), 'cleared', 'e')"
            ),
            {"id": alert_id, "item": f"LATE-{alert_id.hex[:8]}"},
        )
    key = f"alert:{alert_id}:raised"
    async with create_session_factory(db)() as session, session.begin():
        await create_notice(
            session,
            key=key,
            audience="staff",
            kind="alert_raised",
            subject="s",
            body="b",
            addresses=[("webhook", receiver.url + path)],
            alert_id=alert_id,
        )
    row = await drive(worker, db, key, "dead")
    assert row["last_error"] == "alert resolved before delivery"
    assert row["attempts"] == 0
    assert receiver.on(path) == []


async def test_a_refused_email_address_is_dead_lettered_at_once_and_erased(
    producer: AIOKafkaProducer, db: AsyncEngine
) -> None:
    address = f"refused.{uuid.uuid4().hex[:8]}@example.com"
    payload = notice_payload(email=address)
    await send(producer, DONATION_PRIVATE, payload["donation_id"], private_event(payload))

    async def failed() -> bool:
        rows = await notice_rows(db, payload["notice_id"])
        return bool(rows) and rows[0]["status"] == "failed"

    await eventually(failed)
    (delivery,) = await delivery_rows(db, payload["notice_id"])
    assert delivery["status"] == "dead"
    assert delivery["attempts"] == 1
    assert "550" in delivery["delivery"]
    (notice,) = await notice_rows(db, payload["notice_id"])
    for secret in (address, "王建国"):
        assert secret not in notice["notice"]
        assert secret not in delivery["delivery"]


async def test_an_unreachable_smtp_server_is_retried_then_dead_lettered(
    alert_settings: NotificationSettings, db: AsyncEngine
) -> None:
    from notification.channels.email import SmtpEmailChannel

    down = alert_settings.model_copy(update={"smtp_port": 9, "smtp_timeout_s": 2.0})
    worker = DeliveryWorker(
        engine=db,
        dsn=down.asyncpg_dsn,
        channels={"pigeon-mail": SmtpEmailChannel(down)},
        max_attempts=3,
        backoff_s=0.05,
        backoff_max_s=0.1,
    )
    key = f"test:{uuid.uuid4()}"
    async with create_session_factory(db)() as session, session.begin():
        # A channel name the app's own worker does not run, so only this worker sends it.
        await create_notice(
            session,
            key=key,
            audience="staff",
            kind="alert_raised",
            subject="s",
            body="b",
            addresses=[("pigeon-mail", "someone@example.com")],
        )
    row = await drive(worker, db, key, "dead")
    assert row["attempts"] == 3
    assert "SMTP unavailable" in row["last_error"]
    assert row["address"] is None


async def test_dead_letters_are_listed_and_a_dead_webhook_can_be_retried(
    worker: DeliveryWorker, db: AsyncEngine, receiver: Receiver, api: Any, bearer: Any
) -> None:
    path = f"/outage-{uuid.uuid4().hex[:6]}"
    receiver.script[path] = [503] * 3
    key = await staff_webhook_notice(db, receiver.url + path)
    await drive(worker, db, key, "dead")

    listed = await api.get(
        "/api/v1/notices",
        params={"delivery_status": "dead", "limit": 100},
        headers=bearer("auditor"),
    )
    assert listed.status_code == 200, listed.text
    (notice,) = [n for n in listed.json()["items"] if n["notice_key"] == key]
    assert notice["status"] == "failed"
    (delivery,) = notice["deliveries"]
    assert delivery["webhook_url"] == receiver.url + path
    assert delivery["last_error"] == "HTTP 503"

    url = f"/api/v1/notices/deliveries/{delivery['id']}/retry"
    assert (await api.post(url, headers=bearer("warehouse"))).status_code == 403
    retried = await api.post(url, headers=bearer("admin") | {"Idempotency-Key": key})
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending"
    row = await drive(worker, db, key, "sent")  # the receiver is back (answers 200)
    assert row["notice_status"] == "delivered"
    assert (await api.post(url, headers=bearer("admin"))).status_code == 409  # not dead


async def test_the_notice_list_never_shows_a_donors_details(
    producer: AIOKafkaProducer, db: AsyncEngine, api: Any, bearer: Any
) -> None:
    address = f"private.{uuid.uuid4().hex[:8]}@example.com"
    payload = notice_payload(email=address, name="钱小红")
    await send(producer, DONATION_PRIVATE, payload["donation_id"], private_event(payload))

    async def recorded() -> bool:
        return bool(await notice_rows(db, payload["notice_id"]))

    await eventually(recorded)
    listed = await api.get(
        "/api/v1/notices", params={"audience": "donor", "limit": 100}, headers=bearer("auditor")
    )
    assert listed.status_code == 200
    text_ = listed.text
    assert f"donor:{payload['notice_id']}" in text_
    for secret in (address, "钱小红"):
        assert secret not in text_


async def test_competing_workers_send_each_delivery_once(
    alert_settings: NotificationSettings, db: AsyncEngine, receiver: Receiver
) -> None:
    """Three more workers race the app's own for 30 deliveries: FOR UPDATE SKIP LOCKED gives
    each delivery to one of them, so the receiver sees each delivery id exactly once."""
    import asyncio

    path = f"/race-{uuid.uuid4().hex[:6]}"
    workers = [
        DeliveryWorker(
            engine=db,
            dsn=alert_settings.asyncpg_dsn,
            channels={"webhook": SignedWebhookChannel(alert_settings)},
            batch_size=4,
        )
        for _ in range(3)
    ]
    keys = [f"test:{uuid.uuid4()}" for _ in range(30)]
    async with create_session_factory(db)() as session, session.begin():
        for key in keys:
            await create_notice(
                session,
                key=key,
                audience="staff",
                kind="alert_raised",
                subject="s",
                body="b",
                addresses=[("webhook", receiver.url + path)],
            )

    async def drain(worker: DeliveryWorker) -> None:
        idle = 0
        while idle < 3:
            idle = 0 if await worker.deliver_due() else idle + 1

    try:
        await asyncio.gather(*(drain(w) for w in workers))

        async def all_sent() -> bool:
            rows = [await deliveries_of(db, k) for k in keys]
            return all(r["status"] == "sent" for r in rows)

        await eventually(all_sent)
    finally:
        for w in workers:
            await w.aclose()
    ids = [h.headers["X-Sunshine-Delivery"] for h in receiver.on(path)]
    assert len(ids) == 30
    assert len(set(ids)) == 30
