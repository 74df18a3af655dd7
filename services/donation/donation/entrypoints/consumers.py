"""The donation service's subscriptions: goods lineage from the warehouse's events."""

from __future__ import annotations

from donation.service_layer.lineage import make_handlers
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.topics import WAREHOUSE_EVENTS
from shared.runtime import ServiceRuntime


def build_consumers(runtime: ServiceRuntime) -> list[ConsumerRunner]:
    prefix = runtime.settings.topic_prefix
    return [runtime.consumer("donation.lineage", [WAREHOUSE_EVENTS], make_handlers(prefix))]
