"""Prometheus metrics of alerts and notices (the HTTP and messaging ones are in shared)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ALERTS_OPEN = Gauge(
    "sunshine_alerts_open",
    "Unresolved stock alerts by kind and state (open = not yet acknowledged), "
    "recomputed from the database",
    ["kind", "state"],
)
ALERT_TRANSITIONS = Counter(
    "sunshine_alert_transitions_total",
    "Stock alert transitions (raised, resolved, acknowledged, escalated)",
    ["kind", "transition"],
)
NOTICE_DELIVERIES = Counter(
    "sunshine_notice_deliveries_total",
    "Notice delivery attempts by channel and outcome (sent, retry, dead, expired)",
    ["channel", "outcome"],
)
