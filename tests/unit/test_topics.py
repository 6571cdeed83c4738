"""The topic catalog: one entry per name, namespaced names, broker configuration."""

from __future__ import annotations

from streams.config import load_settings
from streams.messages.topics import (
    CATALOG,
    COLLECT_RESULTS,
    CONTROL,
    ITEMS_RAW,
    RETRY_LEVELS,
    TRENDS_UPDATES,
    TopicSpec,
    dead_letter_topic,
    retry_topic,
)

REQUIRED = {
    "collect.requests",
    "collect.requests.priority",
    "collect.results",
    "items.raw",
    "trends.updates",
    "control",
    "maintenance.requests",
    "maintenance.results",
    "alerts",
}


def test_catalog_has_every_required_topic_once() -> None:
    names = [spec.name for spec in CATALOG]
    assert len(names) == len(set(names))
    assert set(names) >= REQUIRED
    assert all(isinstance(spec, TopicSpec) and spec.description for spec in CATALOG)


def test_names_and_partitions_follow_the_settings() -> None:
    settings = load_settings(namespace="stage.", topic_partitions=6)
    assert ITEMS_RAW.full_name(settings) == "stage.items.raw"
    assert ITEMS_RAW.partition_count(settings) == 6
    assert CONTROL.partition_count(settings) == 1


def test_broker_config_states_retention_and_compaction() -> None:
    assert TRENDS_UPDATES.broker_config() == {
        "cleanup.policy": "delete",
        "retention.ms": str(30 * 24 * 3600 * 1000),
    }
    assert ITEMS_RAW.broker_config()["max.message.bytes"] == str(10 * 1024 * 1024)
    assert COLLECT_RESULTS.broker_config()["cleanup.policy"] == "compact,delete"


def test_retried_topics_have_retry_levels_and_a_dead_letter_topic() -> None:
    names = {spec.name for spec in CATALOG}
    for level in range(1, RETRY_LEVELS + 1):
        assert f"collect.requests.retry.{level}" in names
        assert f"items.raw.retry.{level}" in names
    assert {"collect.requests.dlq", "items.raw.dlq", "control.dlq"} <= names
    assert "control.retry.1" not in names
    assert retry_topic(ITEMS_RAW, 2).name == "items.raw.retry.2"
    assert dead_letter_topic(ITEMS_RAW).partition_count(load_settings()) == 1
    assert len(names) == len(CATALOG)
