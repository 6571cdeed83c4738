"""The topic catalog: one entry per name, namespaced names, broker configuration."""

from __future__ import annotations

from streams.config import load_settings
from streams.topics import CATALOG, COLLECT_RESULTS, CONTROL, ITEMS_RAW, TopicSpec

REQUIRED = {
    "collect.requests",
    "collect.requests.priority",
    "collect.results",
    "items.raw",
    "trends.updates",
    "control",
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
    assert ITEMS_RAW.broker_config() == {"cleanup.policy": "delete", "retention.ms": "604800000"}
    assert COLLECT_RESULTS.broker_config()["cleanup.policy"] == "compact,delete"
