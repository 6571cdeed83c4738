"""`python -m services.processor.evaluate CORPUS.jsonl`: a labelled corpus through the pipeline.

Each line of the corpus: id (or source_id), story (or label), source, title, text,
published_at, score, comments. Items are fed in hourly batches, in time order, as a live
processor sees them; the command prints purity, adjusted Rand index, B-cubed and pairwise
precision/recall/F1 (items in no topic count as clusters of their own), the clusters found,
the plain nearest-centroid baseline, the sweep (ARI with each main threshold at -20 %, -10 %,
+10 % and +20 % of its default) and, for each story, when it first reached `trending` (with
--stories, a manifest of `{"<story>": {"kind": "burst"|"steady"|..., "burst_at": ISO time}}`,
also the verdicts).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from services.processor.pipeline import (
    Embedder,
    Enriched,
    Enricher,
    NormalizedItem,
    Pipeline,
    PipelineConfig,
    embedder_for,
)
from services.processor.pipeline.embed import Vectors, l2_normalize
from services.processor.pipeline.normalize import Dropped, item_time, normalize
from services.processor.pipeline.placements import Placements, resolve
from services.processor.pipeline.quality import (
    Scores,
    adjusted_rand_index,
    bcubed,
    clusters_with_singletons,
    pairwise,
    purity,
)
from services.processor.pipeline.similarity import TERMS
from streams.config import load_settings
from streams.messages.items import embedding_text
from streams.messages.records import RawItem, TrendState

__all__ = [
    "BASELINE_THRESHOLDS",
    "NEAREST_CENTROID_THRESHOLD",
    "SWEPT",
    "CachedEmbedder",
    "Enrichments",
    "Evaluation",
    "Labelled",
    "Measures",
    "best_nearest_centroid",
    "embedding_store",
    "evaluate",
    "hourly",
    "load",
    "main",
    "measure",
    "nearest_centroid",
    "sweep",
]

FIELDS = frozenset(RawItem._options.fields)
TWO_WINDOWS = 2
SWEPT = (
    "join_threshold",
    "min_embedding_similarity",
    "merge_centroid_similarity",
    *(term.weight for term in TERMS),
)
"""The main settings the sweep moves: the thresholds and each term's weight."""
"""The main thresholds and weights of the similarity, swept by `sweep`."""
FACTORS = (0.8, 0.9, 1.1, 1.2)
BASELINE_THRESHOLDS = tuple(round(0.3 + 0.025 * step, 3) for step in range(17))
"""Cosine thresholds tried for plain nearest-centroid (0.3 .. 0.7)."""
NEAREST_CENTROID_THRESHOLD = 0.45
"""The cosine threshold (of BASELINE_THRESHOLDS) with plain nearest-centroid's best mean ARI
over every labelled corpus (tests/fixtures/loco.json, "all"; checked by test_quality.py)."""


@dataclass(frozen=True)
class Labelled:
    """One corpus line: the item and its story."""

    item: RawItem
    story: str


@dataclass(frozen=True)
class Measures:
    """How a clustering of the corpus's items compares with their stories."""

    purity: float
    ari: float
    bcubed: Scores
    pairwise: Scores

    def line(self) -> str:
        """The measures on one line."""
        b, p = self.bcubed, self.pairwise
        return (
            f"purity {self.purity:.4f}  ARI {self.ari:.4f}  "
            f"B-cubed P {b.precision:.4f} R {b.recall:.4f} F1 {b.f1:.4f}  "
            f"pairwise P {p.precision:.4f} R {p.recall:.4f} F1 {p.f1:.4f}"
        )


@dataclass(frozen=True)
class Evaluation:
    """What the pipeline made of a corpus."""

    measures: Measures
    clusters: dict[str, Counter[str]]
    """Each topic found, with the stories of its members."""
    first_trending: dict[str, datetime]
    """Each story's first moment in `trending` (its topic's majority story)."""

    @property
    def purity(self) -> float:
        """Share of items whose topic's majority story is their own."""
        return self.measures.purity

    @property
    def ari(self) -> float:
        """Adjusted Rand index against the stories."""
        return self.measures.ari


