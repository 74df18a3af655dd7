"""The donation service's subscriptions: goods lineage from the warehouse's events."""

from __future__ import annotations

from donation.service_layer.lineage import make_handlers
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.topics import WAREHOUSE_EVENTS
from shared.runtime import ServiceRuntime


def build_consumers(runtime: ServiceRuntime) -> list[ConsumerRunner]:
    s = runtime.settings
    return [
        ConsumerRunner(
            name=f"{s.topic_prefix}donation.lineage",
            service=s.service_name,
            topics=[s.topic(WAREHOUSE_EVENTS)],
            handlers=make_handlers(s.topic_prefix),
            session_factory=runtime.session_factory,
            bootstrap=s.kafka_bootstrap,
            max_attempts=s.consumer_max_attempts,
        )
    ]
