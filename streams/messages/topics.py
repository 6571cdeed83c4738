"""The topic catalog: every topic trend-stream uses, and its creation or check on the broker."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code

from streams.config import Settings
from streams.exceptions import RecordValidationError, TopicMismatchError
from streams.messages.records import (
    Alert,
    CollectRequest,
    ControlCommand,
    EnrichedItem,
    MaintenanceRequest,
    PluginHealthReport,
    ProcessingReport,
    ProcessRequest,
    RawItem,
    RequestStatus,
    StreamRecord,
    TrendUpdate,
)

if TYPE_CHECKING:
    import faust

__all__ = [
    "ALERTS",
    "CATALOG",
    "COLLECT_REQUESTS",
    "COLLECT_REQUESTS_PRIORITY",
    "COLLECT_RESULTS",
    "CONSUMED_TOPIC_MAX_BYTES",
    "CONTROL",
    "DEAD_LETTER_TOPICS",
    "ITEMS_ENRICHED",
    "ITEMS_RAW",
    "MAINTENANCE_REQUESTS",
    "MAINTENANCE_RESULTS",
    "MAIN_TOPICS",
    "PLUGIN_HEALTH",
    "PROCESSING_REPORTS",
    "PROCESS_REQUESTS",
    "PROCESS_RESULTS",
    "RETRY_LEVELS",
    "TRENDS_UPDATES",
    "EnsureReport",
    "MessageTooLargeError",
    "TopicSpec",
    "dead_letter_topic",
    "ensure_topics",
    "faust_topic",
    "retry_topic",
]

log = logging.getLogger(__name__)
DAY_MS = 24 * 60 * 60 * 1000
METADATA_WAIT_S = 10.0
BROKER_MAX_MESSAGE_BYTES = 1_048_588
"""Kafka's default `message.max.bytes`: the limit of a topic that sets no `max.message.bytes`."""
RECORD_OVERHEAD_BYTES = 1024
"""What a message's key, headers and batch framing may take of its topic's limit."""


class MessageTooLargeError(RecordValidationError):
    """A message is larger than its topic takes: the broker would refuse it, so it is refused
    before it is sent (never retried: a retry would send the same bytes)."""


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, layout, retention and the types of its keys and values."""

    name: str
    value_type: type[StreamRecord] | None
    description: str
    key_type: type = str
    partitions: int | None = None
    """None: the TOPIC_PARTITIONS setting."""
    retention_ms: int = 7 * DAY_MS
    compacted: bool = False
    """Compaction keeps the latest value of each key (on top of time retention)."""
    max_message_bytes: int | None = None
    """Largest message the broker accepts on this topic; None: the broker's default (1 MB)."""
    retried: bool = False
    """Failed messages wait in `<name>.retry.<n>` topics (one per attempt, RETRY_LEVELS)."""
    dead_lettered: bool = False
    """Messages that cannot be handled go to `<name>.dlq` (always true when retried)."""

    def full_name(self, settings: Settings) -> str:
        """The name on the broker: the NAMESPACE setting, then the catalog name."""
        return f"{settings.namespace}{self.name}"

    def partition_count(self, settings: Settings) -> int:
        """The partition count this topic must have."""
        return self.partitions or settings.topic_partitions

    @property
    def max_value_bytes(self) -> int:
        """The largest value a message of this topic may carry (its limit, less the key's,
        headers' and framing's share)."""
        return (self.max_message_bytes or BROKER_MAX_MESSAGE_BYTES) - RECORD_OVERHEAD_BYTES

    def check_size(self, value: bytes, what: str) -> bytes:
        """`value` itself when this topic takes it; MessageTooLargeError saying `what` it is
        otherwise (`the SUCCESS status of request r1`)."""
        if len(value) > self.max_value_bytes:
            raise MessageTooLargeError(
                f"{what} is {len(value):,} bytes; {self.name} takes at most "
                f"{self.max_value_bytes:,}"
            )
        return value

    def broker_config(self) -> dict[str, str]:
        """Topic-level configuration sent when the topic is created."""
        policy = "compact,delete" if self.compacted else "delete"
        config = {"cleanup.policy": policy, "retention.ms": str(self.retention_ms)}
        if self.max_message_bytes:
            config["max.message.bytes"] = str(self.max_message_bytes)
        return config


