"""The donation service's subscriptions: goods lineage from the warehouse's events, and the
follow-up visits a delivered dispatch of a project makes due (in the same inbox transaction)."""

from __future__ import annotations

from donation.entrypoints.api.follow_up_visits import follow_up_rules
from donation.service_layer.follow_up_visits import and_plan_visits
from donation.service_layer.lineage import make_handlers
from shared.contracts.warehouse import DISPATCH_DELIVERED
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.topics import WAREHOUSE_EVENTS
from shared.runtime import ServiceRuntime


def build_consumers(runtime: ServiceRuntime) -> list[ConsumerRunner]:
    prefix = runtime.settings.topic_prefix
    handlers = dict(make_handlers(prefix))
    handlers[DISPATCH_DELIVERED] = and_plan_visits(
        handlers[DISPATCH_DELIVERED], follow_up_rules(runtime)
    )
    return [runtime.consumer("donation.lineage", [WAREHOUSE_EVENTS], handlers)]
