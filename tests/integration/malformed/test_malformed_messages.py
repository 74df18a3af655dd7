"""Malformed messages on every consumed topic, against the services' real consumers.

For each malformation, bad records go to every topic some consumer reads (all of them on one
partition), then one valid event per consumer (the contract's example with new ids). Each
consumer must dead-letter the bad record to ``<topic>.dlq`` with error headers (or ignore it,
counted as ``ignored``, when it is a well-formed event of a type it does not handle), apply the
valid event behind it, commit its offset past all of them and keep running: no crash, no
restart, no crash loop.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from shared.contracts import EVENT_TYPES
from shared.contracts.staff import ACCESS_REVOKED
from shared.messaging.topics import BASE_TOPICS
from tests.integration.conftest import committed_offset
from tests.integration.malformed.conftest import (
    PREFIX,
    SERVICES,
    Sent,
    Stack,
    Subscription,
    consumed,
    encode,
    event,
    fresh_payload,
    headers_of,
)

pytestmark = pytest.mark.integration

MAX_REQUEST_SIZE = 1_048_576  # the producers' and (about) the broker's default record limit
HUGE = 1_000_000


@dataclass(frozen=True)
class Bad:
    headers: list[tuple[str, bytes | None]]
    value: bytes | None
    # ce_type when the envelope is readable; None: unreadable, every consumer dead-letters it
    type: str | None = None
    # what a consumer that handles the type does with it: dead_lettered, applied, or either
    # (a contract-conforming value that one consumer's storage refuses, e.g. a 1 MB code)
    if_handled: str = "dead_lettered"
    error_type: str | None = None  # the expected dlq_error_type, when it is certain


Case = Callable[[list[str]], list[Bad]]  # the topic's probe types → its bad records


def _replace(
    headers: list[tuple[str, bytes | None]], name: str, value: bytes | None
) -> list[tuple[str, bytes | None]]:
    return [(k, value if k == name else v) for k, v in headers]


def _without(headers: list[tuple[str, bytes | None]], name: str) -> list[tuple[str, bytes | None]]:
    return [(k, v) for k, v in headers if k != name]


def unreadable(
    *,
    headers: Callable[[list[tuple[str, bytes | None]]], list[tuple[str, bytes | None]]] = list,
    value: Callable[[bytes], bytes | None] = lambda v: v,
) -> Case:
    """A record whose envelope cannot be read: dead-lettered as MalformedEvent by everyone."""

    def build(types: list[str]) -> list[Bad]:
        ev = event(types[0], fresh_payload(types[0]))
        return [Bad(headers(headers_of(ev)), value(ev.value()), error_type="MalformedEvent")]

    return build


def per_type(
    data: Callable[[str], Any],
    *,
    event_id: Callable[[], str] | None = None,
    if_handled: Callable[[str, Any], str] = lambda _t, _d: "dead_lettered",
    error_type: str | None = None,
) -> Case:
    """A well-formed envelope of each probe type carrying ``data(type)``."""

    def build(types: list[str]) -> list[Bad]:
        bad = []
        for type_ in types:
            payload = data(type_)
            ev = event(type_, payload, event_id=event_id() if event_id else None)
            bad.append(
                Bad(
                    headers_of(ev),
                    encode(payload),
                    type=type_,
                    if_handled=if_handled(type_, payload),
                    error_type=error_type,
                )
            )
        return bad

    return build


def conforms(type_: str, payload: Any) -> bool:
    try:
        EVENT_TYPES[type_].model.model_validate(payload)
    except ValueError:
        return False
    return True


def applied_if_conforming(type_: str, payload: Any) -> str:
    return "applied" if conforms(type_, payload) else "dead_lettered"


def stored_or_refused_if_conforming(type_: str, payload: Any) -> str:
    return "applied_or_dead_lettered" if conforms(type_, payload) else "dead_lettered"


def wrong_types(type_: str) -> dict[str, Any]:
    """Valid JSON object, every field of the example of the wrong type."""
    return {
        k: [v] if not isinstance(v, list) else {"x": v} for k, v in fresh_payload(type_).items()
    }


def with_huge_free_text(type_: str) -> dict[str, Any]:
    """The example with its longest free-text field (not an id, not a time) about 1 MB long."""
    payload = fresh_payload(type_)
    leaves: list[tuple[int, list[Any], Any]] = []

    def walk(node: Any, path: list[Any]) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, [*path, k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, [*path, i])
        elif isinstance(node, str) and not _looks_like_id_or_time(node):
            leaves.append((len(node.encode()), path, node))

    walk(payload, [])
    _, path, _ = max(leaves, key=lambda leaf: leaf[0])
    target = payload
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = "阳" * (HUGE // 3)  # 3 bytes each in UTF-8
    return payload


def _looks_like_id_or_time(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return value[:4].isdigit() and "T" in value
    return True


def near_limit(*, in_header: bool) -> Bad:
    """A record just under the producers' size limit, in its value or in one header: it fits
    the topic, but its dead letter (the same record plus the dlq_* headers) does not."""
    size = MAX_REQUEST_SIZE - 200
    while True:
        blob = b"\x80" + b"x" * (size - 1)  # not UTF-8, not JSON
        headers: list[tuple[str, bytes | None]] = [("x-blob", blob)] if in_header else []
        value = b"x" if in_header else blob
        estimate = DefaultRecordBatchBuilder.estimate_size_in_bytes(b"malformed", value, headers)
        if estimate >= MAX_REQUEST_SIZE - 16:
            return Bad(headers, value, error_type="MalformedEvent")
        size += MAX_REQUEST_SIZE - 16 - estimate


def unknown_type(types: list[str]) -> list[Bad]:
    type_ = f"org.redcross.fenghua.unknown.t{uuid.uuid4().hex[:8]}.v1"
    ev = event(type_, fresh_payload(types[0]))
    return [Bad(headers_of(ev), ev.value(), type=type_)]


CASES: dict[str, Case] = {
    # headers
    "no_headers": unreadable(headers=lambda h: []),
    "missing_ce_id": unreadable(headers=lambda h: _without(h, "ce_id")),
    "missing_ce_type": unreadable(headers=lambda h: _without(h, "ce_type")),
    "null_ce_id": unreadable(headers=lambda h: _replace(h, "ce_id", None)),
    "non_utf8_ce_type": unreadable(headers=lambda h: _replace(h, "ce_type", b"\xff\xfe\xfd")),
    "bad_specversion": unreadable(headers=lambda h: _replace(h, "ce_specversion", b"0.3")),
    "bad_content_type": unreadable(
        headers=lambda h: _replace(h, "content-type", b"application/xml")
    ),
    "bad_ce_time": unreadable(headers=lambda h: _replace(h, "ce_time", b"yesterday")),
    "missing_ce_time": unreadable(headers=lambda h: _without(h, "ce_time")),
    "naive_ce_time": unreadable(headers=lambda h: _replace(h, "ce_time", b"2026-11-28T08:30")),
    "ce_id_too_long": per_type(fresh_payload, event_id=lambda: "x" * 300),
    "ce_id_with_nul": per_type(fresh_payload, event_id=lambda: f"{uuid.uuid4()}\x00"),
    # value
    "not_json": unreadable(value=lambda v: b"\xff\xfe{not json"),
    "json_array": unreadable(value=lambda v: b'["not", "an", "object"]'),
    "empty_value": unreadable(value=lambda v: None),
    "deeply_nested_json": unreadable(value=lambda v: b"[" * 100_000 + b"]" * 100_000),
    "huge_integer": unreadable(value=lambda v: b'{"amount_fen": ' + b"9" * 5_000 + b"}"),
    # contract
    "unknown_type": unknown_type,
    "wrong_schema_empty_object": per_type(lambda t: {}, error_type="ValidationError"),
    "wrong_schema_types": per_type(wrong_types, error_type="ValidationError"),
    # size
    "huge_raw_1mb": unreadable(headers=lambda h: [], value=lambda v: b"\xfe" * HUGE),
    "huge_known_field": per_type(with_huge_free_text, if_handled=stored_or_refused_if_conforming),
    "huge_unknown_field": per_type(
        lambda t: {**fresh_payload(t), "padding": "x" * HUGE}, if_handled=applied_if_conforming
    ),
}

_partitions = itertools.count()


def expected(sub: Subscription, bad: Bad) -> str:
    if bad.type is None:
        return "dead_lettered"
    if bad.type not in sub.handled:
        return "ignored"
    return bad.if_handled


def test_every_consuming_service_and_topic_is_covered(stack: Stack) -> None:
    """The (service, consumer group, topic) list comes from the running apps; it must cover
    every consumer the contracts name, on every topic (before the cases below rely on it)."""
    subs = stack.subscriptions
    assert subs, "no consumer found in the running apps"
    print("\n" + "\n".join(sorted(s.label for s in subs)))
    # access revocations are followed by every instance's revocation listener (no consumer
    # group, no inbox: shared/revocations.py; its skipped records: tests/unit/test_revocation.py)
    by_contract = {
        (service, c.topic)
        for c in EVENT_TYPES.values()
        if c.type != ACCESS_REVOKED
        for service in c.consumers
    }
    running = {(s.service, s.topic) for s in subs}
    assert by_contract <= running, (
        f"consumers the contracts name but no app runs: {by_contract - running}"
    )
    assert {s.service for s in subs} == {service for service, _ in by_contract}
    assert {s.service for s in subs} <= set(SERVICES)
    assert {s.topic for s in subs} <= set(BASE_TOPICS)
    assert len({(s.group, s.topic) for s in subs}) == len(subs)
    for sub in subs:  # each reads a topic on which it handles a contract type: the probe
        assert sub.probe_type in sub.handled


@pytest.mark.parametrize("case", list(CASES))
async def test_malformed_record_is_dead_lettered_or_skipped_and_the_partition_moves_on(
    stack: Stack, case: str
) -> None:
    await run_case(stack, case, CASES[case])


async def test_a_record_too_large_to_dead_letter_with_its_headers_does_not_stop_the_partition(
    stack: Stack,
) -> None:
    """The dead letter is stored without the payload (``dlq_value_omitted``), then without the
    original headers; retrying it as is would never succeed and never let the partition move
    on. Runs last: if it regresses, it leaves the consumers stuck."""
    await run_case(
        stack,
        "near_limit",
        lambda _types: [near_limit(in_header=False), near_limit(in_header=True)],
    )


async def run_case(stack: Stack, case: str, build: Case) -> None:
    if stack.stuck:
        pytest.fail(f"the consumers stopped moving on after case {stack.stuck}")
    partition = next(_partitions) % 6
    topics = [t for t in BASE_TOPICS if stack.on(t)]
    assert topics, "no consumed topic"
    probe_types = {t: sorted({s.probe_type for s in stack.on(t)}) for t in topics}
    bad_records = {t: build(probe_types[t]) for t in topics}
    ignored_before = {
        (s.group, s.topic, type_): consumed(s, type_, "ignored")
        for t in topics
        for s in stack.on(t)
        for type_ in {b.type for b in bad_records[t] if b.type} | set(probe_types[t])
    }

    sent_bad: dict[str, list[tuple[Bad, Sent]]] = {}
    probes: dict[tuple[str, str], str] = {}  # (topic, type) → valid event id
    last_offset: dict[str, int] = {}
    for topic in topics:
        sent_bad[topic] = [
            (bad, await stack.send(topic, partition, bad.headers, bad.value))
            for bad in bad_records[topic]
        ]
        for type_ in probe_types[topic]:
            probe = event(type_, fresh_payload(type_))
            sent = await stack.send(topic, partition, headers_of(probe), probe.value())
            probes[topic, type_] = probe.id
            last_offset[topic] = sent.offset

    problems: list[str] = []
    seen: list[str] = []  # what each consumer did, printed (pytest -s) for the docs' table
    for topic in topics:
        for sub in stack.on(topic):
            probe_id = probes[topic, sub.probe_type]

            async def probe_applied(sub: Subscription = sub, probe_id: str = probe_id) -> bool:
                return await stack.inbox_has(sub, probe_id)

            async def committed_past(sub: Subscription = sub, topic: str = topic) -> bool:
                offset = await committed_offset(sub.group, PREFIX + topic, partition)
                return offset >= last_offset[topic] + 1

            if not await stack.wait(probe_applied, timeout=20):
                problems.append(f"{sub.label}: the valid event behind the bad record not applied")
                stack.stuck = stack.stuck or case
                continue
            if not await stack.wait(committed_past, timeout=10):
                problems.append(f"{sub.label}: offset not committed past the bad records")

            for bad, sent in sent_bad[topic]:
                outcome = expected(sub, bad)
                ce_id = dict(bad.headers).get("ce_id")
                applied = ce_id is not None and await stack.inbox_has(sub, ce_id.decode())
                dead = stack.dead_letter(sub, sent)
                if outcome == "dead_lettered" or (
                    outcome.endswith("dead_lettered") and not applied
                ):
                    problems += await _dead_lettered(stack, sub, bad, sent)
                    dead = stack.dead_letter(sub, sent)
                elif outcome.startswith("applied") and not applied:
                    problems.append(f"{sub.label}: valid record at {sent.offset} not applied")
                if dead is not None:
                    seen.append(
                        f"{sub.label}: dead-lettered {dict(dead.headers)['dlq_error_type']!r}"
                    )
                else:
                    seen.append(f"{sub.label}: {'applied' if applied else 'ignored'}")

    for (group, topic, type_), before in ignored_before.items():
        sub = next(s for s in stack.on(topic) if s.group == group)
        if type_ in sub.handled:
            continue
        want = sum(1 for b in bad_records[topic] if b.type == type_) + probe_types[topic].count(
            type_
        )
        got = consumed(sub, type_, "ignored") - before
        if got != want:
            problems.append(f"{sub.label}: {got} records of {type_} ignored, expected {want}")

    # no record of this case may be dead-lettered by a consumer that should have skipped it
    for topic in topics:
        for sub in stack.on(topic):
            for bad, sent in sent_bad[topic]:
                if "dead_lettered" not in expected(sub, bad) and stack.dead_letter(sub, sent):
                    problems.append(f"{sub.label}: record at {sent.offset} dead-lettered")

    problems += [f"runtime: {line}" for line in stack.crash_watch.crashes]
    for sub in stack.subscriptions:
        if sub.task.done():
            problems.append(f"{sub.label}: consumer task ended")
        if not sub.runner.connected:
            problems.append(f"{sub.label}: consumer not connected")
    print(f"\n{case}:\n  " + "\n  ".join(seen))
    assert not problems, f"{case} (partition {partition}):\n" + "\n".join(problems)


async def _dead_lettered(stack: Stack, sub: Subscription, bad: Bad, sent: Sent) -> list[str]:
    async def stored() -> bool:
        return stack.dead_letter(sub, sent) is not None

    if not await stack.wait(stored, timeout=10):
        return [f"{sub.label}: record at offset {sent.offset} not on the DLQ"]
    record = stack.dead_letter(sub, sent)
    assert record is not None
    headers = dict(record.headers)
    problems = []
    error_type = headers.get("dlq_error_type", b"").decode()
    if not error_type:
        problems.append(f"{sub.label}: dead letter without dlq_error_type")
    elif bad.error_type and error_type != bad.error_type:
        problems.append(f"{sub.label}: dlq_error_type {error_type}, expected {bad.error_type}")
    if headers.get("dlq_original_topic") != (PREFIX + sent.topic).encode():
        problems.append(f"{sub.label}: dlq_original_topic {headers.get('dlq_original_topic')!r}")
    if "dlq_value_omitted" in headers:  # too large to store with its error headers
        if int(headers["dlq_value_omitted"]) != len(sent.value or b""):
            problems.append(f"{sub.label}: dlq_value_omitted {headers['dlq_value_omitted']!r}")
    elif record.value != sent.value:
        problems.append(f"{sub.label}: dead letter's value differs from the original")
    return problems