# Oversized messages are let into consumed topics so the consumer can answer them clearly
# (a FAILURE, a dead letter) instead of the producer getting a bare broker error.
CONSUMED_TOPIC_MAX_BYTES = 10 * 1024 * 1024
REQUEST_TOPIC_MAX_BYTES = CONSUMED_TOPIC_MAX_BYTES
RETRY_LEVELS = 3
"""Retry topics per retried topic: attempt n waits in `.retry.<min(n, RETRY_LEVELS)>`."""
COLLECT_REQUESTS = TopicSpec(
    "collect.requests",
    CollectRequest,
    "Collection triggers (plain JSON accepted), keyed by request id.",
    max_message_bytes=REQUEST_TOPIC_MAX_BYTES,
    retried=True,
)
COLLECT_REQUESTS_PRIORITY = TopicSpec(
    "collect.requests.priority",
    CollectRequest,
    "Urgent collection triggers, consumed apart.",
    max_message_bytes=REQUEST_TOPIC_MAX_BYTES,
    retried=True,
)
COLLECT_RESULTS = TopicSpec(
    "collect.results",
    RequestStatus,
    "Every state change of a request; the last one per key is the result.",
    retention_ms=7 * DAY_MS,
    compacted=True,
)
ITEMS_RAW = TopicSpec(
    "items.raw",
    RawItem,
    "Collected items, keyed by source:source_id.",
    max_message_bytes=CONSUMED_TOPIC_MAX_BYTES,
    retried=True,
)
ITEMS_ENRICHED = TopicSpec(
    "items.enriched",
    EnrichedItem,
    "Items after the processor's enrich stage (embedding, entities), keyed by item key. One "
    "partition: the consumer group gives it to exactly one processor worker, the cluster writer.",
    partitions=1,
    max_message_bytes=CONSUMED_TOPIC_MAX_BYTES,
    dead_lettered=True,
)
TRENDS_UPDATES = TopicSpec(
    "trends.updates",
    TrendUpdate,
    "A topic's trend changed state or rank, keyed by topic id.",
    retention_ms=30 * DAY_MS,
)
PROCESSING_REPORTS = TopicSpec(
    "processing.reports",
    ProcessingReport,
    "What the processor did with each request's items, keyed by request id.",
    retention_ms=1 * DAY_MS,
    max_message_bytes=CONSUMED_TOPIC_MAX_BYTES,
    dead_lettered=True,
)
PROCESS_REQUESTS = TopicSpec(
    "process.requests",
    ProcessRequest,
    "Processing jobs on request (sweep, generate_embeddings, test_pipeline, cleanup_data).",
    max_message_bytes=CONSUMED_TOPIC_MAX_BYTES,
    retried=True,
)
PROCESS_RESULTS = TopicSpec(
    "process.results",
    RequestStatus,
    "Every state change of a processing job; the last one per key is the result.",
    compacted=True,
)
CONTROL = TopicSpec(
    "control",
    ControlCommand,
    "Control commands to every worker (cancellation, pause).",
    partitions=1,
    retention_ms=30 * DAY_MS,
    max_message_bytes=CONSUMED_TOPIC_MAX_BYTES,
    dead_lettered=True,
)
MAINTENANCE_REQUESTS = TopicSpec(
    "maintenance.requests",
    MaintenanceRequest,
    "Maintenance jobs on request (health, cleanup, plugin_health, analytics, backup, lag).",
    max_message_bytes=CONSUMED_TOPIC_MAX_BYTES,
    retried=True,
)
MAINTENANCE_RESULTS = TopicSpec(
    "maintenance.results",
    RequestStatus,
    "Every state change of a maintenance job; the last one per key is the result.",
    compacted=True,
)
ALERTS = TopicSpec(
    "alerts",
    Alert,
    "Health and lag alerts raised by the maintenance service.",
    partitions=1,
    retention_ms=30 * DAY_MS,
    max_message_bytes=CONSUMED_TOPIC_MAX_BYTES,
    dead_lettered=True,
)

PLUGIN_HEALTH = TopicSpec(
    "plugin.health",
    PluginHealthReport,
    "The maintenance service's latest verdict on each plugin, keyed by plugin name; the "
    "collector reads it to the end to know which plugins its groups skip.",
    partitions=1,
    retention_ms=-1,  # compaction alone: a plugin's verdict stays until the next one replaces it
    compacted=True,
)


