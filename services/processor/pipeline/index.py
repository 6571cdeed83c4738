"""Nearest topic centroids: exact while topics are few, an HNSW graph (usearch) beyond."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from usearch.index import Index

from services.processor.pipeline.embed import Vectors

__all__ = ["IndexSearch", "TopicIndex"]

Rows = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class _Graph:
    """HNSW parameters: usearch's defaults, one thread (the cluster stage owns one core)."""

    connectivity: int = 16
    expansion_add: int = 64
    expansion_search: int = 64


class TopicIndex:
    """The current centroid of every live topic, one row each, searched by cosine.

    Below `ann_min_topics` live topics every search is exact (one matrix product). From
    there on, an HNSW graph holds each centroid as it was when last indexed; a search takes
    the graph's `neighbours` best rows and every row changed since it was indexed ("fresh"),
    and scores them exactly against the current centroids, so a topic that moved is never
    judged by its old place. A centroid is re-indexed once it drifted below `reindex_cosine`
    of its indexed copy (at commit(), after each batch): a large topic's centroid hardly moves
    with one more member, so most joins cost no graph update.
    """

    def __init__(
        self,
        dimension: int,
        ann_min_topics: int = 4096,
        neighbours: int = 16,
        reindex_cosine: float = 0.98,
    ) -> None:
        self.dimension = dimension
        self.ann_min_topics = ann_min_topics
        self.neighbours = neighbours
        self.reindex_cosine = reindex_cosine
        self.matrix: Vectors = np.zeros((64, dimension), dtype=np.float32)
        self.ids: list[str | None] = [None] * 64
        self.rows: dict[str, int] = {}
        self._free: list[int] = []
        self._end = 0
        """Rows below this have been used (live or free)."""
        self._graph: Index | None = None
        self._indexed: Vectors = np.zeros((64, dimension), dtype=np.float32)
        """Each row's centroid as the graph holds it."""
        self._fresh: set[int] = set()
        """Rows changed since the graph last took them (new, moved or reused)."""

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def approximate(self) -> bool:
        """True once the graph is in use (enough live topics)."""
        return self._graph is not None

    def put(self, topic_id: str, centroid: Vectors) -> int:
        """Set a topic's current centroid (adding the topic if new); return its row."""
        if centroid.shape[-1] != self.dimension and not self.rows:
            self.__init__(  # type: ignore[misc]
                centroid.shape[-1], self.ann_min_topics, self.neighbours, self.reindex_cosine
            )
        row = self.rows.get(topic_id)
        if row is None:
            row = self._free.pop() if self._free else self._grow()
            self.rows[topic_id] = row
            self.ids[row] = topic_id
        self.matrix[row] = centroid
        self._fresh.add(row)
        return row

    def remove(self, topic_id: str) -> None:
        """Forget a topic (its row is reused later)."""
        row = self.rows.pop(topic_id)
        self.ids[row] = None
        self.matrix[row] = 0.0
        self._indexed[row] = 0.0  # a reused row is indexed anew
        self._fresh.discard(row)
        if self._graph is not None and row in self._graph:
            self._graph.remove(row)
        self._free.append(row)

    def search(self, vectors: Vectors) -> IndexSearch:
        """A search for a batch of vectors (one row each), the graph asked once for all."""
        if self._graph is None:
            return IndexSearch(self, None)
        count = min(self.neighbours, len(self._graph))
        if count == 0 or len(vectors) == 0:
            return IndexSearch(self, np.zeros((len(vectors), 0), dtype=np.int64))
        found = self._graph.search(np.ascontiguousarray(vectors), count, threads=1)
        keys = np.asarray(found.keys, dtype=np.int64).reshape(len(vectors), -1)
        return IndexSearch(self, keys)

    def commit(self) -> None:
        """After a batch: build the graph once topics are many; re-index rows that drifted."""
        if self._graph is None:
            if len(self.rows) >= self.ann_min_topics:
                self._build()
            return
        fresh = np.fromiter(self._fresh, dtype=np.int64, count=len(self._fresh))
        live = fresh[[self.ids[row] is not None for row in fresh]] if len(fresh) else fresh
        agreement = np.einsum("ij,ij->i", self.matrix[live], self._indexed[live])
        moved = live[agreement < self.reindex_cosine]
        for row in moved:
            if row in self._graph:
                self._graph.remove(int(row))
        if len(moved):
            self._graph.add(moved, self.matrix[moved], threads=1)
            self._indexed[moved] = self.matrix[moved]
        self._fresh.clear()

    def _build(self) -> None:
        live = np.fromiter(self.rows.values(), dtype=np.int64, count=len(self.rows))
        graph = _Graph()
        self._graph = Index(
            ndim=self.dimension,
            metric="ip",
            dtype="f32",
            connectivity=graph.connectivity,
            expansion_add=graph.expansion_add,
            expansion_search=graph.expansion_search,
        )
        if len(live):
            self._graph.add(live, self.matrix[live], threads=1)
            self._indexed[live] = self.matrix[live]
        self._fresh.clear()

    def _grow(self) -> int:
        if self._end == len(self.ids):
            capacity = 2 * len(self.ids)
            self.matrix = _resized(self.matrix, capacity)
            self._indexed = _resized(self._indexed, capacity)
            self.ids.extend([None] * (capacity - len(self.ids)))
        self._end += 1
        return self._end - 1

    def live_rows(self) -> Rows:
        """Every row holding a topic."""
        return np.fromiter(self.rows.values(), dtype=np.int64, count=len(self.rows))

    def fresh_rows(self) -> Rows:
        """Rows changed since the graph last took them."""
        return np.fromiter(self._fresh, dtype=np.int64, count=len(self._fresh))


class IndexSearch:
    """Nearest-topic lookups for one batch: exact, or the graph's answers plus fresh rows."""

    def __init__(self, index: TopicIndex, graph_rows: npt.NDArray[np.int64] | None) -> None:
        self.index = index
        self.graph_rows = graph_rows

    def near(self, position: int, vector: Vectors, floor: float) -> list[tuple[str, float]]:
        """(topic id, cosine) of the topics whose current centroid is at least `floor` close to
        the batch's vector at `position`, closest first."""
        index = self.index
        if self.graph_rows is None:
            rows = index.live_rows()
        else:
            found = self.graph_rows[position] if len(self.graph_rows) else self.graph_rows
            rows = np.union1d(found[found >= 0], index.fresh_rows())
        if not len(rows):
            return []
        cosines = index.matrix[rows] @ vector
        keep = np.flatnonzero(cosines >= floor)
        order = keep[np.argsort(-cosines[keep], kind="stable")]
        pairs = [(index.ids[int(rows[i])], float(cosines[i])) for i in order]
        return [(topic_id, cosine) for topic_id, cosine in pairs if topic_id is not None]


def _resized(matrix: Vectors, rows: int) -> Vectors:
    grown = np.zeros((rows, matrix.shape[1]), dtype=matrix.dtype)
    grown[: len(matrix)] = matrix
    return grown
