"""A revoked account's token is refused by the warehouse within seconds, on the real broker.

The warehouse app runs in process with its revocation listener (``shared/revocations.py``);
an ``AccessRevokedV1`` record is published to this run's ``staff.events`` with the CloudEvents
headers the donation service's relay writes. A token issued before ``not_before`` is refused
(also when the verifier had it cached), one issued after is accepted. A listener started later
reads the topic from the beginning and refuses the same token before it says it is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import StaffPrincipal, TokenVerifier
from shared.contracts.staff import ACCESS_REVOKED, AccessRevokedV1
from shared.errors import NotAuthenticated
from shared.messaging.envelope import CloudEvent
from shared.messaging.relay import create_producer
from shared.messaging.topics import STAFF_EVENTS
from shared.revocations import RevocationListener
from tests.conftest import KAFKA_BOOTSTRAP, TOPIC_PREFIX
from tests.integration.conftest import eventually
from tests.integration.warehouse.conftest import Api
from warehouse.config import WarehouseSettings

pytestmark = pytest.mark.integration

BOUND_S = 5.0  # docs/decisions/010-token-revocation.md: enforced within 5 s while the broker is up
REVOKED = "访问令牌已撤销，请重新登录 (token revoked)"


async def publish_revocation(username: str, not_before: datetime) -> float:
    """Publish like the donation service's relay does; the monotonic time it was acknowledged."""
    payload = AccessRevokedV1(username=username, not_before=not_before, reason="disabled")
    event = CloudEvent(
        id=str(uuid.uuid4()),
        type=ACCESS_REVOKED,
        source="/sunshine/donation",
        time=datetime.now(UTC),
        data=payload.model_dump(mode="json"),
        subject=username,
    )
    producer = create_producer(KAFKA_BOOTSTRAP)
    await producer.start()
    try:
        await producer.send_and_wait(
            TOPIC_PREFIX + STAFF_EVENTS,
            value=event.value(),
            key=username.encode(),
            headers=event.headers(),
        )
        return time.monotonic()
    finally:
        await producer.stop()


def bearer(api: Api, username: str) -> dict[str, str]:
    token = api.issuer.issue(StaffPrincipal(username, frozenset({"warehouse"})))
    return {"Authorization": f"Bearer {token}"}


async def test_a_revoked_token_is_refused_within_the_bound_and_a_new_one_accepted(
    api: Api, wh_app: FastAPI
) -> None:
    async def ready() -> bool:
        response = await api.client.get("/readyz")
        return bool(response.json()["checks"].get("revocations"))

    await eventually(ready, timeout=30)
    username = f"keeper-{uuid.uuid4().hex[:8]}"
    before = bearer(api, username)
    assert (await api.client.get("/api/v1/warehouses", headers=before)).status_code == 200
    await asyncio.sleep(0.01)
    not_before = datetime.now(UTC)
    after = bearer(api, username)  # the login after the change (iat to the microsecond)
    published = await publish_revocation(username, not_before)

    refused_after: float | None = None
    while time.monotonic() - published < 30:
        response = await api.client.get("/api/v1/warehouses", headers=before)
        if response.status_code == 401:
            refused_after = time.monotonic() - published
            break
        assert response.status_code == 200, response.text
        await asyncio.sleep(0.02)
    assert refused_after is not None, "the revoked token was still accepted after 30 s"
    print(f"\nrevocation enforced by the warehouse {refused_after * 1000:.0f} ms after publish")
    assert refused_after < BOUND_S
    assert response.json()["error"]["message"] == REVOKED
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")

    assert (await api.client.get("/api/v1/warehouses", headers=after)).status_code == 200
    other = bearer(api, f"{username}-other")  # only that account
    assert (await api.client.get("/api/v1/warehouses", headers=other)).status_code == 200


async def test_a_listener_started_later_reads_the_revocation_before_it_is_ready(
    api: Api, wh_settings: WarehouseSettings, kafka_topics: list[str]
) -> None:
    username = f"keeper-{uuid.uuid4().hex[:8]}"
    token = bearer(api, username)["Authorization"].removeprefix("Bearer ")
    await asyncio.sleep(0.01)
    await publish_revocation(username, datetime.now(UTC))

    verifier = TokenVerifier(wh_settings)
    verifier.verify(token)  # not revoked yet, as far as this instance knows
    listener = RevocationListener(
        bootstrap=KAFKA_BOOTSTRAP,
        topic=TOPIC_PREFIX + STAFF_EVENTS,
        verifier=verifier,
        service="test",
    )
    task = asyncio.create_task(listener.run())
    try:
        started = time.monotonic()

        async def caught_up() -> bool:
            return await listener.ready()

        await eventually(caught_up, timeout=30, interval=0.05)
        print(f"\na fresh listener caught up in {(time.monotonic() - started) * 1000:.0f} ms")
        with pytest.raises(NotAuthenticated, match="token revoked"):
            verifier.verify(token)  # cached before, refused now
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_app_without_consumers_runs_no_listener_and_reports_no_such_check(
    wh_settings: WarehouseSettings,
) -> None:
    from warehouse.main import create_app

    settings = wh_settings.model_copy(update={"run_relay": False, "run_consumers": False})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wh") as client:
            checks = (await client.get("/readyz")).json()["checks"]
        assert "revocations" not in checks
        assert app.state.runtime.revocations is None