def retry_topic(spec: TopicSpec, level: int) -> TopicSpec:
    """Where messages of `spec` wait before their `level`-th retry (1..RETRY_LEVELS)."""
    return TopicSpec(
        f"{spec.name}.retry.{level}",
        None,
        f"Messages of {spec.name} waiting for retry {level}; header ts-due says when.",
        key_type=spec.key_type,
        partitions=1,
        retention_ms=7 * DAY_MS,
        max_message_bytes=CONSUMED_TOPIC_MAX_BYTES,
    )


def dead_letter_topic(spec: TopicSpec) -> TopicSpec:
    """Where messages of `spec` go when they cannot be handled (headers say why)."""
    return TopicSpec(
        f"{spec.name}.dlq",
        None,
        f"Dead letters of {spec.name}: the original message, with error and origin headers.",
        key_type=spec.key_type,
        partitions=1,
        retention_ms=30 * DAY_MS,
        max_message_bytes=CONSUMED_TOPIC_MAX_BYTES,
    )


def _derived(specs: tuple[TopicSpec, ...]) -> tuple[TopicSpec, ...]:
    """The retry and dead-letter topics of the catalog's guarded topics."""
    derived: list[TopicSpec] = []
    for spec in specs:
        derived += [retry_topic(spec, n) for n in range(1, RETRY_LEVELS + 1) if spec.retried]
        derived += [dead_letter_topic(spec)] if spec.retried or spec.dead_lettered else []
    return tuple(derived)


MAIN_TOPICS: tuple[TopicSpec, ...] = (
    COLLECT_REQUESTS,
    COLLECT_REQUESTS_PRIORITY,
    COLLECT_RESULTS,
    ITEMS_RAW,
    ITEMS_ENRICHED,
    TRENDS_UPDATES,
    PROCESSING_REPORTS,
    PROCESS_REQUESTS,
    PROCESS_RESULTS,
    CONTROL,
    MAINTENANCE_REQUESTS,
    MAINTENANCE_RESULTS,
    ALERTS,
    PLUGIN_HEALTH,
)
DEAD_LETTER_TOPICS: tuple[TopicSpec, ...] = tuple(
    dead_letter_topic(spec) for spec in MAIN_TOPICS if spec.retried or spec.dead_lettered
)
CATALOG: tuple[TopicSpec, ...] = MAIN_TOPICS + _derived(MAIN_TOPICS)


def faust_topic(app: faust.App, spec: TopicSpec, settings: Settings, *, raw: bool = False) -> Any:
    """The Faust topic of a catalog entry; raw=True hands agents the undecoded bytes."""
    value: dict[str, Any] = {"value_type": bytes, "value_serializer": "raw"}
    if not raw and spec.value_type is not None:
        value = {"value_type": spec.value_type}
    return app.topic(
        spec.full_name(settings),
        key_type=spec.key_type,
        key_serializer="raw",
        partitions=spec.partition_count(settings),
        retention=spec.retention_ms / 1000,
        compacting=spec.compacted,
        **value,
    )


@dataclass
class EnsureReport:
    """What ensure_topics found and did."""

    created: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    reconfigured: list[str] = field(default_factory=list)
    """Existing topics whose retention, compaction or size limit was set to the catalog's."""

    def summary(self) -> str:
        """One line for logs and the stack command."""
        line = f"{len(self.created)} created, {len(self.verified)} already present"
        return line + (f", {len(self.reconfigured)} reconfigured" if self.reconfigured else "")


