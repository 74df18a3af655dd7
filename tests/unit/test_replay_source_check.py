"""The replay re-injects a record read back from the source only if it is the one that was
dead-lettered (as far as the dead letter tells)."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import ConsumerRecord

from shared.messaging.replay_source import SourceGone, check_same_record


def record(
    headers: list[tuple[str, bytes]], value: bytes | None, key: bytes = b"k"
) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic="t",
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value or b""),
        headers=headers,
    )


ORIGINAL = record([("ce_id", b"e1"), ("ce_type", b"t")], b"x" * 10)


def test_the_same_record_passes() -> None:
    check_same_record(record([("ce_id", b"e1"), ("dlq_value_omitted", b"10")], None), ORIGINAL)
    # headers dropped too: only the key and the size to go by
    check_same_record(record([("dlq_value_omitted", b"10")], None), ORIGINAL)


@pytest.mark.parametrize(
    ("dead", "reason"),
    [
        (record([("ce_id", b"e2"), ("dlq_value_omitted", b"10")], None), "another event"),
        (record([("dlq_value_omitted", b"10")], None, key=b"other"), "another key"),
        (record([("dlq_value_omitted", b"11")], None), "had 11"),
    ],
)
def test_another_record_at_that_offset_is_refused(
    dead: ConsumerRecord[Any, Any], reason: str
) -> None:
    with pytest.raises(SourceGone, match=reason):
        check_same_record(dead, ORIGINAL)
