"""Contract tests for the container deployment: docker-compose.yml and friends.

There is no Docker engine where these tests run, so compose itself cannot be
exercised. Instead:

* the compose file is validated against the Compose specification's JSON
  Schema, which check-jsonschema vendors (``--builtin-schema
  vendor.compose-spec``), so nothing is fetched from the network;
* the parsed file is checked for what the system needs: every container that
  runs our image has its configuration and (for long-running services) a
  healthcheck, the start-up order is enforced, and Prometheus scrapes all three
  services.

Both kinds of check are also run against deliberately broken copies, to prove
that they can fail.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
PROMETHEUS_FILE = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
DOCKERFILE = "deploy/docker/Dockerfile"
COMPOSE_SCHEMA = "vendor.compose-spec"

# service name -> HTTP port (API, /healthz and /metrics)
SERVICES: dict[str, int] = {"donation": 8001, "warehouse": 8002, "notification": 8003}
# one-shot containers running our image, that every service waits for
ONE_SHOTS: frozenset[str] = frozenset({"keys", "kafka-init"})
KAFKA_BOOTSTRAP = "kafka:9092"

Compose = dict[str, Any]
Mutation = Callable[[Compose], None]


# --------------------------------------------------------------------------- helpers


def _check_jsonschema() -> Path:
    """The check-jsonschema executable installed next to the running interpreter."""
    bin_dir = Path(sys.executable).parent
    for name in ("check-jsonschema", "check-jsonschema.exe"):
        candidate = bin_dir / name
        if candidate.exists():
            return candidate
    pytest.fail(
        f"check-jsonschema not found in {bin_dir}; install the project's dev extra "
        "(pip install -e '.[dev]')"
    )


def _validate_with_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(_check_jsonschema()), "--builtin-schema", COMPOSE_SCHEMA, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def _as_text(value: object) -> str:
    """A command or healthcheck test (string or list form) as one string."""
    if isinstance(value, list):
        return " ".join(str(part) for part in value)
    return "" if value is None else str(value)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, normalised from map or ``KEY=VALUE`` list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (str(item).partition("=") for item in env)
        return {key: value for key, _, value in pairs}
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    """dependency -> condition, normalised from list or map form."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {str(name): "service_started" for name in deps}
    return {
        str(name): str((spec or {}).get("condition", "service_started"))
        for name, spec in deps.items()
    }


def _volumes(service: dict[str, Any]) -> list[str]:
    """Short-syntax volume strings (long syntax is rendered to the same form)."""
    rendered: list[str] = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            suffix = ":ro" if volume.get("read_only") else ""
            rendered.append(f"{volume.get('source')}:{volume.get('target')}{suffix}")
        else:
            rendered.append(str(volume))
    return rendered


def _our_image_services(compose: Compose) -> dict[str, dict[str, Any]]:
    """Every service that is built from our Dockerfile or runs the image it builds."""
    services: dict[str, dict[str, Any]] = compose.get("services") or {}
    built: dict[str, dict[str, Any]] = {}
    for name, service in services.items():
        build = service.get("build")
        if isinstance(build, dict) and build.get("dockerfile") == DOCKERFILE:
            built[name] = service
    our_tags = {service["image"] for service in built.values() if "image" in service}
    for name, service in services.items():
        if service.get("image") in our_tags:
            built.setdefault(name, service)
    return built


def _expected_service_env(name: str, port: int) -> dict[str, str]:
    prefix = name.upper()
    env = {
        f"{prefix}_ENVIRONMENT": "local",
        f"{prefix}_HOST": "0.0.0.0",
        f"{prefix}_PORT": str(port),
        f"{prefix}_DB_HOST": "postgres",
        f"{prefix}_DB_PORT": "5432",
        f"{prefix}_DB_USER": "sunshine",
        f"{prefix}_DB_PASSWORD": "sunshine",
        f"{prefix}_DB_NAME": name,
        f"{prefix}_KAFKA_BOOTSTRAP": KAFKA_BOOTSTRAP,
        f"{prefix}_JWT_PUBLIC_KEY_FILE": "/keys/jwt_public.pem",
    }
    if name == "donation":
        env["DONATION_JWT_PRIVATE_KEY_FILE"] = "/keys/jwt_private.pem"
    return env


# --------------------------------------------------------------------------- checks


