"""`python -m services.processor.fit CORPUS.jsonl`: the similarity's weights, learnt on a corpus.

The method (docs/pipeline.md, "How the similarity was chosen"):

1. Twins. A labelled corpus rarely holds enough pairs of distinct same-kind events, and those
   are what the weights must learn to separate. Each story gets a twin: its items with the
   story's own names (capitalised words never written in lower case in the story, and rare
   words in at least 40 % of its items) replaced by invented ones, consistently, shifted
   18-42 hours later: the same kind of event in the same words, told apart only by its names.
   Items naming none of the replaced names are left out of the twin.
2. Pairs. The corpus and its twins are replayed in time order with the true stories as topics
   (each story's topic built from its items so far); each item meets every topic whose
   centroid is within `min_embedding_similarity`, giving one pair with the features of
   similarity.features (cosine, agreement, conflict, activity) and whether it is its story.
3. Weights. A logistic regression of "same story" on the features (nearly unregularised);
   its coefficients divided by the cosine's are entity_weight, -mismatch_weight and
   time_weight, so that the decision reads in cosine units.
4. Threshold. With these weights, the corpus and the corpus with its twins are run through
   the pipeline at join thresholds 0.40 .. 0.70; among those meeting the quality goals on the
   corpus with a margin (GOALS) and putting no one-off post in a topic, the threshold chosen
   is the one whose neighbourhood (-10 % .. +10 %) has the best worst ARI over both. Steps
   2-4 run for each min_embedding_similarity of FLOORS; of those whose threshold meets the
   goals, the best worst ARI wins.

Only the corpus given is read: run it on the tuning corpus, never on a held-out one.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from services.processor.evaluate import CachedEmbedder, Labelled, Measures, evaluate, load
from services.processor.pipeline import (
    Embedder,
    Enriched,
    Pipeline,
    PipelineConfig,
    TopicState,
    load_embedder,
)
from services.processor.pipeline.cluster import bucket_of
from services.processor.pipeline.enrich import model_folder
from services.processor.pipeline.entities import (
    COMMON_WORDS,
    EntityStats,
    load_vocabulary,
)
from services.processor.pipeline.scoring import Activity
from services.processor.pipeline.similarity import Evidence, features
from streams.messages.records import RawItem

__all__ = [
    "FEATURES",
    "GOALS",
    "Fitted",
    "Tried",
    "choose_threshold",
    "fit_weights",
    "main",
    "pairs",
    "twins",
]

FEATURES = ("cosine", "agreement", "absence", "conflict", "activity")
THRESHOLDS = tuple(round(0.4 + 0.02 * step, 2) for step in range(16))
"""Join thresholds tried (0.40 .. 0.70)."""
GOALS = (0.985, 0.935, 0.965)
"""Purity, ARI and B-cubed F1 a join threshold must give the corpus: the quality goals (0.98,
0.93, 0.96) with a margin of 0.005, since batches cut by arrival through the real services
score a little apart from hourly ones."""
FLOORS = (0.25, 0.3, 0.35, 0.4)
"""min_embedding_similarity values tried: each gives its own pairs, weights and threshold."""
_WORD = re.compile(r"[A-Za-z][A-Za-z]+")
_ONSETS = ("b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ei", "ou")
_CODAS = ("", "n", "r", "l", "s", "th", "x", "nd", "rk")
_TWIN_SHIFT_HOURS = (18, 42)
_TWIN_NAME_SHARE = 0.4
_MIN_WORD = 3


@dataclass(frozen=True)
class Tried:
    """What one join threshold gave on the corpus and on the corpus with its twins."""

    measures: Measures
    twins_ari: float
    one_offs: int
    """One-off posts of the corpus that ended in a topic."""

    def meets_goals(self) -> bool:
        """The corpus's goals met with a margin (GOALS), and no one-off post in a topic."""
        purity, ari, bcubed = GOALS
        measures = self.measures
        return (
            self.one_offs == 0
            and measures.purity >= purity
            and measures.ari >= ari
            and measures.bcubed.f1 >= bcubed
        )


