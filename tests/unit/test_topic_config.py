"""Topic settings: personal data is kept briefly; the staff state is compacted; a replicated
cluster gets a min ISR."""

from __future__ import annotations

from shared.messaging.topics import (
    BASE_TOPICS,
    PRIVATE_RETENTION_MS,
    STAFF_EVENTS,
    all_topics,
    topic_config,
)


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


def test_the_staff_topic_is_compacted_and_its_dead_letters_are_not() -> None:
    for name in ("staff.events", "t1.staff.events"):
        config = topic_config(name, replication_factor=1, min_insync_replicas=None)
        assert config == {"cleanup.policy": "compact"}
    assert topic_config("staff.events.dlq", replication_factor=1, min_insync_replicas=None) == {}
    replicated = topic_config("staff.events", replication_factor=3, min_insync_replicas=None)
    assert replicated == {"cleanup.policy": "compact", "min.insync.replicas": "2"}
    for other in ("donation.events", "warehouse.events", "donation.private"):
        config = topic_config(other, replication_factor=1, min_insync_replicas=None)
        assert "cleanup.policy" not in config


def test_every_base_topic_and_its_dead_letters_are_created() -> None:
    assert all_topics("p.") == [
        name for base in BASE_TOPICS for name in (f"p.{base}", f"p.{base}.dlq")
    ]
    assert STAFF_EVENTS in BASE_TOPICS
