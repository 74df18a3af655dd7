"""Channels without a network: signatures, e-mail building, the registry, backoff."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from notification.channels.base import Channel, OutgoingMessage
from notification.channels.email import SmtpEmailChannel, build_email, valid_address
from notification.channels.registry import build_channels
from notification.channels.webhook import (
    GatewayChannel,
    SignedWebhookChannel,
    sign,
    verify_signature,
)
from notification.config import NotificationSettings
from notification.service_layer.delivery import backoff_delay

SECRET = b"s3cret"


def message(address: str = "staff@example.com") -> OutgoingMessage:
    return OutgoingMessage(
        delivery_id=uuid.UUID("01a22497-0000-7000-8000-000000000001"),
        notice_id=uuid.UUID("01a22497-0000-7000-8000-000000000002"),
        notice_key="alert:x:raised",
        kind="alert_raised",
        audience="staff",
        address=address,
        subject="【库存预警】区备灾救灾中心仓库 棉被：缺货",
        body="棉被缺货。",
        created_at=datetime(2026, 11, 28, tzinfo=UTC),
    )


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = hmac.new(SECRET, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, "1700000000", body) == f"v1={expected}"


def test_verify_signature_rejects_tampering_wrong_key_and_old_timestamps() -> None:
    now = int(time.time())
    body = b'{"kind":"alert_raised"}'
    good = sign(SECRET, str(now), body)
    assert verify_signature(SECRET, str(now), body, good)
    assert not verify_signature(SECRET, str(now), body + b" ", good)
    assert not verify_signature(b"other", str(now), body, good)
    assert not verify_signature(SECRET, str(now - 3600), body, sign(SECRET, str(now - 3600), body))
    assert not verify_signature(SECRET, "not-a-number", body, good)


def test_email_has_utf8_subject_and_a_stable_message_id() -> None:
    mail = build_email(message(), "阳光红会 <noreply@example.org>")
    assert (
        mail["Message-ID"]
        == "<01a22497-0000-7000-8000-000000000001@sunshine.fenghua-redcross.local>"
    )
    assert mail["Subject"] == "【库存预警】区备灾救灾中心仓库 棉被：缺货"
    assert "棉被缺货" in mail.get_content()


@pytest.mark.parametrize(
    ("address", "ok"),
    [("a@example.com", True), ("no-at-sign", False), ("a@", False)],
)
def test_email_address_check(address: str, ok: bool) -> None:
    assert valid_address(address) is ok


async def test_registry_builds_enabled_channels_by_name() -> None:
    channels = build_channels(
        NotificationSettings(
            enabled_channels=["email", "webhook", "sms"], sms_gateway_url="http://127.0.0.1:9/sms"
        )
    )
    assert isinstance(channels["email"], SmtpEmailChannel)
    assert isinstance(channels["webhook"], SignedWebhookChannel)
    assert isinstance(channels["sms"], GatewayChannel)
    assert channels["sms"].contact == "phone"
    for channel in channels.values():
        await channel.aclose()


def test_registry_refuses_unknown_or_unconfigured_channels() -> None:
    with pytest.raises(ValueError, match="unknown notice channel 'pigeon'"):
        build_channels(NotificationSettings(enabled_channels=["pigeon"]))
    with pytest.raises(ValueError, match="gateway URL is not set"):
        build_channels(NotificationSettings(enabled_channels=["wechat"]))
    with pytest.raises(ValueError, match=r"expected 'name=package\.module:factory'"):
        build_channels(NotificationSettings(channel_plugins=["broken"]))


class PigeonChannel(Channel):
    name = "pigeon"

    async def send(self, message: OutgoingMessage) -> None:
        return None


def pigeon_factory(settings: NotificationSettings) -> Channel:
    return PigeonChannel()


def test_a_channel_is_added_by_configuration() -> None:
    settings = NotificationSettings(
        enabled_channels=["pigeon"],
        channel_plugins=["pigeon=tests.unit.alerts.test_channels:pigeon_factory"],
    )
    channels = build_channels(settings)
    assert isinstance(channels["pigeon"], PigeonChannel)


def test_backoff_doubles_and_is_capped() -> None:
    delays = [backoff_delay(n, base_s=2, max_s=30, jitter=False) for n in range(1, 7)]
    assert delays == [2, 4, 8, 16, 30, 30]
    for n in range(1, 7):
        assert 0.8 * delays[n - 1] <= backoff_delay(n, base_s=2, max_s=30) <= 1.2 * delays[n - 1]


def test_production_refuses_the_default_webhook_secret(tmp_path: Path) -> None:
    key = tmp_path / "log.pem"
    key.write_text("unused")
    with pytest.raises(ValidationError, match="default webhook secret"):
        NotificationSettings(environment="production", db_password="x", log_signing_key_file=key)
    ok = NotificationSettings(
        environment="production", db_password="x", log_signing_key_file=key, webhook_secret="y"
    )
    assert ok.webhook_secret.get_secret_value() == "y"


def test_stale_alert_notices_are_not_sent() -> None:
    from notification.service_layer.delivery import _stale_alert_notice

    assert _stale_alert_notice("alert_raised", "open") is None
    assert _stale_alert_notice("alert_raised", "acknowledged") is None
    assert _stale_alert_notice("alert_raised", "resolved") == "alert resolved before delivery"
    assert _stale_alert_notice("alert_escalated", "acknowledged") is not None
    assert _stale_alert_notice("received", None) is None