async def ensure_topics(settings: Settings, specs: tuple[TopicSpec, ...] = CATALOG) -> EnsureReport:
    """Create the missing topics and verify the others; raise TopicMismatchError on a difference."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_list)
    await admin.start()
    try:
        report = await _create_missing(admin, settings, specs)
        await _verify_partitions(admin, settings, specs)
        if report.created:
            await _await_leaders(
                settings, [s for s in specs if s.full_name(settings) in report.created]
            )
        existing = [spec for spec in specs if spec.full_name(settings) in report.verified]
        report.reconfigured = await _reconcile_configs(admin, settings, existing)
        return report
    finally:
        await admin.close()


async def _create_missing(
    admin: AIOKafkaAdminClient, settings: Settings, specs: tuple[TopicSpec, ...]
) -> EnsureReport:
    existing = set(await admin.list_topics())
    report = EnsureReport()
    missing = [spec for spec in specs if spec.full_name(settings) not in existing]
    created = await _create(admin, missing, settings)
    for spec in specs:
        name = spec.full_name(settings)
        if name in created:
            report.created.append(name)
            log.info("topic created topic=%s partitions=%d", name, spec.partition_count(settings))
        else:
            report.verified.append(name)
    return report


async def _create(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec], settings: Settings
) -> set[str]:
    """Create these topics in one request; the names created (not those another process
    created first)."""
    if not specs:
        return set()
    new = [
        NewTopic(
            spec.full_name(settings),
            num_partitions=spec.partition_count(settings),
            replication_factor=settings.topic_replication_factor,
            topic_configs=spec.broker_config(),
        )
        for spec in specs
    ]
    response = await admin.create_topics(new)
    created = set()
    for name, code, *rest in response.topic_errors:
        if code == TopicAlreadyExistsError.errno:
            continue
        if code:
            message = rest[0] if rest else ""
            raise for_code(code)(f"creating topic {name}: {message}")
        created.add(name)
    return created


async def _await_leaders(settings: Settings, specs: list[TopicSpec]) -> None:
    """Wait until the broker answers for every partition of these just-created topics.

    A broker publishes a new topic in its metadata before its replica manager leads the
    partitions; a worker started in that gap logs NotLeaderForPartitionError. Asking each
    partition's end offset waits the gap out (aiokafka retries that error quietly); one
    request per topic, all at once, so the consumer learns the topics together.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_list)
    await consumer.start()
    try:
        asks = (
            consumer.end_offsets(
                [
                    TopicPartition(spec.full_name(settings), index)
                    for index in range(spec.partition_count(settings))
                ]
            )
            for spec in specs
        )
        await asyncio.wait_for(asyncio.gather(*asks), METADATA_WAIT_S)
    except TimeoutError as error:
        raise TopicMismatchError(
            f"the broker did not lead the new topics' partitions within {METADATA_WAIT_S} s"
        ) from error
    finally:
        await consumer.stop()


async def _verify_partitions(
    admin: AIOKafkaAdminClient, settings: Settings, specs: tuple[TopicSpec, ...]
) -> None:
    wanted = {spec.full_name(settings): spec.partition_count(settings) for spec in specs}
    described = await _describe(admin, list(wanted))
    problems = []
    for topic in described:
        actual = len(topic["partitions"])
        if actual != wanted[topic["topic"]]:
            problems.append(
                f"topic {topic['topic']} has {actual} partitions on the broker, "
                f"the catalog says {wanted[topic['topic']]}"
            )
    if problems:
        raise TopicMismatchError("; ".join(problems))


async def _describe(admin: AIOKafkaAdminClient, names: list[str]) -> list[dict[str, Any]]:
    """Describe topics, polling briefly while a just-created topic's metadata propagates."""
    deadline = time.monotonic() + METADATA_WAIT_S
    while True:
        described: list[dict[str, Any]] = await admin.describe_topics(names)
        if all(topic["partitions"] and not topic["error_code"] for topic in described):
            return described
        if time.monotonic() > deadline:
            missing = [t["topic"] for t in described if not t["partitions"] or t["error_code"]]
            raise TopicMismatchError(f"topics without metadata on the broker: {missing}")
        await asyncio.sleep(0.2)


async def _reconcile_configs(
    admin: AIOKafkaAdminClient, settings: Settings, specs: list[TopicSpec]
) -> list[str]:
    """Set the catalog's topic configs where the broker's differ; return the topics changed."""
    wanted = {spec.full_name(settings): spec.broker_config() for spec in specs}
    if not wanted:
        return []
    actual = await _topic_configs(admin, wanted)
    changed = [name for name, config in wanted.items() if actual.get(name) != config]
    if changed:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, wanted[name]) for name in changed]
        )
        log.info("topic configs updated topics=%s", ",".join(changed))
    return changed


async def _topic_configs(
    admin: AIOKafkaAdminClient, wanted: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, name, dict.fromkeys(config))
        for name, config in wanted.items()
    ]
    configs: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.resources:
            name, entries = resource[3], resource[4]
            configs[name] = {entry[0]: entry[1] for entry in entries}
    return configs