class CachedEmbedder:
    """An embedder remembering each text's vector, so that a corpus evaluated under many
    settings is embedded once; with a `store` (an .npz file), across runs too."""

    def __init__(self, inner: Embedder, store: Path | None = None) -> None:
        self.inner = inner
        self.store = store
        self.vectors: dict[str, Vectors] = {}
        self.unsaved = 0
        if store is not None and store.exists():
            with np.load(store) as saved:
                self.vectors.update(zip(saved["keys"].tolist(), saved["vectors"], strict=True))

    @property
    def dimension(self) -> int:
        """The inner embedder's dimension."""
        return self.inner.dimension

    def encode(self, texts: list[str]) -> Vectors:
        """The vectors of the texts, encoding only those never seen."""
        keys = [_digest(text) for text in texts]
        fresh = dict(zip(keys, texts, strict=True))
        fresh = {key: text for key, text in fresh.items() if key not in self.vectors}
        if fresh:
            encoded = self.inner.encode(list(fresh.values()))
            self.vectors.update(zip(fresh, encoded, strict=True))
            self.unsaved += len(fresh)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.vectors[key] for key in keys])

    def save(self) -> None:
        """Add the vectors encoded since the last save to the store (under a lock, keeping
        what other processes added; atomically: a reader sees the old file or the new one)."""
        if self.store is None or not self.unsaved:
            return
        self.store.parent.mkdir(parents=True, exist_ok=True)
        with self.store.with_suffix(".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.store.exists():
                with np.load(self.store) as saved:
                    for key, vector in zip(saved["keys"].tolist(), saved["vectors"], strict=True):
                        self.vectors.setdefault(key, vector)
            partial = self.store.with_suffix(f".{os.getpid()}.npz")
            keys, vectors = list(self.vectors), list(self.vectors.values())
            np.savez(partial, keys=np.asarray(keys), vectors=np.stack(vectors))
            partial.replace(self.store)
        self.unsaved = 0


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def embedding_store(config: PipelineConfig) -> Path:
    """The file keeping a model's vectors of corpus texts between runs (in STATE_DIR), one per
    model and backend (the onnx backend's vectors are kept apart: `<model>-onnx.npz`)."""
    model = Path(config.model_path).name if config.model_path else "default"
    backend = "" if config.embedding_backend == "sentence-transformers" else "-onnx"
    return load_settings().state_dir / "embeddings" / f"{model}{backend}.npz"


_ENRICH_FIELDS = (
    "language_sample_chars",
    "embed_max_chars",
    "rare_terms",
    "model_path",
    "embedding_backend",
    "onnx_path",
)
"""The settings the enrich stage reads: its results are the same under any others."""


class Enrichments:
    """The enrich stage's results per batch, kept across evaluations of the same items: the
    enrich stage depends on none of the clustering's settings, so a corpus evaluated under
    many of them is normalised and searched for names once (the cluster stage still runs
    in full each time)."""

    def __init__(self) -> None:
        self.normalized: dict[tuple[object, ...], tuple[list[NormalizedItem], list[Dropped]]] = {}
        self.enriched: dict[tuple[object, ...], list[Enriched]] = {}
        self.corpora: set[tuple[object, ...]] = set()
        """The corpora (with the enrich stage's settings) evaluated in full with this memory."""

    def holds(self, corpus: Sequence[Labelled], config: PipelineConfig) -> bool:
        """Whether every batch of the corpus was enriched under these settings already (an
        evaluation of it then runs no model)."""
        return _enriching(corpus, config) in self.corpora

    def enricher(self, config: PipelineConfig, embedder: Embedder) -> Enricher:
        """An enricher for a pipeline of `config` answering from (and adding to) this memory."""
        return _RememberingEnricher(config, embedder, self)


class _RememberingEnricher(Enricher):
    def __init__(self, config: PipelineConfig, embedder: Embedder, memory: Enrichments) -> None:
        super().__init__(config, embedder)
        self.memory = memory
        self.settings = _enrich_settings(config)

    def normalize(self, items: Sequence[RawItem]) -> tuple[list[NormalizedItem], list[Dropped]]:
        key = (self.settings, *(item.key for item in items))
        if key not in self.memory.normalized:
            self.memory.normalized[key] = super().normalize(items)
        kept, dropped = self.memory.normalized[key]
        return list(kept), list(dropped)

    def enrich(
        self, items: Sequence[NormalizedItem], originals: Sequence[str | None] | None = None
    ) -> list[Enriched]:
        repeats = tuple(originals) if originals is not None else (None,) * len(items)
        key = (self.settings, repeats, *(item.item_id for item in items))
        if key not in self.memory.enriched:
            self.memory.enriched[key] = super().enrich(items, originals)
        return list(self.memory.enriched[key])


def _enrich_settings(config: PipelineConfig) -> tuple[object, ...]:
    return tuple(getattr(config, name) for name in _ENRICH_FIELDS)


def _enriching(corpus: Sequence[Labelled], config: PipelineConfig) -> tuple[object, ...]:
    return (_enrich_settings(config), *(entry.item.key for entry in corpus))


def _item(row: dict[str, Any]) -> RawItem:
    fields = {k: v for k, v in row.items() if k in FIELDS}
    fields.setdefault("source_id", str(row.get("id", "")))
    return RawItem.parse(fields)


def load(path: Path) -> list[Labelled]:
    """The corpus lines (a line without a story label is an error); `path` may also be a
    folder holding an items.jsonl."""
    if path.is_dir():
        path = path / "items.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [Labelled(_item(row), str(row.get("story") or row["label"])) for row in lines]


def hourly(corpus: Sequence[Labelled]) -> list[list[Labelled]]:
    """The corpus cut into the hours of item time, in time order."""
    batches: dict[int, list[Labelled]] = defaultdict(list)
    for entry in corpus:
        batches[int(item_time(entry.item).timestamp() // 3600)].append(entry)
    return [batches[hour] for hour in sorted(batches)]


def measure(clusters: Sequence[str], stories: Sequence[str]) -> Measures:
    """Every measure of a clustering (one cluster per item, aligned with `stories`)."""
    return Measures(
        purity(clusters, stories),
        adjusted_rand_index(clusters, stories),
        bcubed(clusters, stories),
        pairwise(clusters, stories),
    )


def evaluate(
    corpus: Sequence[Labelled],
    config: PipelineConfig | None = None,
    embedder: Embedder | None = None,
    enrichments: Enrichments | None = None,
    batches: Sequence[Sequence[Labelled]] | None = None,
) -> Evaluation:
    """Run the corpus through a fresh pipeline and measure it (with `enrichments`, the enrich
    stage's results are taken from there where the same batch was enriched before), fed in
    `batches` (default: its hours of item time, in time order)."""
    pipeline, trending = Pipeline(config, embedder), []
    if enrichments is not None:
        pipeline.enricher = enrichments.enricher(pipeline.config, pipeline.embedder)
    placements = Placements()
    for batch in hourly(corpus) if batches is None else batches:
        result = pipeline.process([entry.item for entry in batch])
        placements.add(result)
        trending += [(t.topic_id, t.at) for t in result.trends if t.state == TrendState.TRENDING]
    keys = [entry.item.key for entry in corpus]
    topic_of = placements.final(keys)
    clusters = clusters_with_singletons(keys, topic_of)
    stories = [entry.story for entry in corpus]
    if enrichments is not None and batches is None:
        enrichments.corpora.add(_enriching(corpus, pipeline.config))
    members: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for cluster, story in zip(clusters, stories, strict=True):
        if not cluster.startswith("singleton:"):
            members[cluster][story] += 1
    return Evaluation(
        measure(clusters, stories),
        dict(members),
        _first_trending(trending, placements.merged, members),
    )


def sweep(
    corpus: Sequence[Labelled],
    config: PipelineConfig,
    embedder: Embedder,
    names: Sequence[str] = SWEPT,
    factors: Sequence[float] = FACTORS,
    *,
    enrichments: Enrichments | None = None,
) -> dict[str, dict[float, float]]:
    """ARI with each named setting at each factor of its value in `config` (the others kept)."""
    return {
        name: {
            factor: evaluate(
                corpus,
                replace(config, **{name: getattr(config, name) * factor}),
                embedder,
                enrichments,
            ).ari
            for factor in factors
        }
        for name in names
    }


def nearest_centroid(
    corpus: Sequence[Labelled], embedder: Embedder, threshold: float, min_size: int = 3
) -> Measures:
    """Plain nearest-centroid clustering of the same embeddings, for comparison: in time
    order, each item joins the topic whose centroid is nearest if the cosine reaches
    `threshold`, else starts one; no names, no time. Topics of fewer than `min_size` items
    count as no topic (their items as singletons), as the pipeline's candidates do."""
    ordered = sorted(corpus, key=lambda entry: item_time(entry.item))
    texts = [_text(entry.item) for entry in ordered]
    vectors = embedder.encode(texts)
    sums = np.zeros((0, vectors.shape[1] if len(vectors) else 0), dtype=np.float32)
    topic_of: dict[str, int] = {}
    for entry, vector in zip(ordered, vectors, strict=True):
        cosines = l2_normalize(sums) @ vector if len(sums) else np.zeros(0)
        best = int(np.argmax(cosines)) if len(cosines) else -1
        if best < 0 or cosines[best] < threshold:
            sums = np.vstack([sums, vector[None, :]])
            best = len(sums) - 1
        else:
            sums[best] += vector
        topic_of[entry.item.key] = best
    sizes = Counter(topic_of.values())
    keys = [entry.item.key for entry in corpus]
    named = {key: f"t{topic_of[key]}" if sizes[topic_of[key]] >= min_size else None for key in keys}
    return measure(clusters_with_singletons(keys, named), [entry.story for entry in corpus])


def _text(item: RawItem) -> str:
    """The text the pipeline embeds for an item (its normalised content, cut as configured)."""
    config = PipelineConfig()
    normalized = normalize(item, config.language_sample_chars)
    if isinstance(normalized, NormalizedItem):
        return embedding_text(normalized.title, normalized.text, config.embed_max_chars)
    return item.title[: config.embed_max_chars]


def best_nearest_centroid(
    corpus: Sequence[Labelled], embedder: Embedder, thresholds: Sequence[float]
) -> tuple[float, Measures]:
    """The threshold (of `thresholds`) giving plain nearest-centroid its best ARI on a corpus,
    and its measures there."""
    tried = {threshold: nearest_centroid(corpus, embedder, threshold) for threshold in thresholds}
    best = max(tried, key=lambda threshold: tried[threshold].ari)
    return best, tried[best]


def _first_trending(
    trending: list[tuple[str, datetime]],
    merged: Mapping[str, str],
    members: dict[str, Counter[str]],
) -> dict[str, datetime]:
    first: dict[str, datetime] = {}
    for trended, at in trending:
        topic = resolve(trended, merged)
        if topic in members:
            first.setdefault(members[topic].most_common(1)[0][0], at)
    return first


def _verdicts(evaluation: Evaluation, manifest: dict[str, Any], window: timedelta) -> list[str]:
    lines = []
    for story, info in sorted(manifest.items()):
        seen = evaluation.first_trending.get(story)
        if info.get("kind") == "burst":
            start = datetime.fromisoformat(info["burst_at"])
            due = start + TWO_WINDOWS * window
            verdict = "ok" if seen and start <= seen <= due else "MISSED"
            lines.append(
                f"burst  {story}: trending at {seen or 'never'} (due {start} .. {due}) {verdict}"
            )
        elif info.get("kind") == "steady":
            lines.append(
                f"steady {story}: {'TRENDED at ' + str(seen) if seen else 'never trending ok'}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print the measures, clusters, baseline, sweep and burst verdicts for a labelled corpus."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--stories", type=Path, help="manifest of burst and steady stories")
    parser.add_argument("--no-sweep", action="store_true", help="skip the threshold sweep")
    parser.add_argument(
        "--baseline-threshold",
        type=float,
        default=NEAREST_CENTROID_THRESHOLD,
        help="cosine threshold of the nearest-centroid baseline (default: the corpora's best)",
    )
    args = parser.parse_args(argv)
    config = PipelineConfig()
    corpus = load(args.corpus)
    embedder = CachedEmbedder(embedder_for(config))
    evaluation = evaluate(corpus, config, embedder)
    print(evaluation.measures.line())
    print(f"{len(evaluation.clusters)} topics:")
    for topic, stories in sorted(evaluation.clusters.items(), key=lambda t: -t[1].total()):
        print(f"  {topic}: {dict(stories.most_common())}")
    baseline = nearest_centroid(corpus, embedder, args.baseline_threshold)
    print(f"nearest centroid (cosine >= {args.baseline_threshold}): {baseline.line()}")
    if not args.no_sweep:
        print("sweep (ARI; each setting at a factor of its default, the others kept):")
        print("  setting                     default   x0.8    x0.9    x1.1    x1.2")
        for name, results in sweep(corpus, config, embedder).items():
            row = "  ".join(f"{results[factor]:.4f}" for factor in FACTORS)
            print(f"  {name:26}  {getattr(config, name):7.4f}   {row}")
    if args.stories:
        manifest = json.loads(args.stories.read_text())
        print("\n".join(_verdicts(evaluation, manifest, timedelta(hours=config.window_hours))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
