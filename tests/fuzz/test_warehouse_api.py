"""Fuzz every operation of the warehouse service's OpenAPI, per role and without a token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis

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
from tests.fuzz.seed import Known, seed_warehouse
from warehouse.config import WarehouseSettings
from warehouse.main import MIGRATIONS, create_app

pytestmark = pytest.mark.fuzz

known = Known()
fuzz = every_operation(create_app(WarehouseSettings(environment="test")), known)


@pytest.fixture(scope="module")
async def settings(databases: dict[str, ServiceSettings]) -> WarehouseSettings:
    base = databases["warehouse"]
    assert isinstance(base, WarehouseSettings)
    settings = fuzz_settings(base, run_expiry_scan=False, run_preparedness_sweep=False)
    await reset(settings, MIGRATIONS)
    return settings


@pytest.fixture(scope="module")
def target(settings: WarehouseSettings, keys_dir: Path) -> Iterator[Target]:
    yield from serve(
        create_app(settings), tokens_for(issuer_for(keys_dir, settings)), seed_warehouse, known
    )


@fuzz
@ALL_ROLES
def test_warehouse_api(
    case: schemathesis.Case[Any], roles: list[str | None], target: Target
) -> None:
    target.check(case, roles)