@dataclass(frozen=True)
class Fitted:
    """Weights in cosine units (see similarity.similarity) and the regression behind them."""

    entity_weight: float
    absence_weight: float
    mismatch_weight: float
    time_weight: float
    probability_threshold: float
    """The join threshold at which the regression's probability is one half."""
    pairs: int
    positives: int


def _invent(word: str, salt: str) -> str:
    """A pronounceable made-up word about as long as `word`, the same for the same salt."""
    digest = hashlib.sha256(f"{salt}:{word}".encode()).digest()
    made, at = "", 0
    while len(made) < max(4, len(word) - 1):
        made += _ONSETS[digest[at] % len(_ONSETS)] + _VOWELS[digest[at + 1] % len(_VOWELS)]
        at += 2
    return made + _CODAS[digest[at] % len(_CODAS)]


def _cased(new: str, old: str) -> str:
    if old.isupper() and len(old) > 1:
        return new.upper()
    return new.capitalize() if old[0].isupper() else new


def _story_names(
    items: Sequence[Labelled], elsewhere: Counter[str], vocabulary: frozenset[str]
) -> set[str]:
    """The words naming a story's event and no other story's (see the module's step 1)."""
    text = " ".join(f"{e.item.title}. {e.item.text}" for e in items)
    lower = {match.group(0) for match in _WORD.finditer(text) if match.group(0).islower()}
    inner = {m.group(1).casefold() for m in re.finditer(r"[a-z,]\s+([A-Z][A-Za-z]+)", text)}
    share: Counter[str] = Counter()
    for entry in items:
        share.update({m.group(0).casefold() for m in _WORD.finditer(_both(entry.item))})
    words = {w for w in share if len(w) >= _MIN_WORD and w not in COMMON_WORDS}
    return {
        word
        for word in words
        if elsewhere[word] == 1
        and (
            (word in inner and word not in lower)
            or (word not in vocabulary and share[word] >= _TWIN_NAME_SHARE * len(items))
        )
    }


def _both(item: RawItem) -> str:
    return f"{item.title} {item.text}"


def twins(corpus: Sequence[Labelled], vocabulary: frozenset[str] | None = None) -> list[Labelled]:
    """Each story's name-swapped twin (see the module's step 1); stories are the labels of
    more than one item, the twins' labels those of their stories with `~twin` appended."""
    vocabulary = vocabulary or load_vocabulary(model_folder(PipelineConfig()) / "vocab.txt")
    stories: defaultdict[str, list[Labelled]] = defaultdict(list)
    for entry in corpus:
        stories[entry.story].append(entry)
    stories = defaultdict(list, {s: items for s, items in stories.items() if len(items) > 1})
    words_of = {
        story: {m.group(0).casefold() for e in items for m in _WORD.finditer(_both(e.item))}
        for story, items in stories.items()
    }
    elsewhere = Counter(word for words in words_of.values() for word in words)
    made: list[Labelled] = []
    for story, items in sorted(stories.items()):
        names = _story_names(items, elsewhere, vocabulary)
        names = {n for n in names if not any(o != n and n.startswith(o[:6]) for o in names)}
        if not names:
            continue
        alternatives = "|".join(sorted(map(re.escape, names), key=len, reverse=True))
        pattern = re.compile(rf"(?<![A-Za-z])(?i:{alternatives})(?=(?:i?a?ns?)?(?![a-z]))")
        swap = {name: _invent(name, story) for name in names}
        digest = int(hashlib.sha256(story.encode()).hexdigest(), 16)
        low, high = _TWIN_SHIFT_HOURS
        shift = timedelta(hours=low + digest % (high - low + 1))

        def rename(match: re.Match[str], swap: dict[str, str] = swap) -> str:
            return _cased(swap[match.group(0).casefold()], match.group(0))

        for entry in items:
            item = entry.item
            title, renamed = pattern.subn(rename, item.title)
            text, more = pattern.subn(rename, item.text or "")
            if renamed + more == 0:
                continue
            twin = RawItem(
                source=item.source,
                source_id=f"{item.source_id}~twin",
                title=title,
                url=f"{item.url or ''}#twin",
                text=text,
                author=item.author,
                published_at=item.published_at + shift if item.published_at else None,
                score=item.score,
                comments=item.comments,
                engagement=dict(item.engagement),
            )
            made.append(Labelled(twin, f"{story}~twin"))
    return made


