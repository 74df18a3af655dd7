"""The README's configuration table and the event catalogue stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from donation.config import DonationSettings
from notification.config import NotificationSettings
from shared.config import ServiceSettings
from shared.contracts import EVENT_TYPES
from warehouse.config import WarehouseSettings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CATALOGUE = "\n".join(p.read_text() for p in sorted((ROOT / "docs" / "events").glob("*.md")))
INTERNAL = {"service_name"}


def documented_variables() -> set[str]:
    names: set[str] = set()
    for row in re.findall(
        r"^\| `([A-Z][A-Z0-9_]*)`(?: / `([A-Z][A-Z0-9_]*)`)? \|", README, flags=re.M
    ):
        names.update(n for n in row if n)
    return names


@pytest.mark.parametrize("settings", [DonationSettings, WarehouseSettings, NotificationSettings])
def test_every_setting_is_in_the_readme(settings: type[ServiceSettings]) -> None:
    fields = set(settings.model_fields) - INTERNAL
    missing = {f.upper() for f in fields} - documented_variables()
    assert not missing, f"README configuration table lacks {sorted(missing)}"


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_is_catalogued(event_type: str) -> None:
    contract = EVENT_TYPES[event_type]
    assert f"## `{event_type}`" in CATALOGUE
    section = CATALOGUE.split(f"## `{event_type}`", 1)[1].split("\n## ", 1)[0]
    for field in contract.model.model_fields:
        assert f"`{field}`" in section, f"{event_type}: field {field} not documented"
