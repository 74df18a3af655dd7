"""Event payload contracts, owned by their producers, versioned in the type name.

Within a version only additive changes are allowed (new optional fields); consumers ignore
fields they do not know. ``EVENT_TYPES`` maps every CloudEvents type to its payload model and
topic; ``tests/contract`` round-trips each one and checks it against a committed JSON Schema.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from pydantic import BaseModel

from shared.contracts import donation


@dataclass(frozen=True)
class EventContract:
    type: str
    topic: str
    model: builtins.type[BaseModel]
    producer: str
    consumers: tuple[str, ...]
    summary: str


EVENT_TYPES: dict[str, EventContract] = {
    c.type: c
    for c in [
        EventContract(
            donation.DONATION_RECEIVED,
            "donation.events",
            donation.DonationReceivedV1,
            "donation",
            ("notification", "warehouse"),
            "A gift (money or goods) was received; donor shown only as masked display name.",
        ),
    ]
}
