"""The consumer's fast entry id is the UUIDv5 the log commits to, for any event id."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from notification.log.entry import entry_id, entry_id_text


@given(st.text(max_size=200))
def test_entry_id_text_is_the_uuid5(source_event_id: str) -> None:
    assert entry_id_text(source_event_id) == str(entry_id(source_event_id))


def test_entry_id_text_of_a_uuid7_event_id() -> None:
    event_id = "0199c3c2-6b1e-7a5e-9f41-3c2d1e0f9a8b"
    assert uuid.UUID(entry_id_text(event_id)).version == 5
    assert entry_id_text(event_id) == str(entry_id(event_id))
