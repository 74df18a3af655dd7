"""Every event contract round-trips and matches its committed JSON Schema snapshot.

A schema change within a version must be additive; a breaking change needs a new version
(``...v2``). After an additive change, refresh the snapshots with
``python -m shared.contracts.compat --write tests/contract/schemas``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.contracts import EVENT_TYPES
from shared.contracts.compat import breaking_changes, consumers_first_changes, snapshot_name

SNAPSHOTS = Path(__file__).parent / "schemas"
# a topic is named after its producer, but for these (the donation service holds the staff
# directory and the organisation register)
TOPIC_OWNERS = {"staff": "donation"}


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_example_is_of_the_contract_model(event_type: str) -> None:
    contract = EVENT_TYPES[event_type]
    assert type(contract.example) is contract.model
    area = contract.topic.split(".")[0]
    assert TOPIC_OWNERS.get(area, area) == contract.producer


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_round_trip(event_type: str) -> None:
    contract = EVENT_TYPES[event_type]
    example = contract.example
    wire = json.loads(example.model_dump_json())
    assert contract.model.model_validate(wire) == example


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_type_names_are_versioned_dotted_names(event_type: str) -> None:
    assert event_type.startswith("org.redcross.fenghua.")
    assert event_type.rsplit(".", 1)[-1].startswith("v")


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_schema_matches_snapshot(event_type: str) -> None:
    path = SNAPSHOTS / snapshot_name(event_type)
    assert path.exists(), f"no snapshot for {event_type}; write one (see module docstring)"
    committed = json.loads(path.read_text())
    current = EVENT_TYPES[event_type].model.model_json_schema()
    problems = breaking_changes(committed, current)
    assert not problems, f"breaking change in {event_type}: {problems}; publish a new version"
    consumers_first = consumers_first_changes(committed, current)
    assert not consumers_first, (
        f"{event_type}: {consumers_first} would be refused by consumers on the committed "
        "schema: say in docs/events.md that the consumers deploy first, then refresh the "
        "snapshot (see module docstring)"
    )
    assert current == committed, "additive change: refresh the snapshot (see module docstring)"


def _schema(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (_schema({"a": {"type": "integer"}}, ["a"]), _schema({}, []), "removed"),
        (
            _schema({"a": {"type": "integer"}}, []),
            _schema({"a": {"type": "integer"}}, ["a"]),
            "became required",
        ),
        (
            _schema({"a": {"type": "integer"}}, ["a"]),
            _schema({"a": {"type": "string"}}, ["a"]),
            "type changed",
        ),
        (
            _schema({"a": {"enum": ["x", "y"]}}, ["a"]),
            _schema({"a": {"enum": ["x"]}}, ["a"]),
            "enum values removed",
        ),
    ],
)
def test_breaking_changes_are_detected(
    old: dict[str, Any], new: dict[str, Any], expected: str
) -> None:
    problems = breaking_changes(old, new)
    assert problems
    assert expected in problems[0]


def test_additive_change_is_not_breaking() -> None:
    old = _schema({"a": {"type": "integer"}}, ["a"])
    new = _schema(
        {"a": {"type": "integer"}, "b": {"anyOf": [{"type": "string"}, {"type": "null"}]}}, ["a"]
    )
    assert breaking_changes(old, new) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            _schema({"a": {"enum": ["x"]}}, ["a"]),
            _schema({"a": {"enum": ["x", "y"]}}, ["a"]),
            "enum values added ['y']",
        ),
        (
            _schema({"a": {"type": "string"}}, ["a"]),
            _schema({"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}}, ["a"]),
            "type widened",
        ),
        (
            _schema({"a": {"type": "string", "maxLength": 32}}, ["a"]),
            _schema({"a": {"type": "string", "maxLength": 64}}, ["a"]),
            "maxLength relaxed 32 -> 64",
        ),
        (
            _schema({"a": {"type": "string", "maxLength": 32}}, ["a"]),
            _schema({"a": {"type": "string"}}, ["a"]),
            "maxLength relaxed 32 -> None",
        ),
        (
            _schema({"a": {"type": "integer", "minimum": 1}}, ["a"]),
            _schema({"a": {"type": "integer", "minimum": 0}}, ["a"]),
            "minimum relaxed 1 -> 0",
        ),
        (
            _schema({"a": {"type": "array", "items": {"enum": ["x"]}}}, ["a"]),
            _schema({"a": {"type": "array", "items": {"enum": ["x", "z"]}}}, ["a"]),
            ".a[]: enum values added ['z']",
        ),
    ],
)
def test_changes_old_consumers_would_refuse_are_named(
    old: dict[str, Any], new: dict[str, Any], expected: str
) -> None:
    assert breaking_changes(old, new) == []  # additive for new consumers reading old events
    found = consumers_first_changes(old, new)
    assert any(expected in change for change in found), found


def test_tightening_and_new_optional_fields_need_no_consumer_first() -> None:
    old = _schema({"a": {"type": "string", "maxLength": 64}, "e": {"enum": ["x", "y"]}}, ["a"])
    new = _schema(
        {
            "a": {"type": "string", "maxLength": 32},
            "e": {"enum": ["x", "y"]},
            "b": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        ["a"],
    )
    assert consumers_first_changes(old, new) == []
