"""Clustering and trend quality of the whole pipeline, with the real model, on both corpora.

Run with -s to see the achieved numbers. tests/fixtures/corpus is the tuning corpus (every
threshold and weight was chosen on it, see services/processor/fit.py); tests/fixtures/heldout
was written separately and is only reported on. Both are one week of items from four sources:
bursting, steady and one-off event stories, same-domain pairs of distinct events and one-off
posts (loaded by tests/support/corpus.py). Items go through the pipeline in hourly batches,
as a processor sees them live (services/processor/evaluate.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest

from services.processor.evaluate import (
    BASELINE_THRESHOLDS,
    NEAREST_CENTROID_THRESHOLD,
    CachedEmbedder,
    Evaluation,
    Labelled,
    best_nearest_centroid,
    evaluate,
    nearest_centroid,
)
from services.processor.pipeline import PipelineConfig, load_embedder
from tests.support.corpus import CORPUS, HELDOUT, LabelledItem, StoryInfo, load_corpus, load_stories

CONFIG = PipelineConfig()
PURITY_TARGET, ARI_TARGET, BCUBED_TARGET = 0.98, 0.93, 0.96
SWEEP_ARI_TARGET = 0.90
CORPORA = {"tuning": CORPUS, "held-out": HELDOUT}
MISSED = {
    ("one-offs", "held-out"): (
        "two name-less one-off posts join stories: an explainer on how central banks decide "
        "to cut rates joins the Lethria rate cut two hours after its first item, and a "
        "'took down prod with a cron typo' confession joins the Pellory breach during its "
        "burst; nothing in their cosine, names or timing tells them apart (docs/pipeline.md)"
    ),
    ("baseline", "tuning"): (
        "on the corpus it was tuned on, plain nearest-centroid keeps more of the name-less "
        "chess and aurora posts: its B-cubed F1 is 0.975 against the pipeline's 0.973 (the "
        "pipeline's ARI is higher, 0.963 against 0.961), at the cost of two one-off posts in "
        "topics; on the held-out corpus the pipeline is far ahead"
    ),
}
"""Goals not met, each on one corpus: strict expected failures, so that meeting one fails
the test until the mark goes."""


@dataclass
class Run:
    """What the pipeline made of one corpus."""

    name: str
    corpus: list[LabelledItem]
    stories: dict[str, StoryInfo]
    labelled: list[Labelled]
    evaluation: Evaluation


@pytest.fixture(scope="module")
def embedder() -> CachedEmbedder:
    return CachedEmbedder(load_embedder(CONFIG.model_path, CONFIG.embed_batch_size))


@pytest.fixture(scope="module", params=list(CORPORA), ids=list(CORPORA))
def run(request: pytest.FixtureRequest, embedder: CachedEmbedder) -> Run:
    folder: Path = CORPORA[request.param]
    corpus = load_corpus(folder)
    labelled = [Labelled(entry.item, entry.label) for entry in corpus]
    evaluation = evaluate(labelled, CONFIG, embedder)
    return Run(request.param, corpus, load_stories(folder), labelled, evaluation)


def _known(request: pytest.FixtureRequest, goal: str, run: Run) -> None:
    """Mark a goal known to be missed on this run's corpus (see MISSED)."""
    reason = MISSED.get((goal, run.name))
    if reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


def test_the_corpora_meet_their_brief() -> None:
    for folder, pairs, one_offs, steady in ((CORPUS, 4, 48, 4), (HELDOUT, 8, 60, 8)):
        corpus, stories = load_corpus(folder), load_stories(folder)
        kinds = Counter(info.kind for info in stories.values())
        assert len(corpus) >= 420
        assert sum(entry.kind == "noise" for entry in corpus) >= one_offs
        assert sum(info.confuses_with is not None for info in stories.values()) >= 2 * pairs
        assert kinds["burst"] >= 2
        assert kinds["steady"] >= steady
    tuning = {entry.item.title for entry in load_corpus(CORPUS)}
    assert not tuning & {entry.item.title for entry in load_corpus(HELDOUT)}
    assert not load_stories(CORPUS).keys() & load_stories(HELDOUT).keys()


def test_purity_ari_and_bcubed(run: Run) -> None:
    measures = run.evaluation.measures
    print(f"\n{measures.line()}")
    assert measures.purity >= PURITY_TARGET
    assert measures.ari >= ARI_TARGET
    assert measures.bcubed.f1 >= BCUBED_TARGET


def test_no_one_off_post_in_a_topic(run: Run, request: pytest.FixtureRequest) -> None:
    _known(request, "one-offs", run)
    one_offs = {entry.label for entry in run.corpus if entry.kind == "noise"}
    joined = [s for members in run.evaluation.clusters.values() for s in members if s in one_offs]
    assert joined == []


def test_same_domain_pairs_are_told_apart(run: Run) -> None:
    """No topic is shared by the two events of a pair beyond a stray item."""
    for members in run.evaluation.clusters.values():
        for label, info in run.stories.items():
            if info.confuses_with and label in members and info.confuses_with in members:
                assert min(members[label], members[info.confuses_with]) <= 1, dict(members)


def test_bursting_stories_trend_within_two_windows_and_not_before(run: Run) -> None:
    limit = 2 * timedelta(hours=CONFIG.window_hours)
    for label, info in run.stories.items():
        if info.kind != "burst" or info.burst_at is None:
            continue
        since = run.evaluation.first_trending.get(label)
        assert since is not None, f"{label} never trended"
        delay = since - info.burst_at
        print(f"\n{label}: trending {delay.total_seconds() / 3600:.1f} h after its burst")
        assert timedelta(0) <= delay <= limit, label


def test_steady_stories_never_trend(run: Run) -> None:
    steady = {label for label, info in run.stories.items() if info.kind == "steady"}
    assert not steady & run.evaluation.first_trending.keys()


def test_the_join_threshold_sits_on_a_plateau(run: Run, embedder: CachedEmbedder) -> None:
    for factor in (0.9, 1.1):
        moved = replace(CONFIG, join_threshold=CONFIG.join_threshold * factor)
        ari = evaluate(run.labelled, moved, embedder).ari
        print(f"\njoin_threshold x{factor}: ARI {ari:.4f}")
        assert ari >= SWEEP_ARI_TARGET


def test_the_pipeline_beats_plain_nearest_centroid(
    run: Run, embedder: CachedEmbedder, request: pytest.FixtureRequest
) -> None:
    _known(request, "baseline", run)
    baseline = nearest_centroid(run.labelled, embedder, NEAREST_CENTROID_THRESHOLD)
    print(f"\nnearest centroid: {baseline.line()}")
    assert run.evaluation.measures.ari > baseline.ari
    assert run.evaluation.measures.bcubed.f1 > baseline.bcubed.f1


def test_the_baseline_threshold_is_the_tuning_corpus_best(embedder: CachedEmbedder) -> None:
    tuning = [Labelled(entry.item, entry.label) for entry in load_corpus(CORPUS)]
    best, _ = best_nearest_centroid(tuning, embedder, BASELINE_THRESHOLDS)
    assert best == NEAREST_CENTROID_THRESHOLD
