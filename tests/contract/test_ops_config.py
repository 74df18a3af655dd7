"""Alert rules and the Grafana dashboard only reference metrics our services export."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import shared.metrics  # noqa: F401 - registers the shared metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
METRIC = re.compile(r"\b(sunshine_[a-z_]+)")


SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gauge": ("",),
    "summary": ("_sum", "_count", ""),
}


def exported_names() -> set[str]:
    """Every series name our metrics expose, including labelled ones with no samples yet."""
    names: set[str] = set()
    for collector in list(REGISTRY._collector_to_names):
        describe = getattr(collector, "describe", None)
        for family in describe() if describe else collector.collect():
            names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def referenced(text: str) -> set[str]:
    return set(METRIC.findall(text))


def rule_files() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in RULES]


def test_rules_are_well_formed() -> None:
    assert RULES
    for document in rule_files():
        for group in document["groups"]:
            assert group["name"]
            for rule in group["rules"]:
                assert set(rule) >= {"alert", "expr", "labels", "annotations"}, rule
                assert rule["labels"]["severity"] in {"warning", "critical"}
                assert rule["annotations"]["summary"]


@pytest.mark.parametrize("path", RULES + DASHBOARDS, ids=lambda p: p.name)
def test_every_referenced_metric_is_exported(path: Path) -> None:
    names = referenced(path.read_text())
    assert names, f"{path.name} watches no sunshine_ metric"
    missing = {n for n in names if n not in exported_names()}
    assert not missing, f"{path.name} references metrics nobody exports: {sorted(missing)}"


def test_dashboard_covers_the_operations_questions() -> None:
    dashboard = json.loads(DASHBOARDS[0].read_text())
    text = json.dumps(dashboard)
    for metric in (
        "sunshine_http_requests_total",
        "sunshine_outbox_backlog",
        "sunshine_consumer_lag",
        "sunshine_dlq_messages_total",
    ):
        assert metric in text
    assert {p["gridPos"]["w"] for p in dashboard["panels"]} <= {6, 8, 12, 24}


def test_compose_provisions_grafana_and_the_rules() -> None:
    prometheus = COMPOSE["services"]["prometheus"]
    assert any("deploy/prometheus/rules" in v for v in prometheus["volumes"])
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    grafana = COMPOSE["services"]["grafana"]
    mounts = " ".join(grafana["volumes"])
    assert "deploy/grafana/provisioning" in mounts
    assert "deploy/grafana/dashboards" in mounts
