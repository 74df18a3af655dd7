"""The warehouse service's subscriptions: one list, one place."""

from __future__ import annotations

from shared.contracts import staff
from shared.contracts.donation import (
    DESIGNATION_CHANGED,
    DONATION_CANCELLED,
    DONATION_RECEIVED,
    RECIPIENT_REGISTERED,
)
from shared.messaging.consumer import ConsumerRunner, EventHandler
from shared.messaging.topics import DONATION_EVENTS
from shared.runtime import ServiceRuntime
from warehouse.service_layer.inbound import (
    on_designation_changed,
    on_donation_cancelled,
    on_donation_received,
)
from warehouse.service_layer.organisations import on_organisation_registered
from warehouse.service_layer.recipients import on_recipient_registered

DONATION_HANDLERS: dict[str, EventHandler] = {
    DONATION_RECEIVED: on_donation_received,  # a goods gift becomes an expected inbound
    DONATION_CANCELLED: on_donation_cancelled,  # ... which a cancellation withdraws
    DESIGNATION_CHANGED: on_designation_changed,  # its lots follow a corrected designation
    RECIPIENT_REGISTERED: on_recipient_registered,  # our copy of the recipients register
}


# the warehouse's copy of the organisation register (access revocations on the same topic are
# followed by shared.revocations, not here)
STAFF_HANDLERS: dict[str, EventHandler] = {
    staff.ORGANISATION_REGISTERED: on_organisation_registered,
}


def build_consumers(runtime: ServiceRuntime) -> list[ConsumerRunner]:
    return [
        runtime.consumer("warehouse.donations", [DONATION_EVENTS], DONATION_HANDLERS),
        runtime.consumer("warehouse.staff", [staff.TOPIC], STAFF_HANDLERS),
    ]
