"""Quality measures against labels, checked on clusterings small enough to count by hand."""

from __future__ import annotations

import pytest

from services.processor.pipeline.quality import (
    Scores,
    adjusted_rand_index,
    bcubed,
    clusters_with_singletons,
    pairwise,
    purity,
)

CLUSTERS = ["A", "A", "A", "B", "B"]
LABELS = ["x", "x", "y", "y", "y"]


def test_bcubed_averages_each_items_precision_and_recall() -> None:
    # precision: x, x in A: 2/3 each; y in A: 1/3; y, y in B: 1 each -> 11/3 over 5 items
    # recall: x, x: 2/2 each; y in A: 1/3; y, y in B: 2/3 each -> 11/3 over 5 items
    scores = bcubed(CLUSTERS, LABELS)
    assert scores.precision == pytest.approx(11 / 15)
    assert scores.recall == pytest.approx(11 / 15)
    assert scores.f1 == pytest.approx(11 / 15)


def test_bcubed_punishes_a_merge_in_precision_and_a_split_in_recall() -> None:
    merged = bcubed(["A", "A", "A", "A"], ["x", "x", "y", "y"])
    assert (merged.precision, merged.recall) == (pytest.approx(0.5), 1.0)
    split = bcubed(["A", "A", "B", "B"], ["x", "x", "x", "x"])
    assert (split.precision, split.recall) == (1.0, pytest.approx(0.5))
    assert split.f1 == pytest.approx(2 / 3)


def test_pairwise_counts_pairs_of_items() -> None:
    # pairs sharing a cluster: 3 in A + 1 in B; sharing a label: 1 for x + 3 for y;
    # sharing both: (x, x) in A and (y, y) in B
    scores = pairwise(CLUSTERS, LABELS)
    assert (scores.precision, scores.recall) == (pytest.approx(0.5), pytest.approx(0.5))
    assert scores.f1 == pytest.approx(0.5)


def test_singletons_only_give_perfect_pairwise_precision_and_no_recall() -> None:
    scores = pairwise(["a", "b", "c"], ["x", "x", "y"])
    assert (scores.precision, scores.recall, scores.f1) == (1.0, 0.0, 0.0)


def test_purity_and_adjusted_rand_index() -> None:
    assert purity(CLUSTERS, LABELS) == pytest.approx(4 / 5)
    assert adjusted_rand_index(["A", "A", "B", "B"], ["x", "x", "y", "y"]) == 1.0
    # contingency [[2, 1], [0, 2]]: index 2, expected (4 * 4) / 10, max 4
    assert adjusted_rand_index(CLUSTERS, LABELS) == pytest.approx((2 - 1.6) / (4 - 1.6))


def test_a_perfect_clustering_scores_one_everywhere() -> None:
    for measure in (bcubed, pairwise):
        scores = measure(LABELS, LABELS)
        assert (scores.precision, scores.recall, scores.f1) == (1.0, 1.0, 1.0)


def test_items_in_no_topic_are_clusters_of_their_own() -> None:
    clusters = clusters_with_singletons(["1", "2", "3"], {"1": "t", "2": None})
    assert clusters == ["t", "singleton:2", "singleton:3"]
    assert bcubed(clusters, ["x", "x", "x"]).recall == pytest.approx(1 / 3)


def test_f1_of_nothing_is_zero() -> None:
    assert Scores(0.0, 0.0).f1 == 0.0
