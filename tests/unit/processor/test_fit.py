"""The similarity's fitting: name-swapped twins, the replayed pairs, the regression's weights."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from services.processor.evaluate import SWEPT, CachedEmbedder, Labelled
from services.processor.fit import (
    FEATURES,
    FITTED,
    Fitter,
    HeldOutError,
    Numbers,
    climb,
    fit_weights,
    main,
    pairs,
    refuse,
    twins,
)
from services.processor.pipeline import HashingEmbedder, PipelineConfig, load_embedder
from services.processor.pipeline.similarity import TERMS
from streams.messages.records import RawItem

T0 = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
OUTAGE = [
    "Medicove says hackers stole data on 9 million members",
    "Medicove confirms breach: names and claims history taken",
    "Ransomware gang claims the Medicove hack",
    "Class action filed against Medicove over the breach",
]
VOCABULARY = frozenset({"says", "hackers", "stole", "data", "members", "breach", "gang"})


def _corpus() -> list[Labelled]:
    rows = [(f"m{n}", "breach", title, n) for n, title in enumerate(OUTAGE)]
    rows.append(("x", "noise-1", "My sourdough starter finally doubled", 5))
    return [
        Labelled(
            RawItem(
                source="rss",
                source_id=ident,
                title=title,
                published_at=T0 + timedelta(hours=hour),
            ),
            story,
        )
        for ident, story, title, hour in rows
    ]


def test_a_twin_renames_the_storys_names_and_comes_later() -> None:
    made = twins(_corpus(), VOCABULARY)
    assert len(made) == len(OUTAGE)
    assert {entry.story for entry in made} == {"breach~twin"}
    first = made[0].item
    assert "Medicove" not in first.title
    assert first.title.endswith("says hackers stole data on 9 million members")
    renamed = first.title.split()[0]
    assert all(renamed in entry.item.title for entry in made)
    assert first.published_at is not None
    assert timedelta(hours=18) <= first.published_at - T0 <= timedelta(hours=42)
    assert {entry.item.key for entry in made}.isdisjoint(e.item.key for e in _corpus())


def test_the_same_twins_every_time() -> None:
    assert [e.item.title for e in twins(_corpus(), VOCABULARY)] == [
        e.item.title for e in twins(_corpus(), VOCABULARY)
    ]


def test_pairs_label_each_item_against_the_stories_before_it() -> None:
    corpus = [*_corpus(), *twins(_corpus(), VOCABULARY)]
    embedder = CachedEmbedder(load_embedder())
    rows, same = pairs(corpus, PipelineConfig(min_embedding_similarity=-1.0), embedder)
    assert rows.shape[1] == 5
    # each item meets every story begun before it: 3 + 1 + 2 + 3 + 3 + 3 pairs
    assert len(same) == 15
    assert int(same.sum()) == 6
    assert ((rows[:, 1:] >= 0) & (rows[:, 1:] <= 1)).all()


def test_the_weights_are_the_regressions_in_cosine_units() -> None:
    rng = np.random.default_rng(7)
    rows = rng.uniform(0, 1, size=(4000, 5))
    # true decision: cosine + 0.5 agreement - 0.25 conflict + 0.2 activity >= 0.8
    margin = rows[:, 0] + 0.5 * rows[:, 1] - 0.25 * rows[:, 3] + 0.2 * rows[:, 4] - 0.8
    same = (margin > 0).astype(np.int64)
    fitted = fit_weights(rows, same)
    assert fitted.weights["entity_weight"] == pytest.approx(0.5, abs=0.05)
    assert fitted.weights["absence_weight"] == pytest.approx(0.0, abs=0.05)
    assert fitted.weights["mismatch_weight"] == pytest.approx(0.25, abs=0.05)
    assert fitted.weights["time_weight"] == pytest.approx(0.2, abs=0.05)
    assert fitted.probability_threshold == pytest.approx(0.8, abs=0.05)
    assert (fitted.pairs, fitted.positives) == (4000, int(same.sum()))


def test_equal_row_weights_change_nothing_and_a_corpus_weight_counts() -> None:
    rng = np.random.default_rng(3)
    rows = rng.uniform(0, 1, size=(2000, 5))
    same = (rows[:, 0] + 0.5 * rows[:, 1] - 0.8 > 0).astype(np.int64)
    plain = fit_weights(rows, same)
    even = fit_weights(rows, same, np.full(len(same), 1.0))
    assert even.weights["entity_weight"] == pytest.approx(plain.weights["entity_weight"])
    # rows counted twice weigh as rows weighted 2: a corpus's weight is what its rows sum to
    doubled = fit_weights(np.vstack([rows, rows[:500]]), np.concatenate([same, same[:500]]))
    weighted = fit_weights(rows, same, np.where(np.arange(2000) < 500, 2.0, 1.0))
    assert weighted.weights == pytest.approx(doubled.weights, abs=1e-3)


def test_a_fit_refuses_a_corpus_held_out_of_it() -> None:
    fitter = Fitter(CachedEmbedder(HashingEmbedder()))
    with pytest.raises(HeldOutError, match="breach-week"):
        fitter.fit({"breach-week": _corpus(), "other": _corpus()}, held_out={"breach-week"})
    with pytest.raises(HeldOutError):
        refuse(["a", "b"], ["b"])
    refuse(["a"], ["b"])


def test_the_fit_command_refuses_a_corpus_it_leaves_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", "heldout", "--leave-out", "heldout"]) == 2
    assert "held out of this fit: heldout" in capsys.readouterr().err


def test_the_climb_stops_where_the_score_stops_rising() -> None:
    grid = (0.42, 0.46, 0.5, 0.54, 0.58, 0.62, 0.66)
    scored: list[float] = []

    def peak_at(best: float) -> Callable[[float], float]:
        def score(value: float) -> float:
            scored.append(value)
            return -abs(value - best)

        return score

    assert climb(grid, peak_at(0.46)) == 0.46
    assert len(scored) == len(set(scored)) <= 5  # each value scored once, not the whole grid
    scored.clear()
    assert climb(grid, peak_at(0.7)) == 0.66
    assert climb(grid, lambda value: 0.0) == 0.54  # flat: the middle


def test_the_fitted_settings_and_columns_follow_the_similarity_terms() -> None:
    weights = [term.weight for term in TERMS]
    assert ("cosine", *(term.feature for term in TERMS)) == FEATURES
    assert ("min_embedding_similarity", *weights, "join_threshold") == FITTED
    assert set(weights) <= set(SWEPT)
    numbers = Numbers.of(PipelineConfig())
    assert Numbers(numbers.to_dict()) == numbers
    assert numbers.config(PipelineConfig()) == PipelineConfig()
    with pytest.raises(ValueError, match="join_threshold"):
        Numbers({"entity_weight": 0.3})
