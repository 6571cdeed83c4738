"""`python -m services.processor.fit [NAME ...] [--leave-out NAME]`: numbers fitted on corpora.

The method (docs/pipeline.md, "How the similarity was chosen"), on the corpora of
tests/fixtures/corpora.json given (all of them by default) and never on one held out:

1. Twins. A labelled corpus rarely holds enough pairs of distinct same-kind events, and those
   are what the weights must learn to separate. Each story gets a twin: its items with the
   story's own names (capitalised words never written in lower case in the story, and rare
   words in at least 40 % of its items) replaced by invented ones, consistently, shifted
   18-42 hours later: the same kind of event in the same words, told apart only by its names.
   Items naming none of the replaced names are left out of the twin. Twins are made from
   each corpus alone, and only with --twins: the protocol runs without them, the corpora's
   own same-kind pairs (written on purpose in most briefs) taking their place, as the twins'
   embeddings would double the cost of a run.
2. Pairs. Each corpus and its twins are replayed in time order with the true stories as
   topics (each story's topic built from its items so far); each item meets every topic whose
   centroid is within `min_embedding_similarity`, giving one pair with the features of
   similarity.features (the cosine, then the feature of each of similarity.TERMS) and whether
   it is its story.
3. Weights. A logistic regression of "same story" on the pairs of every corpus pooled, each
   corpus weighing the same in it whatever its number of pairs (nearly unregularised); its
   coefficients divided by the cosine's (times each term's sign) are the terms' weights
   (entity_weight, absence_weight, mismatch_weight, time_weight), so that the decision reads
   in cosine units.
4. Threshold and floor. With these weights, every corpus runs through the pipeline at join
   thresholds of THRESHOLDS, climbing from the middle one towards the better neighbour while
   the mean ARI over the corpora rises (a run of the pipeline on every corpus per threshold
   is the cost that matters); steps 2-4 run for each min_embedding_similarity of FLOORS. The
   (floor, threshold) tried with the best mean ARI wins (ties: the best worst ARI).

`services.processor.cross` runs this for each corpus left out in turn.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from services.processor.corpora import MANIFEST, available, manifest
from services.processor.evaluate import (
    CachedEmbedder,
    Enrichments,
    Labelled,
    embedding_store,
)
from services.processor.fanout import aris
from services.processor.pipeline import (
    Embedder,
    Enriched,
    Pipeline,
    PipelineConfig,
    TopicState,
    embedder_for,
)
from services.processor.pipeline.cluster import bucket_of
from services.processor.pipeline.enrich import model_folder
from services.processor.pipeline.entities import (
    COMMON_WORDS,
    EntityStats,
    load_vocabulary,
)
from services.processor.pipeline.scoring import Activity
from services.processor.pipeline.similarity import TERMS, Evidence, features
from streams.messages.records import RawItem

__all__ = [
    "FEATURES",
    "FITTED",
    "FLOORS",
    "THRESHOLDS",
    "Choice",
    "Fitted",
    "Fitter",
    "HeldOutError",
    "Numbers",
    "climb",
    "fit_weights",
    "main",
    "pairs",
    "refuse",
    "twins",
]

FEATURES = ("cosine", *(term.feature for term in TERMS))
"""The columns of a pair: the cosine, then each term's feature (similarity.TERMS)."""
FITTED = ("min_embedding_similarity", *(term.weight for term in TERMS), "join_threshold")
"""The PipelineConfig fields a fit chooses: the floor, each term's weight, the threshold."""
THRESHOLDS = tuple(round(0.42 + 0.04 * step, 2) for step in range(7))
"""Join thresholds tried (0.42 .. 0.66)."""
FLOORS = (0.25,)
"""min_embedding_similarity values tried: each gives its own pairs, weights and threshold.
One only by default (0.25, chosen earlier on the tuning corpus): each more doubles the cost
of a fit, which the protocol pays 14 times (`fit --floors` tries others)."""
_WORD = re.compile(r"[A-Za-z][A-Za-z]+")
_ONSETS = ("b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ei", "ou")
_CODAS = ("", "n", "r", "l", "s", "th", "x", "nd", "rk")
_TWIN_SHIFT_HOURS = (18, 42)
_TWIN_NAME_SHARE = 0.4
_MIN_WORD = 3


@dataclass(frozen=True)
class Fitted:
    """Weights in cosine units (see similarity.similarity) and the regression behind them."""

    weights: dict[str, float]
    """Each term's weight, by its setting (similarity.TERMS)."""
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
            rows.append([getattr(found, feature) for feature in FEATURES])
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


