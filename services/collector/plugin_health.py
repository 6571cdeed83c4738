"""The maintenance service's verdicts on plugins, read from the compacted plugin.health topic."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from streams.config import Settings
from streams.exceptions import RecordValidationError
from streams.messages.records import PluginHealthReport
from streams.messages.topics import PLUGIN_HEALTH

__all__ = ["READ_TIMEOUT_S", "PluginHealthView"]

log = logging.getLogger(__name__)
READ_TIMEOUT_S = 10.0
"""Longest a read of plugin.health may take; past it, no plugin is taken for disabled."""


class PluginHealthView:
    """The latest verdict per plugin: plugin.health read from its start to its current end.

    Each read sees every verdict published before it began (the topic is keyed by plugin and
    compacted, so it stays as small as the number of plugins); no consumer group, no commit.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def disabled(self) -> set[str]:
        """The plugins whose latest verdict disabled them; a broker that does not answer is
        logged and disables nothing (as the groups ran before any verdict)."""
        try:
            reports = await asyncio.wait_for(self.latest(), READ_TIMEOUT_S)
        except (KafkaError, OSError, TimeoutError):
            log.warning("plugin health unknown (Kafka did not answer); none skipped", exc_info=True)
            return set()
        return {plugin for plugin, report in reports.items() if report.disabled}

    async def latest(self) -> dict[str, PluginHealthReport]:
        """Every plugin's latest verdict, read to the end the topic had when the read began."""
        topic = PLUGIN_HEALTH.full_name(self.settings)
        count = PLUGIN_HEALTH.partition_count(self.settings)  # checked on the broker at start
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_list,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_bytes=self.settings.dead_letter_max_bytes,
        )
        await consumer.start()
        try:
            return await _read_to_end(consumer, [TopicPartition(topic, n) for n in range(count)])
        finally:
            await consumer.stop()


async def _read_to_end(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> dict[str, PluginHealthReport]:
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
    latest: dict[str, PluginHealthReport] = {}
    while any([await consumer.position(tp) < end for tp, end in ends.items()]):
        batches = await consumer.getmany(*partitions, timeout_ms=500)
        for records in batches.values():
            for record in records:
                _keep(latest, record.key, record.value)
    return latest


def _keep(latest: dict[str, PluginHealthReport], key: bytes | None, value: bytes | None) -> None:
    if value is None:  # a tombstone: the plugin's verdict was withdrawn
        latest.pop((key or b"").decode(errors="replace"), None)
        return
    try:
        report = PluginHealthReport.parse(value)
    except RecordValidationError:
        log.warning("a plugin.health message is not a PluginHealthReport; skipped")
        return
    latest[report.plugin] = report
