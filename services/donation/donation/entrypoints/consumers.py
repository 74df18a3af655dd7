"""The donation service's subscriptions: goods lineage from the warehouse's events, and the
follow-up visits a delivered dispatch of a project makes due (in the same inbox transaction)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from donation.domain.follow_up_plan import FollowUpRule
from donation.entrypoints.api.follow_up_visits import follow_up_rules
from donation.service_layer.follow_up_visits import plan_after_delivery
from donation.service_layer.lineage import make_handlers
from shared.contracts.warehouse import DISPATCH_DELIVERED, DispatchDeliveredV1
from shared.messaging.consumer import ConsumerRunner, EventHandler
from shared.messaging.envelope import CloudEvent
from shared.messaging.topics import WAREHOUSE_EVENTS
from shared.runtime import ServiceRuntime


def _and_plan_visits(handler: EventHandler, rules: Sequence[FollowUpRule]) -> EventHandler:
    async def on_dispatch_delivered(session: AsyncSession, event: CloudEvent) -> None:
        await handler(session, event)
        await plan_after_delivery(session, DispatchDeliveredV1.model_validate(event.data), rules)

    return on_dispatch_delivered


def build_consumers(runtime: ServiceRuntime) -> list[ConsumerRunner]:
    prefix = runtime.settings.topic_prefix
    handlers = dict(make_handlers(prefix))
    handlers[DISPATCH_DELIVERED] = _and_plan_visits(
        handlers[DISPATCH_DELIVERED], follow_up_rules(runtime)
    )
    return [runtime.consumer("donation.lineage", [WAREHOUSE_EVENTS], handlers)]
