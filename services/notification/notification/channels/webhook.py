"""Signed webhooks, and HTTP gateways (SMS, WeChat) built on them.

Each request carries ``X-Sunshine-Timestamp`` (Unix seconds) and ``X-Sunshine-Signature``:
``v1=`` + hex HMAC-SHA256 over ``<timestamp>.<raw body>`` with the shared secret. A receiver
recomputes it (:func:`verify_signature`), compares in constant time and refuses timestamps
older than a few minutes (replay). ``X-Sunshine-Delivery`` is stable across retries, so a
receiver can drop duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from notification.channels.base import Channel, DeliveryFailed, OutgoingMessage
from notification.config import NotificationSettings

SIGNATURE_HEADER = "X-Sunshine-Signature"
TIMESTAMP_HEADER = "X-Sunshine-Timestamp"
DELIVERY_HEADER = "X-Sunshine-Delivery"
KIND_HEADER = "X-Sunshine-Kind"
RETRYABLE_STATUS = frozenset({408, 425, 429})


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify_signature(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """Check a request as a receiver would: right signature, timestamp recent enough."""
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError:
        return False
    if abs(age) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def encode_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class SignedWebhookChannel(Channel):
    """POSTs the notice as JSON to the address (a URL from settings)."""

    name = "webhook"
    contact: str | None = None

    def __init__(self, settings: NotificationSettings) -> None:
        self._secret = settings.webhook_secret.get_secret_value().encode()
        self._client = httpx.AsyncClient(timeout=settings.webhook_timeout_s)

    def url_for(self, message: OutgoingMessage) -> str:
        return message.address

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        return {
            "delivery_id": str(message.delivery_id),
            "notice_id": str(message.notice_id),
            "kind": message.kind,
            "audience": message.audience,
            "subject": message.subject,
            "text": message.body,
            "data": message.data,
            "created_at": message.created_at.isoformat(),
        }

    async def send(self, message: OutgoingMessage) -> None:
        body = encode_body(self.payload(message))
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            DELIVERY_HEADER: str(message.delivery_id),
            KIND_HEADER: message.kind,
        }
        try:
            response = await self._client.post(self.url_for(message), content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if response.is_success:
            return
        status = response.status_code
        permanent = 400 <= status < 500 and status not in RETRYABLE_STATUS
        raise DeliveryFailed(f"HTTP {status}", permanent=permanent)

    async def aclose(self) -> None:
        await self._client.aclose()


class GatewayChannel(SignedWebhookChannel):
    """An SMS or WeChat gateway reached over a signed webhook: ``{"to": …, "text": …}``.

    The donor's contact detail (``phone``) is the recipient; the gateway's URL comes from
    settings. Only the notice text travels; the gateway does the rest.
    """

    contact = "phone"

    def __init__(self, settings: NotificationSettings, *, name: str, url: str | None) -> None:
        if not url:
            raise ValueError(
                f"channel {name!r} is enabled but its gateway URL is not set "
                f"(NOTIFICATION_{name.upper()}_GATEWAY_URL)"
            )
        super().__init__(settings)
        self.name = name
        self._url = url

    def url_for(self, message: OutgoingMessage) -> str:
        return self._url

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        return {
            "delivery_id": str(message.delivery_id),
            "to": message.address,
            "text": f"{message.subject}\n{message.body}",
            "kind": message.kind,
        }
