"""Both corpora through the real processor: rows in PostgreSQL, topics, trends, Qdrant vectors.

Items are produced to items.raw hour by hour, as they would arrive live, each hour waiting for
the processor's report, with a processor restart in the middle of the week; quality is then read
back from PostgreSQL and trends.updates. The tuning corpus (tests/fixtures/corpus) is the one
every threshold was chosen on; the held-out one (tests/fixtures/heldout) was written apart.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from services.processor.pipeline.quality import adjusted_rand_index, bcubed, purity
from services.processor.vectors import ITEMS, VectorStore, qdrant_client
from streams.config import Settings
from streams.messages.records import TrendState, TrendUpdate
from streams.messages.topics import TRENDS_UPDATES
from tests.support.corpus import CORPUS, HELDOUT, LabelledItem, load_corpus, load_stories
from tests.support.kafka import read_all
from tests.support.processing import Feeder, assignments, spans, table_counts
from tests.support.workers import Worker

pytestmark = pytest.mark.slow
StartWorkers = Callable[..., list[Worker]]
TWO_WINDOWS = timedelta(hours=12)
GOALS = {"purity": 0.98, "ARI": 0.93, "B-cubed F1": 0.96}
KNOWN_MISSES = {
    "heldout": (
        "purity 0.969 < 0.98 and two one-off posts in topics at the defaults "
        "fitted on every corpus (its left-out fit misses purity too: test_quality.py)"
    ),
}
"""Goals (GOALS, no one-off post in a topic) known to be missed through the real services at
the defaults, by corpus folder: a strict expected failure naming each miss and its figure."""


class GoalMissedError(AssertionError):
    """A quality goal missed (the other checks fail as plain assertions)."""


async def _feed_hours(settings: Settings, hours: list[list[LabelledItem]], run: str) -> None:
    async with Feeder(settings) as feeder:
        for number, hour in enumerate(hours):
            await feeder.feed(hour, f"{run}-{number}")


async def _trending(settings: Settings, resolve: Callable) -> dict[str, list[TrendUpdate]]:
    values = await read_all(settings, TRENDS_UPDATES)
    updates = [TrendUpdate.parse(value) for value in values]
    trending: dict[str, list[TrendUpdate]] = defaultdict(list)
    for update in updates:
        if update.state is TrendState.TRENDING and (topic := resolve(update.topic_id)):
            trending[topic].append(update)
    return trending


@pytest.mark.parametrize("folder", [CORPUS, HELDOUT], ids=["tuning", "held-out"])
async def test_corpus_becomes_topics_trends_and_vectors(
    test_settings: Settings,
    start_workers: StartWorkers,
    folder: Path,
    request: pytest.FixtureRequest,
) -> None:
    if folder.name in KNOWN_MISSES:
        reason = f"known miss on {folder.name}: {KNOWN_MISSES[folder.name]}"
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True, raises=GoalMissedError))
    corpus, stories = load_corpus(folder), load_stories(folder)
    settings = test_settings.model_copy(update={"processor_batch_within_s": 0.05})
    hours = spans(corpus)
    (first_worker,) = start_workers("processor", settings)
    await _feed_hours(settings, hours[: len(hours) // 2], "before")
    assert first_worker.stop() == 0  # a restart mid-week: topics must go on where they were
    (worker,) = start_workers("processor", settings)
    await _feed_hours(settings, hours[len(hours) // 2 :], "after")
    topic_of, resolve = await assignments(settings)
    counts = await table_counts(settings)
    assert len(topic_of) == counts["items"] == len(corpus)
    assert counts["trends"] == counts["topics"] >= 16
    assert counts["trend_snapshots"] >= counts["topics"]

    keys, labels = [e.item.key for e in corpus], [e.label for e in corpus]
    clusters = [topic_of[key] or f"single:{key}" for key in keys]
    achieved = {
        "purity": purity(clusters, labels),
        "ARI": adjusted_rand_index(clusters, labels),
        "B-cubed F1": bcubed(clusters, labels).f1,
    }
    print(f"\n{achieved}")
    misses = [
        f"{goal} {achieved[goal]:.3f} < {GOALS[goal]}"
        for goal in GOALS
        if achieved[goal] < GOALS[goal]
    ]
    one_offs = [e.label for e in corpus if e.kind == "noise" and topic_of[e.item.key]]

    story_of = {
        t: Counter(lab for c, lab in zip(clusters, labels, strict=True) if c == t).most_common(1)[
            0
        ][0]
        for t in set(clusters)
        if not t.startswith("single:")
    }
    trending = await _trending(settings, resolve)
    for story in (s for s in stories.values() if s.kind == "burst"):
        times = [
            u.updated_at
            for t, us in trending.items()
            if story_of[t] == story.label
            for u in us
            if u.updated_at
        ]
        assert times, story.label
        assert story.burst_at is not None
        assert story.burst_at <= min(times) <= story.burst_at + TWO_WINDOWS, story.label
    steady = {s.label for s in stories.values() if s.kind == "steady"}
    assert not [story_of[t] for t in trending if story_of[t] in steady]

    async with Feeder(settings) as feeder:  # a redelivery of everything: nothing may change
        await feeder.feed(corpus, "again")
    assert (await assignments(settings))[0] == topic_of
    assert await table_counts(settings) == counts

    assert worker.stop() == 0
    client = qdrant_client(settings)
    try:
        assert await VectorStore(client, settings, 384).count(ITEMS) == counts["vectors"] > 0
    finally:
        await client.close()

    if one_offs:
        misses.append(f"one-off posts in topics {sorted(one_offs)}")
    if misses:  # last: every other check ran
        raise GoalMissedError("; ".join(misses))