def fit_weights(
    rows: npt.NDArray[np.float64],
    same: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64] | None = None,
) -> Fitted:
    """The logistic regression of the module's step 3 (each row weighing `weights`, 1 by
    default), as weights in cosine units."""
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]  # noqa: PLC0415

    model = LogisticRegression(C=100.0, max_iter=1000).fit(rows, same, sample_weight=weights)
    cosine, *terms = (float(c) for c in model.coef_[0])
    return Fitted(
        weights={t.weight: t.sign * c / cosine for t, c in zip(TERMS, terms, strict=True)},
        probability_threshold=-float(model.intercept_[0]) / cosine,
        pairs=len(same),
        positives=int(same.sum()),
    )


class HeldOutError(ValueError):
    """A fit was given a corpus held out of it."""


@dataclass(frozen=True)
class Numbers:
    """The settings a fit chooses (the PipelineConfig fields of FITTED), by name."""

    values: Mapping[str, float]

    def __post_init__(self) -> None:
        if set(self.values) != set(FITTED):
            raise ValueError(f"a fit's numbers are {', '.join(FITTED)}: got {sorted(self.values)}")

    def config(self, base: PipelineConfig) -> PipelineConfig:
        """`base` with these numbers."""
        values: dict[str, Any] = dict(self.values)
        return replace(base, **values)

    def to_dict(self) -> dict[str, float]:
        """The numbers by setting, in FITTED order (as tests/fixtures/loco.json records them)."""
        return {name: self.values[name] for name in FITTED}

    @classmethod
    def of(cls, config: PipelineConfig) -> Numbers:
        """The numbers `config` holds."""
        return cls({name: getattr(config, name) for name in FITTED})


@dataclass(frozen=True)
class Choice:
    """What a fit chose, and the mean and worst ARI over its corpora there."""

    numbers: Numbers
    mean_ari: float
    worst_ari: float
    worst: str
    """The fitting corpus with the worst ARI at the chosen numbers."""
    tried: dict[tuple[float, float], float]
    """Mean ARI over the corpora at each (floor, join threshold) tried."""


