"""Re-inject dead letters into their original topic once the cause is fixed.

    python -m shared.messaging.replay <topic>.dlq [--event-id ID ...] [--dry-run]
        [--bootstrap HOST:PORT] [--group NAME]

Reads the dead-letter topic with its own consumer group (default ``sunshine.dlq-replay``), so
each dead letter is replayed once: the replay's offset is committed only after the original
topic acknowledged the re-sent record. The ``dlq_*`` error headers are dropped; key, value and
CloudEvents headers are kept, so consumers' inboxes still recognise an event they applied.
``--event-id`` replays only the named events (others are skipped and counted as such);
``--dry-run`` lists what would be replayed and commits nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer

from shared.messaging.consumer import DLQ_SUFFIX
from shared.messaging.relay import create_producer

DLQ_HEADER_PREFIX = "dlq_"


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _header(headers: list[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode(errors="replace")
    return None


async def replay(
    dlq_topic: str,
    *,
    bootstrap: str,
    group: str = "sunshine.dlq-replay",
    event_ids: set[str] | None = None,
    dry_run: bool = False,
    idle_timeout_s: float = 3.0,
) -> ReplayReport:
    if not dlq_topic.endswith(DLQ_SUFFIX):
        raise ValueError(f"{dlq_topic!r} is not a dead-letter topic (no {DLQ_SUFFIX} suffix)")
    report = ReplayReport()
    consumer = AIOKafkaConsumer(
        dlq_topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = create_producer(bootstrap)
    await consumer.start()
    await producer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=int(idle_timeout_s * 1000))
            if not batches:
                return report
            for tp, records in batches.items():
                for record in records:
                    headers = list(record.headers or ())
                    event_id = _header(headers, "ce_id") or f"{tp.partition}:{record.offset}"
                    original = _header(headers, "dlq_original_topic") or dlq_topic.removesuffix(
                        DLQ_SUFFIX
                    )
                    if event_ids is not None and event_id not in event_ids:
                        report.skipped.append(event_id)
                        continue
                    if not dry_run:
                        await producer.send_and_wait(
                            original,
                            value=record.value,
                            key=record.key,
                            headers=[h for h in headers if not h[0].startswith(DLQ_HEADER_PREFIX)],
                        )
                    report.replayed.append(event_id)
                if not dry_run:
                    await consumer.commit({tp: records[-1].offset + 1})
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("dlq_topic")
    parser.add_argument("--event-id", action="append", dest="event_ids")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--group", default="sunshine.dlq-replay")
    parser.add_argument(
        "--bootstrap", default=os.environ.get("SUNSHINE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    args = parser.parse_args()
    report = asyncio.run(
        replay(
            args.dlq_topic,
            bootstrap=args.bootstrap,
            group=args.group,
            event_ids=set(args.event_ids) if args.event_ids else None,
            dry_run=args.dry_run,
        )
    )
    verb = "would replay" if args.dry_run else "replayed"
    print(f"{verb} {len(report.replayed)}, skipped {len(report.skipped)} from {args.dlq_topic}")
    for event_id in report.replayed:
        print(f"  {verb}: {event_id}")


if __name__ == "__main__":
    main()
