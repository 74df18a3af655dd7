"""Fuzz every operation of the donation service's OpenAPI, per role and without a token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from donation.config import DonationSettings
from donation.main import MIGRATIONS, create_app
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
from tests.fuzz.seed import Known, seed_donation

pytestmark = pytest.mark.fuzz

known = Known()
fuzz = every_operation(create_app(DonationSettings(environment="test")), known)


@pytest.fixture(scope="module")
async def settings(databases: dict[str, ServiceSettings]) -> DonationSettings:
    base = databases["donation"]
    assert isinstance(base, DonationSettings)
    settings = fuzz_settings(base)
    await reset(settings, MIGRATIONS)
    return settings


@pytest.fixture(scope="module")
def target(settings: DonationSettings, keys_dir: Path) -> Iterator[Target]:
    yield from serve(
        create_app(settings), tokens_for(issuer_for(keys_dir, settings)), seed_donation, known
    )


@fuzz
@ALL_ROLES
def test_donation_api(
    case: schemathesis.Case[Any], roles: list[str | None], target: Target
) -> None:
    target.check(case, roles)
