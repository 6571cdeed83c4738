"""Clustering quality measures against labelled items: purity, ARI, B-cubed, pairwise F1."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sklearn.metrics import adjusted_rand_score  # type: ignore[import-untyped]

__all__ = [
    "Scores",
    "adjusted_rand_index",
    "bcubed",
    "clusters_with_singletons",
    "pairwise",
    "purity",
]


@dataclass(frozen=True, slots=True)
class Scores:
    """Precision, recall and their harmonic mean."""

    precision: float
    recall: float

    @property
    def f1(self) -> float:
        """2PR / (P + R); 0 when both are 0."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def clusters_with_singletons(
    item_ids: Sequence[str], topic_of: Mapping[str, str | None]
) -> list[str]:
    """Each item's cluster: its topic, or a cluster of its own when it is in none."""
    return [topic_of.get(item_id) or f"singleton:{item_id}" for item_id in item_ids]


def purity(clusters: Sequence[str], labels: Sequence[str]) -> float:
    """Share of items whose cluster's majority label is their own label."""
    members: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for cluster, label in zip(clusters, labels, strict=True):
        members[cluster][label] += 1
    majority = sum(counter.most_common(1)[0][1] for counter in members.values())
    return majority / len(labels) if labels else 1.0


def adjusted_rand_index(clusters: Sequence[str], labels: Sequence[str]) -> float:
    """Adjusted Rand index of the clustering against the labels (scikit-learn's)."""
    return float(adjusted_rand_score(labels, clusters))


def _contingency(
    clusters: Sequence[str], labels: Sequence[str]
) -> tuple[Counter[tuple[str, str]], Counter[str], Counter[str]]:
    """Items per (cluster, label), per cluster and per label."""
    pairs = Counter(zip(clusters, labels, strict=True))
    return pairs, Counter(clusters), Counter(labels)


def bcubed(clusters: Sequence[str], labels: Sequence[str]) -> Scores:
    """B-cubed precision and recall (Bagga and Baldwin, 1998), averaged over items.

    An item's precision is the share of its cluster carrying its label, its recall the share
    of its label in its cluster (the item itself included in both). Give items in no topic a
    cluster of their own (see clusters_with_singletons). 1.0 and 1.0 for no items.
    """
    if not labels:
        return Scores(1.0, 1.0)
    pairs, sizes, stories = _contingency(clusters, labels)
    precision = sum(n * n / sizes[cluster] for (cluster, _), n in pairs.items())
    recall = sum(n * n / stories[label] for (_, label), n in pairs.items())
    return Scores(precision / len(labels), recall / len(labels))


def pairwise(clusters: Sequence[str], labels: Sequence[str]) -> Scores:
    """Pairwise precision and recall: of the item pairs sharing a cluster, the share sharing
    a label; of those sharing a label, the share sharing a cluster. A side with no pair at
    all scores 1.0."""
    pairs, sizes, stories = _contingency(clusters, labels)
    both = sum(_pairs(n) for n in pairs.values())
    clustered = sum(_pairs(n) for n in sizes.values())
    labelled = sum(_pairs(n) for n in stories.values())
    return Scores(both / clustered if clustered else 1.0, both / labelled if labelled else 1.0)


def _pairs(count: int) -> int:
    return count * (count - 1) // 2
