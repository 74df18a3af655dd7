"""Failpoints: named places where the fault-injection suite can kill a process on purpose.

Off unless ``SUNSHINE_FAILPOINTS`` (or ``SUNSHINE_FAULT_REJECT_EVENTS``) is set. With
``SUNSHINE_FAILPOINTS=consumer.after_db_commit=25,relay.after_send=3`` the process SIGKILLs
itself the 25th time it passes ``consumer.after_db_commit``. Only the fault-injection suite
sets these; with them unset a failpoint costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("SUNSHINE_FAILPOINTS", "")
_REJECTED = frozenset(
    e.strip() for e in os.environ.get("SUNSHINE_FAULT_REJECT_EVENTS", "").split(",") if e.strip()
)
_ARMED: dict[str, int] = {
    name.strip(): int(count)
    for name, _, count in (item.partition("=") for item in _SPEC.split(",") if item.strip())
}
_HITS: dict[str, int] = {}


def failpoint(name: str) -> None:
    """Die here (SIGKILL, no cleanup, like a power cut) when this failpoint's count is reached."""
    if name not in _ARMED:
        return
    _HITS[name] = _HITS.get(name, 0) + 1
    if _HITS[name] >= _ARMED[name]:
        os.kill(os.getpid(), signal.SIGKILL)


def rejected_event(event_id: str) -> bool:
    """True for events named in ``SUNSHINE_FAULT_REJECT_EVENTS``: a stand-in for a consumer bug
    that one event triggers, "fixed" by restarting the consumer without the variable."""
    return event_id in _REJECTED
