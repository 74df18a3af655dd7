"""The notification service's consumers: their groups, topics, handlers and retry limit."""

from __future__ import annotations

from typing import Any, cast

from notification.config import NotificationSettings
from notification.entrypoints.consumers import build_consumers
from notification.service_layer.projections import FEED_HANDLERS
from shared.contracts import warehouse as w
from shared.contracts.donation import NOTICE_REQUESTED
from shared.runtime import ServiceRuntime


def test_three_consumer_groups_with_their_topics_and_handlers() -> None:
    settings = NotificationSettings(
        environment="test",
        topic_prefix="t1.",
        kafka_bootstrap="kafka:9092",
        consumer_max_attempts=5,
    )
    factory = cast(Any, object())
    runtime = ServiceRuntime(
        settings=settings, engine=cast(Any, None), session_factory=factory, verifier=cast(Any, None)
    )
    consumers = build_consumers(runtime)
    shape = [(c.name, c._topics, c._bootstrap, c._max_attempts) for c in consumers]
    assert shape == [
        ("t1.notification.feed", ["t1.donation.events", "t1.warehouse.events"], "kafka:9092", 5),
        ("t1.notification.alerts", ["t1.warehouse.events"], "kafka:9092", 5),
        ("t1.notification.notices", ["t1.donation.private"], "kafka:9092", 5),
    ]
    feed, alerts, notices = consumers
    assert feed._handlers == FEED_HANDLERS
    assert list(alerts._handlers) == [
        w.STOCK_LEVEL_CHANGED,
        w.LOT_NEAR_EXPIRY,
        w.LOT_EXPIRED,
        w.STOCK_ADJUSTED,
        w.DISPATCH_SHIPPED,
        w.REORDER_SIGNAL,
        w.PLAN_GAP_SIGNAL,
    ]
    assert list(notices._handlers) == [NOTICE_REQUESTED]
    assert all(c._session_factory is factory for c in consumers)
    assert all(c._service == "notification" for c in consumers)
