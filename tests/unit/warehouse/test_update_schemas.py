"""The warehouse PATCH bodies: what the OpenAPI documents is what the server accepts.

A field that may be left out but not set to null (its column is NOT NULL) must not be
nullable in the schema; a field that may be cleared (a nullable column) stays nullable. Found by
schemathesis, which sent the nulls the schema offered and got 422s it did not expect.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from warehouse.config import WarehouseSettings
from warehouse.entrypoints.api.schemas import ItemUpdate, WarehouseUpdate
from warehouse.main import create_app

UPDATES: list[type[BaseModel]] = [WarehouseUpdate, ItemUpdate]


@pytest.fixture(scope="module")
def components() -> dict[str, Any]:
    spec = create_app(WarehouseSettings(environment="test")).openapi()
    schemas: dict[str, Any] = spec["components"]["schemas"]
    return schemas


def documented_nullable(field_schema: dict[str, Any]) -> bool:
    variants = field_schema.get("anyOf", [field_schema])
    return any(v.get("type") == "null" for v in variants)


def accepts_null(model: type[BaseModel], field: str) -> bool:
    try:
        model.model_validate({"version": 1, field: None})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("model", UPDATES, ids=lambda m: m.__name__)
def test_a_field_is_nullable_in_the_openapi_exactly_when_the_server_takes_null(
    model: type[BaseModel], components: dict[str, Any]
) -> None:
    properties = components[model.__name__]["properties"]
    for field in model.model_fields:
        if field == "version":
            continue
        assert documented_nullable(properties[field]) == accepts_null(model, field), field


def test_the_not_null_fields_are_documented_without_null(components: dict[str, Any]) -> None:
    warehouse = components["WarehouseUpdate"]["properties"]
    item = components["ItemUpdate"]["properties"]
    name = {"type": "string", "maxLength": 100, "minLength": 1, "title": "Name"}
    assert warehouse["name"] == name
    assert warehouse["active"]["type"] == "boolean"
    assert item["category"]["type"] == "string"
    assert "null" not in str(item["default_safety_stock"])
    assert documented_nullable(warehouse["town"])
    assert documented_nullable(warehouse["address"])


def test_leaving_a_field_out_still_keeps_it_and_null_is_refused_with_its_name() -> None:
    update = ItemUpdate.model_validate({"version": 3, "name": "棉被"})
    assert update.model_dump(exclude_unset=True, exclude={"version"}) == {"name": "棉被"}
    with pytest.raises(ValidationError, match="category"):
        ItemUpdate.model_validate({"version": 3, "category": None})
    cleared = WarehouseUpdate.model_validate({"version": 2, "town": None})
    assert cleared.model_dump(exclude_unset=True, exclude={"version"}) == {"town": None}
