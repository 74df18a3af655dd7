"""The replay's bookkeeping: the group's offset never passes a dead letter left unhandled, and
a marker counts only for the dead letter it was written for."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord

from shared.messaging.replay import _Progress
from shared.messaging.replay_markers import Marker


def progress(start: int = 10, end: int = 20) -> _Progress:
    return _Progress(start=start, end=end, read_up_to=start, committed=start)


def test_the_watermark_stops_at_the_first_dead_letter_not_handled() -> None:
    p = progress()
    p.read(10, handled=True)
    p.read(11, handled=True)
    assert p.watermark() == 12
    p.read(12, handled=False)  # skipped by --event-id, or unrecoverable
    p.read(13, handled=True)
    p.complete = True
    assert p.watermark() == 12


def test_a_partition_read_to_its_end_with_everything_handled_moves_to_its_end() -> None:
    p = progress()
    p.read(15, handled=True)  # offsets may have gaps
    assert p.watermark() == 16, "not past what was read while incomplete"
    p.complete = True
    assert p.watermark() == 20
    nothing_read = progress()
    assert nothing_read.watermark() == 10


def dead(offset: int, timestamp: int, ce_id: bytes | None) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic="t.dlq",
        partition=0,
        offset=offset,
        timestamp=timestamp,
        timestamp_type=0,
        key=b"k",
        value=b"{}",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=2,
        headers=[("ce_id", ce_id)] if ce_id is not None else [],
    )


def test_a_marker_counts_only_for_its_own_dead_letter() -> None:
    marker = Marker(dlq_timestamp=1000, dlq_ce_id="e1", event_id="e1", outcome="replayed", at="")
    assert marker.matches(dead(3, 1000, b"e1"))
    # the DLQ deleted and created again: another dead letter at the same position
    assert not marker.matches(dead(3, 2000, b"e1"))
    assert not marker.matches(dead(3, 1000, b"e2"))
    without_id = Marker(
        dlq_timestamp=1000, dlq_ce_id=None, event_id="e9", outcome="resolved", at=""
    )
    assert without_id.matches(dead(3, 1000, None))
    assert not without_id.matches(dead(3, 1000, b"e9"))
