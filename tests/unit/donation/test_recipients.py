"""The recipients register's pure rules: whom a recipient counts, how its name is shown, the
repeat-receipt window, the key file, and the create request as the idempotency store sees it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from donation.adapters.recipient_key import (
    generate_recipient_key,
    load_recipient_key,
    read_recipient_key,
)
from donation.domain.identity_numbers import check_character, fingerprint
from donation.domain.recipients import Reach, is_repeat, masked_name, reach_of, total_reach
from donation.service_layer.recipients import request_payload
from warehouse.service_layer.recipients import reach_of as warehouse_reach_of

KEY = bytes(range(32))


@pytest.mark.parametrize(
    ("kind", "size", "people", "households"),
    [
        ("person", 1, 1, 1),
        ("household", 4, 4, 1),
        ("household", 1, 1, 1),
        ("organisation", None, 0, 0),
    ],
)
def test_whom_a_recipient_counts(kind: str, size: int | None, people: int, households: int) -> None:
    assert reach_of(kind, size) == Reach(people, households)
    # the warehouse counts a sign-off's recipients the same way
    reached = warehouse_reach_of(kind, size)
    assert (reached.people, reached.households) == (people, households)


def test_a_household_has_someone_and_kinds_are_known() -> None:
    with pytest.raises(ValueError, match="at least one"):
        reach_of("household", None)
    with pytest.raises(ValueError, match="unknown"):
        reach_of("family", 3)
    assert total_reach([reach_of("person", 1), reach_of("household", 5)]) == Reach(6, 2)
    assert total_reach([]) == Reach(0, 0)


@pytest.mark.parametrize(
    ("kind", "name", "shown"),
    [
        ("person", "王小明", "王*明"),
        ("person", "王明", "王*"),
        ("household", "欧阳明月", "欧阳*月"),
        ("organisation", "溪口镇  博爱家园", "溪口镇 博爱家园"),
    ],
)
def test_names_are_masked_but_an_organisations(kind: str, name: str, shown: str) -> None:
    assert masked_name(kind, name) == shown


@pytest.mark.parametrize(
    ("other", "repeat"),
    [
        (date(2026, 3, 1), True),  # the same day
        (date(2025, 3, 2), True),  # 364 days before
        (date(2025, 3, 1), False),  # 365 days: a year to the day is outside
        (date(2027, 2, 28), True),  # 364 days after
        (date(2027, 3, 1), False),
    ],
)
def test_the_repeat_window(other: date, repeat: bool) -> None:
    assert is_repeat(date(2026, 3, 1), other, 365) is repeat


def test_the_window_has_a_day() -> None:
    with pytest.raises(ValueError, match="one day"):
        is_repeat(date(2026, 3, 1), date(2026, 3, 1), 0)


def test_the_key_file_is_generated_once_and_read_as_hex_or_raw(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "recipient_id.key"
    key = load_recipient_key(path, create=True)
    assert len(key) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    generate_recipient_key(path)  # never overwrites: a new key would unlink every fingerprint
    assert load_recipient_key(path, create=True) == key
    raw = tmp_path / "raw.key"
    raw.write_bytes(b"\xff" * 40)
    assert read_recipient_key(raw) == b"\xff" * 40
    with pytest.raises(FileNotFoundError):
        load_recipient_key(tmp_path / "absent.key", create=False)
    short = tmp_path / "short.key"
    short.write_text("00" * 16)
    with pytest.raises(ValueError, match="16 bytes"):
        read_recipient_key(short)


def test_the_idempotency_store_never_sees_the_number() -> None:
    first17 = "33028319671203123"
    number = first17 + check_character(first17)
    body = {"kind": "person", "name": "王小明", "id_number": f"{number[:6]} {number[6:]}"}
    payload = request_payload(body, KEY)
    assert payload["id_number"] == fingerprint(number, KEY).digest
    assert number not in str(payload)
    assert request_payload({"kind": "household", "name": "王小明"}, KEY)["name"] == "王小明"
    assert request_payload({"id_number": "12345"}, KEY)["id_number"] == "invalid"
