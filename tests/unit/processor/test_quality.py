"""Clustering and trend quality of the whole pipeline, with the real model, on the labelled corpus.

Run with -s to see the achieved numbers. The corpus is one week of items (2026-11-16..22 UTC)
from four sources: bursting, steady and one-off event stories, same-domain near-miss pairs and
one-off noise posts (tests/fixtures/corpus, loaded by tests/support/corpus.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from services.processor.pipeline import Pipeline, PipelineConfig
from services.processor.pipeline.normalize import item_time
from services.processor.pipeline.quality import (
    adjusted_rand_index,
    clusters_with_singletons,
    purity,
)
from streams.records import TrendState
from tests.support.corpus import LabelledItem, StoryInfo, load_corpus, load_stories

CONFIG = PipelineConfig()
BATCH = timedelta(hours=1)
"""The corpus is fed in hourly batches, as a processor would see it live."""
PURITY_TARGET, ARI_TARGET = 0.97, 0.92


@dataclass
class Run:
    """What the pipeline made of the corpus."""

    corpus: list[LabelledItem]
    stories: dict[str, StoryInfo]
    clusters: list[str]
    labels: list[str]
    trending_since: dict[str, datetime] = field(default_factory=dict)
    """For each final topic, the first snapshot in which it (or a topic it absorbed) trended."""

    def majority(self) -> dict[str, str]:
        """Each cluster's most common label."""
        members: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for cluster, label in zip(self.clusters, self.labels, strict=True):
            members[cluster][label] += 1
        return {cluster: counter.most_common(1)[0][0] for cluster, counter in members.items()}


def _batches(corpus: list[LabelledItem]) -> list[list[LabelledItem]]:
    batches: list[list[LabelledItem]] = []
    for entry in sorted(corpus, key=lambda entry: item_time(entry.item)):
        if not batches or item_time(entry.item) - item_time(batches[-1][0].item) >= BATCH:
            batches.append([])
        batches[-1].append(entry)
    return batches


def _resolve(topic_id: str, aliases: dict[str, str]) -> str:
    while topic_id in aliases:
        topic_id = aliases[topic_id]
    return topic_id


@pytest.fixture(scope="module")
def run() -> Run:
    corpus, pipeline = load_corpus(), Pipeline(CONFIG)
    aliases: dict[str, str] = {}
    trending: list[tuple[str, datetime]] = []
    for batch in _batches(corpus):
        result = pipeline.process([entry.item for entry in batch])
        aliases.update(result.merged)
        trending += [(t.topic_id, t.at) for t in result.trends if t.state == TrendState.TRENDING]
    ids = [entry.item.key for entry in corpus]
    clusters = clusters_with_singletons(ids, {key: pipeline.topic_of(key) for key in ids})
    done = Run(corpus, load_stories(), clusters, [entry.label for entry in corpus])
    for topic_id, at in trending:
        done.trending_since.setdefault(_resolve(topic_id, aliases), at)
    return done


def test_the_corpus_meets_its_brief(run: Run) -> None:
    kinds = Counter(info.kind for info in run.stories.values())
    assert len(run.corpus) >= 420
    assert len(run.stories) >= 16
    assert sum(entry.kind == "noise" for entry in run.corpus) >= 48
    assert kinds["burst"] >= 2
    assert kinds["steady"] >= 4


def test_purity_and_adjusted_rand_index(run: Run) -> None:
    achieved = purity(run.clusters, run.labels), adjusted_rand_index(run.clusters, run.labels)
    topics = len({c for c in run.clusters if not c.startswith("singleton:")})
    print(f"\npurity={achieved[0]:.4f} ARI={achieved[1]:.4f} topics={topics}")
    assert achieved[0] >= PURITY_TARGET
    assert achieved[1] >= ARI_TARGET


def test_noise_items_stay_out_of_topics(run: Run) -> None:
    joined = [
        entry.item.title
        for entry, cluster in zip(run.corpus, run.clusters, strict=True)
        if entry.kind == "noise" and not cluster.startswith("singleton:")
    ]
    assert joined == []


def test_near_miss_stories_never_share_a_topic(run: Run) -> None:
    labels_of: defaultdict[str, set[str]] = defaultdict(set)
    for cluster, label in zip(run.clusters, run.labels, strict=True):
        labels_of[cluster].add(label)
    for label, info in run.stories.items():
        if info.confuses_with:
            assert not any({label, info.confuses_with} <= labels for labels in labels_of.values())


def test_bursting_stories_trend_within_two_windows(run: Run) -> None:
    majority, limit = run.majority(), 2 * timedelta(hours=CONFIG.window_hours)
    for label, info in run.stories.items():
        if info.kind != "burst" or info.burst_at is None:
            continue
        topics = [cluster for cluster, owner in majority.items() if owner == label]
        since = [run.trending_since[t] for t in topics if t in run.trending_since]
        assert since, f"{label} never trended"
        delay = min(since) - info.burst_at
        print(f"\n{label}: trending {delay.total_seconds() / 3600:.1f} h after its burst")
        assert timedelta(0) <= delay <= limit, label


def test_steady_stories_never_trend(run: Run) -> None:
    for cluster, label in run.majority().items():
        if run.stories.get(label) and run.stories[label].kind == "steady":
            assert cluster not in run.trending_since, label
