"""Property-based API fuzzing (schemathesis) of every operation of each service's OpenAPI.

Each service runs in process (its real lifespan, against a fresh database of the suite's own
at the head migration, nothing running in the background) and is called through schemathesis'
ASGI transport, once per staff role and once without a token. A few seeded records (seed.py)
give the fuzzer real identifiers for about half of the paths. Every response must not be a
5xx, and must conform to the OpenAPI: a documented status code, content type, headers and body
schema (the error responses are documented centrally, shared/openapi.py).

Size: ``SUNSHINE_FUZZ_EXAMPLES`` examples per operation and role (3 inside ``make test``);
``make fuzz`` runs 100 with schemathesis' coverage phase (boundary and invalid values of every
parameter) on top. The Hypothesis example database is off: nothing is written into the repo.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.auth import Role, StaffPrincipal, TokenIssuer
from shared.config import ServiceSettings
from tests.conftest import _reset_database
from tests.fuzz.seed import Known

S = TypeVar("S", bound=ServiceSettings)
F = TypeVar("F", bound=Callable[..., None])

# Examples per operation and role. `make test` keeps it small; `make fuzz` sets 100.
EXAMPLES = int(os.environ.get("SUNSHINE_FUZZ_EXAMPLES", "3"))
# The coverage phase (every parameter's boundary and invalid values) only in the full run.
FULL = EXAMPLES >= 20

# Every role, and no token at all.
ROLES: list[str | None] = [*(str(r) for r in Role), None]
# One test per operation, each generated request sent as every role and without a token.
# (A pytest parameter also gives every operation's test its own id under pytest-xdist.)
ALL_ROLES = pytest.mark.parametrize("roles", [ROLES], ids=["every role and no token"])

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# An event stream never ends: read what it sent within this many seconds.
STREAM_READ_S = 0.2
REQUEST_TIMEOUT_S = 30.0


def fuzz_config() -> schemathesis.Config:
    seed = os.environ.get("SUNSHINE_FUZZ_SEED")
    return schemathesis.Config.from_dict(
        {
            **({"seed": int(seed)} if seed else {}),
            "max-stream-events": 1,
            "generation": {
                "mode": "all",  # valid and invalid input
                "max-examples": EXAMPLES,
                "database": "none",  # no .hypothesis directory in the repo
                "no-shrink": not FULL,
            },
            "phases": {
                "examples": {"enabled": True},
                "fuzzing": {"enabled": True},
                "coverage": {"enabled": FULL},
                "stateful": {"enabled": False},
            },
        }
    )


def every_operation(app: FastAPI, known: Known | None = None) -> Callable[[F], F]:
    """Parametrize a test with every operation of the app's OpenAPI (read without starting
    the app): one test per operation (times the test's other parameters). Paths name the
    ``known`` (seeded) records about half of the time."""
    schema = schemathesis.openapi.from_dict(app.openapi(), config=fuzz_config())
    if known is not None:
        known.register(schema)
    decorator: Callable[[F], F] = schema.parametrize()
    return decorator


@dataclass
class Target:
    """A service app running in process, and a bearer token per role."""

    app: FastAPI
    tokens: dict[str, str]

    def headers(self, role: str | None) -> dict[str, str]:
        # X-Fuzz-As names the caller in a failure's "Reproduce with: curl ..." line
        if role is None:
            return {"X-Fuzz-As": "no token"}
        return {"Authorization": f"Bearer {self.tokens[role]}", "X-Fuzz-As": role}

    def check(self, case: schemathesis.Case[Any], roles: Sequence[str | None] = ROLES) -> None:
        """Send the generated request as each role and without a token; check every answer.

        One generated case per role set (rather than a test per role) keeps the suite fast:
        building the generator for an operation costs more than the requests."""
        timeout = STREAM_READ_S if case.operation.path.endswith("/stream") else REQUEST_TIMEOUT_S
        for role in roles:
            case.call_and_validate(
                app=self.app, headers=self.headers(role), checks=CHECKS, timeout=timeout
            )


def fuzz_settings(settings: S, **overrides: Any) -> S:
    """The worker's test settings, on a database of the fuzz suite's own, nothing running in
    the background: fuzz input must not reach this run's topics or other tests' databases."""
    return settings.model_copy(
        update={
            "db_name": settings.db_name + "_fz",
            "run_relay": False,
            "run_consumers": False,
            "db_pool_size": 5,
            **overrides,
        }
    )


def issuer_for(keys_dir: Path, settings: ServiceSettings) -> TokenIssuer:
    return TokenIssuer(
        keys_dir / "jwt_private.pem",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(hours=2),
    )


def tokens_for(issuer: TokenIssuer) -> dict[str, str]:
    return {
        str(role): issuer.issue(
            StaffPrincipal(
                username=f"fuzz-{role}", roles=frozenset({str(role)}), display_name="模糊"
            )
        )
        for role in Role
    }


async def reset(settings: ServiceSettings, migrations: Path) -> None:
    await _reset_database(settings, migrations)


Seed = Callable[[requests.Session, Known], None]


def serve(
    app: FastAPI, tokens: dict[str, str], seed: Seed | None = None, known: Known | None = None
) -> Iterator[Target]:
    """Start the app's lifespan where schemathesis' ASGI transport runs it (its event loop
    thread), keep it for the whole module, and stop it after.

    Schemathesis' pytest plugin ends every ASGI lifespan after each test item; for a service
    that would mean a new engine and connection pool for every operation and role, so that
    is switched off while the module runs."""
    shutdown = asgi.shutdown_lifespans
    asgi.shutdown_lifespans = lambda: None
    # Hypothesis keeps more than its example database under .hypothesis/ (e.g. a cache of
    # constants): while the fuzz suite runs, its home is a temporary directory.
    home = tempfile.TemporaryDirectory(prefix="sunshine-fuzz-hypothesis-")
    set_hypothesis_home_dir(home.name)
    try:
        with asgi.get_client(app) as client:  # type: ignore[arg-type]
            if seed is not None and known is not None:
                client.headers["Authorization"] = f"Bearer {tokens[Role.ADMIN]}"
                seed(client, known)
        yield Target(app, tokens)
    finally:
        asgi.shutdown_lifespans = shutdown
        shutdown()
        set_hypothesis_home_dir(None)
        home.cleanup()
