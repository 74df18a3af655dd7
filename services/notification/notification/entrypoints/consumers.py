"""The notification service's subscriptions: one list, one place.

- ``notification.feed``: the public feed's projections of the donation's and the warehouse's
  events;
- ``notification.alerts``: stock and preparedness alerts from ``warehouse.events``;
- ``notification.notices``: donor notices from the private donation topic.
"""

from __future__ import annotations

from notification.config import NotificationSettings
from notification.service_layer.alerts import alert_handlers
from notification.service_layer.notices import notice_handler
from notification.service_layer.preparedness_alerts import preparedness_handlers
from notification.service_layer.projections import FEED_HANDLERS
from shared.contracts.donation import NOTICE_REQUESTED
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.topics import DONATION_EVENTS, DONATION_PRIVATE, WAREHOUSE_EVENTS
from shared.runtime import ServiceRuntime


def build_consumers(runtime: ServiceRuntime) -> list[ConsumerRunner]:
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    return [
        runtime.consumer("notification.feed", [DONATION_EVENTS, WAREHOUSE_EVENTS], FEED_HANDLERS),
        runtime.consumer(
            "notification.alerts",
            [WAREHOUSE_EVENTS],
            {**alert_handlers(settings), **preparedness_handlers(settings)},
        ),
        runtime.consumer(
            "notification.notices", [DONATION_PRIVATE], {NOTICE_REQUESTED: notice_handler(settings)}
        ),
    ]
