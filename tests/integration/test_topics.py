"""The topics this run created carry their settings on the real broker."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.messaging.topics import (
    DONATION_EVENTS,
    DONATION_PRIVATE,
    PRIVATE_RETENTION_MS,
    STAFF_EVENTS,
)
from tests.conftest import KAFKA_BOOTSTRAP, TOPIC_PREFIX

pytestmark = pytest.mark.integration


async def topic_settings(topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP)
    await admin.start()
    try:
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, None)]  # None: every setting
        )
    finally:
        await admin.close()
    [resource] = response.resources
    return {str(entry[0]): str(entry[1]) for entry in resource[4]}


async def retention_ms(topic: str) -> str:
    return (await topic_settings(topic))["retention.ms"]


async def test_private_topic_keeps_contact_details_briefly(kafka_topics: list[str]) -> None:
    assert await retention_ms(TOPIC_PREFIX + DONATION_PRIVATE) == str(PRIVATE_RETENTION_MS)
    assert await retention_ms(TOPIC_PREFIX + DONATION_PRIVATE + ".dlq") == str(PRIVATE_RETENTION_MS)
    assert await retention_ms(TOPIC_PREFIX + DONATION_EVENTS) != str(PRIVATE_RETENTION_MS)


async def test_staff_topic_is_compacted_and_its_dead_letters_are_deleted(
    kafka_topics: list[str],
) -> None:
    assert (await topic_settings(TOPIC_PREFIX + STAFF_EVENTS))["cleanup.policy"] == "compact"
    assert (await topic_settings(TOPIC_PREFIX + STAFF_EVENTS + ".dlq"))["cleanup.policy"] == (
        "delete"
    )
    assert (await topic_settings(TOPIC_PREFIX + DONATION_EVENTS))["cleanup.policy"] == "delete"
