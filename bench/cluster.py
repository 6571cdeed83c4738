"""Benchmark: the cluster stage ALONE (in memory, one core, synthetic vectors) at 10,000 and
100,000 live topics: items per second through ClusterStage.process, in batches of 100.

Usage: python bench/cluster.py [--items N] [--topics-small N] [--topics-large N] [--repeat N]
                               [--tiny] [--out PATH]

The synthetic stream: topic centres drawn in a 64-dimensional latent space projected to 384
dimensions (unrelated centres meet at cosines around 0.1, like unrelated MiniLM embeddings);
an item is its story's centre plus noise (cosine ~0.7 to the centre, as real items to their
topic's centroid) and names one to three of its story's entities. Of each batch, 85 items
continue live stories (Zipf-distributed, so some stories are busy), 10 start new stories and
5 repeat a recent item nearly (near-duplicates). The stage starts holding N live topics (built
as the state a restore gives), so the figure is the steady-state cost of one item.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the cluster stage's owner has
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np

from bench.cli import parser, sizes_of
from bench.report import Report
from services.processor.pipeline import ClusterStage, Enriched, PipelineConfig
from services.processor.pipeline.cluster import TopicState, bucket_of
from services.processor.pipeline.embed import l2_normalize
from services.processor.pipeline.scoring import Activity

SIZES = {"items": 20_000, "topics_small": 10_000, "topics_large": 100_000}
TINY = {"items": 500, "topics_small": 300, "topics_large": 1_000}
DIMENSION = 384
LATENT = 64
BATCH = 100
START = datetime(2026, 11, 2, tzinfo=UTC)


class Stream:
    """Synthetic stories and their items (deterministic for a seed)."""

    def __init__(self, stories: int, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        self.projection = self.rng.standard_normal((LATENT, DIMENSION)).astype(np.float32)
        self.centres = self._centres(stories)
        self.names = [(f"name{n}a", f"name{n}b", f"place{n % 997}") for n in range(stories)]
        self.recent: list[tuple[Enriched, int]] = []
        self.made = 0

    def _centres(self, count: int) -> np.ndarray:
        latent = self.rng.standard_normal((count, LATENT)).astype(np.float32)
        spread = 0.35 * self.rng.standard_normal((count, DIMENSION)).astype(np.float32)
        return l2_normalize(latent @ self.projection / np.sqrt(LATENT) + spread)

    def new_story(self) -> int:
        """Add a story; return its index."""
        self.centres = np.vstack([self.centres, self._centres(1)])
        story = len(self.centres) - 1
        self.names.append((f"name{story}a", f"name{story}b", f"place{story % 997}"))
        return story

    def item(self, story: int, at: datetime) -> Enriched:
        """An item of a story: its centre plus noise, naming some of its entities."""
        noise = self.rng.standard_normal(DIMENSION).astype(np.float32)
        vector = l2_normalize(self.centres[story] + 0.9 * noise / np.linalg.norm(noise))
        names = self.names[story]
        chosen = tuple(names[: 1 + int(self.rng.integers(0, 3))])
        self.made += 1
        entry = Enriched(
            f"bench:{self.made}", f"story {story} item {self.made}", at, "en", chosen, vector=vector
        )
        self.recent = [*self.recent[-200:], (entry, story)]
        return entry

    def near_copy(self, at: datetime) -> Enriched:
        """A near-duplicate of a recent item (a cross-post with a word changed)."""
        original, _ = self.recent[int(self.rng.integers(0, len(self.recent)))]
        assert original.vector is not None
        noise = self.rng.standard_normal(DIMENSION).astype(np.float32)
        vector = l2_normalize(original.vector + 0.05 * noise / np.linalg.norm(noise))
        self.made += 1
        return Enriched(
            f"bench:{self.made}", original.title + "!", at, "en", original.entities, vector=vector
        )

    def batch(self, live: int, at: datetime) -> list[Enriched]:
        """85 items of live stories (Zipf), 10 of new stories, 5 near-duplicates."""
        ranks = np.minimum(self.rng.zipf(1.3, 85) - 1, live - 1)
        stories = [int(len(self.centres) - 1 - r) for r in ranks]
        items = [self.item(story, at) for story in stories]
        items += [self.item(self.new_story(), at) for _ in range(10)]
        items += [self.near_copy(at) for _ in range(5)]
        return items


def seeded_stage(stream: Stream, topics: int, config: PipelineConfig) -> ClusterStage:
    """A cluster stage holding `topics` live topics, one per story, as a restore gives them."""
    stage = ClusterStage(config, DIMENSION)
    bucket = bucket_of(START, config)
    for story in range(topics):
        members = [stream.item(story, START) for _ in range(3)]
        vector_sum = np.sum([m.vector for m in members], axis=0).astype(np.float32)
        topic = TopicState(
            f"seed{story}",
            START - timedelta(hours=1),
            START,
            vector_sum,
            size=3,
            entity_counts=Counter(e for m in members for e in m.entities),
            activity={bucket: Activity(3)},
            representative_id=members[0].item_id,
            representative_title=members[0].title,
            representative_vector=members[0].vector,
        )
        stage.clusterer.restore_topic(topic)
        stage.stats.observe(stream.names[story])
    stage.clusterer.commit()
    stage.now = stage.started = START
    return stage


def run(topics: int, items: int, seed: int) -> tuple[float, float, int]:
    """(items/s, seconds to seed, live topics at the end) for one stage."""
    config = PipelineConfig()
    stream = Stream(topics, seed)
    began = time.perf_counter()
    stage = seeded_stage(stream, topics, config)
    seeded = time.perf_counter() - began
    batches = [
        stream.batch(topics, START + timedelta(seconds=n)) for n in range(max(1, items // BATCH))
    ]
    stage.process(batches[0])  # the first batch builds nothing new: warm caches
    began = time.perf_counter()
    for batch in batches[1:]:
        stage.process(batch)
    elapsed = time.perf_counter() - began
    done = BATCH * (len(batches) - 1)
    return done / elapsed if elapsed else 0.0, seeded, len(stage.clusterer.topics)


def main() -> Report:
    args = parser(__doc__, SIZES, TINY).parse_args()
    sizes = sizes_of(args)
    report = Report(
        "cluster", "Cluster stage alone (synthetic vectors, 1 core)", sizes, args.repeat
    )
    report.notes.append("ClusterStage.process in memory; batches of 100; 85 join, 10 new, 5 near")
    for label, topics in (("small", sizes["topics_small"]), ("large", sizes["topics_large"])):
        rates = []
        for repeat in range(args.repeat):
            rate, seeded, live = run(topics, sizes["items"], seed=repeat)
            rates.append(rate)
            report.add(f"cluster_{label}", "items/s", rate, f"{topics:,} live topics at the start")
            report.add(f"cluster_{label}_seed", "s", seeded, "building the stage's topics")
            print(f"{topics:>7,} topics: {rate:,.0f} items/s, seeded {seeded:.1f} s, {live:,} live")
        report.notes.append(f"{topics:,} topics: median {statistics.median(rates):,.0f} items/s")
    report.target(
        "cluster stage >= 5,000 items/s at 100,000 topics", "cluster_large", at_least=5000
    )
    print(report.table())
    print(f"\nwritten: {report.save(args.out)}")
    return report


if __name__ == "__main__":
    main()
