"""The policy table is complete and current: every route the three apps expose has an entry
(a new route without a decided policy fails here), no entry names a route that does not exist,
the roles are those of shared.auth, and docs/authorization.md is the table as rendered."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from donation.config import DonationSettings
from donation.main import create_app as donation_app
from notification.config import NotificationSettings
from notification.main import create_app as notification_app
from shared.auth import Role
from tests.integration.authz.policy import POLICY, ROLES, Route, Service, render
from warehouse.config import WarehouseSettings
from warehouse.main import create_app as warehouse_app

DOC = Path(__file__).resolve().parents[3] / "docs" / "authorization.md"


def exposed(service: Service, app: FastAPI) -> set[Route]:
    """Every (method, path) the app routes, without the ``HEAD`` Starlette adds to a ``GET``."""
    routes: set[Route] = set()
    for route in iter_route_contexts(app.routes):
        methods = set(route.methods or ())
        assert route.path, f"{service}: a route without a path: {route!r}"
        if "GET" in methods:
            methods.discard("HEAD")
        routes |= {(service, method, route.path) for method in methods}
    return routes


@pytest.fixture(scope="module")
def app_routes(
    donation_settings: DonationSettings,
    warehouse_settings: WarehouseSettings,
    notification_settings: NotificationSettings,
) -> set[Route]:
    # Built only to read their routes: the lifespan (database, Kafka) never runs.
    return (
        exposed("donation", donation_app(donation_settings))
        | exposed("warehouse", warehouse_app(warehouse_settings))
        | exposed("notification", notification_app(notification_settings))
    )


def _show(routes: set[Route]) -> str:
    return "\n".join(f"  {s} {m} {p}" for s, m, p in sorted(routes))


def test_every_route_has_a_policy(app_routes: set[Route]) -> None:
    missing = app_routes - POLICY.keys()
    assert not missing, (
        "routes without an entry in tests/integration/authz/policy.py (decide who may call "
        "them, add them, regenerate docs/authorization.md):\n" + _show(missing)
    )


def test_the_policy_names_only_real_routes(app_routes: set[Route]) -> None:
    stale = POLICY.keys() - app_routes
    assert not stale, "policy entries for routes no app exposes:\n" + _show(stale)


def test_the_policy_knows_every_role() -> None:
    assert set(ROLES) == {str(r) for r in Role}, "a role was added or removed: review the table"


def test_the_document_is_the_table() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/authorization.md differs from the policy table; regenerate it with "
        "`python -m tests.integration.authz.policy > docs/authorization.md`"
    )