def _mismatches(where: str, actual: dict[str, str], expected: dict[str, str]) -> list[str]:
    return [
        f"{where}: {key}={actual.get(key)!r}, want {value!r}"
        for key, value in expected.items()
        if actual.get(key) != value
    ]


def _api_service_problems(name: str, port: int, service: dict[str, Any]) -> list[str]:
    problems = _mismatches(
        f"{name} environment", _environment(service), _expected_service_env(name, port)
    )

    command = _as_text(service.get("command"))
    for step in ("migrate", "serve"):
        if f"python -m {name} {step}" not in command:
            problems.append(f"{name}: command {command!r} does not run `python -m {name} {step}`")

    healthcheck = service.get("healthcheck") or {}
    test = _as_text(healthcheck.get("test"))
    if healthcheck.get("disable") or f"http://127.0.0.1:{port}/healthz" not in test:
        problems.append(
            f"{name}: no healthcheck on http://127.0.0.1:{port}/healthz (test={test!r})"
        )

    if f"{port}:{port}" not in [str(p) for p in service.get("ports") or []]:
        problems.append(f"{name}: port {port} is not published")
    if "jwt-keys:/keys:ro" not in _volumes(service):
        problems.append(f"{name}: jwt-keys volume is not mounted read-only at /keys")

    wanted = {
        "postgres": "service_healthy",
        "kafka": "service_healthy",
        "kafka-init": "service_completed_successfully",
        "keys": "service_completed_successfully",
    }
    problems += _mismatches(f"{name} depends_on", _depends_on(service), wanted)
    return problems


