"""W3C trace context: take a ``traceparent`` or start a new trace, keep it in a contextvar."""

from __future__ import annotations

import re
import secrets

from shared.logging import trace_id_var

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def new_traceparent(trace_id: str | None = None) -> str:
    return f"00-{trace_id or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def parse_trace_id(traceparent: str | None) -> str | None:
    if not traceparent:
        return None
    match = _TRACEPARENT.match(traceparent.strip().lower())
    return match.group(1) if match else None


def continue_trace(traceparent: str | None) -> str:
    """Adopt the caller's trace (or start one); returns the traceparent for outgoing events."""
    trace_id = parse_trace_id(traceparent) or secrets.token_hex(16)
    trace_id_var.set(trace_id)
    return new_traceparent(trace_id)


def current_traceparent() -> str | None:
    trace_id = trace_id_var.get()
    return new_traceparent(trace_id) if trace_id else None
