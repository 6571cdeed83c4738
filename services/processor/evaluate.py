"""`python -m services.processor.evaluate CORPUS.jsonl`: a labelled corpus through the pipeline.

Each line of the corpus: id (or source_id), story (or label), source, title, text,
published_at, score, comments. Items are fed in hourly batches, in time order, as a live
processor sees them; the command prints purity, adjusted Rand index, the clusters found and,
for each story, when it first reached `trending` (with --stories, a manifest of
`{"<story>": {"kind": "burst"|"steady"|..., "burst_at": ISO time}}`, also the verdicts).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from services.processor.pipeline import Pipeline, PipelineConfig
from services.processor.pipeline.normalize import item_time
from services.processor.pipeline.quality import (
    adjusted_rand_index,
    clusters_with_singletons,
    purity,
)
from streams.records import RawItem, TrendState

__all__ = ["Evaluation", "evaluate", "load", "main"]

FIELDS = frozenset(RawItem._options.fields)
TWO_WINDOWS = 2


@dataclass(frozen=True)
class Labelled:
    """One corpus line: the item and its story."""

    item: RawItem
    story: str


@dataclass(frozen=True)
class Evaluation:
    """What the pipeline made of a corpus."""

    purity: float
    ari: float
    clusters: dict[str, Counter[str]]
    """Each topic found, with the stories of its members."""
    first_trending: dict[str, datetime]
    """Each story's first moment in `trending` (its topic's majority story)."""


def _item(row: dict[str, Any]) -> RawItem:
    fields = {k: v for k, v in row.items() if k in FIELDS}
    fields.setdefault("source_id", str(row.get("id", "")))
    return RawItem.parse(fields)


def load(path: Path) -> list[Labelled]:
    """The corpus lines (a line without a story label is an error)."""
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [Labelled(_item(row), str(row.get("story") or row["label"])) for row in lines]


def _hourly(corpus: list[Labelled]) -> list[list[Labelled]]:
    batches: dict[int, list[Labelled]] = defaultdict(list)
    for entry in corpus:
        batches[int(item_time(entry.item).timestamp() // 3600)].append(entry)
    return [batches[hour] for hour in sorted(batches)]


def evaluate(corpus: list[Labelled], config: PipelineConfig | None = None) -> Evaluation:
    """Run the corpus through a fresh pipeline and measure it."""
    pipeline, trending, merged = Pipeline(config), [], {}
    for batch in _hourly(corpus):
        result = pipeline.process([entry.item for entry in batch])
        merged.update(result.merged)
        trending += [(t.topic_id, t.at) for t in result.trends if t.state == TrendState.TRENDING]
    keys = [entry.item.key for entry in corpus]
    clusters = clusters_with_singletons(keys, {key: pipeline.topic_of(key) for key in keys})
    stories = [entry.story for entry in corpus]
    members: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for cluster, story in zip(clusters, stories, strict=True):
        if not cluster.startswith("singleton:"):
            members[cluster][story] += 1
    return Evaluation(
        purity(clusters, stories),
        adjusted_rand_index(clusters, stories),
        dict(members),
        _first_trending(trending, merged, members),
    )


def _first_trending(
    trending: list[tuple[str, datetime]],
    merged: dict[str, str],
    members: dict[str, Counter[str]],
) -> dict[str, datetime]:
    first: dict[str, datetime] = {}
    for trended, at in trending:
        topic = trended
        while topic in merged:
            topic = merged[topic]
        if topic in members:
            first.setdefault(members[topic].most_common(1)[0][0], at)
    return first


def _verdicts(evaluation: Evaluation, manifest: dict[str, Any], window: timedelta) -> list[str]:
    lines = []
    for story, info in sorted(manifest.items()):
        seen = evaluation.first_trending.get(story)
        if info.get("kind") == "burst":
            due = datetime.fromisoformat(info["burst_at"]) + TWO_WINDOWS * window
            verdict = "ok" if seen and seen <= due else "MISSED"
            lines.append(f"burst  {story}: trending at {seen or 'never'} (due by {due}) {verdict}")
        elif info.get("kind") == "steady":
            lines.append(
                f"steady {story}: {'TRENDED at ' + str(seen) if seen else 'never trending ok'}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print purity, ARI, clusters and burst verdicts for a labelled JSONL corpus."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--stories", type=Path, help="manifest of burst and steady stories")
    args = parser.parse_args(argv)
    config = PipelineConfig()
    evaluation = evaluate(load(args.corpus), config)
    print(f"purity {evaluation.purity:.4f}  adjusted Rand index {evaluation.ari:.4f}")
    print(f"{len(evaluation.clusters)} topics:")
    for topic, stories in sorted(evaluation.clusters.items(), key=lambda t: -t[1].total()):
        print(f"  {topic}: {dict(stories.most_common())}")
    if args.stories:
        manifest = json.loads(args.stories.read_text())
        print("\n".join(_verdicts(evaluation, manifest, timedelta(hours=config.window_hours))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
