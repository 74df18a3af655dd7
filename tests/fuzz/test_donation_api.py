"""Fuzz every operation of the donation service's OpenAPI, per role and without a token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis

from donation.config import DonationSettings
from donation.main import MIGRATIONS, create_app
from shared.auth import Role
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
from tests.fuzz.seed import Known, seed_donation, seed_follow_up_visits

pytestmark = pytest.mark.fuzz

known = Known()
fuzz = every_operation(create_app(DonationSettings(environment="test")), known)


@pytest.fixture(scope="module")
async def settings(
    databases: dict[str, ServiceSettings], tmp_path_factory: pytest.TempPathFactory
) -> DonationSettings:
    base = databases["donation"]
    assert isinstance(base, DonationSettings)
    # the photos of follow-up visits the fuzzing uploads stay in a directory of its own
    attachments = tmp_path_factory.mktemp("attachments")
    settings = fuzz_settings(base).model_copy(update={"attachments_dir": attachments})
    await reset(settings, MIGRATIONS)
    return settings


@pytest.fixture(scope="module")
def target(settings: DonationSettings, keys_dir: Path) -> Iterator[Target]:
    tokens = tokens_for(issuer_for(keys_dir, settings))

    def seed(client: requests.Session, known: Known) -> None:
        seed_donation(client, known)
        seed_follow_up_visits(client, known, tokens[Role.APPROVER])

    yield from serve(create_app(settings), tokens, seed, known)


@fuzz
@ALL_ROLES
def test_donation_api(
    case: schemathesis.Case[Any], roles: list[str | None], target: Target
) -> None:
    target.check(case, roles)