def _enriched(
    corpus: Sequence[Labelled], config: PipelineConfig, embedder: Embedder
) -> list[tuple[Enriched, str]]:
    """The corpus's original items as the cluster stage gets them, in time order, each with
    its story (exact duplicates left out)."""
    from services.processor.evaluate import hourly  # noqa: PLC0415 - one module's helper

    pipeline = Pipeline(config, embedder)
    story_of = {entry.item.key: entry.story for entry in corpus}
    found: list[tuple[Enriched, str]] = []
    for batch in hourly(corpus):
        kept, _ = pipeline.enricher.normalize([entry.item for entry in batch])
        originals: list[str | None] = []
        for item in kept:
            original = pipeline.exact.original_of(item)
            pipeline.exact.remember(item, original or item.item_id)
            originals.append(original)
        for enriched in pipeline.enricher.enrich(kept, originals):
            if enriched.vector is not None:
                found.append((enriched, story_of[enriched.item_id]))
    return sorted(found, key=lambda pair: pair[0].at)


def pairs(
    corpus: Sequence[Labelled], config: PipelineConfig, embedder: Embedder
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """The (item, true topic so far) pairs of a corpus replayed in time order (the module's
    step 2): one row of FEATURES each, and 1 where the topic is the item's story."""
    stats, topics = EntityStats(), dict[str, TopicState]()
    rows: list[list[float]] = []
    same: list[int] = []
    window = round(config.activity_window_hours * 60 / config.bucket_minutes)
    for item, story in _enriched(corpus, config, embedder):
        assert item.vector is not None
        weights = stats.weights(item.entities)
        stats.observe(item.entities)
        evidence = Evidence(item.vector, weights, item.at, frozenset(item.names))
        last = bucket_of(item.at, config)
        for label, topic in topics.items():
            cosine = float(item.vector @ topic.centroid)
            if cosine < config.min_embedding_similarity:
                continue
            view = topic.view(
                cosine, last - window, last, stats=stats, min_share=config.salient_share
            )
            found = features(evidence, view, config)
            rows.append(
                [found.cosine, found.agreement, found.absence, found.conflict, found.activity]
            )
            same.append(int(label == story))
        if story not in topics:
            topics[story] = TopicState(story, item.at, item.at, np.zeros_like(item.vector))
        topic = topics[story]
        topic.add_vector(item.vector)
        topic.size += 1
        topic.entity_counts.update(item.entities)
        topic.count_names(item.names, config.max_topic_entities)
        topic.bucket(last).add(Activity(1))
        topic.last_active = item.at
    return np.asarray(rows, dtype=np.float64), np.asarray(same, dtype=np.int64)


def fit_weights(rows: npt.NDArray[np.float64], same: npt.NDArray[np.int64]) -> Fitted:
    """The logistic regression of the module's step 3, as weights in cosine units."""
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]  # noqa: PLC0415

    model = LogisticRegression(C=100.0, max_iter=1000).fit(rows, same)
    cosine, agreement, absence, conflict, activity = (float(c) for c in model.coef_[0])
    return Fitted(
        entity_weight=agreement / cosine,
        absence_weight=-absence / cosine,
        mismatch_weight=-conflict / cosine,
        time_weight=activity / cosine,
        probability_threshold=-float(model.intercept_[0]) / cosine,
        pairs=len(same),
        positives=int(same.sum()),
    )


