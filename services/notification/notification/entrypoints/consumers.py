"""The notification service's subscriptions: one list, one place."""

from __future__ import annotations

from notification.service_layer import projections
from shared.messaging.consumer import ConsumerRunner, EventHandler
from shared.messaging.topics import DONATION_EVENTS, WAREHOUSE_EVENTS
from shared.runtime import ServiceRuntime

FEED_HANDLERS: dict[str, EventHandler] = dict(projections.FEED_HANDLERS)


def build_consumers(runtime: ServiceRuntime) -> list[ConsumerRunner]:
    s = runtime.settings
    return [
        ConsumerRunner(
            name=f"{s.topic_prefix}notification.feed",
            service=s.service_name,
            topics=[s.topic(DONATION_EVENTS), s.topic(WAREHOUSE_EVENTS)],
            handlers=FEED_HANDLERS,
            session_factory=runtime.session_factory,
            bootstrap=s.kafka_bootstrap,
            max_attempts=s.consumer_max_attempts,
        )
    ]
