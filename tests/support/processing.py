"""Running processors (several, settled), feeding them a labelled corpus and reading their work
back from PostgreSQL."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.processor.pipeline.normalize import item_time
from services.processor.pipeline.quality import adjusted_rand_index, purity
from streams.config import Settings
from streams.messages.records import ProcessingReport
from streams.messages.topics import ITEMS_ENRICHED, ITEMS_RAW, PROCESSING_REPORTS
from tests.support.corpus import LabelledItem
from tests.support.kafka import partition_counts
from tests.support.workers import Worker, poll

__all__ = [
    "Feeder",
    "Quality",
    "assignment",
    "assignments",
    "cluster_owner_pid",
    "counted_twice",
    "fetch",
    "quality",
    "spans",
    "start_processor_groups",
    "start_processors",
    "table_counts",
]
StartWorkers = Callable[..., list[Worker]]


def start_processors(
    start: StartWorkers, settings: Settings, count: int, folder: Path
) -> list[Worker]:
    """`count` processor workers, each with its own Qdrant folder (local mode holds one),
    waited for until the group has settled: every partition of items.raw held, and
    items.enriched held by exactly one of them."""
    (workers,) = start_processor_groups(start, [(settings, count, folder)])
    return workers


def start_processor_groups(
    start: StartWorkers, groups: Sequence[tuple[Settings, int, Path]]
) -> list[list[Worker]]:
    """Several groups of processor workers as `start_processors` starts one (a group by
    settings, count and Qdrant folder), every worker started before any is waited for."""
    owns = [
        [settings.model_copy(update={"qdrant_path": folder / f"qdrant-{n}"}) for n in range(count)]
        for settings, count, folder in groups
    ]
    started = iter(start("processor", [own for group in owns for own in group]))
    found = [[next(started) for _ in group] for group in owns]
    for workers, (settings, _, _) in zip(found, groups, strict=True):
        settled = poll(lambda: _settled(workers, settings), timeout=90)  # noqa: B023
        assert settled, [assignment(worker) for worker in workers]
    return found


def assignment(worker: Worker) -> list[str]:
    """The partitions a worker's /health says it holds (none while it does not answer)."""
    response = worker.health()
    return response.json()["assignment"] if response is not None else []


def _settled(workers: list[Worker], settings: Settings) -> bool:
    held = [set(assignment(worker)) for worker in workers]
    raw = ITEMS_RAW.full_name(settings)
    enriched = f"{ITEMS_ENRICHED.full_name(settings)}:0"
    partitions = {f"{raw}:{n}" for n in range(settings.topic_partitions)}
    spread = all(any(p.startswith(f"{raw}:") for p in h) for h in held)
    owners = sum(enriched in h for h in held)
    return spread and owners == 1 and partitions <= set().union(*held)


class Feeder:
    """Produces items to items.raw and waits until the processor reported every one of them.

    Reports name their items: an item reported twice (a redelivery, or by both stages) counts
    once. `handled` holds the keys reported for each request, `new` those reported new.
    """

    def __init__(self, settings: Settings, timeout_s: float = 60.0) -> None:
        self.settings = settings
        self.timeout_ms = int(timeout_s * 1000)
        self.producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_list)
        self.handled: defaultdict[str, set[str]] = defaultdict(set)
        self.new: defaultdict[str, set[str]] = defaultdict(set)

    async def __aenter__(self) -> Feeder:
        await self.producer.start()
        await self.consumer.start()
        topic = PROCESSING_REPORTS.full_name(self.settings)
        count = (await partition_counts(self.settings, [topic]))[topic]
        self.consumer.assign([TopicPartition(topic, p) for p in range(count)])
        await self.consumer.seek_to_beginning()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()
        await self.consumer.stop()

    async def send(self, entries: list[LabelledItem], request_id: str) -> None:
        """Produce these items under one request id (spread over every partition by key)."""
        for entry in entries:
            entry.item.request_id = request_id
            value, key = entry.item.dumps(), entry.item.key.encode()
            await self.producer.send(ITEMS_RAW.full_name(self.settings), value, key=key)
        await self.producer.flush()

    async def wait(self, request_id: str, count: int) -> None:
        """Return once `count` distinct items of the request were reported."""
        while len(self.handled[request_id]) < count:
            batches = await self.consumer.getmany(timeout_ms=self.timeout_ms)
            assert batches, f"no processing report for {request_id} in {self.timeout_ms} ms"
            for record in (r for batch in batches.values() for r in batch):
                report = ProcessingReport.parse(record.value)
                self.handled[report.request_id].update(report.keys)
                self.new[report.request_id].update(report.new_keys)

    async def feed(self, entries: list[LabelledItem], request_id: str) -> None:
        """send() then wait() for all of them."""
        await self.send(entries, request_id)
        await self.wait(request_id, len({entry.item.key for entry in entries}))


