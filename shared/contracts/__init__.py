"""Event payload contracts, owned by their producers, versioned in the type name.

Within a version only additive changes are allowed (new optional fields); consumers ignore
fields they do not know. Each producer module lists its events in ``CONTRACTS``;
``EVENT_TYPES`` maps every CloudEvents type to its contract. ``tests/contract`` round-trips
each one and checks it against a committed JSON Schema snapshot.
"""

from __future__ import annotations

from shared.contracts import donation, staff, warehouse
from shared.contracts.registry import EventContract

EVENT_TYPES: dict[str, EventContract] = {
    c.type: c for c in [*donation.CONTRACTS, *warehouse.CONTRACTS, *staff.CONTRACTS]
}

__all__ = ["EVENT_TYPES", "EventContract"]
