"""The notification service's subscriptions: one list, one place."""

from __future__ import annotations

from notification.config import NotificationSettings
from notification.service_layer import projections
from notification.service_layer.alerts import alert_handlers
from notification.service_layer.notices import notice_handler
from shared.contracts.donation import NOTICE_REQUESTED
from shared.messaging.consumer import ConsumerRunner, EventHandler
from shared.messaging.topics import DONATION_EVENTS, DONATION_PRIVATE, WAREHOUSE_EVENTS
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
        ),
        *alert_and_notice_consumers(runtime),
    ]


def alert_and_notice_consumers(runtime: ServiceRuntime) -> list[ConsumerRunner]:
    """Stock alerts from warehouse.events; donor notices from the private donation topic."""
    s = runtime.settings
    assert isinstance(s, NotificationSettings)
    return [
        ConsumerRunner(
            name=f"{s.topic_prefix}notification.alerts",
            service=s.service_name,
            topics=[s.topic(WAREHOUSE_EVENTS)],
            handlers=alert_handlers(s),
            session_factory=runtime.session_factory,
            bootstrap=s.kafka_bootstrap,
            max_attempts=s.consumer_max_attempts,
        ),
        ConsumerRunner(
            name=f"{s.topic_prefix}notification.notices",
            service=s.service_name,
            topics=[s.topic(DONATION_PRIVATE)],
            handlers={NOTICE_REQUESTED: notice_handler(s)},
            session_factory=runtime.session_factory,
            bootstrap=s.kafka_bootstrap,
            max_attempts=s.consumer_max_attempts,
        ),
    ]
