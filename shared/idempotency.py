"""``Idempotency-Key`` support: a retried POST returns the stored response, not a new effect.

Within the request's transaction: take an advisory lock on (scope, key) so concurrent
retries wait for each other, return the stored response if one exists, otherwise let the
handler run and store its response in the same transaction as its effects.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Conflict, ValidationFailed
from shared.messaging.tables import idempotency_keys

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def request_fingerprint(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"Idempotency-Key 必须为 1–{MAX_KEY_LENGTH} 个字符 "
            f"(Idempotency-Key must be 1..{MAX_KEY_LENGTH} characters)"
        )
    return key


async def lookup(
    session: AsyncSession, *, scope: str, key: str, fingerprint: str
) -> StoredResponse | None:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:lock, 0))"),
        {"lock": f"{scope}\n{key}"},
    )
    row = (
        await session.execute(
            select(
                idempotency_keys.c.request_hash,
                idempotency_keys.c.status_code,
                idempotency_keys.c.response,
            ).where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Conflict(
            "同一 Idempotency-Key 已用于不同的请求内容 "
            "(this Idempotency-Key was already used with a different request body)"
        )
    return StoredResponse(row.status_code, row.response)


async def remember(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    status_code: int,
    body: dict[str, Any],
) -> None:
    await session.execute(
        insert(idempotency_keys).values(
            scope=scope, key=key, request_hash=fingerprint, status_code=status_code, response=body
        )
    )


async def run_idempotent(
    session: AsyncSession,
    *,
    scope: str,
    key: str | None,
    payload: Any,
    action: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
) -> tuple[int, dict[str, Any], bool]:
    """Run ``action`` once per (scope, key); returns (status, body, replayed).

    The caller commits the session afterwards: effects and the stored response land together.
    """
    if key is None:
        status, body = await action()
        return status, body, False
    fingerprint = request_fingerprint(payload)
    stored = await lookup(session, scope=scope, key=key, fingerprint=fingerprint)
    if stored is not None:
        return stored.status_code, stored.body, True
    status, body = await action()
    await remember(
        session, scope=scope, key=key, fingerprint=fingerprint, status_code=status, body=body
    )
    return status, body, False