def spans(corpus: list[LabelledItem], hours: int = 1) -> list[list[LabelledItem]]:
    """The corpus cut into spans of `hours` of item time, in time order."""
    width = timedelta(hours=hours).total_seconds()
    groups: dict[int, list[LabelledItem]] = defaultdict(list)
    for entry in corpus:
        groups[int(item_time(entry.item).timestamp() // width)].append(entry)
    return [groups[key] for key in sorted(groups)]


async def fetch(settings: Settings, query: str, *args: object) -> list[asyncpg.Record]:
    """Rows of one query on the test's database."""
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def cluster_owner_pid(settings: Settings) -> int:
    """The process id of the worker that holds the cluster stage (the owner row says)."""
    (row,) = await fetch(settings, "SELECT epoch, owner FROM pipeline_owner")
    return int(row["owner"].rsplit(":", 1)[1])


async def counted_twice(settings: Settings) -> int:
    """Items counted in topic sizes beyond the originals stored in those topics (0: none)."""
    (row,) = await fetch(
        settings,
        "SELECT (SELECT coalesce(sum(item_count), 0) FROM topics WHERE merged_into IS NULL) "
        "- (SELECT count(*) FROM items i JOIN topics t ON t.id = i.topic_id "
        "   WHERE i.duplicate_of IS NULL AND i.dropped_reason IS NULL) AS extra",
    )
    return int(row["extra"])


def _resolver(merged: dict[str, str], counted: set[str]) -> Callable[[str | None], str | None]:
    def resolve(topic: str | None) -> str | None:
        while topic in merged:
            topic = merged[topic]
        return topic if topic in counted else None

    return resolve


async def assignments(
    settings: Settings,
) -> tuple[dict[str, str | None], Callable[[str | None], str | None]]:
    """Each stored item's topic as saved (merges followed; None: in no counted topic), and the
    resolver from a saved topic id to the topic that holds it now."""
    topics = await fetch(settings, "SELECT id, merged_into FROM topics")
    merged = {row["id"]: row["merged_into"] for row in topics if row["merged_into"]}
    resolve = _resolver(merged, {row["id"] for row in topics if not row["merged_into"]})
    rows = await fetch(settings, "SELECT source || ':' || source_id AS key, topic_id FROM items")
    return {row["key"]: resolve(row["topic_id"]) for row in rows}, resolve


async def table_counts(settings: Settings) -> dict[str, int]:
    """Rows of the pipeline's tables, and items with a vector."""
    counts = {}
    for table in ("items", "topics", "trends", "trend_snapshots"):
        counts[table] = (await fetch(settings, f"SELECT count(*) AS n FROM {table}"))[0]["n"]
    counts["vectors"] = (await fetch(settings, "SELECT count(*) AS n FROM items WHERE has_vector"))[
        0
    ]["n"]
    return counts


@dataclass(frozen=True)
class Quality:
    """How the saved topics match the corpus's stories."""

    purity: float
    ari: float
    topics_per_story: dict[str, int]
    """How many topics hold a majority of each story's items they contain."""
    noise_in_topics: int
    clusters: list[str]
    mixed: list[dict[str, int]]
    """The stories of each topic holding more than one (largest first)."""


def quality(corpus: list[LabelledItem], topic_of: dict[str, str | None]) -> Quality:
    """Purity, ARI and splits of the saved topics against the corpus labels."""
    keys, labels = [e.item.key for e in corpus], [e.label for e in corpus]
    clusters = [topic_of.get(key) or f"single:{key}" for key in keys]
    majority = {
        topic: Counter(
            lab for c, lab in zip(clusters, labels, strict=True) if c == topic
        ).most_common(1)[0][0]
        for topic in set(clusters)
        if not topic.startswith("single:")
    }
    members: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for cluster, label in zip(clusters, labels, strict=True):
        if not cluster.startswith("single:"):
            members[cluster][label] += 1
    return Quality(
        purity(clusters, labels),
        adjusted_rand_index(clusters, labels),
        dict(Counter(majority.values())),
        sum(1 for e in corpus if e.kind == "noise" and topic_of.get(e.item.key)),
        clusters,
        [dict(m.most_common()) for m in members.values() if len(m) > 1],
    )
