"""The OpenAPI of every service documents exactly the error responses an operation can return.

Each route declares the errors its handler raises (``responses=raises(...)``, shared/openapi.py);
the generic ones come from the operation's shape. Here the declarations and the rendered OpenAPI
are held against the code: ``raised_errors.Analysis`` reads, from the source, which of our error
classes each route's endpoint, dependencies and everything of ours they call can raise.

- a declared status is one the code raises (nothing documented that cannot happen);
- a domain status the code raises (404, 409, 412, 428, 429) is declared, so it is documented
  with its reason (nothing the code returns left out; schemathesis, tests/fuzz, checks the same
  from the outside);
- the rendered OpenAPI is the generic statuses plus the declared ones, no more;
- every documented status can be answered: the code raises it, or the framework or our
  middleware answers it for the operation's shape (checked without shared/openapi.py's rules).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from donation.config import DonationSettings
from donation.main import create_app as donation_app
from notification.config import NotificationSettings
from notification.main import create_app as notification_app
from shared.auth import CurrentStaff, Role, StaffPrincipal, require_roles
from shared.errors import (
    AppError,
    Conflict,
    Forbidden,
    NotAuthenticated,
    NotFound,
    PreconditionRequired,
)
from shared.openapi import (
    DESCRIPTIONS,
    IDEMPOTENCY_CONFLICT,
    NO_ROUTE,
    document_errors,
    error_codes,
    raises,
    role_checked_operations,
)
from tests.unit.raised_errors import OURS, Analysis, ours
from warehouse.config import WarehouseSettings
from warehouse.main import create_app as warehouse_app

# Statuses only a handler's own logic answers: each one the code raises must be declared.
DOMAIN = {404, 409, 412, 428, 429}

# Errors the analysis finds on a route that no request can reach (it does not follow values):
# each with the reason. An entry no longer found fails the test, so the list stays true.
UNREACHABLE: dict[str, dict[type[AppError], str]] = {
    "POST /api/v1/projects": {NotFound: "project_body() of the project it has just created"},
    "POST /api/v1/organisations": {
        NotFound: "organisation_body() of the organisation it has just registered",
    },
    "POST /api/v1/staff": {NotFound: "account_body() of the account it has just created"},
    "POST /api/v1/incidents": {NotFound: "_render() of the incident it has just registered"},
    "GET /api/v1/disbursements": {
        NotFound: "disbursement_body() of ids the same query has just read",
    },
    "GET /api/v1/projects/{code}/disbursements": {
        NotFound: "disbursement_body() of ids the same query has just read (an unknown project "
        "lists nothing)",
    },
    "POST /api/v1/giving/orders": {NotFound: "order_view() of the order it has just written"},
    "GET /api/v1/giving/orders/{out_trade_no}": {
        Conflict: "check_order() catches what apply_gateway_payment() raises (logged; the page "
        "shows the order as it stands)",
    },
    "POST /api/v1/payments/{channel}/notify": {
        Conflict: "apply_gateway_payment()'s refusals are caught: the notification is refused "
        "so that the gateway retries it",
    },
    "POST /api/v1/projects/{code}/close": {
        PreconditionRequired: "close_project() checks the version only when one is sent",
    },
}

# Functions of ours that construct an error yet no route's analysis reaches: why that is right.
NOT_FROM_A_ROUTE = {
    "shared.auth.TokenVerifier._verify": "through request.app.state (not followed); its 401 is "
    "the one current_staff raises on every secured route",
    "shared.auth.TokenVerifier._refuse_if_revoked": "called by TokenVerifier.verify (through "
    "request.app.state, not followed): the same 401 of current_staff",
    "shared.auth.TokenVerifier._roles_of": "called by TokenVerifier._verify: the same 401",
    "shared.auth.TokenVerifier._org_of": "called by TokenVerifier._verify: the same 401",
    "shared.auth.require_roles": "the 403 is raised by the dependency it returns (reached)",
    "shared.request_guard._too_large": "middleware: the generic 413",
    "donation.service_layer.projects.execute_remainder": "the demo seed's catch-up of a "
    "remainder decided before decisions were executed (seed.py), not a route",
}


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    route: APIRoute
    documented: dict[str, Any]  # the rendered OpenAPI operation

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def _apps() -> dict[str, FastAPI]:
    return {
        "donation": donation_app(DonationSettings(environment="test")),
        "warehouse": warehouse_app(WarehouseSettings(environment="test")),
        "notification": notification_app(NotificationSettings(environment="test")),
    }


def _operations(app: FastAPI, service: str) -> Iterator[Operation]:
    spec = app.openapi()
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path_format
        if not isinstance(route, APIRoute) or not route.include_in_schema or path is None:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            yield Operation(service, method, path, route, spec["paths"][path][method.lower()])


APPS = _apps()
OPERATIONS = [op for service, app in APPS.items() for op in _operations(app, service)]
ANALYSIS = Analysis()


def statuses(errors: Any) -> set[int]:
    return {error.status_code for error in errors}


def declared(route: APIRoute) -> set[int]:
    return {int(code) for code in route.responses if str(code).startswith("4")}


def documented(operation: dict[str, Any]) -> set[int]:
    return {int(code) for code in operation["responses"] if code.startswith("4")}


def raised_all(op: Operation) -> set[int]:
    unreachable = UNREACHABLE.get(op.name, {})
    return statuses(e for e in ANALYSIS.route(op.route) if e not in unreachable)


def raised(op: Operation) -> set[int]:
    """The client errors (4xx) the code raises; a 5xx it raises is checked on its own."""
    return {status for status in raised_all(op) if status < 500}


def _role_checked(op: Operation) -> bool:
    return (op.method.lower(), op.path) in role_checked_operations(APPS[op.service].routes)


def generic(op: Operation) -> set[int]:
    return error_codes(op.documented, role_checked=_role_checked(op))


def test_every_service_has_operations() -> None:
    assert {op.service for op in OPERATIONS} == set(APPS)
    assert len(OPERATIONS) > 90


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.service} {op.name}")
def test_declared_errors_are_the_ones_the_code_raises(op: Operation) -> None:
    code = raised(op)
    mine = declared(op.route)
    assert mine <= code | generic(op), (
        f"{op.name} declares {sorted(mine - code - generic(op))}, which its code never raises"
    )
    assert mine & DOMAIN == code & DOMAIN, (
        f"{op.name}: its code raises {sorted(code & DOMAIN)}, it declares {sorted(mine & DOMAIN)}"
        " (responses=raises(...) in the route decorator)"
    )


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.service} {op.name}")
def test_openapi_documents_exactly_generic_and_declared(op: Operation) -> None:
    assert documented(op.documented) == generic(op) | declared(op.route)
    assert raised(op) <= documented(op.documented), f"{op.name}: raised but not documented"
    for code in declared(op.route):
        assert (
            op.documented["responses"][str(code)]["description"]
            == (op.route.responses.get(code, op.route.responses.get(str(code), {}))["description"])
        )


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.service} {op.name}")
def test_every_documented_error_can_be_answered(op: Operation) -> None:
    """Independently of shared/openapi.py's rules: what the code raises, and what the framework
    and our middleware answer before any handler runs (a body too large or invalid; an invalid
    parameter or a NUL in the path or query; a path parameter holding "/" names no route)."""
    parameters = op.documented.get("parameters", [])
    reachable = raised(op)
    if "requestBody" in op.documented:
        reachable |= {413, 422}
    if parameters:
        reachable.add(422)
    if any(p["in"] == "path" for p in parameters):
        reachable.add(404)
    unreachable = documented(op.documented) - reachable
    assert not unreachable, f"{op.name} documents {sorted(unreachable)}, which it never answers"


def test_the_unreachable_list_is_current() -> None:
    by_name = {op.name: op for op in OPERATIONS}
    for name, errors in UNREACHABLE.items():
        assert name in by_name, f"no operation {name}"
        found = ANALYSIS.route(by_name[name].route)
        assert set(errors) <= found, f"{name}: {set(errors) - found} no longer found; drop it"


def _our_functions() -> Iterator[Any]:
    for top in OURS:
        package = importlib.import_module(top)
        for info in pkgutil.walk_packages(package.__path__, f"{top}."):
            if ".migrations" in info.name or info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if getattr(value, "__module__", None) != module.__name__:
                    continue
                if inspect.isfunction(value):
                    yield value
                elif isinstance(value, type):
                    yield from (f for f in vars(value).values() if inspect.isfunction(f))


def test_the_analysis_reaches_every_error_our_code_raises() -> None:
    """Calls the analysis cannot follow would hide errors: every function that constructs one of
    our errors is reached from some route (or listed, with the reason, in NOT_FROM_A_ROUTE)."""
    for op in OPERATIONS:
        ANALYSIS.route(op.route)
    missed: list[str] = []
    listed: set[str] = set()
    for func in _our_functions():
        name = f"{func.__module__}.{func.__qualname__}"
        if func in ANALYSIS.visited:
            continue
        if any(isinstance(t, type) and issubclass(t, AppError) for t in ANALYSIS._targets(func)):
            if name in NOT_FROM_A_ROUTE:
                listed.add(name)
            else:
                missed.append(name)
    assert not missed, f"errors raised where no route's analysis reaches: {missed}"
    stale = set(NOT_FROM_A_ROUTE) - listed
    assert not stale, f"NOT_FROM_A_ROUTE: drop {stale} (reached now, or no longer raising)"


def test_the_analysis_finds_errors_through_calls_and_types() -> None:
    from donation.entrypoints.api import donations

    assert ours(donations.cancel)
    found = ANALYSIS.function(donations.cancel)
    assert {NotFound, Conflict} <= found  # gifts.cancel_donation, donation_body, idempotency


# ------------------------------------------------------------------- the mechanism, in small


class Thing(BaseModel):
    name: str


def _small_app() -> FastAPI:
    app = FastAPI()
    router = APIRouter(prefix="/things")
    admin = require_roles(Role.ADMIN)

    @router.post("")
    async def create(body: Thing, staff: StaffPrincipal = admin) -> Thing:
        return body

    @router.get("/{thing_id}/parts")
    async def parts(thing_id: int, staff: CurrentStaff) -> list[str]:
        return []

    @router.get("/public")
    async def public() -> dict[str, str]:
        return {}

    @router.post(
        "/{thing_id}/act",
        responses=raises(NotFound, (Conflict, "Already acted"), IDEMPOTENCY_CONFLICT),
    )
    async def act(thing_id: int, staff: StaffPrincipal = admin) -> dict[str, str]:
        return {}

    @router.post("/login", responses=raises((NotAuthenticated, "Wrong password")))
    async def login(body: Thing) -> dict[str, str]:
        return {}

    app.include_router(router)
    document_errors(app)
    return app


def _responses(app: FastAPI, method: str, path: str) -> dict[str, Any]:
    responses: dict[str, Any] = app.openapi()["paths"][path][method]["responses"]
    return responses


def test_a_route_without_declared_errors_gets_only_the_generic_ones() -> None:
    app = _small_app()
    # a collection POST looks nothing up and conflicts with nothing: no 404, no 409
    create = _responses(app, "post", "/things")
    assert set(create) == {"200", "401", "403", "413", "422"}
    assert create["403"]["description"] == DESCRIPTIONS[403]
    # any staff token (no role check): no 403; a path parameter: 404 (no route) and 422
    parts = _responses(app, "get", "/things/{thing_id}/parts")
    assert set(parts) == {"200", "401", "404", "422"}
    assert parts["404"]["description"] == NO_ROUTE
    # public, no parameter: no error at all
    assert set(_responses(app, "get", "/things/public")) == {"200"}
    for response in create.values():
        if response is not create["200"]:
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}


def test_declared_errors_are_rendered_with_their_reasons() -> None:
    app = _small_app()
    act = _responses(app, "post", "/things/{thing_id}/act")
    assert set(act) == {"200", "401", "403", "404", "409", "422"}
    assert act["404"]["description"] == DESCRIPTIONS[404]
    assert act["409"]["description"] == (
        "Already acted; Idempotency-Key already used with a different request body"
    )
    login = _responses(app, "post", "/things/login")
    assert set(login) == {"200", "401", "413", "422"}
    assert login["401"]["description"] == "Wrong password"
    assert "ErrorBody" in app.openapi()["components"]["schemas"]


def test_raises_merges_statuses_and_defaults_descriptions() -> None:
    assert raises() == {}
    assert raises(NotFound, Forbidden) == {
        403: {"description": DESCRIPTIONS[403]},
        404: {"description": DESCRIPTIONS[404]},
    }
    assert raises((Conflict, "a"), (Conflict, "a"), (Conflict, "b")) == {
        409: {"description": "a; b"}
    }


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.service} {op.name}")
def test_a_server_error_the_code_raises_is_declared(op: Operation) -> None:
    # e.g. 503 when a payment gateway is not configured or a receipt font is missing
    server = {status for status in raised_all(op) if status >= 500}
    assert server <= {int(code) for code in op.route.responses}, f"{op.name}: declare {server}"
    assert server <= {int(code) for code in op.documented["responses"]}
