"""Topic catalog on the real broker: idempotent creation, matching partitions, mismatches."""

from __future__ import annotations

import logging

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.config import Settings
from streams.exceptions import TopicMismatchError
from streams.messages.topics import CATALOG, ITEMS_RAW, ensure_topics
from tests.support.kafka import partition_counts


async def test_creation_is_idempotent_and_matches_the_catalog(test_settings: Settings) -> None:
    first = await ensure_topics(test_settings)
    second = await ensure_topics(test_settings)
    names = [spec.full_name(test_settings) for spec in CATALOG]
    assert sorted(first.created) == sorted(names)
    assert second.created == []
    assert sorted(second.verified) == sorted(names)
    counts = await partition_counts(test_settings, names)
    assert counts == {
        spec.full_name(test_settings): spec.partition_count(test_settings) for spec in CATALOG
    }


async def test_a_partition_count_mismatch_is_reported(test_settings: Settings) -> None:
    name = ITEMS_RAW.full_name(test_settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=test_settings.bootstrap_list)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    expected = test_settings.topic_partitions
    with pytest.raises(TopicMismatchError) as caught:
        await ensure_topics(test_settings)
    assert f"topic {name} has 1 partitions on the broker, the catalog says {expected}" in str(
        caught.value
    )


async def test_a_drifted_topic_config_is_set_back(test_settings: Settings) -> None:
    await ensure_topics(test_settings)
    name = ITEMS_RAW.full_name(test_settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=test_settings.bootstrap_list)
    await admin.start()
    try:
        drifted = {**ITEMS_RAW.broker_config(), "retention.ms": "60000"}
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, drifted)])
        report = await ensure_topics(test_settings)
        again = await ensure_topics(test_settings)
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, {"retention.ms": None})]
        )
    finally:
        await admin.close()
    assert report.reconfigured == [name]
    assert again.reconfigured == []
    entries = {entry[0]: entry[1] for entry in response.resources[0][4]}
    assert entries["retention.ms"] == ITEMS_RAW.broker_config()["retention.ms"]


async def test_new_topics_are_led_when_creation_returns(
    test_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A consumer assigned every new partition at once gets no NotLeaderForPartitionError."""
    await ensure_topics(test_settings)
    partitions = [
        TopicPartition(spec.full_name(test_settings), index)
        for spec in CATALOG
        for index in range(spec.partition_count(test_settings))
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=test_settings.bootstrap_list)
    await consumer.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="aiokafka"):
            consumer.assign(partitions)
            await consumer.seek_to_end()
            ends = {tp: await consumer.position(tp) for tp in partitions}
    finally:
        await consumer.stop()
    assert set(ends.values()) == {0}
    assert not [r.getMessage() for r in caplog.records if "NotLeader" in r.getMessage()]
