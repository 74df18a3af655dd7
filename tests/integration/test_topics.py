"""The topics this run created carry their settings on the real broker."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.messaging.topics import DONATION_EVENTS, DONATION_PRIVATE, PRIVATE_RETENTION_MS
from tests.conftest import KAFKA_BOOTSTRAP, TOPIC_PREFIX

pytestmark = pytest.mark.integration


async def retention_ms(topic: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP)
    await admin.start()
    try:
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, None)]  # None: every setting
        )
    finally:
        await admin.close()
    [resource] = response.resources
    entries = {entry[0]: entry[1] for entry in resource[4]}
    return str(entries["retention.ms"])


async def test_private_topic_keeps_contact_details_briefly(kafka_topics: list[str]) -> None:
    assert await retention_ms(TOPIC_PREFIX + DONATION_PRIVATE) == str(PRIVATE_RETENTION_MS)
    assert await retention_ms(TOPIC_PREFIX + DONATION_PRIVATE + ".dlq") == str(PRIVATE_RETENTION_MS)
    assert await retention_ms(TOPIC_PREFIX + DONATION_EVENTS) != str(PRIVATE_RETENTION_MS)
