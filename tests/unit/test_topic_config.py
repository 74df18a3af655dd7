"""Topic settings: personal data is kept briefly; a replicated cluster gets a min ISR."""

from __future__ import annotations

from shared.messaging.topics import PRIVATE_RETENTION_MS, topic_config


def test_contact_details_topics_have_short_retention() -> None:
    for name in ("donation.private", "donation.private.dlq", "t1.donation.private"):
        config = topic_config(name, replication_factor=1, min_insync_replicas=None)
        assert config == {"retention.ms": str(PRIVATE_RETENTION_MS)}
    assert topic_config("donation.events", replication_factor=1, min_insync_replicas=None) == {}


def test_three_replicas_need_two_in_sync_by_default() -> None:
    config = topic_config("warehouse.events", replication_factor=3, min_insync_replicas=None)
    assert config == {"min.insync.replicas": "2"}
    explicit = topic_config("warehouse.events", replication_factor=3, min_insync_replicas=3)
    assert explicit == {"min.insync.replicas": "3"}
