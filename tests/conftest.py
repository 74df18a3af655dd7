"""Shared fixtures. Integration and e2e tests run against the real PostgreSQL and Kafka that
``make test`` provisions (deploy/postgres, deploy/kafka); nothing here fakes a broker.

Isolation from a developer's running stack: tests use the ``*_test`` databases, their own
service ports and a per-run topic prefix (``t<run>.``), so ``make up`` and ``make test`` can
share one PostgreSQL cluster and one broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from donation.adapters.recipient_key import generate_recipient_key
from donation.config import DonationSettings
from donation.main import MIGRATIONS as DONATION_MIGRATIONS
from notification.config import NotificationSettings
from notification.main import MIGRATIONS as NOTIFICATION_MIGRATIONS
from shared.auth import generate_keypair
from shared.config import ServiceSettings
from shared.messaging.topics import all_topics, delete_topics, ensure_topics
from shared.migrations import upgrade
from warehouse.config import WarehouseSettings
from warehouse.main import MIGRATIONS as WAREHOUSE_MIGRATIONS

PG_PORT = int(os.environ.get("PG_PORT", "55432"))
PG_PASSWORD = os.environ.get("PG_APP_PASSWORD", "sunshine")
KAFKA_BOOTSTRAP = os.environ.get("SUNSHINE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
RUN_ID = f"t{int(time.time())}{os.getpid() % 1000}"
# Several test runs may share one PostgreSQL and one broker: the databases get an optional
# suffix and the e2e services a port base, both from the environment.
# Under pytest-xdist each worker (gw0, gw1, ...) gets its own databases and ports too.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
DB_SUFFIX = os.environ.get("SUNSHINE_TEST_DB_SUFFIX", "") + (f"_{WORKER}" if WORKER else "")
PORT_BASE = int(os.environ.get("SUNSHINE_TEST_PORT_BASE", "18000")) + 500 * int(
    WORKER.removeprefix("gw") or 0
)
TOPIC_PREFIX = f"{RUN_ID}."


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    generate_keypair(directory)
    generate_recipient_key(directory / "recipient_id.key")
    return directory


def _common(keys_dir: Path) -> dict[str, Any]:
    return {
        "environment": "test",
        "db_port": PG_PORT,
        "db_password": PG_PASSWORD,
        "kafka_bootstrap": KAFKA_BOOTSTRAP,
        "topic_prefix": TOPIC_PREFIX,
        "jwt_public_key_file": keys_dir / "jwt_public.pem",
        "relay_poll_interval_s": 0.5,
        "db_pool_size": 5,
    }


@pytest.fixture(scope="session")
def donation_settings(keys_dir: Path) -> DonationSettings:
    return DonationSettings(
        db_name=f"donation_test{DB_SUFFIX}",
        port=PORT_BASE + 1,
        jwt_private_key_file=keys_dir / "jwt_private.pem",
        recipient_id_key_file=keys_dir / "recipient_id.key",
        **_common(keys_dir),
    )


@pytest.fixture(scope="session")
def warehouse_settings(keys_dir: Path) -> WarehouseSettings:
    # the preparedness sweep publishes signals (and so alerts) on its own after a few minutes:
    # tests run it by hand (POST /api/v1/preparedness/sweep), also in the e2e processes
    return WarehouseSettings(
        db_name=f"warehouse_test{DB_SUFFIX}",
        port=PORT_BASE + 2,
        run_preparedness_sweep=False,
        **_common(keys_dir),
    )


@pytest.fixture(scope="session")
def notification_settings(keys_dir: Path) -> NotificationSettings:
    return NotificationSettings(
        db_name=f"notification_test{DB_SUFFIX}", port=PORT_BASE + 3, **_common(keys_dir)
    )


async def _reset_database(settings: ServiceSettings, migrations: Path) -> None:
    admin = await asyncpg.connect(settings.asyncpg_dsn.rsplit("/", 1)[0] + "/postgres", timeout=10)
    try:
        exists = await admin.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", settings.db_name
        )
        if not exists:
            await admin.execute(f'CREATE DATABASE "{settings.db_name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(settings.asyncpg_dsn, timeout=10)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()
    await asyncio.to_thread(upgrade, settings, migrations)


@pytest.fixture(scope="session")
async def databases(
    donation_settings: DonationSettings,
    warehouse_settings: WarehouseSettings,
    notification_settings: NotificationSettings,
) -> dict[str, ServiceSettings]:
    """Fresh test databases at the head migration (applied with Alembic, as in production)."""
    try:
        await _reset_database(donation_settings, DONATION_MIGRATIONS)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is not reachable on 127.0.0.1:{PG_PORT} ({exc}). "
            "Run the tests with `make test`, which provisions it."
        )
    await _reset_database(warehouse_settings, WAREHOUSE_MIGRATIONS)
    await _reset_database(notification_settings, NOTIFICATION_MIGRATIONS)
    return {
        "donation": donation_settings,
        "warehouse": warehouse_settings,
        "notification": notification_settings,
    }


@pytest.fixture(scope="session")
async def kafka_topics() -> AsyncIterator[list[str]]:
    """This run's topics (prefixed), created before and deleted after the session."""
    names = all_topics(TOPIC_PREFIX)
    try:
        await ensure_topics(KAFKA_BOOTSTRAP, names, timeout_s=30)
    except Exception as exc:
        pytest.fail(
            f"Kafka is not reachable at {KAFKA_BOOTSTRAP} ({exc}). "
            "Run the tests with `make test`, which provisions it."
        )
    yield names
    with contextlib.suppress(Exception):  # best effort; `make reset` wipes everything
        await delete_topics(KAFKA_BOOTSTRAP, [*names, *_extra_topics])


_extra_topics: list[str] = []


@pytest.fixture
async def scratch_topic(kafka_topics: list[str]) -> str:
    """A fresh topic (and its .dlq) for one test."""
    name = f"{TOPIC_PREFIX}scratch.{len(_extra_topics)}"
    _extra_topics.extend([name, name + ".dlq"])
    await ensure_topics(KAFKA_BOOTSTRAP, [name, name + ".dlq"], partitions=1)
    return name


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


# The fault-injection suite's table: rows are appended by whichever worker runs tests/faults
# (see tests/faults/test_faults.py) and printed here by the controller. Each run has a file of
# its own (named after the controller, passed to the workers through the environment), so
# two test runs in one checkout never delete each other's rows.
FAULT_RESULTS_ENV = "SUNSHINE_FAULT_RESULTS"


def fault_results_file() -> Path:
    default = Path(__file__).resolve().parents[1] / ".local" / "faults" / "results.txt"
    return Path(os.environ.get(FAULT_RESULTS_ENV, default))


def pytest_configure(config: pytest.Config) -> None:
    # the controller, or a run without xdist (xdist names its workers in the environment
    # before anything else; ``config.workerinput`` is not there yet when this runs)
    if not WORKER:
        results = fault_results_file().with_name(f"results-{os.getpid()}.txt")
        results.unlink(missing_ok=True)
        os.environ[FAULT_RESULTS_ENV] = str(results)  # inherited by xdist's workers


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    results = fault_results_file()
    if WORKER or not results.exists():
        return
    from tests.faults.conftest import GIFTS, RATE
    from tests.faults.harness import Counts

    terminalreporter.section(f"fault injection ({GIFTS} gifts at {RATE:.0f}/s per scenario)")
    terminalreporter.write_line(Counts.header())
    for row in results.read_text().splitlines():
        terminalreporter.write_line(row)
    results.unlink()