def _one_shot_problems(ours: dict[str, dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    for name in sorted(ONE_SHOTS):
        service = ours.get(name)
        if service is None:
            problems.append(f"{name}: one-shot missing or not running our image")
            continue
        if str(service.get("restart", "no")) != "no":
            problems.append(f"{name}: one-shot has restart={service.get('restart')!r}, want 'no'")

    keys = ours.get("keys", {})
    if _as_text(keys.get("command")).split()[-3:] != ["shared.auth", "keygen", "/keys"]:
        problems.append(f"keys: command {keys.get('command')!r} is not shared.auth keygen /keys")
    if "jwt-keys:/keys" not in _volumes(keys):
        problems.append("keys: jwt-keys volume is not mounted writable at /keys")

    init = ours.get("kafka-init", {})
    if "python -m shared.messaging.topics" not in _as_text(init.get("command")):
        problems.append("kafka-init: does not run `python -m shared.messaging.topics`")
    problems += _mismatches(
        "kafka-init environment",
        _environment(init),
        {"SUNSHINE_KAFKA_BOOTSTRAP": KAFKA_BOOTSTRAP},
    )
    problems += _mismatches(
        "kafka-init depends_on", _depends_on(init), {"kafka": "service_healthy"}
    )
    return problems


def _infrastructure_problems(compose: Compose) -> list[str]:
    services: dict[str, dict[str, Any]] = compose.get("services") or {}
    problems: list[str] = []

    kafka = services.get("kafka", {})
    if kafka.get("image") != "apache/kafka:4.1.1":
        problems.append(f"kafka: image {kafka.get('image')!r}, want 'apache/kafka:4.1.1'")
    problems += _mismatches(
        "kafka environment",
        _environment(kafka),
        {
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{KAFKA_BOOTSTRAP}",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@kafka:9093",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_NUM_PARTITIONS": "6",
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        },
    )
    kafka_test = _as_text((kafka.get("healthcheck") or {}).get("test"))
    if "/opt/kafka/bin/kafka-topics.sh" not in kafka_test or "--list" not in kafka_test:
        problems.append(f"kafka: healthcheck {kafka_test!r} does not list topics")

    postgres = services.get("postgres", {})
    if postgres.get("image") != "postgres:15":
        problems.append(f"postgres: image {postgres.get('image')!r}, want 'postgres:15'")
    pg_volumes = _volumes(postgres)
    if not any(
        v.startswith("./deploy/docker/postgres-init:/docker-entrypoint-initdb.d")
        for v in pg_volumes
    ):
        problems.append("postgres: deploy/docker/postgres-init is not mounted as init scripts")
    if not any(v.split(":")[0] in (compose.get("volumes") or {}) for v in pg_volumes):
        problems.append("postgres: data is not on a named volume")
    if "pg_isready" not in _as_text((postgres.get("healthcheck") or {}).get("test")):
        problems.append("postgres: healthcheck does not use pg_isready")

    prometheus = services.get("prometheus", {})
    if not str(prometheus.get("image", "")).startswith("prom/prometheus"):
        problems.append(f"prometheus: image {prometheus.get('image')!r} is not prom/prometheus")
    if "9090:9090" not in [str(p) for p in prometheus.get("ports") or []]:
        problems.append("prometheus: port 9090 is not published")
    if not any(
        v.startswith("./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml")
        for v in _volumes(prometheus)
    ):
        problems.append("prometheus: deploy/prometheus/prometheus.yml is not mounted")

    for volume in ("jwt-keys", "postgres-data"):
        if volume not in (compose.get("volumes") or {}):
            problems.append(f"named volume {volume!r} is not declared")
    return problems


def compose_problems(compose: Compose) -> list[str]:
    """Everything wrong with a parsed compose file, as human-readable lines."""
    ours = _our_image_services(compose)
    problems: list[str] = []

    for name, port in SERVICES.items():
        if name not in ours:
            problems.append(f"{name}: missing or not built from {DOCKERFILE}")
            continue
        problems += _api_service_problems(name, port, ours[name])

    problems += _one_shot_problems(ours)

    for name in sorted(set(ours) - set(SERVICES) - ONE_SHOTS):
        problems.append(f"{name}: runs our image but is neither a known service nor a one-shot")

    problems += _infrastructure_problems(compose)
    return problems


def prometheus_problems(config: dict[str, Any]) -> list[str]:
    """Everything wrong with a parsed prometheus.yml, as human-readable lines."""
    global_interval = str((config.get("global") or {}).get("scrape_interval", "1m"))
    problems: list[str] = []
    for name, port in SERVICES.items():
        target = f"{name}:{port}"
        jobs = [
            job
            for job in config.get("scrape_configs") or []
            if any(
                target in (static.get("targets") or [])
                for static in job.get("static_configs") or []
            )
        ]
        if not jobs:
            problems.append(f"no scrape job targets {target}")
        for job in jobs:
            job_name = job.get("job_name")
            if job.get("metrics_path", "/metrics") != "/metrics":
                path = job.get("metrics_path")
                problems.append(f"job {job_name}: metrics_path {path!r} is not /metrics")
            interval = str(job.get("scrape_interval", global_interval))
            if interval != "5s":
                problems.append(f"job {job_name}: scrapes {target} every {interval}, want 5s")
    return problems


# --------------------------------------------------------------------------- tests


@pytest.fixture
def compose() -> Compose:
    return _load_yaml(COMPOSE_FILE)


def test_compose_file_matches_compose_spec_schema() -> None:
    result = _validate_with_schema(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_defines_the_whole_system(compose: Compose) -> None:
    assert compose_problems(compose) == []


def test_prometheus_scrapes_all_three_services() -> None:
    assert prometheus_problems(_load_yaml(PROMETHEUS_FILE)) == []


def test_files_the_compose_file_points_at_exist(compose: Compose) -> None:
    missing: list[str] = []
    for name, service in (compose.get("services") or {}).items():
        build = service.get("build")
        if isinstance(build, dict):
            dockerfile = (
                REPO_ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
            )
            if not dockerfile.is_file():
                missing.append(f"{name}: {dockerfile}")
        for volume in _volumes(service):
            source = volume.split(":")[0]
            if source.startswith((".", "/")) and not (REPO_ROOT / source).exists():
                missing.append(f"{name}: bind mount source {source}")
    assert missing == []
    assert sorted(p.name for p in (REPO_ROOT / "deploy/docker/postgres-init").glob("*.sql")), (
        "no init SQL"
    )


def test_dockerfile_builds_a_lean_non_root_image() -> None:
    text = (REPO_ROOT / DOCKERFILE).read_text(encoding="utf-8")
    instructions = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert instructions[0] == "FROM python:3.11-slim"
    assert "pip install --no-cache-dir -c constraints.txt ." in text
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users, "the image must switch to a non-root user"
    assert users[-1] not in ("root", "0"), "the image must run as a non-root user"


def test_postgres_init_creates_role_and_databases() -> None:
    sql = (REPO_ROOT / "deploy/docker/postgres-init/01-databases.sql").read_text(encoding="utf-8")
    assert "CREATE ROLE sunshine WITH LOGIN PASSWORD 'sunshine'" in sql
    for database in SERVICES:
        assert f"'{database}'" in sql


# --- the checks above must be able to fail ---------------------------------------


def _set_condition(service: str, dependency: str, condition: str) -> Mutation:
    def mutate(compose: Compose) -> None:
        compose["services"][service]["depends_on"][dependency]["condition"] = condition

    return mutate


def _set_key(service: str, key: str, value: object) -> Mutation:
    def mutate(compose: Compose) -> None:
        compose["services"][service][key] = value

    return mutate


def _drop_key(service: str, key: str) -> Mutation:
    def mutate(compose: Compose) -> None:
        del compose["services"][service][key]

    return mutate


def _drop_env(service: str, variable: str) -> Mutation:
    def mutate(compose: Compose) -> None:
        del compose["services"][service]["environment"][variable]

    return mutate


def _add_service(name: str) -> Mutation:
    def mutate(compose: Compose) -> None:
        compose["services"][name] = copy.deepcopy(compose["services"]["keys"])

    return mutate


def test_schema_accepts_a_round_tripped_copy(compose: Compose, tmp_path: Path) -> None:
    # Control for the rejection test below: dumping without a mutation stays valid.
    copy_path = tmp_path / "docker-compose.yml"
    copy_path.write_text(yaml.safe_dump(compose, sort_keys=False), encoding="utf-8")
    result = _validate_with_schema(copy_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(
            _set_condition("donation", "kafka", "service_ready"),
            id="unknown-depends-on-condition",
        ),
        pytest.param(_set_key("warehouse", "enviroment", {"X": "1"}), id="misspelt-service-key"),
        pytest.param(
            _set_key("notification", "healthcheck", {"test": "true", "every": "5s"}),
            id="bad-healthcheck",
        ),
        pytest.param(_set_key("kafka", "ports", "9092:9092"), id="ports-not-a-list"),
    ],
)
def test_schema_rejects_a_broken_copy(compose: Compose, tmp_path: Path, mutate: Mutation) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    broken_path = tmp_path / "docker-compose.yml"
    broken_path.write_text(yaml.safe_dump(broken, sort_keys=False), encoding="utf-8")
    result = _validate_with_schema(broken_path)
    assert result.returncode != 0, f"schema accepted a broken compose file:\n{result.stdout}"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            _drop_env("warehouse", "WAREHOUSE_DB_NAME"),
            "WAREHOUSE_DB_NAME",
            id="missing-env",
        ),
        pytest.param(
            _drop_env("donation", "DONATION_JWT_PRIVATE_KEY_FILE"),
            "DONATION_JWT_PRIVATE_KEY_FILE",
            id="no-private-key",
        ),
        pytest.param(
            _drop_key("notification", "healthcheck"),
            "notification: no healthcheck",
            id="no-healthcheck",
        ),
        pytest.param(
            _set_condition("donation", "kafka-init", "service_started"),
            "donation depends_on",
            id="topics-not-awaited",
        ),
        pytest.param(
            _drop_key("kafka-init", "environment"),
            "SUNSHINE_KAFKA_BOOTSTRAP",
            id="topics-without-kafka",
        ),
        pytest.param(
            _add_service("stray"),
            "stray: runs our image",
            id="unknown-service-on-our-image",
        ),
        pytest.param(
            _drop_key("postgres", "healthcheck"),
            "pg_isready",
            id="postgres-no-healthcheck",
        ),
    ],
)
def test_system_checks_reject_a_broken_copy(
    compose: Compose, mutate: Mutation, expected: str
) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    problems = compose_problems(broken)
    assert any(expected in problem for problem in problems), problems


def test_prometheus_check_rejects_a_missing_target() -> None:
    config = _load_yaml(PROMETHEUS_FILE)
    config["scrape_configs"] = [
        job
        for job in config["scrape_configs"]
        if "warehouse:8002" not in str(job.get("static_configs"))
    ]
    config["global"]["scrape_interval"] = "30s"
    for job in config["scrape_configs"]:
        job.pop("scrape_interval", None)
    problems = prometheus_problems(config)
    assert "no scrape job targets warehouse:8002" in problems
    assert any("every 30s" in problem for problem in problems), problems
