"""String bounds of the donation service's event contracts.

Every bounded string field accepts a value of its maximal length and rejects one character
more (an oversize event fails its contract at the consumer and is dead-lettered, not stored);
and every bound is at least the donation API's request limit for the value it carries, so
every event a valid request produces still validates.
"""

from __future__ import annotations

import copy
import re
from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError

from donation.entrypoints.api import schemas as api
from shared.contracts import base, donation
from shared.ids import new_tracking_code

CONTRACTS = {c.type: c for c in donation.CONTRACTS}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _resolve(root["$defs"][ref.removeprefix("#/$defs/")], root)
    return schema


def _variants(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return [v for s in schema["anyOf"] for v in _variants(s, root)]
    return [schema]


def bounded_strings(
    schema: dict[str, Any], value: Any, root: dict[str, Any], path: tuple[Any, ...] = ()
) -> list[tuple[tuple[Any, ...], int]]:
    """(path into the example, maxLength) of every bounded string the example reaches."""
    found: list[tuple[tuple[Any, ...], int]] = []
    for variant in _variants(schema, root):
        if variant.get("type") == "string" and "maxLength" in variant:
            found.append((path, int(variant["maxLength"])))
        elif variant.get("type") == "object" and isinstance(value, dict):
            for name, sub in variant.get("properties", {}).items():
                if name in value:
                    found += bounded_strings(sub, value[name], root, (*path, name))
        elif variant.get("type") == "array" and isinstance(value, list) and value:
            found += bounded_strings(variant["items"], value[0], root, (*path, 0))
    return found


def _set(payload: Any, path: tuple[Any, ...], value: str) -> Any:
    payload = copy.deepcopy(payload)
    target = payload
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return payload


def _cases() -> list[tuple[str, tuple[Any, ...], int]]:
    cases = []
    for type_, contract in CONTRACTS.items():
        schema = contract.model.model_json_schema()
        example = contract.example.model_dump(mode="json")
        for path, limit in bounded_strings(schema, example, schema):
            cases.append((type_, path, limit))
    return cases


CASES = _cases()


def test_the_fields_a_request_fills_are_bounded() -> None:
    """The free-text and code fields of the events are among the bounded ones."""
    bounded = {(type_.rsplit(".", 2)[-2], ".".join(map(str, p))) for type_, p, _ in CASES}
    for field in [
        ("received", "tracking_code"),
        ("received", "display_name"),
        ("received", "items.0.name"),
        ("receipted", "receipt_no"),
        ("cancelled", "reason"),
        ("funds_disbursed", "purpose"),
        ("funds_disbursed", "allocations.0.tracking_code"),
        ("project_opened", "description"),
        ("follow_up_recorded", "summary"),
        ("notice_requested", "recipient.name"),
        ("notice_requested", "facts.purpose"),
        ("goods_tracked", "item_name"),
    ]:
        assert field in bounded, f"{field} is not bounded"


@pytest.mark.parametrize(
    ("event_type", "path", "limit"),
    CASES,
    ids=[f"{t.rsplit('.', 2)[-2]}:{'.'.join(map(str, p))}" for t, p, _ in CASES],
)
def test_a_maximal_string_is_accepted_and_one_more_character_rejected(
    event_type: str, path: tuple[Any, ...], limit: int
) -> None:
    model = CONTRACTS[event_type].model
    example = CONTRACTS[event_type].example.model_dump(mode="json")
    # multi-byte characters: the bound counts characters, as the API's does
    accepted = model.model_validate(_set(example, path, "阳" * limit))
    assert accepted is not None
    with pytest.raises(ValidationError, match="at most"):
        model.model_validate(_set(example, path, "阳" * (limit + 1)))
    with pytest.raises(ValidationError):
        model.model_validate(_set(example, path, "x" * 1_000_000))


def _max(model: type[BaseModel], field: str) -> int:
    """A string field's maxLength (a list's maxItems), from its JSON Schema (through
    Optional)."""
    schema = model.model_json_schema()
    found = [
        int(v["maxLength"] if "maxLength" in v else v["maxItems"])
        for v in _variants(schema["properties"][field], schema)
        if "maxLength" in v or "maxItems" in v
    ]
    assert found, f"{model.__name__}.{field} is not bounded"
    return found[0]


def _pattern_max(pattern: str) -> int:
    """The longest string a ``^[first][rest]{m,n}$`` pattern of the API accepts."""
    match = re.fullmatch(r"\^\[[^\]]+\]\[[^\]]+\]\{\d+,(\d+)\}\$", pattern)
    assert match, pattern
    return 1 + int(match.group(1))


def _api_pattern(model: type[BaseModel], field: str) -> str:
    schema = model.model_json_schema()
    for variant in _variants(schema["properties"][field], schema):
        if "pattern" in variant:
            return str(variant["pattern"])
    raise AssertionError(f"{model.__name__}.{field} has no pattern")


d = donation
# (API request model, its field) → the event fields carrying that value
FROM_REQUESTS: list[tuple[type[BaseModel], str, list[tuple[type[BaseModel], str]]]] = [
    (
        api.DonorIn,
        "name",
        [
            (d.NoticeRecipientV1, "name"),
            (d.DonationReceivedV1, "display_name"),  # derived: never longer than the name
            (d.DonationPledgedV1, "display_name"),
            (d.DonationReceiptedV1, "display_name"),
        ],
    ),
    (
        api.DonorPatch,
        "name",
        [(d.NoticeRecipientV1, "name"), (d.DonationReceivedV1, "display_name")],
    ),
    (api.DonorIn, "email", [(d.NoticeRecipientV1, "email")]),
    (
        api.ReasonIn,
        "reason",
        [
            (d.DonationReceiptVoidedV1, "reason"),
            (d.DonationCancelledV1, "reason"),
            (d.DonationRefundedV1, "reason"),
        ],
    ),
    (api.DonationPatch, "reason", [(d.DesignationChangedV1, "reason")]),
    (
        api.ProjectCreate,
        "name",
        [
            (d.ProjectOpenedV1, "name"),
            (d.ProjectClosedV1, "name"),
            (d.FundsDisbursedV1, "project_name"),
            (d.NoticeFactsV1, "project_name"),
        ],
    ),
    (api.ProjectPatch, "name", [(d.ProjectOpenedV1, "name"), (d.ProjectClosedV1, "name")]),
    (api.ProjectCreate, "description", [(d.ProjectOpenedV1, "description")]),
    (api.ProjectPatch, "description", [(d.ProjectOpenedV1, "description")]),
    (api.RemainderIn, "note", [(d.RemainderDecidedV1, "note")]),
    (api.FollowUpCreate, "summary", [(d.FollowUpRecordedV1, "summary")]),
    (
        api.DisbursementCreate,
        "purpose",
        [(d.FundsDisbursedV1, "purpose"), (d.NoticeFactsV1, "purpose")],
    ),
    (api.DisbursementPatch, "purpose", [(d.FundsDisbursedV1, "purpose")]),
    (api.DisbursementCreate, "recipient_name", [(d.FundsDisbursedV1, "recipient")]),
    (api.DisbursementPatch, "recipient_name", [(d.FundsDisbursedV1, "recipient")]),
    (api.DonationItemIn, "name", [(d.DonatedItemV1, "name")]),
    (api.DonationItemIn, "unit", [(d.DonatedItemV1, "unit")]),
    (api.DonationItemIn, "lot_no", [(d.DonatedItemV1, "lot_no")]),
    (api.DonationCreate, "items", [(d.DonationReceivedV1, "items")]),
]


@pytest.mark.parametrize(
    ("request_model", "field", "events"),
    FROM_REQUESTS,
    ids=[f"{m.__name__}.{f}" for m, f, _ in FROM_REQUESTS],
)
def test_every_value_a_valid_request_carries_fits_its_events(
    request_model: type[BaseModel], field: str, events: list[tuple[type[BaseModel], str]]
) -> None:
    limit = _max(request_model, field)
    for event_model, event_field in events:
        assert _max(event_model, event_field) >= limit, f"{event_model.__name__}.{event_field}"


def test_codes_the_api_takes_by_pattern_or_the_service_generates_fit() -> None:
    assert _pattern_max(_api_pattern(api.ProjectCreate, "code")) <= base.PROJECT_CODE_MAX
    assert _pattern_max(_api_pattern(api.ProjectCreate, "incident_code")) <= d.INCIDENT_CODE_MAX
    assert _pattern_max(_api_pattern(api.DisbursementCreate, "voucher_no")) <= _max(
        d.FundsDisbursedV1, "voucher_no"
    )
    assert _pattern_max(_api_pattern(api.DonationItemIn, "item_code")) <= _max(
        d.DonatedItemV1, "item_code"
    )
    assert max(len(town) for town in get_args(api.Town)) <= base.TOWN_MAX
    assert all(len(new_tracking_code()) <= base.TRACKING_CODE_MAX for _ in range(100))
    assert len("2026-000123") <= d.RECEIPT_NO_MAX
