"""Clustering quality measures: purity and adjusted Rand index against labelled items."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

from sklearn.metrics import adjusted_rand_score  # type: ignore[import-untyped]

__all__ = ["adjusted_rand_index", "clusters_with_singletons", "purity"]


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