def _one_offs_in_topics(corpus: Sequence[Labelled], clusters: dict[str, Counter[str]]) -> int:
    """Items of stories with a single item (one-off posts) that ended in a topic."""
    sizes = Counter(entry.story for entry in corpus)
    return sum(n for members in clusters.values() for s, n in members.items() if sizes[s] == 1)


def choose_threshold(
    corpus: Sequence[Labelled],
    doubled: Sequence[Labelled],
    config: PipelineConfig,
    embedder: Embedder,
    thresholds: Sequence[float] = THRESHOLDS,
) -> tuple[float, float, dict[float, Tried]]:
    """The module's step 4: among the join thresholds meeting the goals on the corpus with a
    margin (GOALS), the one whose +-10 % neighbourhood has the best worst ARI over the corpus
    and the corpus with its twins (among all of them when none meets the goals); that worst
    ARI; and what every threshold tried gave."""
    tried: dict[float, Tried] = {}
    for threshold in thresholds:
        at = replace(config, join_threshold=threshold)
        alone, both = evaluate(corpus, at, embedder), evaluate(doubled, at, embedder)
        one_offs = _one_offs_in_topics(corpus, alone.clusters)
        tried[threshold] = Tried(alone.measures, both.ari, one_offs)

    def worst(threshold: float) -> float:
        near = [t for t in tried if abs(t - threshold) <= 0.1 * threshold + 1e-9]
        return min(min(tried[t].measures.ari, tried[t].twins_ari) for t in near)

    eligible = [t for t in tried if tried[t].meets_goals()] or list(tried)
    chosen = max(eligible, key=worst)
    return chosen, worst(chosen), tried


def main(argv: list[str] | None = None) -> int:
    """Print the fitted weights and the chosen thresholds for a (tuning) corpus."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument(
        "--floors",
        type=lambda text: [float(value) for value in text.split(",")],
        default=list(FLOORS),
        help="min_embedding_similarity values to try (comma-separated)",
    )
    args = parser.parse_args(argv)
    corpus = load(args.corpus)
    doubled = [*corpus, *twins(corpus)]
    base = PipelineConfig()
    embedder = CachedEmbedder(load_embedder(base.model_path, base.embed_batch_size))
    print(f"{len(corpus)} items, {len(doubled) - len(corpus)} in twins")
    best: tuple[bool, float, str] | None = None
    for floor in args.floors:
        config = replace(base, min_embedding_similarity=floor)
        fitted = fit_weights(*pairs(doubled, config, embedder))
        weighted = replace(
            config,
            entity_weight=round(fitted.entity_weight, 2),
            absence_weight=round(fitted.absence_weight, 2),
            mismatch_weight=round(fitted.mismatch_weight, 2),
            time_weight=round(fitted.time_weight, 2),
        )
        chosen, score, tried = choose_threshold(corpus, doubled, weighted, embedder)
        settings = ",".join(
            f"{name}={getattr(weighted, name)}"
            for name in (
                "min_embedding_similarity",
                "entity_weight",
                "absence_weight",
                "mismatch_weight",
                "time_weight",
            )
        )
        settings += f",join_threshold={chosen}"
        print(
            f"min_embedding_similarity={floor}: {fitted.pairs} pairs "
            f"({fitted.positives} same story); probability 1/2 at "
            f"{fitted.probability_threshold:.3f}"
        )
        for threshold, result in tried.items():
            mark = "  <- chosen" if threshold == chosen else ""
            goals = "meets the goals" if result.meets_goals() else "misses the goals"
            print(
                f"  join_threshold={threshold:.2f}: {result.measures.line()}; "
                f"ARI with twins {result.twins_ari:.4f}; one-off posts in topics "
                f"{result.one_offs}; {goals}{mark}"
            )
        print(f"  {settings}: worst ARI within +-10 % {score:.4f}")
        ranked = (tried[chosen].meets_goals(), score, settings)
        if best is None or ranked[:2] > best[:2]:
            best = ranked  # a floor meeting the goals first, then the best worst ARI
    if best is not None:
        print(f"chosen: {best[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