class Fitter:
    """Fits the numbers on sets of corpora, remembering each corpus's pairs and enrichment
    (the same for every set it is in) so that many sets are fitted at the cost of one each."""

    def __init__(
        self,
        embedder: Embedder,
        base: PipelineConfig | None = None,
        floors: Sequence[float] = FLOORS,
        thresholds: Sequence[float] = THRESHOLDS,
        *,
        with_twins: bool = False,
    ) -> None:
        self.embedder = embedder
        self.with_twins = with_twins
        self.base = base or PipelineConfig()
        self.floors = tuple(floors)
        self.thresholds = tuple(thresholds)
        self.enrichments = Enrichments()
        self.vocabulary = load_vocabulary(model_folder(self.base) / "vocab.txt")
        self._pairs: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]] = {}

    def fit(
        self,
        corpora: Mapping[str, Sequence[Labelled]],
        held_out: Collection[str] = (),
        progress: Callable[[str], None] | None = None,
    ) -> Choice:
        """The module's steps 1-4 on `corpora` (by name); a corpus named in `held_out` is an
        error (HeldOutError), and nothing but `corpora` is read."""
        refuse(corpora, held_out)
        if not corpora:
            raise ValueError("no corpus to fit on")
        tried: dict[tuple[float, float], dict[str, float]] = {}
        for floor in self.floors:
            weighted = self._weighted(corpora, floor)

            def score(threshold: float, weighted: PipelineConfig = weighted) -> float:
                at = replace(weighted, join_threshold=threshold)
                jobs = [(corpus, at) for corpus in corpora.values()]
                found = dict(zip(corpora, aris(jobs, self.embedder, self.enrichments), strict=True))
                tried[at.min_embedding_similarity, threshold] = found
                if progress:
                    progress(
                        f"  floor {at.min_embedding_similarity} threshold {threshold}: "
                        f"mean ARI {_mean(found):.4f}"
                    )
                return _mean(found)

            climb(self.thresholds, score)
        best = max(tried, key=lambda key: (_mean(tried[key]), min(tried[key].values())))
        floor, threshold = best
        numbers = Numbers.of(replace(self._weighted(corpora, floor), join_threshold=threshold))
        worst = min(tried[best], key=tried[best].__getitem__)
        return Choice(
            numbers,
            _mean(tried[best]),
            tried[best][worst],
            worst,
            {key: _mean(found) for key, found in tried.items()},
        )

    def _weighted(self, corpora: Mapping[str, Sequence[Labelled]], floor: float) -> PipelineConfig:
        """The base settings at `floor` with the weights of the pooled regression (step 3)."""
        fitted = self.weights(corpora, floor)
        weights: dict[str, Any] = {name: round(w, 2) for name, w in fitted.weights.items()}
        return replace(self.base, min_embedding_similarity=floor, **weights)

    def weights(self, corpora: Mapping[str, Sequence[Labelled]], floor: float) -> Fitted:
        """The regression on the corpora's pairs at `floor`, each corpus weighing the same."""
        rows, same, weights = [], [], []
        for name, corpus in corpora.items():
            found, labels = self.pairs_of(name, corpus)
            kept = found[:, 0] >= floor
            rows.append(found[kept])
            same.append(labels[kept])
            weights.append(np.full(int(kept.sum()), 1.0 / max(1, int(kept.sum()))))
        pooled = np.concatenate(weights)
        return fit_weights(
            np.concatenate(rows), np.concatenate(same), pooled * len(pooled) / pooled.sum()
        )

    def pairs_of(
        self, name: str, corpus: Sequence[Labelled]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """The corpus's pairs (with its twins, if asked) at the lowest floor (steps 1-2),
        computed once."""
        if name not in self._pairs:
            doubled = [*corpus, *(twins(corpus, self.vocabulary) if self.with_twins else [])]
            lowest = replace(self.base, min_embedding_similarity=min(self.floors))
            self._pairs[name] = pairs(doubled, lowest, self.embedder)
        return self._pairs[name]


def refuse(names: Collection[str], held_out: Collection[str]) -> None:
    """HeldOutError if any of the corpora `names` of a fit is held out of it."""
    refused = sorted(set(names) & set(held_out))
    if refused:
        raise HeldOutError(f"held out of this fit: {', '.join(refused)}")


def climb(grid: Sequence[float], score: Callable[[float], float]) -> float:
    """The value of `grid` (ascending) where `score` stops rising, climbing from the middle
    to the better neighbour while it is better; each value is scored at most once."""
    seen: dict[int, float] = {}

    def at(index: int) -> float:
        if index not in seen:
            seen[index] = score(grid[index]) if 0 <= index < len(grid) else float("-inf")
        return seen[index]

    here = len(grid) // 2
    while True:
        step = max((-1, 1), key=lambda move: at(here + move))
        if at(here + step) <= at(here):
            return grid[here]
        here += step


def _mean(values: Mapping[str, float]) -> float:
    return sum(values.values()) / len(values)


def main(argv: list[str] | None = None) -> int:
    """Print the numbers fitted on the manifest's corpora (all, or those named, less those
    left out)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("names", nargs="*", help="corpora of the manifest to fit on (default: all)")
    parser.add_argument(
        "--leave-out", action="append", default=[], help="a corpus held out of this fit"
    )
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--twins", action="store_true", help="add each corpus's twins (step 1)")
    parser.add_argument(
        "--floors",
        type=lambda text: tuple(float(value) for value in text.split(",")),
        default=FLOORS,
        help="min_embedding_similarity values to try (comma-separated)",
    )
    args = parser.parse_args(argv)
    listed = {corpus.name: corpus for corpus in available(manifest(args.manifest))}
    unknown = sorted(set(args.names) - listed.keys())
    if unknown:
        parser.error(f"not in the manifest (or absent): {', '.join(unknown)}")
    held_out = set(args.leave_out) | {c.name for c in listed.values() if c.held_out}
    names = args.names or [name for name in listed if name not in held_out]
    try:
        refuse(names, held_out)
    except HeldOutError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    base = PipelineConfig()
    embedder = CachedEmbedder(embedder_for(base), embedding_store(base))
    corpora = {name: listed[name].load() for name in names}
    try:
        fitter = Fitter(embedder, base, args.floors, with_twins=args.twins)
        choice = fitter.fit(corpora, held_out, progress=print)
    finally:
        embedder.save()
    print(f"fitted on {', '.join(names)}")
    print(f"chosen: {choice.numbers.to_dict()}")
    print(f"mean ARI {choice.mean_ari:.4f}, worst {choice.worst_ari:.4f} ({choice.worst})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
