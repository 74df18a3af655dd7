from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.messaging.envelope import CloudEvent, MalformedEvent, from_kafka


def _event() -> CloudEvent:
    return CloudEvent(
        id="0192-abc",
        type="org.redcross.fenghua.donation.received.v1",
        source="/sunshine/donation",
        time=datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
        data={"amount_fen": 100, "note": "冬季送温暖"},
        subject="d-1",
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    )


def test_round_trip_through_kafka_headers() -> None:
    event = _event()
    assert from_kafka(event.headers(), event.value()) == event


def test_binary_mode_headers() -> None:
    headers = dict(_event().headers())
    assert headers["ce_specversion"] == b"1.0"
    assert headers["content-type"] == b"application/json"
    assert headers["ce_type"] == b"org.redcross.fenghua.donation.received.v1"


@pytest.mark.parametrize(
    ("headers", "value", "problem"),
    [
        ([], b"{}", "missing CloudEvents headers"),
        (None, b"{}", "missing CloudEvents headers"),
        ("drop:ce_time", b"{}", "ce_time"),
        ("ok", b"not json", "not JSON"),
        ("ok", b"[1, 2]", "not a JSON object"),
        ("ok", None, "empty value"),
        ("ok", b"\xff\xfe", "not JSON"),
    ],
)
def test_malformed_messages_are_rejected(
    headers: object, value: bytes | None, problem: str
) -> None:
    good = _event().headers()
    if headers == "ok":
        headers = good
    elif headers == "drop:ce_time":
        headers = [(k, v) for k, v in good if k != "ce_time"]
    with pytest.raises(MalformedEvent, match=problem):
        from_kafka(headers, value)  # type: ignore[arg-type]
