"""Fuzz every operation of the notification service's OpenAPI, per role and without a token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from notification.config import NotificationSettings
from notification.main import MIGRATIONS, create_app
from shared.config import ServiceSettings
from tests.fuzz.conftest import (
    ALL_ROLES,
    Target,
    every_operation,
    fuzz_settings,
    issuer_for,
    reset,
    serve,
    tokens_for,
)

pytestmark = pytest.mark.fuzz

fuzz = every_operation(create_app(NotificationSettings(environment="test")))


@pytest.fixture(scope="module")
async def settings(databases: dict[str, ServiceSettings], keys_dir: Path) -> NotificationSettings:
    base = databases["notification"]
    assert isinstance(base, NotificationSettings)
    settings = fuzz_settings(
        base,
        run_delivery=False,
        run_feed_log=False,
        log_signing_key_file=keys_dir / "feed_log_signing.pem",
    )
    await reset(settings, MIGRATIONS)
    return settings


@pytest.fixture(scope="module")
def target(settings: NotificationSettings, keys_dir: Path) -> Iterator[Target]:
    yield from serve(create_app(settings), tokens_for(issuer_for(keys_dir, settings)))


@fuzz
@ALL_ROLES
def test_notification_api(
    case: schemathesis.Case[Any], roles: list[str | None], target: Target
) -> None:
    target.check(case, roles)
